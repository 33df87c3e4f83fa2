//! The social security card's commands against spec/cards.md: SSSE selection and FCI,
//! GET RESPONSE, every field of the 2.00 card, current-EF rules, the 1.00/3.00
//! differences, authentication, DF04 writes, PIN verify/change/reload.

use super::*;

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
