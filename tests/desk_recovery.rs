//! End-to-end: recovery at the desk, driven by the plain English lines (the guided
//! screen runs the same recovery; tests/desk_tmux.rs shows it on a terminal).
//!
//! With `--retries`, a pulled card or a pcscd restart is not the end of the command:
//! the desk is told what to do and the transfer goes on, once, with the money
//! invariants of spec/activation.md holding on the cards afterwards. Without it
//! (plain mode's default) the command stops with the failure's own exit code, as
//! scripts expect.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{assert_invariants, new_money, old_money, Desk, Faults, Strike, BALANCE};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn a_card_pulled_too_early_is_put_back_and_the_transfer_goes_on() {
    let mut d = Desk::new(false);
    // The old card leaves at its 4th APDU (while it is read, before the freeze).
    let faults = Faults {
        old: ["--remove-before", "4", "--once"]
            .map(String::from)
            .to_vec(),
        new: vec![],
    };
    let (r, lines) = d.run(
        &["pharmacy", "--ui", "plain", "--retries", "2"],
        &faults,
        Strike::None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stderr.contains("The card was taken out too early. Put it back and leave it until the screen says to remove it. (Recovering: attempt 1 of 2.)"),
        "{r:?}"
    );
    // Asked for the old card twice: first time, and again after the pull.
    let asked = lines
        .iter()
        .filter(|l| l.starts_with("Insert the old city medical card"))
        .count();
    assert_eq!(asked, 2, "{lines:?}");
    assert_eq!(json(&r.stdout)["amount_fen"], BALANCE);
    let (old, new) = (old_money(&d.old_img), new_money(&d.new_img));
    assert_eq!((new.status, new.balance), (0x01, BALANCE));
    assert_eq!(old.transfer, new.transfer);
    assert_invariants(&d.old_img, &d.new_img, "after recovery");
}

#[test]
fn a_new_card_pulled_mid_credit_is_finished_from_the_journal() {
    // Two readers (issue 10: with one reader the new card's first insertion is the
    // check of step 1; its second, the credit): N's APDU 16 is the credit's first
    // write, so it leaves at its 21st APDU, in the middle of the credit writes.
    let mut d = Desk::new(true);
    let faults = Faults {
        old: vec![],
        new: ["--remove-before", "21", "--once"]
            .map(String::from)
            .to_vec(),
    };
    let (r, lines) = d.run(
        &["pharmacy", "--ui", "plain", "--retries", "1"],
        &faults,
        Strike::None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("(Recovering: attempt 1 of 1.)"), "{r:?}");
    // The transfer continues from the journal: the new card again, not the old one.
    let after: Vec<_> = lines
        .iter()
        .skip_while(|l| !l.contains("Recovering"))
        .filter(|l| l.starts_with("Insert"))
        .collect();
    assert_eq!(
        after,
        ["Insert the new social security card into 'Virtual PCD 00 01'."],
        "{lines:?}"
    );
    assert!(
        r.stderr.contains("Unfinished transfer") || r.stderr.contains("enters it twice"),
        "{r:?}"
    );
    let new = new_money(&d.new_img);
    assert_eq!((new.status, new.balance), (0x01, BALANCE));
    assert_eq!(new.transfer, old_money(&d.old_img).transfer);
    assert_invariants(&d.old_img, &d.new_img, "after recovery");
    // Applied once: one log record.
    assert_eq!(common::desk::log_records(&d.new_img).len(), 1);
}

#[test]
fn without_retries_a_pulled_card_stops_with_exit_5() {
    let mut d = Desk::new(false);
    let faults = Faults {
        old: ["--remove-before", "4", "--once"]
            .map(String::from)
            .to_vec(),
        new: vec![],
    };
    let (r, _) = d.run(&["pharmacy", "--ui", "plain"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    assert!(!r.stderr.contains("Recovering"), "{r:?}");
    assert_eq!(old_money(&d.old_img).status, 0x00, "nothing written");
}

#[test]
fn retries_are_bounded_and_giving_up_keeps_the_failures_exit_code() {
    let d = Desk::new(false);
    let path = |p: &std::path::Path| p.display().to_string();
    let r: common::Run = d
        .bed
        .cmd()
        .env("SSCARD_CONFIG", "none")
        .args(["activate", "pharmacy", "--reader", "0", "--ui", "plain"])
        .args(["--keys", &path(&d.keys), "--pin-file", &path(&d.pins)])
        .args([
            "--journal",
            &path(&d.journal),
            "--retries",
            "2",
            "--timeout",
            "0.5",
        ])
        .output()
        .unwrap()
        .into();
    // Nobody inserts a card: three waits (for the new card, checked first since
    // issue 10), two recoveries, then the timeout's code.
    assert_eq!(r.code, 15, "{r:?}");
    assert_eq!(
        r.stderr
            .matches("Insert the new social security card")
            .count(),
        3,
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("No card came in time. (Recovering: attempt 2 of 2.)"),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("Tried 2 times to recover; stopping here."),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains("sscard: error: timed out: no card was inserted into 'Virtual PCD 00 00'"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains("Insert the old city medical card"),
        "{r:?}"
    );
}

#[test]
fn pcscd_restarting_mid_flow_is_waited_for_and_the_transfer_goes_on() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut d = Desk::new(true);
    d.bed.insert(0, &d.old_img.clone(), &[]);
    d.bed.insert(1, &d.new_img.clone(), &[]);
    let mut child = d
        .bed
        .cmd()
        .env("SSCARD_TODAY", "20261122")
        .env("SSCARD_CONFIG", "none")
        .args(d.args(&["pharmacy", "--ui", "plain", "--retries", "2"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut stderr = String::new();
    let mut restarted = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        // pcscd goes away once, in the middle of the freeze. The virtual cards
        // reconnect to the new daemon by themselves, as a reader's cards reappear.
        if !restarted && line.contains("Freezing the old card's account") {
            d.bed.pcscd.restart().unwrap();
            restarted = true;
        }
        stderr.push_str(&line);
        stderr.push('\n');
    }
    let code = child.wait().unwrap().code();
    let stdout = out.join().unwrap();
    d.clear();
    assert_invariants(&d.old_img, &d.new_img, "after a pcscd restart");
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("The card service (pcscd) stopped."),
        "{stderr}"
    );
    assert!(stderr.contains("(Recovering: attempt 1 of 2.)"), "{stderr}");
    assert!(!stderr.contains("attempt 2 of 2"), "{stderr}");
    assert_eq!(json(&stdout)["old_card_finished"], true, "{stdout}");
    let new = new_money(&d.new_img);
    assert_eq!((new.status, new.balance), (0x01, BALANCE));
    assert_eq!(old_money(&d.old_img).status, 0x02);
}
