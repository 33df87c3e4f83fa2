//! End-to-end: the guided desk rides out a pcscd restart while it waits for a card
//! (issue 11 point 5). The holder is asked for the old card; pcscd stops; the desk
//! says so and keeps waiting; pcscd comes back; the card is inserted and the flow
//! completes. A desk whose wait ends while pcscd is down exits 3 (pcscd), not 5.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::Desk;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

const STOPPED: &str = "The card service (pcscd) stopped; waiting for it to come back";
const BACK: &str = "The card service (pcscd) is back";

/// Runs the one-reader pharmacy flow, stopping pcscd at the first "insert" prompt.
/// With `restart`, pcscd comes back once the desk said it stopped and the holder
/// then follows the desk; without, nobody restarts it. Returns exit code and stderr.
fn run(d: &mut Desk, restart: bool, timeout: &str) -> (i32, String) {
    let mut args = d.args(&["pharmacy"]);
    let t = args.iter().position(|a| a == "--timeout").unwrap();
    args[t + 1] = timeout.into();
    let mut child = d
        .bed
        .cmd()
        .env("SSCARD_TODAY", "20261122")
        .env("LANG", "C.UTF-8")
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    let mut stopped = false;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        stderr.push_str(&line);
        stderr.push('\n');
        if line.contains("Insert the old city medical card") && !stopped {
            stopped = true;
            d.bed.pcscd.stop();
        } else if line.contains(STOPPED) && restart {
            std::thread::sleep(std::time::Duration::from_millis(500));
            d.bed.pcscd.restart().unwrap();
        } else if line.contains(BACK) || line.contains("Insert the old city medical card") {
            let img = d.old_img.clone();
            d.bed.insert(0, &img, &[]);
        } else if line.contains("Insert the new social security card") {
            let img = d.new_img.clone();
            d.bed.insert(0, &img, &[]);
        } else if line.contains("Remove the old city medical card")
            || line.contains("Remove the new social security card")
        {
            d.bed.pull(0);
        }
    }
    let code = child.wait().unwrap().code().unwrap_or(-9);
    (code, stderr)
}

#[test]
fn the_desk_waits_through_a_pcscd_restart_and_completes() {
    let mut d = Desk::new(false);
    let (code, stderr) = run(&mut d, true, "30");
    assert!(stderr.contains(STOPPED), "{stderr}");
    assert!(stderr.contains(BACK), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(code, 0, "{stderr}");
}

#[test]
fn a_desk_giving_up_while_pcscd_is_down_exits_3() {
    let mut d = Desk::new(false);
    let (code, stderr) = run(&mut d, false, "3");
    assert!(stderr.contains(STOPPED), "{stderr}");
    assert_eq!(code, 3, "{stderr}");
    d.bed.pcscd.restart().unwrap();
}
