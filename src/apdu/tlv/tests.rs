use super::ber_tlv::{len_of_len, push_len};
use super::*;
use proptest::prelude::*;

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).expect("test hex")
}

/// `depth` nested constructed objects (tag 21) around `01 00`.
fn nested(depth: usize) -> Vec<u8> {
    // Build the length prefixes outside-in without recursion.
    let mut sizes = Vec::with_capacity(depth);
    let mut inner = 2usize;
    for _ in 0..depth {
        sizes.push(inner);
        inner += 1 + len_of_len(inner);
    }
    let mut out = Vec::with_capacity(inner);
    for &s in sizes.iter().rev() {
        out.push(0x21);
        push_len(&mut out, s);
    }
    out.extend([0x01, 0x00]);
    out
}

#[test]
fn record_round_trip() {
    let rec = h("07 09 58 30 30 30 30 30 30 31 39");
    let r = parse_record(&rec).expect("record");
    assert_eq!(r.tag, 0x07);
    assert_eq!(r.value, b"X00000019");
    assert_eq!(encode_record(r.tag, &r.value), Ok(rec.clone()));
    assert_eq!(r.to_bytes(), Ok(rec));
    // Empty value.
    assert_eq!(
        parse_record(&[0x26, 0x00]),
        Ok(SimpleRecord {
            tag: 0x26,
            value: vec![]
        })
    );
    // Longest value.
    let v = vec![0x20; MAX_RECORD_VALUE];
    let enc = encode_record(0x09, &v).expect("254 bytes");
    assert_eq!(enc[1], 0xFE);
    assert_eq!(parse_record(&enc).map(|r| r.value), Ok(v));
}

#[test]
fn record_errors() {
    assert_eq!(
        parse_record(&[]),
        Err(TlvError::Truncated {
            offset: 0,
            field: "tag"
        })
    );
    assert_eq!(
        parse_record(&[0x01]),
        Err(TlvError::Truncated {
            offset: 1,
            field: "length"
        })
    );
    assert!(matches!(
        parse_record(&[0xFF, 0xFF, 0xFF]),
        Err(TlvError::InvalidTag { offset: 0, .. })
    ));
    assert!(matches!(
        parse_record(&[0x00, 0x00]),
        Err(TlvError::InvalidTag { offset: 0, .. })
    ));
    assert_eq!(
        parse_record(&h("01 FF 00 01 AA")),
        Err(TlvError::RecordLongLength)
    );
    // The card says 4 bytes but sends 3 (short), or 5 (long).
    let e = parse_record(&h("05 04 20 26 06")).expect_err("must be rejected");
    assert_eq!(
        e,
        TlvError::RecordLength {
            tag: 5,
            declared: 4,
            actual: 3
        }
    );
    assert_eq!(
        e.to_string(),
        "record with tag 05 declares 4 value bytes but has 3"
    );
    assert_eq!(
        parse_record(&h("05 04 20 26 06 01 00")),
        Err(TlvError::RecordLength {
            tag: 5,
            declared: 4,
            actual: 5
        })
    );
    assert!(matches!(
        parse_record(&vec![1u8; MAX_INPUT + 1]),
        Err(TlvError::TooLarge { .. })
    ));
}

#[test]
fn encode_record_errors() {
    assert_eq!(
        encode_record(0x01, &[0; 255]),
        Err(TlvError::ValueTooLong { len: 255, max: 254 })
    );
    assert!(matches!(
        encode_record(0x00, b"x"),
        Err(TlvError::InvalidTag { .. })
    ));
    assert!(matches!(
        encode_record(0xFF, b"x"),
        Err(TlvError::InvalidTag { .. })
    ));
}

#[test]
fn simple_all() {
    let data = h("03 04 32 2E 30 30  05 04 20 26 06 01  26 00  01 FF 01 00");
    let mut data = data;
    data.extend([0xAB; 256]);
    let recs = parse_simple_all(&data).expect("records");
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[0].value, b"2.00");
    assert_eq!(recs[2].value, b"");
    assert_eq!(recs[3].value.len(), 256);
    let again: Vec<u8> = recs
        .iter()
        .map(SimpleRecord::to_bytes)
        .collect::<Result<Vec<_>, _>>()
        .expect("encodable")
        .concat();
    assert_eq!(again, data);
    let huge = SimpleRecord {
        tag: 1,
        value: vec![0; 65_536],
    };
    assert_eq!(
        huge.to_bytes(),
        Err(TlvError::ValueTooLong {
            len: 65_536,
            max: 65_535
        })
    );
    assert_eq!(parse_simple_all(&[]), Ok(vec![]));
}

