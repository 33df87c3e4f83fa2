//! The fast tier (issue 10, point 6): the real driver and protocol core against
//! in-process virtual cards (`vcard::inproc`), no root, no pcscd, in seconds.
//!
//! - The tear-off matrix: the pharmacy flow (one and two readers) torn at every APDU
//!   of either card, the power cut before the card runs it or after (a torn record
//!   write keeps its old or its new value); each torn state is then recovered both
//!   ways (resume, and cancel) on another desk's journal, and the cancel and void
//!   paths are themselves torn at every APDU and finished on another desk.
//! - After every fault and every recovery the invariants of spec/activation.md are
//!   checked on the cards themselves: the balance spendable on at most one card and
//!   never lost, credited only to N, a card at `00` holding no balance without a
//!   transfer.
//!
//! `cargo test --release --test inproc_tier -- --nocapture` prints the counts.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/inproc.rs"]
mod inproc;

use inproc::*;
use sscard::activation::core::Start;
use sscard::activation::driver::Outcome;
use sscard::activation::ActivationError;
use sscard::vcard::inproc::{SharedCard, Tear, TearKind};

#[test]
fn clean_flows_and_their_apdu_counts() {
    for two in [false, true] {
        let (a, b) = counts(two);
        eprintln!(
            "{}: pharmacy = {a} APDUs to the old card + {b} to the new card = {}",
            if two { "two readers" } else { "one reader" },
            a + b
        );
    }
}

/// Recovers a torn pharmacy on another desk: resume (or pharmacy again when the old
/// card was never frozen), then checks the money reached N exactly once.
fn recover_by_resume(old: &SharedCard, new: &SharedCard, two: bool, when: &str) {
    let d = DeskRig::new(two);
    let hand = hand(old, new);
    let (r, lines) = d.run(
        Start::Resume {
            entry: None,
            old_card_present: true,
        },
        &hand,
    );
    match r {
        Ok(Outcome::Done(_)) => {}
        Err(ActivationError::Refusal(sscard::activation::core::Refusal::NothingToResume)) => {
            // Never frozen: a new pharmacy run.
            let (r, lines) = d.run(Start::Pharmacy, &hand);
            assert!(
                matches!(r, Ok(Outcome::Done(_))),
                "{when}: pharmacy again: {r:?} {lines:#?}"
            );
        }
        Err(ActivationError::Refusal(sscard::activation::core::Refusal::OldMigrated {
            ..
        })) => {}
        other => panic!("{when}: resume: {other:?} {lines:#?}"),
    }
    assert_eq!(invariants(old, &[new], when), "X00000019", "{when}");
    let n = new_state(new);
    assert_eq!(
        n.logs
            .iter()
            .filter(|l| l.kind == 1 && n.transfer.is_some_and(|t| t[..8] == l.transfer_prefix))
            .count(),
        1,
        "{when}: one transfer-in log record: {n:?}"
    );
    // Applying it again changes nothing.
    let before = (old_state(old), new_state(new));
    let (r, _) = d.run(
        Start::Resume {
            entry: None,
            old_card_present: true,
        },
        &hand,
    );
    assert!(r.is_err(), "{when}: a second apply must be refused: {r:?}");
    assert_eq!(before, (old_state(old), new_state(new)), "{when}");
}

/// Cancels the transfer the old card carries on another desk (torn at APDU `tear` of
/// `torn_card` when given, then finished on a third desk); the money ends on the old
/// card, or on N when N already held the transfer.
fn recover_by_cancel(
    old: &SharedCard,
    new: &SharedCard,
    two: bool,
    tear: Option<(&str, Tear)>,
    when: &str,
) -> usize {
    let o = old_state(old);
    let Some(x) = o.transfer else {
        return 0;
    };
    let id = sscard::activation::core::TransferId(x);
    let hand = hand(old, new);
    let start = || Start::Cancel { id, entry: None };
    let mut tries = 0;
    if let Some((which, t)) = tear {
        let c = if which == "old" { old } else { new };
        c.arm(Some(t));
        let d = DeskRig::new(two);
        let _ = d.run(start(), &hand);
        c.arm(None);
        invariants(old, &[new], &format!("{when}, cancel torn"));
        tries += 1;
    }
    let d = DeskRig::new(two);
    let (r, lines) = d.run(start(), &hand);
    let place = invariants(old, &[new], &format!("{when}, after cancel"));
    match r {
        Ok(Outcome::Cancelled { .. }) => {
            assert_eq!(place, "old", "{when}: {lines:#?}");
            let n = new_state(new);
            if o.status == 1 {
                // The old card was frozen: N could have been credited elsewhere, so the
                // cancel barred the transfer on N first.
                let f = n
                    .floor
                    .clone()
                    .unwrap_or_else(|| panic!("{when}: no floor on N"));
                assert!(
                    f.old_card == "6399000123" && f.counter >= id.counter(),
                    "{when}"
                );
            }
            assert_eq!(n.transfer, None, "{when}");
            assert_eq!(n.balance, 0, "{when}");
            let back = old_state(old);
            assert_eq!(
                (back.status, back.transfer, back.target.as_deref()),
                (0, None, None),
                "{when}"
            );
            assert_eq!(
                back.counter, o.counter,
                "{when}: the counter is never lowered"
            );
            // The cancelled transfer can never be credited afterwards.
            let (r, _) = d.run(
                Start::Resume {
                    entry: None,
                    old_card_present: true,
                },
                &hand,
            );
            assert!(r.is_err(), "{when}: resume after cancel: {r:?}");
            assert_eq!(invariants(old, &[new], when), "old");
        }
        Err(ActivationError::Refusal(sscard::activation::core::Refusal::CancelAfterCredit {
            ..
        })) => assert_eq!(place, "X00000019", "{when}"),
        Err(ActivationError::Refusal(sscard::activation::core::Refusal::NothingToCancel {
            ..
        })) => assert_eq!(place, "old", "{when}"),
        // Every write was made (the old card reads migrated): the money is on N.
        Err(ActivationError::Refusal(sscard::activation::core::Refusal::OldMigrated {
            ..
        })) => assert_eq!(place, "X00000019", "{when}"),
        other => panic!("{when}: cancel: {other:?} {lines:#?}"),
    }
    tries + 1
}

