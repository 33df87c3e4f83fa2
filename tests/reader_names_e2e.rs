//! End-to-end: a reader whose name is not UTF-8 (issue 11 point 4).
//!
//! Chinese vendors ship GBK reader names. The private pcscd is given a GBK
//! FRIENDLYNAME (pcscd passes the bytes through), so its readers are named, in GBK,
//! `DECARD 德卡 T10 读卡器 00 00` and `... 00 01`. Every command that picks a reader
//! must reach them by index, by a substring typed as UTF-8 or as GBK bytes, and by the
//! escaped form sscard displays; the listing shows what it can and the JSON carries the
//! exact bytes. scriptor (pcsc-tools) uses the same reader for comparison.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Bed, Run};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::process::{Command, Stdio};

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";
const FCI_SSSE: &str =
    "6F 1C 84 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF A5 09 88 01 01 9F 0C 03 86 01 01";
const SSC_ATR: &str = "3B6D00000081544C968684639948FB4966";

fn gbk(text: &str) -> Vec<u8> {
    let (b, _, bad) = encoding_rs::GBK.encode(text);
    assert!(!bad, "{text} is not GBK");
    b.into_owned()
}

/// Runs sscard with a locale and raw (possibly non-UTF-8) arguments.
fn run_os(bed: &Bed, lang: &str, args: &[OsString]) -> Run {
    let r: Run = bed
        .cmd()
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("SSCARD_TODAY", "20260701")
        .args(args)
        .output()
        .unwrap()
        .into();
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    r
}

fn os(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

fn with_gbk_bed() -> Bed {
    let mut bed = Bed::start_named(&gbk("DECARD 德卡 T10 读卡器"));
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    bed
}

#[test]
fn gbk_reader_is_listed_with_its_bytes() {
    let bed = with_gbk_bed();
    let name0 = bed.pcscd.reader_name_bytes(0);
    assert_eq!(name0, gbk("DECARD 德卡 T10 读卡器 00 00"));

    // A UTF-8 terminal: the bytes that are not UTF-8 are shown as \xNN, the GBK
    // reading beside them.
    let r = run_os(&bed, "C.UTF-8", &os(&["readers"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "0: DECARD \\xB5¿\\xA8 T10 \\xB6\\xC1\\xBF\\xA8\\xC6\\xF7 00 00  [card  ATR {SSC_ATR}]  (GBK: DECARD 德卡 T10 读卡器 00 00)"
        )),
        "{r:?}"
    );
    assert!(
        !r.stdout.contains('\u{FFFD}'),
        "no replacement chars: {r:?}"
    );
    // A GBK locale: the name decodes.
    let r = run_os(&bed, "zh_CN.GBK", &os(&["readers"]));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains("1: DECARD 德卡 T10 读卡器 00 01  [empty]"),
        "{r:?}"
    );

    let r = run_os(&bed, "C.UTF-8", &os(&["readers", "--json"]));
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(
        doc["schema_version"],
        sscard::output::Doc::Readers.version()
    );
    let r0 = &doc["readers"][0];
    assert_eq!(r0["name_hex"], hex::encode_upper(&name0));
    assert_eq!(r0["name_gbk"], "DECARD 德卡 T10 读卡器 00 00");
    assert_eq!(
        r0["name"],
        "DECARD \\xB5¿\\xA8 T10 \\xB6\\xC1\\xBF\\xA8\\xC6\\xF7 00 00"
    );
    assert_eq!(r0["card_present"], true);
    assert_eq!(doc["readers"][1]["card_present"], false);
}

