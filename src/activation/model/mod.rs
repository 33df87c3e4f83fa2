//! An exhaustive model checker of the activation protocol (issue 10, Build 4).
//!
//! Why: the invariants of spec/activation.md must hold under every interleaving of
//! desks, cards and faults, which no example-based test can cover. This explores the
//! *real* [`Core`](super::core::Core) — the same code the desk driver runs —
//! against in-memory cards and journals:
//!
//! - cards at the record level: one old card, two genuine new cards of the same
//!   holder; every record update is atomic (spec/cards.md §1.3), so a torn write
//!   leaves the record with its old or its new value, and the flow stops;
//! - desks with one or two readers, each with its own journal; at any step the holder
//!   may take any card out of any reader, or put a card from the hand into a reader
//!   whose desk is waiting for one (a card put in earlier is the same: no other desk
//!   can reach it meanwhile); a card leaving its reader ends the session (the next
//!   operation on it fails), and a desk may time out waiting for a card;
//! - any desk may crash (its process is gone) and keep or lose its journal;
//! - idle desks start pharmacy, resume (from the old card or any unfinished entry),
//!   cancel (any unfinished entry, or the id the old card shows) and window.
//!
//! The search is a depth-first search with a set of 64-bit state fingerprints;
//! the path on the stack is the counterexample trace. Reduction: between two
//! durable steps (a card write, a journal write), a desk's reads, checks, questions
//! and lookups run in one transition — they touch only its own cards (in its readers,
//! so no other desk can reach them) and its own journal; a card moved away in between
//! makes the next durable step fail, as it would on a desk.
//!
//! Bounds ([`Config`]): flow starts per desk and in total, torn writes and crashes
//! in total; holder moves are unbounded. [`Config::small`] (the `cargo test` bound)
//! and [`Config::full`] (`cargo run --release --example model_check`) are documented
//! with their figures in BENCHMARKS.md. PINs are always right and keys always match
//! here (the `63Cx` rule is covered by the core's own tests): the model is about
//! where the money is.
//!
//! Checked in every state ([`Violation`]): the balance is spendable on at most one
//! card and never lost; a transfer is credited at most once and only to the card its
//! freeze bound (the N the freezing desk's journal names); a cancelled transfer is
//! never credited; the same transfer is never logged twice on a card (applying it
//! twice changes nothing); a new card at status `00` holds no balance unless tag 26
//! names a transfer.

// The checker is a verification harness built into the library so that the example
// (examples/model_check.rs) and the unit tests run the same code; an `expect` here
// states a model invariant (a running desk has a core, a fixed date is valid), and
// its panic, with the message, is the checker reporting its own bug.
#![allow(clippy::expect_used)]

use super::core::{Readers, Rules};
use search::{bfs, dfs};

mod actions;
mod invariants;
mod search;
mod state;
#[cfg(test)]
mod tests;

/// The balance on the old card, in fen.
pub const BALANCE: u32 = 123_456;
const OLD_NUMBER: &str = "6399000123";
const NEW_NUMBERS: [&str; 2] = ["X00000019", "X00000027"];
const CITIZEN: &str = "111111198101011110";
const LOG_KEEP: usize = 10;

/// What to explore.
#[derive(Clone, Debug)]
pub struct Config {
    /// The desks, by reader count.
    pub desks: Vec<Readers>,
    /// Flows each desk may start.
    pub starts_per_desk: u8,
    /// Flows all desks together may start.
    pub starts_total: u8,
    /// Torn card writes, in total.
    pub tears: u8,
    /// Desk crashes (process gone; journal kept or lost), in total.
    pub crashes: u8,
    /// Card moves by the holder, in total (`u8::MAX`: unbounded).
    pub moves: u8,
    /// Stop after this many states (a safety net for the test bound).
    pub max_states: u64,
    /// The rules the desks run (mutations only in tests).
    pub rules: Rules,
    /// Invariants not checked (to let a mutation run reach a later violation).
    pub skip: Vec<Violation>,
    /// Breadth first (shortest traces, more memory) instead of depth first.
    pub bfs: bool,
    /// The flows each desk may start (by desk; a desk not listed, or an empty
    /// list: every flow).
    pub flows: Vec<Vec<Kind>>,
}

