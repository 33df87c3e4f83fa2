//! End-to-end: scriptor scripts mean the same to sscard as to scriptor (issue 11 §3).
//!
//! Every file in `tests/scriptor-corpus/` is a script scriptor (pcsc-tools) runs
//! without error. Each runs through scriptor and through `sscard script` against the
//! same virtual card, through a private pcscd + vpcd; the card logs what it received
//! (`sscard vcard --apdu-log`), and the commands and warm resets it saw must be
//! identical, in order. The parse alone must agree too: `sscard script --plain` (the
//! same parser as `--check` and a run, no card) lists exactly those APDUs and resets,
//! and `--check` accepts the file.
//!
//! The corpus covers scriptor's line rules as its Perl source has them (see
//! `src/script/lexer.rs`): `\` continuation across blank lines and column-0 comments
//! (the issue's input is `01-…`), `reset` and `exit` anywhere in a line (comments
//! included), inside a continuation, an unfinished APDU at the end of the file, case,
//! packed hex, GET RESPONSE and a `6Cxx` resend written by hand.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{root, Bed};
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("tests/scriptor-corpus"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "the corpus is missing: {files:?}");
    files
}

/// The commands (`> …`) and warm resets the card logged, in order.
fn received(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("> ") || *l == "reset")
        .map(str::to_string)
        .collect()
}

#[test]
fn scriptor_and_sscard_send_the_same_apdus() {
    assert!(
        Path::new("/usr/bin/scriptor").exists(),
        "scriptor (pcsc-tools) is needed: scripts/setup installs it"
    );
    let mut bed = Bed::start();
    let log = bed.dir.path().join("apdus.log");
    let image = bed.image("ssc-2.00.json");
    bed.insert(
        0,
        &image,
        &["--no-save", "--apdu-log", log.to_str().unwrap()],
    );
    let (k, v) = bed.pcscd.env();
    let mut failures = Vec::new();
    for file in corpus() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let path = file.to_str().unwrap();

        std::fs::write(&log, "").unwrap();
        let out = Command::new("scriptor")
            .args(["-r", "Virtual PCD 00 00", path])
            .env(k, &v)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: scriptor failed (the corpus holds valid scriptor scripts only): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let by_scriptor = received(&log);
        assert!(
            !by_scriptor.is_empty(),
            "{name}: the card saw nothing from scriptor"
        );

        std::fs::write(&log, "").unwrap();
        let r = bed.run(&["script", "--reader", "0", "--keep-going", path]);
        assert!(
            r.code == 0 || r.code == 9,
            "{name}: sscard script did not run the script: {r:?}"
        );
        let by_sscard = received(&log);

        let check = bed.run(&["script", "--check", path]);
        assert_eq!(check.code, 0, "{name}: --check refuses it: {check:?}");
        let plain = bed.run(&["script", "--plain", path]);
        assert_eq!(plain.code, 0, "{name}: --plain: {plain:?}");
        let parsed: Vec<String> = plain
            .stdout
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && *l != "exit")
            .map(|l| {
                if l == "reset" {
                    l.to_string()
                } else {
                    format!("> {l}")
                }
            })
            .collect();

        if by_sscard != by_scriptor {
            failures.push(format!(
                "{name}: the card received different commands\n  scriptor: {by_scriptor:?}\n  sscard:   {by_sscard:?}\n{r:?}"
            ));
        }
        if parsed != by_scriptor {
            failures.push(format!(
                "{name}: the parse (--plain) differs from what scriptor sent\n  scriptor: {by_scriptor:?}\n  parsed:   {parsed:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