#[test]
fn simple_all_errors_do_not_truncate_silently() {
    // Second record is corrupt: the crate's parse_all would return one record.
    let data = h("03 04 32 2E 30 30  05 09 20 26");
    assert_eq!(
        simple::Tlv::parse_all(&data).len(),
        1,
        "the crate stops silently"
    );
    assert_eq!(
        parse_simple_all(&data),
        Err(TlvError::ValueTruncated {
            offset: 6,
            tag: "05".into(),
            declared: 9,
            available: 2
        })
    );
    assert_eq!(
        parse_simple_all(&h("03 01 AA 05")),
        Err(TlvError::Truncated {
            offset: 4,
            field: "length"
        })
    );
    assert_eq!(
        parse_simple_all(&h("03 01 AA 05 FF 01")),
        Err(TlvError::Truncated {
            offset: 6,
            field: "length"
        })
    );
}

#[test]
fn simple_padding() {
    let data = h("00 03 01 AA FF FF 04 00 00");
    assert_eq!(
        parse_simple_all(&data),
        Err(TlvError::Padding { offset: 0, byte: 0 })
    );
    let recs = parse_simple_all_with(&data, Padding::Skip).expect("skipped");
    assert_eq!(
        recs,
        vec![
            SimpleRecord {
                tag: 3,
                value: vec![0xAA]
            },
            SimpleRecord {
                tag: 4,
                value: vec![]
            }
        ]
    );
}

/// SSSE FCI from spec/cards.md §1.2 with alg 01.
const FCI: &str = "6F 1C 84 0F 7378312E73682EC9E7BBE1B1A3D5CF A5 09 88 01 01 9F 0C 03 86 01 01";

#[test]
fn ber_fci_and_find() {
    let tlvs = parse_ber_all(&h(FCI)).expect("FCI");
    assert_eq!(tlvs.len(), 1);
    let aid = find_ber(&tlvs, &[0x6F, 0x84]).and_then(primitive_value);
    assert_eq!(aid, Some(&h("7378312E73682EC9E7BBE1B1A3D5CF")[..]));
    // Constructed objects are found too (the crate's find never returns them).
    let a5 = find_ber(&tlvs, &[0x6F, 0xA5]).expect("A5");
    assert!(a5.tag().is_constructed());
    assert!(tlvs[0]
        .find(&Tag::try_from(0xA5u32).expect("tag"))
        .is_none());
    assert_eq!(find_ber_any(&tlvs, 0xA5), Some(a5));
    assert_eq!(
        find_ber(&tlvs, &[0x6F, 0xA5, 0x9F0C]).and_then(primitive_value),
        Some(&[0x86, 0x01, 0x01][..])
    );
    assert_eq!(
        find_ber_any(&tlvs, 0x88).and_then(primitive_value),
        Some(&[0x01][..])
    );
    assert_eq!(find_ber(&tlvs, &[0x6F, 0x84, 0x01]), None);
    assert_eq!(find_ber(&tlvs, &[]), None);
    assert_eq!(find_ber_any(&tlvs, 0x99), None);
    assert_eq!(encode_ber(&tlvs), h(FCI));
    assert_eq!(parse_ber_one(&h(FCI)).as_ref(), Ok(&tlvs[0]));
}

#[test]
fn ber_long_forms_and_multibyte_tags() {
    // 5F2D (2-byte tag, rejected by the crate's iso7816_compliant) and 7F 81 22.
    let data = h("5F2D 02 656E 7F8122 00");
    let tlvs = parse_ber_all(&data).expect("tags");
    assert_eq!(tag_number(tlvs[0].tag()), 0x5F2D);
    assert_eq!(tag_number(tlvs[1].tag()), 0x7F8122);
    // 200-byte primitive (81 C8) and 300-byte (82 01 2C).
    let mut data = vec![0x04, 0x81, 200];
    data.extend([0x11; 200]);
    data.extend([0x04, 0x82, 0x01, 0x2C]);
    data.extend([0x22; 300]);
    let tlvs = parse_ber_all(&data).expect("long lengths");
    assert_eq!(tlvs.len(), 2);
    assert_eq!(encode_ber(&tlvs), data);
}

