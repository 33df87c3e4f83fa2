//! Hostile scenarios of issue 10 in the in-process tier (the real driver and core
//! against in-process virtual cards, no root, no pcscd): the holder's *other* genuine
//! new card M offered at the credit, and after every tear-off point of the pharmacy
//! (one and two readers) M tried with pharmacy, resume and cancel on fresh desks with
//! their own journals: M is never credited and the balance is never on two cards or
//! lost. Also new cards that lie (an FCI algorithm against their spec-version record).
//! Written by the break-it review of 2026-11-30.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
use sscard::vcard::inproc::{SharedCard, Tear, TearKind};
use sscard::vcard::Card;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::rc::Rc;

const BALANCE: u32 = 123_456;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn card(name: &str, label: &str) -> SharedCard {
    SharedCard::load(&root().join("cards").join(name), label).unwrap()
}

/// A copy of a card's persistent state (a fresh engine from its image).
fn copy(c: &SharedCard) -> SharedCard {
    SharedCard::new(Card::from_image(c.image()).unwrap(), &c.label())
}

/// A desk that answers from scripts and keeps every line it was shown.
struct ScriptDesk {
    pins: VecDeque<&'static str>,
    lines: Vec<String>,
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
struct Hand {
    old: Option<SharedCard>,
    new: Option<SharedCard>,
    /// How often the holder brings the new card (`None`: whenever asked).
    new_limit: Option<usize>,
    /// After this many insertions of `new`, the holder brings `swap` instead.
    swap: Option<(usize, SharedCard)>,
}

/// One desk: its own journal, one or two readers.
struct DeskRig {
    journal: PathBuf,
    two: bool,
    _dir: tempfile::TempDir,
}

impl DeskRig {
    fn new(two: bool) -> DeskRig {
        let dir = tempfile::tempdir().unwrap();
        DeskRig {
            journal: dir.path().join("journal.sqlite"),
            two,
            _dir: dir,
        }
    }

