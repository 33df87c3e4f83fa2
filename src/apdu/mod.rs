//! APDUs: typed commands and responses, status words, and the transport stack.
//!
//! Everything that reaches a card goes through one [`Transport`] (bytes in, bytes out).
//! Behaviour that every caller needs is a layer stacked on it rather than code repeated
//! at call sites: [`t0::T0Layer`] fetches `61xx` data and retries `6Cxx`,
//! [`trace::TraceLayer`] logs exchanges with secrets redacted, and
//! [`transcript::Recorder`] writes a dump that [`transcript::Replay`] plays back.
//! [`Channel`] builds the standard stack and speaks typed [`Command`]s.

pub mod atr;
pub mod catalogue;
pub mod channel;
pub mod class;
pub mod command;
pub mod hex_input;
pub mod redact;
pub mod response;
pub mod status;
pub mod t0;
pub mod tlv;
pub mod trace;
pub mod transcript;
pub mod transport;

pub use channel::Channel;
pub use command::Command;
pub use response::Response;
pub use status::Status;
pub use transport::{Transport, TransportError};
