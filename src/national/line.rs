//! The text lines of the national interface: the basic line (`iReadCardBas`, Step2),
//! the HSM Step1 line, and the `pKey` a back office hands to Step2.
//!
//! Integrators parse these lines by position, so each is built in one place, field by
//! field, every field followed by `|` (docs/spec/national-interface.md §2, cards.md
//! §4). `sscard info --format national` renders its line through [`BasicInfo`] too,
//! so the command line and the library can never drift apart. Lines are UTF-8 text
//! here; the C library encodes them to GBK ([`gbk`]).

use super::error::{Failure, NationalError};
use crate::crypto::Algorithm;
use crate::profile::Date;
use zeroize::Zeroizing;

/// The terminal number when no SAM or configuration gives one (cards.md §4).
pub const NO_TERMINAL: &str = "000000000000";

/// The 11 fields of the basic line, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicInfo {
    /// Region code (6 digits, the first 3 BCD bytes of the card identifier).
    pub region: String,
    /// Social security number (= citizen ID, 18 characters).
    pub citizen_id: String,
    /// Card number (9 characters).
    pub card_number: String,
    /// Card identifier (16 bytes).
    pub card_id: [u8; 16],
    /// Name with its extension (tag 09 + tag 4E).
    pub name: String,
    /// The ATR's historical bytes.
    pub historical: Vec<u8>,
    /// Spec version (`1.00`, `2.00`, `3.00`).
    pub spec_version: String,
    /// Issue date.
    pub issue_date: Date,
    /// Expiry date.
    pub expiry_date: Date,
    /// Terminal number (12 digits; [`NO_TERMINAL`] without one).
    pub terminal: String,
    /// Device number (the configured terminal device id).
    pub device_id: String,
}

/// Appends `field|`, a `|` inside a field replaced by `?` (it would shift every later
/// field for the parser).
fn push(line: &mut String, field: &str) {
    line.push_str(&field.replace('|', "?"));
    line.push('|');
}

impl BasicInfo {
    /// The basic line: 11 fields, each followed by `|`, no newline.
    pub fn line(&self) -> String {
        let mut line = String::with_capacity(160);
        for f in [
            self.region.as_str(),
            &self.citizen_id,
            &self.card_number,
            &hex::encode_upper(self.card_id),
            &self.name,
            &hex::encode_upper(&self.historical),
            &self.spec_version,
            &self.issue_date.format("%Y%m%d").to_string(),
            &self.expiry_date.format("%Y%m%d").to_string(),
            &self.terminal,
            &self.device_id,
        ] {
            push(&mut line, f);
        }
        line
    }
}

/// The region code of a card identifier: its first 3 bytes as BCD digits (hex when
/// they are not BCD).
pub fn region_of(card_id: &[u8; 16]) -> String {
    crate::profile::codec::decode_bcd(&card_id[..3])
        .unwrap_or_else(|| hex::encode_upper(&card_id[..3]))
}

/// What HSM Step1 hands to the back office (national-interface.md §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step1Info {
    /// Region code.
    pub region: String,
    /// The ATR's historical bytes.
    pub historical: Vec<u8>,
    /// The card's algorithm.
    pub alg: Algorithm,
    /// Card identifier.
    pub card_id: [u8; 16],
    /// Diversification data of the internal-authentication key (key 01).
    pub internal_factor: [u8; 8],
    /// The random number sent with INTERNAL AUTHENTICATE.
    pub internal_random: [u8; 8],
    /// Diversification data of the external-authentication key (the holder-data key).
    pub external_factor: [u8; 8],
    /// The card's challenge (GET CHALLENGE), valid for the next command only.
    pub external_random: [u8; 8],
    /// Device number.
    pub device_id: String,
}

impl Step1Info {
    /// `region|ATR historical bytes|algorithm id|card identifier|internal auth factor|
    /// internal auth random|external auth factor|external auth random|device number|`.
    pub fn line(&self) -> String {
        let mut line = String::with_capacity(160);
        for f in [
            self.region.as_str(),
            &hex::encode_upper(&self.historical),
            &format!("{:02X}", self.alg.id()),
            &hex::encode_upper(self.card_id),
            &hex::encode_upper(self.internal_factor),
            &hex::encode_upper(self.internal_random),
            &hex::encode_upper(self.external_factor),
            &hex::encode_upper(self.external_random),
            &self.device_id,
        ] {
            push(&mut line, f);
        }
        line
    }

