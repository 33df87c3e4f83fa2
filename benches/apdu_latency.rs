//! Microseconds per APDU through pcscd + vpcd to a virtual card: `sscard`'s transport
//! stack beside a bare `pcsc` crate transmit loop, in the same run.
//!
//! Run: `cargo bench --bench apdu_latency` (as root: it starts a private pcscd).
//! Each round sends a 2000-APDU batch (READ RECORD of EF05 tag 07 by SFI) on one
//! connection; rounds alternate between the two paths so drift hits both equally, and
//! the median round is reported. Also times `sscard send` with the same 2000 APDUs as
//! one process (start-up included).

use sscard::apdu::{Channel, Transport};
use sscard::reader::{ConnectOptions, PcscCard, ReaderSelector, Watcher};
use sscard::testbed::{Pcscd, VirtualCardProcess};
use std::ffi::CString;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const BATCH: usize = 2000;
const ROUNDS: usize = 7;
const APDU: [u8; 5] = [0x00, 0xB2, 0x07, 0x2C, 0x00];

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn bare_round(ctx: &pcsc::Context, reader: &CString) -> f64 {
    let card = ctx
        .connect(reader, pcsc::ShareMode::Shared, pcsc::Protocols::ANY)
        .expect("connect");
    let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
    let start = Instant::now();
    for _ in 0..BATCH {
        let r = card.transmit(&APDU, &mut buf).expect("transmit");
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / BATCH as f64;
    let _ = card.disconnect(pcsc::Disposition::LeaveCard);
    us
}

fn sscard_round() -> f64 {
    let card = PcscCard::connect(&ReaderSelector::Index(0), ConnectOptions::default()).expect("connect");
    let mut ch = Channel::new(Box::new(card));
    let start = Instant::now();
    for _ in 0..BATCH {
        let r = ch.transmit(&APDU).expect("transmit");
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    }
    start.elapsed().as_secs_f64() * 1e6 / BATCH as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let pcscd = Pcscd::start().expect("private pcscd (run as root)");
    let (k, v) = pcscd.env();
    // This process talks to one daemon only, so the process-wide variable is right here.
    std::env::set_var(k, &v);
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("ssc.json");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    std::fs::copy(root.join("cards/ssc-2.00.json"), &image).unwrap();
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_sscard"));
    let _card = VirtualCardProcess::insert(&exe, &image, pcscd.port(0), &["--no-save"]).unwrap();
    let mut watcher = Watcher::new().expect("watcher");
    watcher
        .wait_card(pcscd.reader_name(0), Duration::from_secs(10))
        .unwrap()
        .expect("card inserted");

    let ctx = pcsc::Context::establish(pcsc::Scope::User).unwrap();
    let reader = CString::new(pcscd.reader_name(0)).unwrap();
    // Select SSSE once (the card keeps it: connections leave the card as it is).
    {
        let card = PcscCard::connect(&ReaderSelector::Index(0), ConnectOptions::default()).unwrap();
        let mut ch = Channel::new(Box::new(card));
        let select = sscard::apdu::catalogue::select_aid(&hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").unwrap());
        assert!(ch.send(&select).unwrap().is_success());
    }
    // Warm up both paths.
    bare_round(&ctx, &reader);
    sscard_round();
    let (mut bare, mut ours) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        bare.push(bare_round(&ctx, &reader));
        ours.push(sscard_round());
    }
    let (b, o) = (median(bare), median(ours));

    let args: Vec<String> = std::iter::repeat_n(hex::encode_upper(APDU), BATCH).collect();
    let start = Instant::now();
    let out = std::process::Command::new(&exe)
        .env(k, &v)
        .args(["send", "-r", "0"])
        .args(&args)
        .output()
        .unwrap();
    assert!(out.status.success());
    let cli = start.elapsed().as_secs_f64() * 1e6 / BATCH as f64;

    println!("APDU latency through pcscd + vpcd, {BATCH}-APDU batches, median of {ROUNDS} rounds");
    println!("  bare pcsc transmit loop : {b:8.1} us/APDU");
    println!("  sscard Channel stack    : {o:8.1} us/APDU   ratio {:.3}", o / b);
    println!("  sscard send (process)   : {cli:8.1} us/APDU   (one process, start-up and output included)");
}
