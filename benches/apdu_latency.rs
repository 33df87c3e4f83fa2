//! The peer benchmark: the same virtual card, through the same pcscd + vpcd, driven
//! with the same 2000-APDU workload by sscard and by the tools people would use
//! instead, in one run.
//!
//! Run: `scripts/bench peers` (installs the peers, needs root), or
//! `cargo bench --bench apdu_latency` when they are installed.
//!
//! Workload: `SELECT SSSE` by AID without FCI (`00 A4 04 0C 0F <AID>`), then 1999 ×
//! `READ RECORD` of EF05 tag 07 by SFI (`00 B2 07 2C 00`, 11 data bytes + `90 00`).
//! Every APDU answers `90 00` directly (no `61xx`), so no tool's T=0 handling adds
//! exchanges, and every run starts by selecting, so no tool depends on the state the
//! previous one left.
//!
//! Paths measured:
//! - in process, per APDU over 7 alternating rounds (median): a bare `pcsc` crate
//!   transmit loop (**the floor**) and sscard's `Channel` stack (T=0 layer, redacting
//!   trace, counters), on one connection each;
//! - as processes (spawn to exit, median of 5): this bench binary running the bare
//!   loop (`--bare-loop`, the process floor), `sscard script`, `sscard send`,
//!   `scriptor`, `opensc-tool -s` (one `-s` per APDU) and a pyscard loop
//!   (`benches/peers/pyscard_loop.py`).
//!
//! Per process: µs/APDU is the marginal cost, (wall of 2000 − wall of 1) / 1999, so
//! start-up does not hide in it, held against the process floor (same method, same
//! path); start-up is the wall time of the 1-APDU run
//! (exec, PC/SC connect, one APDU, exit). Peak memory is GNU time's `%M` in a separate
//! run against a second card that counts the APDUs it receives: a tool that sends
//! more than the workload (opensc's card detection) shows it there.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{have, median, peak_rss_kib, spaced, time_run, Bed};
use sscard::apdu::{Channel, Transport};
use sscard::reader::{ConnectOptions, PcscCard, ReaderSelector};
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BATCH: usize = 2000;
const ROUNDS: usize = 11;
const REPS: usize = 5;
const AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";

/// The workload: SELECT without FCI, then READ RECORD.
fn workload(n: usize) -> Vec<Vec<u8>> {
    let mut select = vec![0x00, 0xA4, 0x04, 0x0C, 0x0F];
    select.extend(hex::decode(AID).unwrap_or_default());
    let mut v = vec![select];
    v.extend(std::iter::repeat_n(
        vec![0x00, 0xB2, 0x07, 0x2C, 0x00],
        n.saturating_sub(1),
    ));
    v
}

fn ok(r: &[u8]) -> bool {
    r.len() >= 2 && r[r.len() - 2..] == [0x90, 0x00]
}

/// The floor: `pcsc` crate transmit calls on one connection, nothing else. Like
/// every path (and every tool), it establishes its own PC/SC context: measured here,
/// the first context a process keeps open transmits markedly faster on a loaded
/// machine than any later one, which would flatter whichever path owned it.
fn bare_round(reader: &CString, apdus: &[Vec<u8>]) -> f64 {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("PC/SC context");
    let card = ctx
        .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("connect");
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let start = Instant::now();
    for a in apdus {
        let r = card.transmit(a, &mut buf).expect("transmit");
        assert!(ok(r));
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / apdus.len() as f64;
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    us
}

/// sscard's standard stack on one connection.
fn sscard_round(apdus: &[Vec<u8>]) -> f64 {
    let card =
        PcscCard::connect(&ReaderSelector::Index(0), ConnectOptions::default()).expect("connect");
    let mut ch = Channel::new(Box::new(card));
    let start = Instant::now();
    for a in apdus {
        let r = ch.transmit(a).expect("transmit");
        assert!(ok(&r));
    }
    start.elapsed().as_secs_f64() * 1e6 / apdus.len() as f64
}

/// sscard's reader layer alone (`PcscCard` as a `Transport`, no layers above).
fn reader_round(apdus: &[Vec<u8>]) -> f64 {
    let mut card =
        PcscCard::connect(&ReaderSelector::Index(0), ConnectOptions::default()).expect("connect");
    let start = Instant::now();
    for a in apdus {
        let r = card.transmit(a).expect("transmit");
        assert!(ok(&r));
    }
    start.elapsed().as_secs_f64() * 1e6 / apdus.len() as f64
}

/// `--bare-loop READER FILE`: this binary as the process-level floor.
fn bare_loop_process(reader: &str, file: &Path) -> std::process::ExitCode {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let apdus: Vec<Vec<u8>> = text
        .lines()
        .filter_map(|l| hex::decode(l.replace(' ', "")).ok())
        .collect();
    let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else {
        return std::process::ExitCode::from(3);
    };
    let Ok(name) = CString::new(reader) else {
        return std::process::ExitCode::from(3);
    };
    let Ok(card) = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY) else {
        return std::process::ExitCode::from(4);
    };
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    for a in &apdus {
        match card.transmit(a, &mut buf) {
            Ok(r) if ok(r) => {}
            _ => return std::process::ExitCode::from(6),
        }
    }
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    std::process::ExitCode::SUCCESS
}

