//! Shared parts of the benchmarks: the private test bed, process timing, peak memory,
//! medians and the machine description printed above every table.
//!
//! Every figure in BENCHMARKS.md comes from one of these benches, so the helpers
//! measure the same way for every tool: wall time from spawn to exit (start-up
//! included), peak resident memory from GNU time's `%M` (the kernel's `ru_maxrss` of
//! the child), in a separate run so the timing runs carry no wrapper.

// A benchmark's or example's unwrap/expect stops the run with the message: there is
// nothing to recover (clippy.toml allows them in tests; these targets need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use sscard::reader::Watcher;
use sscard::testbed::{Pcscd, VirtualCardProcess};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `sscard` binary of this build.
pub fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sscard"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Median of a non-empty sample (the upper median for even sizes).
pub fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A private pcscd with vpcd, a scratch directory, and the cards inserted so far.
/// The bench process itself talks to this daemon, so the socket variable is set
/// process-wide (one daemon per bench process).
pub struct Bed {
    /// The daemon.
    pub pcscd: Pcscd,
    /// Scratch files (card images, scripts, key file).
    pub dir: tempfile::TempDir,
    cards: [Option<VirtualCardProcess>; 2],
}

impl Bed {
    /// Starts the daemon (needs root) and points this process's PC/SC at it.
    pub fn start() -> Bed {
        let pcscd = Pcscd::start().unwrap_or_else(|e| {
            eprintln!("bench: cannot start a private pcscd (run as root, scripts/bench installs the packages): {e}");
            std::process::exit(2)
        });
        let (k, v) = pcscd.env();
        std::env::set_var(k, v);
        Bed {
            pcscd,
            dir: tempfile::tempdir().expect("temp dir"),
            cards: [None, None],
        }
    }

    /// Copies `cards/NAME` into the scratch dir (the card may write to it).
    pub fn image(&self, name: &str) -> PathBuf {
        let dst = self.dir.path().join(name);
        std::fs::copy(root().join("cards").join(name), &dst).expect("copy card image");
        dst
    }

    /// Inserts a card into `slot` with extra `sscard vcard` flags and waits until
    /// pcscd reports it.
    pub fn insert(&mut self, slot: u8, image: &str, extra: &[&str]) {
        self.pull(slot);
        let path = self.image(image);
        let p = VirtualCardProcess::insert(&exe(), &path, self.pcscd.port(slot), extra)
            .expect("start sscard vcard");
        self.cards[usize::from(slot)] = Some(p);
        let mut w = Watcher::new().expect("watcher");
        let seen = w
            .wait_card(
                &self.pcscd.reader_name(slot).into(),
                Duration::from_secs(10),
            )
            .expect("wait for the card");
        assert!(seen.is_some(), "card {image} not seen in slot {slot}");
    }

    /// Pulls the card from `slot` (if any) and waits until pcscd sees it gone.
    pub fn pull(&mut self, slot: u8) {
        if let Some(mut p) = self.cards[usize::from(slot)].take() {
            p.pull();
            let r = Command::new(exe())
                .args([
                    "wait",
                    "--reader",
                    &slot.to_string(),
                    "--removed",
                    "--timeout",
                    "10",
                ])
                .stdout(Stdio::null())
                .status();
            assert!(matches!(r, Ok(s) if s.success()), "slot {slot} not emptied");
        }
    }

