//! The text forms of an image's fields: hex bytes, a hex byte, an INS list, a hex
//! `u16`, a key, a PIN and an access condition, each a newtype that serde reads from and
//! writes to a string, with the field's checks on input.
//!
//! Why apart: these are the image's lexical layer; the structures in the parent say
//! what a card holds, these say how each value is spelled in the JSON.

use super::*;
use hex::FromHex;

/// Exactly `N` bytes as `2N` hex digits (surrounding spaces ignored), decoded by the
/// hex crate's `FromHex`, the decoder its `hex::serde` is built on, so the width is
/// checked by the type, as the card profiles do (`profile::model`). The error names
/// the expected width and the text, so a bad image says which value is wrong
/// (serde_json adds the line and column).
fn fixed<const N: usize>(text: &str, width: &str) -> Result<[u8; N], String>
where
    [u8; N]: FromHex<Error = hex::FromHexError>,
{
    <[u8; N]>::from_hex(text.trim())
        .map_err(|e| format!("expected {width} in hex, got {text:?}: {e}"))
}

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
        fixed::<1>(&s, "one byte (2 digits)").map(|[b]| HexByte(b))
    }
}

impl From<HexByte> for String {
    fn from(h: HexByte) -> String {
        hex::encode_upper([h.0])
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
            .map(|t| fixed::<1>(t, "one byte (2 digits)").map(|[b]| b))
            .collect::<Result<Vec<u8>, String>>()
            .map(InsList)
            .map_err(|e| format!("expected instruction bytes like \"A4 B2 C0\", got {s:?}: {e}"))
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
        fixed::<2>(&s, "two bytes (4 digits)").map(|b| HexU16(u16::from_be_bytes(b)))
    }
}

impl From<HexU16> for String {
    fn from(h: HexU16) -> String {
        hex::encode_upper(h.0.to_be_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn de<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
        serde_json::from_str(&format!("{text:?}")).map_err(|e| e.to_string())
    }

    #[test]
    fn fixed_width_hex_is_read_by_the_hex_crate_and_written_upper_case() {
        assert_eq!(de::<HexByte>("0c"), Ok(HexByte(0x0C)));
        assert_eq!(de::<HexByte>(" 0C "), Ok(HexByte(0x0C)));
        assert_eq!(de::<HexU16>("3f00"), Ok(HexU16(0x3F00)));
        assert_eq!(
            de::<InsList>("A4 b2  C0"),
            Ok(InsList(vec![0xA4, 0xB2, 0xC0]))
        );
        assert_eq!(serde_json::to_string(&HexByte(0x0C)).unwrap(), "\"0C\"");
        assert_eq!(serde_json::to_string(&HexU16(0x6985)).unwrap(), "\"6985\"");
        assert_eq!(
            serde_json::to_string(&InsList(vec![0xA4, 0x0B])).unwrap(),
            "\"A4 0B\""
        );
    }

    #[test]
    fn a_bad_value_names_the_width_and_the_text() {
        for (bad, width) in [("0G", "one byte"), ("0C0D", "one byte"), ("", "one byte")] {
            let e = de::<HexByte>(bad).unwrap_err();
            assert!(
                e.contains(width) && e.contains(&format!("{bad:?}")),
                "{bad}: {e}"
            );
        }
        for bad in ["3F0", "3F000", "3FZZ", "-3F0"] {
            let e = de::<HexU16>(bad).unwrap_err();
            assert!(
                e.contains("two bytes (4 digits)") && e.contains(&format!("{bad:?}")),
                "{bad}: {e}"
            );
        }
        let e = de::<InsList>("A4 ZZ").unwrap_err();
        assert!(e.contains("\"A4 ZZ\"") && e.contains("one byte"), "{e}");
    }
}
