//! Unit tests of the ATR decoder and its conformance checks.

use super::*;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test hex")
}

const SSC: &str = "3B 6D 00 00 00 81 54 4C 96 86 84 63 99 48 FB 49 66";
const CITY: &str = "3B 68 00 00 59 42 2E 43 49 54 59 31";
const PSAM: &str = "3B 6D 00 00 00 81 54 4C 00 86 84 08 07 23 00 05 C0";
const YUBIKEY: &str = "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40";
// NXP JCOP 2.4.1 (J3A081-style) contact interface, T=1.
const JCOP: &str = "3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7";

#[test]
fn ssc_atr() {
    let atr = Atr::parse(&h(SSC)).expect("SSC ATR");
    assert_eq!(atr.ts, Convention::Direct);
    assert_eq!(atr.t0, 0x6D);
    assert_eq!(atr.interface.len(), 1);
    assert_eq!(atr.tb(1), Some(0x00));
    assert_eq!(atr.tc(1), Some(0x00));
    assert_eq!(atr.ta(1), None);
    assert_eq!(atr.td(1), None);
    assert_eq!(atr.protocols, vec![0]);
    assert_eq!(atr.historical, h("00 81 54 4C 96 86 84 63 99 48 FB 49 66"));
    assert_eq!(atr.tck, None);
    assert_eq!(atr.tck_ok, None);
    assert!(!atr.transmission.from_ta1);
    assert_eq!(atr.transmission.fi, Some(372));
    assert_eq!(atr.transmission.baud_at_typical_clock, Some(9600));
    // The national output format (cards.md §4) prints the historical bytes as hex.
    assert_eq!(
        hex::encode_upper(&atr.historical),
        "0081544C968684639948FB4966"
    );
}

#[test]
fn city_atr() {
    let atr = Atr::parse(&h(CITY)).expect("CITY ATR");
    assert_eq!(atr.protocols, vec![0]);
    assert_eq!(atr.historical, b"YB.CITY1");
    assert!(atr.to_string().contains("\"YB.CITY1\""));
}

#[test]
fn psam_atr() {
    let atr = Atr::parse(&h(PSAM)).expect("PSAM ATR");
    assert_eq!(atr.protocols, vec![0]);
    assert_eq!(atr.historical.len(), 13);
}

#[test]
fn yubikey_t1_with_tck() {
    let bytes = h(YUBIKEY);
    // Check TCK independently: XOR of T0..TCK is zero.
    assert_eq!(bytes[1..].iter().fold(0u8, |a, b| a ^ b), 0);
    let atr = Atr::parse(&bytes).expect("Yubikey ATR");
    assert_eq!(atr.protocols, vec![1]);
    assert_eq!(atr.ta(1), Some(0x13));
    assert_eq!(atr.td(1), Some(0x81));
    assert_eq!(atr.td(2), Some(0x31));
    assert_eq!(atr.ta(3), Some(0xFE));
    assert_eq!(atr.tb(3), Some(0x15));
    assert_eq!(atr.tck, Some(0x40));
    assert_eq!(atr.tck_ok, Some(true));
    assert_eq!(&atr.historical[6..], b"YubiKey");
    let t = atr.transmission;
    assert!(t.from_ta1);
    assert_eq!((t.fi, t.di, t.f_max_khz), (Some(372), Some(4), Some(5000)));
    assert_eq!(t.baud_at_typical_clock, Some(38400));
    let text = atr.to_string();
    assert!(text.contains("T=1 IFSC=254"), "{text}");
    assert!(text.contains("TCK: 40 (correct)"), "{text}");
}

#[test]
fn jcop_t1_with_tck() {
    let atr = Atr::parse(&h(JCOP)).expect("JCOP ATR");
    assert_eq!(atr.protocols, vec![1]);
    assert_eq!(atr.historical, b"JCOPv241");
    assert_eq!(atr.tck_ok, Some(true));
}

