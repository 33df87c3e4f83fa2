//! Tests of the virtual card against spec/cards.md, using the reference images in
//! `cards/`. They run the card in-process (bytes in, bytes out) and, for the
//! connector, against a fake vpcd on a local socket; no pcscd needed.
//!
//! Set `SSCARD_BLESS_CARDS=1` to rewrite `cards/*.json` in canonical form (the form
//! the card itself saves); the test then checks that nothing else changed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::image::{CardImage, HexByte};
use super::*;
use crate::crypto::{cryptogram, diversify, Algorithm};

const SSSE_AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";
const IMAGES: [&str; 6] = [
    "ssc-1.00.json",
    "ssc-2.00.json",
    "ssc-3.00.json",
    "ssc-3.00-second.json",
    "city.json",
    "psam.json",
];

fn cards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards")
}

fn load(name: &str) -> Card {
    let mut c = Card::load(&cards_dir().join(name)).unwrap();
    c.power_on();
    c
}

/// Sends a hex APDU, returns the hex answer (data + SW).
fn x(card: &mut Card, apdu: &str) -> String {
    let bytes = hex::decode(apdu.replace(' ', "")).unwrap();
    hex::encode_upper(card.process(&bytes))
}

/// Sends a hex APDU and returns only the SW.
fn sw(card: &mut Card, apdu: &str) -> String {
    let r = x(card, apdu);
    r[r.len() - 4..].to_string()
}

/// The test master key (app, id) from psam.json.
fn master(app: u8, id: u8) -> [u8; 16] {
    let img = CardImage::load(&cards_dir().join("psam.json")).unwrap();
    let df = &img.mf.dfs[0];
    let m = df
        .master_keys
        .iter()
        .find(|m| m.app == HexByte(app) && m.id == HexByte(id))
        .unwrap();
    *m.key.0.bytes()
}

/// Value of the first record with `tag` in the EF at `path` of an image.
fn image_value(img: &CardImage, dfs: &[usize], ef: usize, tag: u8) -> Vec<u8> {
    let mut df = &img.mf;
    for &i in dfs {
        df = &df.dfs[i];
    }
    df.efs[ef]
        .records
        .iter()
        .find(|r| r.tag == Some(HexByte(tag)))
        .unwrap()
        .encode()
        .unwrap()[2..]
        .to_vec()
}

fn ssc_d(img: &CardImage) -> [u8; 8] {
    let id = image_value(img, &[0], 0, 0x01);
    id[8..16].try_into().unwrap()
}

/// GET CHALLENGE + EXTERNAL AUTHENTICATE with `key`; returns the SW.
fn auth(card: &mut Card, key: &[u8; 16], kid: u8) -> String {
    let r = card.process(&[0x00, 0x84, 0x00, 0x00, 0x08]);
    assert_eq!(&r[8..], &[0x90, 0x00]);
    let ch: [u8; 8] = r[..8].try_into().unwrap();
    let c = cryptogram(card.algorithm(), key, &ch);
    let mut apdu = vec![0x00, 0x82, 0x00, kid, c.len() as u8];
    apdu.extend_from_slice(&c);
    hex::encode_upper(card.process(&apdu))
}

fn ssc_key(name: &str, kid: u8) -> [u8; 16] {
    let img = CardImage::load(&cards_dir().join(name)).unwrap();
    let alg = Algorithm::from_id(img.alg.0).unwrap();
    diversify(alg, &master(0x01, kid), &ssc_d(&img))
}

fn select_ssse(card: &mut Card) {
    assert_eq!(sw(card, &format!("00A404000F{SSSE_AID}")), "611E");
}

// ---------------------------------------------------------------- images

#[test]
fn images_are_canonical() {
    let bless = std::env::var_os("SSCARD_BLESS_CARDS").is_some();
    for name in IMAGES {
        let path = cards_dir().join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let card = Card::load(&path).unwrap();
        let canonical = card.to_image().to_json();
        if bless && canonical != text {
            std::fs::write(&path, &canonical).unwrap();
            // The rewrite must not change the card.
            let again = Card::load(&path).unwrap().to_image().to_json();
            assert_eq!(again, canonical, "{name}");
        } else {
            assert_eq!(
                canonical, text,
                "{name} is not in canonical form (SSCARD_BLESS_CARDS=1)"
            );
        }
    }
}

#[test]
fn image_keys_are_diversified_from_the_psam_masters() {
    for (name, app) in [
        ("ssc-1.00.json", 1),
        ("ssc-2.00.json", 1),
        ("ssc-3.00.json", 1),
        ("ssc-3.00-second.json", 1),
        ("city.json", 2),
    ] {
        let img = CardImage::load(&cards_dir().join(name)).unwrap();
        let alg = Algorithm::from_id(img.alg.0).unwrap();
        let d: [u8; 8] = if app == 1 {
            ssc_d(&img)
        } else {
            let no = image_value(&img, &[0], 0, 0x07);
            no[no.len() - 8..].try_into().unwrap()
        };
        let mut seen = 0;
        let mut stack = vec![&img.mf];
        while let Some(df) = stack.pop() {
            for k in &df.keys {
                let expect = diversify(alg, &master(app, k.id.0), &d);
                assert_eq!(k.key.0.bytes(), &expect, "{name} key {:02X}", k.id.0);
                seen += 1;
            }
            stack.extend(df.dfs.iter());
        }
        assert!(seen >= 1, "{name} has keys");
    }
    // And the 2.00 card matches the printed vectors of §6.
    assert_eq!(
        hex::encode_upper(ssc_key("ssc-2.00.json", 0x0C)),
        "ED3FDC48C5F05104AED73DE1D91BD1AE"
    );
    assert_eq!(
        hex::encode_upper(ssc_key("ssc-2.00.json", 0x06)),
        "5E1236D58957518F6AA9C6D4C9C57587"
    );
    assert_eq!(
        hex::encode_upper(ssc_key("ssc-2.00.json", 0x01)),
        "B6832B79663AFC78EF88BF4E6774EE6B"
    );
}

