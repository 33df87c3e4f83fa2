//! `sscard info` on a card with real-card timing, beside the minimum the card layout
//! allows.
//!
//! Run: `scripts/bench real-card`, or `cargo bench --bench real_card`.
//!
//! Each card kind is inserted with `sscard vcard --timing real-card` (T=0 at 9600
//! baud: 1040 µs per byte each way, 2 ms per command, 8 ms per EEPROM write; see
//! `src/vcard/timing.rs`). For each, `sscard info --stats` runs 3 times (median wall
//! time, spawn to exit; APDU and byte counts from `--stats`), and the **minimal
//! sequence** — the fewest APDUs that fetch the same data, derived from
//! `spec/cards.md` in BENCHMARKS.md — runs through a bare `pcsc` loop on the same
//! card: its wall time is the floor, and the model's own time for those exchanges
//! (`Timing::cost`, no I/O) is shown beside it.
//!
//! Other single-card commands hook in through [`flows`]: each is a command line plus
//! its minimal sequence. The pharmacy flow needs two cards and is measured by
//! `benches/pharmacy_flow.rs` (BENCHMARKS.md section 3).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{median, Bed};
use sscard::vcard::timing::Timing;
use std::ffi::CString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 3;
const SSSE_AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap_or_default()
}

/// READ RECORD by SFI and tag, Le = 00 (the card returns the whole record).
fn read_tag(sfi: u8, tag: u8) -> Vec<u8> {
    vec![0x00, 0xB2, tag, sfi << 3, 0x00]
}

/// One step of a minimal sequence: a fixed APDU, or one computed from the answers
/// so far (EXTERNAL AUTHENTICATE needs the challenge and the card's chip bytes).
enum Step {
    Apdu(Vec<u8>),
    Computed(fn(&[Vec<u8>]) -> Option<Vec<u8>>),
}

/// EXTERNAL AUTHENTICATE with key 0A (SM4) of a spec 3.00 card: diversified from the
/// test master key (spec §6) with the chip bytes of EF05 tag 01, over the challenge
/// of the previous answer.
fn external_auth_0a(answers: &[Vec<u8>]) -> Option<Vec<u8>> {
    use sscard::crypto::{cryptogram, diversify, Algorithm};
    // Answers: [select, get response, EF05 tag 01, ..., get challenge].
    let id = answers
        .iter()
        .find(|a| a.first() == Some(&0x01) && a.len() == 2 + 16 + 2)?;
    let d: [u8; 8] = id.get(10..18)?.try_into().ok()?;
    let challenge: [u8; 8] = answers.last()?.get(..8)?.try_into().ok()?;
    let master: [u8; 16] = h("0A0A0A0A0A0A0A0AA0A0A0A0A0A0A0A0").try_into().ok()?;
    let key = diversify(Algorithm::Sm4, &master, &d);
    let mut apdu = h("0082000A10");
    apdu.extend(cryptogram(Algorithm::Sm4, &key, &challenge));
    Some(apdu)
}

/// The minimal sequence for a card kind (derivation in BENCHMARKS.md).
fn minimal(kind: &str) -> Vec<Step> {
    let select_ssse = Step::Apdu(h(&format!("00A404000F{SSSE_AID}")));
    let get_fci = Step::Apdu(h("00C000001E"));
    let ef05 = || (1..=7).map(|t| Step::Apdu(read_tag(0x05, t)));
    let df04 = || {
        std::iter::once(Step::Apdu(h("00A4000002DF04")))
            .chain((0x20..=0x27).map(|t| Step::Apdu(read_tag(0x05, t))))
    };
    let ef06 = |tags: &'static [u8]| tags.iter().map(|t| Step::Apdu(read_tag(0x06, *t)));
    let mut v = Vec::new();
    match kind {
        "ssc-1.00" => {
            v.extend([select_ssse, get_fci]);
            v.extend(ef05());
            v.extend(ef06(&[0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]));
            v.extend(df04());
        }
        "ssc-2.00" => {
            v.extend([select_ssse, get_fci]);
            v.extend(ef05());
            v.extend(ef06(&[0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]));
            v.extend(df04());
        }
        "ssc-3.00" => {
            v.extend([select_ssse, get_fci]);
            v.extend(ef05());
            v.push(Step::Apdu(h("0084000008")));
            v.push(Step::Computed(external_auth_0a));
            v.extend(ef06(&[0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]));
            v.extend(df04());
        }
        "city" => {
            v.push(Step::Apdu(h("00A4040008F059422E43495459")));
            v.extend(
                [0x07, 0x08, 0x09, 0x20, 0x21, 0x22, 0x23, 0x26, 0x27, 0x28]
                    .map(|t| Step::Apdu(read_tag(0x01, t))),
            );
        }
        "psam" => {
            // EF16 is in the MF and shared: READ BINARY by SFI works from the MF or
            // the application, so no SELECT is needed to read the terminal number.
            v.push(Step::Apdu(h("00B0960006")));
        }
        _ => {}
    }
    v
}

/// A measured flow: what sscard runs, and the minimal sequence it is held against.
struct Flow {
    name: String,
    image: &'static str,
    kind: &'static str,
    /// `sscard` arguments (after the binary), or `None` when the flow is pending.
    args: Option<Vec<String>>,
    /// Why it is not measured, when it is not.
    pending: Option<&'static str>,
}

