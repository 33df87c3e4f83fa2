//! The in-process rig shared by the in-process tier's tests (tests/inproc_tier.rs,
//! tests/other_card_tier.rs, tests/legacy_journal_e2e.rs): the real driver and
//! protocol core against in-process virtual cards (`vcard::inproc`), a scripted desk,
//! a holder who brings the cards when asked, and readers of what the cards hold with
//! the invariants of spec/activation.md checked on the cards themselves.
//!
//! Included by each test with `#[path = "common/inproc.rs"] mod inproc;` rather than
//! through tests/common/mod.rs, whose pcscd harness these tests do not need.

// The rig's unwrap/expect are the tests' assertions: a panic fails the test that
// called it, with the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Each test file uses a part of the rig.
#![allow(dead_code)]

use sscard::activation::core::{Prompt, Start};
use sscard::activation::desk::{english, Ask, Desk, Msg, Want};
use sscard::activation::driver::{self, Outcome};
use sscard::activation::journal::Journal;
use sscard::activation::log_record::LogRecord;
use sscard::activation::slots::{Bench, Cue, Slots};
use sscard::activation::{ActivationError, Context};
use sscard::apdu::Channel;
use sscard::card::{read_city, read_ssc, Floor};
use sscard::profile::Profiles;
use sscard::sam::keyfile::KeyFile;
use sscard::secret::Pin;
use sscard::vcard::inproc::SharedCard;
use sscard::vcard::Card;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The old test card's medical balance, in fen.
pub const BALANCE: u32 = 123_456;

/// The desk's terminal number in every run.
pub const TERMINAL: &str = "639900000001";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn card(name: &str, label: &str) -> SharedCard {
    SharedCard::load(&root().join("cards").join(name), label).unwrap()
}

/// A copy of a card's persistent state (a fresh engine from its image).
pub fn copy(c: &SharedCard) -> SharedCard {
    SharedCard::new(Card::from_image(c.image()).unwrap(), &c.label())
}

/// A desk that answers from scripts and keeps every line it was shown.
pub struct ScriptDesk {
    pub pins: VecDeque<&'static str>,
    pub lines: Vec<String>,
}

impl Desk for ScriptDesk {
    fn show(&mut self, msg: &Msg) {
        self.lines.push(english(msg));
    }
    fn pin(&mut self, _ask: Ask, _confirm: bool) -> Result<Pin, sscard::error::Error> {
        let p = self.pins.pop_front().unwrap_or("135790");
        Ok(Pin::parse(p).unwrap())
    }
    fn line(&mut self, _prompt: Prompt) -> Result<String, sscard::error::Error> {
        Ok("111111198101011110".into())
    }
    fn interactive(&self) -> bool {
        false
    }
}

/// The holder: which cards are at the desk, and what they do when asked.
#[derive(Clone)]
pub struct Hand {
    pub old: Option<SharedCard>,
    pub new: Option<SharedCard>,
    /// How often the holder brings the new card (`None`: whenever asked).
    pub new_limit: Option<usize>,
    /// After this many insertions of `new`, the holder brings `swap` instead.
    pub swap: Option<(usize, SharedCard)>,
}

/// One desk: its own journal, one or two readers.
pub struct DeskRig {
    pub journal: PathBuf,
    pub two: bool,
    /// The scratch directory holding the journal, when the rig made it.
    _dir: Option<tempfile::TempDir>,
}

impl DeskRig {
    pub fn new(two: bool) -> DeskRig {
        let dir = tempfile::tempdir().unwrap();
        DeskRig {
            journal: dir.path().join("journal.sqlite"),
            two,
            _dir: Some(dir),
        }
    }

    /// A one-reader desk whose journal is `journal` (made by the test, e.g. an old
    /// schema's file).
    pub fn at(journal: &Path) -> DeskRig {
        DeskRig {
            journal: journal.to_path_buf(),
            two: false,
            _dir: None,
        }
    }