#[test]
fn ssc_images_follow_section_7() {
    for (name, gen, alg) in [
        ("ssc-1.00.json", "1.00", 1u8),
        ("ssc-2.00.json", "2.00", 1),
        ("ssc-3.00.json", "3.00", 3),
        ("ssc-3.00-second.json", "3.00", 3),
    ] {
        let img = CardImage::load(&cards_dir().join(name)).unwrap();
        assert_eq!(img.alg.0, alg);
        let fci = img.mf.dfs[0].fci.as_ref().unwrap();
        assert_eq!(fci.0.last(), Some(&alg), "{name}: FCI alg byte");
        assert_eq!(image_value(&img, &[0], 0, 0x03), gen.as_bytes());
        let id = image_value(&img, &[0], 0, 0x01);
        assert_eq!(hex::encode_upper(&id[..8]), "639900D156000005");
        // ATR: city code 6399 and the last 4 chip bytes as serial.
        assert_eq!(&img.atr.0[11..13], &[0x63, 0x99]);
        assert_eq!(&img.atr.0[13..], &id[12..]);
        let no = image_value(&img, &[0], 0, 0x07);
        assert!(ssc_card_number_ok(&no), "{name}: card number check char");
        assert_eq!(image_value(&img, &[0], 1, 0x08), b"111111198101011110");
    }
    let img = CardImage::load(&cards_dir().join("ssc-2.00.json")).unwrap();
    assert_eq!(
        hex::encode_upper(&img.atr.0),
        "3B6D00000081544C968684639948FB4966"
    );
    assert_eq!(
        hex::encode_upper(image_value(&img, &[0], 0, 0x01)),
        "639900D15600000500BF7C7A48FB4966"
    );
    assert_eq!(image_value(&img, &[0], 0, 0x07), b"X00000019");
}

/// spec/cards.md §5.2.
fn ssc_card_number_ok(no: &[u8]) -> bool {
    let w = [3u32, 7, 9, 10, 5, 8, 4, 2];
    let mut sum = 0;
    for (c, w) in no[..8].iter().zip(w) {
        let v = match c {
            b'0'..=b'9' => u32::from(c - b'0'),
            b'A'..=b'Z' => u32::from(c - b'A') + 10,
            _ => return false,
        };
        sum += v * w;
    }
    let r = 11 - sum % 11;
    let check = match r {
        10 => b'X',
        11 => b'0',
        d => b'0' + d as u8,
    };
    no.len() == 9 && no[8] == check
}

fn image_error(json: &str) -> VcardError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, json).unwrap();
    Card::load(&path).unwrap_err()
}

