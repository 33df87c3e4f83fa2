//! Old desk journals (schema 1, before the transfer protocol; schema 2, before the
//! instance id and card reads) opened by this sscard: migrated in place, and their
//! open entries still resume or cancel safely, end to end through the real driver
//! and protocol core against in-process virtual cards (`vcard::inproc`, as
//! tests/inproc_tier.rs), the money checked on the cards themselves.
//!
//! How an old journal is made: a pharmacy flow is cut after the freeze (the holder
//! never brings the new card back), which leaves the old card frozen and the desk's
//! journal at `FROZEN`; that journal's rows are then written into a file with the
//! old schema, as the older sscard wrote them (schema 1 recorded N only at the
//! credit, so a frozen entry has none).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::activation::core::{Prompt, Start, TransferId};
use sscard::activation::desk::{english, Ask, Desk, Msg, Want};
use sscard::activation::driver::{self, Outcome};
use sscard::activation::journal::{Journal, State, LEGACY_INSTANCE, SCHEMA_VERSION};
use sscard::activation::slots::{Bench, Cue, Slots};
use sscard::activation::{ActivationError, Context};
use sscard::apdu::Channel;
use sscard::card::{read_city, read_ssc};
use sscard::profile::Profiles;
use sscard::sam::keyfile::KeyFile;
use sscard::secret::Pin;
use sscard::vcard::inproc::SharedCard;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

const BALANCE: u32 = 123_456;
const TERMINAL: &str = "639900000001";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn card(name: &str, label: &str) -> SharedCard {
    SharedCard::load(&root().join("cards").join(name), label).unwrap()
}

fn keys() -> KeyFile {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("keys.txt");
    std::fs::copy(root().join("keys/test-keys.txt"), &p).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    KeyFile::load(&p).unwrap()
}

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

/// What to start, decided from the journal as `sscard activate` does.
enum What {
    Pharmacy,
    Resume(String),
    Cancel(String),
}

/// One run on a one-reader desk whose journal is `journal`; the holder brings the
/// old card and `new` (the new card at most `new_limit` times).
fn run(
    journal: &Path,
    what: What,
    old: &SharedCard,
    new: &SharedCard,
    new_limit: Option<usize>,
) -> (Result<Outcome, ActivationError>, Vec<String>) {
    let profiles = Profiles::builtin().unwrap();
    let mut sam = keys();
    let mut journal = Journal::open(journal).unwrap();
    let entry = |j: &Journal, id: &str| j.get(id).unwrap().as_ref().and_then(driver::journal_entry);
    let start = match &what {
        What::Pharmacy => Start::Pharmacy,
        What::Resume(id) => Start::Resume {
            entry: Some(entry(&journal, id).expect("a resumable entry")),
            old_card_present: true,
        },
        What::Cancel(id) => Start::Cancel {
            id: TransferId::parse(id).unwrap(),
            entry: entry(&journal, id),
        },
    };
    let mut desk = ScriptDesk {
        pins: VecDeque::new(),
        lines: Vec::new(),
    };
    let bench = Bench::new(&["R"]);
    let (o, n) = (old.clone(), new.clone());
    let left = Rc::new(RefCell::new(new_limit));
    let holder = Box::new(move |cue: &Cue, b: &Bench| match cue {
        Cue::Insert(Want::OldCard, r) => b.insert(r, &o),
        Cue::Insert(Want::NewCard, r) => {
            let mut l = left.borrow_mut();
            if *l == Some(0) {
                return;
            }
            if let Some(k) = l.as_mut() {
                *k -= 1;
            }
            b.insert(r, &n);
        }
        Cue::Remove(r) => {
            b.pull(r);
        }
    });
    let mut slots = Slots::in_process(bench, "R", None, holder);
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
    old.pull();
    new.pull();
    (r, desk.lines)
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

/// Where the money is: `"old"` (spendable on the old card), `"frozen"` (on the old
/// card, bound to N), or the number of the new card that can spend it. Panics when
/// it is spendable twice or lost.
fn money(old: &SharedCard, new: &SharedCard) -> String {
    let profiles = Profiles::builtin().unwrap();
    let city = with_channel(old, |ch| {
        read_city(ch, profiles.get("city-reference").unwrap()).unwrap()
    });
    let mut sam = keys();
    let ssc = with_channel(new, |ch| {
        read_ssc(ch, profiles.get("ssc").unwrap(), Some(&mut sam)).unwrap()
    });
    let m = ssc.medical.unwrap();
    let old_spends = city.status == 0 && city.balance_fen == BALANCE;
    let new_spends = m.status == 1 && m.balance_fen == BALANCE;
    assert!(
        !(old_spends && new_spends),
        "spendable twice: {city:?} {m:?}"
    );
    if old_spends {
        "old".into()
    } else if new_spends {
        assert_eq!(m.transfer(), city.transfer(), "N holds another transfer");
        ssc.card_number
    } else {
        assert!(
            city.status == 1 && city.transfer().is_some(),
            "the balance is lost: {city:?} {m:?}"
        );
        "frozen".into()
    }
}

/// A frozen transfer: the old card frozen, bound to N (X00000019), N untouched; the
/// desk's (current-schema) journal at `FROZEN`. Returns the cards, the journal and
/// the transfer id.
fn frozen(dir: &Path) -> (SharedCard, SharedCard, PathBuf, String) {
    let (o, n) = (card("city.json", "old"), card("ssc-2.00.json", "N"));
    let j = dir.join("today.sqlite");
    let (r, lines) = run(&j, What::Pharmacy, &o, &n, Some(1));
    assert!(
        matches!(r, Err(ActivationError::Timeout(_))),
        "{r:?} {lines:#?}"
    );
    assert_eq!(money(&o, &n), "frozen");
    let jn = Journal::open(&j).unwrap();
    let e = jn.list().unwrap();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].state, State::Frozen);
    // The driver noted the new card it read (not yet activated): its deadline from
    // the expiry 2036-06-01 (issue 2026-06-01 + 6 months), the holder masked.
    let reads = jn.card_reads().unwrap();
    assert!(!reads.is_empty());
    assert!(reads.iter().all(|r| r.card_number == "X00000019"
        && r.deadline.to_string() == "2026-12-01"
        && r.holder_masked.as_deref() == Some("111111********1110")
        && r.terminal == TERMINAL));
    drop(jn);
    (o, n, j, e[0].id.clone())
}

