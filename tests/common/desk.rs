//! A scripted holder for activation tests: runs an `sscard activate ...` command,
//! follows the desk's instructions on stderr (insert, remove) with virtual cards, and
//! can strike at a chosen moment (kill the tool, restart pcscd).

// The harness's unwrap/expect are the tests' assertions: a panic fails the test that
// called it, with the message (also for the test files that do not allow them).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use super::{Bed, Run};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The two cards of a pharmacy test and their files.
pub struct Desk {
    pub bed: Bed,
    pub old_img: PathBuf,
    pub new_img: PathBuf,
    pub keys: PathBuf,
    pub pins: PathBuf,
    pub journal: PathBuf,
    /// Two readers (old in slot 0, new in slot 1) or one (slot 0).
    pub two_readers: bool,
    /// Seconds the desk waits for a card (`--timeout`).
    pub timeout: &'static str,
}

/// Fault flags for each card's next insertion (e.g. `--remove-before 5 --once`).
#[derive(Default, Clone)]
pub struct Faults {
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// Something to do when a line appears on the desk.
pub enum Strike {
    None,
    /// SIGKILL the tool when a desk line contains this text.
    KillAt(&'static str),
    /// Restart pcscd when a desk line contains this text.
    RestartPcscdAt(&'static str),
    /// Bring the new card only this many times (then the desk waits in vain).
    WithholdNewAfter(usize),
    /// Delete (or, with `Some(other)`, replace by `other`) this file when a desk
    /// line contains the text.
    FileAt(&'static str, PathBuf, Option<PathBuf>),
}

impl Desk {
    pub fn new(two_readers: bool) -> Desk {
        Desk::with_new_card(two_readers, "ssc-2.00.json")
    }

    pub fn with_new_card(two_readers: bool, new_card: &str) -> Desk {
        let bed = Bed::start();
        let old_img = bed.image("city.json");
        let new_img = bed.image(new_card);
        let keys = bed.dir.path().join("keys.txt");
        std::fs::copy(super::root().join("keys/test-keys.txt"), &keys).unwrap();
        let pins = bed.dir.path().join("pins.txt");
        // The PIN as often as a flow may ask (recovery asks twice).
        std::fs::write(&pins, "135790\n".repeat(8)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        for p in [&keys, &pins] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let journal = bed.dir.path().join("journal.sqlite");
        Desk {
            bed,
            old_img,
            new_img,
            keys,
            pins,
            journal,
            two_readers,
            timeout: "20",
        }
    }

    /// Fresh card images and an empty journal, on the same pcscd.
    pub fn reset(&mut self) {
        self.clear();
        std::fs::copy(super::root().join("cards/city.json"), &self.old_img).unwrap();
        let new_name = self.new_img.file_name().unwrap().to_owned();
        std::fs::copy(super::root().join("cards").join(new_name), &self.new_img).unwrap();
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.journal.display()));
        }
    }

    fn old_slot(&self) -> u8 {
        0
    }

    fn new_slot(&self) -> u8 {
        if self.two_readers {
            1
        } else {
            0
        }
    }

    /// Reader and key options for `sscard activate SUB`.
    pub fn args(&self, sub: &[&str]) -> Vec<String> {
        let mut a: Vec<String> = vec!["activate".into()];
        a.extend(sub.iter().map(|s| s.to_string()));
        if self.two_readers {
            a.extend(["--old-reader", "0", "--new-reader", "1"].map(String::from));
        } else {
            a.extend(["--reader", "0"].map(String::from));
        }
        a.extend([
            "--keys".to_string(),
            self.keys.display().to_string(),
            "--pin-file".into(),
            self.pins.display().to_string(),
            "--journal".into(),
            self.journal.display().to_string(),
            "--operator".into(),
            "tester".into(),
            "--timeout".into(),
            self.timeout.into(),
            "--receipt".into(),
            "json".into(),
        ]);
        a
    }

    /// Empties both slots.
    pub fn clear(&mut self) {
        self.bed.pull_all(&[0, 1]);
    }

    fn insert(&mut self, slot: u8, img: PathBuf, flags: &[String]) {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        self.bed.insert(slot, &img, &flags);
    }

    /// Runs `sscard activate SUB ...` as the holder: inserts the cards it asks for
    /// (with `faults` on their first insertion), pulls them when asked, and strikes.
    /// Every card is pulled when the tool has exited.
    pub fn run(&mut self, sub: &[&str], faults: &Faults, strike: Strike) -> (Run, Vec<String>) {
        let mut faults = faults.clone();
        let mut cmd = self.bed.cmd();
        // The holder follows the desk's English lines: neither the machine's config
        // (/etc/sscard/sscard.toml, which tests/deb_package.rs installs for a while on
        // a shared machine, with its `language`) nor a Chinese locale may change them.
        // Every setting the flows need is on the command line (`Desk::args`).
        cmd.env("SSCARD_CONFIG", "none")
            .env("LC_ALL", "C.UTF-8")
            .env("SSCARD_TODAY", "20261122")
            .args(self.args(sub))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if self.two_readers && sub[0] == "pharmacy" {
            let old: Vec<&str> = faults.old.iter().map(String::as_str).collect();
            let new: Vec<&str> = faults.new.iter().map(String::as_str).collect();
            let (o, n) = (self.old_slot(), self.new_slot());
            self.bed
                .insert_all(&[(o, &self.old_img, &old), (n, &self.new_img, &new)]);
            faults = Faults::default();
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let out_thread = std::thread::spawn(move || {
            let mut s = String::new();
            use std::io::Read;
            let mut r = stdout;
            let _ = r.read_to_string(&mut s);
            s
        });
        let mut lines = Vec::new();
        let mut stderr = String::new();
        let mut new_inserted = 0usize;
        let reader = BufReader::new(child.stderr.take().unwrap());
        for line in reader.lines() {
            let Ok(line) = line else { break };
            stderr.push_str(&line);
            stderr.push('\n');
            match &strike {
                Strike::KillAt(t) if line.contains(t) => {
                    let _ = child.kill();
                }
                Strike::RestartPcscdAt(t) if line.contains(t) => {
                    self.bed.pcscd.restart().unwrap();
                }
                Strike::FileAt(t, path, other) if line.contains(t) => match other {
                    Some(o) => std::fs::rename(o, path).unwrap(),
                    None => std::fs::remove_file(path).unwrap(),
                },
                _ => {}
            }
            let withhold = matches!(strike, Strike::WithholdNewAfter(n) if new_inserted >= n);
            if line.contains("Insert the old city medical card") {
                let f = std::mem::take(&mut faults.old);
                self.insert(self.old_slot(), self.old_img.clone(), &f);
            } else if line.contains("Insert the new social security card") && !withhold {
                new_inserted += 1;
                let f = std::mem::take(&mut faults.new);
                self.insert(self.new_slot(), self.new_img.clone(), &f);
            } else if line.contains("Remove the old city medical card") {
                self.bed.pull(self.old_slot());
            } else if line.contains("Remove the new social security card") {
                self.bed.pull(self.new_slot());
            }
            lines.push(line);
        }
        let status = child.wait().unwrap();
        let stdout = out_thread.join().unwrap();
        self.clear();
        (
            Run {
                code: status.code().unwrap_or(-9),
                stdout,
                stderr,
            },
            lines,
        )
    }
}

/// What a card's persistent state says about the money (read with the card engine
/// itself from its image: what survives a pulled card).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Money {
    pub status: u8,
    pub balance: u32,
    pub transfer: [u8; 16],
    pub extra: Vec<u8>,
}

fn read_tag(card: &mut sscard::vcard::Card, sfi: u8, tag: u8) -> Vec<u8> {
    let r = card.process(&[0x00, 0xB2, tag, sfi << 3, 0x00]);
    assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "tag {tag:02X}");
    r[2..r.len() - 2].to_vec()
}

fn select(card: &mut sscard::vcard::Card, aid: &str) {
    let aid = hex::decode(aid).unwrap();
    let mut apdu = vec![0x00, 0xA4, 0x04, 0x00, aid.len() as u8];
    apdu.extend(aid);
    let r = card.process(&apdu);
    assert!(r[r.len() - 2] == 0x90 || r[r.len() - 2] == 0x61, "{r:02X?}");
}

fn money(card: &mut sscard::vcard::Card, sfi: u8, extra_tag: u8) -> Money {
    let status = read_tag(card, sfi, 0x22)[0];
    let b = read_tag(card, sfi, 0x23);
    let t = read_tag(card, sfi, 0x26);
    Money {
        status,
        balance: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        transfer: t.try_into().unwrap(),
        extra: read_tag(card, sfi, extra_tag),
    }
}

/// The old card's status, balance, transfer id and target (tag 27).
pub fn old_money(img: &Path) -> Money {
    let mut c = sscard::vcard::Card::load(img).unwrap();
    c.power_on();
    select(&mut c, "F059422E43495459");
    money(&mut c, 0x01, 0x27)
}

/// The new card's DF04 status, balance, transfer id and account (tag 20).
pub fn new_money(img: &Path) -> Money {
    let mut c = sscard::vcard::Card::load(img).unwrap();
    c.power_on();
    select(&mut c, "D15600000503");
    money(&mut c, 0x05, 0x20)
}

/// The non-empty records of the new card's medical log.
pub fn log_records(img: &Path) -> Vec<Vec<u8>> {
    let mut c = sscard::vcard::Card::load(img).unwrap();
    c.power_on();
    select(&mut c, "D15600000503");
    let mut out = Vec::new();
    for n in 1..=10u8 {
        let r = c.process(&[0x00, 0xB2, n, (8 << 3) | 4, 0x00]);
        if r.len() == 34 && r[..32].iter().any(|b| *b != 0) {
            out.push(r[..32].to_vec());
        }
    }
    out
}

/// The holder's original balance on the reference city card.
pub const BALANCE: u32 = 123456;

/// Asserts the invariants of spec/activation.md on the two images: the balance is
/// spendable on at most one card and never lost.
pub fn assert_invariants(old_img: &Path, new_img: &Path, when: &str) {
    let old = old_money(old_img);
    let new = new_money(new_img);
    let old_spendable = old.status == 0x00;
    let new_spendable = new.status == 0x01;
    assert!(
        !(old_spendable && new_spendable),
        "{when}: spendable on both cards: old {old:?} new {new:?}"
    );
    assert_eq!(
        old.balance, BALANCE,
        "{when}: the old card's balance changed"
    );
    if old_spendable {
        return;
    }
    // Frozen or migrated: the old card carries its transfer id...
    assert_ne!(
        old.transfer, [0; 16],
        "{when}: old card {:02X} without transfer id",
        old.status
    );
    if new_spendable {
        // ...and a new card that can spend holds exactly that transfer and balance.
        assert_eq!(
            new.transfer, old.transfer,
            "{when}: new card active with another transfer"
        );
        assert_eq!(new.balance, BALANCE, "{when}: new card balance");
    } else {
        assert_eq!(
            old.status, 0x01,
            "{when}: old card migrated but new card not active"
        );
    }
}