#[test]
fn bad_images_name_file_and_field() {
    let base = r#"{"format":1,"atr":"3B00","alg":"01","mf":{"fid":"3F00","efs":[EF]}}"#;
    let cases = [
        (
            r#"{"fid":"EF01","sfi":"01","structure":"cyclic"}"#,
            "record_size",
        ),
        (r#"{"fid":"EF01","sfi":"20","structure":"linear"}"#, "sfi"),
        (
            r#"{"fid":"EF01","structure":"linear","records":[{"hex":"0102"}]}"#,
            "records[0]",
        ),
        (
            r#"{"fid":"EF01","structure":"linear","records":[{"tag":"01","ascii":"张"}]}"#,
            "records[0]",
        ),
        (r#"{"fid":"EF01","structure":"transparent"}"#, "data"),
        (
            r#"{"fid":"EF01","sfi":"01","structure":"linear"},{"fid":"EF02","sfi":"01","structure":"linear"}"#,
            "sfi",
        ),
    ];
    for (ef, field) in cases {
        match image_error(&base.replace("EF", ef)) {
            VcardError::InvalidImage { file, field: f, .. } => {
                assert!(file.ends_with("bad.json"));
                assert!(f.contains(field), "{f} should name {field}");
            }
            other => panic!("{ef}: {other}"),
        }
    }
    for bad in [
        r#"{"format":1,"atr":"3B00","alg":"01","mf":{"fid":"3F00","typo":1}}"#,
        r#"{"format":1,"atr":"3B0","alg":"01","mf":{}}"#,
        r#"{"format":1,"atr":"3B00","alg":"1","mf":{}}"#,
        r#"{"format":1,"atr":"3B00","alg":"01","mf":{"keys":[{"id":"01","key":"00","tries":1,"max_tries":1}]}}"#,
        "not json",
    ] {
        let e = image_error(bad);
        assert!(matches!(e, VcardError::ParseImage { .. }), "{bad}: {e}");
        // Key material is never echoed in errors.
        assert!(!e.to_string().contains("\"00\""), "{e}");
    }
    for (bad, field) in [
        (r#"{"format":2,"atr":"3B00","alg":"01","mf":{}}"#, "format"),
        (r#"{"format":1,"atr":"3B00","alg":"02","mf":{}}"#, "alg"),
        (
            r#"{"format":1,"atr":"3B00","alg":"01","mf":{"fid":"3F01"}}"#,
            "mf.fid",
        ),
        (
            r#"{"format":1,"atr":"3B00","alg":"01","mf":{"dfs":[{"aid":"A0"},{"aid":"A0"}]}}"#,
            "DF",
        ),
        (
            r#"{"format":1,"atr":"3B00","alg":"01","mf":{"pins":[{"id":"00","pin":"1234","tries":7,"max_tries":6}]}}"#,
            "tries",
        ),
    ] {
        match image_error(bad) {
            VcardError::InvalidImage { field: f, .. } => {
                assert!(f.contains(field), "{f} vs {field}")
            }
            other => panic!("{bad}: {other}"),
        }
    }
    assert!(matches!(
        Card::load(Path::new("/nonexistent/card.json")),
        Err(VcardError::ReadImage { .. })
    ));
}

#[test]
fn save_is_atomic_and_round_trips_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("city.json");
    std::fs::copy(cards_dir().join("city.json"), &path).unwrap();
    let mut card = Card::load(&path).unwrap();
    card.power_on();
    assert_eq!(sw(&mut card, "00A4040008F059422E43495459"), "9000");
    let key = diversify(Algorithm::Tdes, &master(2, 0x0C), b"99000123");
    assert_eq!(auth(&mut card, &key, 0x0C), "9000");
    // Tag 27 is ASCII in the image, tag 23 hex: each keeps its form.
    assert_eq!(
        sw(
            &mut card,
            &format!("00DC27080B2709{}", hex::encode(b"X00000019"))
        ),
        "9000"
    );
    assert_eq!(sw(&mut card, "00DC230806230400000000"), "9000");
    assert!(card.take_changed());
    assert!(!card.take_changed());
    card.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"ascii\": \"X00000019\""), "{text}");
    assert!(text.contains("\"hex\": \"00000000\""));
    assert!(text.contains("target SSC card number"), "note kept");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
    let mut again = Card::load(&path).unwrap();
    again.power_on();
    assert_eq!(sw(&mut again, "00A4040008F059422E43495459"), "9000");
    assert_eq!(
        x(&mut again, "00B2270800"),
        format!("2709{}9000", hex::encode_upper(b"X00000019"))
    );
    assert_eq!(x(&mut again, "00B2230800"), "2304000000009000");
}

// ---------------------------------------------------------------- SSC

#[test]
fn ssse_select_and_fci() {
    for (name, alg) in [
        ("ssc-1.00.json", "01"),
        ("ssc-2.00.json", "01"),
        ("ssc-3.00.json", "03"),
    ] {
        let mut c = load(name);
        select_ssse(&mut c);
        assert_eq!(
            x(&mut c, "00C000001E"),
            format!("6F1C840F{SSSE_AID}A5098801019F0C038601{alg}9000")
        );
    }
}

#[test]
fn get_response_partial_larger_and_none() {
    let mut c = load("ssc-2.00.json");
    assert_eq!(sw(&mut c, "00C0000000"), "6985");
    select_ssse(&mut c);
    let first = x(&mut c, "00C0000010");
    assert_eq!(&first[first.len() - 4..], "610E");
    assert_eq!(first.len(), 16 * 2 + 4);
    assert_eq!(sw(&mut c, "00C0000020"), "6C0E");
    let rest = x(&mut c, "00C000000E");
    assert_eq!(
        format!("{}{}", &first[..32], rest),
        format!("6F1C840F{SSSE_AID}A5098801019F0C0386010190 00").replace(' ', "")
    );
    // Le 00 gets all; any other command discards the pending data.
    select_ssse(&mut c);
    assert_eq!(x(&mut c, "00C0000000").len(), 30 * 2 + 4);
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00B2012C00"), "9000");
    assert_eq!(sw(&mut c, "00C000001E"), "6985");
    // A 4-byte GET RESPONSE is Le 00.
    select_ssse(&mut c);
    assert_eq!(x(&mut c, "00C00000").len(), 30 * 2 + 4);
    // SELECT with P2 0C gives no FCI.
    assert_eq!(sw(&mut c, &format!("00A4040C0F{SSSE_AID}")), "9000");
}

#[test]
fn read_every_field_of_the_2_00_card() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    let ef05 = [
        (0x01, "639900D15600000500BF7C7A48FB4966".to_string()),
        (0x02, hex::encode_upper("3")),
        (0x03, hex::encode_upper("2.00")),
        (0x04, hex::encode_upper("639900000001")),
        (0x05, "20260601".into()),
        (0x06, "20360601".into()),
        (0x07, hex::encode_upper("X00000019")),
    ];
    for (n, (tag, value)) in ef05.iter().enumerate() {
        let rec = format!("{tag:02X}{:02X}{value}9000", value.len() / 2);
        assert_eq!(
            x(&mut c, &format!("00B2{tag:02X}2800")),
            rec,
            "by SFI and tag"
        );
        assert_eq!(
            x(&mut c, &format!("00B2{:02X}2C00", n + 1)),
            rec,
            "by SFI and number"
        );
        assert_eq!(
            x(
                &mut c,
                &format!("00B2{tag:02X}00{:02X}", value.len() / 2 + 2)
            ),
            rec,
            "current EF, exact Le"
        );
        assert_eq!(
            x(&mut c, &format!("00B2{:02X}0400", n + 1)),
            rec,
            "current EF by number"
        );
        assert_eq!(
            sw(&mut c, &format!("00B2{tag:02X}2801")),
            format!("6C{:02X}", value.len() / 2 + 2)
        );
    }
    let name = format!("D5C5C8FD{}", "00".repeat(26));
    let ef06 = [
        (0x08, hex::encode_upper("111111198101011110")),
        (0x09, name),
        (0x4E, "FF".repeat(20)),
        (0x0A, hex::encode_upper("1")),
        (0x0B, "01".into()),
        (0x0C, "639900".into()),
        (0x0D, "19810101".into()),
    ];
    for (n, (tag, value)) in ef06.iter().enumerate() {
        let rec = format!("{tag:02X}{:02X}{value}9000", value.len() / 2);
        assert_eq!(x(&mut c, &format!("00B2{tag:02X}3000")), rec);
        assert_eq!(x(&mut c, &format!("00B2{:02X}3400", n + 1)), rec);
    }
    assert_eq!(sw(&mut c, "00B2083400"), "6A83", "no record 8");
    assert_eq!(sw(&mut c, "00B2993000"), "6A83", "no tag 99");
    assert_eq!(sw(&mut c, "00B2013C00"), "6A82", "no SFI 7");
    assert_eq!(sw(&mut c, "00B2002C00"), "6A86", "record 0");
    assert_eq!(sw(&mut c, "00B2012D00"), "6A86", "P2 form 101");
    assert_eq!(sw(&mut c, "00B2012C0100"), "6700", "data in READ RECORD");
    // Medical area: by AID, and by FID from within SSSE.
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    assert_eq!(x(&mut c, "00B2222800"), "2201009000");
    assert_eq!(x(&mut c, "00B2014400"), format!("{}9000", "00".repeat(32)));
    assert_eq!(sw(&mut c, "00B2014000"), "6981", "no tags in a cyclic EF");
    assert_eq!(
        sw(&mut c, "00B2014C00"),
        "6A82",
        "EF06 is not visible from DF04"
    );
    assert_eq!(
        sw(&mut c, "00A4000002DF04"),
        "9000",
        "DF04 by FID from itself"
    );
    assert_eq!(sw(&mut c, "00A4040006D15600000503"), "9000");
    assert_eq!(sw(&mut c, "00A4000002EF06"), "6A82");
    assert_eq!(sw(&mut c, "00A40000023F00"), "9000");
    assert_eq!(
        sw(&mut c, "00A4000002DF04"),
        "6A82",
        "DF04 is not a child of the MF"
    );
}

