//! Activation: the pharmacy dual insert, the window and first-use flows, the journal
//! and recovery (spec/activation.md).
//!
//! Why it is built this way:
//! - The holder's money must never be lost or spendable twice, whatever fails. The
//!   card writes are single records (atomic on the card) in an order that keeps the
//!   invariants after a fault at any APDU, and each write is announced in a journal
//!   that is on disk before the write is sent ([`journal`]).
//! - Recovery needs no state of this terminal: a frozen old card carries its transfer
//!   id, account and balance ([`recovery`]).
//! - The flows talk to people through a [`desk::Desk`] and to cards through
//!   [`session::Session`] (fields by role from the profile), so they hold neither
//!   screen text nor card layouts.

pub mod core;
pub mod desk;
pub mod error;
pub mod journal;
pub mod log_record;
pub mod model;
pub mod new_card;
pub mod pharmacy;
pub mod receipt;
pub mod recovery;
pub mod session;
pub mod slots;
pub mod window;

pub use error::ActivationError;
pub use pharmacy::{Context, Transfer};
