//! End-to-end: `sscard script` against the virtual cards through a real pcscd + vpcd.
//!
//! Each test starts its own private pcscd (`sscard::testbed::Pcscd`, needs root), plugs
//! copies of the card images into its vpcd slots as `sscard vcard` processes, waits for
//! pcscd to see them with `sscard wait`, and runs the `sscard` binary with
//! `PCSCLITE_CSOCK_NAME` set on the child only. Shown here:
//! - every shipped script in `apdu-scripts/` runs green on the cards it is for;
//! - a wrong expectation exits 9 naming step, expected and actual;
//! - the plain subset of a shipped script gives the same responses under `scriptor`;
//! - PINs come from `--var-file` / stdin and never reach the output or the dump;
//! - a dump replays without a reader; `wait-card` / `wait-remove` follow the desk;
//! - script, reader and card errors have their own exit codes.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::testbed::{Pcscd, VirtualCardProcess};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const EXE: &str = env!("CARGO_BIN_EXE_sscard");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn script_path(name: &str) -> String {
    format!("{ROOT}/apdu-scripts/{name}")
}

/// A private pcscd with card copies plugged in.
struct Bed {
    pcscd: Pcscd,
    dir: tempfile::TempDir,
    cards: Vec<Option<VirtualCardProcess>>,
}

impl Bed {
    /// Starts pcscd and inserts `cards` (slot, image name in `cards/`).
    fn new(cards: &[(u8, &str)]) -> Bed {
        let pcscd = Pcscd::start().unwrap_or_else(|e| {
            panic!("cannot start a private pcscd (these tests need root and vsmartcard-vpcd): {e}")
        });
        let dir = tempfile::tempdir().unwrap();
        let mut bed = Bed {
            pcscd,
            dir,
            cards: vec![None, None],
        };
        for (slot, name) in cards {
            bed.insert(*slot, name);
        }
        bed
    }

    /// Copies `cards/NAME.json` (the card writes its state back) and plugs it in.
    fn insert(&mut self, slot: u8, name: &str) {
        let image = self.dir.path().join(format!("slot{slot}-{name}.json"));
        std::fs::copy(format!("{ROOT}/cards/{name}.json"), &image).unwrap();
        let card =
            VirtualCardProcess::insert(Path::new(EXE), &image, self.pcscd.port(slot), &[]).unwrap();
        self.cards[slot as usize] = Some(card);
        let st = self
            .sscard()
            .args(["wait", "--reader", &slot.to_string(), "--timeout", "10"])
            .status()
            .unwrap();
        assert!(st.success(), "card {name} not seen in slot {slot}");
    }

    fn pull(&mut self, slot: u8) {
        if let Some(mut c) = self.cards[slot as usize].take() {
            c.pull();
        }
    }

    /// `sscard` with the private daemon's socket (on the child only).
    fn sscard(&self) -> Command {
        let (k, v) = self.pcscd.env();
        let mut c = Command::new(EXE);
        c.env(k, v).env("RUST_LOG", "warn");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.sscard().arg("script").args(args).output().unwrap()
    }