#[test]
fn current_ef_rules() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00B2010400"), "6986");
    assert_eq!(sw(&mut c, "00A4020002EF05"), "9000");
    assert_eq!(
        x(&mut c, "00B2030400"),
        format!("0304{}9000", hex::encode_upper("2.00"))
    );
    assert_eq!(sw(&mut c, "00A4020002EF07"), "6A82");
    // SFI access makes the EF current.
    assert_eq!(sw(&mut c, "00B2013400"), "9000");
    assert_eq!(x(&mut c, "00B20A0000"), "0A01319000");
    // Selecting a DF forgets the current EF.
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00B2010400"), "6986");
    assert_eq!(sw(&mut c, "00A40000023F01"), "6A82");
    assert_eq!(sw(&mut c, "00A4000003EF0500"), "6700");
    assert_eq!(
        sw(&mut c, &format!("00A4040010{}", "00".repeat(16))),
        "6A82"
    );
    assert_eq!(sw(&mut c, "00A4010002EF05"), "6A86");
    assert_eq!(sw(&mut c, "00A4000102EF05"), "6A86");
}

#[test]
fn ssc_1_00_numbering_has_no_4e() {
    let mut c = load("ssc-1.00.json");
    select_ssse(&mut c);
    assert_eq!(x(&mut c, "00B2033400"), "0A01319000");
    assert_eq!(x(&mut c, "00B2063400"), "0D04198101019000");
    assert_eq!(sw(&mut c, "00B2073400"), "6A83");
    assert_eq!(sw(&mut c, "00B24E3000"), "6A83");
    assert_eq!(
        x(&mut c, "00B2032800"),
        format!("0304{}9000", hex::encode_upper("1.00"))
    );
}

#[test]
fn ssc_3_00_holder_data_needs_key_0a() {
    let mut c = load("ssc-3.00.json");
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00B2083000"), "6982");
    assert_eq!(sw(&mut c, "00B2012800"), "9000", "EF05 stays readable");
    let key = ssc_key("ssc-3.00.json", 0x0A);
    assert_eq!(auth(&mut c, &key, 0x0A), "9000");
    assert_eq!(
        x(&mut c, "00B2083000"),
        format!("0812{}9000", hex::encode_upper("111111198101011110"))
    );
    assert_eq!(sw(&mut c, "00B24E3000"), "9000");
    // A reset clears it.
    c.reset();
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00B2083000"), "6982");
    // SM4 cryptograms are 16 bytes: an 8-byte one is a wrong length.
    assert_eq!(sw(&mut c, "0084000008"), "9000");
    assert_eq!(
        sw(
            &mut c,
            "008200 0A 08 0000000000000000".replace(' ', "").as_str()
        ),
        "6700"
    );
}

#[test]
fn internal_authenticate_matches_the_vectors() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    assert_eq!(x(&mut c, "0088000108 0102030405060708"), "6108");
    assert_eq!(x(&mut c, "00C0000008"), "1FD71B7483CE1E019000");
    // With a trailing Le it is still answered by 61 xx.
    assert_eq!(x(&mut c, "0088000108010203040506070800"), "6108");
    assert_eq!(
        sw(
            &mut c,
            "0088000107 01020304050607".replace(' ', "").as_str()
        ),
        "6700"
    );
    assert_eq!(
        sw(
            &mut c,
            "0088000208 0102030405060708".replace(' ', "").as_str()
        ),
        "6A88"
    );
    // Key 01 lives in SSSE and is found from DF04 too, not from the MF.
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    assert_eq!(x(&mut c, "00880001080102030405060708"), "6108");
    assert_eq!(x(&mut c, "00C0000000"), "1FD71B7483CE1E019000");
    assert_eq!(sw(&mut c, "00A40000023F00"), "9000");
    assert_eq!(sw(&mut c, "00880001080102030405060708"), "6A88");
    let mut s = load("ssc-3.00.json");
    select_ssse(&mut s);
    assert_eq!(x(&mut s, "00880001080102030405060708"), "6110");
    let k = ssc_key("ssc-3.00.json", 0x01);
    let expect = cryptogram(Algorithm::Sm4, &k, &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(
        x(&mut s, "00C0000010"),
        format!("{}9000", hex::encode_upper(expect))
    );
}