    /// Parses a Step1 line (the lab HSM's input).
    ///
    /// # Errors
    /// [`NationalError::BadParameter`] naming the field that is missing or malformed.
    pub fn parse(line: &str) -> Result<Step1Info, Failure> {
        let bad = |why: String| Failure::new(NationalError::BadParameter, why);
        let parts: Vec<&str> = line.trim_end_matches(['\r', '\n']).split('|').collect();
        // 9 fields, each followed by `|`: 10 pieces, the last empty.
        if parts.len() != 10 || !parts[9].is_empty() {
            return Err(bad(format!(
                "a Step1 line has 9 fields each followed by '|'; this has {} pieces",
                parts.len()
            )));
        }
        fn arr<const N: usize>(s: &str, what: &str) -> Result<[u8; N], Failure> {
            hex::decode(s)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| {
                    Failure::new(
                        NationalError::BadParameter,
                        format!("{what} is not {} hex digits", N * 2),
                    )
                })
        }
        let alg = u8::from_str_radix(parts[2], 16)
            .ok()
            .filter(|_| parts[2].len() == 2)
            .and_then(Algorithm::from_id)
            .ok_or_else(|| bad(format!("unknown algorithm id '{}'", parts[2])))?;
        Ok(Step1Info {
            region: parts[0].to_string(),
            historical: hex::decode(parts[1])
                .map_err(|_| bad("the historical bytes are not hex".into()))?,
            alg,
            card_id: arr(parts[3], "the card identifier")?,
            internal_factor: arr(parts[4], "the internal authentication factor")?,
            internal_random: arr(parts[5], "the internal authentication random")?,
            external_factor: arr(parts[6], "the external authentication factor")?,
            external_random: arr(parts[7], "the external authentication random")?,
            device_id: parts[8].to_string(),
        })
    }
}

/// The back office's answer to Step1, parsed: its internal-authentication result
/// and the external-authentication cryptogram (both secret-ish: zeroized on drop).
pub struct HsmKey {
    /// What the HSM computed for the card's INTERNAL AUTHENTICATE.
    pub internal: Zeroizing<Vec<u8>>,
    /// The EXTERNAL AUTHENTICATE cryptogram.
    pub external: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for HsmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HsmKey(REDACTED)")
    }
}

impl HsmKey {
    /// Parses `pKey` for a card of algorithm `alg` (cryptograms of L bytes: 8 for 3DES,
    /// 16 for SM4). Accepted forms: `<internal hex>|<external hex>|` (the trailing `|`
    /// optional), or the two run together (2L + 2L hex digits), padded with `0` up to
    /// 64 digits when that is shorter (the spec's "at least 64 hex characters").
    /// White space around the parts is ignored; hex is case-insensitive.
    ///
    /// # Errors
    /// [`NationalError::BadParameter`]; the message never repeats the key.
    pub fn parse(pkey: &str, alg: Algorithm) -> Result<HsmKey, Failure> {
        let l = alg.cryptogram_len() * 2;
        let bad = |why: &str| {
            Failure::new(
                NationalError::BadParameter,
                format!("pKey for {alg}: {why}"),
            )
        };
        let unhex = |s: &str| -> Result<Zeroizing<Vec<u8>>, Failure> {
            hex::decode(s.trim())
                .map(Zeroizing::new)
                .map_err(|_| bad("not hex"))
        };
        let text = pkey.trim();
        let (int, ext) = if text.contains('|') {
            let mut parts: Vec<&str> = text.split('|').collect();
            if parts.last() == Some(&"") {
                parts.pop();
            }
            if parts.len() != 2 {
                return Err(bad("expected <internal hex>|<external hex>|"));
            }
            (unhex(parts[0])?, unhex(parts[1])?)
        } else {
            let all = unhex(text)?;
            let n = l / 2;
            let padded_ok = all.len() * 2 == 64.max(2 * l) && all[2 * n..].iter().all(|b| *b == 0);
            if all.len() * 2 != 2 * l && !padded_ok {
                return Err(bad(&format!(
                    "expected {} hex digits (internal + external result){}",
                    2 * l,
                    if 2 * l < 64 {
                        ", or 64 with zero padding"
                    } else {
                        ""
                    }
                )));
            }
            (
                Zeroizing::new(all[..n].to_vec()),
                Zeroizing::new(all[n..2 * n].to_vec()),
            )
        };
        if int.len() * 2 != l || ext.len() * 2 != l {
            return Err(bad(&format!("each result is {l} hex digits")));
        }
        Ok(HsmKey {
            internal: int,
            external: ext,
        })
    }

