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

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{
    assert_invariants, log_records, new_money, old_money, Desk, Faults, Strike, BALANCE,
};

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

fn matrix(two_readers: bool) {
    let mode = if two_readers {
        "two readers"
    } else {
        "one reader"
    };
    let mut d = Desk::new(two_readers);
    let (a_old, a_new) = count(&mut d);
    eprintln!("{mode}: clean flow = {a_old} APDUs to the old card + {a_new} to the new card");
    let mut cases = 0;
    for (card, total) in [("old", a_old), ("new", a_new)] {
        for n in 1..=total {
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
            let when = format!("{mode}, {card} card pulled at APDU {n}");
            let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
            assert_ne!(r.code, 0, "{when}: the flow cannot succeed: {r:?}");
            assert!(!r.stderr.contains("panicked"), "{when}: {r:?}");
            assert_invariants(&d.old_img, &d.new_img, &when);
            let runs = recover(&mut d, &when);
            assert_done(&mut d, &when);
            eprintln!("ok: {when} (exit {}), recovered in {runs} run(s)", r.code);
            cases += 1;
        }
    }
    eprintln!("{mode}: {cases} fault points tried, invariants held at every one");
}

#[test]
fn card_pulled_at_every_apdu_one_reader() {
    matrix(false);
}

#[test]
fn card_pulled_at_every_apdu_two_readers() {
    matrix(true);
}

#[test]
fn tool_killed_at_every_journal_state_and_pcscd_restarted() {
    let mut cases = 0;
    for two_readers in [false, true] {
        let mode = if two_readers {
            "two readers"
        } else {
            "one reader"
        };
        let mut d = Desk::new(two_readers);
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
            d.reset();
            let when = format!("{mode}, SIGKILL at {state}");
            let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::KillAt(line));
            assert_invariants(&d.old_img, &d.new_img, &when);
            if r.code != 0 {
                recover(&mut d, &when);
            }
            assert_done(&mut d, &when);
            eprintln!("ok: {when}");
            cases += 1;
        }
        for line in [
            "Freezing the old card",
            "Moving the medical account",
            "Setting the new card's PIN",
        ] {
            d.reset();
            let when = format!("{mode}, pcscd restarted at '{line}'");
            let (r, _) = d.run(
                &["pharmacy"],
                &Faults::default(),
                Strike::RestartPcscdAt(line),
            );
            assert!(!r.stderr.contains("panicked"), "{when}: {r:?}");
            assert_invariants(&d.old_img, &d.new_img, &when);
            if r.code != 0 {
                recover(&mut d, &when);
            }
            assert_done(&mut d, &when);
            eprintln!("ok: {when} (first run exit {})", r.code);
            cases += 1;
        }
    }
    eprintln!("{cases} kill/restart points tried, invariants held at every one");
}