/// A flow a desk may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `activate pharmacy`.
    Pharmacy,
    /// `activate resume` (from the old card, or any unfinished entry).
    Resume,
    /// `activate cancel ID` (any unfinished entry, or the id the old card shows).
    Cancel,
    /// `activate window`.
    Window,
}

impl Config {
    /// The bounds of the full run (`cargo run --release --example model_check`): a
    /// one-reader and a two-reader desk, 2 flow starts per desk and 3 in total, one
    /// torn write, no crash (crashes: `model_check full 2 1 1 3`, about 3× longer).
    pub fn full() -> Config {
        Config {
            desks: vec![Readers::One, Readers::Two],
            starts_per_desk: 2,
            starts_total: 3,
            tears: 1,
            crashes: 0,
            moves: u8::MAX,
            max_states: u64::MAX,
            rules: Rules::spec(),
            skip: Vec::new(),
            bfs: false,
            flows: Vec::new(),
        }
    }

    /// Smaller bounds for `cargo test`: two one-reader desks, 2 flow starts in total,
    /// one torn write, one crash.
    pub fn small() -> Config {
        Config {
            desks: vec![Readers::One, Readers::One],
            starts_per_desk: 2,
            starts_total: 2,
            tears: 1,
            crashes: 1,
            moves: u8::MAX,
            max_states: 50_000_000,
            rules: Rules::spec(),
            skip: Vec::new(),
            bfs: false,
            flows: Vec::new(),
        }
    }
}

/// An invariant of spec/activation.md that a state broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// The balance is spendable on two cards.
    SpendableTwice,
    /// No card holds the balance spendable and no frozen old card carries X and N.
    Lost,
    /// A transfer was credited to a card its freeze did not bind.
    CreditedNotToN,
    /// A transfer was credited to two cards, or twice to one.
    CreditedTwice,
    /// A cancelled transfer was credited.
    CancelledCredited,
    /// A transfer was logged twice on one card.
    AppliedTwice,
    /// A new card at status `00` holds a balance and no transfer id.
    BalanceWithoutTransfer,
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Report {
    /// Distinct states explored.
    pub states: u64,
    /// Transitions followed.
    pub transitions: u64,
    /// The deepest path.
    pub max_depth: usize,
    /// Seconds.
    pub seconds: f64,
    /// Whether `max_states` cut the search short.
    pub truncated: bool,
    /// The first violation found, with its trace (steps from the initial state)
    /// and the cards at the end.
    pub violation: Option<(Violation, Vec<String>, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "states explored: {}  transitions: {}  max depth: {}  seconds: {:.1}{}",
            self.states,
            self.transitions,
            self.max_depth,
            self.seconds,
            if self.truncated {
                "  (TRUNCATED at max_states)"
            } else {
                ""
            }
        )?;
        match &self.violation {
            None => writeln!(f, "no invariant violated"),
            Some((v, trace, cards)) => {
                writeln!(f, "VIOLATION: {v:?}; trace ({} steps):", trace.len())?;
                for (i, s) in trace.iter().enumerate() {
                    writeln!(f, "  {:>3}. {s}", i + 1)?;
                }
                writeln!(f, "cards: {cards}")
            }
        }
    }
}

/// Explores every state reachable within `cfg`'s bounds and stops at the first
/// violated invariant: depth first ([`Config::bfs`] false: little memory, any
/// trace) or breadth first (the shortest trace).
pub fn check(cfg: &Config) -> Report {
    if cfg.bfs {
        bfs(cfg)
    } else {
        dfs(cfg)
    }
}