#[test]
fn ber_non_minimal_length_inside_constructed() {
    // A5 (len 9) holding 01 81 05 <5 bytes> + 02 00: the child length is legal
    // BER in a longer form. The crate alone would misparse this; we normalise.
    let data = h("A5 0A 01 81 05 0102030405 02 00");
    let tlvs = parse_ber_all(&data).expect("non-minimal");
    let c = find_ber(&tlvs, &[0xA5, 0x01]).and_then(primitive_value);
    assert_eq!(c, Some(&[1, 2, 3, 4, 5][..]));
    assert!(find_ber(&tlvs, &[0xA5, 0x02]).is_some());
    assert!(
        ber::Tlv::from_bytes(&data).is_err(),
        "the crate by itself cannot parse this"
    );
}

#[test]
fn crate_to_vec_miscounts_127() {
    // Why encode_ber exists: the crate writes 127 as 81 7F but counts 1 byte.
    let child = ber::Tlv::new(
        Tag::try_from(0x04u8).expect("tag"),
        Value::Primitive(vec![0; 127]),
    )
    .expect("child");
    let parent = ber::Tlv::new(
        Tag::try_from(0x30u8).expect("tag"),
        Value::Constructed(vec![child]),
    )
    .expect("parent");
    let ours = encode_ber(std::slice::from_ref(&parent));
    assert_eq!(parse_ber_one(&ours).as_ref(), Ok(&parent));
    assert!(parse_ber_all(&parent.to_vec()).is_err());
}

#[test]
fn ber_errors() {
    assert_eq!(
        parse_ber_all(&h("6F 80 84 00 00 00")),
        Err(TlvError::IndefiniteLength { offset: 1 })
    );
    assert_eq!(
        parse_ber_all(&h("04 85 00 00 00 00 01 AA")),
        Err(TlvError::BadLength {
            offset: 1,
            byte: 0x85
        })
    );
    assert_eq!(
        parse_ber_all(&h("04 82 01")),
        Err(TlvError::Truncated {
            offset: 3,
            field: "length"
        })
    );
    assert_eq!(
        parse_ber_all(&h("5F")),
        Err(TlvError::Truncated {
            offset: 1,
            field: "tag"
        })
    );
    assert_eq!(
        parse_ber_all(&h("04")),
        Err(TlvError::Truncated {
            offset: 1,
            field: "length"
        })
    );
    assert!(matches!(
        parse_ber_all(&h("5F 81 81 01 00")),
        Err(TlvError::InvalidTag { offset: 0, .. })
    ));
    assert_eq!(
        parse_ber_all(&h("84 05 01 02")),
        Err(TlvError::ValueTruncated {
            offset: 0,
            tag: "84".into(),
            declared: 5,
            available: 2
        })
    );
    // A child longer than its parent (the card lied about one of the lengths).
    let e = parse_ber_all(&h("6F 04 84 05 01 02 03 04 05")).expect_err("must be rejected");
    assert_eq!(
        e,
        TlvError::ValueOverrun {
            offset: 2,
            tag: "84".into(),
            declared: 5,
            available: 2,
            parent_offset: 0
        }
    );
    assert!(e.to_string().starts_with("offset 2: tag 84 declares 5"));
    // A child header cut by the parent's end.
    assert_eq!(
        parse_ber_all(&h("6F 01 84 00")),
        Err(TlvError::Truncated {
            offset: 3,
            field: "length"
        })
    );
    // Corrupt second object: an error, not a shorter list.
    assert!(parse_ber_all(&h("84 01 AA 85 09 00")).is_err());
    assert_eq!(ber::Tlv::parse_all(&h("84 01 AA 85 09 00")).len(), 1);
    // parse_ber_one insists on exactly one object.
    assert_eq!(
        parse_ber_one(&h("84 01 AA 85 00")),
        Err(TlvError::TrailingData {
            offset: 3,
            count: 2
        })
    );
    assert!(parse_ber_one(&[]).is_err());
    assert!(matches!(
        parse_ber_all(&vec![0x04; MAX_INPUT + 1]),
        Err(TlvError::TooLarge { .. })
    ));
}