#[test]
fn external_authenticate_counters_and_challenge() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    let key = ssc_key("ssc-2.00.json", 0x0C);
    assert_eq!(
        sw(
            &mut c,
            "00820 00C 08 1122334455667788".replace(' ', "").as_str()
        ),
        "6984"
    );
    // The challenge is valid for the next command only.
    assert_eq!(sw(&mut c, "0084000008"), "9000");
    assert_eq!(sw(&mut c, "00B2012C00"), "9000");
    assert_eq!(
        sw(
            &mut c,
            "00820 00C 08 1122334455667788".replace(' ', "").as_str()
        ),
        "6984"
    );
    assert_eq!(sw(&mut c, "0084000004"), "6C08");
    assert_eq!(sw(&mut c, "0084000108"), "6A86");
    let wrong = [0x55u8; 16];
    for left in (0..5).rev() {
        assert_eq!(auth(&mut c, &wrong, 0x0C), format!("63C{left}"));
    }
    assert!(c.take_changed());
    assert_eq!(
        auth(&mut c, &key, 0x0C),
        "6983",
        "blocked even with the right key"
    );
    // The counter is persistent.
    let img = c.to_image();
    assert_eq!(img.mf.dfs[0].dfs[0].keys[0].tries, 0);
    let mut fresh = load("ssc-2.00.json");
    select_ssse(&mut fresh);
    assert_eq!(sw(&mut fresh, "00A4040006D15600000503"), "9000");
    assert_eq!(auth(&mut fresh, &wrong, 0x0C), "63C4");
    assert_eq!(auth(&mut fresh, &key, 0x0C), "9000");
    assert_eq!(
        fresh.to_image().mf.dfs[0].dfs[0].keys[0].tries,
        5,
        "success restores tries"
    );
    assert_eq!(auth(&mut fresh, &key, 0x0B), "6A88");
}

#[test]
fn df04_writes_need_key_0c_and_are_cleared_by_df_change() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    assert_eq!(sw(&mut c, "00DC222803220101"), "6982");
    let key = ssc_key("ssc-2.00.json", 0x0C);
    assert_eq!(auth(&mut c, &key, 0x0C), "9000");
    assert!(
        !c.take_changed(),
        "auth success at full tries changes nothing"
    );
    assert_eq!(sw(&mut c, "00DC222803220101"), "9000");
    assert!(c.take_changed());
    assert_eq!(x(&mut c, "00B2222800"), "2201019000");
    // Whole record with same tag and length only.
    assert_eq!(sw(&mut c, "00DC22280422010100"), "6700");
    assert_eq!(sw(&mut c, "00DC222803230101"), "6700");
    assert_eq!(sw(&mut c, "00DC042C03220101"), "6700", "record 4 is tag 23");
    assert_eq!(sw(&mut c, "00DC042C06230400000064"), "9000");
    assert_eq!(x(&mut c, "00B2232800"), "2304000000649000");
    assert_eq!(sw(&mut c, "00DC992803990101"), "6A83");
    assert_eq!(sw(&mut c, "00DC222403220101"), "6A82", "no SFI 4");
    assert_eq!(sw(&mut c, "00DC002C03220101"), "6A86", "record 0");
    // Append to the log: the new record is number 1.
    let rec1 = format!("01{}", "11".repeat(31));
    let rec2 = format!("02{}", "22".repeat(31));
    assert_eq!(sw(&mut c, &format!("00E2004020{rec1}")), "9000");
    assert_eq!(sw(&mut c, &format!("00E2004020{rec2}")), "9000");
    assert_eq!(x(&mut c, "00B2014400"), format!("{rec2}9000"));
    assert_eq!(x(&mut c, "00B2024400"), format!("{rec1}9000"));
    assert_eq!(x(&mut c, "00B20A4400"), format!("{}9000", "00".repeat(32)));
    assert_eq!(sw(&mut c, "00B20B4400"), "6A83");
    assert_eq!(sw(&mut c, "00E200401F00"), "6700");
    assert_eq!(
        sw(&mut c, "00E2002803220101"),
        "6981",
        "append to a linear EF"
    );
    assert_eq!(sw(&mut c, &format!("00E2014020{rec1}")), "6A86");
    for i in 0..12u8 {
        assert_eq!(
            sw(&mut c, &format!("00E2004020{i:02X}{}", "00".repeat(31))),
            "9000"
        );
    }
    assert_eq!(
        x(&mut c, "00B20A4400"),
        format!("02{}9000", "00".repeat(31))
    );
    // Leaving the DF and coming back clears the authentication.
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    assert_eq!(sw(&mut c, "00DC222803220100"), "6982");
    assert_eq!(auth(&mut c, &key, 0x0C), "9000");
    c.power_off();
    c.power_on();
    assert_eq!(sw(&mut c, "00A4040006D15600000503"), "9000");
    assert_eq!(sw(&mut c, "00DC222803220100"), "6982");
    // Read-only files stay read-only.
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "00DC0728050703583030"), "6982");
}

