//! The tear-off matrix of issue 4, pcscd tier: the pharmacy flow with a card pulled at
//! every APDU of its first insertion (one reader and two readers), the tool killed at
//! every journal state, and pcscd restarted mid-flow; after each fault and after
//! recovery the invariants of spec/activation.md are checked on the cards' persistent
//! state. Issue 10 moved the exhaustive matrix (every APDU of every insertion, torn
//! before or after, resume and cancel recoveries, the cancel and void paths) to the
//! in-process tier (`tests/inproc_tier.rs`), which runs it in seconds; this tier keeps
//! the end-to-end coverage through pcscd.
//!
//! Each case prints one line; the totals are printed at the end of each test
//! (`cargo test --release --test tearoff_e2e -- --nocapture` shows them).
//!
//! The cases are independent (fresh card images and an empty journal each), so they
//! run side by side on several workers, each with its own private pcscd and vpcd
//! ports (`common::pool`; `SSCARD_E2E_JOBS` sets how many): every fault point is
//! still tried, with the same assertions, in a fraction of the time.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{
    assert_invariants, log_records, new_money, old_money, Desk, Faults, Strike, BALANCE,
};
use common::pool::{run_cases, workers};
use std::sync::Mutex;
use std::time::Instant;

/// Runs `resume`, or `pharmacy` again when the old card was never frozen, as a desk
/// would after a fault; returns how many runs it took. Any other outcome fails.
fn recover(d: &mut Desk, when: &str) -> usize {
    let (r, _) = d.run(&["resume"], &Faults::default(), Strike::None);
    if r.code == 0 {
        return 1;
    }
    assert_invariants(&d.old_img, &d.new_img, &format!("{when}, after resume"));
    if r.code == 12
        && (r.stderr.contains("the old card was already migrated")
            || r.stderr.contains("is already COMPLETE"))
    {
        // The fault struck after the last card write: nothing was left to do.
        return 1;
    }
    assert!(
        r.code == 12 && r.stderr.contains("nothing to resume"),
        "{when}: resume failed: {r:?}"
    );
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{when}: a fresh pharmacy run failed: {r:?}");
    2
}

/// After recovery: the money is on the new card, once, and a second apply changes
/// nothing.
fn assert_done(d: &mut Desk, when: &str) {
    assert_invariants(&d.old_img, &d.new_img, when);
    let new = new_money(&d.new_img);
    assert_eq!((new.status, new.balance), (0x01, BALANCE), "{when}");
    let old = old_money(&d.old_img);
    assert!(
        old.status == 0x01 || old.status == 0x02,
        "{when}: old {old:?}"
    );
    assert_eq!(log_records(&d.new_img).len(), 1, "{when}: one log record");
    let before = (
        new_money(&d.new_img),
        old_money(&d.old_img),
        log_records(&d.new_img),
    );
    let id = hex::encode_upper(new.transfer);
    let (r, _) = d.run(&["resume", &id], &Faults::default(), Strike::None);
    assert_ne!(r.code, 0, "{when}: a second apply must be refused: {r:?}");
    let after = (
        new_money(&d.new_img),
        old_money(&d.old_img),
        log_records(&d.new_img),
    );
    assert_eq!(before, after, "{when}: a second apply changed a card");
}

fn count(d: &mut Desk) -> (u64, u64) {
    let oc = d.bed.dir.path().join("old.count");
    let nc = d.bed.dir.path().join("new.count");
    let faults = Faults {
        old: vec!["--count-file".into(), oc.display().to_string()],
        new: vec!["--count-file".into(), nc.display().to_string()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .unwrap()
            .trim()
            .parse::<u64>()
            .unwrap()
    };
    (read(&oc), read(&nc))
}

fn mode(two_readers: bool) -> &'static str {
    if two_readers {
        "two readers"
    } else {
        "one reader"
    }
}

/// One pulled-card case: the old or new card pulled before its APDU `n`.
fn pulled_at(d: &mut Desk, card: &str, n: u64) {
    let started = Instant::now();
    d.reset();
    let flags = vec![
        "--remove-before".to_string(),
        n.to_string(),
        "--once".to_string(),
    ];
    let faults = if card == "old" {
        Faults {
            old: flags,
            new: vec![],
        }
    } else {
        Faults {
            old: vec![],
            new: flags,
        }
    };
    let when = format!("{}, {card} card pulled at APDU {n}", mode(d.two_readers));
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_ne!(r.code, 0, "{when}: the flow cannot succeed: {r:?}");
    assert!(!r.stderr.contains("panicked"), "{when}: {r:?}");
    assert_invariants(&d.old_img, &d.new_img, &when);
    let runs = recover(d, &when);
    assert_done(d, &when);
    eprintln!(
        "ok: {when} (exit {}), recovered in {runs} run(s) [{:.1} s]",
        r.code,
        started.elapsed().as_secs_f64()
    );
}

