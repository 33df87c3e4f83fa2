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
///
/// Its lower-case name (`ssc`, `city`) is the one key files and profiles
/// (`key_app`) use; strum and serde derive both directions from the variant names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", ascii_case_insensitive)]
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

    /// The name used in key files and profiles (`ssc`, `city`).
    pub fn name(self) -> &'static str {
        self.into()
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

    /// APDUs sent to it so far, for a SAM that is a card (`None` for a key file).
    fn apdu_count(&self) -> Option<u64> {
        None
    }
}

/// Opens the SAM the options or the configuration name: the key file when one is
/// given (labs and tests), else the PSAM in the reader `psam` selects; `Ok(None)`
/// when neither is. The one way every command opens a SAM (`info`, `activate`,
/// `script`), so they agree on which wins and on the errors.
///
/// # Errors
/// [`SamError::KeyFile`] for a key file that is missing, shared or malformed;
/// [`SamError::Transport`] when the PSAM's reader cannot be reached or is empty (the
/// caller keeps that failure's own exit code); [`SamError::PsamStatus`] or
/// [`SamError::PsamData`] when the card there is not a usable PSAM.
pub fn open(
    keys: Option<&std::path::Path>,
    psam: Option<&crate::reader::ReaderSelector>,
) -> Result<Option<Box<dyn Sam>>, SamError> {
    Ok(match (keys, psam) {
        (Some(path), _) => Some(Box::new(keyfile::KeyFile::load(path)?)),
        (None, Some(selector)) => Some(Box::new(psam::Psam::open_in_reader(selector)?)),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::ReaderSelector;

    #[test]
    fn key_app_names_round_trip() {
        use strum::IntoEnumIterator;
        for app in KeyApp::iter() {
            assert_eq!(app.name().parse::<KeyApp>().unwrap(), app);
            assert_eq!(app.name().to_uppercase().parse::<KeyApp>().unwrap(), app);
            let json: KeyApp = serde_json::from_str(&format!("\"{}\"", app.name())).unwrap();
            assert_eq!(json, app);
        }
        assert_eq!(KeyApp::City.name(), "city");
        assert!("psam".parse::<KeyApp>().is_err());
    }

    #[test]
    fn the_key_file_wins_and_nothing_is_none() {
        assert!(open(None, None).unwrap().is_none());
        let missing = std::path::Path::new("/nonexistent/sscard-keys.txt");
        // With a key file given, the PSAM's reader is never looked at.
        let psam = ReaderSelector::Exact("no such reader".into());
        let e = open(Some(missing), Some(&psam)).err().unwrap();
        assert!(matches!(e, SamError::KeyFile { .. }), "{e}");

        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, include_str!("../../keys/test-keys.txt")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let sam = open(Some(&path), Some(&psam)).unwrap().unwrap();
        assert!(sam.describe().contains("key file"), "{}", sam.describe());
        assert_eq!(sam.apdu_count(), None);
    }
}
