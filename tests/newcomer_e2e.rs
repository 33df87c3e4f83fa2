//! What a technician trying sscard for the first time ran into: `sscard testbed`
//! stopped with Ctrl-C at a terminal (SIGINT to the whole process group), a typo in a
//! card image path, and `sscard send` exiting 6 without a word.
//!
//! Each runs through the real binary and a private pcscd (`sscard testbed`), as root.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{exe, root};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn image_copy(dir: &tempfile::TempDir, name: &str) -> String {
    let image = dir.path().join(name);
    std::fs::copy(root().join("cards").join(name), &image).unwrap();
    image.display().to_string()
}

/// Ctrl-C reaches the test bed and its command together. The command often ended of
/// its own SIGINT before the test bed looked, which then reported "the command exited
/// with status 130" and exited 1 (internal error) instead of 130.
#[test]
fn ctrl_c_to_the_testbed_process_group_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_copy(&dir, "city.json");
    for round in 0..3 {
        let child = Command::new(exe())
            .args(["testbed", "--card", &format!("0={image}"), "--"])
            // A command that ends at once on SIGINT, as `sscard wait` does.
            .args([
                exe().to_str().unwrap(),
                "wait",
                "--reader",
                "1",
                "--timeout",
                "60",
            ])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
        // Let the bed come up and the command start waiting.
        std::thread::sleep(Duration::from_secs(4));
        nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGINT).unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "round {round}: {stderr}");
        assert!(
            stderr.contains("testbed stopped by SIGINT"),
            "round {round}: {stderr}"
        );
        assert!(
            !stderr.contains("the command exited with status"),
            "round {round}: {stderr}"
        );
    }
}

/// A card image that cannot be loaded is a virtual card failure (16), said before
/// anything starts; it was a 10 s wait and exit 15 (timed out).
#[test]
fn testbed_with_a_bad_card_image_exits_16_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    for image in [dir.path().join("missing.json"), bad] {
        let started = Instant::now();
        let out = Command::new(exe())
            .args([
                "testbed",
                "--card",
                &format!("0={}", image.display()),
                "--",
                "true",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(16), "{}: {stderr}", image.display());
        assert!(stderr.contains("card image"), "{stderr}");
        assert!(!stderr.contains("timed out"), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(5), "{stderr}");
    }
}

/// `send` exits 6 when the last status word is not the expected one, and now says
/// which it was.
#[test]
fn send_names_the_unexpected_status_word() {
    let dir = tempfile::tempdir().unwrap();
    let image = image_copy(&dir, "ssc-2.00.json");
    let out = Command::new(exe())
        .args(["testbed", "--card", &format!("0={image}"), "--"])
        .args([exe().to_str().unwrap(), "send", "-r", "0", "00A4000002EEEE"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("the last status word is 6A82, not the expected 9000"),
        "{stderr}"
    );
    let out = Command::new(exe())
        .args(["testbed", "--card", &format!("0={image}"), "--"])
        .args([
            exe().to_str().unwrap(),
            "send",
            "-r",
            "0",
            "--expect",
            "6A82",
        ])
        .arg("00A4000002EEEE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("last status word"), "{stderr}");
}

/// `sscard send 00 A4 00 00` without quotes is four 1-byte APDUs; a 1-byte APDU hung
/// the vpcd reader for every later client. Refused before any reader is touched.
#[test]
fn send_refuses_apdus_shorter_than_a_header() {
    for (args, which) in [
        (vec!["send", "00", "A4", "00", "00"], "APDU 1: 1 byte(s)"),
        (vec!["send", "00A40000023F00", "00A4"], "APDU 2: 2 byte(s)"),
        (vec!["send", "--raw", "00A400"], "APDU 1: 3 byte(s)"),
    ] {
        // No pcscd at this socket: the refusal must come first.
        let out = Command::new(exe())
            .args(&args)
            .env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{args:?}: {stderr}");
        assert!(stderr.contains(which), "{args:?}: {stderr}");
        assert!(stderr.contains("inside quotes"), "{args:?}: {stderr}");
    }
}