fn matrix(two_readers: bool) {
    let mode = mode(two_readers);
    let started = Instant::now();
    let mut d = Desk::new(two_readers);
    let (a_old, a_new) = count(&mut d);
    eprintln!("{mode}: clean flow = {a_old} APDUs to the old card + {a_new} to the new card");
    let cases: Vec<(&str, u64)> = [("old", a_old), ("new", a_new)]
        .into_iter()
        .flat_map(|(card, total)| (1..=total).map(move |n| (card, n)))
        .collect();
    // The first worker goes on with the desk that counted; the others start their own.
    let counted = Mutex::new(Some(d));
    let cases = run_cases(
        workers(),
        cases,
        |_| {
            let d = counted.lock().unwrap().take();
            d.unwrap_or_else(|| Desk::new(two_readers))
        },
        |d, (card, n)| pulled_at(d, card, n),
    );
    assert_eq!(cases as u64, a_old + a_new);
    eprintln!(
        "{mode}: {cases} fault points tried, invariants held at every one [{:.1} s]",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn card_pulled_at_every_apdu_one_reader() {
    matrix(false);
}

#[test]
fn card_pulled_at_every_apdu_two_readers() {
    matrix(true);
}

/// A kill or pcscd-restart case: the strike, and where (a desk line).
#[derive(Clone, Copy)]
enum Blow {
    /// SIGKILL the tool at this journal state, seen on this desk line.
    Kill(&'static str, &'static str),
    /// Restart pcscd when this desk line appears.
    RestartPcscd(&'static str),
}

fn struck_at(d: &mut Desk, two_readers: bool, blow: Blow) {
    let started = Instant::now();
    // Every worker's desk serves both modes: its bed has two slots either way, and
    // `reset` empties both.
    d.two_readers = two_readers;
    d.reset();
    let mode = mode(two_readers);
    match blow {
        Blow::Kill(state, line) => {
            let when = format!("{mode}, SIGKILL at {state}");
            let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::KillAt(line));
            assert_invariants(&d.old_img, &d.new_img, &when);
            if r.code != 0 {
                recover(d, &when);
            }
            assert_done(d, &when);
            eprintln!("ok: {when} [{:.1} s]", started.elapsed().as_secs_f64());
        }
        Blow::RestartPcscd(line) => {
            let when = format!("{mode}, pcscd restarted at '{line}'");
            let (r, _) = d.run(
                &["pharmacy"],
                &Faults::default(),
                Strike::RestartPcscdAt(line),
            );
            assert!(!r.stderr.contains("panicked"), "{when}: {r:?}");
            assert_invariants(&d.old_img, &d.new_img, &when);
            if r.code != 0 {
                recover(d, &when);
            }
            assert_done(d, &when);
            eprintln!(
                "ok: {when} (first run exit {}) [{:.1} s]",
                r.code,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

#[test]
fn tool_killed_at_every_journal_state_and_pcscd_restarted() {
    let started = Instant::now();
    let mut cases = Vec::new();
    for two_readers in [false, true] {
        // Issue 10: the new card is checked first, so the kill points follow the freeze.
        let mut points = vec![
            (
                "before FREEZING (new card checked)",
                "Proving this desk's key on the new card",
            ),
            ("FREEZING", "Freezing the old card"),
            ("FROZEN", "The old card is frozen for the new card"),
            ("CREDITING", "Moving the medical account"),
            ("before CREDITED", "Setting the new card's PIN"),
            ("COMPLETE", "Done."),
        ];
        if two_readers {
            points.push(("CREDITED", "Marking the old card as migrated"));
        }
        for (state, line) in points {
            cases.push((two_readers, Blow::Kill(state, line)));
        }
        for line in [
            "Freezing the old card",
            "Moving the medical account",
            "Setting the new card's PIN",
        ] {
            cases.push((two_readers, Blow::RestartPcscd(line)));
        }
    }
    let cases = run_cases(
        workers(),
        cases,
        |_| Desk::new(false),
        |d, (two_readers, blow)| struck_at(d, two_readers, blow),
    );
    assert_eq!(cases, 6 + 7 + 3 + 3, "every kill and restart point");
    eprintln!(
        "{cases} kill/restart points tried, invariants held at every one [{:.1} s]",
        started.elapsed().as_secs_f64()
    );
}
