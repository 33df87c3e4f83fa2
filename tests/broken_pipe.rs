//! A reader that closes the pipe early (`sscard ... | head -1`) ends `sscard` with
//! 141, the shell's status for a filter ended by SIGPIPE, with nothing on stderr: not
//! a panic (101), not an I/O error (14), whichever way the command writes (`println!`
//! in `config example`, `write_all` in `man`). No pcscd needed.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn a_closed_pipe_ends_quietly_with_141() {
    for args in ["config example", "man", "completions bash"] {
        // The reader (`true`) has exited before sscard writes its first byte.
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "{{ sleep 0.3; exec \"$0\" {args}; }} | true; echo \"status=${{PIPESTATUS[0]}}\" >&2"
            ))
            .arg(env!("CARGO_BIN_EXE_sscard"))
            .env("SSCARD_CONFIG", "none")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim(), "status=141", "{args}: {stderr}");
    }
}
