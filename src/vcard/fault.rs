//! Fault injection: the ways a card misbehaves that the terminal must survive.
//!
//! The activation flow promises invariants "after a fault at any point" (card pulled,
//! power cut). Tests can only check that if the card can be made to fail at an exact
//! point, repeatably. So faults are counted in C-APDUs (1-based, control messages such
//! as get-ATR do not count, because pcscd sends those on its own schedule):
//!
//! - remove *before* APDU N: the card disappears instead of answering; the command had
//!   no effect (the power was cut before the card ran it);
//! - remove *after* APDU N: the card runs and answers it, then disappears (the
//!   terminal saw the answer; a following command fails);
//! - mute after N: APDUs after the Nth are read and never answered, the connection
//!   stays up (a hung card: the terminal must not hang with it);
//! - delays per APDU and per byte, to model a slow link (9600 baud T=0 is about
//!   1040 µs per byte) and shake out timing assumptions.
//!
//! Each removal fires once; after it the card is re-inserted (unless `--once`) and
//! the APDU count continues, so a plan can hold both a before- and an after-removal.

use std::time::Duration;

/// What to do to which APDU. The default plan injects nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Close the link instead of answering this APDU (1-based).
    pub remove_before: Option<u64>,
    /// Answer this APDU (1-based), then close the link.
    pub remove_after: Option<u64>,
    /// Stop answering APDUs after this many, keeping the link open.
    pub mute_after: Option<u64>,
    /// Sleep this long before each answer.
    pub delay_apdu: Duration,
    /// Sleep this long per byte of each command and answer.
    pub delay_byte: Duration,
}

/// What the connector must do with APDU number `n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Run it and answer.
    Answer,
    /// Run it, answer, then remove the card.
    AnswerThenRemove,
    /// Remove the card without running it.
    RemoveNow,
    /// Read it and never answer.
    Ignore,
}

impl FaultPlan {
    /// Whether the plan injects anything at all.
    pub fn is_empty(&self) -> bool {
        *self == FaultPlan::default()
    }

    /// The action for APDU number `n` (1-based). A removal that fires is consumed.
    pub fn action(&mut self, n: u64) -> Action {
        if self.remove_before == Some(n) {
            self.remove_before = None;
            return Action::RemoveNow;
        }
        if self.mute_after.is_some_and(|m| n > m) {
            return Action::Ignore;
        }
        if self.remove_after == Some(n) {
            self.remove_after = None;
            return Action::AnswerThenRemove;
        }
        Action::Answer
    }

    /// How long to wait before sending an answer of `answer_len` bytes to a command
    /// of `command_len` bytes.
    pub fn delay_for(&self, command_len: usize, answer_len: usize) -> Duration {
        let bytes = u32::try_from(command_len + answer_len).unwrap_or(u32::MAX);
        self.delay_apdu
            .saturating_add(self.delay_byte.saturating_mul(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removals_fire_once_in_order() {
        let mut p = FaultPlan {
            remove_before: Some(2),
            remove_after: Some(4),
            ..FaultPlan::default()
        };
        assert_eq!(p.action(1), Action::Answer);
        assert_eq!(p.action(2), Action::RemoveNow);
        assert_eq!(p.action(2), Action::Answer);
        assert_eq!(p.action(3), Action::Answer);
        assert_eq!(p.action(4), Action::AnswerThenRemove);
        assert_eq!(p.action(4), Action::Answer);
        assert!(p.is_empty());
    }

    #[test]
    fn mute_keeps_muting() {
        let mut p = FaultPlan {
            mute_after: Some(1),
            ..FaultPlan::default()
        };
        assert_eq!(p.action(1), Action::Answer);
        assert_eq!(p.action(2), Action::Ignore);
        assert_eq!(p.action(3), Action::Ignore);
    }

    #[test]
    fn delays_add_up() {
        let p = FaultPlan {
            delay_apdu: Duration::from_micros(100),
            delay_byte: Duration::from_micros(1040),
            ..FaultPlan::default()
        };
        assert_eq!(p.delay_for(5, 2), Duration::from_micros(100 + 7 * 1040));
        assert_eq!(FaultPlan::default().delay_for(300, 300), Duration::ZERO);
    }
}