#[test]
fn t0_and_t1_offered_and_t15() {
    // TD1=80 (T=0, TD2 follows), TD2=1F (T=15 -> TA3), TA3=C7, no historical.
    let mut b = h("3B 80 80 1F C7");
    let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
    b.push(tck);
    let atr = Atr::parse(&b).expect("T=0 + T=15");
    assert_eq!(atr.protocols, vec![0]);
    assert_eq!(atr.tck, Some(tck));
    assert!(atr.to_string().contains("clock stop"));

    let mut b = h("3B 80 80 01");
    let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
    b.push(tck);
    let atr = Atr::parse(&b).expect("T=0 and T=1");
    assert_eq!(atr.protocols, vec![0, 1]);
}

#[test]
fn inverse_convention_and_hex_input() {
    let atr = Atr::from_hex("3f:60 00 00").expect("inverse");
    assert_eq!(atr.ts, Convention::Inverse);
    assert_eq!(
        Atr::from_hex("3B 6"),
        Err(AtrError::InvalidHex("Odd number of digits".into()))
    );
}

#[test]
fn json_is_hex_strings() {
    let atr = Atr::parse(&h(SSC)).expect("SSC ATR");
    let v = serde_json::to_value(&atr).expect("json");
    assert_eq!(v["raw"], "3B6D00000081544C968684639948FB4966");
    assert_eq!(v["ts"], "direct");
    assert_eq!(v["t0"], "6D");
    assert_eq!(v["interface"][0]["tb"], "00");
    assert_eq!(v["interface"][0]["ta"], serde_json::Value::Null);
    assert_eq!(v["protocols"], serde_json::json!([0]));
    assert_eq!(v["tck"], serde_json::Value::Null);
}

#[test]
fn display_summary() {
    let text = Atr::parse(&h(SSC)).expect("SSC").to_string();
    assert!(text.starts_with("ATR: 3B 6D 00 00"), "{text}");
    assert!(text.contains("direct convention"), "{text}");
    assert!(text.contains("Protocols: T=0 (implied: no TD1)"), "{text}");
    assert!(text.contains("Historical bytes (13)"), "{text}");
    assert!(text.contains("TCK: absent"), "{text}");
    assert!(text.lines().count() >= 6, "{text}");
}

#[test]
fn error_empty() {
    assert_eq!(Atr::parse(&[]), Err(AtrError::Empty));
}

#[test]
fn error_bad_ts() {
    let e = Atr::parse(&h("3C 00")).expect_err("must be rejected");
    assert_eq!(e, AtrError::BadTs(0x3C));
    assert!(e.to_string().starts_with("offset 0: TS is 3C"));
}