/// The rows of `src` written into a new file `dst` with journal schema 1 or 2, as
/// the sscard of that schema wrote them.
fn old_journal(src: &Path, dst: &Path, schema: i32) {
    let s = rusqlite::Connection::open(src).unwrap();
    let d = rusqlite::Connection::open(dst).unwrap();
    let extra = if schema >= 2 {
        ", counter INTEGER, legacy INTEGER NOT NULL DEFAULT 0"
    } else {
        ""
    };
    d.execute_batch(&format!(
        "CREATE TABLE entries (id TEXT PRIMARY KEY, flow TEXT NOT NULL, state TEXT NOT NULL,
            terminal TEXT NOT NULL, operator TEXT NOT NULL, citizen_id TEXT NOT NULL,
            holder_name TEXT NOT NULL, old_card TEXT, new_card TEXT, account TEXT,
            category INTEGER, balance_fen INTEGER, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL{extra});
         CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL REFERENCES entries(id), state TEXT NOT NULL, at TEXT NOT NULL,
            terminal TEXT NOT NULL, operator TEXT NOT NULL, detail TEXT NOT NULL);
         CREATE INDEX events_by_id ON events(id);
         PRAGMA user_version = {schema};"
    ))
    .unwrap();
    let cols = "id, flow, state, terminal, operator, citizen_id, holder_name, old_card, \
                new_card, account, category, balance_fen, created_at, updated_at";
    let mut st = s
        .prepare(&format!("SELECT {cols}, counter FROM entries"))
        .unwrap();
    let rows: Vec<Vec<rusqlite::types::Value>> = st
        .query_map([], |r| (0..15).map(|i| r.get(i)).collect())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for mut row in rows {
        let counter = row.pop().unwrap();
        if schema == 1 {
            // Schema 1 knew N only from the credit: a frozen entry has none.
            row[8] = rusqlite::types::Value::Null;
            d.execute(
                &format!("INSERT INTO entries ({cols}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"),
                rusqlite::params_from_iter(row),
            )
            .unwrap();
        } else {
            row.push(counter);
            d.execute(
                &format!("INSERT INTO entries ({cols}, counter, legacy) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,0)"),
                rusqlite::params_from_iter(row),
            )
            .unwrap();
        }
    }
    let mut st = s
        .prepare("SELECT seq, id, state, at, terminal, operator, detail FROM events ORDER BY seq")
        .unwrap();
    let rows: Vec<Vec<rusqlite::types::Value>> = st
        .query_map([], |r| (0..7).map(|i| r.get(i)).collect())
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for row in rows {
        d.execute(
            "INSERT INTO events (seq, id, state, at, terminal, operator, detail) VALUES (?1,?2,?3,?4,?5,?6,?7)",
            rusqlite::params_from_iter(row),
        )
        .unwrap();
    }
}

