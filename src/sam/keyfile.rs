//! Master keys from a file, for labs and tests (never on a real terminal).
//!
//! Format, one key per line, `#` comments:
//! ```text
//! ssc.0C = 0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0C0
//! city.0C = 1C1C1C1C1C1C1C1CC1C1C1C1C1C1C1C1
//! terminal = 639900000001        # optional terminal number
//! ```
//! The same master serves 3DES and SM4 (spec/cards.md §6). A file that group or
//! others may read or write is refused before it is opened: keys must not sit where
//! others can read them or plant their own. A line that is malformed, names an
//! unknown entry or repeats a key (or `terminal`) is refused with `PATH:LINE`; an
//! error never repeats the file's contents, not even part of a malformed line.

use super::{KeyApp, Sam, SamError};
use crate::crypto::{Algorithm, SecretKey};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Master keys loaded from a key file.
pub struct KeyFile {
    path: PathBuf,
    keys: HashMap<(KeyApp, u8), SecretKey>,
    terminal: Option<String>,
}

impl KeyFile {
    /// Loads a key file, refusing one that group or others may read or write
    /// ([`crate::secret::check_private_file`]).
    ///
    /// # Errors
    /// [`SamError::KeyFile`] for a missing, shared or malformed file. A malformed line
    /// is named as `PATH:LINE` with what was expected; nothing of the file's contents
    /// is repeated (a key may sit where a name was expected), except a key name once
    /// it has been checked to be one (`ssc.0C`).
    pub fn load(path: &Path) -> Result<KeyFile, SamError> {
        let err = |why: String| SamError::KeyFile {
            path: path.display().to_string(),
            why,
        };
        crate::secret::check_private_file(path).map_err(err)?;
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let at = |n: usize, why: String| SamError::KeyFile {
            path: format!("{}:{n}", path.display()),
            why,
        };
        let mut keys = HashMap::new();
        let mut first_line: HashMap<(KeyApp, u8), usize> = HashMap::new();
        let mut terminal = None;
        let mut terminal_line = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(at(
                    n,
                    "expected NAME = VALUE (ssc.KK = 32 hex digits)".into(),
                ));
            };
            let (name, value) = (name.trim(), value.trim());
            if name == "terminal" {
                if let Some(first) = terminal_line {
                    return Err(at(
                        n,
                        format!("a second `terminal` (first on line {first})"),
                    ));
                }
                if value.len() != 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(at(n, "terminal must be 12 digits".into()));
                }
                terminal = Some(value.to_string());
                terminal_line = Some(n);
                continue;
            }
            let Some((app, id)) = name.split_once('.') else {
                return Err(at(
                    n,
                    "unknown entry: a key is named ssc.KK or city.KK (KK: 2 hex digits); \
                     the only other entry is `terminal`"
                        .into(),
                ));
            };
            let Ok(app) = app.parse::<KeyApp>() else {
                return Err(at(
                    n,
                    "unknown application: a key is named ssc.KK or city.KK".into(),
                ));
            };
            let Ok([id]) = <[u8; 1] as hex::FromHex>::from_hex(id) else {
                return Err(at(
                    n,
                    "the key id (KK in ssc.KK) must be 2 hex digits".into(),
                ));
            };
            if let Some(first) = first_line.get(&(app, id)) {
                return Err(at(
                    n,
                    format!(
                        "a second entry for {}.{id:02X} (first on line {first}); which one \
                         is meant cannot be guessed",
                        app.name()
                    ),
                ));
            }
            let key = SecretKey::from_hex(value).ok_or_else(|| {
                // Where the typo is, never what it is.
                let why = match crate::apdu::hex_input::decode(value) {
                    Err(e) => format!(" ({})", e.hidden()),
                    Ok(b) => format!(" (this one has {} digits)", b.len() * 2),
                };
                at(n, format!("a key is 32 hex digits{why}"))
            })?;
            first_line.insert((app, id), n);
            keys.insert((app, id), key);
        }
        Ok(KeyFile {
            path: path.to_path_buf(),
            keys,
            terminal,
        })
    }
}

impl Sam for KeyFile {
    fn cryptogram(
        &mut self,
        app: KeyApp,
        key_id: u8,
        alg: Algorithm,
        diversifier: &[u8; 8],
        challenge: &[u8; 8],
    ) -> Result<Vec<u8>, SamError> {
        let master = self.keys.get(&(app, key_id)).ok_or(SamError::UnknownKey {
            app: app.name(),
            key_id,
            alg,
        })?;
        // The card key lives only for this call and is wiped when dropped.
        let card_key = master.diversify(alg, diversifier);
        Ok(card_key.cryptogram(alg, challenge))
    }

    fn terminal_number(&self) -> Option<String> {
        self.terminal.clone()
    }

