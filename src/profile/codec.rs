//! Field values: decoding card bytes and encoding values back into records.
//!
//! Card data is untrusted: every decoder checks the bytes and returns a
//! [`FieldError`] naming the field rather than guessing or panicking. Text follows the
//! trimming rule of spec/cards.md ("the reader trims trailing `00`, `20` and `FF`"),
//! which is safe for GBK because none of those bytes can be the second byte of a GBK
//! character (trail bytes are `40`..`FE`, never `7F`). Encoding is the reverse with the
//! field's pad byte, and insists on the exact length the card expects, since an UPDATE
//! RECORD with another length is refused by the card (`6700`) or, worse, accepted by a
//! lax one.

use super::error::FieldError;
use super::model::{Encoding, Field};
use std::fmt;

/// A calendar date (no time zone: the cards store local dates).
pub type Date = chrono::NaiveDate;

/// A decoded field value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes (`binary`, and `ascii_or_hex` when not printable).
    Bytes(Vec<u8>),
    /// Text (`ascii`, `ascii_or_hex`, `gbk`), trimmed.
    Text(String),
    /// Decimal digits (`bcd`), without the `F` padding.
    Digits(String),
    /// A date (`bcd_date`); `None` for `00000000`.
    Date(Option<Date>),
    /// An unsigned number (`u32be`).
    Number(u32),
    /// A one-byte code (`code`).
    Code(u8),
}

impl Value {
    /// The text of a `Text` or `Digits` value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Digits(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    /// Technician's view: hex for bytes and codes, `YYYYMMDD` for dates.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bytes(b) => f.write_str(&hex::encode_upper(b)),
            Value::Text(s) | Value::Digits(s) => f.write_str(s),
            Value::Date(Some(d)) => write!(f, "{}", d.format("%Y%m%d")),
            Value::Date(None) => f.write_str("00000000"),
            Value::Number(n) => write!(f, "{n}"),
            Value::Code(c) => write!(f, "{c:02X}"),
        }
    }
}

/// Bytes the text trimming rule removes from the end.
fn is_pad(b: u8) -> bool {
    matches!(b, 0x00 | 0x20 | 0xFF)
}

/// `bytes` without trailing `00`, `20` and `FF`.
pub fn trim_text(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|b| !is_pad(*b)).map_or(0, |p| p + 1);
    &bytes[..end]
}

fn printable_ascii(bytes: &[u8]) -> Option<String> {
    bytes
        .iter()
        .all(|b| (0x20..0x7F).contains(b))
        .then(|| bytes.iter().map(|&b| char::from(b)).collect())
}

/// Decodes GBK strictly: `None` for malformed bytes or control characters.
pub fn decode_gbk(bytes: &[u8]) -> Option<String> {
    let text = encoding_rs::GBK.decode_without_bom_handling_and_without_replacement(bytes)?;
    (!text.chars().any(char::is_control)).then(|| text.into_owned())
}

/// Encodes text as GBK; `None` when a character has no GBK form.
pub fn encode_gbk(text: &str) -> Option<Vec<u8>> {
    let (bytes, _, had_errors) = encoding_rs::GBK.encode(text);
    (!had_errors).then(|| bytes.into_owned())
}

/// BCD nibbles as digits; trailing `F` nibbles are padding. `None` for another
/// non-decimal nibble.
pub fn decode_bcd(bytes: &[u8]) -> Option<String> {
    crate::bcd::decode(bytes, crate::bcd::Pad::TrailingF)
}

/// Decodes a BCD `YYYYMMDD` date: `Ok(None)` for all zeros.
pub fn decode_bcd_date(bytes: &[u8]) -> Result<Option<Date>, String> {
    if bytes.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let digits = decode_bcd(bytes)
        .filter(|d| d.len() == 8)
        .ok_or_else(|| format!("{} is not a BCD date YYYYMMDD", hex::encode_upper(bytes)))?;
    parse_yyyymmdd(&digits)
        .map(Some)
        .ok_or_else(|| format!("{digits} is not a calendar date"))
}

/// Parses `YYYYMMDD`.
pub fn parse_yyyymmdd(digits: &str) -> Option<Date> {
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y = digits.get(0..4)?.parse().ok()?;
    let m = digits.get(4..6)?.parse().ok()?;
    let d = digits.get(6..8)?.parse().ok()?;
    Date::from_ymd_opt(y, m, d)
}

