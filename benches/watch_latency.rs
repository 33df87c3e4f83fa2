//! Card-event latency of `sscard readers --watch`, and its CPU use while waiting.
//!
//! Run: `scripts/bench watch`, or `cargo bench --bench watch_latency`.
//!
//! Latency: a virtual card is inserted (the `sscard vcard` process is spawned) and the
//! clock runs until `sscard readers --watch --json` prints `card_inserted`; the same for
//! removal (process killed → `card_removed`). Beside it, a bare
//! `SCardGetStatusChange` loop in this process watches the same reader, so each event
//! has a floor: most of the latency is vpcd's and pcscd's polling (notes: insertion is
//! seen 0.05–0.45 s after connect), and sscard's own share is the difference.
//!
//! CPU: utime + stime of the watch process from `/proc/PID/stat` over an idle
//! window (no events), as a percentage of one core; pcscd's over the same window
//! for scale (it polls vpcd every 400 ms whatever its clients do).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{median, Bed};
use sscard::testbed::VirtualCardProcess;
use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const EVENTS: usize = 10;
const IDLE: Duration = Duration::from_secs(10);

/// CPU time of a process so far (utime + stime), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

fn clock_ticks_per_sec() -> f64 {
    common::first_line("getconf", &["CLK_TCK"])
        .parse()
        .unwrap_or(100.0)
}

/// The pid of the pcscd serving `dir` (its `-c` argument names a file in it).
fn pcscd_pid(dir: &std::path::Path) -> Option<u32> {
    let want = dir.display().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        (cmd.starts_with("pcscd") && cmd.contains(&want)).then_some(pid)
    })
}

/// CPU use of `pid` over `window`, in percent of one core.
fn cpu_percent(pid: u32, window: Duration) -> Option<f64> {
    let a = cpu_ticks(pid)?;
    std::thread::sleep(window);
    let b = cpu_ticks(pid)?;
    Some((b - a) as f64 / clock_ticks_per_sec() / window.as_secs_f64() * 100.0)
}

/// A bare event loop: `SCardGetStatusChange` on one reader, sending the instant of
/// each change of "card present". The floor of the latency.
fn bare_watcher(reader: &str, tx: mpsc::Sender<(bool, Instant)>) {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("context");
    let name = CString::new(reader).expect("reader name");
    let mut states = vec![pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
    let mut present = None;
    loop {
        if ctx
            .get_status_change(Duration::from_secs(60), &mut states)
            .is_err()
        {
            continue;
        }
        let now = Instant::now();
        let s = &mut states[0];
        let p = s.event_state().contains(pcsc::State::PRESENT);
        s.sync_current_state();
        if present.is_some() && present != Some(p) && tx.send((p, now)).is_err() {
            return;
        }
        present = Some(p);
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let busy = common::wait_idle(Duration::from_secs(120));
    let bed = Bed::start();
    let reader = bed.pcscd.reader_name(0);

    let mut watch = Command::new(common::exe())
        .args(["readers", "--watch", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sscard readers --watch");
    let watch_pid = watch.id();
    let (line_tx, line_rx) = mpsc::channel::<(String, Instant)>();
    let stdout = watch.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line_tx.send((line, Instant::now())).is_err() {
                break;
            }
        }
    });
    // The starting point: both readers reported.
    for _ in 0..2 {
        let (l, _) = line_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("initial events");
        assert!(l.contains("reader_added"), "{l}");
    }
    let (bare_tx, bare_rx) = mpsc::channel();
    let reader_owned = reader.to_string();
    std::thread::spawn(move || bare_watcher(&reader_owned, bare_tx));
    std::thread::sleep(Duration::from_millis(500));

    // CPU while waiting, before any card.
    let pcscd = pcscd_pid(bed.pcscd.dir());
    let idle_pcscd = std::thread::spawn(move || pcscd.and_then(|p| cpu_percent(p, IDLE)));
    let idle_watch = cpu_percent(watch_pid, IDLE);
    let idle_pcscd = idle_pcscd.join().ok().flatten();

    let image = bed.image("ssc-2.00.json");
    let expect = |kind: &str, since: Instant| -> f64 {
        loop {
            let (l, at) = line_rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("no {kind} event within 10 s"));
            if l.contains(kind) && l.contains(reader) {
                return at.duration_since(since).as_secs_f64() * 1e3;
            }
        }
    };
    let bare = |present: bool, since: Instant| -> f64 {
        loop {
            let (p, at) = bare_rx
                .recv_timeout(Duration::from_secs(10))
                .expect("bare event");
            if p == present {
                return at.saturating_duration_since(since).as_secs_f64() * 1e3;
            }
        }
    };
    let (mut ins, mut ins_bare, mut rem, mut rem_bare) = (vec![], vec![], vec![], vec![]);
    let (mut ins_diff, mut rem_diff) = (vec![], vec![]);
    for i in 0..EVENTS {
        // Vary the phase against pcscd's polling.
        std::thread::sleep(Duration::from_millis(150 + 37 * i as u64));
        let t0 = Instant::now();
        let mut card =
            VirtualCardProcess::insert(&common::exe(), &image, bed.pcscd.port(0), &["--no-save"])
                .expect("insert");
        let s = expect("card_inserted", t0);
        let b = bare(true, t0);
        ins.push(s);
        ins_bare.push(b);
        ins_diff.push(s - b);
        std::thread::sleep(Duration::from_millis(200 + 41 * i as u64));
        let t1 = Instant::now();
        card.pull();
        let s = expect("card_removed", t1);
        let b = bare(false, t1);
        rem.push(s);
        rem_bare.push(b);
        rem_diff.push(s - b);
    }
    let _ = watch.kill();
    let _ = watch.wait();

    let busy_after = common::machine_busy(Duration::from_secs(1));
    let max = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max);
    let pct = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |x| format!("{x:.2} %"));
    println!("## Card-event latency: insertion/removal → `sscard readers --watch` output");
    println!();
    println!("{}", common::machine());
    println!("command: cargo bench --bench watch_latency (or scripts/bench watch)");
    println!("{}", common::busy_note(busy, busy_after));
    println!();
    println!("{EVENTS} insertions and removals, ms from spawning/killing the card process:");
    println!();
    println!("| event | sscard --watch, median | max | bare SCardGetStatusChange, median | max | sscard − bare, median | max |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| insertion | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
        median(&ins),
        max(&ins),
        median(&ins_bare),
        max(&ins_bare),
        median(&ins_diff),
        max(&ins_diff)
    );
    println!(
        "| removal | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
        median(&rem),
        max(&rem),
        median(&rem_bare),
        max(&rem_bare),
        median(&rem_diff),
        max(&rem_diff)
    );
    println!();
    println!(
        "CPU while waiting ({} s, no events): sscard readers --watch {}; pcscd {} (for scale: its own vpcd polling)",
        IDLE.as_secs(),
        pct(idle_watch),
        pct(idle_pcscd)
    );
}
