//! Shared end-to-end harness: a private pcscd + vpcd, virtual cards as processes, and
//! the `sscard` binary run with the private daemon's socket.
//!
//! Tests run as threads of one process and pcsc-lite reads its socket path once per
//! process, so the test process itself never talks PC/SC: every exchange goes through
//! the `sscard` binary, as a user's would.

// The harness's unwrap/expect are the tests' assertions: a panic fails the test that
// called it, with the message (also for the test files that do not allow them).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use sscard::testbed::{Pcscd, VirtualCardProcess};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The binary under test.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sscard"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A private test bed with a scratch directory for card images.
pub struct Bed {
    pub pcscd: Pcscd,
    pub dir: tempfile::TempDir,
    cards: Vec<Option<VirtualCardProcess>>,
    /// Per slot: this bed saw the slot empty and has inserted nothing there since, so
    /// a [`Bed::pull`] need not ask pcscd again.
    empty: [bool; 2],
}

/// Test beds start one at a time within a test process: a port pair is chosen free
/// (`free_port_pair`) and only taken when pcscd's vpcd binds it, so two beds started
/// at the same moment by parallel workers ([`pool`]) could pick the same pair.
static STARTING: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The result of one `sscard` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Bed {
    pub fn start() -> Bed {
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        Bed {
            pcscd: Pcscd::start().expect("private pcscd (run the tests as root)"),
            dir: tempfile::tempdir().unwrap(),
            cards: vec![None, None],
            empty: [false; 2],
        }
    }

    /// A test bed whose readers are named `FRIENDLY 00 00` / `FRIENDLY 00 01`, with
    /// FRIENDLY given as raw bytes (e.g. GBK).
    pub fn start_named(friendly: &[u8]) -> Bed {
        let _one_at_a_time = STARTING.lock().unwrap_or_else(|e| e.into_inner());
        Bed {
            pcscd: Pcscd::start_named(friendly).expect("private pcscd (run the tests as root)"),
            dir: tempfile::tempdir().unwrap(),
            cards: vec![None, None],
            empty: [false; 2],
        }
    }

    /// Copies a card image from `cards/` (or a path) into the scratch dir.
    pub fn image(&self, name: &str) -> PathBuf {
        let src = if Path::new(name).is_absolute() {
            PathBuf::from(name)
        } else {
            root().join("cards").join(name)
        };
        let dst = self.dir.path().join(src.file_name().unwrap());
        if !dst.exists() {
            std::fs::copy(&src, &dst).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        }
        dst
    }

    /// A `sscard` command aimed at this bed.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(exe());
        let (k, v) = self.pcscd.env();
        c.env(k, v).env_remove("RUST_LOG").stdin(Stdio::null());
        c
    }

    /// Runs `sscard ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.cmd().args(args).output().unwrap().into()
    }

    /// Inserts the card in `image` into `slot` and waits until pcscd sees it.
    ///
    /// Seen here, rarely: after a client holding an exclusive connection is killed
    /// mid-exchange, the vpcd driver does not notice the next card in that slot. A
    /// desk worker would take the card out and put it back, and if that fails restart
    /// pcscd; the harness does the same, says so on stderr, and fails only if the card
    /// is still not seen.
    pub fn insert(&mut self, slot: u8, image: &Path, extra: &[&str]) {
        self.empty[slot as usize] = false;
        for attempt in 0..3 {
            if attempt == 2 {
                eprintln!("test bed: restarting pcscd: slot {slot} still sees no card");
                self.pcscd.restart().unwrap();
            }
            let p =
                VirtualCardProcess::insert(&exe(), image, self.pcscd.port(slot), extra).unwrap();
            self.cards[slot as usize] = Some(p);
            let timeout = if attempt == 2 { "20" } else { "8" };
            let r = self.run(&["wait", "--reader", &slot.to_string(), "--timeout", timeout]);
            if r.code == 0 {
                return;
            }
            if attempt == 2 {
                panic!(
                    "card not seen in slot {slot}: {r:?}\n--- pcscd log (tail)\n{}",
                    tail(&self.pcscd.log(), 40)
                );
            }
            eprintln!("test bed: the card in slot {slot} was not seen; re-inserting it");
            if let Some(mut p) = self.cards[slot as usize].take() {
                p.pull();
            }
        }
    }

    /// Inserts without waiting (for cards set to fail early).
    pub fn insert_nowait(&mut self, slot: u8, image: &Path, extra: &[&str]) {
        self.empty[slot as usize] = false;
        let p = VirtualCardProcess::insert(&exe(), image, self.pcscd.port(slot), extra).unwrap();
        self.cards[slot as usize] = Some(p);
    }

    /// Inserts several cards at once (`(slot, image, extra flags)`) and waits until
    /// pcscd sees each: pcscd polls its readers side by side, so two insertions cost
    /// one polling period, not two. A card not seen goes through [`Bed::insert`]'s
    /// re-insertion.
    pub fn insert_all(&mut self, cards: &[(u8, &Path, &[&str])]) {
        for (slot, image, extra) in cards {
            self.insert_nowait(*slot, image, extra);
        }
        for (slot, image, extra) in cards {
            let r = self.run(&["wait", "--reader", &slot.to_string(), "--timeout", "8"]);
            if r.code != 0 {
                eprintln!("test bed: the card in slot {slot} was not seen; re-inserting it");
                if let Some(mut p) = self.cards[*slot as usize].take() {
                    p.pull();
                }
                self.insert(*slot, image, extra);
            }
        }
    }

    /// Pulls the card from `slot` and waits until pcscd sees it gone. A slot this bed
    /// already saw empty, and has inserted nothing into since, is not asked again.
    pub fn pull(&mut self, slot: u8) {
        self.pull_all(&[slot]);
    }

    /// [`Bed::pull`] for several slots: every card is pulled first, then each removal
    /// awaited (side by side in pcscd's polling, like [`Bed::insert_all`]).
    pub fn pull_all(&mut self, slots: &[u8]) {
        let mut pulled = Vec::new();
        for &slot in slots {
            if let Some(mut p) = self.cards[slot as usize].take() {
                p.pull();
                pulled.push(slot);
            } else if !self.empty[slot as usize] {
                pulled.push(slot);
            }
        }
        for slot in pulled {
            self.wait_removed(slot);
        }
    }

    /// Waits until `slot` is empty (e.g. after a fault pulled the card).
    pub fn wait_removed(&mut self, slot: u8) {
        let r = self.run(&[
            "wait",
            "--reader",
            &slot.to_string(),
            "--removed",
            "--timeout",
            "20",
        ]);
        assert_eq!(r.code, 0, "slot {slot} not empty: {r:?}");
        if let Some(mut p) = self.cards[slot as usize].take() {
            p.pull();
        }
        self.empty[slot as usize] = true;
    }
}
pub mod desk;
pub mod pool;
pub mod tmux;
