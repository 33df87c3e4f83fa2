//! The SSC profile's historical bytes (spec `cards.md` §1.1): 7 bytes of chip/COS
//! information, a BCD city code and a serial number in the ATR's 13 historical bytes.
//!
//! Why here and not in `apdu::atr`: the ATR decoder is generic ISO/IEC 7816-3 and
//! applies to any card; this reading belongs to one card profile, so it lives in the
//! card layer, above the ATR it reads (issue 14 point 2).

use std::fmt;

use serde::Serialize;

use crate::apdu::atr::ser_hex;

/// The SSC historical bytes (spec `cards.md` §1.1): 7 bytes of chip/COS information,
/// 2 bytes of BCD city code (the first 4 digits of the region code), 4 serial bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SscHistorical {
    /// Chip and COS information, shown as is (its meaning is vendor specific).
    #[serde(serialize_with = "ser_hex")]
    pub chip_info: [u8; 7],
    /// The city code bytes as stored.
    #[serde(serialize_with = "ser_hex")]
    pub city_code_raw: [u8; 2],
    /// The city code as 4 decimal digits; `None` when the bytes are not valid BCD.
    pub city_code: Option<String>,
    /// Serial bytes.
    #[serde(serialize_with = "ser_hex")]
    pub serial: [u8; 4],
}

impl fmt::Display for SscHistorical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chip/COS {}, city code {}, serial {}",
            hex::encode_upper(self.chip_info),
            self.city_code
                .clone()
                .unwrap_or_else(|| format!("{} (not BCD)", hex::encode_upper(self.city_code_raw))),
            hex::encode_upper(self.serial)
        )
    }
}

/// Splits SSC historical bytes. `None` unless there are exactly 13 bytes. Note that
/// the PSAM's ATR has the same layout length, so this does not prove the card is an
/// SSC: it only reads the fields for display.
pub fn ssc_historical(hist: &[u8]) -> Option<SscHistorical> {
    let hist: &[u8; 13] = hist.try_into().ok()?;
    let mut chip_info = [0u8; 7];
    chip_info.copy_from_slice(&hist[..7]);
    let city_code_raw = [hist[7], hist[8]];
    let mut serial = [0u8; 4];
    serial.copy_from_slice(&hist[9..]);
    let is_bcd = city_code_raw.iter().all(|b| b >> 4 <= 9 && b & 0x0F <= 9);
    let city_code = is_bcd.then(|| hex::encode(city_code_raw));
    Some(SscHistorical {
        chip_info,
        city_code_raw,
        city_code,
        serial,
    })
}

/// Checks the invariants of the generic ATR decoder ([`crate::apdu::atr::fuzz_check`])
/// and, on the same input, of the SSC split: it never panics, on the bytes given and on
/// the historical bytes of an ATR that parses, and its Display works. Shared by the
/// cargo-fuzz target `atr` and the stable-toolchain corpus test.
///
/// Panics (that is the point) when an invariant is broken.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    crate::apdu::atr::fuzz_check(data);
    if let Ok(atr) = crate::apdu::atr::Atr::parse_lenient(data) {
        let _ = ssc_historical(&atr.historical).map(|h| h.to_string());
    }
    let _ = ssc_historical(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::atr::Atr;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }

    const SSC: &str = "3B 6D 00 00 00 81 54 4C 96 86 84 63 99 48 FB 49 66";
    const CITY: &str = "3B 68 00 00 59 42 2E 43 49 54 59 31";
    const PSAM: &str = "3B 6D 00 00 00 81 54 4C 00 86 84 08 07 23 00 05 C0";

    #[test]
    fn ssc_atr() {
        let atr = Atr::parse(&h(SSC)).expect("SSC ATR");
        let hist = ssc_historical(&atr.historical).expect("13 bytes");
        assert_eq!(hist.chip_info, [0x00, 0x81, 0x54, 0x4C, 0x96, 0x86, 0x84]);
        assert_eq!(hist.city_code.as_deref(), Some("6399"));
        assert_eq!(hist.serial, [0x48, 0xFB, 0x49, 0x66]);
    }

    #[test]
    fn city_atr() {
        let atr = Atr::parse(&h(CITY)).expect("CITY ATR");
        assert_eq!(ssc_historical(&atr.historical), None);
    }

    #[test]
    fn psam_atr() {
        let atr = Atr::parse(&h(PSAM)).expect("PSAM ATR");
        let hist = ssc_historical(&atr.historical).expect("13 bytes");
        assert_eq!(hist.city_code.as_deref(), Some("0807"));
    }

    #[test]
    fn ssc_historical_lengths() {
        assert_eq!(ssc_historical(&[0; 12]), None);
        assert_eq!(ssc_historical(&[0; 14]), None);
        let mut hist = [0u8; 13];
        hist[7] = 0xA1;
        let s = ssc_historical(&hist).expect("13 bytes");
        assert_eq!(s.city_code, None);
        assert!(s.to_string().contains("A100 (not BCD)"));
    }

    #[test]
    fn fuzz_check_on_known_atrs() {
        for a in [SSC, CITY, PSAM] {
            fuzz_check(&h(a));
        }
    }

    proptest::proptest! {
        /// ATR-shaped input with 13 historical bytes (T0 `x D`), as the SSC's.
        #[test]
        fn never_panics_on_13_historical_bytes(
            rest in proptest::collection::vec(proptest::prelude::any::<u8>(), 13..20),
        ) {
            let mut data = vec![0x3B, 0x6D, 0x00, 0x00];
            data.extend(rest);
            fuzz_check(&data);
        }
    }
}