    /// A private copy of the test keys, mode 600.
    fn keys(&self) -> String {
        let path = self.dir.path().join("test-keys.txt");
        if !path.exists() {
            std::fs::copy(format!("{ROOT}/keys/test-keys.txt"), &path).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        path.display().to_string()
    }

    fn file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path.display().to_string()
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[track_caller]
fn assert_code(o: &Output, code: i32) {
    let (out, err) = text(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{out}\nstderr:\n{err}"
    );
}

/// The scripts each card runs green, with extra arguments.
fn green(bed: &Bed, reader: &str, scripts: &[&str]) {
    let keys = bed.keys();
    for s in scripts {
        let path = script_path(s);
        let o = bed.run(&["--reader", reader, "--keys", &keys, &path]);
        assert_code(&o, 0);
        assert!(text(&o).0.contains("PASS:"), "{s}");
        covered(s);
    }
}

/// Shipped scripts the tests below run green (checked by `every_shipped_script_is_run`).
const COVERED: &[&str] = &[
    "atr-smoke.apdu",
    "ssc-identity-by-tag.apdu",
    "ssc-1.00-identity-by-record.apdu",
    "ssc-2.00-identity-by-record.apdu",
    "ssc-3.00-identity.apdu",
    "ssc-medical-df04.apdu",
    "ssc-pin-tries.apdu",
    "ssc-external-auth.apdu",
    "psam-terminal-number.apdu",
    "city-status.apdu",
];

fn covered(s: &str) {
    assert!(COVERED.contains(&s), "add {s} to COVERED");
}

#[test]
fn every_shipped_script_is_run_and_checks() {
    let mut shipped: Vec<String> = std::fs::read_dir(format!("{ROOT}/apdu-scripts"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".apdu"))
        .collect();
    shipped.sort();
    let mut listed: Vec<String> = COVERED.iter().map(|s| s.to_string()).collect();
    listed.sort();
    assert_eq!(
        shipped, listed,
        "every shipped script must be run by a test here"
    );
    for s in &shipped {
        let o = Command::new(EXE)
            .args(["script", "--check", &script_path(s)])
            .output()
            .unwrap();
        assert_code(&o, 0);
        // Each states which card it is for.
        let body = std::fs::read_to_string(script_path(s)).unwrap();
        assert!(
            body.contains("# For: "),
            "{s} does not say which card it is for"
        );
    }
}

#[test]
fn ssc_2_00_scripts_run_green() {
    let bed = Bed::new(&[(0, "ssc-2.00"), (1, "psam")]);
    green(
        &bed,
        "0",
        &[
            "atr-smoke.apdu",
            "ssc-identity-by-tag.apdu",
            "ssc-2.00-identity-by-record.apdu",
            "ssc-medical-df04.apdu",
            "ssc-pin-tries.apdu",
            "ssc-external-auth.apdu",
        ],
    );
    // The same authentication with the PSAM in the other reader computing cryptograms.
    let o = bed.run(&[
        "--reader",
        "0",
        "--psam",
        "1",
        &script_path("ssc-external-auth.apdu"),
    ]);
    assert_code(&o, 0);
    green(&bed, "1", &["psam-terminal-number.apdu", "atr-smoke.apdu"]);
}

#[test]
fn ssc_1_00_scripts_run_green() {
    let bed = Bed::new(&[(0, "ssc-1.00")]);
    green(
        &bed,
        "0",
        &[
            "atr-smoke.apdu",
            "ssc-identity-by-tag.apdu",
            "ssc-1.00-identity-by-record.apdu",
            "ssc-medical-df04.apdu",
            "ssc-pin-tries.apdu",
            "ssc-external-auth.apdu",
        ],
    );
    // Generation checks are real: the 2.00 numbering fails on a 1.00 card.
    let o = bed.run(&[
        "--reader",
        "0",
        &script_path("ssc-2.00-identity-by-record.apdu"),
    ]);
    assert_code(&o, 9);
}

#[test]
fn ssc_3_00_scripts_run_green() {
    let bed = Bed::new(&[(0, "ssc-3.00")]);
    green(
        &bed,
        "0",
        &[
            "atr-smoke.apdu",
            "ssc-3.00-identity.apdu",
            "ssc-medical-df04.apdu",
            "ssc-pin-tries.apdu",
            "ssc-external-auth.apdu",
        ],
    );
    // The 3.00 card is SM4: the cryptogram is 16 bytes, and stays hidden.
    let o = bed.run(&[
        "--reader",
        "0",
        "--keys",
        &bed.keys(),
        &script_path("ssc-3.00-identity.apdu"),
    ]);
    let (out, _) = text(&o);
    assert!(out.contains("let $crypt = (16 bytes, secret)"), "{out}");
    assert!(
        out.contains("> 00 82 00 0A 10 .. .. .. .. .. .. .. .. .. .. .. .. .. .. .. .."),
        "{out}"
    );
}

#[test]
fn city_and_psam_scripts_run_green() {
    let bed = Bed::new(&[(0, "city"), (1, "psam")]);
    green(&bed, "0", &["atr-smoke.apdu", "city-status.apdu"]);
    green(&bed, "1", &["psam-terminal-number.apdu", "atr-smoke.apdu"]);
}

#[test]
fn a_wrong_expectation_exits_9_naming_step_expected_and_actual() {
    let bed = Bed::new(&[(0, "ssc-2.00")]);
    let lib = script_path("lib/ssc-select-ssse.apdu");
    let script = bed.file(
        "wrong.apdu",
        &format!(
            "include {lib}\nstep card number\n00 B2 07 28 00\n=> 9000 07 09 \"X00000027\"\n\
             step never reached\n00 B2 01 28 00\n"
        ),
    );
    let o = bed.run(&["--reader", "0", &script]);
    assert_code(&o, 9);
    let (out, err) = text(&o);
    assert!(
        out.contains(&format!("MISMATCH in step \"card number\" at {script}:4:1")),
        "{out}"
    );
    assert!(
        out.contains("expected: => 9000 07 09 \"X00000027\""),
        "{out}"
    );
    assert!(
        out.contains("actual:   07 09 58 30 30 30 30 30 30 31 39 90 00 (SW 9000 (success))"),
        "{out}"
    );
    assert!(
        out.contains("why:      data byte 9: expected 32, got 31"),
        "{out}"
    );
    assert!(
        !out.contains("00 B2 01 28 00"),
        "stopped at the first mismatch:\n{out}"
    );
    assert!(err.contains("step \"card number\""), "{err}");
    // --keep-going runs on and still exits 9.
    let o = bed.run(&["--reader", "0", "--keep-going", &script]);
    assert_code(&o, 9);
    assert!(text(&o).0.contains("> 00 B2 01 28 00"));
    // A wrong status word in a shipped script's style.
    let sw = bed.file(
        "sw.apdu",
        "step select nothing\n00 A4 00 00 02 12 34\n=> 9000\n",
    );
    let o = bed.run(&["--reader", "0", "--json", &sw]);
    assert_code(&o, 9);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &doc["summary"]["failures"][0];
    assert_eq!(f["step"], "select nothing");
    assert_eq!(f["expected"], "=> 9000");
    assert_eq!(f["reason"], "the status word is 6A82, not 9000");
    assert_eq!(f["at"]["line"], 3);
}

/// Responses in scriptor's output (`< XX XX ... : meaning`, wrapped every 16 bytes).
fn scriptor_responses(out: &str) -> Vec<String> {
    let mut responses = Vec::new();
    let mut current: Option<String> = None;
    for line in out.lines() {
        let part = match (&current, line.strip_prefix("< ")) {
            (None, Some(rest)) => rest,
            (Some(_), _) => line,
            (None, None) => continue,
        };
        let (bytes, done) = match part.split_once(" : ") {
            Some((b, _)) => (b, true),
            None => (part, false),
        };
        let acc = current.get_or_insert_with(String::new);
        for b in bytes.split_whitespace() {
            if !acc.is_empty() {
                acc.push(' ');
            }
            acc.push_str(b);
        }
        if done {
            responses.extend(current.take());
        }
    }
    responses
}

#[test]
fn the_plain_subset_gives_the_same_responses_under_scriptor() {
    if Command::new("scriptor")
        .arg("-h")
        .stdin(Stdio::null())
        .output()
        .is_err()
    {
        println!(
            "SKIPPED: scriptor (pcsc-tools) is not installed; install pcsc-tools to run this test"
        );
        return;
    }
    let bed = Bed::new(&[(0, "ssc-2.00"), (1, "psam")]);
    for (script, reader, reader_name) in [
        ("ssc-identity-by-tag.apdu", "0", bed.pcscd.reader_name(0)),
        ("ssc-medical-df04.apdu", "0", bed.pcscd.reader_name(0)),
        ("psam-terminal-number.apdu", "1", bed.pcscd.reader_name(1)),
    ] {
        let plain = bed.run(&["--plain", &script_path(script)]);
        assert_code(&plain, 0);
        let plain_file = bed.file(&format!("{script}.plain"), &text(&plain).0);
        let ours = bed.run(&["--reader", reader, "--json", &script_path(script)]);
        assert_code(&ours, 0);
        let doc: serde_json::Value = serde_json::from_slice(&ours.stdout).unwrap();
        let our_responses: Vec<String> = doc["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "exchange")
            .map(|e| e["response"].as_str().unwrap().to_string())
            .collect();
        let (k, v) = bed.pcscd.env();
        let theirs = Command::new("scriptor")
            .args(["-r", reader_name, &plain_file])
            .env(k, v)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (tout, terr) = text(&theirs);
        assert!(theirs.status.success(), "scriptor failed:\n{tout}\n{terr}");
        let their_responses = scriptor_responses(&tout);
        assert!(!our_responses.is_empty());
        assert_eq!(
            our_responses, their_responses,
            "{script}: sscard vs scriptor\n{tout}"
        );
    }
}

#[test]
fn pins_come_from_var_files_or_stdin_and_never_show() {
    let bed = Bed::new(&[(0, "ssc-2.00")]);
    let script = bed.file(
        "verify.apdu",
        "00 A4 00 00 02 3F 00\n=> 9000\nstep verify the PIN\n00 20 00 00 03 $pin\n=> 9000\n\
         00 20 00 00\n=> 9000\n",
    );
    let pins = bed.file("pins.txt", "pin = 123456\n");
    let dump = bed.dir.path().join("dump.txt").display().to_string();
    let o = bed.run(&[
        "--reader",
        "0",
        "--var-file",
        &pins,
        "--dump",
        &dump,
        &script,
    ]);
    assert_code(&o, 0);
    let (out, err) = text(&o);
    assert!(out.contains("> 00 20 00 00 03 .. .. .."), "{out}");
    for shown in [&out, &err, &std::fs::read_to_string(&dump).unwrap()] {
        assert!(
            !shown.contains("12 34 56") && !shown.contains("123456"),
            "{shown}"
        );
    }
    // From standard input.
    let mut child = bed
        .sscard()
        .args(["script", "--reader", "0", "--var-file", "-", &script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"pin = 123456\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_code(&o, 0);
    // Never from argv; a readable var file is refused.
    let o = bed.run(&["--reader", "0", "--var", "pin=123456", &script]);
    assert_code(&o, 2);
    assert!(text(&o).1.contains("--var-file"));
    std::fs::set_permissions(&pins, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = bed.run(&["--reader", "0", "--var-file", &pins, &script]);
    assert_code(&o, 2);
    assert!(text(&o).1.contains("chmod 600"));
}

#[test]
fn a_dump_replays_without_a_reader() {
    let bed = Bed::new(&[(0, "ssc-2.00")]);
    let dump = bed.dir.path().join("dump.txt").display().to_string();
    let script = script_path("ssc-identity-by-tag.apdu");
    let o = bed.run(&["--reader", "0", "--dump", &dump, &script]);
    assert_code(&o, 0);
    // No PCSCLITE socket at all: the replay needs no daemon.
    let o = Command::new(EXE)
        .args(["script", "--replay", &dump, &script])
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")
        .output()
        .unwrap();
    assert_code(&o, 0);
    assert!(text(&o).0.contains("replay of Virtual PCD 00 00"));
    // A script that sends something else does not pass on the replay.
    let other = bed.file("other.apdu", "00 A4 00 00 02 DF 04\n");
    let o = Command::new(EXE)
        .args(["script", "--replay", &dump, &other])
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn wait_card_and_wait_remove_follow_the_desk() {
    let mut bed = Bed::new(&[]);
    let lib = script_path("lib/ssc-select-ssse.apdu");
    let script = bed.file(
        "two-cards.apdu",
        &format!(
            "echo insert the first card\nwait-card 20\ninclude {lib}\nstep first card number\n\
             00 B2 07 28 00\n=> 9000 07 09 \"X00000019\"\necho take it out\nwait-remove 20\n\
             wait-card 20\ninclude {lib}\nstep second card number\n00 B2 07 28 00\n\
             => 9000 07 09 \"X00000027\"\n"
        ),
    );
    let mut child = bed
        .sscard()
        .args(["script", "--reader", "0", &script])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut inserts = 0;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if line.starts_with("# waiting: insert") {
            inserts += 1;
            bed.insert(0, if inserts == 1 { "ssc-2.00" } else { "ssc-1.00" });
        } else if line.starts_with("# waiting: remove") {
            bed.pull(0);
        }
        seen.push(line);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{}", seen.join("\n"));
    assert_eq!(inserts, 2);
    assert!(
        seen.iter().any(|l| l.contains("PASS: 8 exchange(s)")),
        "{}",
        seen.join("\n")
    );
}

#[test]
fn script_reader_and_card_errors_have_their_own_exit_codes() {
    let bed = Bed::new(&[(0, "ssc-2.00")]);
    // Script error: before anything is sent, with file:line:column.
    let bad = bed.file("bad.apdu", "00 A4 00 00 02 3F 00\n00 A4 0Z\n");
    let o = bed.run(&["--reader", "0", &bad]);
    assert_code(&o, 10);
    assert!(
        text(&o).1.contains(&format!("{bad}:2:8:")),
        "{}",
        text(&o).1
    );
    let o = bed.run(&["--reader", "0", "--json", &bad]);
    assert_code(&o, 10);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["summary"]["result"], "script_error");
    assert_eq!(doc["summary"]["error_at"]["column"], 8);
    // No such reader: 3. Empty reader: 4.
    let ok = script_path("ssc-pin-tries.apdu");
    assert_code(&bed.run(&["--reader", "7", &ok]), 3);
    assert_code(&bed.run(&["--reader", "1", &ok]), 4);
    // cryptogram() without keys: 11.
    assert_code(
        &bed.run(&["--reader", "0", &script_path("ssc-external-auth.apdu")]),
        11,
    );
    // A wait that times out: 15.
    let wait = bed.file("wait.apdu", "wait-card 0.5\n00 A4 00 00 02 3F 00\n");
    assert_code(&bed.run(&["--reader", "1", &wait]), 15);
}

#[test]
fn json_output_is_one_versioned_document() {
    let bed = Bed::new(&[(0, "ssc-2.00")]);
    let o = bed.run(&[
        "--reader",
        "0",
        "--format",
        "json",
        &script_path("ssc-pin-tries.apdu"),
    ]);
    assert_code(&o, 0);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-script");
    assert_eq!(doc["schema_version"], sscard::output::Doc::Script.version());
    assert!(
        doc.get("version").is_none(),
        "2.0: `version` is `schema_version`"
    );
    assert_eq!(doc["session"]["reader"], "Virtual PCD 00 00");
    assert_eq!(doc["summary"]["result"], "pass");
    assert_eq!(doc["summary"]["exchanges"], 3);
    let exchanges: Vec<&serde_json::Value> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "exchange")
        .collect();
    assert_eq!(exchanges[1]["command"], "00 20 00 00");
    assert_eq!(exchanges[1]["sw"], "63C6");
}
