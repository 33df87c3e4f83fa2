//! The model checker on the spec's rules (no violation) and on four old rules, one
//! at a time (each must be found, with its trace printed: run with `--nocapture`).

use super::*;
use crate::activation::core::Mutation;

/// Two one-reader desks running the flows the old rule's case needs (the bound is
/// kept small so each run takes seconds; the spec-rules run covers every flow).
fn mutated(m: Mutation, flows: [&[Kind]; 2], tears: u8) -> Config {
    let mut cfg = Config::small();
    cfg.rules = Rules { mutation: Some(m) };
    cfg.bfs = true;
    cfg.max_states = 3_000_000;
    cfg.flows = flows.iter().map(|f| f.to_vec()).collect();
    cfg.tears = tears;
    cfg.crashes = 0;
    cfg.starts_total = 3;
    cfg
}

#[test]
fn spec_rules_hold_on_two_desks_and_two_new_cards() {
    let cfg = Config::small();
    let r = check(&cfg);
    println!("spec rules, {cfg:?}\n{r}");
    assert!(r.violation.is_none(), "{r}");
    assert!(!r.truncated, "{r}");
    assert!(r.states > 10_000, "{r}");
}

fn expect_violation(name: &str, cfg: &Config) -> Report {
    let r = check(cfg);
    println!("mutation {name}:\n{r}");
    assert!(
        r.violation.is_some(),
        "the checker missed mutation {name}:\n{r}"
    );
    r
}

/// Old rule 1: cancel with the old card alone while the journal shows no credit.
/// Expected: issue 10 case 1 — another desk credits N from the old card's own data,
/// then this desk unfreezes the old card: spendable twice.
#[test]
fn finds_cancel_with_the_old_card_alone() {
    let r = expect_violation(
        "cancel with the old card alone",
        &mutated(
            Mutation::CancelWithOldCardAlone,
            [&[Kind::Pharmacy, Kind::Cancel], &[Kind::Resume]],
            0,
        ),
    );
    let (v, trace, _) = r.violation.expect("violation");
    assert!(
        matches!(v, Violation::SpendableTwice | Violation::CancelledCredited),
        "{v:?}"
    );
    assert!(trace.iter().any(|s| s.contains("cancel")), "{trace:?}");
}

/// Old rule 2: a freeze that binds no new card. Expected: issue 10 case 4 — the
/// other new card credited from the frozen old card at another desk.
#[test]
fn finds_a_freeze_that_binds_no_new_card() {
    let mut cfg = mutated(
        Mutation::FreezeBindsNothing,
        [&[Kind::Pharmacy], &[Kind::Pharmacy]],
        0,
    );
    // First found: the frozen old card names no N (the invariant's "not lost").
    let r = expect_violation("freeze binds no new card", &cfg);
    let (v, _, _) = r.violation.expect("violation");
    assert_eq!(v, Violation::Lost);
    // With that set aside: issue 10 case 4.
    cfg.skip = vec![Violation::Lost];
    let r = expect_violation("freeze binds no new card (case 4)", &cfg);
    let (v, _, _) = r.violation.expect("violation");
    assert!(
        matches!(
            v,
            Violation::CreditedNotToN | Violation::CreditedTwice | Violation::SpendableTwice
        ),
        "{v:?}"
    );
}

/// Old rule 3: a cancel that writes no floor. Expected: a stale journal credits N
/// after the cancel returned the old card to active.
#[test]
fn finds_a_cancel_without_floor() {
    let r = expect_violation(
        "cancel writes no floor",
        &mutated(
            Mutation::CancelWritesNoFloor,
            [&[Kind::Pharmacy, Kind::Resume], &[Kind::Cancel]],
            0,
        ),
    );
    let (v, trace, _) = r.violation.expect("violation");
    assert!(
        matches!(v, Violation::CancelledCredited | Violation::SpendableTwice),
        "{v:?}"
    );
    assert!(trace.iter().any(|s| s.contains("cancel")), "{trace:?}");
}

/// Old rule 4: the credit writes the transfer id last, and window ignores the
/// balance. Expected: a torn credit leaves a card at `00` with the balance and no
/// transfer id; with that invariant set aside, issue 10 case 2 — window activates
/// the torn card and a cancel unfreezes the old card: spendable twice.
#[test]
fn finds_transfer_id_last_with_a_window_ignoring_the_balance() {
    let cfg = mutated(
        Mutation::CreditIdLastWindowIgnoresBalance,
        [&[Kind::Pharmacy, Kind::Window], &[Kind::Cancel]],
        1,
    );
    let r = expect_violation("transfer id written last", &cfg);
    let (v, _, _) = r.violation.expect("violation");
    assert_eq!(v, Violation::BalanceWithoutTransfer);
    let mut cfg = cfg;
    cfg.skip = vec![Violation::BalanceWithoutTransfer];
    let r = expect_violation("transfer id written last (case 2)", &cfg);
    let (v, trace, _) = r.violation.expect("violation");
    assert!(
        matches!(v, Violation::SpendableTwice | Violation::CancelledCredited),
        "{v:?}"
    );
    assert!(trace.iter().any(|s| s.contains("window")), "{trace:?}");
}
