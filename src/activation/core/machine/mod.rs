//! The state machine: [`Core`] takes what the driver did and returns what to do next.
//!
//! Why a replayed flow: the flows are written as straight-line code over an [`Io`]
//! that either returns the input already received for an action or suspends with that
//! action. The core's whole state is the flow it runs, its [`Env`] and the inputs it
//! received, so [`Core::step`] replays them through the flow and stops at the first
//! action without an answer. The code reads in the order of spec/activation.md, is
//! deterministic by construction (no I/O, no clock, no randomness: dates and random
//! bytes are in [`Env`]), and a `Core` clones, compares and hashes as plain data,
//! which is what the model checker needs. A flow has at most a few dozen actions,
//! so replaying is cheap next to one APDU.

use super::msg::{CardFault, Msg, Note, Prompt, Purpose, Receipt, Refusal, Step, Stop};
use super::proof::{Announced, CardWrite, JournalWrite, LogAppend, PinSource, WriteOp};
use super::types::{
    CityRole, CityStatus, Date, FieldValue, Fields, Floor, Flow, JournalEntry, JournalState,
    KeyRole, LogHead, Readers, Role, SscRole, SscStatus, TransferData, TransferId, Which,
    LOG_ACTIVATION, LOG_TRANSFER_IN, LOG_VOID,
};

mod cancel;
mod cards;
mod io;
mod pharmacy;
mod window;

use cancel::*;
use cards::*;
use io::*;
use pharmacy::*;
use window::*;

/// Old rules the model checker re-enables one at a time to prove it can find what
/// they broke (issue 10). Only test code can set one ([`Rules::spec`] is the only
/// public constructor), so the product always runs the spec's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rules {
    #[cfg(test)]
    pub(crate) mutation: Option<Mutation>,
}

/// The old rules (see [`Rules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Mutation {
    /// Cancel with the old card alone while the journal shows no credit.
    CancelWithOldCardAlone,
    /// The freeze binds no new card (tag 27 not written; N taken from the card presented).
    FreezeBindsNothing,
    /// The cancel writes no floor.
    CancelWritesNoFloor,
    /// The credit writes the transfer id last, and window ignores the balance.
    CreditIdLastWindowIgnoresBalance,
}

impl Rules {
    /// The rules of spec/activation.md.
    pub fn spec() -> Rules {
        Rules::default()
    }

    #[inline]
    fn broken(&self, m: Mutation) -> bool {
        #[cfg(test)]
        {
            self.mutation == Some(m)
        }
        #[cfg(not(test))]
        {
            let _ = m;
            false
        }
    }
}

/// What the desk gives a flow at its start. Dates and random bytes come in here:
/// the core reads no clock and draws no randomness.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Env {
    /// The terminal number (12 digits, the PSAM's).
    pub terminal: String,
    /// Today.
    pub today: Date,
    /// 12 random bytes for the transfer id.
    pub random: [u8; 12],
    /// How many readers the desk has.
    pub readers: Readers,
    /// Whether a person answers (a wrong PIN or a typo may be asked again).
    pub interactive: bool,
    /// Whether the operator allowed spending the old card's last PIN try.
    pub force_last_try: bool,
    /// The rules (always [`Rules::spec`] in the product).
    pub rules: Rules,
}

/// Which flow to run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Start {
    /// The pharmacy flow from the start (new card checked first).
    Pharmacy,
    /// `activate resume`: from the old card when it is present (or no entry is
    /// given), else from the journal entry with N.
    Resume {
        /// The journal entry asked for (`resume ID`).
        entry: Option<JournalEntry>,
        /// Whether an old card is in its reader.
        old_card_present: bool,
    },
    /// `activate cancel ID`.
    Cancel {
        /// The transfer.
        id: TransferId,
        /// This journal's entry for it, if any.
        entry: Option<JournalEntry>,
    },
    /// Bureau window.
    Window {
        /// The citizen ID typed on the command line (asked for when `None`).
        citizen_id: Option<String>,
        /// Let the holder verify the card's PIN.
        verify_pin: bool,
    },
    /// Hospital first use.
    FirstUse {
        /// Let the holder verify the card's PIN.
        verify_pin: bool,
    },
}

/// Whether a card operation continues the card's current session or opens a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Session {
    /// Wait for a card of this kind (in its reader) and open a new session.
    Fresh,
    /// The card read last for this [`Which`], still in its reader; if it left or
    /// was reset since, answer [`CardFault::Removed`].
    Same,
}

/// A card operation by profile role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CardOp {
    /// Read these roles (answer [`Input::Read`]).
    Read {
        /// The card.
        which: Which,
        /// New or current session.
        session: Session,
        /// The roles.
        roles: &'static [Role],
    },
    /// INTERNAL AUTHENTICATE with a fresh random challenge (answer [`Input::Genuine`]).
    CheckGenuine {
        /// The card.
        which: Which,
    },
    /// EXTERNAL AUTHENTICATE with this key (answer [`Input::Auth`]); the driver
    /// selects the key's DF first.
    Authenticate {
        /// The card.
        which: Which,
        /// The key.
        key: KeyRole,
    },
    /// Ask the holder for the PIN (`prompt`) and VERIFY it (answer [`Input::Pin`]).
    /// Without `spend_last_try`, answer [`PinOutcome::LastTryWithheld`] instead of
    /// verifying when the card has one try left.
    VerifyPin {
        /// The card.
        which: Which,
        /// The prompt.
        prompt: Prompt,
        /// Whether the last try may be spent.
        spend_last_try: bool,
    },
    /// A write (answer [`Input::Written`]).
    Write(CardWrite),
}

