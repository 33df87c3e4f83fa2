//! The city medical card (spec/cards.md, the old card of a transfer).

use super::*;

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