#[test]
fn error_truncated_interface() {
    assert_eq!(
        Atr::parse(&h("3B")),
        Err(AtrError::Truncated {
            offset: 1,
            expected: "T0".into()
        })
    );
    // T0=F0: TA1..TD1 announced, only TA1 TB1 present.
    let e = Atr::parse(&h("3B F0 11 00")).expect_err("must be rejected");
    assert_eq!(
        e,
        AtrError::Truncated {
            offset: 4,
            expected: "TC1".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "offset 4: the ATR ends where TC1 was expected"
    );
    // TD1=81 announces TD2.
    assert_eq!(
        Atr::parse(&h("3B 80 81")),
        Err(AtrError::Truncated {
            offset: 3,
            expected: "TD2".into()
        })
    );
}

#[test]
fn error_truncated_historical() {
    let e = Atr::parse(&h("3B 6D 00 00 00 81 54")).expect_err("must be rejected");
    assert_eq!(
        e,
        AtrError::TruncatedHistorical {
            offset: 4,
            declared: 13,
            got: 3
        }
    );
}

#[test]
fn error_missing_tck() {
    let b = h(YUBIKEY);
    let e = Atr::parse(&b[..b.len() - 1]).expect_err("must be rejected");
    assert_eq!(
        e,
        AtrError::MissingTck {
            offset: 22,
            protocol: 1
        }
    );
}

#[test]
fn error_tck_mismatch_and_lenient() {
    let mut b = h(YUBIKEY);
    let last = b.len() - 1;
    b[last] = 0x41;
    assert_eq!(
        Atr::parse(&b),
        Err(AtrError::TckMismatch {
            offset: 22,
            expected: 0x40,
            actual: 0x41
        })
    );
    let atr = Atr::parse_lenient(&b).expect("lenient accepts a bad TCK");
    assert_eq!(atr.tck_ok, Some(false));
    assert!(atr.to_string().contains("TCK: 41 (WRONG)"));
}

#[test]
fn tck_checked_before_trailing_bytes() {
    // Found by the property test: a wrong TCK followed by junk. The strict parse
    // reports the TCK; the lenient one goes on and reports the junk.
    let b = h("3B 80 01 00 00 00");
    assert_eq!(
        Atr::parse(&b),
        Err(AtrError::TckMismatch {
            offset: 3,
            expected: 0x81,
            actual: 0x00
        })
    );
    assert_eq!(
        Atr::parse_lenient(&b),
        Err(AtrError::TrailingBytes {
            offset: 4,
            count: 2
        })
    );
    fuzz_check(&b);
}

#[test]
fn error_trailing_bytes() {
    // A T=0-only ATR followed by an extra byte (a TCK that must not be there).
    let mut b = h(SSC);
    b.push(0x12);
    assert_eq!(
        Atr::parse(&b),
        Err(AtrError::TrailingBytes {
            offset: 17,
            count: 1
        })
    );
    let mut b = h(YUBIKEY);
    b.extend([0, 0]);
    assert_eq!(
        Atr::parse(&b),
        Err(AtrError::TrailingBytes {
            offset: 23,
            count: 2
        })
    );
}

#[test]
fn error_too_long() {
    // A chain of TDi = 80 (each announcing the next TD) runs past offset 32.
    let mut b = vec![0x3B, 0x80];
    b.extend([0x80u8; 40]);
    assert_eq!(Atr::parse(&b), Err(AtrError::TooLong { len: 34 }));
    // 17 interface bytes fit, but then K=15 historical bytes do not.
    // T0=8F (TD1, K=15); TD1..TD4=F0 (all four bytes of the next level); TD5=00.
    let mut b = vec![0x3B, 0x8F, 0xF0];
    for _ in 0..3 {
        b.extend([0x00, 0x00, 0x00, 0xF0]);
    }
    b.extend([0x00, 0x00, 0x00, 0x00]);
    assert_eq!(b.len(), 19);
    b.extend([0x41; 15]);
    assert_eq!(Atr::parse(&b), Err(AtrError::TooLong { len: 34 }));
    assert!(AtrError::TooLong { len: 34 }
        .to_string()
        .contains("at most 33"));
}

#[test]
fn max_length_boundary() {
    // TS T0=FF | TA1 TB1 TC1 TD1=F1 | TA2 TB2 TC2 TD2=F1 | TA3 TB3 TC3 TD3=71 |
    // TA4 TB4 TC4 | 15 historical bytes | TCK: exactly 33 bytes.
    let mut b = vec![0x3B, 0xFF, 0x11, 0x00, 0x00, 0xF1];
    b.extend([0x00, 0x00, 0x00, 0xF1]);
    b.extend([0xFE, 0x45, 0x00, 0x71]);
    b.extend([0x20, 0x00, 0x00]);
    b.extend([0x41; 15]);
    let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
    b.push(tck);
    assert_eq!(b.len(), MAX_ATR_LEN);
    let atr = Atr::parse(&b).expect("33-byte ATR");
    assert_eq!(atr.interface.len(), 4);
    assert_eq!(atr.protocols, vec![1]);
    assert_eq!(atr.tck_ok, Some(true));
    // One more interface byte (TD4) pushes TCK to offset 33.
    let mut c = b[..b.len() - 1].to_vec();
    c[13] = 0xF1;
    c.insert(17, 0x01);
    assert_eq!(Atr::parse(&c), Err(AtrError::TooLong { len: 34 }));
}

#[test]
fn ta1_rfu_values() {
    // TA1=7F: FI=7 and DI=F are both RFU.
    let atr = Atr::parse(&h("3B 10 7F")).expect("TA1 only");
    assert_eq!(atr.transmission.fi, None);
    assert_eq!(atr.transmission.di, None);
    assert_eq!(atr.transmission.baud_at_f_max, None);
    assert!(atr.to_string().contains("Fi=RFU, Di=RFU"));
}

#[test]
fn fuzz_check_on_known_atrs() {
    for a in [SSC, CITY, PSAM, YUBIKEY, JCOP] {
        fuzz_check(&h(a));
    }
}

proptest! {
    #[test]
    fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        fuzz_check(&data);
    }

    #[test]
    fn parse_never_panics_plausible(
        t0 in any::<u8>(),
        rest in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let mut data = vec![0x3B, t0];
        data.extend(rest);
        fuzz_check(&data);
    }
}

