//! Master keys from a file, for labs and tests (never on a real terminal).
//!
//! Format, one key per line, `#` comments:
//! ```text
//! ssc.0C = 0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0C0
//! city.0C = 1C1C1C1C1C1C1C1CC1C1C1C1C1C1C1C1
//! terminal = 639900000001        # optional terminal number
//! ```
//! The same master serves 3DES and SM4 (spec/cards.md §6). A file that group or
//! others may read is refused before it is opened: keys must not sit in a world-
//! readable file. Errors name the file and line, never a key byte.

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
    /// Loads a key file, refusing one readable by group or others.
    pub fn load(path: &Path) -> Result<KeyFile, SamError> {
        let err = |why: String| SamError::KeyFile {
            path: path.display().to_string(),
            why,
        };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if mode & 0o044 != 0 {
                return Err(err(format!(
                    "readable by group or others (mode {:o}); run `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        let text =
            zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?);
        let mut keys = HashMap::new();
        let mut terminal = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (name, value) = line
                .split_once('=')
                .ok_or_else(|| err(format!("line {n}: expected NAME = VALUE")))?;
            let (name, value) = (name.trim(), value.trim());
            if name == "terminal" {
                if value.len() != 12 || !value.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err(format!("line {n}: terminal must be 12 digits")));
                }
                terminal = Some(value.to_string());
                continue;
            }
            let (app, id) = name
                .split_once('.')
                .ok_or_else(|| err(format!("line {n}: key name must be ssc.KK or city.KK")))?;
            let app = match app.to_ascii_lowercase().as_str() {
                "ssc" => KeyApp::Ssc,
                "city" => KeyApp::City,
                _ => return Err(err(format!("line {n}: unknown application '{app}'"))),
            };
            let id = u8::from_str_radix(id, 16)
                .map_err(|_| err(format!("line {n}: key id must be 2 hex digits")))?;
            let key = SecretKey::from_hex(value)
                .ok_or_else(|| err(format!("line {n}: a key is 32 hex digits")))?;
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
    fn group_or_world_readable_file_is_refused() {
        for mode in [0o640, 0o604, 0o644] {
            let (_d, path) = write_keys(mode);
            let e = KeyFile::load(&path).err().expect("must be refused");
            assert!(e.to_string().contains("readable by group or others"), "{e}");
        }
    }

    #[test]
    fn malformed_files_name_the_line_not_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        for (text, want) in [
            ("ssc.0C 00112233\n", "line 1"),
            ("ssc.0C = 0011\n", "32 hex digits"),
            (
                "bank.0C = 00112233445566778899AABBCCDDEEFF\n",
                "unknown application",
            ),
            ("\nssc.ZZ = 00112233445566778899AABBCCDDEEFF\n", "line 2"),
        ] {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let e = KeyFile::load(&path).err().unwrap().to_string();
            assert!(e.contains(want), "{e}");
            assert!(!e.contains("0011"), "{e}");
        }
        let missing = KeyFile::load(&dir.path().join("nope")).err().unwrap();
        assert!(missing.to_string().contains("nope"));
    }
}
