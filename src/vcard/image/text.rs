//! The text forms of an image's fields: hex bytes, a hex byte, an INS list, a hex
//! `u16`, a key, a PIN and an access condition, each a newtype that serde reads from and
//! writes to a string, with the field's checks on input.
//!
//! Why apart: these are the image's lexical layer; the structures in the parent say
//! what a card holds, these say how each value is spelled in the JSON.

use super::*;

/// Bytes written as a hex string (spaces allowed on input, upper case on output).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexBytes(pub Vec<u8>);

impl TryFrom<String> for HexBytes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::apdu::hex_input::decode(&s)
            .map(HexBytes)
            .map_err(|e| format!("expected hex bytes, got {s:?}: {e}"))
    }
}

impl From<HexBytes> for String {
    fn from(h: HexBytes) -> String {
        hex::encode_upper(h.0)
    }
}

impl std::fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", hex::encode_upper(&self.0))
    }
}

/// One byte written as two hex digits (`"0C"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexByte(pub u8);

impl TryFrom<String> for HexByte {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_hex_byte(&s)
            .map(HexByte)
            .ok_or_else(|| format!("expected one byte as 2 hex digits, got {s:?}"))
    }
}

impl From<HexByte> for String {
    fn from(h: HexByte) -> String {
        format!("{:02X}", h.0)
    }
}

/// A list of instruction bytes written as space-separated hex (`"A4 B2 C0"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InsList(pub Vec<u8>);

impl TryFrom<String> for InsList {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.split_whitespace()
            .map(parse_hex_byte)
            .collect::<Option<Vec<u8>>>()
            .map(InsList)
            .ok_or_else(|| format!("expected instruction bytes like \"A4 B2 C0\", got {s:?}"))
    }
}

impl From<InsList> for String {
    fn from(l: InsList) -> String {
        l.0.iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Two bytes written as four hex digits (`"3F00"`, `"6985"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexU16(pub u16);

impl TryFrom<String> for HexU16 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.len() != 4 {
            return Err(format!("expected 4 hex digits, got {s:?}"));
        }
        u16::from_str_radix(t, 16)
            .map(HexU16)
            .map_err(|_| format!("expected 4 hex digits, got {s:?}"))
    }
}

impl From<HexU16> for String {
    fn from(h: HexU16) -> String {
        format!("{:04X}", h.0)
    }
}

/// A 16-byte key as 32 hex digits. Errors never repeat the text (it may be a key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyHex(pub SecretKey);

impl TryFrom<String> for KeyHex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = Zeroizing::new(s);
        SecretKey::from_hex(&s)
            .map(KeyHex)
            .ok_or_else(|| "expected a 16-byte key as 32 hex digits".to_string())
    }
}

impl From<KeyHex> for String {
    fn from(k: KeyHex) -> String {
        k.0.to_hex()
    }
}

/// PIN digits; zeroized on drop, redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PinText(pub Zeroizing<String>);

impl TryFrom<String> for PinText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = Zeroizing::new(s);
        if valid_pin_digits(&s) {
            Ok(PinText(s))
        } else {
            Err("expected a PIN of 4 to 12 decimal digits".to_string())
        }
    }
}

impl From<PinText> for String {
    fn from(p: PinText) -> String {
        p.0.as_str().to_owned()
    }
}

impl std::fmt::Debug for PinText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinText(REDACTED)")
    }
}

/// An access rule in its image form (`"always"`, `"never"`, `"key:0C"`, `"pin:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessText(pub Access);

impl TryFrom<String> for AccessText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Access::parse(&s).map(AccessText).ok_or_else(|| {
            format!("expected \"always\", \"never\", \"key:KK\" or \"pin:PP\", got {s:?}")
        })
    }
}

impl From<AccessText> for String {
    fn from(a: AccessText) -> String {
        a.0.to_string()
    }
}
