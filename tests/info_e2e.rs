//! End-to-end: `sscard info` through a real private pcscd with the vpcd driver and the
//! virtual cards, for every reference image and format (values of spec/cards.md §7
//! asserted field by field, the national line whole), the SAM both as a key file and
//! as a PSAM in the second reader, the broken images, and another city's card read
//! through a profile file.
//!
//! Needs root (private pcscd in a mount namespace). The test process never talks
//! PC/SC itself (pcsc-lite reads its socket path once per process and tests are
//! threads): the binary does, and the one test of the `Psam` type runs in a child
//! process of this test binary.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Bed, Run};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Today for every run: the reference cards were issued 20260601.
const TODAY: &str = "20260701";
const NATIONAL_2_00: &str = "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|0081544C968684639948FB4966|2.00|20260601|20360601|000000000000|VPCD0000|\n";

fn info_cmd(bed: &Bed, args: &[&str]) -> Command {
    let mut c = bed.cmd();
    c.arg("info")
        .args(args)
        .env("SSCARD_TODAY", TODAY)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env_remove("SSCARD_DEVICE_ID");
    c
}

fn info(bed: &Bed, args: &[&str]) -> Run {
    let r: Run = info_cmd(bed, args).output().unwrap().into();
    assert!(
        !r.stderr.contains("panicked") && r.code != 101,
        "panic: {r:?}"
    );
    r
}

fn json(bed: &Bed, args: &[&str]) -> Value {
    let mut a = vec!["--format", "json"];
    a.extend_from_slice(args);
    let r = info(bed, &a);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!(doc["schema_version"], sscard::output::Doc::Info.version());
    assert_eq!(doc["schema"], "sscard-info");
    doc
}

/// A private copy of the test keys, mode 600.
fn key_file(bed: &Bed) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = bed.dir.path().join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Asserts a text line starting with `label` (after indentation) holds `value`.
fn line(text: &str, label: &str, value: &str) {
    let l = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no line '{label}' in\n{text}"));
    assert!(l.contains(value), "line {l:?} lacks {value:?}\n{text}");
}

fn stats(r: &Run) -> u64 {
    let l = r
        .stderr
        .lines()
        .find(|l| l.contains(" APDUs (") && l.contains("with the"))
        .unwrap_or_else(|| panic!("no stats: {r:?}"));
    l.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{l}"))
}

/// §7 values of EF05 common to the three SSC generations.
fn assert_card(doc: &Value, card_id: &str, number: &str, version: &str, alg: &str) {
    let c = &doc["card"];
    assert_eq!(doc["kind"], "ssc");
    assert_eq!(doc["profile"], "ssc");
    assert_eq!(c["card_id"], card_id);
    assert_eq!(c["region"], "639900");
    assert_eq!(c["card_type"], "3");
    assert_eq!(c["spec_version"], version);
    assert_eq!(c["algorithm"], alg);
    assert_eq!(c["issuer"], "639900000001");
    assert_eq!(c["issue_date"], "2026-06-01");
    assert_eq!(c["expiry_date"], "2036-06-01");
    assert_eq!(c["card_number"], number);
}

/// §7 holder values.
fn assert_holder(doc: &Value) {
    let h = &doc["holder"];
    assert_eq!(h["citizen_id"], "111111198101011110");
    assert_eq!(h["name"], "张三");
    assert_eq!(h["name_ext"], "");
    assert_eq!(h["sex"]["code"], "1");
    assert_eq!(h["sex"]["text"], "male");
    assert_eq!(h["ethnicity"]["code"], "01");
    assert_eq!(h["birthplace"], "639900");
    assert_eq!(h["birth_date"], "1981-01-01");
    assert_eq!(doc["holder_key_needed"], Value::Null);
}