    fn describe(&self) -> String {
        format!("key file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const TEST_KEYS: &str = include_str!("../../keys/test-keys.txt");

    fn write_keys(mode: u32) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.txt");
        std::fs::write(&path, TEST_KEYS).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn spec_vectors_through_the_key_file() {
        let (_d, path) = write_keys(0o600);
        let mut kf = KeyFile::load(&path).unwrap();
        let d: [u8; 8] = h("00BF7C7A48FB4966").try_into().unwrap();
        let r: [u8; 8] = h("0102030405060708").try_into().unwrap();
        let cases = [
            (KeyApp::Ssc, 0x0C, Algorithm::Tdes, "33C2C17134EC6D91"),
            (
                KeyApp::Ssc,
                0x0C,
                Algorithm::Sm4,
                "78A27CA74A058AD427CFF97C40A00CB4",
            ),
            (
                KeyApp::Ssc,
                0x0A,
                Algorithm::Sm4,
                "1E9F187FDDF4064AB2B9A63E0FA2F6A4",
            ),
            (KeyApp::Ssc, 0x06, Algorithm::Tdes, "D1A1B43755A78123"),
            (KeyApp::Ssc, 0x01, Algorithm::Tdes, "1FD71B7483CE1E01"),
        ];
        for (app, id, alg, want) in cases {
            assert_eq!(
                kf.cryptogram(app, id, alg, &d, &r).unwrap(),
                h(want),
                "{id:02X} {alg}"
            );
        }
        let dc: [u8; 8] = h("3939303030313233").try_into().unwrap();
        assert_eq!(
            kf.cryptogram(KeyApp::City, 0x0C, Algorithm::Tdes, &dc, &r)
                .unwrap(),
            h("92BBCCFA11E7B653")
        );
        assert_eq!(kf.terminal_number().as_deref(), Some("639900000001"));
        assert!(matches!(
            kf.cryptogram(KeyApp::City, 0x06, Algorithm::Tdes, &dc, &r),
            Err(SamError::UnknownKey { .. })
        ));
    }

    #[test]
    fn shared_files_are_refused() {
        // Read or write for group or others: every combination of those four bits.
        let mut tried = 0;
        for bits in 1..16u32 {
            let mode = 0o600
                | if bits & 1 != 0 { 0o040 } else { 0 }
                | if bits & 2 != 0 { 0o020 } else { 0 }
                | if bits & 4 != 0 { 0o004 } else { 0 }
                | if bits & 8 != 0 { 0o002 } else { 0 };
            let (_d, path) = write_keys(mode);
            let e = KeyFile::load(&path).err().expect("must be refused");
            assert!(
                e.to_string().contains("by group or others"),
                "{mode:o}: {e}"
            );
            tried += 1;
        }
        assert_eq!(tried, 15);
        for ok in [0o600, 0o400, 0o700] {
            let (_d, path) = write_keys(ok);
            assert!(KeyFile::load(&path).is_ok(), "{ok:o}");
        }
    }

    /// A key that must never appear in an error, whatever line it is put on.
    const SECRET: &str = "A1B2C3D4E5F60718293A4B5C6D7E8F90";

    #[test]
    fn malformed_files_name_the_line_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let cases: Vec<(String, &str)> = vec![
            (format!("ssc.0C {SECRET}\n"), "k:1: expected NAME = VALUE"),
            ("ssc.0C = 0011\n".into(), "k:1: a key is 32 hex digits"),
            (
                format!("ssc.0C = {}\n", &SECRET[..30]),
                "k:1: a key is 32 hex digits",
            ),
            (format!("ssc.0C = {SECRET}00\n"), "a key is 32 hex digits"),
            (
                format!("ssc.0C = {}３\n", &SECRET[..31]),
                "a key is 32 hex digits",
            ),
            (format!("bank.0C = {SECRET}\n"), "unknown application"),
            (format!("{SECRET}.0C = {SECRET}\n"), "unknown application"),
            (format!("\nssc.ZZ = {SECRET}\n"), "k:2: the key id"),
            (format!("ssc.C = {SECRET}\n"), "the key id"),
            (format!("ssc.+C = {SECRET}\n"), "the key id"),
            (format!("ssc.{SECRET} = 00\n"), "the key id"),
            (format!("{SECRET} = 00\n"), "unknown entry"),
            (format!("pin = {SECRET}\n"), "unknown entry"),
            (format!("= {SECRET}\n"), "unknown entry"),
            (
                format!("ssc.0C = {SECRET}\n# c\nssc.0c = {SECRET}\n"),
                "k:3: a second entry for ssc.0C (first on line 1)",
            ),
            (
                format!("SSC.0C = {SECRET}\nssc.0C = {SECRET}\n"),
                "k:2: a second entry for ssc.0C",
            ),
            (
                "terminal = 639900000001\nterminal = 639900000002\n".into(),
                "k:2: a second `terminal` (first on line 1)",
            ),
            (
                format!("terminal = {SECRET}\n"),
                "k:1: terminal must be 12 digits",
            ),
        ];
        for (text, want) in &cases {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = KeyFile::load(&path).err().expect(text).to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            for part in [&SECRET[..8], &SECRET[8..16], &SECRET[16..24], &SECRET[24..]] {
                assert!(!e.to_uppercase().contains(part), "{text:?} leaks: {e}");
            }
            assert!(!e.contains("0011"), "{e}");
        }
        assert_eq!(cases.len(), 18);
        let missing = KeyFile::load(&dir.path().join("nope")).err().unwrap();
        assert!(missing.to_string().contains("nope"));
    }
}