// ------------------------------------------------------------ conformance (issue 11.6)

/// Appends the TCK that makes the XOR of T0..TCK zero.
fn with_tck(s: &str) -> Vec<u8> {
    let mut b = h(s);
    let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
    b.push(tck);
    b
}

fn rules(a: &Analysis) -> Vec<Rule> {
    a.violations.iter().map(|v| v.rule).collect()
}

fn only(a: &Analysis, rule: Rule) -> &Violation {
    let hits: Vec<_> = a.violations.iter().filter(|v| v.rule == rule).collect();
    assert_eq!(hits.len(), 1, "{rule:?} in {:?}", a.violations);
    hits[0]
}

#[test]
fn a_byte_after_the_end_is_decoded_and_named() {
    // From pcsc-tools' list: a T=0-only ATR with one byte after the end.
    let a = Atr::analyse(&h("3B6500002063CB680026"));
    let atr = a.atr.as_ref().expect("decoded");
    assert_eq!(atr.historical, h("20 63 CB 68 00"));
    assert_eq!(atr.trailing, vec![0x26]);
    assert_eq!(atr.tck, None);
    let v = only(&a, Rule::TrailingBytes);
    assert_eq!(v.clause, "ISO/IEC 7816-3:2006 §8.2.1");
    assert_eq!(v.offset, Some(9));
    assert_eq!(v.severity, Severity::Error);
    assert!(v.message.contains("TCK shall then be absent"), "{v}");
    assert!(!v.message.contains("what a TCK would be"), "{v}");
    assert!(!a.conforms());
    let text = a.to_string();
    assert!(
        text.contains("Historical bytes (5): 20 63 CB 68 00"),
        "{text}"
    );
    assert!(text.contains("After the end (1): 26"), "{text}");
    assert!(text.contains("DOES NOT CONFORM"), "{text}");
    // The strict parse still refuses it, as before.
    assert_eq!(
        Atr::parse(&h("3B6500002063CB680026")),
        Err(AtrError::TrailingBytes {
            offset: 9,
            count: 1
        })
    );

    // Sibling: the extra byte is exactly what a TCK would be.
    let a = Atr::analyse(&with_tck("3B 65 00 00 20 63 CB 68 00"));
    assert!(only(&a, Rule::TrailingBytes)
        .message
        .contains("what a TCK would be"));
    // Sibling: two bytes after a T=1 ATR's TCK.
    let mut b = h(YUBIKEY);
    b.extend([0xAA, 0xBB]);
    let a = Atr::analyse(&b);
    assert_eq!(a.atr.as_ref().unwrap().trailing, vec![0xAA, 0xBB]);
    assert_eq!(a.atr.as_ref().unwrap().tck_ok, Some(true));
    assert!(!only(&a, Rule::TrailingBytes).message.contains("TCK shall"));
}