#[test]
fn pin_verify_change_and_reload() {
    let mut c = load("ssc-2.00.json");
    assert_eq!(sw(&mut c, "0020000003123456"), "9000");
    assert_eq!(sw(&mut c, "0020000000"), "9000", "query after success");
    assert_eq!(sw(&mut c, "0020000003123457"), "63C5");
    assert_eq!(sw(&mut c, "00200000"), "63C5", "query");
    assert_eq!(sw(&mut c, "0020000003123456"), "9000");
    assert_eq!(sw(&mut c, "0020000103123456"), "6A88");
    assert_eq!(sw(&mut c, "0020010003123456"), "6A86");
    // CHANGE PIN.
    assert_eq!(sw(&mut c, "805E010007123456FF654321"), "9000");
    assert_eq!(sw(&mut c, "0020000003123456"), "63C5");
    assert_eq!(sw(&mut c, "0020000003654321"), "9000");
    assert_eq!(sw(&mut c, "805E010007000000FF111111"), "63C5");
    assert_eq!(sw(&mut c, "805E010007654321EE111111"), "6A80");
    assert_eq!(sw(&mut c, "805E010007654321FF1111AA"), "6A80");
    assert_eq!(sw(&mut c, "805E010006654321FF1111"), "6700");
    assert_eq!(
        sw(&mut c, "005E010007654321FF111111"),
        "6E00",
        "proprietary INS needs CLA 80"
    );
    assert_eq!(sw(&mut c, "0020000003654321"), "9000");
    // Block it.
    for left in (0..6).rev() {
        assert_eq!(sw(&mut c, "0020000003000000"), format!("63C{left}"));
    }
    assert_eq!(sw(&mut c, "0020000003654321"), "6983");
    assert_eq!(sw(&mut c, "805E010007654321FF111111"), "6983");
    // RELOAD PIN needs key 06 in SSSE.
    assert_eq!(sw(&mut c, "805E000003112233"), "6982");
    select_ssse(&mut c);
    assert_eq!(sw(&mut c, "805E000003112233"), "6982");
    assert_eq!(auth(&mut c, &ssc_key("ssc-2.00.json", 0x06), 0x06), "9000");
    assert_eq!(sw(&mut c, "805E0000031122AA"), "6A80");
    assert_eq!(sw(&mut c, "805E000003112233"), "9000");
    assert_eq!(sw(&mut c, "805E020003112233"), "6A86");
    assert_eq!(sw(&mut c, "0020000003112233"), "9000");
    let img = c.to_image();
    assert_eq!(img.mf.pins[0].tries, 6);
    assert_eq!(img.mf.pins[0].pin.0.as_str(), "112233");
}

// ---------------------------------------------------------------- CITY

#[test]
fn city_card() {
    let mut c = load("city.json");
    assert_eq!(
        c.atr(),
        hex::decode("3B68000059422E4349545931").unwrap().as_slice()
    );
    assert_eq!(sw(&mut c, "00A40000021001"), "9000", "DF by FID");
    assert_eq!(
        sw(&mut c, "00A4040008F059422E43495459"),
        "9000",
        "DF by AID, no FCI"
    );
    assert_eq!(
        x(&mut c, "00B2070800"),
        format!("070A{}9000", hex::encode_upper("6399000123"))
    );
    assert_eq!(
        x(&mut c, "00B2010C00"),
        format!("070A{}9000", hex::encode_upper("6399000123"))
    );
    assert_eq!(x(&mut c, "00B2230800"), "23040001E2409000");
    assert_eq!(
        x(&mut c, "00B2270800"),
        format!("2709{}9000", "20".repeat(9))
    );
    assert_eq!(sw(&mut c, "0020000003135790"), "9000");
    assert_eq!(
        sw(&mut c, "00E2000820".to_string().as_str()),
        "6D00",
        "no APPEND on CITY"
    );
    assert_eq!(sw(&mut c, "00880001080102030405060708"), "6D00");
    assert_eq!(sw(&mut c, "00DC220803220101"), "6982");
    let key = diversify(Algorithm::Tdes, &master(2, 0x0C), b"99000123");
    assert_eq!(hex::encode_upper(key), "F38AAF877656CF3A87B8568C22E633AE");
    assert_eq!(auth(&mut c, &key, 0x0C), "9000");
    for status in ["01", "02", "03"] {
        assert_eq!(
            sw(&mut c, &format!("00DC22080322 01{status}")),
            "9000".to_string(),
            "{status}"
        );
        assert_eq!(
            sw(&mut c, "0020000003135790"),
            "6985",
            "refused at status {status}"
        );
        assert_eq!(sw(&mut c, "0020000003000000"), "6985", "no try used");
    }
    assert_eq!(sw(&mut c, "00DC220803220100"), "9000");
    assert_eq!(sw(&mut c, "0020000003000000"), "63C4");
    assert_eq!(sw(&mut c, "0020000003135790"), "9000");
}

// ---------------------------------------------------------------- PSAM

