//! Issue 15 §6: the documented example is safe to install as it is, and the hint
//! `sscard config check` gives for a missing file works on a fresh machine (no
//! `/etc/sscard` yet): the test runs the hint's exact text in `sh`, in a scratch
//! directory standing for a fresh `/etc`, then checks the file it wrote.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::exe;
use std::process::Command;

fn sscard(args: &[&str]) -> (i32, String) {
    let out = Command::new(exe())
        .args(args)
        .env_remove("SSCARD_CONFIG")
        .env_remove("SSCARD_JOURNAL")
        .output()
        .expect("sscard runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_missing_file_hint_installs_the_example_on_a_fresh_machine() {
    let dir = tempfile::tempdir().unwrap();
    // Two levels that do not exist, like /etc/sscard on a fresh machine.
    let path = dir.path().join("etc").join("sscard").join("sscard.toml");
    let shown = path.display().to_string();
    let (code, text) = sscard(&["config", "check", "--offline", "--config", &shown]);
    assert_eq!(code, 14, "{text}");
    let hint = text
        .lines()
        .find_map(|l| l.split_once("as root, with: ").map(|(_, h)| h))
        .unwrap_or_else(|| panic!("no hint in:\n{text}"));
    let hint = hint.rsplit_once(')').map_or(hint, |(h, _)| h);
    assert!(hint.starts_with("mkdir -p "), "{hint}");
    // Run the hint as printed, with this build as `sscard` on PATH.
    let bin = exe().parent().unwrap().to_path_buf();
    let path_var = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    assert_eq!(exe().file_name().unwrap(), "sscard");
    let st = Command::new("sh")
        .arg("-c")
        .arg(hint)
        .env("PATH", path_var)
        .status()
        .unwrap();
    assert!(st.success(), "the hint failed: {hint}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("[readers]"), "{written}");
    // The installed example sets no terminal number (it would override the PSAM's).
    assert!(!written
        .lines()
        .any(|l| l.trim_start().starts_with("terminal")));
    let (code, text) = sscard(&["config", "check", "--offline", "--config", &shown]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("configuration OK"), "{text}");
    assert!(!text.contains("terminal 6399"), "{text}");
}

#[test]
fn a_terminal_number_beside_a_psam_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sscard.toml");
    std::fs::write(
        &path,
        "terminal = \"639900000001\"\njournal = \"j.sqlite\"\n[readers]\ncard = \"A\"\npsam = \"SAM\"\n",
    )
    .unwrap();
    let (code, text) = sscard(&[
        "config",
        "check",
        "--offline",
        "--config",
        &path.display().to_string(),
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("warn  terminal is set: it overrides the PSAM's own terminal number"),
        "{text}"
    );
}
