//! Secrets in memory: PINs that print as `REDACTED` and are wiped on drop.
//!
//! A PIN never comes from argv and never reaches a log; this type makes the second part
//! hard to get wrong: `Debug` and `Display` print `REDACTED`, and the digits are
//! zeroized when the value is dropped.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

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
        let mut digits = [0u8; 6];
        for (i, b) in bcd.iter().enumerate() {
            let (hi, lo) = (b >> 4, b & 0x0F);
            if hi > 9 || lo > 9 {
                return Err(PinError::Format);
            }
            digits[2 * i] = hi;
            digits[2 * i + 1] = lo;
        }
        Ok(Pin { digits })
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
    fn rejects_bad_pins() {
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(Pin::parse(bad), Err(PinError::Format), "{bad}");
        }
        assert!(Pin::from_bcd(&[0x1A, 0, 0]).is_err());
    }
}
