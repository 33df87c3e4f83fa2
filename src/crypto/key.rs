//! [`SecretKey`]: a 16-byte key that never shows itself and is wiped on drop.
//!
//! Card keys and master keys live for the whole run of a virtual card or a terminal
//! session. Keeping them in this type (rather than a bare `[u8; 16]`) gives two
//! guarantees in one place: the bytes are zeroed when the value is dropped, and
//! `Debug` prints `SecretKey(REDACTED)`, so a stray `{:?}` in a log line cannot leak
//! them.

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Algorithm;

/// A 16-byte key (3DES two-key or SM4), zeroed on drop and redacted in `Debug`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 16]);

impl SecretKey {
    /// Wraps key bytes. The caller should wipe its own copy (see [`super::wipe`]).
    pub fn new(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Parses a 32-digit hex string (upper or lower case). `None` when the text is
    /// not exactly 16 bytes of hex; the error says nothing about the content.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text.trim(), &mut bytes).ok()?;
        let key = Self(bytes);
        bytes.zeroize();
        Some(key)
    }

    /// The key bytes, for the cipher functions of [`crate::crypto`].
    pub fn bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Upper-case hex of the key: only for writing key files and card images.
    pub fn to_hex(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// Derives the card key from this master key (see [`super::diversify`]).
    pub fn diversify(&self, alg: Algorithm, d: &[u8; 8]) -> SecretKey {
        let mut k = super::diversify(alg, &self.0, d);
        let key = SecretKey(k);
        k.zeroize();
        key
    }

    /// Authentication cryptogram of `challenge` under this key (see
    /// [`super::cryptogram`]).
    pub fn cryptogram(&self, alg: Algorithm, challenge: &[u8; 8]) -> Vec<u8> {
        super::cryptogram(alg, &self.0, challenge)
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(REDACTED)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = SecretKey::new([0xAB; 16]);
        let s = format!("{k:?}");
        assert_eq!(s, "SecretKey(REDACTED)");
        assert!(!s.contains("AB") && !s.contains("ab"));
    }

    #[test]
    fn hex_round_trip_and_diversify() {
        let m = SecretKey::from_hex("0c0c0c0c0c0c0c0cc0c0c0c0c0c0c0c0").unwrap();
        assert_eq!(m.to_hex(), "0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0C0");
        let d = [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66];
        let k = m.diversify(Algorithm::Tdes, &d);
        assert_eq!(k.to_hex(), "ED3FDC48C5F05104AED73DE1D91BD1AE");
        assert!(SecretKey::from_hex("00").is_none());
        assert!(SecretKey::from_hex("zz0c0c0c0c0c0c0cc0c0c0c0c0c0c0c0").is_none());
    }
}