    /// Runs `start` with the holder carrying `hand`; returns the outcome and the desk's lines.
    fn run(&self, start: Start, hand: &Hand) -> (Result<Outcome, ActivationError>, Vec<String>) {
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
            terminal: "639900000001".into(),
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

fn keys() -> KeyFile {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keys.txt");
    std::fs::copy(root().join("keys/test-keys.txt"), &p).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    KeyFile::load(&p).unwrap()
}

/// What an old card holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Old {
    status: u8,
    balance: u32,
    transfer: Option<[u8; 16]>,
    target: Option<String>,
    counter: u32,
}

/// What a new card holds.
#[derive(Debug, Clone, PartialEq, Eq)]
struct New {
    number: String,
    status: u8,
    balance: u32,
    transfer: Option<[u8; 16]>,
    floor: Option<Floor>,
    logs: Vec<LogRecord>,
}

fn with_channel<R>(c: &SharedCard, f: impl FnOnce(&mut Channel<'_>) -> R) -> R {
    c.arm(None);
    c.insert();
    let t = c.connect("inspect").unwrap();
    let mut ch = Channel::new(Box::new(t));
    let r = f(&mut ch);
    drop(ch);
    c.pull();
    r
}

fn old_state(c: &SharedCard) -> Old {
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

fn new_state(c: &SharedCard) -> New {
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
fn invariants(old: &SharedCard, news: &[&SharedCard], when: &str) -> String {
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

fn counts(two: bool) -> (u64, u64) {
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

fn hand(old: &SharedCard, new: &SharedCard) -> Hand {
    Hand {
        old: Some(old.clone()),
        new: Some(new.clone()),
        new_limit: None,
        swap: None,
    }
}

fn resume() -> Start {
    Start::Resume {
        entry: None,
        old_card_present: true,
    }
}

/// One reader: N checked, the old card frozen bound to N, then the holder brings the
/// other genuine card M for the credit. M must get nothing; the money stays frozen and
/// bound to N; every other desk refuses M too; N then completes.
#[test]
fn second_genuine_card_at_the_credit() {
    let (old, n, m) = (
        card("city.json", "old"),
        card("ssc-2.00.json", "N"),
        card("ssc-3.00-second.json", "M"),
    );
    let d = DeskRig::new(false);
    let mut h = hand(&old, &n);
    h.swap = Some((1, m.clone()));
    let (r, lines) = d.run(Start::Pharmacy, &h);
    eprintln!("swap at credit: {r:?}\n{lines:#?}");
    assert!(!matches!(r, Ok(Outcome::Done(_))), "{r:?}");
    assert_eq!(invariants(&old, &[&n, &m], "swap"), "frozen");
    assert_eq!(new_state(&m).balance, 0);
    // Desk B with its own journal, old + M: pharmacy, resume, cancel all refused.
    for start in ["pharmacy", "resume", "cancel"] {
        let e = DeskRig::new(false);
        let s = match start {
            "pharmacy" => Start::Pharmacy,
            "resume" => resume(),
            _ => Start::Cancel {
                id: sscard::activation::core::TransferId(old_state(&old).transfer.unwrap()),
                entry: None,
            },
        };
        let (r, lines) = e.run(s, &hand(&old, &m));
        eprintln!("desk B {start} with M: {r:?}");
        assert!(r.is_err(), "{start} with M: {r:?} {lines:#?}");
        assert_eq!(invariants(&old, &[&n, &m], start), "frozen");
    }
    // Desk A resumes with N: done on N.
    let (r, lines) = d.run(resume(), &hand(&old, &n));
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
    assert_eq!(invariants(&old, &[&n, &m], "resume N"), "X00000019");
}

/// Tear the one-reader pharmacy at every APDU; then the holder tries the other genuine
/// card M everywhere (resume, cancel, pharmacy, window, each on a fresh desk) before N
/// comes back. The money must never be spendable on two cards nor reach M.
#[test]
fn torn_then_the_other_card_everywhere() {
    for two in [false, true] {
        let base_old = card("city.json", "old");
        let base_new = card("ssc-2.00.json", "N");
        let base_m = card("ssc-3.00-second.json", "M");
        let (a, b) = counts(two);
        let mut points = 0;
        for (which, total) in [("old", a), ("new", b)] {
            for k in 1..=total {
                for kind in [TearKind::Before, TearKind::After] {
                    let (old, n, m) = (copy(&base_old), copy(&base_new), copy(&base_m));
                    let torn = if which == "old" { &old } else { &n };
                    torn.arm(Some(Tear { at: k, kind }));
                    let when = format!("two={two} {which} torn {kind:?} APDU {k}");
                    let (r, _) = DeskRig::new(two).run(Start::Pharmacy, &hand(&old, &n));
                    assert!(r.is_err(), "{when}");
                    torn.arm(None);
                    invariants(&old, &[&n, &m], &when);
                    let x = old_state(&old).transfer;
                    let frozen = old_state(&old).status != 0;
                    let mut starts = vec![("pharmacy", Start::Pharmacy), ("resume", resume())];
                    if let Some(x) = x {
                        starts.push((
                            "cancel",
                            Start::Cancel {
                                id: sscard::activation::core::TransferId(x),
                                entry: None,
                            },
                        ));
                    }
                    for (name, s) in starts {
                        let before_m = new_state(&m);
                        let (r, lines) = DeskRig::new(two).run(s, &hand(&old, &m));
                        let place = invariants(&old, &[&n, &m], &format!("{when}, {name} with M"));
                        assert_ne!(place, "X00000035", "{when}: {name} with M credited M");
                        // M may be used only for a fresh pharmacy from an old card at 00
                        // that was never frozen for N.
                        if matches!(r, Ok(Outcome::Done(_))) {
                            assert!(
                                name == "pharmacy" && !frozen,
                                "{when}: {name} with M succeeded: {lines:#?}"
                            );
                            return_check(&old, &n, &m, &when);
                            break;
                        } else {
                            let after_m = new_state(&m);
                            assert_eq!(
                                (before_m.status, before_m.balance, before_m.transfer),
                                (after_m.status, after_m.balance, after_m.transfer),
                                "{when}: {name} with M wrote M's balance: {r:?}"
                            );
                        }
                    }
                    points += 1;
                }
            }
        }
        eprintln!("two={two}: {points} tear points, M refused everywhere");
    }
}

/// Called when M legitimately got the money (old never frozen): N must not get it too.
fn return_check(old: &SharedCard, n: &SharedCard, m: &SharedCard, when: &str) {
    for s in [Start::Pharmacy, resume()] {
        let _ = DeskRig::new(false).run(s, &hand(old, n));
        invariants(old, &[n, m], when);
    }
}

fn edited(name: &str, label: &str, f: impl Fn(&mut serde_json::Value)) -> SharedCard {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("cards").join(name)).unwrap())
            .unwrap();
    f(&mut v);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name.replace('/', "_"));
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    SharedCard::load(&p, label).unwrap()
}

fn walk(v: &mut serde_json::Value, f: &dyn Fn(&mut serde_json::Value)) {
    f(v);
    match v {
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| walk(x, f)),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
        _ => {}
    }
}

fn set_fci(alg: &'static str) -> impl Fn(&mut serde_json::Value) {
    move |v| {
        walk(v, &|x| {
            if let Some(s) = x.get("fci").and_then(|s| s.as_str()).map(str::to_string) {
                x["fci"] = serde_json::Value::String(format!("{}{alg}", &s[..s.len() - 2]));
            }
        })
    }
}

fn set_version(ver: &'static str) -> impl Fn(&mut serde_json::Value) {
    move |v| {
        walk(v, &|x| {
            if x.get("tag").and_then(|t| t.as_str()) == Some("03") && x.get("ascii").is_some() {
                x["ascii"] = serde_json::Value::String(ver.into());
            }
        })
    }
}

/// Lying new cards: the FCI's algorithm disagrees with the spec version record. The
/// pharmacy either completes with the money on exactly one card, or refuses with no
/// money moved.
#[test]
fn lying_new_cards() {
    let cases: Vec<(&str, SharedCard)> = vec![
        (
            "2.00 card, FCI says SM4",
            edited("ssc-2.00.json", "N", set_fci("03")),
        ),
        (
            "3.00 card, FCI says 3DES",
            edited("ssc-3.00.json", "N", set_fci("01")),
        ),
        (
            "2.00 card, version says 3.00",
            edited("ssc-2.00.json", "N", set_version("3.00")),
        ),
        (
            "3.00 card, version says 2.00",
            edited("ssc-3.00.json", "N", set_version("2.00")),
        ),
        (
            "3.00 card, version says 1.00",
            edited("ssc-3.00.json", "N", set_version("1.00")),
        ),
        (
            "2.00 card, version says 9.99",
            edited("ssc-2.00.json", "N", set_version("9.99")),
        ),
    ];
    for (what, n) in cases {
        for two in [false, true] {
            let old = card("city.json", "old");
            let n = copy(&n);
            let before_n = n.image().to_json();
            let (r, lines) = DeskRig::new(two).run(Start::Pharmacy, &hand(&old, &n));
            eprintln!(
                "{what} two={two}: {:?}",
                r.as_ref().map(|_| "done").map_err(|e| e.to_string())
            );
            if r.is_err() {
                let o = old_state(&old);
                assert_eq!(
                    (o.status, o.transfer),
                    (0, None),
                    "{what}: refused but the old card froze: {lines:#?}"
                );
                assert_eq!(
                    before_n,
                    n.image().to_json(),
                    "{what}: refused but N was written"
                );
            } else {
                // `read_ssc` (what `sscard info` uses) trusts the version record and
                // may not read a lying card: check the old card's side only then.
                let o = old_state(&old);
                assert!(o.status >= 1 && o.target.is_some(), "{what}: {o:?}");
            }
        }
    }
}