/// The flows of the table. Add a writing flow here once its command exists: give its
/// arguments, and its minimal sequence in [`minimal`] under its `kind`.
fn flows(keys: &str) -> Vec<Flow> {
    let info = |image: &'static str, kind: &'static str, extra: &[&str]| Flow {
        name: format!("sscard info ({kind})"),
        image,
        kind,
        args: Some(
            ["info", "-r", "0", "--stats"]
                .iter()
                .chain(extra)
                .map(|s| s.to_string())
                .collect(),
        ),
        pending: None,
    };
    vec![
        info("ssc-1.00.json", "ssc-1.00", &[]),
        info("ssc-2.00.json", "ssc-2.00", &[]),
        info("ssc-3.00.json", "ssc-3.00", &["--keys", keys]),
        info("city.json", "city", &[]),
        info("psam.json", "psam", &[]),
    ]
}

/// Parses `sscard: N APDUs (B bytes) ...` from `info --stats`.
fn parse_stats(stderr: &str) -> Option<(u64, u64)> {
    let line = stderr
        .lines()
        .find(|l| l.contains(" APDUs (") && l.contains(" bytes)"))?;
    let rest = line.trim_start_matches("sscard: ");
    let mut it = rest.split_whitespace();
    let apdus = it.next()?.parse().ok()?;
    let _ = it.next()?; // "APDUs"
    let bytes = it.next()?.trim_start_matches('(').parse().ok()?;
    Some((apdus, bytes))
}

struct Minimum {
    apdus: usize,
    bytes: usize,
    wall_ms: f64,
    model_ms: f64,
}

/// Runs a minimal sequence through a bare `pcsc` loop; every answer must be `9000`
/// (or the `61 xx` of SELECT SSSE, fetched by the next step).
fn run_minimal(reader: &str, steps: &[Step]) -> Result<Minimum, String> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).map_err(|e| e.to_string())?;
    let name = CString::new(reader).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let card = ctx
        .connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let mut answers: Vec<Vec<u8>> = Vec::new();
    let (mut bytes, mut model) = (0usize, Duration::ZERO);
    for step in steps {
        let apdu = match step {
            Step::Apdu(a) => a.clone(),
            Step::Computed(f) => f(&answers).ok_or("cannot compute a step")?,
        };
        let r = card
            .transmit(&apdu, &mut buf)
            .map_err(|e| e.to_string())?
            .to_vec();
        // `61 xx` only where the next step is the GET RESPONSE that fetches it.
        let sw = r.len().checked_sub(2).map(|n| (r[n], r[n + 1]));
        if !matches!(sw, Some((0x90, 0x00) | (0x61, _))) {
            return Err(format!(
                "{} answered {}",
                hex::encode_upper(&apdu),
                hex::encode_upper(&r)
            ));
        }
        bytes += apdu.len() + r.len();
        model += Timing::REAL_CARD.cost(&apdu, &r, false);
        answers.push(r);
    }
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    Ok(Minimum {
        apdus: steps.len(),
        bytes,
        wall_ms: start.elapsed().as_secs_f64() * 1e3,
        model_ms: model.as_secs_f64() * 1e3,
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let busy = common::wait_idle(Duration::from_secs(120));
    let mut bed = Bed::start();
    let keys = bed.path("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).expect("copy key file");
    let _ = Command::new("chmod").arg("600").arg(&keys).status();
    let keys_arg = keys.display().to_string();
    let timing = "real-card";

    let mut lines = Vec::new();
    let mut pending = Vec::new();
    for flow in flows(&keys_arg) {
        let Some(args) = &flow.args else {
            pending.push(format!(
                "{}: PENDING — {}",
                flow.name,
                flow.pending.unwrap_or("")
            ));
            continue;
        };
        bed.insert(0, flow.image, &["--no-save", "--timing", timing]);
        let mut walls = Vec::new();
        let mut fast_walls = Vec::new();
        let mut stats = None;
        for _ in 0..RUNS {
            let start = Instant::now();
            let out = Command::new(common::exe())
                .args(args)
                .stdin(Stdio::null())
                .output()
                .expect("run sscard");
            walls.push(start.elapsed().as_secs_f64() * 1e3);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{}: {}", flow.name, stderr);
            stats = parse_stats(&stderr);
        }
        let min = run_minimal(bed.pcscd.reader_name(0), &minimal(flow.kind))
            .unwrap_or_else(|e| panic!("minimal sequence of {}: {e}", flow.kind));
        // The same command on a card without the timing model: the tool's own time.
        bed.insert(0, flow.image, &["--no-save"]);
        for _ in 0..RUNS {
            let start = Instant::now();
            let ok = Command::new(common::exe())
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "{} on a fast card", flow.name);
            fast_walls.push(start.elapsed().as_secs_f64() * 1e3);
        }
        let (apdus, bytes) =
            stats.unwrap_or_else(|| panic!("{}: no `--stats` line on stderr", flow.name));
        let wall = median(&walls);
        lines.push(format!(
            "| {} | {} | {} | {:.0} | {:.1} | {} | {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.3} |",
            flow.name,
            apdus,
            bytes,
            wall,
            median(&fast_walls),
            min.apdus,
            min.bytes,
            min.model_ms,
            min.wall_ms,
            apdus as f64 / min.apdus as f64,
            bytes as f64 / min.bytes as f64,
            wall / min.wall_ms,
        ));
    }
    bed.pull(0);

    let busy_after = common::machine_busy(Duration::from_secs(1));
    println!("## Real-card model: `sscard info` beside the minimum the layout allows");
    println!();
    println!("{}", common::machine());
    println!(
        "card timing: --timing real-card = {} (src/vcard/timing.rs)",
        Timing::REAL_CARD
    );
    println!("command: cargo bench --bench real_card (or scripts/bench real-card)");
    println!("{}", common::busy_note(busy, busy_after));
    println!();
    println!("| flow | APDUs | bytes | wall (ms) | wall, untimed card (ms) | min APDUs | min bytes | min, model (ms) | min, measured (ms) | × APDUs | × bytes | × wall |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for l in &lines {
        println!("{l}");
    }
    for p in &pending {
        println!();
        println!("{p}");
    }
}