#[test]
fn structural_faults_are_decoded_as_far_as_they_go() {
    // Bad TS: the rest is still decoded.
    let a = Atr::analyse(&h("3C 6D 00 00 00 81 54 4C 96 86 84 63 99 48 FB 49 66"));
    assert_eq!(a.atr.as_ref().unwrap().ts, Convention::Invalid);
    assert_eq!(a.atr.as_ref().unwrap().historical.len(), 13);
    assert_eq!(only(&a, Rule::Ts).clause, "ISO/IEC 7816-3:2006 §8.2.2");
    assert!(a.to_string().contains("INVALID"));
    // An interface byte missing: the bytes present are shown.
    let a = Atr::analyse(&h("3B F0 11 00"));
    let atr = a.atr.as_ref().unwrap();
    assert_eq!(
        (atr.ta(1), atr.tb(1), atr.tc(1)),
        (Some(0x11), Some(0x00), None)
    );
    let v = only(&a, Rule::Truncated);
    assert_eq!(
        (v.offset, v.clause.as_str()),
        (Some(4), "ISO/IEC 7816-3:2006 §8.2.3")
    );
    // Historical bytes missing: the ones present are shown.
    let a = Atr::analyse(&h("3B 6D 00 00 00 81 54"));
    assert_eq!(a.atr.as_ref().unwrap().historical, h("00 81 54"));
    assert_eq!(
        only(&a, Rule::TruncatedHistorical).clause,
        "ISO/IEC 7816-3:2006 §8.2.4"
    );
    // TCK missing and TCK wrong.
    let b = h(YUBIKEY);
    let a = Atr::analyse(&b[..b.len() - 1]);
    assert_eq!(
        only(&a, Rule::MissingTck).clause,
        "ISO/IEC 7816-3:2006 §8.2.5"
    );
    assert!(a.to_string().contains("TCK: absent (MISSING)"));
    let mut b = h(YUBIKEY);
    *b.last_mut().unwrap() ^= 1;
    let a = Atr::analyse(&b);
    assert_eq!(only(&a, Rule::TckMismatch).offset, Some(22));
    assert_eq!(a.atr.as_ref().unwrap().tck_ok, Some(false));
    // Too long: named once, with §8.2.1.
    let mut b = vec![0x3B, 0x80];
    b.extend([0x80u8; 40]);
    let a = Atr::analyse(&b);
    assert_eq!(only(&a, Rule::TooLong).clause, "ISO/IEC 7816-3:2006 §8.2.1");
    // Nothing at all / TS only.
    assert_eq!(rules(&Atr::analyse(&[])), vec![Rule::Empty]);
    let a = Atr::analyse(&[0x3B]);
    assert!(a.atr.is_none());
    assert_eq!(rules(&a), vec![Rule::Truncated]);
    assert!(a.to_string().contains("nothing to decode"));
}

