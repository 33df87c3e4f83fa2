//! Errors of the virtual card: image files and the vpcd link.
//!
//! Card *commands* never produce these: a bad APDU gets a status word, as on a real
//! card. These are the failures an operator has to act on (a broken image file, no
//! vpcd listening), so each names the file and field or the address involved.

use std::io;
use std::path::PathBuf;

/// What can go wrong running a virtual card.
#[derive(Debug, thiserror::Error)]
pub enum VcardError {
    /// The image file could not be read.
    #[error("cannot read card image {}: {source}", file.display())]
    ReadImage {
        /// The image file.
        file: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The image file is not JSON of the image format (serde names the line, column
    /// and the unknown or malformed field).
    #[error("card image {} is malformed: {source}", file.display())]
    ParseImage {
        /// The image file.
        file: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// The image parses but is inconsistent (a bad length, a duplicate id, ...).
    #[error("card image {}: {field}: {reason}", file.display())]
    InvalidImage {
        /// The image file (`<memory>` for an image not read from a file).
        file: PathBuf,
        /// Path of the field, e.g. `mf/SSSE/DF04/EF08.record_size`.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// Writing the image back failed; the old image is still in place.
    #[error("cannot save card image {}: {source}", file.display())]
    SaveImage {
        /// The image file.
        file: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// vpcd did not accept a connection in time.
    #[error("no vpcd listening at {addr} after {secs} s (is pcscd running with the vpcd driver?): {source}")]
    Connect {
        /// host:port tried.
        addr: String,
        /// How long we retried.
        secs: u64,
        /// The last connection error.
        source: io::Error,
    },
    /// The host/port pair does not resolve.
    #[error("bad vpcd address {addr}: {reason}")]
    Address {
        /// host:port given.
        addr: String,
        /// Why it does not resolve.
        reason: String,
    },
    /// The APDU log (`--apdu-log`) cannot be opened.
    #[error("cannot open the APDU log {}: {source}", file.display())]
    ApduLog {
        /// The log file.
        file: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The vpcd link failed in a way that is not a card removal.
    #[error("vpcd link to {addr} failed: {source}")]
    Link {
        /// host:port.
        addr: String,
        /// The I/O error.
        source: io::Error,
    },
}