/// Decodes the value bytes of `field`.
pub fn decode(field: &Field, value: &[u8]) -> Result<Value, FieldError> {
    if value.len() != field.len {
        return Err(field.error(format!(
            "{} bytes; the profile says {}",
            value.len(),
            field.len
        )));
    }
    Ok(match field.encoding {
        Encoding::Binary => Value::Bytes(value.to_vec()),
        Encoding::Ascii => {
            let t = trim_text(value);
            Value::Text(printable_ascii(t).ok_or_else(|| {
                field.error(format!(
                    "{} is not printable ASCII",
                    hex::encode_upper(value)
                ))
            })?)
        }
        Encoding::AsciiOrHex => match printable_ascii(trim_text(value)) {
            Some(s) => Value::Text(s),
            None => Value::Bytes(value.to_vec()),
        },
        Encoding::Gbk => Value::Text(decode_gbk(trim_text(value)).ok_or_else(|| {
            field.error(format!(
                "{} is not valid GBK text",
                hex::encode_upper(value)
            ))
        })?),
        Encoding::Bcd => Value::Digits(decode_bcd(value).ok_or_else(|| {
            field.error(format!("{} is not BCD digits", hex::encode_upper(value)))
        })?),
        Encoding::BcdDate => Value::Date(decode_bcd_date(value).map_err(|e| field.error(e))?),
        Encoding::U32be => {
            if value.len() > 4 {
                return Err(field.error("more than 4 bytes for a number"));
            }
            Value::Number(value.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
        }
        Encoding::Code => match value {
            [c] => Value::Code(*c),
            _ => return Err(field.error("a code is one byte")),
        },
    })
}

fn pad_to(field: &Field, mut bytes: Vec<u8>, default_pad: u8) -> Result<Vec<u8>, FieldError> {
    if bytes.len() > field.len {
        return Err(field.error(format!(
            "{} bytes do not fit in {} bytes",
            bytes.len(),
            field.len
        )));
    }
    bytes.resize(field.len, field.pad.unwrap_or(default_pad));
    Ok(bytes)
}

fn mismatch(field: &Field, value: &Value) -> FieldError {
    field.error(format!(
        "a {} field cannot hold {value:?}",
        field.encoding.name()
    ))
}

/// Encodes `value` as exactly [`Field::len`] value bytes.
pub fn encode(field: &Field, value: &Value) -> Result<Vec<u8>, FieldError> {
    match (field.encoding, value) {
        (Encoding::Binary | Encoding::AsciiOrHex, Value::Bytes(b)) => {
            if b.len() != field.len {
                return Err(field.error(format!(
                    "{} bytes; exactly {} needed",
                    b.len(),
                    field.len
                )));
            }
            Ok(b.clone())
        }
        (Encoding::Ascii | Encoding::AsciiOrHex, Value::Text(s) | Value::Digits(s)) => {
            let bytes = s.as_bytes();
            if printable_ascii(bytes).is_none() {
                return Err(field.error(format!("{s:?} is not printable ASCII")));
            }
            pad_to(field, bytes.to_vec(), 0x00)
        }
        (Encoding::Gbk, Value::Text(s)) => {
            if s.chars().any(char::is_control) {
                return Err(field.error("text with control characters"));
            }
            let bytes =
                encode_gbk(s).ok_or_else(|| field.error(format!("{s:?} has no GBK form")))?;
            pad_to(field, bytes, 0x00)
        }
        (Encoding::Bcd, Value::Digits(s) | Value::Text(s)) => {
            if !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(field.error(format!("{s:?} is not decimal digits")));
            }
            let pad = field.pad.unwrap_or(0xFF) & 0x0F;
            crate::bcd::encode_fixed(s, field.len, pad).map_err(|e| field.error(e.to_string()))
        }
        (Encoding::BcdDate, Value::Date(d)) => {
            let digits = match d {
                None => "00000000".to_string(),
                Some(d) => {
                    let s = d.format("%Y%m%d").to_string();
                    if s.len() != 8 || !s.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(field.error(format!("{d} has no 8-digit form")));
                    }
                    s
                }
            };
            let bytes = crate::bcd::encode(&digits, crate::bcd::Pad::None)
                .map_err(|e| field.error(e.to_string()))?;
            pad_to(field, bytes, 0x00)
        }
        (Encoding::U32be, Value::Number(n)) => {
            let all = n.to_be_bytes();
            let skip = 4usize.saturating_sub(field.len);
            if all[..skip].iter().any(|b| *b != 0) || field.len > 4 {
                return Err(field.error(format!("{n} does not fit in {} bytes", field.len)));
            }
            Ok(all[skip..].to_vec())
        }
        (Encoding::Code, Value::Code(c)) => pad_to(field, vec![*c], 0x00),
        _ => Err(mismatch(field, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;

    fn field(role: &str) -> Field {
        Profiles::builtin()
            .unwrap()
            .get("ssc")
            .unwrap()
            .field(role)
            .unwrap()
            .clone()
    }

    #[test]
    fn trimming_rule() {
        assert_eq!(trim_text(b"AB \x00\xFF"), b"AB");
        assert_eq!(trim_text(b"\x00\x00"), b"");
        assert_eq!(trim_text(b" A"), b" A");
    }

    #[test]
    fn gbk_name_with_padding() {
        let f = field("name");
        let mut v = vec![0xD5, 0xC5, 0xC8, 0xFD];
        v.resize(30, 0);
        assert_eq!(f.decode(&v).unwrap(), Value::Text("张三".into()));
        assert_eq!(f.encode(&Value::Text("张三".into())).unwrap()[2..], v[..]);
        // Extension: FF-padded, empty.
        let ext = field("name_ext");
        assert_eq!(ext.decode(&[0xFF; 20]).unwrap(), Value::Text(String::new()));
        assert_eq!(
            ext.encode(&Value::Text(String::new())).unwrap()[2..],
            [0xFF; 20]
        );
    }

    #[test]
    fn invalid_gbk_and_controls_are_errors() {
        let f = field("name");
        let mut v = vec![0xD5, 0x20, 0x41];
        v.resize(30, 0);
        assert!(f
            .decode(&v)
            .unwrap_err()
            .to_string()
            .contains("not valid GBK"));
        let mut v = b"A\x01B".to_vec();
        v.resize(30, 0);
        assert!(f.decode(&v).is_err());
        // A lone lead byte at the end.
        let mut v = vec![0x41, 0x81];
        v.resize(30, 0);
        assert!(f.decode(&v).is_err());
    }

    #[test]
    fn bcd_and_dates() {
        assert_eq!(decode_bcd(&[0x63, 0x99, 0x00]).as_deref(), Some("639900"));
        assert_eq!(decode_bcd(&[0x63, 0x9F, 0xFF]).as_deref(), Some("639"));
        assert_eq!(decode_bcd(&[0x6A]), None);
        assert_eq!(decode_bcd(&[0xF1]), None);
        let d = field("issue_date");
        assert_eq!(
            d.decode(&[0x20, 0x26, 0x06, 0x01]).unwrap(),
            Value::Date(Date::from_ymd_opt(2026, 6, 1))
        );
        assert_eq!(d.decode(&[0, 0, 0, 0]).unwrap(), Value::Date(None));
        assert!(d.decode(&[0x20, 0x26, 0x02, 0x30]).is_err());
        assert!(d.decode(&[0x20, 0x26, 0x0A, 0x01]).is_err());
        let rec = d
            .encode(&Value::Date(Date::from_ymd_opt(2026, 6, 1)))
            .unwrap();
        assert_eq!(rec, [0x05, 0x04, 0x20, 0x26, 0x06, 0x01]);
        let t = field("activation_terminal");
        let rec = t.encode(&Value::Digits("639900000001".into())).unwrap();
        assert_eq!(hex::encode_upper(&rec), "2506639900000001");
        assert!(t.encode(&Value::Digits("6399000000012".into())).is_err());
        let b = field("birthplace");
        assert_eq!(
            hex::encode_upper(b.encode(&Value::Digits("6399".into())).unwrap()),
            "0C036399FF"
        );
    }

    #[test]
    fn numbers_codes_and_lengths() {
        let f = field("balance");
        assert_eq!(
            f.decode(&[0, 1, 0xE2, 0x40]).unwrap(),
            Value::Number(123456)
        );
        assert_eq!(
            f.encode(&Value::Number(123456)).unwrap(),
            [0x23, 4, 0, 1, 0xE2, 0x40]
        );
        assert!(f.decode(&[0, 1, 0xE2]).is_err());
        let s = field("status");
        assert_eq!(s.encode(&Value::Code(1)).unwrap(), [0x22, 1, 1]);
        assert!(s.encode(&Value::Number(1)).is_err());
        assert_eq!(s.code("active").unwrap(), 1);
        assert_eq!(s.code_name(2), Some("blocked"));
        let id = field("transfer_id");
        assert!(id.encode(&Value::Bytes(vec![0; 15])).is_err());
        assert_eq!(id.encode(&Value::Bytes(vec![0; 16])).unwrap().len(), 18);
        let n = field("card_number");
        assert!(n.encode(&Value::Text("X000000190".into())).is_err());
        assert!(n.encode(&Value::Text("张".into())).is_err());
        assert_eq!(
            n.decode(b"X00000019").unwrap(),
            Value::Text("X00000019".into())
        );
        assert!(n.decode(b"X0000001\x01").is_err());
        let t = field("card_type");
        assert_eq!(t.decode(b"3").unwrap(), Value::Text("3".into()));
        assert_eq!(t.decode(&[0x81]).unwrap(), Value::Bytes(vec![0x81]));
    }

    #[test]
    fn records_are_checked_against_the_profile() {
        let f = field("card_number");
        assert_eq!(
            f.decode_record(b"\x07\x09X00000019").unwrap(),
            Value::Text("X00000019".into())
        );
        // Wrong tag, wrong length, lying length byte.
        assert!(f
            .decode_record(b"\x08\x09X00000019")
            .unwrap_err()
            .reason
            .contains("tag 08"));
        assert!(f
            .decode_record(b"\x07\x08X0000001")
            .unwrap_err()
            .reason
            .contains("8 bytes"));
        assert!(f.decode_record(b"\x07\x09X0000001").is_err());
        assert!(f.decode_record(b"\x07").is_err());
        assert!(f.decode_record(b"").is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let p = Profiles::builtin().unwrap();
            for prof in p.iter() {
                for f in &prof.fields {
                    let _ = f.decode(&bytes);
                    let _ = f.decode_record(&bytes);
                    if let Ok(v) = f.decode(&bytes) {
                        // What decodes re-encodes to the same length.
                        if let Ok(rec) = f.encode(&v) {
                            proptest::prop_assert_eq!(rec.len(), f.len + 2);
                        }
                    }
                }
            }
        }
    }
}
