//! Figures of the loopback card service (`sscard serve`, issue 12) and of `iReadCardBas`
//! under the real-card timing model.
//!
//! (a) the service's added latency per call: 200 pairs, each an in-process
//!     `National::read_card_bas` (what `libsscard.so` runs) and the same call through
//!     the service's WebSocket, interleaved (the order alternates within pairs), on one
//!     untimed virtual 2.00 card; the median and p90 of the per-pair difference.
//! (b) the service's memory: VmRSS from /proc/PID/status after 100 and after 10,000
//!     calls.
//! (c) several clients at once: 8 WebSocket clients × 50 calls, every answer checked
//!     against the expected line and its own request id.
//! (d) `iReadCardBas` on each card generation with `--timing real-card` (BENCHMARKS.md
//!     §2): wall time in process, its APDUs and bytes, the model's own time for those
//!     exchanges, and `sscard info --stats` on the same card beside it.
//!
//! Run: `cargo bench --locked --bench serve` (root: a private pcscd in a mount
//! namespace). Knobs: SERVE_PAIRS (200), SERVE_CALLS (10000), SERVE_CLIENTS (8),
//! SERVE_CLIENT_CALLS (50).

// A benchmark's or example's unwrap/expect stops the run with the message: there is
// nothing to recover (clippy.toml allows them in tests; these targets need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{median, Bed};
use serde_json::{json, Value};
use sscard::apdu::{Channel, Transport, TransportError};
use sscard::national::read;
use sscard::national::{National, PinSource, Settings};
use sscard::profile::Profiles;
use sscard::reader::{establish, ConnectOptions, PcscCard, ReaderName};
use sscard::sam::keyfile::KeyFile;
use sscard::sam::Sam;
use sscard::vcard::timing::Timing;
use std::cell::Cell;
use std::io::BufRead;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const DEVICE: &str = "VPCD0000";
const TODAY: &str = "20260701";
/// Runs per flow in (d), as section 2 (3 for `sscard info`), 5 for the in-process read.
const INFO_RUNS: usize = 3;
const READ_RUNS: usize = 5;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The value at quantile `p` (nearest rank) of a non-empty sample.
fn pct(v: &[f64], p: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// VmRSS and VmHWM of a process, KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// A running `sscard serve` (stopped on drop).
struct Serve {
    child: Child,
    port: u16,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(cfg: &Path) -> Serve {
        // The bench process's PC/SC socket variable (set by Bed::start) is inherited.
        let mut child = Command::new(common::exe())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(cfg)
            .env("SSCARD_DEVICE_ID", DEVICE)
            .env("SSCARD_TODAY", TODAY)
            .env_remove("RUST_LOG")
            .env_remove("SSCARD_PIN_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sscard serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Serve { child, port }
    }

    fn client(&self) -> Client {
        let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{}/ws", self.port)).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            s.set_nodelay(true).unwrap();
        }
        Client { ws }
    }
}

struct Client {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
}

impl Client {
    fn call(&mut self, req: &Value) -> Value {
        self.ws.send(Message::Text(req.to_string().into())).unwrap();
        loop {
            match self.ws.read().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// One `iReadCardBas` through the service; its `pOutInfo` (panics on failure).
    fn read(&mut self) -> String {
        let a = self.call(&json!({"function": "iReadCardBas", "iType": 3}));
        assert_eq!(a["ret"], 0, "{a}");
        a["pOutInfo"].as_str().unwrap().to_string()
    }
}

fn settings(reader: &str, keys: Option<PathBuf>) -> Settings {
    Settings {
        reader: Some(reader.to_string()),
        psam_reader: None,
        keys,
        terminal: None,
        device_id: DEVICE.to_string(),
        pin: PinSource::Terminal,
        // Reads only: the journal is never opened.
        journal: std::env::temp_dir().join("sscard-serve-bench-journal.sqlite"),
        operator: "bench".to_string(),
    }
}

/// A transport that adds up the real-card model's time of every exchange it carries.
struct Costed<T> {
    inner: T,
    model: Rc<Cell<Duration>>,
}

impl<T: Transport> Transport for Costed<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let r = self.inner.transmit(command)?;
        let t = Timing::REAL_CARD.cost(command, &r, false);
        self.model.set(self.model.get() + t);
        Ok(r)
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.inner.atr()
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

/// The exchanges of `National::read_card_bas` (src/national/desk.rs: the same read
/// functions in the same order) through a [`Costed`] transport: the line, its APDUs and
/// the model's time for them.
fn model_of_read(reader: &str, keys: Option<&Path>) -> (String, u64, Duration) {
    let profiles = Profiles::builtin().unwrap();
    let name: ReaderName = reader.into();
    let mut card =
        PcscCard::connect_with(establish().unwrap(), &name, ConnectOptions::default()).unwrap();
    let mut sam = keys.map(|k| KeyFile::load(k).unwrap());
    let terminal = sam
        .as_ref()
        .and_then(|s| s.terminal_number())
        .unwrap_or_else(|| sscard::national::line::NO_TERMINAL.to_string());
    let model = Rc::new(Cell::new(Duration::ZERO));
    let tx = card.transaction().unwrap();
    let mut ch = Channel::new(Box::new(Costed {
        inner: tx,
        model: model.clone(),
    }));
    let (profile, mut nav) = read::open_ssc(&mut ch, &profiles).unwrap();
    let part = read::read_card_part(&mut ch, &mut nav, profile).unwrap();
    read::open_holder(
        &mut ch,
        &mut nav,
        profile,
        &part,
        sam.as_mut().map(|s| s as &mut dyn Sam),
    )
    .unwrap();
    let holder = read::read_holder(&mut ch, &mut nav, profile, &part).unwrap();
    let line = part.basic(holder, &terminal, DEVICE).line();
    (line, ch.apdu_count(), model.get())
}

/// Parses `sscard: N APDUs (B bytes) ...` from `info --stats`.
fn parse_stats(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.contains(" APDUs (") && l.contains(" bytes)"))?;
    let mut it = line.trim_start_matches("sscard: ").split_whitespace();
    let apdus = it.next()?.parse().ok()?;
    let _ = it.next()?;
    let bytes = it.next()?.trim_start_matches('(').parse().ok()?;
    Some((apdus, bytes))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pairs = env("SERVE_PAIRS", 200);
    let calls = env("SERVE_CALLS", 10_000);
    let clients = env("SERVE_CLIENTS", 8);
    let client_calls = env("SERVE_CLIENT_CALLS", 50);
    let load_before = loadavg();
    let busy_before = common::machine_busy(Duration::from_secs(1));
    let mut bed = Bed::start();
    let reader = bed.pcscd.reader_name(0).to_string();
    let cfg = bed.path("desk.toml");
    std::fs::write(&cfg, format!("[readers]\ncard = \"{reader}\"\n")).unwrap();
    let keys = bed.path("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).unwrap();
    let _ = Command::new("chmod").arg("600").arg(&keys).status();

    // (a)–(c) on an untimed 2.00 card.
    bed.insert(0, "ssc-2.00.json", &["--no-save"]);
    let svc = Serve::start(&cfg);
    let pid = svc.child.id();
    let mut national = National::with_settings(settings(&reader, None)).unwrap();
    let want = national.read_card_bas(3).unwrap();
    let mut c = svc.client();
    let mut done = 0usize;
    // (b) first point: 100 calls.
    for _ in 0..100 {
        assert_eq!(c.read(), want);
        done += 1;
    }
    let rss_100 = rss_kib(pid);
    // (a) 200 pairs, interleaved; warm-up of 20 direct reads first.
    for _ in 0..20 {
        national.read_card_bas(3).unwrap();
    }
    let (mut direct, mut served, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..pairs {
        let mut d = || {
            let t = Instant::now();
            let line = national.read_card_bas(3).unwrap();
            let e = t.elapsed();
            assert_eq!(line, want);
            e
        };
        let mut s = || {
            let t = Instant::now();
            let line = c.read();
            let e = t.elapsed();
            assert_eq!(line, want);
            e
        };
        let (dt, st) = if i % 2 == 0 {
            let dt = d();
            (dt, s())
        } else {
            let st = s();
            (d(), st)
        };
        done += 1;
        direct.push(ms(dt));
        served.push(ms(st));
        diff.push(ms(st) - ms(dt));
    }
    let t = Instant::now();
    while done < calls {
        assert_eq!(c.read(), want);
        done += 1;
    }
    let fill_s = t.elapsed().as_secs_f64();
    let rss_end = rss_kib(pid);
    drop(c);

    // (c) several clients at once.
    let port = svc.port;
    let t = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|k| {
            let want = want.clone();
            std::thread::spawn(move || {
                let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
                let mut c = Client { ws };
                let mut lat = Vec::new();
                for i in 0..client_calls {
                    let id = format!("{k}-{i}");
                    let t = Instant::now();
                    let a = c.call(&json!({"function": "iReadCardBas", "iType": 3, "id": id}));
                    lat.push(ms(t.elapsed()));
                    assert_eq!(a["ret"], 0, "client {k} call {i}: {a}");
                    assert_eq!(
                        a["pOutInfo"],
                        want.as_str(),
                        "client {k} call {i}: corrupted"
                    );
                    assert_eq!(a["id"], id.as_str(), "client {k} call {i}: not its answer");
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in threads {
        lat.extend(t.join().expect("a client failed"));
    }
    let conc_s = t.elapsed().as_secs_f64();
    let answered = lat.len();
    drop(svc);

    // (d) iReadCardBas under the real-card model, beside `sscard info`.
    let mut rows = Vec::new();
    for (name, image, with_keys) in [
        ("SSC 1.00", "ssc-1.00.json", false),
        ("SSC 2.00", "ssc-2.00.json", false),
        ("SSC 3.00, key file", "ssc-3.00.json", true),
    ] {
        bed.insert(0, image, &["--no-save", "--timing", "real-card"]);
        let k = with_keys.then(|| keys.clone());
        let mut n = National::with_settings(settings(&reader, k.clone())).unwrap();
        let mut walls = Vec::new();
        let mut line = String::new();
        for _ in 0..READ_RUNS {
            let t = Instant::now();
            line = n.read_card_bas(3).unwrap();
            walls.push(ms(t.elapsed()));
        }
        let (apdus, bytes) = (n.last_apdus, n.last_bytes);
        let (mline, mapdus, model) = model_of_read(&reader, k.as_deref());
        assert_eq!(
            mline, line,
            "{name}: the model's replica reads the same line"
        );
        assert_eq!(
            mapdus, apdus,
            "{name}: the model's replica sends the same APDUs"
        );
        let mut info_walls = Vec::new();
        let mut info_stats = None;
        for _ in 0..INFO_RUNS {
            let mut cmd = Command::new(common::exe());
            cmd.args(["info", "-r", "0", "--stats"])
                .env("SSCARD_CONFIG", "none")
                .stdin(Stdio::null());
            if let Some(k) = &k {
                cmd.arg("--keys").arg(k);
            }
            let t = Instant::now();
            let out = cmd.output().unwrap();
            info_walls.push(ms(t.elapsed()));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "info on {name}: {stderr}");
            info_stats = parse_stats(&stderr);
        }
        let (ia, ib) = info_stats.expect("no --stats line");
        let wall = median(&walls);
        rows.push(format!(
            "| {name} | {apdus} | {bytes} | {:.0} | {wall:.0} | {:.3} | {ia} | {ib} | {:.0} |",
            ms(model),
            wall / ms(model),
            median(&info_walls),
        ));
    }
    bed.pull(0);
    let busy_after = common::machine_busy(Duration::from_secs(1));
    let load_after = loadavg();

    println!("## Loopback service (`sscard serve`) and iReadCardBas under the real-card model");
    println!();
    println!("{}", common::machine());
    println!("command: cargo bench --locked --bench serve");
    println!("load average (1/5/15 min) before: {load_before}; after: {load_after}");
    println!("{}", common::busy_note(busy_before, busy_after));
    println!();
    println!("(a) added latency per call, {pairs} interleaved pairs on an untimed 2.00 card (ms):");
    println!();
    println!("| | median | p90 |");
    println!("|---|---:|---:|");
    println!(
        "| direct (in-process `National::read_card_bas`) | {:.3} | {:.3} |",
        median(&direct),
        pct(&direct, 0.9)
    );
    println!(
        "| through the service (WebSocket round trip) | {:.3} | {:.3} |",
        median(&served),
        pct(&served, 0.9)
    );
    println!(
        "| **difference per pair** (service − direct) | **{:.3}** | **{:.3}** |",
        median(&diff),
        pct(&diff, 0.9)
    );
    println!();
    println!(
        "(b) service memory: VmRSS after 100 calls {} KiB, after {done} calls {} KiB \
         (difference {:+} KiB); VmHWM {} KiB. The last {} calls took {fill_s:.1} s.",
        rss_100.0,
        rss_end.0,
        rss_end.0 as i64 - rss_100.0 as i64,
        rss_end.1,
        calls - 100 - pairs
    );
    println!();
    println!(
        "(c) {clients} clients × {client_calls} calls at once: {answered}/{} answered, every \
         answer the expected line with its own id; {conc_s:.2} s wall, per-call latency \
         median {:.2} ms, p90 {:.2} ms, max {:.2} ms.",
        clients * client_calls,
        median(&lat),
        pct(&lat, 0.9),
        pct(&lat, 1.0)
    );
    println!();
    println!(
        "(d) iReadCardBas on a card with `--timing real-card` ({} µs per byte, {} µs per \
         command), in process, median of {READ_RUNS}; `sscard info -r 0 --stats` on the same \
         card, median of {INFO_RUNS} (spawn to exit):",
        Timing::REAL_CARD.byte.as_micros(),
        Timing::REAL_CARD.command.as_micros()
    );
    println!();
    println!("| card | iReadCardBas APDUs | bytes | model time of its exchanges (ms) | wall (ms) | × model | info APDUs | info bytes | info wall (ms) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!("{r}");
    }
}
