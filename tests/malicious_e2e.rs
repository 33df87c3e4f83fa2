//! End-to-end: `sscard send`, `sscard atr` and `sscard info` against a malicious
//! virtual card (`sscard vcard --malice MODE`, see `src/vcard/malice.rs`), through a
//! real private pcscd with the vpcd driver.
//!
//! What "survive" means here, for every mode and command: the process ends by itself
//! within a time limit (no hang), is not killed by a signal and does not panic, exits
//! with one of the documented codes expected for that mode, and says what went wrong
//! (`sscard: error: ...` on stderr, or for a status word the status line on stdout).
//! Each command meets a freshly inserted card, so one mode's wreckage (a closed link,
//! a half-fetched response) cannot leak into the next command's result.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bed;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SELECT_SSSE: &str = "00A404000F7378312E73682EC9E7BBE1B1A3D5CF";
const READ_RECORD: &str = "00B2072C00";

/// Longest any command may take against a malicious card (the slowest legitimate
/// case, 256 GET RESPONSE rounds or a 40 KB response, takes well under a second).
const LIMIT: Duration = Duration::from_secs(20);

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `sscard ARGS` with a time limit; output goes to files, so a 100 KB answer
/// cannot block the child on a full pipe.
fn run_limited(bed: &Bed, name: &str, args: &[&str]) -> Outcome {
    let out_path = bed.dir.path().join(format!("{name}.out"));
    let err_path = bed.dir.path().join(format!("{name}.err"));
    let mut child = bed
        .cmd()
        .args(args)
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "`sscard {}` hung: still running after {LIMIT:?}",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let outcome = Outcome {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&err_path).unwrap()).into_owned(),
    };
    assert!(
        status.code().is_some(),
        "`sscard {}` was killed by a signal: {status}",
        args.join(" ")
    );
    outcome
}

/// Inserts a fresh malicious card, runs one command, pulls the card, and checks the
/// command survived with one of `codes`.
fn check(bed: &mut Bed, mode: &str, args: &[&str], codes: &[i32]) {
    let image = bed.image("ssc-2.00.json");
    bed.insert(0, &image, &["--no-save", "--once", "--malice", mode]);
    let name = format!("{mode}-{}", args.join("-"));
    let o = run_limited(bed, &name[..name.len().min(60)], args);
    bed.pull(0);
    let what = format!(
        "--malice {mode}: `sscard {}` exit {}\n--- stdout (first 500 bytes)\n{}\n--- stderr\n{}",
        args.join(" "),
        o.code,
        &o.stdout[..o.stdout.len().min(500)],
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{what}");
    assert!(
        codes.contains(&o.code),
        "expected exit code in {codes:?}: {what}"
    );
    match o.code {
        0 => {}
        // A status word other than the expected one: shown on stdout.
        6 if args[0] == "send" => assert!(o.stdout.contains("< "), "{what}"),
        _ => assert!(
            o.stderr.contains("sscard: error: "),
            "no clear error: {what}"
        ),
    }
}

/// Exit codes (src/error.rs): 0 ok, 4 no card, 5 card lost / unusable answer,
/// 7 also for an endless 61xx,
/// 6 unexpected status word, 7 invalid data, 8 unknown card.
fn survive(mode: &str, select: &[i32], read: &[i32], atr: &[i32], info: &[i32]) {
    let mut bed = Bed::start();
    check(&mut bed, mode, &["send", "-r", "0", SELECT_SSSE], select);
    check(&mut bed, mode, &["send", "-r", "0", READ_RECORD], read);
    check(&mut bed, mode, &["atr", "-r", "0"], atr);
    check(&mut bed, mode, &["info", "-r", "0"], info);
}

#[test]
fn lying_lengths() {
    // SELECT: 61 FF, then 5 bytes for the 255 announced: shown as they are.
    // READ RECORD: 6C xx that changes on the resend: one resend, then the status.
    survive("lying-length", &[0], &[6], &[0], &[5, 6, 7, 8]);
}

#[test]
fn endless_61xx() {
    // A card announcing data forever is lying, not lost: invalid data (7).
    survive("endless-61xx", &[7], &[7], &[0], &[5, 6, 7, 8]);
}

#[test]
fn deep_tlv_nesting() {
    // 40 KB of nested TLVs: `send` shows them (it parses no TLV); `info` must reject
    // them without overflowing its stack.
    survive("deep-tlv", &[0], &[0], &[0], &[5, 6, 7, 8]);
}

#[test]
fn zero_length_replies() {
    survive("zero-length", &[5], &[5], &[0], &[4, 5]);
}

#[test]
fn garbage_status_words() {
    survive("garbage-sw", &[6], &[6], &[0], &[5, 6, 7, 8]);
}

#[test]
fn one_byte_replies() {
    survive("short-reply", &[5], &[5], &[0], &[5, 6, 7, 8]);
}

#[test]
fn truncated_atr() {
    // The APDUs are honest: only `atr` has something to reject (READ RECORD by SFI on
    // a fresh card, still in the MF, is an honest 6A82); `info` may show the raw ATR
    // beside data it reads normally.
    survive("bad-atr", &[0], &[6], &[7], &[0, 7]);
}