#[test]
fn psam_commands() {
    let mut p = load("psam.json");
    assert_eq!(
        x(&mut p, "00B0960006"),
        "6399000000019000",
        "terminal number from the MF"
    );
    assert_eq!(sw(&mut p, "80FA0000080102030405060708"), "6985");
    assert_eq!(
        sw(&mut p, "801A010C090100BF7C7A48FB4966"),
        "6A88",
        "no master keys in the MF"
    );
    assert_eq!(sw(&mut p, "00A4040006D15600000590"), "9000");
    assert_eq!(
        x(&mut p, "00B0960006"),
        "6399000000019000",
        "shared EF16 from the application"
    );
    assert_eq!(x(&mut p, "00B0960000"), "6399000000019000");
    assert_eq!(
        x(&mut p, "00B0960204"),
        "0000000190009000".replacen("9000", "", 1)
    );
    assert_eq!(sw(&mut p, "00B0960007"), "6C06");
    assert_eq!(sw(&mut p, "00B0960600"), "6B00");
    assert_eq!(sw(&mut p, "00B0000000"), "9000", "EF16 is now current");
    assert_eq!(sw(&mut p, "00B0970006"), "6A82");
    let vectors = [
        ("010C", "01", "0102030405060708", "33C2C17134EC6D91"),
        (
            "010C",
            "03",
            "01020304050607080000000000000000",
            "78A27CA74A058AD427CFF97C40A00CB4",
        ),
        (
            "010A",
            "03",
            "01020304050607080000000000000000",
            "1E9F187FDDF4064AB2B9A63E0FA2F6A4",
        ),
        ("0106", "01", "0102030405060708", "D1A1B43755A78123"),
        ("0101", "01", "0102030405060708", "1FD71B7483CE1E01"),
    ];
    for (appkey, alg, data, crypt) in vectors {
        assert_eq!(
            sw(&mut p, &format!("801A{appkey}09{alg}00BF7C7A48FB4966")),
            "9000"
        );
        let lc = data.len() / 2;
        assert_eq!(
            sw(&mut p, &format!("80FA0000{lc:02X}{data}")),
            format!("61{lc:02X}")
        );
        assert_eq!(
            x(&mut p, &format!("00C00000{lc:02X}")),
            format!("{crypt}9000")
        );
    }
    assert_eq!(sw(&mut p, "801A020C09013939303030313233"), "9000");
    assert_eq!(sw(&mut p, "80FA0000080102030405060708"), "6108");
    assert_eq!(x(&mut p, "00C0000000"), "92BBCCFA11E7B6539000");
    assert_eq!(sw(&mut p, "801A020609013939303030313233"), "6A88");
    assert_eq!(
        sw(&mut p, "80FA0000080102030405060708"),
        "6985",
        "a failed INIT drops the session"
    );
    assert_eq!(sw(&mut p, "801A010C090200BF7C7A48FB4966"), "6A80");
    assert_eq!(sw(&mut p, "801A010C080100BF7C7A48FB49"), "6700");
    assert_eq!(sw(&mut p, "801A010C090100BF7C7A48FB4966"), "9000");
    assert_eq!(sw(&mut p, "80FA00000701020304050607"), "6700");
    assert_eq!(sw(&mut p, "80FA0100080102030405060708"), "6A86");
    p.reset();
    assert_eq!(
        sw(&mut p, "80FA0000080102030405060708"),
        "6985",
        "reset drops the session"
    );
    assert_eq!(sw(&mut p, "00B2010C00"), "6D00");
}

// ---------------------------------------------------------------- robustness

#[test]
fn class_and_instruction_errors() {
    let mut c = load("ssc-2.00.json");
    assert_eq!(sw(&mut c, "A0A40000023F00"), "6E00");
    assert_eq!(sw(&mut c, "80A40000023F00"), "6E00");
    assert_eq!(sw(&mut c, "0012000000"), "6D00");
    assert_eq!(sw(&mut c, "00B0960006"), "6D00", "SSC has no READ BINARY");
    assert_eq!(sw(&mut c, "00A4"), "6700");
    assert_eq!(sw(&mut c, "00A40000"), "6700", "SELECT without data");
}

#[test]
fn atr_has_no_side_effects_and_power_off_clears_state() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    let atr = c.atr().to_vec();
    assert_eq!(c.atr(), atr.as_slice());
    // The FCI is still pending after reading the ATR.
    assert_eq!(x(&mut c, "00C0000000").len(), 30 * 2 + 4);
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    let _ = c.atr();
    assert_eq!(sw(&mut c, "00B2012C00"), "9000", "still in DF04");
    c.power_off();
    assert!(!c.is_powered());
    c.power_on();
    assert_eq!(sw(&mut c, "00B2012C00"), "6A82", "back in the MF");
    select_ssse(&mut c);
    c.reset();
    assert_eq!(sw(&mut c, "00C0000000"), "6985", "reset drops pending data");
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }
}

#[test]
fn never_panics_on_garbage() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let interesting_ins = [
        0xA4, 0xB2, 0xB0, 0xDC, 0xE2, 0x84, 0x82, 0x88, 0x20, 0xC0, 0x5E, 0x1A, 0xFA,
    ];
    for name in IMAGES {
        let mut c = load(name);
        for i in 0..40_000u32 {
            let len = match rng.next() % 4 {
                0 => (rng.next() % 8) as usize,
                1 => 5 + (rng.next() % 40) as usize,
                2 => (rng.next() % 300) as usize,
                _ => 4 + (rng.next() % 20) as usize,
            };
            let mut apdu: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            if i % 2 == 0 && apdu.len() >= 5 {
                // Mostly well-formed: a real class and instruction, a matching Lc.
                apdu[0] = if rng.next() % 2 == 0 { 0x00 } else { 0x80 };
                apdu[1] = interesting_ins[(rng.next() % interesting_ins.len() as u64) as usize];
                if rng.next() % 3 != 0 {
                    apdu[4] = (apdu.len() - 5).min(255) as u8;
                    if apdu.len() > 260 {
                        apdu.truncate(260);
                    }
                }
            }
            let r = c.process(&apdu);
            assert!(r.len() >= 2, "{name}: {apdu:02X?}");
            if i % 5000 == 0 {
                c.reset();
            }
            if i % 7919 == 0 {
                let _ = c.to_image();
            }
        }
        // Whatever it went through, the state still saves and reloads.
        let img = c.to_image();
        let back: CardImage = serde_json::from_str(&img.to_json()).unwrap();
        Card::from_image(back).unwrap();
    }
}

// ---------------------------------------------------------------- vpcd connector

fn write_frame(s: &mut TcpStream, body: &[u8]) {
    let mut b = (body.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(body);
    s.write_all(&b).unwrap();
}

fn read_frame(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).ok()?;
    let mut b = vec![0u8; u16::from_be_bytes(h) as usize];
    s.read_exact(&mut b).ok()?;
    Some(b)
}

