//! Secrets in memory: PINs that print as `REDACTED` and are wiped on drop; and the one
//! rule for files that hold secrets.
//!
//! A PIN never comes from argv and never reaches a log; this type makes the second part
//! hard to get wrong: `Debug` and `Display` print `REDACTED`, and the digits are
//! zeroized when the value is dropped.
//!
//! Files with secrets (key files, PIN files, var files) are checked by one function,
//! [`check_private_file`], before they are read: a file that group or others may read
//! would show the secret to them, and one they may write would let them plant a key or
//! a PIN; both are refused. Files the tool writes that may hold card exchanges
//! (transcripts) are created owner-only by [`create_private`].

use std::fmt;
use std::path::Path;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The permission bits a secret file must not have: read or write for group or others.
pub const SHARED_BITS: u32 = 0o066;

/// Refuses a file holding secrets that group or others may read or write.
///
/// Returns the reason (with the `chmod` to run) for the caller to put in its own
/// error; the file's contents are never read here. On non-Unix systems nothing is
/// checked.
///
/// # Errors
/// The metadata cannot be read (missing file), or the mode has any of [`SHARED_BITS`].
pub fn check_private_file(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & SHARED_BITS != 0 {
            let what = match (mode & 0o044 != 0, mode & 0o022 != 0) {
                (true, true) => "readable and writable",
                (true, false) => "readable",
                _ => "writable",
            };
            return Err(format!(
                "{what} by group or others (mode {:o}); run `chmod 600 {}`",
                mode & 0o777,
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

/// Opens a file the tool writes card exchanges to, readable and writable by its owner
/// only (mode 0600): created so, or, when it exists already and is a regular file,
/// tightened to 0600 before anything is written (the previous bits may have let
/// others read what is about to be added). A file that is not a regular file (a
/// pipe, `/dev/stdout`) is used as it is: its permissions are not ours to change.
///
/// `append` adds to the end; otherwise the file is truncated.
///
/// # Errors
/// Opening the file or changing its mode fails.
pub fn create_private(path: &Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).write(true);
    if append {
        opts.append(true);
    } else {
        opts.truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let file = opts.open(path)?;
        let meta = file.metadata()?;
        if meta.is_file() && meta.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(file)
    }
    #[cfg(not(unix))]
    opts.open(path)
}

/// A 6-digit card PIN (spec/cards.md §1.3).
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    digits: [u8; 6],
}

/// Why a PIN was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// Not six decimal digits.
    #[error("a PIN is exactly 6 digits 0-9")]
    Format,
}

impl Pin {
    /// Parses six ASCII digits (surrounding white space, e.g. a newline, is ignored).
    pub fn parse(text: &str) -> Result<Pin, PinError> {
        let t = text.trim();
        if t.len() != 6 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinError::Format);
        }
        let mut digits = [0u8; 6];
        for (d, b) in digits.iter_mut().zip(t.bytes()) {
            *d = b - b'0';
        }
        Ok(Pin { digits })
    }

    /// Decodes 3 BCD bytes.
    pub fn from_bcd(bcd: &[u8]) -> Result<Pin, PinError> {
        if bcd.len() != 3 {
            return Err(PinError::Format);
        }
        let text = zeroize::Zeroizing::new(
            crate::bcd::decode(bcd, crate::bcd::Pad::None).ok_or(PinError::Format)?,
        );
        Pin::parse(&text)
    }

    /// The PIN as 3 BCD bytes, as VERIFY sends it.
    pub fn bcd(&self) -> [u8; 3] {
        let d = &self.digits;
        [(d[0] << 4) | d[1], (d[2] << 4) | d[3], (d[4] << 4) | d[5]]
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(REDACTED)")
    }
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_encodes() {
        let p = Pin::parse("135790\n").unwrap();
        assert_eq!(p.bcd(), [0x13, 0x57, 0x90]);
        assert_eq!(Pin::from_bcd(&[0x13, 0x57, 0x90]).unwrap(), p);
        assert_eq!(format!("{p:?} {p}"), "Pin(REDACTED) REDACTED");
    }

    #[test]
    fn shared_files_are_refused_and_private_ones_pass() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s");
        std::fs::write(&p, "x").unwrap();
        let mut tried = 0;
        for mode in 0o600..=0o677u32 {
            if mode & 0o011 != 0 {
                continue; // execute bits do not matter
            }
            tried += 1;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let r = check_private_file(&p);
            assert_eq!(r.is_ok(), mode & SHARED_BITS == 0, "{mode:o}: {r:?}");
            if let Err(e) = r {
                assert!(
                    e.contains("chmod 600") && e.contains("by group or others"),
                    "{e}"
                );
            }
        }
        assert_eq!(tried, 16);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o620)).unwrap();
        assert!(check_private_file(&p).unwrap_err().starts_with("writable"));
        assert!(check_private_file(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn exchange_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dump");
        drop(create_private(&p, false).unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&p), 0o600);
        for append in [false, true] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            drop(create_private(&p, append).unwrap());
            assert_eq!(mode(&p), 0o600, "append {append}");
        }
    }

    #[test]
    fn rejects_bad_pins() {
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(Pin::parse(bad), Err(PinError::Format), "{bad}");
        }
        assert!(Pin::from_bcd(&[0x1A, 0, 0]).is_err());
    }
}
