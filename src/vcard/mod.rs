//! Virtual cards for the vpcd virtual reader (issue 2, point 5).
//!
//! Why the project has its own: the test suite and the demo must run on any Debian
//! machine without a card, and Debian's `vicc` does not work. A virtual card here is
//! an ISO 7816 card model driven by a JSON image (see `cards/README.md`), so the SSC,
//! CITY and PSAM profiles of `spec/cards.md` are data, not code, and a card keeps
//! what the terminal wrote to it across runs.
//!
//! One concern per file:
//! - [`capdu`]: parsing C-APDUs on the card side; the status words.
//! - `fs`: the file system (DFs by FID and AID, record and transparent EFs, SFIs).
//! - [`security`]: keys, PINs, try counters, access rules, volatile security state.
//! - [`engine`]: [`Card`], command processing and T=0 behaviour.
//! - `psam`: the PSAM's key derivation commands.
//! - [`image`]: the JSON image format, loading, atomic saving.
//! - [`vpcd`]: the connector to the vpcd reader driver.
//! - [`fault`]: fault injection (removal, mute, delays).
//! - [`timing`]: the real-card timing model (`--timing real-card`).
//! - [`inproc`]: an in-process [`Transport`](crate::apdu::Transport) with tear-off
//!   injection, for the fast test tier (no pcscd).
//! - [`malice`]: a malicious card (`--malice MODE`) that terminals must survive.
//! - [`front`]: a strict class check (`--strict-class`), scripted answers
//!   (`--answer`) and a log of the APDUs received (`--apdu-log`).
//! - [`error`]: the error type, [`VcardError`].
//!
//! In-process use (tests): `Card::load(path)?`, then `card.power_on()` and
//! `card.process(&apdu)`; no pcscd needed.

pub mod capdu;
pub mod engine;
pub mod error;
pub mod fault;
pub mod front;
mod fs;
pub mod image;
pub mod inproc;
pub mod malice;
mod psam;
pub mod security;
pub mod timing;
pub mod vpcd;

#[cfg(test)]
mod tests;

pub use engine::Card;
pub use error::VcardError;
pub use fault::FaultPlan;
pub use image::CardImage;
pub use vpcd::{serve, serve_with, VpcdConfig, WireBehaviour};