/// A tool's command-line arguments for a reader slot, a script file and its APDUs.
type ArgsFn = Box<dyn Fn(u8, &Path, &[Vec<u8>]) -> Vec<String>>;

/// A tool run as a process.
struct Tool {
    name: &'static str,
    program: PathBuf,
    args: ArgsFn,
    /// Why it cannot run here, if it cannot.
    missing: Option<String>,
}

fn reader_name(slot: u8) -> String {
    format!("Virtual PCD 00 0{slot}")
}

fn tools() -> Vec<Tool> {
    let exe = common::exe();
    let me = std::env::current_exe().expect("current exe");
    let has_script = Command::new(&exe)
        .args(["script", "--help"])
        .output()
        .is_ok_and(|o| o.status.success());
    let python = PathBuf::from("/usr/bin/python3");
    let has_pyscard = Command::new(&python)
        .args(["-c", "import smartcard"])
        .output()
        .is_ok_and(|o| o.status.success());
    let py_loop = common::root().join("benches/peers/pyscard_loop.py");
    let missing = |ok: bool, why: &str| (!ok).then(|| why.to_string());
    vec![
        Tool {
            name: "bare pcsc loop (process)",
            program: me,
            args: Box::new(|slot, f, _| {
                vec![
                    "--bare-loop".into(),
                    reader_name(slot),
                    f.display().to_string(),
                ]
            }),
            missing: None,
        },
        Tool {
            name: "sscard script",
            program: exe.clone(),
            args: Box::new(|slot, f, _| {
                vec![
                    "script".into(),
                    "-r".into(),
                    slot.to_string(),
                    f.display().to_string(),
                ]
            }),
            missing: missing(
                has_script,
                "`sscard script` does not exist in this build (issue 5)",
            ),
        },
        Tool {
            name: "sscard send",
            program: exe,
            args: Box::new(|slot, _, apdus| {
                let mut a = vec!["send".into(), "-r".into(), slot.to_string()];
                a.extend(apdus.iter().map(hex::encode_upper));
                a
            }),
            missing: None,
        },
        Tool {
            name: "scriptor (pcsc-tools)",
            program: PathBuf::from("scriptor"),
            args: Box::new(|slot, f, _| {
                vec!["-r".into(), reader_name(slot), f.display().to_string()]
            }),
            missing: missing(
                have("scriptor"),
                "scriptor not installed (apt-get install pcsc-tools)",
            ),
        },
        Tool {
            name: "opensc-tool -s",
            program: PathBuf::from("opensc-tool"),
            args: Box::new(|slot, _, apdus| {
                let mut a = vec!["-r".into(), slot.to_string()];
                for x in apdus {
                    a.push("-s".into());
                    a.push(hex::encode_upper(x));
                }
                a
            }),
            missing: missing(
                have("opensc-tool"),
                "opensc-tool not installed (apt-get install opensc)",
            ),
        },
        Tool {
            name: "pyscard loop",
            program: python,
            args: Box::new(move |slot, f, _| {
                vec![
                    py_loop.display().to_string(),
                    reader_name(slot),
                    f.display().to_string(),
                ]
            }),
            missing: missing(
                has_pyscard,
                "pyscard not installed (apt-get install python3-pyscard)",
            ),
        },
    ]
}

fn read_count(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(0)
}

