//! Activation: the pharmacy dual insert, the window and first-use flows, resume and
//! cancel, the journal (spec/activation.md).
//!
//! Why it is built this way (issue 10):
//! - The protocol lives once, in [`core`]: a sans-IO state machine that takes what was
//!   read from the cards and the journal and returns the next action. The model
//!   checker runs the same code against in-memory cards.
//! - [`driver`] is the one thin driver that runs it against real cards (through a
//!   [`session::Session`] per card, fields by profile role), the [`journal`] (each card
//!   write only after the journal write announcing it is on disk: the core's
//!   `Announced` proof) and the [`desk::Desk`]; it also holds the one recovery policy
//!   ([`driver::recovery`]).
//! - The cards are the truth: a frozen old card carries its transfer id and the one
//!   new card N it is bound to, so any terminal can continue or cancel a transfer
//!   whose journal it never saw.

pub mod core;
pub mod desk;
pub mod driver;
pub mod error;
pub mod journal;
pub mod log_record;
pub mod model;
pub mod receipt;
pub mod session;
pub mod slots;

pub use driver::{Context, Outcome};
pub use error::ActivationError;
