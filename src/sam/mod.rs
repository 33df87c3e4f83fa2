//! The SAM layer: where card cryptograms come from.
//!
//! Real PSAM command sets vary by vendor (spec/cards.md §3), so everything above this
//! layer asks one small question: "the cryptogram of this challenge under card key
//! (application, key id), diversified with D, for algorithm A". Two implementations
//! answer it: [`psam::Psam`], the terminal's PSAM in a reader, and
//! [`keyfile::KeyFile`], master keys in a file for labs and tests. Master keys never
//! leave the SAM; a key file's keys live in zeroized [`SecretKey`](crate::crypto::SecretKey)s.

pub mod keyfile;
pub mod psam;

use crate::crypto::Algorithm;

/// Which card family a key belongs to (the PSAM's application byte, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyApp {
    /// Social security card keys (PSAM app `01`).
    Ssc,
    /// Old city medical card keys (PSAM app `02`).
    City,
}

impl KeyApp {
    /// The PSAM application byte.
    pub fn id(self) -> u8 {
        match self {
            KeyApp::Ssc => 0x01,
            KeyApp::City => 0x02,
        }
    }

    /// The name used in key files (`ssc`, `city`).
    pub fn name(self) -> &'static str {
        match self {
            KeyApp::Ssc => "ssc",
            KeyApp::City => "city",
        }
    }
}

/// Why the SAM could not give a cryptogram.
#[derive(Debug, thiserror::Error)]
pub enum SamError {
    /// The key file cannot be read.
    #[error("key file {path}: {why}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong (never the key bytes).
        why: String,
    },
    /// The SAM does not hold this key.
    #[error("the SAM holds no {app} key {key_id:02X} for {alg}")]
    UnknownKey {
        /// Card family.
        app: &'static str,
        /// Key id.
        key_id: u8,
        /// Algorithm.
        alg: Algorithm,
    },
    /// The PSAM answered an error status.
    #[error("PSAM {step}: {status}")]
    PsamStatus {
        /// The command.
        step: &'static str,
        /// Its status word.
        status: crate::apdu::Status,
    },
    /// The PSAM answered malformed data.
    #[error("PSAM {0}")]
    PsamData(String),
    /// Talking to the PSAM failed.
    #[error("PSAM: {0}")]
    Transport(#[from] crate::apdu::TransportError),
}

/// A source of card cryptograms (spec/cards.md §1.4, §3).
pub trait Sam {
    /// The cryptogram of `challenge` under the card key (`app`, `key_id`) diversified
    /// with `diversifier`: 8 bytes for 3DES, 16 for SM4.
    fn cryptogram(
        &mut self,
        app: KeyApp,
        key_id: u8,
        alg: Algorithm,
        diversifier: &[u8; 8],
        challenge: &[u8; 8],
    ) -> Result<Vec<u8>, SamError>;

    /// The terminal number (12 BCD digits) this SAM belongs to, if it has one.
    fn terminal_number(&self) -> Option<String>;

    /// What this SAM is, for messages (`PSAM in <reader>`, `key file <path>`).
    fn describe(&self) -> String;
}