fn apdu(s: &mut TcpStream, hexs: &str) -> Option<String> {
    write_frame(s, &hex::decode(hexs).unwrap());
    read_frame(s).map(hex::encode_upper)
}

/// Starts the card on a fresh image copy against a fake vpcd listener.
fn start(
    name: &str,
    plan: FaultPlan,
    once: bool,
) -> (
    TcpListener,
    tempfile::TempDir,
    PathBuf,
    std::thread::JoinHandle<Result<(), VcardError>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::copy(cards_dir().join(name), &path).unwrap();
    let cfg = VpcdConfig {
        host: "127.0.0.1".into(),
        port,
        connect_timeout: Duration::from_secs(2),
        reinsert_delay: Duration::from_millis(50),
        once,
        save_to: Some(path.clone()),
        count_file: Some(dir.path().join("count")),
        ..VpcdConfig::default()
    };
    let p = path.clone();
    let handle = std::thread::spawn(move || {
        let mut card = Card::load(&p)?;
        serve(&mut card, &cfg, plan)
    });
    (listener, dir, path, handle)
}

#[test]
fn vpcd_protocol_and_persistence() {
    let (listener, dir, path, handle) = start("ssc-2.00.json", FaultPlan::default(), true);
    let (mut s, _) = listener.accept().unwrap();
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        hex::encode_upper(read_frame(&mut s).unwrap()),
        "3B6D00000081544C968684639948FB4966"
    );
    write_frame(&mut s, &[0x01]);
    write_frame(&mut s, &[0x04]);
    assert_eq!(read_frame(&mut s).unwrap().len(), 17);
    assert_eq!(
        apdu(&mut s, &format!("00A404000F{SSSE_AID}")).unwrap(),
        "611E"
    );
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        read_frame(&mut s).unwrap().len(),
        17,
        "get ATR between APDUs"
    );
    assert_eq!(
        apdu(&mut s, "00C000001E").unwrap().len(),
        64,
        "FCI still pending"
    );
    assert_eq!(apdu(&mut s, "00A4000002DF04").unwrap(), "9000");
    let ch = hex::decode(apdu(&mut s, "0084000008").unwrap()).unwrap();
    let key = ssc_key("ssc-2.00.json", 0x0C);
    let crypt = cryptogram(Algorithm::Tdes, &key, &ch[..8].try_into().unwrap());
    assert_eq!(
        apdu(&mut s, &format!("0082000C08{}", hex::encode(crypt))).unwrap(),
        "9000"
    );
    assert_eq!(apdu(&mut s, "00DC222803220101").unwrap(), "9000");
    // Saved before the answer was sent.
    let mut saved = Card::load(&path).unwrap();
    saved.power_on();
    assert_eq!(sw(&mut saved, "00A4040006D15600000503"), "9000");
    assert_eq!(x(&mut saved, "00B2222800"), "2201019000");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("count")).unwrap(),
        "6\n"
    );
    // Reset clears the security state.
    write_frame(&mut s, &[0x02]);
    assert_eq!(apdu(&mut s, "00A4040006D15600000503").unwrap(), "9000");
    assert_eq!(apdu(&mut s, "00DC222803220100").unwrap(), "6982");
    drop(s);
    handle.join().unwrap().unwrap();
}

#[test]
fn vpcd_remove_before_and_after() {
    let plan = FaultPlan {
        remove_after: Some(2),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("ssc-2.00.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    write_frame(&mut s, &[0x01]);
    assert_eq!(apdu(&mut s, "00A40000023F00").unwrap(), "9000");
    assert_eq!(apdu(&mut s, "00A40000023F00").unwrap(), "9000");
    assert_eq!(read_frame(&mut s), None, "removed after answering #2");
    handle.join().unwrap().unwrap();

    let plan = FaultPlan {
        remove_before: Some(2),
        ..FaultPlan::default()
    };
    let (listener, _dir, path, handle) = start("ssc-2.00.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "0020000003000000").unwrap(), "63C5");
    assert_eq!(
        apdu(&mut s, "0020000003000000"),
        None,
        "removed instead of answering #2"
    );
    handle.join().unwrap().unwrap();
    let img = CardImage::load(&path).unwrap();
    assert_eq!(img.mf.pins[0].tries, 5, "only the answered VERIFY counted");
}

#[test]
fn vpcd_mute_and_reinsert() {
    let plan = FaultPlan {
        mute_after: Some(1),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("psam.json", plan, true);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006").unwrap(), "6399000000019000");
    write_frame(&mut s, &hex::decode("00B0960006").unwrap());
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut b = [0u8; 1];
    assert!(s.read(&mut b).is_err(), "muted: no answer");
    s.set_read_timeout(None).unwrap();
    write_frame(&mut s, &[0x04]);
    assert_eq!(
        read_frame(&mut s).unwrap().len(),
        17,
        "still answers get ATR"
    );
    drop(s);
    handle.join().unwrap().unwrap();

    // Without --once the card comes back after a removal, the fault consumed.
    let plan = FaultPlan {
        remove_before: Some(1),
        ..FaultPlan::default()
    };
    let (listener, _dir, _path, handle) = start("psam.json", plan, false);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006"), None);
    let (mut s, _) = listener.accept().unwrap();
    assert_eq!(apdu(&mut s, "00B0960006").unwrap(), "6399000000019000");
    drop(s);
    drop(listener);
    // vpcd gone for good: the card gives up after its connect timeout.
    assert!(matches!(
        handle.join().unwrap(),
        Err(VcardError::Connect { .. })
    ));
}