#[test]
fn gbk_reader_is_usable_by_index_and_by_substring() {
    let bed = with_gbk_bed();
    // Every way to name slot 0: index, UTF-8 text (matched on the GBK reading), GBK
    // bytes as a GBK terminal passes them, the escaped form sscard shows, ASCII part.
    let selectors: Vec<OsString> = vec![
        "0".into(),
        "读卡器 00 00".into(),
        OsString::from_vec(gbk("读卡器 00 00")),
        "\\xC6\\xF7 00 00".into(),
        "t10 \\xb6\\xc1\\xbf\\xa8\\xc6\\xf7 00 00".into(),
    ];
    for sel in &selectors {
        let show = format!("{sel:?}");
        let mut a = vec![OsString::from("send"), "--reader".into(), sel.clone()];
        a.push(SELECT_SSSE.into());
        let r = run_os(&bed, "C.UTF-8", &a);
        assert_eq!(r.code, 0, "send --reader {show}: {r:?}");
        assert!(
            r.stdout.contains(&format!("< {FCI_SSSE} 90 00")),
            "{show}: {r:?}"
        );

        let a = vec![OsString::from("atr"), "--reader".into(), sel.clone()];
        let r = run_os(&bed, "C.UTF-8", &a);
        assert_eq!(r.code, 0, "atr --reader {show}: {r:?}");
        assert!(r.stdout.contains("ATR: 3B 6D 00 00"), "{show}: {r:?}");
        assert!(r.stdout.contains("reader: DECARD"), "{show}: {r:?}");

        let a = vec![
            OsString::from("info"),
            "--format".into(),
            "json".into(),
            "--reader".into(),
            sel.clone(),
        ];
        let r = run_os(&bed, "C.UTF-8", &a);
        assert_eq!(r.code, 0, "info --reader {show}: {r:?}");
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("info json");
        assert_eq!(doc["card"]["card_number"], "X00000019", "{show}: {r:?}");
    }
    // In a GBK locale the decoded name is shown, and typed back it selects.
    let r = run_os(
        &bed,
        "zh_CN.GBK",
        &os(&["atr", "--reader", "DECARD 德卡 T10 读卡器 00 00"]),
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("reader: DECARD 德卡 T10 读卡器 00 00"),
        "{r:?}"
    );
    // Ambiguous and absent names are refused with exit 3, naming the candidates.
    let r = run_os(
        &bed,
        "zh_CN.GBK",
        &os(&["send", "--reader", "德卡", SELECT_SSSE]),
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stderr.contains("names 2 readers"), "{r:?}");
    let r = run_os(
        &bed,
        "C.UTF-8",
        &os(&["send", "--reader", "德卡X", SELECT_SSSE]),
    );
    assert_eq!(r.code, 3, "{r:?}");
    // Slot 1 is empty: reached by index and by name, and reported as no card (4).
    let r = run_os(
        &bed,
        "C.UTF-8",
        &os(&["send", "--reader", "读卡器 00 01", SELECT_SSSE]),
    );
    assert_eq!(r.code, 4, "{r:?}");
    // `wait` by name reaches the reader too.
    let r = run_os(
        &bed,
        "C.UTF-8",
        &os(&["wait", "--reader", "读卡器 00 00", "--timeout", "5"]),
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn scriptor_and_sscard_reach_the_same_gbk_reader() {
    let bed = with_gbk_bed();
    let (k, v) = bed.pcscd.env();
    let mut child = Command::new("scriptor")
        .arg("-r")
        .arg(OsString::from_vec(bed.pcscd.reader_name_bytes(0)))
        .env(k, v)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("scriptor (pcsc-tools) is installed");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"00 A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let peer = String::from_utf8_lossy(&out.stdout).to_uppercase();
    assert!(peer.contains("61 1E"), "scriptor: {peer}");
    let ours = run_os(
        &bed,
        "C.UTF-8",
        &os(&[
            "send",
            "--raw",
            "--expect",
            "61xx",
            "-r",
            "读卡器 00 00",
            SELECT_SSSE,
        ]),
    );
    assert_eq!(ours.code, 0, "{ours:?}");
    assert!(ours.stdout.contains("< 61 1E"), "{ours:?}");
}
