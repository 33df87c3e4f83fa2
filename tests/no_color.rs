//! `NO_COLOR` is honoured: the guided desk's styling decision for stderr, with the
//! environment as a user sets it.
//!
//! One test in its own binary (own process), because it changes the process
//! environment. `CLICOLOR_FORCE=1` stands in for a colour terminal (stderr here is a
//! pipe), so each assertion can fail: forced colour must style, and `NO_COLOR` must
//! win even over the force. The desk under tmux (tests/desk_tmux.rs) checks the same
//! on a real terminal.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::ui::style::{Paint, Tone};

#[test]
fn no_color_turns_styling_off_even_when_forced() {
    std::env::remove_var("NO_COLOR");
    std::env::remove_var("CLICOLOR");
    std::env::set_var("TERM", "xterm-256color");
    std::env::set_var("CLICOLOR_FORCE", "1");
    let forced = Paint::for_stderr();
    assert!(forced.color, "CLICOLOR_FORCE=1 styles");
    assert!(forced.paint(Tone::Bad, "x").contains('\x1b'));

    std::env::set_var("NO_COLOR", "1");
    let none = Paint::for_stderr();
    assert!(!none.color, "NO_COLOR=1 wins over CLICOLOR_FORCE");
    assert_eq!(none.paint(Tone::Bad, "stopped"), "stopped");

    // An empty NO_COLOR is as good as unset (no-color.org).
    std::env::set_var("NO_COLOR", "");
    assert!(Paint::for_stderr().color);

    std::env::remove_var("CLICOLOR_FORCE");
    std::env::remove_var("NO_COLOR");
    std::env::set_var("CLICOLOR", "0");
    assert!(
        !Paint::for_stderr().color,
        "CLICOLOR=0 (and a pipe) never styles"
    );
}