fn matrix(two: bool) {
    let mode = if two { "two readers" } else { "one reader" };
    let (a, b) = counts(two);
    let base_old = card("city.json", "old");
    let base_new = card("ssc-2.00.json", "N");
    let mut points = 0;
    let mut recoveries = 0;
    for (which, total) in [("old", a), ("new", b)] {
        for k in 1..=total {
            for kind in [TearKind::Before, TearKind::After] {
                let (old, new) = (copy(&base_old), copy(&base_new));
                let torn = if which == "old" { &old } else { &new };
                torn.arm(Some(Tear { at: k, kind }));
                let when = format!("{mode}, {which} card torn {kind:?} APDU {k}");
                let d = DeskRig::new(two);
                let hand = hand(&old, &new);
                let (r, lines) = d.run(Start::Pharmacy, &hand);
                assert!(torn.torn(), "{when}: the tear did not fire");
                assert!(r.is_err(), "{when}: {r:?} {lines:#?}");
                invariants(&old, &[&new], &when);
                points += 1;
                // Both recoveries, each on its own copy of the torn cards.
                let (o2, n2) = (copy(&old), copy(&new));
                recover_by_resume(&old, &new, two, &when);
                recoveries += recover_by_cancel(&o2, &n2, two, None, &when);
            }
        }
    }
    eprintln!(
        "{mode}: {points} tear-off points in the pharmacy flow (before/after each APDU), \
         each recovered by resume and by cancel ({recoveries} cancels); invariants held at every one"
    );
}

#[test]
fn pharmacy_torn_at_every_apdu_one_reader() {
    matrix(false);
}

#[test]
fn pharmacy_torn_at_every_apdu_two_readers() {
    matrix(true);
}

/// A frozen old card bound to N (one reader, the holder walked away with N), or a
/// torn credit: then the cancel (void on N, then unfreeze) torn at every APDU of
/// either card, and finished on another desk.
#[test]
fn cancel_and_void_torn_at_every_apdu() {
    let base_old = card("city.json", "old");
    let base_new = card("ssc-2.00.json", "N");
    let mut starts = Vec::new();
    // State A: frozen, bound to N; the holder never brings N back for the credit.
    {
        let (o, n) = (copy(&base_old), copy(&base_new));
        let h = Hand {
            old: Some(o.clone()),
            new: Some(n.clone()),
            new_limit: Some(1),
            swap: None,
        };
        let (r, _) = DeskRig::new(false).run(Start::Pharmacy, &h);
        assert!(matches!(r, Err(ActivationError::Timeout(_))), "{r:?}");
        assert_eq!(invariants(&o, &[&n], "A"), "frozen");
        starts.push(("frozen, N untouched", o, n));
    }
    // State B: a torn credit: N at 00 holding X and the balance.
    for k in 1..80u64 {
        let (o, n) = (copy(&base_old), copy(&base_new));
        n.arm(Some(Tear {
            at: k,
            kind: TearKind::After,
        }));
        let h = hand(&o, &n);
        let _ = DeskRig::new(false).run(Start::Pharmacy, &h);
        let ns = new_state(&n);
        if ns.status == 0 && ns.transfer.is_some() && ns.balance == BALANCE {
            starts.push(("torn credit holding the balance", o, n));
            break;
        }
    }
    assert_eq!(starts.len(), 2, "both start states were built");
    let mut points = 0;
    for (what, o0, n0) in &starts {
        // The cancel's APDUs on a clean copy.
        let (o, n) = (copy(o0), copy(n0));
        o.arm(None);
        n.arm(None);
        let d = DeskRig::new(false);
        let x = sscard::activation::core::TransferId(old_state(&o).transfer.unwrap());
        o.arm(None);
        n.arm(None);
        let (r, lines) = d.run(Start::Cancel { id: x, entry: None }, &hand(&o, &n));
        assert!(
            matches!(r, Ok(Outcome::Cancelled { .. })),
            "{what}: {r:?} {lines:#?}"
        );
        let (ca, cb) = (o.apdus(), n.apdus());
        eprintln!("cancel from '{what}' (one reader): {ca} APDUs to the old card + {cb} to N");
        for (which, total) in [("old", ca), ("new", cb)] {
            for k in 1..=total {
                for kind in [TearKind::Before, TearKind::After] {
                    let (o, n) = (copy(o0), copy(n0));
                    let when = format!("cancel from '{what}', {which} card torn {kind:?} APDU {k}");
                    recover_by_cancel(&o, &n, false, Some((which, Tear { at: k, kind })), &when);
                    points += 1;
                }
            }
        }
    }
    eprintln!(
        "cancel/void: {points} tear-off points, each finished on another desk; invariants held at every one"
    );
}

