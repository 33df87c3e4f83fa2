//! Runs every kept fuzz corpus input through the same invariant functions the
//! cargo-fuzz targets call, on the stable toolchain.
//!
//! Why: libFuzzer needs nightly and minutes per target, which CI cannot afford on
//! every push (`scripts/fuzz` runs it when asked). The corpus is where the
//! interesting inputs end up (seeds, inputs that found new coverage, minimised
//! crashes), so replaying it on every `cargo test` keeps each fixed crash fixed and
//! each invariant checked, in well under a second. A proptest per target adds random
//! inputs on top, as the main crate's own `fuzz_check` proptests do for `atr`/`tlv`.
//!
//! A corpus directory without a check here fails the test: an unchecked corpus
//! would look covered and not be.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/fuzz_targets/checks.rs"]
mod checks;

use proptest::prelude::*;
use std::path::{Path, PathBuf};

/// The check of each target, by corpus directory name.
fn check_for(target: &str) -> Option<fn(&[u8])> {
    Some(match target {
        "atr" => sscard::card::historical::fuzz_check,
        "tlv" => sscard::apdu::tlv::fuzz_check,
        "script" => sscard::script::fuzz_parse,
        "response" => checks::response,
        "command" => checks::command,
        "vpcd" => checks::vpcd,
        "profile" => checks::profile,
        _ => return None,
    })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

fn run_dir(target: &str, dir: &Path) -> usize {
    let check = check_for(target).unwrap_or_else(|| {
        panic!(
            "fuzz corpus '{}' has no check in tests/fuzz_corpus.rs: add its target's function",
            dir.display()
        )
    });
    let list = files(dir);
    for file in &list {
        let data = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "fuzz target '{target}' fails on corpus file {} (reproduce: cd fuzz && cargo +nightly fuzz run {target} {})",
            file.display(),
            file.strip_prefix(root().join("fuzz")).unwrap_or(file).display()
        );
    }
    list.len()
}

#[test]
fn every_corpus_file_passes_its_target_check() {
    let corpus = root().join("fuzz/corpus");
    let mut total = 0;
    let mut targets = Vec::new();
    for dir in std::fs::read_dir(&corpus).expect("fuzz/corpus") {
        let dir = dir.expect("directory entry").path();
        if !dir.is_dir() {
            continue;
        }
        let target = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        total += run_dir(&target, &dir);
        targets.push(target);
    }
    for t in ["atr", "tlv", "response", "command", "vpcd", "profile"] {
        assert!(targets.iter().any(|x| x == t), "fuzz/corpus/{t} is missing");
    }
    assert!(total > 0);
}

#[test]
fn shipped_scripts_pass_the_script_check() {
    // The `script` target's seed corpus is the shipped scripts (fuzz/fuzz_targets/script.rs).
    let dir = root().join("apdu-scripts");
    if dir.is_dir() {
        run_dir("script", &dir);
    }
}

#[test]
fn malicious_answers_pass_the_response_check() {
    // Every malicious mode's answers, chunked the way `checks::response` reads them.
    use sscard::vcard::malice::{Malice, Mode, Reply};
    for mode in Mode::ALL {
        let mut m = Malice::new(mode);
        let mut chunks = Vec::new();
        for command in [
            &[0x00, 0xA4, 0x04, 0x00, 0x00][..],
            &[0x00, 0xC0, 0x00, 0x00, 0x00],
        ] {
            if let Reply::Send(r) = m.reply(command, vec![0x90, 0x00]) {
                let n = r.len().min(255);
                chunks.push(n as u8);
                chunks.extend_from_slice(&r[..n]);
            }
        }
        checks::response(&chunks);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn response_check_holds(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        checks::response(&data);
    }

    #[test]
    fn command_check_holds(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        checks::command(&data);
    }

    #[test]
    fn vpcd_check_holds(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        checks::vpcd(&data);
    }

    #[test]
    fn profile_check_holds(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        checks::profile(&data);
    }
}
