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

#[path = "common/inproc.rs"]
mod inproc;

use inproc::*;
use sscard::activation::core::{Start, TransferId};
use sscard::activation::driver::{self, Outcome};
use sscard::activation::journal::{Journal, State, LEGACY_INSTANCE, SCHEMA_VERSION};
use sscard::activation::ActivationError;
use sscard::vcard::inproc::SharedCard;
use std::path::{Path, PathBuf};

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
    let start = {
        let journal = Journal::open(journal).unwrap();
        let entry =
            |j: &Journal, id: &str| j.get(id).unwrap().as_ref().and_then(driver::journal_entry);
        match &what {
            What::Pharmacy => Start::Pharmacy,
            What::Resume(id) => Start::Resume {
                entry: Some(entry(&journal, id).expect("a resumable entry")),
                old_card_present: true,
            },
            What::Cancel(id) => Start::Cancel {
                id: TransferId::parse(id).unwrap(),
                entry: entry(&journal, id),
            },
        }
    };
    let mut hand = hand(old, new);
    hand.new_limit = new_limit;
    DeskRig::at(journal).run(start, &hand)
}

/// Where the money is (see [`invariants`], which panics when it is spendable twice
/// or lost), with the one new card of these tests.
fn money(old: &SharedCard, new: &SharedCard) -> String {
    invariants(old, &[new], "legacy journal")
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
