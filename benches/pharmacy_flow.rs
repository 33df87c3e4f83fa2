//! The pharmacy flow's cost: APDUs per card and wall time, on virtual cards through a
//! private pcscd + vpcd, with and without the real-card timing model.
//!
//! Run: `cargo bench --bench pharmacy_flow` (as root: it starts a private pcscd).
//! Two readers (old card in slot 0, new card in slot 1), so no holder has to swap
//! cards and the figure is the tool's and the cards' time alone. Each setting runs 5
//! times on fresh card images; the median wall time (spawn to exit of
//! `sscard activate pharmacy`) is reported with the APDUs each card counted.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::testbed::{Pcscd, VirtualCardProcess};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const RUNS: usize = 5;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sscard"))
}

fn wait(pcscd: &Pcscd, slot: u8, removed: bool) {
    let (k, v) = pcscd.env();
    let mut c = Command::new(exe());
    c.env(k, v)
        .args(["wait", "--reader", &slot.to_string(), "--timeout", "20"]);
    if removed {
        c.arg("--removed");
    }
    assert!(c.status().unwrap().success(), "slot {slot}");
}

fn count(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

fn run_once(pcscd: &Pcscd, dir: &Path, timing: &[&str]) -> (f64, u64, u64) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (old, new) = (dir.join("city.json"), dir.join("ssc.json"));
    std::fs::copy(root.join("cards/city.json"), &old).unwrap();
    std::fs::copy(root.join("cards/ssc-2.00.json"), &new).unwrap();
    let journal = dir.join("journal.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", journal.display()));
    }
    let (oc, nc) = (dir.join("old.count"), dir.join("new.count"));
    let flags = |c: &Path| {
        let mut v = vec!["--count-file".to_string(), c.display().to_string()];
        v.extend(timing.iter().map(|s| s.to_string()));
        v
    };
    let of = flags(&oc);
    let nf = flags(&nc);
    let mut a = VirtualCardProcess::insert(
        &exe(),
        &old,
        pcscd.port(0),
        &of.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap();
    let mut b = VirtualCardProcess::insert(
        &exe(),
        &new,
        pcscd.port(1),
        &nf.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap();
    wait(pcscd, 0, false);
    wait(pcscd, 1, false);
    let (k, v) = pcscd.env();
    let start = Instant::now();
    let out = Command::new(exe())
        .env(k, v)
        .env("SSCARD_TODAY", "20261122")
        .args([
            "activate",
            "pharmacy",
            "--old-reader",
            "0",
            "--new-reader",
            "1",
        ])
        .arg("--keys")
        .arg(dir.join("keys.txt"))
        .arg("--pin-file")
        .arg(dir.join("pin"))
        .arg("--journal")
        .arg(&journal)
        .args(["--receipt", "json"])
        .output()
        .unwrap();
    let ms = start.elapsed().as_secs_f64() * 1e3;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counts = (count(&oc), count(&nc));
    a.pull();
    b.pull();
    wait(pcscd, 0, true);
    wait(pcscd, 1, true);
    (ms, counts.0, counts.1)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pcscd = Pcscd::start().expect("private pcscd (run as root)");
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys.txt");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("keys/test-keys.txt"), &keys).unwrap();
    std::fs::write(dir.path().join("pin"), "135790\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    for p in [keys, dir.path().join("pin")] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    println!(
        "pharmacy flow, two readers, median of {RUNS} runs (spawn to exit of sscard activate)"
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10} {:>12}",
        "card timing", "old APDUs", "new APDUs", "total", "wall ms"
    );
    for (label, timing) in [
        ("none (vpcd round trips only)", vec![]),
        (
            "real-card (T=0 9600 baud model)",
            vec!["--timing", "real-card"],
        ),
    ] {
        let mut times = Vec::new();
        let mut counts = (0, 0);
        for _ in 0..RUNS {
            let (ms, o, n) = run_once(&pcscd, dir.path(), &timing);
            times.push(ms);
            counts = (o, n);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{label:<34} {:>10} {:>10} {:>10} {:>12.1}",
            counts.0,
            counts.1,
            counts.0 + counts.1,
            times[RUNS / 2]
        );
    }
}