    /// The `<internal hex>|<external hex>|` form (what the lab HSM answers).
    pub fn to_pkey(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{}|{}|",
            hex::encode_upper(&*self.internal),
            hex::encode_upper(&*self.external)
        ))
    }
}

/// `text` in GBK (the C library's output charset); characters without a GBK form
/// become `?` (never in card text, which was decoded from GBK).
pub fn gbk(text: &str) -> Vec<u8> {
    crate::card::report::national::encode(text, crate::card::report::national::Charset::Gbk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        Date::parse_from_str(s, "%Y%m%d").unwrap()
    }

    #[test]
    fn basic_line_is_the_spec_example() {
        let mut card_id = [0u8; 16];
        card_id.copy_from_slice(&hex::decode("639900D15600000500BF7C7A48FB4966").unwrap());
        let b = BasicInfo {
            region: region_of(&card_id),
            citizen_id: "111111198101011110".into(),
            card_number: "X00000019".into(),
            card_id,
            name: "张三".into(),
            historical: hex::decode("0081544C968684639948FB4966").unwrap(),
            spec_version: "2.00".into(),
            issue_date: d("20260601"),
            expiry_date: d("20360601"),
            terminal: NO_TERMINAL.into(),
            device_id: "VPCD0000".into(),
        };
        assert_eq!(
            b.line(),
            "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|0081544C968684639948FB4966|2.00|20260601|20360601|000000000000|VPCD0000|"
        );
        let mut b2 = b.clone();
        b2.name = "A|B".into();
        assert!(b2.line().contains("|A?B|"));
        assert_eq!(&gbk("张三|")[..], &[0xD5, 0xC5, 0xC8, 0xFD, b'|']);
    }

    #[test]
    fn step1_line_round_trips() {
        let s = Step1Info {
            region: "639900".into(),
            historical: vec![0x00, 0x81],
            alg: Algorithm::Sm4,
            card_id: [0x11; 16],
            internal_factor: [1; 8],
            internal_random: [2; 8],
            external_factor: [3; 8],
            external_random: [4; 8],
            device_id: "VPCD0000".into(),
        };
        let line = s.line();
        assert!(line.starts_with("639900|0081|03|"), "{line}");
        assert_eq!(line.matches('|').count(), 9);
        assert_eq!(Step1Info::parse(&line).unwrap(), s);
        assert_eq!(Step1Info::parse(&format!("{line}\n")).unwrap(), s);
        for bad in [
            "",
            "a|b|",
            &line.replace("|03|", "|07|"),
            &line[..line.len() - 1],
        ] {
            let e = Step1Info::parse(bad).unwrap_err();
            assert_eq!(e.error, NationalError::BadParameter, "{bad}");
        }
    }

    #[test]
    fn pkey_forms() {
        let i = "00112233445566778899AABBCCDDEEFF";
        let e = "FFEEDDCCBBAA99887766554433221100";
        for form in [
            format!("{i}|{e}|"),
            format!("{i}|{e}"),
            format!("{i}{e}"),
            format!(" {}|{} |", i.to_lowercase(), e),
        ] {
            let k = HsmKey::parse(&form, Algorithm::Sm4).unwrap();
            assert_eq!(hex::encode_upper(&*k.internal), i);
            assert_eq!(hex::encode_upper(&*k.external), e);
            assert_eq!(*k.to_pkey(), format!("{i}|{e}|"));
        }
        // 3DES: 16 + 16, or padded to 64.
        let k = HsmKey::parse(&format!("{}{}", &i[..16], &e[..16]), Algorithm::Tdes).unwrap();
        assert_eq!(k.external.len(), 8);
        let k = HsmKey::parse(
            &format!("{}{}{}", &i[..16], &e[..16], "0".repeat(32)),
            Algorithm::Tdes,
        )
        .unwrap();
        assert_eq!(hex::encode_upper(&*k.internal), &i[..16]);
        for bad in [
            "",
            "zz|zz|",
            &format!("{i}|"),
            &format!("{i}|{e}|{e}|"),
            &i[..30],
            &format!("{i}{e}00"),
        ] {
            let err = HsmKey::parse(bad, Algorithm::Sm4).unwrap_err();
            assert_eq!(err.error, NationalError::BadParameter, "{bad}");
            assert!(
                !err.detail.contains("0011223344"),
                "key in message: {}",
                err.detail
            );
        }
        assert!(format!(
            "{:?}",
            HsmKey::parse(&format!("{i}{e}"), Algorithm::Sm4).unwrap()
        )
        .contains("REDACTED"));
    }
}
