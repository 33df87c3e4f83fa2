//! End-to-end: long-running commands ride out a pcscd restart (issue 11 point 5).
//!
//! `sscard wait` and `sscard readers --watch --json` run while the private pcscd is
//! stopped and started again: neither may exit when it stops; both must say that
//! pcscd is down (stderr, and a `service_lost` event in the JSON), reconnect when it
//! is back, and report a card inserted afterwards. A wait that times out while pcscd
//! is down exits 3 (pcscd), never 5 (card).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Bed, Run};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Lines of a child's stdout, read on a thread so the test can time out.
fn line_reader(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Reads JSON events until one has `event == kind`; panics after `secs`.
fn until(
    rx: &mpsc::Receiver<String>,
    kind: &str,
    secs: u64,
    seen: &mut Vec<String>,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let l = rx.recv_timeout(left).unwrap_or_else(|_| {
            panic!(
                "no '{kind}' event within {secs} s; got:\n{}",
                seen.join("\n")
            )
        });
        seen.push(l.clone());
        let ev: serde_json::Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
        if ev["event"] == kind {
            return ev;
        }
    }
}

fn wait_exit(child: &mut Child, secs: u64) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the command did not end within {secs} s");
}

fn still_running(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn wait_and_watch_ride_out_a_pcscd_restart_and_see_a_card_inserted_after() {
    let mut bed = Bed::start();
    let mut wait = bed
        .cmd()
        .args(["wait", "--reader", "0", "--timeout", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watch = bed
        .cmd()
        .args(["readers", "--watch", "--json", "--timeout", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = line_reader(&mut watch);
    let mut seen = Vec::new();
    until(&rx, "reader_added", 10, &mut seen);
    std::thread::sleep(Duration::from_millis(300));

    bed.pcscd.stop();
    let lost = until(&rx, "service_lost", 10, &mut seen);
    assert!(
        lost["message"].as_str().unwrap().contains("pcscd"),
        "{lost}"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(still_running(&mut wait), "wait ended when pcscd stopped");
    assert!(still_running(&mut watch), "watch ended when pcscd stopped");

    bed.pcscd.restart().unwrap();
    until(&rx, "service_back", 15, &mut seen);
    assert!(still_running(&mut wait), "wait ended when pcscd came back");

    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let ev = until(&rx, "card_inserted", 15, &mut seen);
    assert_eq!(ev["reader"], "Virtual PCD 00 00");
    assert_eq!(ev["reader_hex"], hex::encode_upper("Virtual PCD 00 00"));
    assert!(ev["atr"].as_str().unwrap().starts_with("3B6D0000"), "{ev}");

    let code = wait_exit(&mut wait, 15);
    let err = stderr_of(&mut wait);
    assert_eq!(code, 0, "wait: {err}");
    assert!(err.contains("pcscd stopped"), "wait said nothing: {err}");
    assert!(err.contains("pcscd is back"), "{err}");

    let _ = watch.kill();
    let _ = watch.wait();
    let err = stderr_of(&mut watch);
    assert!(err.contains("pcscd stopped"), "watch stderr: {err}");
}

#[test]
fn giving_up_while_pcscd_is_down_exits_3_not_5() {
    let mut bed = Bed::start();
    let mut wait = bed
        .cmd()
        .args(["wait", "--reader", "0", "--timeout", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut watch = bed
        .cmd()
        .args(["readers", "--watch", "--json", "--timeout", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = line_reader(&mut watch);
    let mut seen = Vec::new();
    until(&rx, "reader_added", 10, &mut seen);
    bed.pcscd.stop();
    until(&rx, "service_lost", 10, &mut seen);
    let code = wait_exit(&mut wait, 10);
    let err = stderr_of(&mut wait);
    assert_eq!(code, 3, "wait: {err}");
    assert!(err.contains("pcscd"), "{err}");
    assert!(!err.contains("internal communications"), "{err}");
    let code = wait_exit(&mut watch, 10);
    let err = stderr_of(&mut watch);
    assert_eq!(code, 3, "watch: {err}");

    // Started while pcscd is down: the same (it waits, then exits 3).
    let t = Instant::now();
    let r: Run = bed.run(&["wait", "--reader", "0", "--timeout", "1.5"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1400),
        "did not wait: {r:?}"
    );
    assert!(r.stderr.contains("pcscd stopped"), "{r:?}");
    // ...and when pcscd comes up in time, it goes on waiting and sees the card.
    let mut wait = bed
        .cmd()
        .args(["wait", "--reader", "0", "--timeout", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    assert!(still_running(&mut wait));
    bed.pcscd.restart().unwrap();
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &[]);
    let code = wait_exit(&mut wait, 15);
    assert_eq!(code, 0, "{}", stderr_of(&mut wait));
}
