//! End-to-end: the reader layer, `sscard send/atr/readers/wait` and the virtual card,
//! through a real private pcscd with the vpcd driver.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bed;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";
const FCI_SSSE: &str =
    "6F 1C 84 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF A5 09 88 01 01 9F 0C 03 86 01 01";

#[test]
fn lists_the_two_vpcd_readers_with_and_without_a_card() {
    let mut bed = Bed::start();
    let r = bed.run(&["readers"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("0: Virtual PCD 00 00  [empty]"), "{r:?}");
    assert!(r.stdout.contains("1: Virtual PCD 00 01  [empty]"), "{r:?}");
    let img = bed.image("ssc-2.00.json");
    bed.insert(1, &img, &[]);
    let r = bed.run(&["readers", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        doc["schema_version"],
        sscard::output::Doc::Readers.version()
    );
    assert_eq!(
        doc["readers"][0]["name_hex"],
        hex::encode_upper("Virtual PCD 00 00")
    );
    assert!(doc["readers"][0].get("name_gbk").is_none(), "{doc}");
    assert_eq!(doc["readers"][0]["card_present"], false);
    assert_eq!(doc["readers"][1]["card_present"], true);
    assert_eq!(
        doc["readers"][1]["atr"],
        "3B6D0000008154 4C968684639948FB4966".replace(' ', "")
    );
}

#[test]
fn watch_reports_insertion_and_removal() {
    let mut bed = Bed::start();
    let mut watch = bed
        .cmd()
        .args([
            "readers",
            "--watch",
            "--json",
            "--events",
            "2",
            "--timeout",
            "20",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    // The starting point: both readers, empty.
    for _ in 0..2 {
        let l = lines.next().unwrap().unwrap();
        assert!(l.contains("reader_added"), "{l}");
    }
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let l = lines.next().unwrap().unwrap();
    let ev: serde_json::Value = serde_json::from_str(&l).unwrap();
    assert_eq!(ev["event"], "card_inserted");
    assert_eq!(ev["reader"], "Virtual PCD 00 00");
    assert!(ev["atr"].as_str().unwrap().starts_with("3B6D0000"));
    bed.pull(0);
    let l = lines.next().unwrap().unwrap();
    let ev: serde_json::Value = serde_json::from_str(&l).unwrap();
    assert_eq!(ev["event"], "card_removed");
    assert!(watch.wait().unwrap().success());
}

#[test]
fn select_with_get_response_returns_the_fci() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let r = bed.run(&["send", "-r", "0", SELECT_SSSE]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&format!("< {FCI_SSSE} 90 00")), "{r:?}");
    // Raw: the 61 1E is shown and is not 9000, so the exit code says so...
    let r = bed.run(&["send", "-r", "0", "--raw", SELECT_SSSE]);
    assert_eq!(r.code, 6, "{r:?}");
    assert!(r.stdout.contains("< 61 1E"), "{r:?}");
    // ...unless it was expected.
    let r = bed.run(&[
        "send",
        "-r",
        "Virtual PCD 00 00",
        "--raw",
        "--expect",
        "61xx",
        SELECT_SSSE,
    ]);
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn reads_records_by_sfi_and_tag_with_wrong_le_retried() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    // EF05 tag 07 (card number) with a wrong Le: the card says 6C0B, we resend.
    let r = bed.run(&["send", "-r", "0", SELECT_SSSE, "00B2072C05"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("< 07 09 58 30 30 30 30 30 30 31 39 90 00"),
        "{r:?}"
    );
    // The same inside one PC/SC transaction.
    let r = bed.run(&[
        "send",
        "-r",
        "0",
        "--transaction",
        SELECT_SSSE,
        "00B2072C00",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("< 07 09 58 30 30 30 30 30 30 31 39 90 00"),
        "{r:?}"
    );
}

#[test]
fn decodes_the_inserted_cards_atr() {
    let mut bed = Bed::start();
    let img = bed.image("city.json");
    bed.insert(0, &img, &[]);
    let r = bed.run(&["atr", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    // stdout is the document alone (the reader line is in it, not before it).
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-atr");
    assert_eq!(doc["schema_version"], sscard::output::Doc::Atr.version());
    assert_eq!(doc["reader"], "Virtual PCD 00 00");
    assert!(doc["protocol"].as_str().unwrap().starts_with("T="), "{doc}");
    assert_eq!(doc["conforms"], true);
    assert_eq!(doc["raw"], "3B68000059422E4349545931");
    let r = bed.run(&["atr", "3B 68 00 00 59 42 2E 43 49 54 59"]);
    assert_eq!(r.code, 7, "truncated historical bytes: {r:?}");
}

#[test]
fn a_card_pulled_mid_command_is_reported_cleanly() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &["--remove-before", "2", "--once"]);
    let r = bed.run(&["send", "-r", "0", "00A40000023F00", "00A40000023F00"]);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(
        r.stderr.contains("removed") || r.stderr.contains("answered 0 bytes"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    bed.wait_removed(0);
    let r = bed.run(&["send", "-r", "0", "00A40000023F00"]);
    assert_eq!(r.code, 4, "no card: {r:?}");
    assert!(
        r.stderr.contains("no card in reader 'Virtual PCD 00 00'"),
        "{r:?}"
    );
}

#[test]
fn errors_for_unknown_reader_and_stopped_pcscd() {
    let mut bed = Bed::start();
    let r = bed.run(&["send", "-r", "acme", "00A40000023F00"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("no reader matches 'acme'"), "{r:?}");
    let r = bed.run(&["send", "-r", "virtual", "00A40000023F00"]);
    assert_eq!(r.code, 3, "ambiguous: {r:?}");
    // No card anywhere: the first reader is picked and found empty.
    let r = bed.run(&["send", "00A40000023F00"]);
    assert_eq!(r.code, 4, "{r:?}");
    bed.pcscd.stop();
    let r = bed.run(&["readers"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("pcscd"), "{r:?}");
    assert!(r.stderr.contains("hint:"), "{r:?}");
    let r = bed.run(&["send", "zz"]);
    assert_eq!(r.code, 7, "bad hex: {r:?}");
}

#[test]
fn the_dump_hides_secrets_and_replays() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let dump = bed.dir.path().join("dump.txt");
    let r = bed.run(&[
        "send",
        "-v",
        "-r",
        "0",
        "--dump",
        dump.to_str().unwrap(),
        SELECT_SSSE,
        "0020000003123456",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.contains("> 00 20 00 00 03 .. .. .."), "{text}");
    assert!(!text.contains("12 34 56"), "{text}");
    assert!(
        !r.stdout.contains("12 34 56") && !r.stderr.contains("12 34 56"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("> 00 20 00 00 03 .. .. .."),
        "trace on -v: {r:?}"
    );
}

#[test]
fn scriptor_gets_the_same_bytes_as_sscard() {
    if std::process::Command::new("scriptor")
        .arg("-h")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: scriptor (pcsc-tools) is not installed");
        return;
    }
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let (k, v) = bed.pcscd.env();
    let mut child = std::process::Command::new("scriptor")
        .args(["-r", "Virtual PCD 00 00"])
        .env(k, v)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF\n00 C0 00 00 1E\n00 B2 07 2C 00\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    // scriptor wraps long responses over several lines: compare with white space folded.
    let peer = String::from_utf8_lossy(&out.stdout)
        .to_uppercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let ours = bed.run(&[
        "send",
        "-r",
        "0",
        "--raw",
        "--expect",
        "9000",
        SELECT_SSSE,
        "00C000001E",
        "00B2072C00",
    ]);
    assert_eq!(ours.code, 0, "{ours:?}");
    for line in ours.stdout.lines().filter(|l| l.starts_with("< ")) {
        let bytes = &line[2..];
        assert!(
            peer.contains(bytes),
            "scriptor did not get '{bytes}':\n{peer}"
        );
    }
}
