//! The PSAM's commands (diversification, DES/SM4 crypt).

use super::*;

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