/// One row of the process table.
struct Row {
    name: &'static str,
    per_apdu_us: f64,
    wall_ms: f64,
    startup_ms: f64,
    rss_kib: Option<u64>,
    apdus_at_card: u64,
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return std::process::ExitCode::SUCCESS;
    }
    if let Some(i) = args.iter().position(|a| a == "--bare-loop") {
        return match (args.get(i + 1), args.get(i + 2)) {
            (Some(r), Some(f)) => bare_loop_process(r, Path::new(f)),
            _ => std::process::ExitCode::from(2),
        };
    }

    let busy = common::wait_idle(Duration::from_secs(120));
    let mut bed = Bed::start();
    // Slot 0: the card the timings run against. Slot 1: the same card counting the
    // APDUs it receives (writing the count costs time, so it is kept out of slot 0).
    bed.insert(0, "ssc-2.00.json", &["--no-save"]);
    let count_file = bed.path("count");
    let count_arg = count_file.display().to_string();
    bed.insert(
        1,
        "ssc-2.00.json",
        &["--no-save", "--count-file", &count_arg],
    );

    let full = workload(BATCH);
    let one = workload(1);
    let full_file = bed.path("workload-2000.apdu");
    let one_file = bed.path("workload-1.apdu");
    let to_text = |v: &[Vec<u8>]| v.iter().map(|a| spaced(a) + "\n").collect::<String>();
    std::fs::write(&full_file, to_text(&full)).expect("write workload");
    std::fs::write(&one_file, to_text(&one)).expect("write workload");

    // In process: the floor and sscard's stack, alternating so drift hits both.
    let reader = CString::new(bed.pcscd.reader_name(0)).expect("reader name");
    bare_round(&reader, &full);
    sscard_round(&full);
    reader_round(&full);
    let (mut bare, mut ours, mut readers) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        bare.push(bare_round(&reader, &full));
        readers.push(reader_round(&full));
        ours.push(sscard_round(&full));
    }
    if std::env::var_os("SSCARD_BENCH_SAMPLES").is_some() {
        eprintln!(
            "in process: bare {bare:.1?} us/APDU, PcscCard {readers:.1?}, Channel {ours:.1?}"
        );
    }
    let (floor, stack, reader_only) = (median(&bare), median(&ours), median(&readers));

    let (sock_key, sock) = bed.pcscd.env();
    let tools: Vec<Tool> = tools();
    let mut skipped = Vec::new();
    let usable: Vec<&Tool> = tools
        .iter()
        .filter(|t| match &t.missing {
            Some(why) => {
                skipped.push(format!("{}: {why}", t.name));
                false
            }
            None => true,
        })
        .collect();
    let run = |tool: &Tool, slot: u8, file: &Path, apdus: &[Vec<u8>]| -> f64 {
        let t = time_run(Command::new(&tool.program).args((tool.args)(slot, file, apdus)));
        t.as_secs_f64() * 1e3
    };
    // Warm-up (page cache, Python byte code), then rounds in which every tool runs
    // once, so a disturbance of the machine hits all tools alike.
    for tool in &usable {
        run(tool, 0, &full_file, &full);
    }
    let mut walls = vec![Vec::new(); usable.len()];
    let mut starts = vec![Vec::new(); usable.len()];
    for _ in 0..REPS {
        for (i, tool) in usable.iter().enumerate() {
            walls[i].push(run(tool, 0, &full_file, &full));
            starts[i].push(run(tool, 0, &one_file, &one));
        }
    }
    let mut rows = Vec::new();
    for (i, tool) in usable.iter().enumerate() {
        let (wall, start) = (median(&walls[i]), median(&starts[i]));
        if std::env::var_os("SSCARD_BENCH_SAMPLES").is_some() {
            eprintln!(
                "{}: walls {:.1?} ms, start-ups {:.1?} ms",
                tool.name, walls[i], starts[i]
            );
        }
        let before = read_count(&count_file);
        let rss = peak_rss_kib(
            &tool.program,
            &(tool.args)(1, &full_file, &full),
            &[(sock_key, &sock)],
        );
        let after = read_count(&count_file);
        rows.push(Row {
            name: tool.name,
            per_apdu_us: (wall - start) * 1e3 / (BATCH - 1) as f64,
            wall_ms: wall,
            startup_ms: start,
            rss_kib: rss,
            apdus_at_card: after.saturating_sub(before),
        });
    }

    let busy_after = common::machine_busy(Duration::from_secs(1));
    println!("## APDU throughput: sscard and its peers, same card, same {BATCH}-APDU workload");
    println!();
    println!("{}", common::machine());
    println!(
        "peers: pcsc-tools {}, opensc {}, python3-pyscard {}",
        common::dpkg_version("pcsc-tools"),
        common::dpkg_version("opensc"),
        common::dpkg_version("python3-pyscard")
    );
    println!("command: cargo bench --bench apdu_latency (or scripts/bench peers)");
    println!("{}", common::busy_note(busy, busy_after));
    println!();
    println!("In process, one connection, median of {ROUNDS} rounds of {BATCH} APDUs:");
    println!();
    println!("| path | µs/APDU | × floor |");
    println!("|---|---:|---:|");
    println!("| bare `pcsc` transmit loop (**floor**) | {floor:.1} | 1.000 |");
    println!(
        "| sscard `PcscCard` (reader layer alone) | {reader_only:.1} | {:.3} |",
        reader_only / floor
    );
    println!(
        "| sscard `Channel` stack | {stack:.1} | {:.3} |",
        stack / floor
    );
    println!();
    println!("As processes, spawn to exit, median of {REPS} runs (µs/APDU = (wall of {BATCH} − wall of 1) / {}; × floor against the process floor, the first row):", BATCH - 1);
    println!();
    println!("| tool | µs/APDU | × floor | wall, {BATCH} APDUs (ms) | start-up + 1 APDU (ms) | peak RSS (MiB) | APDUs the card saw |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    // Processes are held against the process floor: the same method (marginal cost of
    // a whole run) on the same path, so the method's own bias cancels.
    let process_floor = rows.first().map_or(floor, |r| r.per_apdu_us);
    for r in &rows {
        let rss = r.rss_kib.map_or_else(
            || "n/a".to_string(),
            |k| format!("{:.1}", k as f64 / 1024.0),
        );
        println!(
            "| {} | {:.1} | {:.2} | {:.1} | {:.1} | {} | {} |",
            r.name,
            r.per_apdu_us,
            r.per_apdu_us / process_floor,
            r.wall_ms,
            r.startup_ms,
            rss,
            r.apdus_at_card
        );
    }
    for s in &skipped {
        println!();
        println!("not measured: {s}");
    }
    std::process::ExitCode::SUCCESS
}
