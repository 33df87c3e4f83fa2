//! Resume of a torn first use (spec/activation.md: Window and first-use flows;
//! Recovery), in process: the real driver and core against an in-process virtual
//! card. A first use is torn before (and after) every APDU of the new card; the
//! entry it left unfinished is then resumed with `activate resume ID` on the same
//! desk and on another desk holding a copy of the journal. Every time the card ends
//! active with exactly one log record of type `02`, and the entry COMPLETE.
//!
//! Laptop tier: no pcscd, no root.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/inproc.rs"]
mod inproc;

use inproc::{card, copy, keys, new_state, Hand, ScriptDesk};
use sscard::activation::core::{Refusal, Start};
use sscard::activation::desk::Want;
use sscard::activation::driver::{self, Outcome};
use sscard::activation::journal::{Flow, Journal, State};
use sscard::activation::slots::{Bench, Cue, Slots};
use sscard::activation::{ActivationError, Context};
use sscard::profile::Profiles;
use sscard::vcard::inproc::{SharedCard, Tear, TearKind};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// This desk's terminal, and the other desk's.
const HERE: &str = "639900000001";
const THERE: &str = "639900000077";

/// Runs `start` on a one-reader desk (terminal `terminal`, journal `journal`) with
/// the holder bringing `new` whenever asked and typing `pins` in order.
fn run(
    journal: &Path,
    terminal: &str,
    start: Start,
    new: &SharedCard,
    pins: &[&'static str],
) -> (Result<Outcome, ActivationError>, Vec<String>) {
    let profiles = Profiles::builtin().unwrap();
    let mut sam = keys();
    let mut journal = Journal::open(journal).unwrap();
    let mut desk = ScriptDesk {
        pins: pins.iter().copied().collect::<VecDeque<_>>(),
        lines: Vec::new(),
    };
    let bench = Bench::new(&["R"]);
    let hand = Hand {
        old: None,
        new: Some(new.clone()),
        new_limit: None,
        swap: None,
    };
    let holder = Box::new(move |cue: &Cue, b: &Bench| match cue {
        Cue::Insert(Want::NewCard, r) => {
            if let Some(c) = &hand.new {
                b.insert(r, c);
            }
        }
        Cue::Insert(Want::OldCard, _) => {}
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
        terminal: terminal.into(),
        operator: "test".into(),
        today: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
        force_last_try: false,
    };
    let r = driver::run(&mut cx, start);
    drop(cx);
    new.pull();
    (r, desk.lines)
}

/// The unfinished entries of a journal, as (id, flow, state).
fn unfinished(journal: &Path) -> Vec<(String, Flow, State)> {
    Journal::open(journal)
        .unwrap()
        .unfinished()
        .unwrap()
        .into_iter()
        .map(|e| (e.id, e.flow, e.state))
        .collect()
}

fn state_of(journal: &Path, id: &str) -> State {
    Journal::open(journal)
        .unwrap()
        .get(id)
        .unwrap()
        .unwrap()
        .state
}

/// `activate resume ID` on a desk with `journal`.
fn resume(
    journal: &Path,
    terminal: &str,
    id: &str,
    new: &SharedCard,
) -> (Result<Outcome, ActivationError>, Vec<String>) {
    let e = Journal::open(journal).unwrap().get(id).unwrap().unwrap();
    let start = Start::Resume {
        entry: driver::journal_entry(&e),
        old_card_present: false,
    };
    run(journal, terminal, start, new, &[])
}

/// A copy of a desk's journal file (its last connection is closed: no WAL left).
fn copy_journal(from: &Path, dir: &Path) -> PathBuf {
    let to = dir.join("copy.sqlite");
    std::fs::copy(from, &to).unwrap();
    for ext in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{ext}", from.display()));
        if side.exists() {
            std::fs::copy(&side, format!("{}{ext}", to.display())).unwrap();
        }
    }
    to
}

/// The card is active and its log holds exactly one activation record (`02`).
fn activated_once(c: &SharedCard, when: &str) {
    let n = new_state(c);
    assert_eq!(n.status, 1, "{when}: {n:?}");
    let twos = n.logs.iter().filter(|l| l.kind == 0x02).count();
    assert_eq!(twos, 1, "{when}: {} type-02 records: {:?}", twos, n.logs);
    assert_eq!(n.logs.len(), 1, "{when}: {:?}", n.logs);
}

/// Tears a first use (with or without the holder's PIN change) at every APDU, both
/// kinds, and resumes each unfinished entry on this desk and on another.
fn torn_everywhere(verify_pin: bool) {
    let _ = env_logger::builder().is_test(true).try_init();
    let pins: &[&'static str] = if verify_pin {
        &["123456", "654321", "654321"]
    } else {
        &[]
    };
    let start = || Start::FirstUse { verify_pin };
    let base = card("ssc-2.00.json", "N");
    // The clean run's APDU count.
    let total = {
        let dir = tempfile::tempdir().unwrap();
        let c = copy(&base);
        c.arm(None);
        let (r, lines) = run(&dir.path().join("j.sqlite"), HERE, start(), &c, pins);
        assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
        let n = c.apdus();
        activated_once(&c, "clean");
        n
    };
    assert!(total > 5, "a first use of {total} APDUs");
    let (mut resumed, mut before_journal) = (0, 0);
    for k in 1..=total {
        for kind in [TearKind::Before, TearKind::After] {
            let when = format!("first use (PIN {verify_pin}) torn {kind:?} APDU {k}");
            let dir = tempfile::tempdir().unwrap();
            let journal = dir.path().join("journal.sqlite");
            let c = copy(&base);
            c.arm(Some(Tear { at: k, kind }));
            let (r, lines) = run(&journal, HERE, start(), &c, pins);
            assert!(c.torn(), "{when}: the tear did not fire");
            assert!(r.is_err(), "{when}: {r:?} {lines:#?}");
            let open = unfinished(&journal);
            let Some((id, flow, state)) = open.first().cloned() else {
                // Torn before the activation was journaled: nothing was written.
                let n = new_state(&c);
                assert_eq!(
                    n.status, 0,
                    "{when}: written without a journal entry: {n:?}"
                );
                assert!(n.logs.is_empty(), "{when}: {n:?}");
                before_journal += 1;
                continue;
            };
            assert_eq!(open.len(), 1, "{when}: {open:?}");
            assert_eq!(flow, Flow::FirstUse, "{when}");
            assert!(
                matches!(state, State::Crediting | State::Credited),
                "{when}: {state:?}"
            );
            // The other desk: a copy of the journal and of the torn card.
            let other = copy_journal(&journal, dir.path());
            let c2 = copy(&c);
            for (desk, j, card) in [("this desk", &journal, &c), ("another desk", &other, &c2)] {
                let terminal = if desk == "this desk" { HERE } else { THERE };
                let (r, lines) = resume(j, terminal, &id, card);
                let when = format!("{when}, resumed on {desk}");
                match r {
                    Ok(Outcome::Done(receipt)) => {
                        assert_eq!(
                            receipt.transfer_id.to_uppercase(),
                            id.to_uppercase(),
                            "{when}"
                        );
                        assert_eq!(receipt.flow, "first-use", "{when}");
                    }
                    other => panic!("{when}: {other:?} {lines:#?}"),
                }
                activated_once(card, &when);
                assert_eq!(state_of(j, &id), State::Complete, "{when}");
                assert!(unfinished(j).is_empty(), "{when}");
                // A resume from CREDITING cannot know whether a PIN was chosen: it says so.
                if state == State::Crediting {
                    assert!(
                        lines.iter().any(|l| l.contains("was not set")),
                        "{when}: {lines:#?}"
                    );
                }
                // Resumed again: the entry is final.
                let (r, _) = resume(j, terminal, &id, card);
                assert!(
                    matches!(r, Err(ActivationError::Refusal(Refusal::EntryFinal { .. }))),
                    "{when}: again: {r:?}"
                );
                activated_once(card, &when);
            }
            resumed += 1;
        }
    }
    eprintln!(
        "first use (PIN {verify_pin}): {total} APDUs, {} tear points: {resumed} resumed on \
         two desks, {before_journal} torn before the journal entry",
        2 * total
    );
    assert!(resumed > 0 && before_journal > 0);
}

#[test]
fn a_first_use_torn_at_every_apdu_is_resumed_on_any_desk() {
    torn_everywhere(false);
}

#[test]
fn a_first_use_with_a_pin_change_torn_at_every_apdu_is_resumed_on_any_desk() {
    torn_everywhere(true);
}

#[test]
fn a_resume_refuses_another_card() {
    let base = card("ssc-2.00.json", "N");
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal.sqlite");
    // Find a tear point that leaves an entry.
    let mut id = None;
    for k in 1..=60 {
        let c = copy(&base);
        c.arm(Some(Tear {
            at: k,
            kind: TearKind::Before,
        }));
        let _ = run(
            &journal,
            HERE,
            Start::FirstUse { verify_pin: false },
            &c,
            &[],
        );
        if let Some((x, _, _)) = unfinished(&journal).first().cloned() {
            id = Some(x);
            break;
        }
    }
    let id = id.expect("a tear point leaving an entry");
    let other = card("ssc-3.00.json", "M");
    let (r, lines) = resume(&journal, HERE, &id, &other);
    assert!(
        matches!(
            r,
            Err(ActivationError::Refusal(Refusal::WrongNewCard { .. }))
        ),
        "{r:?} {lines:#?}"
    );
    assert_eq!(new_state(&other).status, 0);
    assert_eq!(unfinished(&journal).len(), 1);
}