/// The next thing the driver must do.
#[derive(Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A card operation.
    Card(CardOp),
    /// Make this journal write durable, then answer [`Input::Journaled`] with
    /// [`JournalWrite::announced`] (or [`Input::JournalFailed`]).
    Journal(JournalWrite),
    /// Look up this journal's entry (answer [`Input::Entry`]).
    LookupJournal(TransferId),
    /// Ask the holder for a PIN (typed twice) and keep it (answer [`Input::PinEntered`]).
    AskPin(Prompt),
    /// Ask the operator for a line (answer [`Input::Line`]).
    AskLine(Prompt),
    /// The flow ended.
    End(End),
}

/// How a flow ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// Completed (pharmacy, resume, window, first use).
    Done(Receipt),
    /// The cancel completed: the old card is active again.
    Cancelled {
        /// The transfer.
        id: TransferId,
        /// The old card.
        old_card: String,
        /// N (voided), when known.
        new_card: Option<String>,
    },
    /// Refused; nothing was written for the refused operation.
    Refused(Refusal),
    /// Stopped for safety.
    Stopped(Stop),
}

/// The answer of EXTERNAL AUTHENTICATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthOutcome {
    /// `9000`.
    Ok,
    /// `63Cx`.
    WrongKey {
        /// Tries left.
        tries_left: u8,
    },
    /// `6983`.
    Blocked,
}

/// The answer of a PIN verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinOutcome {
    /// Verified; `initial` when the PIN is `123456`.
    Ok {
        /// The PIN is `123456`.
        initial: bool,
    },
    /// Wrong (`63Cx`).
    Wrong {
        /// Tries left.
        left: u8,
    },
    /// Blocked (`6983`).
    Blocked,
    /// One try left and not allowed to spend it: not verified.
    LastTryWithheld,
    /// The card refuses VERIFY (`6985`: frozen or migrated).
    CardRefuses,
    /// No PIN came (input closed).
    NoInput,
}

/// The answer to [`Action::AskPin`]. The PIN stays with the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinEntry {
    /// Entered twice.
    Entered {
        /// The two entries match.
        confirmed: bool,
        /// The PIN is `123456`.
        initial: bool,
    },
    /// No PIN came.
    NoInput,
}

/// What the driver did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Values by role.
    Read(Fields),
    /// INTERNAL AUTHENTICATE verified.
    Genuine(bool),
    /// EXTERNAL AUTHENTICATE answered.
    Auth(AuthOutcome),
    /// The PIN verification's outcome.
    Pin(PinOutcome),
    /// The write succeeded (`9000`).
    Written,
    /// The journal write is durable.
    Journaled(Announced),
    /// The journal write failed.
    JournalFailed,
    /// This journal's entry.
    Entry(Option<JournalEntry>),
    /// A PIN was entered.
    PinEntered(PinEntry),
    /// A typed line; `None` when input is closed.
    Line(Option<String>),
    /// The card operation failed.
    Fault(CardFault),
}

/// One step's output: messages to show, then the action.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Next {
    /// Messages, in order.
    pub show: Vec<Msg>,
    /// The action.
    pub action: Action,
}

/// One run of one flow (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Core {
    env: Env,
    start: Start,
    inputs: Vec<Input>,
    ended: bool,
}

impl Core {
    /// A flow about to start; call [`Core::step`] with `None` first.
    pub fn new(env: Env, start: Start) -> Core {
        Core {
            env,
            start,
            inputs: Vec::new(),
            ended: false,
        }
    }

    /// The flow.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// How many inputs the flow received.
    pub fn inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Feeds the answer to the last action (`None` on the first call, and to repeat
    /// the last output) and returns what to do next. After [`Action::End`] every
    /// call returns the same end.
    pub fn step(&mut self, input: Option<Input>) -> Next {
        if let Some(i) = input {
            if !self.ended {
                self.inputs.push(i);
            }
        }
        let mut io = Io {
            env: &self.env,
            inputs: &self.inputs,
            pos: 0,
            show: Vec::new(),
            jseq: 0,
            last_proof: None,
            journal: None,
        };
        let exit = match run(&mut io, &self.start) {
            Ok(end) => Exit::End(end),
            Err(e) => *e,
        };
        let action = match exit {
            Exit::Suspend(a) => a,
            Exit::End(e) => {
                self.ended = true;
                Action::End(e)
            }
        };
        Next {
            show: io.show,
            action,
        }
    }

    /// The output of the last step again (what to do now), without feeding anything.
    pub fn peek(&self) -> Next {
        let mut io = Io {
            env: &self.env,
            inputs: &self.inputs,
            pos: 0,
            show: Vec::new(),
            jseq: 0,
            last_proof: None,
            journal: None,
        };
        let action = match run(&mut io, &self.start) {
            Ok(end) => Action::End(end),
            Err(e) => match *e {
                Exit::Suspend(a) => a,
                Exit::End(e) => Action::End(e),
            },
        };
        Next {
            show: io.show,
            action,
        }
    }

    /// Whether the flow ended.
    pub fn ended(&self) -> bool {
        self.ended
    }
}
