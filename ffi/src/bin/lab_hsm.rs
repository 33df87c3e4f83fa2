//! `sscard-lab-hsm`: the lab's stand-in for the back office's encryption machine.
//!
//! A desk without a local PSAM reads a 3.00 card in two steps: `iReadCardBas_HSM_Step1`
//! gives the factors, the back office's HSM answers `pKey`, `iReadCardBas_HSM_Step2`
//! finishes. No lab has that HSM, so this program plays it from a key file (the test
//! master keys of docs/spec/cards.md §6; the file must be readable by its owner only),
//! which lets the two-step read be tested end to end. Never for a real back office.
//!
//! Usage: `sscard-lab-hsm --keys FILE` reads the Step1 line on standard input and
//! prints `pKey` (`<internal result>|<external cryptogram>|`) on standard output.
//! Exit status: 0 answered; 2 usage; 7 the Step1 line is malformed; 11 the key file
//! is refused or lacks a key.

use sscard_core::national::{read::lab_hsm_answer, Step1Info};
use sscard_core::profile::Profiles;
use sscard_core::sam::keyfile::KeyFile;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: sscard-lab-hsm --keys FILE  (Step1 line on stdin, pKey on stdout)";

/// Says why on standard error (a closed stderr is ignored: `eprintln!` would panic
/// and end with 101 instead of the documented status).
fn fail(code: u8, msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "sscard-lab-hsm: error: {msg}");
    ExitCode::from(code)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keys = match args.as_slice() {
        [flag, path] if flag == "--keys" => PathBuf::from(path),
        [flag] if flag == "--help" || flag == "-h" => {
            return match writeln!(std::io::stdout().lock(), "{USAGE}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => fail(2, "standard output closed"),
            };
        }
        _ => return fail(2, USAGE),
    };
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().take(4096).read_to_end(&mut input) {
        return fail(2, &format!("standard input: {e}"));
    }
    let line = String::from_utf8_lossy(&input);
    let step1 = match Step1Info::parse(line.trim()) {
        Ok(s) => s,
        Err(e) => return fail(7, &e.detail),
    };
    let mut sam = match KeyFile::load(&keys) {
        Ok(k) => k,
        Err(e) => return fail(11, &e.to_string()),
    };
    let profiles = match Profiles::builtin() {
        Ok(p) => p,
        Err(e) => return fail(7, &e.to_string()),
    };
    let Some(profile) = profiles.first_of(sscard_core::profile::Kind::Ssc) else {
        return fail(7, "no social security card profile");
    };
    match lab_hsm_answer(&step1, profile, &mut sam) {
        Ok(key) => {
            let mut out = std::io::stdout().lock();
            if writeln!(out, "{}", key.to_pkey().as_str())
                .and_then(|()| out.flush())
                .is_err()
            {
                return fail(2, "standard output closed");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(11, &e.detail),
    }
}