#[test]
fn value_rules_name_their_clause() {
    // TD1 naming T=15.
    let a = Atr::analyse(&with_tck("3B 80 0F"));
    assert_eq!(only(&a, Rule::Td1T15).clause, "ISO/IEC 7816-3:2006 §8.2.3");
    // T=1 then T=0: not ascending.
    let a = Atr::analyse(&with_tck("3B 80 81 00"));
    let v = only(&a, Rule::ProtocolOrder);
    assert_eq!(v.offset, Some(3));
    assert!(v.message.contains("T=0 after T=1"), "{v}");
    // T=0, T=1, T=15: ascending, nothing to say.
    let a = Atr::analyse(&with_tck("3B 80 80 81 1F C7"));
    assert!(a.violations.is_empty(), "{:?}", a.violations);
    assert!(a.conforms());
    // A reserved protocol is a warning only.
    let a = Atr::analyse(&with_tck("3B 80 02"));
    assert_eq!(only(&a, Rule::ProtocolRfu).severity, Severity::Warning);
    assert!(a.conforms());
    // TA1: FI and DI reserved (Tables 7 and 8).
    let a = Atr::analyse(&h("3B 10 7F"));
    assert_eq!(rules(&a), vec![Rule::FiRfu, Rule::DiRfu]);
    assert_eq!(only(&a, Rule::FiRfu).clause, "ISO/IEC 7816-3:2006 §8.3");
    assert_eq!(rules(&Atr::analyse(&h("3B 10 10"))), vec![Rule::DiRfu]);
    assert_eq!(rules(&Atr::analyse(&h("3B 10 E1"))), vec![Rule::FiRfu]);
    assert!(Atr::analyse(&h("3B 10 96")).violations.is_empty());
    // TB1 and TB2: deprecated VPP, a warning; the VPP asked for is spelled out.
    let a = Atr::analyse(&h("3B 20 25"));
    let v = only(&a, Rule::VppDeprecated);
    assert_eq!(v.severity, Severity::Warning);
    assert!(v.message.contains("PI1=5, I=1"), "{v}");
    let a = Atr::analyse(&h("3B 80 20 32"));
    assert!(only(&a, Rule::VppDeprecated).message.contains("TB2 = 32"));
    // TA2: reserved bits, and a specific mode whose protocol is not offered.
    let a = Atr::analyse(&h("3B 80 10 60"));
    assert_eq!(rules(&a), vec![Rule::Ta2Rfu]);
    let a = Atr::analyse(&h("3B 80 10 01"));
    assert_eq!(rules(&a), vec![Rule::Ta2Protocol]);
    assert!(a.conforms());
    assert!(Atr::analyse(&h("3B 80 10 80")).violations.is_empty());
    // The class indicator after T=15 (Table 10): ABC is fine, 0 and 05 are reserved.
    assert!(Atr::analyse(&with_tck("3B 80 80 1F 07"))
        .violations
        .is_empty());
    let a = Atr::analyse(&with_tck("3B 80 80 1F 40"));
    assert_eq!(only(&a, Rule::ClassRfu).offset, Some(4));
    assert_eq!(
        rules(&Atr::analyse(&with_tck("3B 80 80 1F 05"))),
        vec![Rule::ClassRfu]
    );
    assert!(Atr::parse(&with_tck("3B 80 80 1F 40"))
        .unwrap()
        .to_string()
        .contains("clock stop in state L, class RFU"));
    // T=0: WI = 0.
    let a = Atr::analyse(&h("3B 80 40 00"));
    assert_eq!(only(&a, Rule::T0WiZero).clause, "ISO/IEC 7816-3:2006 §10.2");
    // T=1: IFSC FF, BWI 10, reserved TC bits.
    let a = Atr::analyse(&with_tck("3B 80 81 11 FF"));
    assert_eq!(rules(&a), vec![Rule::T1IfscRfu]);
    let a = Atr::analyse(&with_tck("3B 80 81 21 A5"));
    assert_eq!(rules(&a), vec![Rule::T1BwiRfu]);
    let a = Atr::analyse(&with_tck("3B 80 81 41 02"));
    assert_eq!(rules(&a), vec![Rule::T1TcRfu]);
    assert!(Atr::analyse(&with_tck("3B 80 81 71 FE 45 01"))
        .violations
        .is_empty());
    // Value rules never make the strict parse fail: it is about structure.
    assert!(Atr::parse(&h("3B 10 7F")).is_ok());
    assert!(Atr::parse(&with_tck("3B 80 0F")).is_ok());
}

#[test]
fn n_255_is_explained() {
    let text = Atr::parse(&h("3B 40 FF")).unwrap().to_string();
    assert!(
        text.contains("N=255: minimum guard time (12 etu under T=0, 11 etu under T=1)"),
        "{text}"
    );
}

#[test]
fn analysis_json_lists_violations_with_clauses() {
    let a = Atr::analyse(&h("3B6500002063CB680026"));
    let v = serde_json::to_value(&a).unwrap();
    assert_eq!(v["atr"]["trailing"], "26");
    assert_eq!(v["violations"][0]["rule"], "trailing_bytes");
    assert_eq!(v["violations"][0]["clause"], "ISO/IEC 7816-3:2006 §8.2.1");
    assert_eq!(v["violations"][0]["severity"], "error");
    assert_eq!(v["violations"][0]["offset"], 9);
    assert!(v["violations"][0].get("structural").is_none());
}
