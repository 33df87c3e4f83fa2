//! The activation protocol as one sans-IO state machine (issue 10; spec/activation.md).
//!
//! Why: the promise "the balance is never lost and never spendable twice" has to hold
//! across desks, journals and cards, and only a model checker can look at every
//! interleaving. So the protocol lives here once, free of I/O the way quinn-proto and
//! rustls keep theirs: [`Core::step`] takes what the driver did (field values read by
//! profile role, the genuineness check, EXTERNAL AUTHENTICATE's answer including
//! `63Cx`, journal entries, what the holder and operator entered) and returns the next
//! [`Action`] (a card operation by role, a journal write, a question) with the
//! [`Msg`]s to show, until [`End`]. The desk driver runs it against PC/SC cards and
//! the journal; the model checker (`activation::model`) runs the same code against
//! in-memory cards.
//!
//! - Journal before write, by types ([`proof`]): a [`CardWrite`] is built only from the
//!   [`Announced`] proof of the journal write that announces it.
//! - Messages are data ([`msg`]): the desk renders them (`ui::messages`).
//! - The core holds no PIN: the driver keeps PINs and tells the core only whether an
//!   entry was confirmed and whether it was `123456`.

mod machine;
pub mod msg;
pub mod proof;
pub mod types;

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) use machine::Mutation;
pub use machine::{
    Action, AuthOutcome, CardOp, Core, End, Env, Input, Next, PinEntry, PinOutcome, Rules, Session,
    Start,
};
pub use msg::{CardFault, Msg, Note, Prompt, Purpose, Receipt, Refusal, Step, Stop};
pub use proof::{announces, Announced, CardWrite, JournalWrite, LogAppend, PinSource, WriteOp};
pub use types::{
    CityRole, CityStatus, Date, FieldValue, Fields, Floor, Flow, JournalEntry, JournalState,
    KeyRole, LogHead, Readers, Role, SscRole, SscStatus, TransferData, TransferId, Which,
    LOG_ACTIVATION, LOG_TRANSFER_IN, LOG_VOID,
};