/// §7: DF04 not activated, balance 0; the deadline is issue + 6 months.
fn assert_medical_not_activated(doc: &Value) {
    let m = &doc["medical"];
    assert_eq!(m["status"]["code"], "00");
    assert_eq!(m["status"]["name"], "not_activated");
    assert_eq!(m["balance_fen"], 0);
    assert_eq!(m["balance_yuan"], "0.00");
    assert_eq!(m["activation_date"], Value::Null);
    assert_eq!(m["transfer_id"], Value::Null);
    assert_eq!(doc["activation"]["deadline"], "2026-12-01");
    assert_eq!(doc["activation"]["days_left"], 153);
    assert_eq!(doc["activation"]["overdue"], false);
}

fn assert_checks_pass(doc: &Value) {
    for c in doc["checks"].as_array().unwrap() {
        assert!(c["outcome"] == "pass" || c["outcome"] == "info", "{c}");
    }
}

#[test]
fn ssc_2_00_in_every_format() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);

    let r = info(&bed, &["--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    let t = &r.stdout;
    line(
        t,
        "Card identifier",
        "639900D15600000500BF7C7A48FB4966 (region 639900)",
    );
    line(t, "Card type", "3");
    line(t, "Spec version", "2.00 (3DES)");
    line(t, "Issuer", "639900000001");
    line(t, "Issue date", "2026-06-01");
    line(t, "Expiry date", "2036-06-01  [ok] valid until 2036-06-01");
    line(t, "Card number", "X00000019  [ok]");
    line(
        t,
        "Citizen ID",
        "111111198101011110  [ok] citizen ID check character 0 is correct",
    );
    line(t, "Name", "张三");
    line(t, "Sex", "1 (male)  [ok] sex digit 1");
    line(t, "Ethnicity", "01 (Han");
    line(t, "Birthplace", "639900");
    line(t, "Birth date", "1981-01-01  [ok]");
    line(
        t,
        "Status",
        "00 (not activated)  [info] not activated: activate by 2026-12-01 (153 days left)",
    );
    line(t, "Balance", "0.00 yuan");
    line(t, "Activation date", "none");
    // The fewest APDUs the layout allows (detection included).
    assert_eq!(stats(&r), 25, "{r:?}");

    let doc = json(&bed, &[]);
    assert_card(
        &doc,
        "639900D15600000500BF7C7A48FB4966",
        "X00000019",
        "2.00",
        "3DES",
    );
    assert_holder(&doc);
    assert_medical_not_activated(&doc);
    assert_checks_pass(&doc);
    assert_eq!(doc["atr"], "3B6D00000081544C968684639948FB4966");
    assert_eq!(doc["reader"], "Virtual PCD 00 00");
    assert_eq!(doc["genuine"], Value::Null);

    // The national line, whole, byte for byte: UTF-8 and GBK.
    let r = info(&bed, &["--format", "national", "--device-id", "VPCD0000"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, NATIONAL_2_00);
    let out: Output = info_cmd(&bed, &["--format", "national", "--device-id", "VPCD0000"])
        .env("LANG", "zh_CN.GBK")
        .output()
        .unwrap();
    let (gbk, _, _) = encoding_rs::GBK.encode(NATIONAL_2_00);
    assert_eq!(out.stdout, gbk.as_ref());
    assert!(out.stdout.windows(4).any(|w| w == [0xD5, 0xC5, 0xC8, 0xFD]));
    // LC_ALL wins over LANG; the device id defaults to 00000000 or comes from the env.
    let out = info_cmd(&bed, &["--format", "national"])
        .env("LANG", "zh_CN.GBK")
        .env("LC_ALL", "C.UTF-8")
        .env("SSCARD_DEVICE_ID", "DESK0001")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        NATIONAL_2_00.replace("VPCD0000", "DESK0001")
    );
    let r = info(&bed, &["--format", "national"]);
    assert_eq!(r.stdout, NATIONAL_2_00.replace("VPCD0000", "00000000"));
}

#[test]
fn ssc_1_00_holder_by_tag_in_its_own_numbering() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-1.00.json");
    bed.insert(0, &img, &[]);
    let r = info(&bed, &["--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    line(&r.stdout, "Spec version", "1.00 (3DES)");
    line(&r.stdout, "Name", "张三");
    assert_eq!(stats(&r), 24);
    let doc = json(&bed, &[]);
    assert_card(
        &doc,
        "639900D15600000500A3417C21E59B01",
        "X00000027",
        "1.00",
        "3DES",
    );
    assert_holder(&doc);
    assert_medical_not_activated(&doc);
    assert_checks_pass(&doc);
    let r = info(&bed, &["--format", "national", "--device-id", "VPCD0000"]);
    assert_eq!(
        r.stdout,
        "639900|111111198101011110|X00000027|639900D15600000500A3417C21E59B01|张三|0081544C968684639921E59B01|1.00|20260601|20360601|000000000000|VPCD0000|\n"
    );
}

#[test]
fn ssc_3_00_without_and_with_a_key_file() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-3.00.json");
    bed.insert(0, &img, &[]);

    // Without a SAM: what it can, and which key is needed for the rest.
    let r = info(&bed, &["--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    line(&r.stdout, "Spec version", "3.00 (SM4)");
    line(&r.stdout, "Note:", "EXTERNAL AUTHENTICATE with key 0A");
    assert!(!r.stdout.contains("张三"), "{r:?}");
    assert_eq!(stats(&r), 18);
    let doc = json(&bed, &[]);
    assert_card(
        &doc,
        "639900D15600000500C5E2183B7D4F30",
        "X00000035",
        "3.00",
        "SM4",
    );
    assert_eq!(doc["holder"], Value::Null);
    assert_eq!(doc["holder_key_needed"], "0A");
    assert!(doc["notes"][0].as_str().unwrap().contains("key 0A"));
    assert_medical_not_activated(&doc);
    let r = info(&bed, &["--format", "national"]);
    assert_eq!(r.code, 11, "{r:?}");
    assert!(r.stderr.contains("key 0A"), "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");

    // With the key file: EXTERNAL AUTHENTICATE 0A opens EF06; key 01 proves the card.
    let keys = key_file(&bed);
    let keys = keys.to_str().unwrap();
    let r = info(&bed, &["--keys", keys, "--verify-card", "--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    line(&r.stdout, "Genuine", "yes");
    assert_eq!(stats(&r), 29);
    let doc = json(&bed, &["--keys", keys, "--verify-card"]);
    assert_card(
        &doc,
        "639900D15600000500C5E2183B7D4F30",
        "X00000035",
        "3.00",
        "SM4",
    );
    assert_holder(&doc);
    assert_eq!(doc["genuine"], true);
    assert_eq!(doc["terminal"], "639900000001");
    assert_checks_pass(&doc);
    let r = info(
        &bed,
        &[
            "--keys",
            keys,
            "--format",
            "national",
            "--device-id",
            "VPCD0000",
        ],
    );
    assert_eq!(
        r.stdout,
        "639900|111111198101011110|X00000035|639900D15600000500C5E2183B7D4F30|张三|0081544C96868463993B7D4F30|3.00|20260601|20360601|639900000001|VPCD0000|\n",
        "{r:?}"
    );

    // A key file others can read is refused; --verify-card needs a SAM.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = info(&bed, &["--keys", keys]);
    assert_eq!(r.code, 11, "{r:?}");
    assert!(r.stderr.contains("readable by group or others"), "{r:?}");
    let r = info(&bed, &["--verify-card"]);
    assert_eq!(r.code, 11, "{r:?}");
}

#[test]
fn ssc_3_00_with_the_psam_in_the_second_reader() {
    let mut bed = Bed::start();
    let card = bed.image("ssc-3.00.json");
    let psam = bed.image("psam.json");
    bed.insert(0, &card, &[]);
    bed.insert(1, &psam, &[]);
    let r = info(&bed, &["--sam-reader", "1", "--verify-card", "--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    line(&r.stdout, "Name", "张三");
    line(&r.stdout, "Genuine", "yes");
    line(&r.stdout, "SAM", "PSAM in Virtual PCD 00 01");
    assert_eq!(stats(&r), 29);
    // PSAM: SELECT + READ BINARY, then 3 APDUs per cryptogram (0A, 01).
    assert!(r.stderr.contains("8 APDUs with the PSAM"), "{r:?}");
    let doc = json(&bed, &["--sam-reader", "1"]);
    assert_holder(&doc);
    assert_eq!(doc["terminal"], "639900000001");
    // Without --reader, the card's reader is the one that is not the SAM's.
    let r = info(
        &bed,
        &[
            "--sam-reader",
            "1",
            "--format",
            "national",
            "--device-id",
            "VPCD0000",
        ],
    );
    assert!(r.stdout.ends_with("|639900000001|VPCD0000|\n"), "{r:?}");
}

#[test]
fn city_card_in_every_format() {
    let mut bed = Bed::start();
    let img = bed.image("city.json");
    bed.insert(1, &img, &[]);
    let r = info(&bed, &["--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    let t = &r.stdout;
    line(t, "Card number", "6399000123");
    line(t, "Citizen ID", "111111198101011110  [ok]");
    line(t, "Name", "张三");
    line(t, "Account", "6300001234");
    line(t, "Category", "01 (employee)");
    line(t, "Status", "00 (active)");
    line(t, "Balance", "1234.56 yuan");
    line(t, "Transfer id", "none");
    line(t, "Target card", "none");
    line(t, "Transfer counter", "0");
    // One READ RECORD more than before the transfer protocol: tag 28.
    assert_eq!(stats(&r), 11);
    let doc = json(&bed, &[]);
    assert_eq!(doc["kind"], "city");
    assert_eq!(doc["profile"], "city-reference");
    let c = &doc["city"];
    assert_eq!(c["card_number"], "6399000123");
    assert_eq!(c["citizen_id"], "111111198101011110");
    assert_eq!(c["name"], "张三");
    assert_eq!(c["account"], "6300001234");
    assert_eq!(c["category"]["code"], "01");
    assert_eq!(c["status"]["code"], "00");
    assert_eq!(c["status"]["name"], "active");
    assert_eq!(c["balance_fen"], 123456);
    assert_eq!(c["balance_yuan"], "1234.56");
    assert_eq!(c["transfer_id"], Value::Null);
    assert_eq!(c["target"], Value::Null);
    assert_eq!(doc["activation"], Value::Null);
    let r = info(&bed, &["--format", "national"]);
    assert_eq!(r.code, 8, "{r:?}");
    assert!(r.stderr.contains("social security card"), "{r:?}");
}

#[test]
fn psam_in_every_format() {
    let mut bed = Bed::start();
    let img = bed.image("psam.json");
    bed.insert(0, &img, &[]);
    let r = info(&bed, &["--stats"]);
    assert_eq!(r.code, 0, "{r:?}");
    line(&r.stdout, "Terminal number", "639900000001");
    assert_eq!(stats(&r), 2);
    let doc = json(&bed, &[]);
    assert_eq!(doc["kind"], "psam");
    assert_eq!(doc["psam"]["terminal"], "639900000001");
    assert_eq!(info(&bed, &["--format", "national"]).code, 8);
}

#[test]
fn broken_images_give_clear_messages_and_exit_codes() {
    // (image, exit code, text on stderr, text on stdout)
    let cases: &[(&str, i32, &str, &str)] = &[
        (
            "ssc-missing-record",
            6,
            "card number (tag 07): the card answered 6A83",
            "",
        ),
        (
            "ssc-wrong-length",
            7,
            "card identifier (tag 01): the record holds 15 bytes; the profile says 16",
            "",
        ),
        (
            "ssc-lying-le",
            7,
            "name (tag 09): the record holds 31 bytes; the profile says 30",
            "",
        ),
        ("ssc-invalid-gbk", 7, "is not valid GBK text", ""),
        ("ssc-bad-date", 7, "20261301 is not a calendar date", ""),
        (
            "ssc-no-issue-date",
            7,
            "issue date (tag 05): the card stores no date",
            "",
        ),
        (
            "ssc-unknown-version",
            7,
            "'4.00' is not a generation of profile ssc (1.00, 2.00, 3.00)",
            "",
        ),
        ("ssc-bad-fci", 7, "unknown algorithm id 02", ""),
        (
            "ssc-no-df04",
            6,
            "selecting DF04 medical area: the card answered 6A82",
            "",
        ),
        (
            "ssc-bad-citizen-id",
            7,
            "citizen ID check character is 1, it should be 0",
            "[FAIL] citizen ID",
        ),
        (
            "ssc-bad-card-number",
            7,
            "card number check character is 8, it should be 9",
            "[FAIL] card number",
        ),
        (
            "ssc-erased-card-number",
            7,
            "card number \"\" is not 9 characters",
            "[FAIL]",
        ),
        (
            "ssc-sex-mismatch",
            7,
            "means male but the card says sex \"2\"",
            "[FAIL] sex digit",
        ),
        ("ssc-expired", 0, "", "[WARN] EXPIRED on 2025-01-01"),
        (
            "city-bad-balance",
            7,
            "balance (fen) (tag 23): the record holds 3 bytes",
            "",
        ),
        ("psam-bad-terminal", 7, "63990000000A is not BCD digits", ""),
        ("unknown", 8, "unknown card: no card profile matches", ""),
    ];
    let mut bed = Bed::start();
    for (name, code, err, out) in cases {
        let img = bed.image(&format!("broken/{name}.json"));
        bed.insert(0, &img, &[]);
        for format in ["text", "json", "national"] {
            let r = info(&bed, &["--format", format]);
            assert_eq!(r.code, *code, "{name} {format}: {r:?}");
            assert!(r.stderr.contains(err), "{name} {format}: {r:?}");
            if format == "text" {
                assert!(r.stdout.contains(out), "{name}: {r:?}");
            }
        }
        bed.pull(0);
    }
    // The expired card: shown in full, with its deadline overdue.
    let img = bed.image("broken/ssc-expired.json");
    bed.insert(0, &img, &[]);
    let doc = json(&bed, &[]);
    assert_eq!(doc["activation"]["overdue"], true);
    let expiry = doc["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "expiry")
        .unwrap();
    assert_eq!(expiry["outcome"], "warn");
}

#[test]
fn reader_errors_have_their_exit_codes() {
    let mut bed = Bed::start();
    // Empty reader.
    let r = info(&bed, &["--reader", "0"]);
    assert_eq!(r.code, 4, "{r:?}");
    // No such reader.
    let r = info(&bed, &["--reader", "7"]);
    assert_eq!(r.code, 3, "{r:?}");
    // --wait: the card comes while we wait (no sleep: insert waits for pcscd).
    let child = info_cmd(&bed, &["--reader", "1", "--wait", "20", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let img = bed.image("city.json");
    bed.insert(1, &img, &[]);
    let r: Run = child.wait_with_output().unwrap().into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("\"6399000123\""), "{r:?}");
    // Waiting in vain.
    let r = info(&bed, &["--reader", "0", "--wait", "0.5"]);
    assert_eq!(r.code, 4, "{r:?}");
    // No pcscd at all.
    let out = Command::new(common::exe())
        .args(["info"])
        .env("PCSCLITE_CSOCK_NAME", bed.dir.path().join("no-such-socket"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Another city's card: a new profile file, no code. Its card keeps the same data in
/// EF03 of another application and is read by record number.
#[test]
fn another_city_is_a_profile_file() {
    let mut bed = Bed::start();
    let root = common::root();
    let mut profile: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("profiles/city-reference.json")).unwrap(),
    )
    .unwrap();
    profile["name"] = "city-other".into();
    profile["title"] = "Other city medical card".into();
    profile["atr_prefixes"] = serde_json::json!([]);
    profile["dfs"][0]["aid"] = "F04F54484552".into();
    profile["files"][0]["sfi"] = "03".into();
    profile["files"][0]["read_by"] = "number".into();
    for (i, f) in profile["fields"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        f["record"] = (i + 1).into();
    }
    let profile_path = bed.dir.path().join("city-other.json");
    std::fs::write(&profile_path, profile.to_string()).unwrap();

    let mut image: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("cards/city.json")).unwrap())
            .unwrap();
    let app = &mut image["mf"]["dfs"][0];
    app["aid"] = "F04F54484552".into();
    app["efs"][0]["sfi"] = "03".into();
    app["pins"][0]["refuse_verify"]["sfi"] = "03".into();
    image["atr"] = "3B68000059422E4F54484552".into();
    let image_path = bed.dir.path().join("city-other-card.json");
    std::fs::write(&image_path, image.to_string()).unwrap();
    bed.insert(0, &image_path, &[]);

    let r = info(&bed, &[]);
    assert_eq!(r.code, 8, "without its profile the card is unknown: {r:?}");
    let p = profile_path.to_str().unwrap();
    let doc = json(&bed, &["--profile", p]);
    assert_eq!(doc["profile"], "city-other");
    assert_eq!(doc["city"]["card_number"], "6399000123");
    assert_eq!(doc["city"]["balance_fen"], 123456);
    assert_eq!(doc["city"]["name"], "张三");
    let r = info(&bed, &["--profile", p, "--stats"]);
    line(&r.stdout, "Other city medical card", "profile city-other");
    assert_eq!(stats(&r), 11);
    // A broken profile file is refused before any card is read.
    std::fs::write(&profile_path, "{\"format\": 1}").unwrap();
    let r = info(&bed, &["--profile", p]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stderr.contains("city-other.json"), "{r:?}");
}

/// §6 vectors through both SAM implementations: the key file in-process, and the
/// `Psam` type talking to the PSAM virtual card through pcscd (in a child process of
/// this test binary, since only a fresh process may point pcsc-lite at the bed).
#[test]
fn spec_vectors_through_both_sams() {
    use sscard::sam::{keyfile::KeyFile, Sam};
    let mut bed = Bed::start();
    let keys = key_file(&bed);
    let mut kf = KeyFile::load(&keys).unwrap();
    for (app, id, alg, d, want) in vectors() {
        let got = kf.cryptogram(app, id, alg, &d, &R).unwrap();
        assert_eq!(hex::encode_upper(got), want, "key file {id:02X} {alg}");
    }

    let img = bed.image("psam.json");
    bed.insert(1, &img, &[]);
    let (k, v) = bed.pcscd.env();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "psam_vectors_child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(k, v)
        .env(CHILD_READER, bed.pcscd.reader_name(1))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("psam vectors: 6 ok"), "{text}");
}

const CHILD_READER: &str = "SSCARD_TEST_PSAM_READER";
const R: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn vectors() -> Vec<(
    sscard::sam::KeyApp,
    u8,
    sscard::crypto::Algorithm,
    [u8; 8],
    &'static str,
)> {
    use sscard::crypto::Algorithm::{Sm4, Tdes};
    use sscard::sam::KeyApp::{City, Ssc};
    let d = [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66];
    vec![
        (Ssc, 0x0C, Tdes, d, "33C2C17134EC6D91"),
        (Ssc, 0x0C, Sm4, d, "78A27CA74A058AD427CFF97C40A00CB4"),
        (Ssc, 0x0A, Sm4, d, "1E9F187FDDF4064AB2B9A63E0FA2F6A4"),
        (Ssc, 0x06, Tdes, d, "D1A1B43755A78123"),
        (Ssc, 0x01, Tdes, d, "1FD71B7483CE1E01"),
        (City, 0x0C, Tdes, *b"99000123", "92BBCCFA11E7B653"),
    ]
}

/// Runs only as the child of `spec_vectors_through_both_sams` (it has the bed's socket
/// in its environment from the start).
#[test]
#[ignore = "run by spec_vectors_through_both_sams in a child process"]
fn psam_vectors_child() {
    use sscard::apdu::Channel;
    use sscard::reader::{ConnectOptions, PcscCard, ReaderSelector};
    use sscard::sam::{psam::Psam, Sam, SamError};
    let Ok(reader) = std::env::var(CHILD_READER) else {
        return;
    };
    let card = PcscCard::connect(&ReaderSelector::Name(reader), ConnectOptions::default()).unwrap();
    let mut psam = Psam::open(Channel::new(Box::new(card))).unwrap();
    assert_eq!(psam.terminal_number().as_deref(), Some("639900000001"));
    let mut ok = 0;
    for (app, id, alg, d, want) in vectors() {
        let got = psam.cryptogram(app, id, alg, &d, &R).unwrap();
        assert_eq!(hex::encode_upper(got), want, "PSAM {id:02X} {alg}");
        ok += 1;
    }
    // A key the PSAM does not hold.
    assert!(matches!(
        psam.cryptogram(
            sscard::sam::KeyApp::City,
            0x06,
            sscard::crypto::Algorithm::Tdes,
            &[0; 8],
            &R
        ),
        Err(SamError::UnknownKey { .. })
    ));
    println!("psam vectors: {ok} ok");
}

/// i13fix: `info --format national` wrote terminal `000000000000` where the national
/// interface library (libsscard's `iReadCardBas`, src/national/desk.rs) writes the
/// desk's configured `terminal`. Both now take the SAM's number, else the
/// configuration's, else zeros: one desk, one line.
#[test]
fn national_line_takes_the_configured_terminal_as_libsscard_does() {
    let mut bed = Bed::start();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let cfg = bed.dir.path().join("desk.toml");
    std::fs::write(&cfg, "terminal = \"639900000077\"\n").unwrap();
    let want = NATIONAL_2_00.replace("|000000000000|", "|639900000077|");
    let args = ["--format", "national", "--device-id", "VPCD0000"];
    // By --config and by $SSCARD_CONFIG (libsscard's way of naming it).
    let mut a = args.to_vec();
    a.extend(["--config", cfg.to_str().unwrap()]);
    let r = info(&bed, &a);
    assert_eq!((r.code, r.stdout.as_str()), (0, want.as_str()), "{r:?}");
    let r: Run = info_cmd(&bed, &args)
        .env("SSCARD_CONFIG", &cfg)
        .output()
        .unwrap()
        .into();
    assert_eq!((r.code, r.stdout.as_str()), (0, want.as_str()), "{r:?}");
    // The SAM's number comes first (the key file's is 639900000001).
    let keys = key_file(&bed);
    let mut a = args.to_vec();
    a.extend([
        "--config",
        cfg.to_str().unwrap(),
        "--keys",
        keys.to_str().unwrap(),
    ]);
    let r = info(&bed, &a);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("|639900000001|"), "{r:?}");
    // No configuration: zeros, as before.
    let r: Run = info_cmd(&bed, &args)
        .env("SSCARD_CONFIG", "none")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.stdout, NATIONAL_2_00);
    // A configuration named but missing: an error (14), not a line with zeros.
    let mut a = args.to_vec();
    let gone = bed.dir.path().join("gone.toml");
    a.extend(["--config", gone.to_str().unwrap()]);
    let r = info(&bed, &a);
    assert_eq!(r.code, 14, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
}
