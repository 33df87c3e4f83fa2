//! Secrets never leak: every activation flow run with full trace logging and a
//! transcript, then every output searched for the PIN, the keys and the cryptograms.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{Desk, Faults, Strike};
use sscard::crypto::{Algorithm, SecretKey};

/// Every key the flows use, as hex: the masters and the diversified card keys.
fn key_texts() -> Vec<String> {
    let mut out = Vec::new();
    let text = std::fs::read_to_string(common::root().join("keys/test-keys.txt")).unwrap();
    let ssc_d: [u8; 8] = hex::decode("00BF7C7A48FB4966").unwrap().try_into().unwrap();
    let city_d: [u8; 8] = hex::decode("3939303030313233").unwrap().try_into().unwrap();
    for line in text
        .lines()
        .filter(|l| l.contains(" = ") && !l.starts_with("terminal"))
    {
        let (name, hexkey) = line.split_once(" = ").unwrap();
        let master = SecretKey::from_hex(hexkey.trim()).unwrap();
        out.push(master.to_hex());
        let d = if name.starts_with("city") {
            &city_d
        } else {
            &ssc_d
        };
        for alg in [Algorithm::Tdes, Algorithm::Sm4] {
            out.push(master.diversify(alg, d).to_hex());
        }
    }
    out
}

fn spaced(hex_text: &str) -> String {
    hex_text
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

fn assert_clean(what: &str, text: &str) {
    let upper = text.to_uppercase();
    for pin in ["135790", "13 57 90"] {
        assert!(!upper.contains(pin), "{what} shows the PIN:\n{text}");
    }
    for k in key_texts() {
        assert!(
            !upper.contains(&k) && !upper.contains(&spaced(&k)),
            "{what} shows a key"
        );
        // Half a key is a leak too.
        assert!(
            !upper.contains(&k[..16]) && !upper.contains(&spaced(&k[..16])),
            "{what} shows half a key"
        );
    }
    // Cryptograms: the data of EXTERNAL AUTHENTICATE and the answers of INTERNAL
    // AUTHENTICATE (fetched by GET RESPONSE) must be redacted wherever exchanges show.
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if let Some(pos) = line.find("> 00 82 00 ") {
            let data = &line[pos + "> 00 82 00 0C 08 ".len()..];
            assert!(
                data.split_whitespace().all(|b| b == ".."),
                "{what}: cryptogram shown: {line}"
            );
        }
        if line.contains("> 00 88 00 01 08") {
            // The next response line(s) of this exchange: "< 61 08", then the GET RESPONSE.
            let later: Vec<&&str> = lines[i + 1..]
                .iter()
                .filter(|l| l.contains("< "))
                .take(2)
                .collect();
            let fetched = later.last().unwrap();
            let data = &fetched[fetched.find("< ").unwrap() + 2..];
            let bytes: Vec<&str> = data.split_whitespace().take(8).collect();
            assert!(
                bytes.iter().all(|b| *b == ".."),
                "{what}: card proof shown: {fetched}"
            );
        }
    }
}

#[test]
fn no_pin_key_or_cryptogram_in_logs_journal_receipt_or_dump() {
    for two_readers in [true, false] {
        let mut d = Desk::new(two_readers);
        let dump = d.bed.dir.path().join("dump.txt");
        let dump_arg = dump.display().to_string();
        let mut outputs = Vec::new();
        // The pharmacy flow, a fault and its recovery, a cancel, and the window flow.
        let (r, _) = d.run(
            &["pharmacy", "-vv", "--dump", &dump_arg],
            &Faults::default(),
            Strike::None,
        );
        assert_eq!(r.code, 0, "{r:?}");
        outputs.push(r);
        d.reset();
        // A card pulled after the freeze (issue 10: the new card is checked first, so
        // with two readers N's APDU 16 is the first credit write; with one reader the
        // old card's read-back after its freeze starts at APDU 18).
        let pull = |n: &str| vec!["--remove-before".into(), n.into(), "--once".into()];
        let faults = if two_readers {
            Faults {
                old: vec![],
                new: pull("21"),
            }
        } else {
            Faults {
                old: pull("20"),
                new: vec![],
            }
        };
        let (r, _) = d.run(
            &["pharmacy", "-vv", "--dump", &dump_arg],
            &faults,
            Strike::None,
        );
        assert_eq!(r.code, 5, "the pull must interrupt the flow: {r:?}");
        outputs.push(r);
        let (r, _) = d.run(
            &["resume", "-vv", "--dump", &dump_arg],
            &Faults::default(),
            Strike::None,
        );
        assert_eq!(r.code, 0, "{r:?}");
        outputs.push(r);
        let (r, _) = d.run(
            &[
                "window",
                "-vv",
                "--citizen-id",
                "111111198101011110",
                "--verify-pin",
                "--dump",
                &dump_arg,
            ],
            &Faults::default(),
            Strike::None,
        );
        outputs.push(r);
        for (i, r) in outputs.iter().enumerate() {
            assert!(r.stderr.contains("sscard::apdu"), "the trace is on: {r:?}");
            assert_clean(&format!("run {i} stderr"), &r.stderr);
            assert_clean(&format!("run {i} receipt"), &r.stdout);
        }
        let text = std::fs::read_to_string(&dump).unwrap();
        assert!(
            text.contains("> 00 20 00 00 03 .. .. .."),
            "the dump holds the VERIFY: {text}"
        );
        assert!(
            text.contains("> 80 5E 00 00 03 .. .. .."),
            "the dump holds the RELOAD PIN"
        );
        assert_clean("dump", &text);
        for suffix in ["", "-wal"] {
            let path = format!("{}{suffix}", d.journal.display());
            if let Ok(bytes) = std::fs::read(&path) {
                assert_clean(
                    &format!("journal{suffix}"),
                    &String::from_utf8_lossy(&bytes),
                );
            }
        }
        let export = d.bed.run(&[
            "journal",
            "--journal",
            d.journal.to_str().unwrap(),
            "export",
        ]);
        assert_clean("journal export", &export.stdout);
    }
}