#[test]
fn the_freeze_binds_n_and_the_other_genuine_card_is_refused() {
    // Issue 10 case 4: a complete one-reader flow leaves the old card frozen, bound to
    // N; the holder's other genuine new card gets nothing at another desk.
    let (old, n, other) = (
        card("city.json", "old"),
        card("ssc-2.00.json", "N"),
        card("ssc-3.00-second.json", "M"),
    );
    let d = DeskRig::new(false);
    let (r, _) = d.run(Start::Pharmacy, &hand(&old, &n));
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?}");
    let o = old_state(&old);
    assert_eq!((o.status, o.target.as_deref()), (1, Some("X00000019")));
    assert_eq!(o.counter, 1);
    let e = DeskRig::new(false);
    let (r, lines) = e.run(Start::Pharmacy, &hand(&old, &other));
    assert!(r.is_err(), "{r:?} {lines:#?}");
    assert_eq!(invariants(&old, &[&n, &other], "case 4"), "X00000019");
    let m = new_state(&other);
    assert_eq!((m.status, m.balance, m.transfer), (0, 0, None));
}

#[test]
fn cards_of_the_layout_before_the_transfer_protocol_are_refused_with_the_reason() {
    for (old_name, new_name, record) in [
        (
            "broken/city-no-counter.json",
            "ssc-2.00.json",
            "transfer_counter",
        ),
        ("city.json", "broken/ssc-no-floor.json", "transfer_floor"),
    ] {
        let (old, new) = (card(old_name, "old"), card(new_name, "N"));
        let before = (old.image().to_json(), new.image().to_json());
        for two in [false, true] {
            let (r, lines) = DeskRig::new(two).run(Start::Pharmacy, &hand(&old, &new));
            let msg = match r {
                Err(e @ ActivationError::Refused(_)) => e.to_string(),
                other => panic!("{old_name}/{new_name}: {other:?} {lines:#?}"),
            };
            assert!(msg.contains(&format!("no {record} record")), "{msg}");
            assert!(msg.contains("older than the transfer protocol"), "{msg}");
            assert_eq!(
                before,
                (old.image().to_json(), new.image().to_json()),
                "nothing written"
            );
        }
    }
}

/// The other generations through the whole pharmacy flow: a 1.00 card (3DES, like
/// 2.00, so its spec version is not needed: no holder-file key in either) and a 3.00
/// card (SM4: the FCI alone says 3.00, whose holder file needs key 0A before the
/// citizen ID is read).
#[test]
fn pharmacy_with_a_1_00_and_a_3_00_card() {
    for (image, number) in [
        ("ssc-1.00.json", "X00000027"),
        ("ssc-3.00.json", "X00000035"),
    ] {
        for two in [false, true] {
            let (old, new) = (card("city.json", "old"), card(image, "N"));
            old.arm(None);
            new.arm(None);
            let hand = hand(&old, &new);
            let (r, lines) = DeskRig::new(two).run(Start::Pharmacy, &hand);
            assert!(
                matches!(r, Ok(Outcome::Done(_))),
                "{image}: {r:?} {lines:#?}"
            );
            eprintln!(
                "{image}, {}: pharmacy = {} APDUs to the old card + {} to the new card",
                if two { "two readers" } else { "one reader" },
                old.apdus(),
                new.apdus()
            );
            assert_eq!(invariants(&old, &[&new], image), number);
        }
    }
}
