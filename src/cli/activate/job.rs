//! What the command was asked to do ([`Job`]) and what one run of a flow is
//! ([`Attempt`]); [`Job::next`] decides what may run after a recoverable failure.

use crate::activation::journal::{self, Flow};
use crate::ui::i18n::Text;
use crate::ui::steps::Plan;

/// What the command was asked to do.
pub(super) enum Job {
    Pharmacy,
    Window {
        flow: Flow,
        citizen_id: Option<String>,
        verify_pin: bool,
    },
    Resume(Option<String>),
    Cancel(String),
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Attempt {
    Pharmacy,
    Window {
        flow: Flow,
        citizen_id: Option<String>,
        verify_pin: bool,
    },
    Resume(Option<String>),
    Cancel(String),
}

impl Job {
    pub(super) fn first(&self) -> Attempt {
        match self {
            Job::Pharmacy => Attempt::Pharmacy,
            Job::Window {
                flow,
                citizen_id,
                verify_pin,
            } => Attempt::Window {
                flow: *flow,
                citizen_id: citizen_id.clone(),
                verify_pin: *verify_pin,
            },
            Job::Resume(id) => Attempt::Resume(id.clone()),
            Job::Cancel(id) => Attempt::Cancel(id.clone()),
        }
    }

    pub(super) fn title(&self) -> Text {
        match self {
            Job::Pharmacy => Text::FlowPharmacy,
            Job::Window {
                flow: Flow::FirstUse,
                ..
            } => Text::FlowFirstUse,
            Job::Window { .. } => Text::FlowWindow,
            Job::Resume(_) => Text::FlowResume,
            Job::Cancel(_) => Text::FlowCancel,
        }
    }

    pub(super) fn plan(&self, one_reader: bool) -> Plan {
        match self {
            Job::Pharmacy | Job::Resume(_) if one_reader => Plan::PharmacyOneReader,
            Job::Pharmacy | Job::Resume(_) => Plan::PharmacyTwoReaders,
            Job::Window {
                citizen_id,
                verify_pin,
                ..
            } => Plan::NewCardOnly {
                type_id: citizen_id.is_none(),
                verify_pin: *verify_pin,
            },
            Job::Cancel(_) => Plan::Cancel,
        }
    }

    /// What to run after a recoverable failure, or `None` when going on is not safe.
    /// `touched` are the unfinished journal entries this command created or changed.
    pub(super) fn next(&self, touched: &[journal::Entry]) -> Option<Attempt> {
        match self {
            Job::Pharmacy | Job::Resume(None) => Some(match touched {
                // The transfer of this run, past the freeze: continue it (from the old
                // card if it is in its reader, else with the new card).
                [one] if one.state >= journal::State::Frozen => {
                    Attempt::Resume(Some(one.id.clone()))
                }
                // Nothing journaled by this run: nothing was written to a card (the
                // freeze is announced before its first write), so start again.
                [] if matches!(self, Job::Pharmacy) => Attempt::Pharmacy,
                // Before the freeze, or unclear: the old card says where it stands.
                _ => Attempt::Resume(None),
            }),
            Job::Resume(Some(id)) => Some(Attempt::Resume(Some(id.clone()))),
            // Window and first use write no money; but once this run journaled an
            // activation, running again would start a second one: stop instead.
            Job::Window { .. } => touched.is_empty().then(|| self.first()),
            Job::Cancel(id) => Some(Attempt::Cancel(id.clone())),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A journal entry with only what recovery and the interrupt report look at.
    pub(in crate::cli::activate) fn entry(
        id: &str,
        flow: Flow,
        state: journal::State,
        updated_at: &str,
    ) -> journal::Entry {
        journal::Entry {
            id: id.into(),
            flow,
            state,
            terminal: String::new(),
            operator: String::new(),
            citizen_id: String::new(),
            holder_name: String::new(),
            old_card: None,
            new_card: None,
            account: None,
            category: None,
            balance_fen: None,
            counter: None,
            legacy: false,
            created_at: String::new(),
            updated_at: updated_at.into(),
        }
    }

    #[test]
    fn recovery_goes_on_only_where_it_is_safe() {
        let entry = |state| entry("AA", Flow::Pharmacy, state, "");
        use journal::State;
        assert_eq!(Job::Pharmacy.next(&[]), Some(Attempt::Pharmacy));
        assert_eq!(Job::Resume(None).next(&[]), Some(Attempt::Resume(None)));
        assert_eq!(
            Job::Pharmacy.next(&[entry(State::Freezing)]),
            Some(Attempt::Resume(None))
        );
        assert_eq!(
            Job::Pharmacy.next(&[entry(State::Crediting)]),
            Some(Attempt::Resume(Some("AA".into())))
        );
        let w = Job::Window {
            flow: Flow::Window,
            citizen_id: None,
            verify_pin: false,
        };
        assert!(matches!(w.next(&[]), Some(Attempt::Window { .. })));
        assert_eq!(w.next(&[entry(State::Crediting)]), None);
        assert_eq!(
            Job::Cancel("AA".into()).next(&[entry(State::Frozen)]),
            Some(Attempt::Cancel("AA".into()))
        );
    }
}