    /// A file in the scratch dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Wall time of one run of `cmd` (spawn to exit), output discarded. Panics with the
/// tool's stderr when it fails: a figure from a failed run would be a lie.
pub fn time_run(cmd: &mut Command) -> Duration {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let t = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    t
}

/// Peak resident memory of one run of `program args`, in KiB, from GNU time
/// (`/usr/bin/time -f %M`, Debian package `time`); `None` when it is missing.
pub fn peak_rss_kib(program: &Path, args: &[String], envs: &[(&str, &Path)]) -> Option<u64> {
    let gnu_time = Path::new("/usr/bin/time");
    if !gnu_time.exists() {
        return None;
    }
    let mut cmd = Command::new(gnu_time);
    cmd.args(["-f", "%M"]).arg(program).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines().last()?.trim().parse().ok()
}

/// The machine and software the figures come from, for the header of every table.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or_else(String::new, |kb| format!(", {} GiB RAM", kb / 1024 / 1024));
    let kernel = first_line("uname", &["-sr"]);
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| {
            t.lines().find(|l| l.starts_with("PRETTY_NAME=")).map(|l| {
                l.trim_start_matches("PRETTY_NAME=")
                    .trim_matches('"')
                    .to_string()
            })
        })
        .unwrap_or_default();
    let pcscd = dpkg_version("pcscd");
    let vpcd = dpkg_version("vsmartcard-vpcd");
    let rustc = first_line("rustc", &["--version"]);
    format!(
        "machine: {cpu}, {cores} cores{mem}; {os}, {kernel}\n\
         software: pcscd {pcscd}, vsmartcard-vpcd {vpcd}, {rustc}, sscard {} (release build)",
        env!("CARGO_PKG_VERSION")
    )
}

/// The installed version of a Debian package, or `-`.
pub fn dpkg_version(pkg: &str) -> String {
    let v = first_line("dpkg-query", &["-W", "-f=${Version}", pkg]);
    if v.is_empty() {
        "-".into()
    } else {
        v
    }
}

/// The first line of a command's output (empty when it cannot run).
pub fn first_line(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// Whether `program` is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Hex with spaces, as every peer's script format accepts it.
pub fn spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU use of the whole machine over `window`, from /proc/stat: (busy %, steal %) of
/// all cores. Sampled before a bench starts its own processes, it says whether
/// something else was running (the 1-minute load average cannot: it still counts the
/// previous bench's own pcscd and card).
pub fn machine_busy(window: Duration) -> (f64, f64) {
    fn sample() -> Option<(u64, u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu = stat.lines().next()?;
        let v: Vec<u64> = cpu
            .split_whitespace()
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal ...
        let total: u64 = v.iter().take(8).sum();
        let idle = v.get(3)? + v.get(4)?;
        let steal = *v.get(7)?;
        Some((total, idle, steal))
    }
    let (Some(a), Some(b)) = (sample(), {
        std::thread::sleep(window);
        sample()
    }) else {
        return (f64::NAN, f64::NAN);
    };
    let total = b.0.saturating_sub(a.0).max(1) as f64;
    let idle = b.1.saturating_sub(a.1) as f64;
    let steal = b.2.saturating_sub(a.2) as f64;
    (100.0 * (total - idle) / total, 100.0 * steal / total)
}

/// Waits (up to `max`) until a 1 s sample shows the machine idle (under 10 % busy),
/// and returns the last sample. Benchmarks share machines with compilers and test
/// suites; starting in a quiet moment is cheap, and the note says when there was none.
pub fn wait_idle(max: Duration) -> (f64, f64) {
    let deadline = Instant::now() + max;
    loop {
        let s = machine_busy(Duration::from_secs(1));
        if s.0 < 10.0 || Instant::now() >= deadline {
            return s;
        }
    }
}

/// A line stating how busy the machine was before and after the measurement (the
/// bench's own pcscd and cards are idle then), with a warning when something else
/// was running: figures taken beside a compiler are not figures of the tool.
pub fn busy_note(before: (f64, f64), after: (f64, f64)) -> String {
    let busy = before.0.max(after.0);
    format!(
        "machine busy before/after the measurement: {:.0} %/{:.0} % CPU, steal {:.0} %/{:.0} % (1 s samples, all cores){}",
        before.0,
        after.0,
        before.1,
        after.1,
        if busy > 10.0 {
            "\n** WARNING: something else was running; re-run on an idle machine before quoting these figures **"
        } else {
            ""
        }
    )
}
