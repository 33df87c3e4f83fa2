//! The invariants of spec/activation.md, checked in every state: the ones a single
//! transition breaks are noted in the ghost as it happens ([`World::credit_event`]),
//! the rest are read off the world ([`World::check`]).

use super::super::core::{CityStatus, SscStatus, TransferId};
use super::state::World;
use super::Violation;

impl World {
    pub(super) fn credit_event(&mut self, x: TransferId, c: u8) {
        let g = &mut self.ghost;
        let v = if g.credits.iter().any(|(y, _)| *y == x) {
            Some(Violation::CreditedTwice)
        } else if g.cancelled.contains(&x) {
            Some(Violation::CancelledCredited)
        } else if g.bound.iter().find(|(y, _)| *y == x).map(|(_, n)| *n) != Some(Some(c)) {
            Some(Violation::CreditedNotToN)
        } else {
            None
        };
        g.credits.push((x, c));
        if g.seen.is_none() {
            g.seen = v;
        }
    }

    /// The invariants of the state (see the module docs).
    pub(super) fn check(&self, skip: &[Violation]) -> Option<Violation> {
        let ok = |v: &Violation| !skip.contains(v);
        if let Some(v) = self.ghost.seen.filter(ok) {
            return Some(v);
        }
        let old_spendable = self.old.status == CityStatus::Active;
        let spendable = usize::from(old_spendable)
            + self
                .news
                .iter()
                .filter(|n| n.status == SscStatus::Active && n.balance > 0)
                .count();
        let frozen = self.old.status == CityStatus::Migrating
            && self.old.transfer.is_some()
            && !self.old.target.is_empty();
        let checks = [
            (Violation::SpendableTwice, spendable > 1),
            (Violation::Lost, spendable == 0 && !frozen),
            (
                Violation::CancelledCredited,
                self.news.iter().any(|n| {
                    n.status == SscStatus::Active
                        && n.transfer
                            .is_some_and(|x| self.ghost.cancelled.contains(&x))
                }),
            ),
            (
                Violation::BalanceWithoutTransfer,
                self.news.iter().any(|n| {
                    n.status == SscStatus::NotActivated && n.balance != 0 && n.transfer.is_none()
                }),
            ),
        ];
        checks
            .into_iter()
            .find(|(v, bad)| *bad && ok(v))
            .map(|(v, _)| v)
    }
}
