//! A private tmux server with one pane: the guided desk's screen tests read it with
//! `capture-pane` and type into it with `send-keys` (tests/desk_tmux.rs,
//! tests/desk_setup_tmux.rs).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Whether tmux is installed (`scripts/setup` installs it).
pub fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private tmux server with one 100x40 pane running a command.
pub struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    /// Starts the server with `command` in its pane; `env` goes to the command.
    pub fn start(sock: PathBuf, env: &[(String, String)], command: &str) -> Tmux {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&sock).arg("-u").arg("-f").arg("/dev/null");
        c.args(["new-session", "-d", "-s", "desk", "-x", "100", "-y", "40"]);
        for (k, v) in env {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        c.arg(command);
        // The server's own environment: a UTF-8 locale so it draws Chinese.
        c.env("LANG", "C.UTF-8").env_remove("TMUX");
        let out = c.output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmux { sock }
    }

    /// Runs a tmux subcommand against this server; its stdout.
    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen (wrapped lines joined).
    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "desk"])
    }

    /// The screen with its SGR escapes.
    pub fn screen_styled(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-e", "-t", "desk"])
    }

    /// Types `text` and Enter.
    pub fn keys(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "desk", "-l", text]);
        self.tmux(&["send-keys", "-t", "desk", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .arg("kill-server")
            .status();
    }
}