    /// Runs `start` with the holder carrying `hand`; returns the outcome and the desk's lines.
    pub fn run(
        &self,
        start: Start,
        hand: &Hand,
    ) -> (Result<Outcome, ActivationError>, Vec<String>) {
        let profiles = Profiles::builtin().unwrap();
        let mut sam = keys();
        let mut journal = Journal::open(&self.journal).unwrap();
        let mut desk = ScriptDesk {
            pins: VecDeque::new(),
            lines: Vec::new(),
        };
        let readers: &[&str] = if self.two { &["O", "N"] } else { &["R"] };
        let bench = Bench::new(readers);
        let h = Rc::new(RefCell::new(hand.clone()));
        let (old_r, new_r) = if self.two {
            ("O", Some("N"))
        } else {
            ("R", None)
        };
        let hh = h.clone();
        let holder = Box::new(move |cue: &Cue, b: &Bench| {
            let mut hand = hh.borrow_mut();
            match cue {
                Cue::Insert(Want::OldCard, r) => {
                    if let Some(c) = &hand.old {
                        b.insert(r, c);
                    }
                }
                Cue::Insert(Want::NewCard, r) => {
                    if hand.new_limit == Some(0) {
                        return;
                    }
                    if let Some(n) = hand.new_limit.as_mut() {
                        *n -= 1;
                    }
                    let swap = match hand.swap.as_mut() {
                        Some((0, m)) => Some(m.clone()),
                        Some((k, _)) => {
                            *k -= 1;
                            None
                        }
                        None => None,
                    };
                    if let Some(m) = swap {
                        b.insert(r, &m);
                    } else if let Some(c) = &hand.new {
                        b.insert(r, c);
                    }
                }
                Cue::Remove(r) => {
                    b.pull(r);
                }
            }
        });
        let mut slots = Slots::in_process(bench, old_r, new_r, holder);
        let mut cx = Context {
            profiles: &profiles,
            sam: &mut sam,
            journal: &mut journal,
            desk: &mut desk,
            slots: &mut slots,
            terminal: TERMINAL.into(),
            operator: "test".into(),
            today: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            force_last_try: false,
        };
        let r = driver::run(&mut cx, start);
        drop(cx);
        // Every card leaves the readers when the desk is done with the holder.
        for c in [
            &h.borrow().old,
            &h.borrow().new,
            &h.borrow().swap.as_ref().map(|s| s.1.clone()),
        ]
        .into_iter()
        .flatten()
        {
            c.pull();
        }
        (r, desk.lines)
    }
}

pub fn keys() -> KeyFile {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keys.txt");
    std::fs::copy(root().join("keys/test-keys.txt"), &p).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    KeyFile::load(&p).unwrap()
}

/// What an old card holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Old {
    pub status: u8,
    pub balance: u32,
    pub transfer: Option<[u8; 16]>,
    pub target: Option<String>,
    pub counter: u32,
}

/// What a new card holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct New {
    pub number: String,
    pub status: u8,
    pub balance: u32,
    pub transfer: Option<[u8; 16]>,
    pub floor: Option<Floor>,
    pub logs: Vec<LogRecord>,
}

