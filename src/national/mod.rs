//! The national card-reader interface (`iReadCardBas` and friends) as a Rust API,
//! independent of how it is called.
//!
//! Desk systems (HIS, pharmacy and insurance software) call a vendor driver with the
//! functions of the national terminal interface (docs/spec/national-interface.md): a
//! C library for desktop programs, a loopback service for browser-based ones. Both
//! front ends of sscard (the `libsscard.so` of `ffi/`, and the service) answer from
//! this one module, so the lines, return codes and APDU sequences cannot differ
//! between them:
//!
//! - [`error`]: the return codes as one typed enum, and the one place every card,
//!   reader, SAM and PIN failure is sorted into a code;
//! - [`line`](mod@line): the basic line, the HSM Step1 line and the `pKey` (field order and
//!   separators in one place; GBK for the C side);
//! - [`read`]: the card side, through the card layer ([`crate::card`]), sending only
//!   the records the lines need;
//! - [`pin`]: the PIN functions and the desk's PIN device;
//! - [`desk`]: reader, PSAM and keys from the desk configuration; [`National`], the
//!   five functions and first use;
//! - [`first_use`]: first use driven by the HIS (`iActivateCard_FirstUse`), on the
//!   desk's activation core and journal.
//!
//! ```no_run
//! let mut n = sscard::national::National::from_environment()?;
//! match n.read_card_bas(3) {
//!     Ok(line) => println!("{line}"),
//!     Err(f) => eprintln!("{} ({})", f.error.message_en(), f.code()),
//! }
//! # Ok::<(), sscard::national::Failure>(())
//! ```

pub mod desk;
pub mod error;
pub mod first_use;
pub mod line;
pub mod pin;
pub mod read;

pub use desk::{IType, National, PinSource, Settings};
pub use error::{Failure, NationalError};
pub use first_use::Activated;
pub use line::{gbk, BasicInfo, HsmKey, Step1Info, NO_TERMINAL};
