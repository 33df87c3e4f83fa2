//! The reference images of `cards/`: canonical form, keys diversified from the PSAM's
//! masters, the fields of spec/cards.md §7, bad images named by file and field, atomic
//! saves.

use super::*;

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
