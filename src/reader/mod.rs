//! The reader layer: PC/SC readers through pcscd, via the `pcsc` crate.
//!
//! Why it is shaped this way (notes/pcsc-vpcd.md has the measurements):
//! - Monitoring blocks its context in `SCardGetStatusChange`, so [`watch::Watcher`]
//!   owns a context of its own; commands use another. Waiting is always a blocking
//!   status-change call with a timeout, never sleep-and-poll.
//! - Dropping a `pcsc::Card` resets the card and wipes its security state, so
//!   [`card::PcscCard`] disconnects with `LeaveCard` on drop.
//! - The receive buffer is always the extended maximum: a small one fails *after* the
//!   card ran the command.
//! - Reader names are bytes ([`name::ReaderName`]): what `SCardListReaders` gives
//!   goes unchanged to `SCardConnect`, whatever its encoding (GBK names exist).
//! - pcsc errors become [`TransportError`](crate::apdu::TransportError) variants a
//!   user can act on (no daemon, unknown reader, no card, card removed).

pub mod card;
pub mod context;
pub mod error;
pub mod name;
pub mod select;
pub mod watch;

pub use card::{ConnectOptions, PcscCard};
pub use context::{establish, list_readers, ReaderInfo};
pub use name::{Charset, ReaderName};
pub use select::ReaderSelector;
pub use watch::{Event, Watcher};