pub fn with_channel<R>(c: &SharedCard, f: impl FnOnce(&mut Channel<'_>) -> R) -> R {
    c.arm(None);
    c.insert();
    let t = c.connect("inspect").unwrap();
    let mut ch = Channel::new(Box::new(t));
    let r = f(&mut ch);
    drop(ch);
    c.pull();
    r
}

pub fn old_state(c: &SharedCard) -> Old {
    let profiles = Profiles::builtin().unwrap();
    let p = profiles.get("city-reference").unwrap();
    let city = with_channel(c, |ch| read_city(ch, p).unwrap());
    Old {
        status: city.status,
        balance: city.balance_fen,
        transfer: city.transfer(),
        target: city.target_card.clone(),
        counter: city.transfer_counter.unwrap(),
    }
}

pub fn new_state(c: &SharedCard) -> New {
    let profiles = Profiles::builtin().unwrap();
    let p = profiles.get("ssc").unwrap();
    let mut sam = keys();
    with_channel(c, |ch| {
        let s = read_ssc(ch, p, Some(&mut sam)).unwrap();
        let m = s.medical.unwrap();
        let mut logs = Vec::new();
        for n in 1..=10u8 {
            let cmd = sscard::apdu::catalogue::read_record(
                sscard::apdu::catalogue::EfRef::Sfi(8),
                sscard::apdu::catalogue::RecordRef::Number(n),
                32,
            );
            let r = ch.send(&cmd).unwrap();
            if let Ok(Some(rec)) = LogRecord::decode(&r.data) {
                logs.push(rec);
            }
        }
        New {
            number: s.card_number,
            status: m.status,
            balance: m.balance_fen,
            transfer: m.transfer(),
            floor: m.transfer_floor.unwrap(),
            logs,
        }
    })
}

/// Where the money is: `"old"`, `"frozen"` (on the old card, bound to N) or the
/// number of the new card holding it. Panics (with `when`) when an invariant of
/// spec/activation.md does not hold.
pub fn invariants(old: &SharedCard, news: &[&SharedCard], when: &str) -> String {
    let o = old_state(old);
    let ns: Vec<New> = news.iter().map(|c| new_state(c)).collect();
    // A card at 00 holds no balance unless tag 26 names a transfer.
    for n in &ns {
        assert!(
            n.status != 0 || n.balance == 0 || n.transfer.is_some(),
            "{when}: {n:?} holds money without a transfer"
        );
        // Credited only to N, and only with the old card's transfer.
        if n.status == 1 && n.balance > 0 {
            assert_eq!(
                Some(&n.number),
                o.target.as_ref().or(o.target.as_ref()),
                "{when}: credited to a card the old card does not name ({o:?} / {n:?})"
            );
        }
    }
    let spendable_new: Vec<&New> = ns
        .iter()
        .filter(|n| n.status == 1 && n.balance == BALANCE)
        .collect();
    let old_spends = o.status == 0 && o.balance == BALANCE;
    let spendable = spendable_new.len() + usize::from(old_spends);
    assert!(
        spendable <= 1,
        "{when}: spendable on {spendable} cards: {o:?} {ns:?}"
    );
    if old_spends {
        return "old".into();
    }
    if let Some(n) = spendable_new.first() {
        assert_eq!(n.transfer, o.transfer, "{when}: N holds another transfer");
        return n.number.clone();
    }
    assert!(
        o.status == 1 && o.transfer.is_some() && o.target.is_some(),
        "{when}: the balance is lost: {o:?} {ns:?}"
    );
    "frozen".into()
}

pub fn counts(two: bool) -> (u64, u64) {
    // `RUST_LOG=sscard::apdu=debug` prints every APDU of the clean flows.
    let _ = env_logger::builder().is_test(true).try_init();
    let (old, new) = (card("city.json", "old"), card("ssc-2.00.json", "N"));
    let d = DeskRig::new(two);
    old.arm(None);
    new.arm(None);
    let hand = Hand {
        old: Some(old.clone()),
        new: Some(new.clone()),
        new_limit: None,
        swap: None,
    };
    let (r, lines) = d.run(Start::Pharmacy, &hand);
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
    let (a, b) = (old.apdus(), new.apdus());
    assert_eq!(invariants(&old, &[&new], "clean"), "X00000019");
    (a, b)
}

/// The holder with `old` and `new`, bringing each whenever asked.
pub fn hand(old: &SharedCard, new: &SharedCard) -> Hand {
    Hand {
        old: Some(old.clone()),
        new: Some(new.clone()),
        new_limit: None,
        swap: None,
    }
}