#[test]
fn ber_padding() {
    let data = h("00 FF 84 01 AA 00 00 85 00 FF");
    assert_eq!(
        parse_ber_all(&data),
        Err(TlvError::Padding { offset: 0, byte: 0 })
    );
    let tlvs = parse_ber_all_with(&data, Padding::Skip).expect("skip");
    assert_eq!(tlvs.len(), 2);
    // Inside a constructed object padding is always an error.
    assert_eq!(
        parse_ber_all_with(&h("A5 03 00 01 00"), Padding::Skip),
        Err(TlvError::Padding { offset: 2, byte: 0 })
    );
}

#[test]
fn depth_limit() {
    assert!(parse_ber_all(&nested(MAX_DEPTH - 1)).is_ok());
    let e = parse_ber_all(&nested(MAX_DEPTH)).expect_err("must be rejected");
    assert!(
        matches!(
            e,
            TlvError::TooDeep {
                depth: 17,
                max: 16,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // 8000 levels is about 32 KB: under the size limit, so the depth check stops it.
    let data = nested(8000);
    assert!(data.len() <= MAX_INPUT);
    assert!(matches!(
        parse_ber_all(&data),
        Err(TlvError::TooDeep { depth: 17, .. })
    ));
    assert!(matches!(
        parse_ber_all_with(&data, Padding::Skip),
        Err(TlvError::TooDeep { .. })
    ));
    // 100000 levels is over the size limit.
    let data = nested(100_000);
    assert!(matches!(
        parse_ber_all(&data),
        Err(TlvError::TooLarge { .. })
    ));
    // Constructed headers with no content at all (a truncated deep nest).
    let data: Vec<u8> = [0x21, 0x82, 0xFF, 0xFF].repeat(8000);
    assert!(parse_ber_all(&data).is_err());
}

#[test]
fn object_limit() {
    // A flat constructed object with many children would be quadratic in the crate.
    let n = MAX_OBJECTS; // the parent counts too, so this is one over
    let mut data = vec![0x30, 0x82];
    data.extend(u16::try_from(2 * n).expect("fits").to_be_bytes());
    data.extend([0x01, 0x00].repeat(n));
    assert!(matches!(
        parse_ber_all(&data),
        Err(TlvError::TooManyObjects {
            max: MAX_OBJECTS,
            ..
        })
    ));
    let n = MAX_OBJECTS - 1;
    let mut data = vec![0x30, 0x82];
    data.extend(u16::try_from(2 * n).expect("fits").to_be_bytes());
    data.extend([0x01, 0x00].repeat(n));
    let tlvs = parse_ber_all(&data).expect("at the limit");
    assert_eq!(encode_ber(&tlvs), data);
}

#[test]
fn errors_are_std_errors() {
    fn takes(_: &dyn std::error::Error) {}
    takes(&TlvError::Crate {
        offset: 0,
        kind: iso7816_tlv::TlvError::InvalidInput,
    });
}

#[test]
fn fuzz_check_on_examples() {
    for d in [
        FCI,
        "03 04 32 2E 30 30",
        "A5 0A 01 81 05 0102030405 02 00",
        "",
    ] {
        fuzz_check(&h(d));
    }
}

proptest! {
    #[test]
    fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        fuzz_check(&data);
    }

    #[test]
    fn never_panics_structured(
        parts in proptest::collection::vec(
            (prop_oneof![Just(0x21u8), Just(0x61), Just(0x04), Just(0x5F), Just(0x00), any::<u8>()],
             0u8..0x86,
             proptest::collection::vec(any::<u8>(), 0..6)),
            0..24)
    ) {
        let mut data = Vec::new();
        for (t, l, v) in parts {
            data.push(t);
            data.push(l);
            data.extend(v);
        }
        fuzz_check(&data);
    }

    #[test]
    fn record_round_trips(tag in 1u8..0xFF, value in proptest::collection::vec(any::<u8>(), 0..=254)) {
        let enc = encode_record(tag, &value).expect("valid");
        prop_assert_eq!(parse_record(&enc), Ok(SimpleRecord { tag, value }));
    }
}