/// After the run: the journal was migrated to the current schema, kept the legacy
/// instance, and its entry ended in `state` with its old history intact.
fn migrated(j: &Path, id: &str, state: State, schema: i32) {
    let v: i32 = rusqlite::Connection::open(j)
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let jn = Journal::open(j).unwrap();
    assert_eq!(jn.instance().unwrap(), LEGACY_INSTANCE);
    let e = jn.get(id).unwrap().unwrap();
    assert_eq!(e.state, state, "{e:?}");
    let ev = jn.events(id).unwrap();
    assert_eq!(ev[0].state, State::Freezing);
    assert_eq!(ev[1].state, State::Frozen);
    assert_eq!(ev.last().unwrap().state, state);
    if schema == 1 {
        // The cancel or resume learnt N from the old card and bound the entry to it.
        assert_eq!(e.bound_card(), Some("X00000019"), "{e:?}");
    }
}

fn resumes(schema: i32) {
    let dir = tempfile::tempdir().unwrap();
    let (o, n, today, id) = frozen(dir.path());
    let j = dir.path().join(format!("schema{schema}.sqlite"));
    old_journal(&today, &j, schema);
    let (r, lines) = run(&j, What::Resume(id.clone()), &o, &n, None);
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
    assert_eq!(money(&o, &n), "X00000019");
    migrated(&j, &id, State::Complete, schema);
    // Applying it again changes nothing on the cards.
    let (r, _) = run(&j, What::Resume(id.clone()), &o, &n, None);
    assert!(r.is_err(), "a second resume must be refused: {r:?}");
    assert_eq!(money(&o, &n), "X00000019");
}

fn cancels(schema: i32) {
    let dir = tempfile::tempdir().unwrap();
    let (o, n, today, id) = frozen(dir.path());
    let j = dir.path().join(format!("schema{schema}.sqlite"));
    old_journal(&today, &j, schema);
    let (r, lines) = run(&j, What::Cancel(id.clone()), &o, &n, None);
    assert!(
        matches!(r, Ok(Outcome::Cancelled { .. })),
        "{r:?} {lines:#?}"
    );
    assert_eq!(money(&o, &n), "old");
    migrated(&j, &id, State::Cancelled, schema);
    // The cancelled transfer can no longer be resumed onto N.
    let (r, _) = run(&j, What::Resume(id.clone()), &o, &n, None);
    assert!(r.is_err(), "a cancelled transfer resumed: {r:?}");
    assert_eq!(money(&o, &n), "old");
}

#[test]
fn schema_2_journal_resumes_its_frozen_transfer() {
    resumes(2);
}

#[test]
fn schema_2_journal_cancels_its_frozen_transfer() {
    cancels(2);
}

#[test]
fn schema_1_journal_resumes_its_frozen_transfer() {
    resumes(1);
}

#[test]
fn schema_1_journal_cancels_its_frozen_transfer() {
    cancels(1);
}

/// A legacy entry carries no binding: resuming it with another genuine new card of
/// the same holder is refused and the money stays frozen, bound to N.
#[test]
fn schema_1_entry_is_not_resumed_onto_another_new_card() {
    let dir = tempfile::tempdir().unwrap();
    let (o, n, today, id) = frozen(dir.path());
    let j = dir.path().join("schema1.sqlite");
    old_journal(&today, &j, 1);
    let other = card("ssc-3.00-second.json", "other");
    let (r, lines) = run(&j, What::Resume(id.clone()), &o, &other, Some(3));
    assert!(
        matches!(
            &r,
            Err(ActivationError::Refusal(
                sscard::activation::core::Refusal::WrongNewCard { expected, found }
            )) if expected == "X00000019" && found == "X00000043"
        ),
        "{r:?} {lines:#?}"
    );
    assert_eq!(money(&o, &n), "frozen");
    let m = money(&o, &other);
    assert_eq!(m, "frozen", "the other card got nothing");
    let e = Journal::open(&j).unwrap().get(&id).unwrap().unwrap();
    assert!(!e.state.is_final(), "{e:?}");
    // With N it then completes.
    let (r, lines) = run(&j, What::Resume(id.clone()), &o, &n, None);
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
    assert_eq!(money(&o, &n), "X00000019");
}
