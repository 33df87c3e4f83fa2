//! End-to-end: the commands the T=0 layer issues on the caller's behalf keep the
//! caller's class byte (issue 11 §2), through a real pcscd + vpcd.
//!
//! The card is `sscard vcard --strict-class`: it takes commands in every structured
//! class (logical channels 0–19, secure messaging bits, proprietary `80`–`FE`) and
//! answers `6E00` to a GET RESPONSE or a `6Cxx` resend whose class is not that of the
//! command it answers, as real cards do (`src/vcard/front.rs`). Its `--apdu-log` shows
//! what really crossed the wire. Shown here, for `send`, `script` (`get-response auto`)
//! and a flow (`info`):
//! - the input: `C0 A4 00 00 02 EF 05` answered `61 14` is fetched with
//!   `C0 C0 00 00 14` and `send` shows the 20 bytes and `90 00` (exit 0), not `6E 00`
//!   (exit 6);
//! - its siblings: a SELECT with FCI on channels 1, 3, 4, 19, under secure messaging
//!   bits, in the proprietary classes, and the `6Cxx` resend of READ RECORD in those
//!   classes;
//! - the flows' own commands (class `00`/`80`) pass the same strict card.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::Bed;
use std::path::Path;

/// SELECT of the SSSE by AID (answers `61 1E` with the FCI), without the class byte.
const SELECT_SSSE: &str = "A404000F7378312E73682EC9E7BBE1B1A3D5CF";
/// The 20 bytes the scripted card hands out for `C0 A4 00 00 02 EF 05`.
const TWENTY: &str = "000102030405060708090A0B0C0D0E0F10111213";

fn strict_card(bed: &mut Bed, log: &Path) {
    let image = bed.image("ssc-2.00.json");
    let gr_answer = format!("C0C0000014={TWENTY}9000");
    bed.insert(
        0,
        &image,
        &[
            "--no-save",
            "--strict-class",
            "--answer",
            "C0A4000002EF05=6114",
            "--answer",
            &gr_answer,
            "--apdu-log",
            log.to_str().unwrap(),
        ],
    );
}

fn log_lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn send_script_and_flows_keep_the_class() {
    let mut bed = Bed::start();
    let log = bed.dir.path().join("apdus.log");
    strict_card(&mut bed, &log);

    // The input.
    let r = bed.run(&["send", "--reader", "0", "C0A4000002EF05"]);
    assert_eq!(r.code, 0, "{r:?}");
    let spaced: Vec<String> = hex::decode(TWENTY)
        .unwrap()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    assert!(
        r.stdout.contains(&format!("< {} 90 00", spaced.join(" "))),
        "{r:?}"
    );
    let lines = log_lines(&log);
    assert!(lines.contains(&"> C0 C0 00 00 14".to_string()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("> 00 C0")), "{lines:?}");

    // Siblings through `send`: SELECT with FCI and the READ RECORD resend (6C0B: the
    // card number record is 11 bytes) in every kind of class.
    for cla in [
        0x00u8, 0x01, 0x03, 0x0C, 0x40, 0x4F, 0x6F, 0x80, 0x8D, 0xC0, 0xE5,
    ] {
        std::fs::write(&log, "").unwrap();
        let select = format!("{cla:02X}{SELECT_SSSE}");
        let read = format!("{cla:02X}B2072C05");
        let r = bed.run(&["send", "--reader", "0", &select, &read]);
        assert_eq!(r.code, 0, "CLA {cla:02X}: {r:?}");
        assert!(r.stdout.contains("< 6F 1C 84 0F"), "CLA {cla:02X}: {r:?}");
        assert!(r.stdout.contains("< 07 09 58 30"), "CLA {cla:02X}: {r:?}");
        let lines = log_lines(&log);
        let gr = format!("> {cla:02X} C0 00 00 1E");
        let resend = format!("> {cla:02X} B2 07 2C 0B");
        assert!(lines.contains(&gr), "CLA {cla:02X}: {lines:?}");
        assert!(lines.contains(&resend), "CLA {cla:02X}: {lines:?}");
        assert!(
            !lines.iter().any(|l| l == "< 6E 00"),
            "CLA {cla:02X}: {lines:?}"
        );
    }

    // `script` with get-response auto, and the same in manual mode written by hand.
    let script = bed.dir.path().join("channels.apdu");
    std::fs::write(
        &script,
        format!(
            "get-response auto\n\
             02 {SELECT_SSSE}\n=> 9000 6F 1C 84 0F *\n\
             4A B2 07 2C 05\n=> 9000 07 09 *\n\
             C0 A4 00 00 02 EF 05\n=> 9000 {TWENTY}\n\
             get-response manual\n\
             63 {SELECT_SSSE}\n=> 611E\n\
             00 C0 00 00 1E\n=> 6E00\n\
             63 C0 00 00 1E\n=> 9000 6F 1C *\n"
        ),
    )
    .unwrap();
    let r = bed.run(&["script", "--reader", "0", script.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");

    // A flow: `info` reads the whole card (SELECT with FCI, GET RESPONSE, READ RECORD)
    // from the same strict card.
    std::fs::write(&log, "").unwrap();
    let r = bed.run(&["info", "--reader", "0"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("X00000019"), "{r:?}");
    let lines = log_lines(&log);
    assert!(lines.iter().any(|l| l == "> 00 C0 00 00 1E"), "{lines:?}");
    assert!(!lines.iter().any(|l| l == "< 6E 00"), "{lines:?}");
}

#[test]
fn a_strict_card_refuses_the_old_behaviour() {
    // Without the T=0 layer (`send --raw`), a GET RESPONSE in class 00 after a command
    // in class C0 is what the issue saw: 6E 00 (exit 6). Proves the card checks.
    let mut bed = Bed::start();
    let log = bed.dir.path().join("apdus.log");
    strict_card(&mut bed, &log);
    let r = bed.run(&[
        "send",
        "--reader",
        "0",
        "--raw",
        "C0A4000002EF05",
        "00C0000014",
    ]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stdout.contains("< 6E 00"), "{r:?}");
}
