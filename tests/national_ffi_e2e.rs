//! End-to-end: libsscard.so (ffi/) called by a real C program (examples/c/sscard_demo.c,
//! compiled with gcc and linked against the library) and by the Python ctypes example,
//! through a private pcscd + vpcd with the virtual cards: every function with a card,
//! without a card, with a wrong card, with the malicious card modes, and the HSM
//! two-step read of a 3.00 card with the lab HSM (`sscard-lab-hsm`) as the back office.
//!
//! The basic line is checked against `sscard info --format national` on the same card
//! (one builder, two front ends), GBK-encoded as the library writes it. Return codes are
//! those of docs/spec/national-interface.md §3.
//!
//! The library and the lab HSM live in the workspace member `sscard-ffi`; this test
//! builds them once with the cargo that runs it (`cargo build -p sscard-ffi`, a no-op
//! when scripts/test has built them), so a stale library is never tested.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bed;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const TODAY: &str = "20260701";
const DEVICE: &str = "VPCD0000";

/// The directory holding the sscard binary (target/release or target/debug).
fn out_dir() -> PathBuf {
    common::exe().parent().unwrap().to_path_buf()
}

/// Builds sscard-ffi (library + lab HSM) and the C example, once per test process.
fn built() -> &'static (PathBuf, PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = out_dir();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut c = Command::new(cargo);
        c.current_dir(common::root())
            .args(["build", "--locked", "-p", "sscard-ffi"]);
        if dir.file_name().is_some_and(|n| n == "release") {
            c.arg("--release");
        }
        let o = c.output().expect("cargo runs");
        assert!(
            o.status.success(),
            "cargo build -p sscard-ffi failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let lib = dir.join("libsscard.so");
        let hsm = dir.join("sscard-lab-hsm");
        assert!(
            lib.exists() && hsm.exists(),
            "{} / {}",
            lib.display(),
            hsm.display()
        );
        let demo = dir.join("sscard_demo_national_e2e");
        let o = Command::new("gcc")
            .args(["-Wall", "-Wextra", "-Werror", "-std=c99", "-I"])
            .arg(common::root().join("include"))
            .arg(common::root().join("examples/c/sscard_demo.c"))
            .arg("-L")
            .arg(&dir)
            .arg("-lsscard")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-o")
            .arg(&demo)
            .output()
            .expect("gcc runs");
        assert!(
            o.status.success(),
            "gcc failed:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        (lib, hsm, demo)
    })
}

/// A private copy of the test keys, mode 600.
fn key_file(bed: &Bed) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = bed.dir.path().join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Writes the desk configuration: the card in slot 0, keys when asked.
fn config(bed: &Bed, keys: bool) -> PathBuf {
    let path = bed
        .dir
        .path()
        .join(if keys { "keys.toml" } else { "nokeys.toml" });
    let mut text = String::new();
    if keys {
        text.push_str(&format!("keys = \"{}\"\n", key_file(bed).display()));
    }
    text.push_str(&format!(
        "[readers]\ncard = \"{}\"\n",
        bed.pcscd.reader_name(0)
    ));
    std::fs::write(&path, text).unwrap();
    path
}

/// A PIN file (mode 600) with these lines.
fn pin_file(bed: &Bed, name: &str, lines: &[&str]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = bed.dir.path().join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// One call's outcome as the C program printed it.
#[derive(Debug)]
struct Call {
    func: String,
    ret: i64,
    /// pOutInfo's bytes (GBK).
    out: Vec<u8>,
}

impl Call {
    fn text(&self) -> String {
        let (t, _, bad) = encoding_rs::GBK.decode(&self.out);
        assert!(!bad, "not GBK: {:?}", self.out);
        t.into_owned()
    }
}

/// What a run of the C program gave.
#[derive(Debug)]
struct Demo {
    calls: Vec<Call>,
    status: i32,
    stderr: String,
}

impl Demo {
    fn last(&self) -> &Call {
        self.calls
            .last()
            .unwrap_or_else(|| panic!("no call: {self:?}"))
    }

    /// APDUs and bytes the library reported for the last call (SSCARD_NATIONAL_TRACE:
    /// `libsscard: FUNC: N APDUs (B bytes) with the card`).
    fn traffic(&self) -> (u64, u64) {
        *self
            .traffic_all()
            .last()
            .unwrap_or_else(|| panic!("no APDU count: {}", self.stderr))
    }

    /// Every call's (APDUs, bytes), in call order.
    fn traffic_all(&self) -> Vec<(u64, u64)> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_suffix(" bytes) with the card"))
            .filter_map(|l| {
                let (head, bytes) = l.rsplit_once(" APDUs (")?;
                Some((head.rsplit(' ').next()?.parse().ok()?, bytes.parse().ok()?))
            })
            .collect()
    }

    fn apdus(&self) -> u64 {
        self.traffic().0
    }
}

fn parse_calls(stdout: &[u8]) -> Vec<Call> {
    let lines: Vec<&[u8]> = stdout.split(|b| *b == b'\n').collect();
    let mut calls = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let head = String::from_utf8_lossy(lines[i]);
        let Some((func, ret)) = head.split_once(" ret=") else {
            break;
        };
        calls.push(Call {
            func: func.to_string(),
            ret: ret.parse().unwrap(),
            out: lines[i + 1].to_vec(),
        });
        i += 2;
    }
    calls
}

/// Runs the C program: `args`, the desk configuration `cfg`, extra environment;
/// `hsm` plays the back office between Step1 and Step2 (given the Step1 line, returns
/// the pKey line). Fails on a hang, a signal or a panic message.
fn demo(
    bed: &Bed,
    cfg: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    hsm: Option<&dyn Fn(&str) -> String>,
) -> Demo {
    let (_, _, exe) = built();
    let (k, v) = bed.pcscd.env();
    let mut c = Command::new(exe);
    c.args(args)
        .env(k, v)
        .env("SSCARD_CONFIG", cfg)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_NATIONAL_TRACE", "1")
        .env_remove("SSCARD_PIN_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let mut stdin = Some(child.stdin.take().unwrap());
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut { stderr }, &mut s).ok();
        s
    });
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut r = std::io::BufReader::new(stdout);
        loop {
            let mut line = Vec::new();
            if r.read_until(b'\n', &mut line).unwrap_or(0) == 0 || tx.send(line).is_err() {
                return;
            }
        }
    });
    if hsm.is_none() {
        stdin = None;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut all = Vec::new();
    let mut lines = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                all.extend_from_slice(&line);
                lines += 1;
                if lines == 2 {
                    // The Step1 block is out: the back office answers.
                    if let (Some(h), Some(mut w)) = (hsm, stdin.take()) {
                        let calls = parse_calls(&all);
                        if let Some(c1) = calls.first().filter(|c| c.ret == 0) {
                            let key = h(&c1.text());
                            let _ = w.write_all(key.as_bytes());
                            let _ = w.write_all(b"\n");
                        }
                    }
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                panic!("sscard_demo {args:?} hung");
            }
        }
    }
    drop(stdin);
    let status = child.wait().unwrap();
    let stderr = err_thread.join().unwrap();
    assert!(
        status.code().is_some(),
        "killed by a signal: {status} {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let d = Demo {
        calls: parse_calls(&all),
        status: status.code().unwrap(),
        stderr,
    };
    assert!(!d.calls.is_empty(), "{d:?}");
    // Exit status follows the last return code.
    assert_eq!(d.status, i32::from(d.last().ret != 0), "{d:?}");
    d
}

/// `sscard info --format national` on the card in slot 0 (UTF-8, no newline).
fn info_line(bed: &Bed, keys: Option<&Path>) -> String {
    let mut c = bed.cmd();
    c.args(["info", "-r", "0", "--format", "national"])
        .env("SSCARD_TODAY", TODAY)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_CONFIG", "none");
    if let Some(k) = keys {
        c.arg("--keys").arg(k);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim_end().to_string()
}

fn insert(bed: &mut Bed, image: &str, extra: &[&str]) {
    let img = bed.image(image);
    bed.insert(0, &img, extra);
}

#[test]
fn read_card_bas_on_every_generation_matches_info() {
    let mut bed = Bed::start();
    let nokeys = config(&bed, false);
    let keys_cfg = config(&bed, true);
    let keys = key_file(&bed);
    // The layout's minimum (BENCHMARKS.md, "National interface"): APDUs and bytes.
    for (image, traffic) in [("ssc-1.00.json", (9, 207)), ("ssc-2.00.json", (10, 236))] {
        insert(&mut bed, image, &[]);
        let want = info_line(&bed, None);
        let d = demo(&bed, &nokeys, &["bas", "3"], &[], None);
        assert_eq!(d.last().func, "iReadCardBas");
        assert_eq!(d.last().ret, 0, "{image}: {d:?}");
        assert_eq!(d.last().out, sscard::national::gbk(&want), "{image}");
        assert_eq!(d.traffic(), traffic, "{image}: APDUs and bytes");
        // iType 1 and 4 read the same card; 2 (contactless) is refused with -1.
        for it in ["1", "4"] {
            let d = demo(&bed, &nokeys, &["bas", it], &[], None);
            assert_eq!(
                d.last().out,
                sscard::national::gbk(&want),
                "{image} iType {it}"
            );
        }
        let d = demo(&bed, &nokeys, &["bas", "2"], &[], None);
        assert_eq!(d.last().ret, -1, "{d:?}");
        for it in ["0", "5", "-3"] {
            let d = demo(&bed, &nokeys, &["bas", it], &[], None);
            assert_eq!(d.last().ret, -14, "iType {it}: {d:?}");
        }
        // With the key file: its terminal number, same line otherwise.
        let want_k = info_line(&bed, Some(&keys));
        assert!(want_k.contains("|639900000001|"), "{want_k}");
        let d = demo(&bed, &keys_cfg, &["bas"], &[], None);
        assert_eq!(d.last().out, sscard::national::gbk(&want_k), "{image}");
        // A card that needs no HSM: Step1 says so.
        let d = demo(&bed, &nokeys, &["step1"], &[], None);
        assert_eq!(d.last().ret, -2204, "{d:?}");
        bed.pull(0);
    }
    // The reference 2.00 line, byte for byte in GBK (cards.md §4 with this desk).
    insert(&mut bed, "ssc-2.00.json", &[]);
    let d = demo(&bed, &nokeys, &["bas"], &[], None);
    assert_eq!(
        d.last().text(),
        "639900|111111198101011110|X00000019|639900D15600000500BF7C7A48FB4966|张三|0081544C968684639948FB4966|2.00|20260601|20360601|000000000000|VPCD0000|"
    );
    assert!(
        d.last()
            .out
            .windows(4)
            .any(|w| w == [0xD5, 0xC5, 0xC8, 0xFD]),
        "GBK 张三"
    );
    // Step2 without Step1, and a null-free bad key: -14.
    let d = demo(&bed, &nokeys, &["step2", "00|00|"], &[], None);
    assert_eq!(d.last().ret, -14, "{d:?}");
    bed.pull(0);

    // 3.00 with the key file: GET CHALLENGE + EXTERNAL AUTHENTICATE before EF06.
    insert(&mut bed, "ssc-3.00.json", &[]);
    let want = info_line(&bed, Some(&keys));
    let d = demo(&bed, &keys_cfg, &["bas"], &[], None);
    assert_eq!(d.last().ret, 0, "{d:?}");
    assert_eq!(d.last().out, sscard::national::gbk(&want));
    assert_eq!(d.traffic(), (12, 274), "3.00 APDUs and bytes");
    // Without a SAM: -2201 (the HSM steps are the way).
    let d = demo(&bed, &nokeys, &["bas"], &[], None);
    assert_eq!(d.last().ret, -2201, "{d:?}");
    assert!(d.last().text().contains("无PSAM卡"), "{d:?}");
}

#[test]
fn no_card_wrong_card_no_reader() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    for args in [&["bas"][..], &["step1"], &["verify"], &["change"]] {
        let d = demo(&bed, &cfg, args, &[], None);
        assert_eq!(d.last().ret, -2, "{args:?}: {d:?}");
        assert!(d.last().text().contains("未插卡"), "{d:?}");
    }
    for image in ["city.json", "psam.json"] {
        insert(&mut bed, image, &[]);
        for args in [&["bas"][..], &["step1"], &["verify"], &["change"]] {
            let pins = pin_file(&bed, "p", &["123456", "654321", "654321"]);
            let d = demo(
                &bed,
                &cfg,
                args,
                &[("SSCARD_PIN_FILE", pins.to_str().unwrap())],
                None,
            );
            assert_eq!(d.last().ret, -1, "{image} {args:?}: {d:?}");
        }
        bed.pull(0);
    }
    // pcscd unreachable: -11.
    let d = demo(
        &bed,
        &cfg,
        &["bas"],
        &[("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")],
        None,
    );
    assert_eq!(d.last().ret, -11, "{d:?}");
    // A broken configuration: -5.
    let bad = bed.dir.path().join("bad.toml");
    std::fs::write(&bad, "langauge = \"zh\"\n").unwrap();
    let d = demo(&bed, &bad, &["bas"], &[], None);
    assert_eq!(d.last().ret, -5, "{d:?}");
}

#[test]
fn pin_functions() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    insert(&mut bed, "ssc-2.00.json", &["--no-save"]);
    let run = |bed: &Bed, name: &str, args: &[&str], pins: &[&str]| {
        let p = pin_file(bed, name, pins);
        demo(
            bed,
            &cfg,
            args,
            &[("SSCARD_PIN_FILE", p.to_str().unwrap())],
            None,
        )
    };
    // The reference card is on the initial PIN: verified, but it cannot transact.
    assert_eq!(run(&bed, "a", &["verify"], &["123456"]).last().ret, -35);
    let d = run(&bed, "b", &["verify"], &["000000"]);
    assert_eq!(d.last().ret, -51, "{d:?}");
    assert!(d.last().text().contains("还可尝试5次"), "{d:?}");
    assert_eq!(run(&bed, "c", &["verify"], &["12345"]).last().ret, -33);
    assert_eq!(run(&bed, "d", &["verify"], &[]).last().ret, -31);
    assert_eq!(
        run(&bed, "e", &["change"], &["123456", "654321", "654322"])
            .last()
            .ret,
        -34
    );
    assert_eq!(
        run(&bed, "f", &["change"], &["123456", "123456", "123456"])
            .last()
            .ret,
        -36
    );
    assert_eq!(
        run(&bed, "g", &["change"], &["000000", "654321", "654321"])
            .last()
            .ret,
        -51
    );
    let d = run(&bed, "h", &["change"], &["123456", "654321", "654321"]);
    assert_eq!(d.last().ret, 0, "{d:?}");
    assert!(d.last().out.is_empty());
    assert_eq!(run(&bed, "i", &["verify"], &["654321"]).last().ret, 0);
    // A PIN file others can read is no PIN device: -13, and no PIN reaches the card.
    let p = pin_file(&bed, "shared", &["654321"]);
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let d = demo(
        &bed,
        &cfg,
        &["verify"],
        &[("SSCARD_PIN_FILE", p.to_str().unwrap())],
        None,
    );
    assert_eq!(d.last().ret, -13, "{d:?}");
    // Wrong PINs until blocked: -51 with fewer tries, then -52.
    let mut last = 0;
    for _ in 0..6 {
        last = run(&bed, "w", &["verify"], &["999999"]).last().ret;
    }
    assert_eq!(last, -52);
    assert_eq!(run(&bed, "x", &["verify"], &["654321"]).last().ret, -52);
}

/// The lab HSM: Step1 line in, pKey out.
fn lab_hsm(keys: &Path, step1: &str) -> String {
    let (_, hsm, _) = built();
    let mut c = Command::new(hsm)
        .arg("--keys")
        .arg(keys)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(step1.as_bytes()).unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim_end().to_string()
}

#[test]
fn hsm_two_step_on_a_3_00_card() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false); // no PSAM, no keys at the desk
    let keys = key_file(&bed);
    insert(&mut bed, "ssc-3.00.json", &["--no-save"]);
    let want = info_line(&bed, Some(&keys)).replace("|639900000001|", "|000000000000|");
    let hsm = |line: &str| lab_hsm(&keys, line);
    let d = demo(&bed, &cfg, &["hsm"], &[], Some(&hsm));
    assert_eq!(d.calls.len(), 2, "{d:?}");
    let step1 = d.calls[0].text();
    let f: Vec<&str> = step1.split('|').collect();
    assert_eq!(f.len(), 10, "{step1}");
    assert_eq!(f[0], "639900");
    assert_eq!(f[2], "03", "SM4");
    assert_eq!(
        f[4],
        &f[3][16..],
        "factor = the card identifier's last 8 bytes"
    );
    assert_eq!(f[4], f[6]);
    assert_eq!(f[8], DEVICE);
    assert_eq!(d.calls[1].func, "iReadCardBas_HSM_Step2");
    assert_eq!(d.calls[1].ret, 0, "{d:?}");
    assert_eq!(d.calls[1].out, sscard::national::gbk(&want));
    // Step1 5 + INTERNAL AUTHENTICATE 2 + GET CHALLENGE 1 + SELECT 2; Step2 EXTERNAL
    // AUTHENTICATE 1 + EF06 3.
    let t = d.traffic_all();
    assert_eq!((t[0].0, t[1].0), (10, 4), "Step1 and Step2 APDUs: {t:?}");
    // Two random numbers per session: a second run has other factors' randoms.
    let d2 = demo(&bed, &cfg, &["hsm"], &[], Some(&hsm));
    assert_eq!(d2.calls[1].ret, 0, "{d2:?}");
    assert_ne!(d2.calls[0].text(), step1);

    // An HSM whose internal result differs: -25, and nothing is sent to the card.
    let flip = |s: &str, at: usize| {
        let mut b = s.as_bytes().to_vec();
        b[at] = if b[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(b).unwrap()
    };
    let wrong_int = |line: &str| flip(&lab_hsm(&keys, line), 0);
    let d = demo(&bed, &cfg, &["hsm"], &[], Some(&wrong_int));
    assert_eq!(d.calls[1].ret, -25, "{d:?}");
    assert_eq!(d.apdus(), 0);
    // A wrong external cryptogram: the card's 63Cx as minus its decimal value.
    let wrong_ext = |line: &str| flip(&lab_hsm(&keys, line), 33);
    let d = demo(&bed, &cfg, &["hsm"], &[], Some(&wrong_ext));
    assert_eq!(d.calls[1].ret, -0x63C4, "{d:?}");
    // A malformed pKey: -14.
    let d = demo(
        &bed,
        &cfg,
        &["hsm"],
        &[],
        Some(&|_: &str| "XYZ|".to_string()),
    );
    assert_eq!(d.calls[1].ret, -14, "{d:?}");
    // Another call between the steps ends the session: Step2 alone is -14.
    let d = demo(&bed, &cfg, &["step2", "00|00|"], &[], None);
    assert_eq!(d.last().ret, -14, "{d:?}");
}

#[test]
fn malicious_cards() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    // (mode, the code iReadCardBas returns; see src/vcard/malice.rs for the modes)
    for (mode, code) in [
        // READ RECORD with Le 6 gets 6C07, the resend with Le 7 gets 6C08: its status.
        ("lying-length", -0x6C08),
        // Data announced for ever / a 40 KB FCI of nested TLVs: invalid data.
        ("endless-61xx", -23),
        ("deep-tlv", -23),
        // No answer (a closed link) / 1 byte: the card does not answer.
        ("zero-length", -4),
        ("short-reply", -4),
        // SW 1234 to every SELECT: no profile matches, not a social security card.
        ("garbage-sw", -1),
        // The ATR's historical bytes are a field of the line: a truncated ATR is -23.
        ("bad-atr", -23),
    ] {
        let pins = pin_file(&bed, "m", &["654321", "111111", "111111"]);
        let env = [("SSCARD_PIN_FILE", pins.to_str().unwrap())];
        for args in [&["bas"][..], &["step1"], &["verify"], &["change"]] {
            let img = bed.image("ssc-2.00.json");
            bed.insert(0, &img, &["--no-save", "--once", "--malice", mode]);
            let d = demo(&bed, &cfg, args, &env, None);
            bed.pull(0);
            let ret = d.last().ret;
            eprintln!(
                "--malice {mode}: {} {ret} {:?}",
                d.last().func,
                d.last().text()
            );
            assert!(ret != 0, "{mode} {args:?}: {d:?}");
            assert!(ret == 0 || !d.last().out.is_empty(), "{mode}: no message");
            match args[0] {
                // The reads meet the misbehaviour at the same APDU.
                "bas" | "step1" => assert_eq!(ret, code, "--malice {mode} {args:?}: {d:?}"),
                // The PIN functions send SELECT and one command. lying-length and
                // deep-tlv answer VERIFY / CHANGE PIN with data (61xx), which these
                // commands never return: not trusted, -23.
                _ => {
                    let want = match mode {
                        "lying-length" | "deep-tlv" => -23,
                        "bad-atr" => -51, // honest APDUs: the wrong PIN 654321
                        _ => code,
                    };
                    assert_eq!(ret, want, "--malice {mode} {args:?}: {d:?}");
                }
            }
        }
    }
}

#[test]
fn python_example_reads_the_card() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    insert(&mut bed, "ssc-2.00.json", &[]);
    let (lib, _, _) = built();
    let (k, v) = bed.pcscd.env();
    let o = Command::new("python3")
        .arg(common::root().join("examples/python/read_card.py"))
        .arg("3")
        .env(k, &v)
        .env("SSCARD_LIB", lib)
        .env("SSCARD_CONFIG", &cfg)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["name"], "张三");
    assert_eq!(doc["social_security_number"], "111111198101011110");
    assert_eq!(doc["card_number"], "X00000019");
    assert_eq!(doc["spec_version"], "2.00");
    assert_eq!(doc["device_number"], DEVICE);
    bed.pull(0);
    // Without a card: the code and message on stderr, exit 1.
    let o = Command::new("python3")
        .arg(common::root().join("examples/python/read_card.py"))
        .env(k, v)
        .env("SSCARD_LIB", lib)
        .env("SSCARD_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ret=-2"),
        "{o:?}"
    );
}

/// A Python caller (which ignores SIGPIPE) with `SSCARD_NATIONAL_TRACE=1` and its
/// standard error a pipe nobody reads any more: `iReadCardBas` -> (ret, pOutInfo).
fn traced_read_closed_stderr(bed: &Bed, cfg: &Path) -> (std::process::ExitStatus, String) {
    let (lib, _, _) = built();
    let (k, v) = bed.pcscd.env();
    let code = "import ctypes, os, sys, time\n\
                time.sleep(0.3)\n\
                lib = ctypes.CDLL(os.environ['SSCARD_LIB'])\n\
                buf = ctypes.create_string_buffer(1024)\n\
                ret = lib.iReadCardBas(3, buf)\n\
                sys.stdout.write('%d %s' % (ret, buf.value.decode('gbk')))\n";
    let mut child = Command::new("python3")
        .args(["-c", code])
        .env(k, v)
        .env("SSCARD_LIB", lib)
        .env("SSCARD_CONFIG", cfg)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_NATIONAL_TRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take()); // the reader goes away before the library traces
    let o = child.wait_with_output().unwrap();
    (o.status, String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn trace_to_a_closed_stderr_neither_aborts_nor_changes_the_answer() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    // Failure path (no card): the trace line was an `eprintln!` outside catch_unwind,
    // whose panic on EPIPE aborted the caller's process.
    let (status, out) = traced_read_closed_stderr(&bed, &cfg);
    assert!(status.success(), "{status:?} {out:?}");
    assert!(out.starts_with("-2 "), "{out:?}");
    // Success path: the trace inside catch_unwind turned a good read into -5.
    insert(&mut bed, "ssc-2.00.json", &[]);
    let (status, out) = traced_read_closed_stderr(&bed, &cfg);
    assert!(status.success(), "{status:?} {out:?}");
    assert!(out.starts_with("0 ") && out.contains("张三"), "{out:?}");
}

/// Several C threads calling `iReadCardBas` at once (the header's "thread safe"):
/// every call 0, every line the same and whole.
#[test]
fn c_threads_read_at_once() {
    let mut bed = Bed::start();
    let cfg = config(&bed, false);
    insert(&mut bed, "ssc-2.00.json", &[]);
    let (lib, _, _) = built();
    let src = bed.dir.path().join("threads.c");
    std::fs::write(
        &src,
        r#"#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include "sscard.h"
#define T 6
#define N 8
static char first[SSCARD_OUT_LEN];
static int bad;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static void *run(void *arg) {
    (void)arg;
    for (int i = 0; i < N; i++) {
        char out[SSCARD_OUT_LEN + 16];
        memset(out, 0x55, sizeof out);
        long r = iReadCardBas(3, out);
        pthread_mutex_lock(&m);
        if (r != 0 || out[SSCARD_OUT_LEN] != 0x55) bad++;
        else if (!first[0]) strcpy(first, out);
        else if (strcmp(first, out) != 0) bad++;
        pthread_mutex_unlock(&m);
    }
    return NULL;
}
int main(void) {
    pthread_t t[T];
    for (int i = 0; i < T; i++) pthread_create(&t[i], NULL, run, NULL);
    for (int i = 0; i < T; i++) pthread_join(t[i], NULL);
    printf("bad=%d first=%s\n", bad, first);
    return bad != 0;
}
"#,
    )
    .unwrap();
    let exe = bed.dir.path().join("threads");
    let dir = lib.parent().unwrap();
    let o = Command::new("gcc")
        .args(["-Wall", "-Werror", "-std=c99", "-pthread", "-I"])
        .arg(common::root().join("include"))
        .arg(&src)
        .arg("-L")
        .arg(dir)
        .arg("-lsscard")
        .arg(format!("-Wl,-rpath,{}", dir.display()))
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (k, v) = bed.pcscd.env();
    let o = Command::new(&exe)
        .env(k, v)
        .env("SSCARD_CONFIG", &cfg)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The line is GBK: only its ASCII fields are compared here.
    assert!(out.starts_with("bad=0 first="), "{out}");
    assert!(out.contains("|111111198101011110|X00000019|"), "{out}");
}

/// The lab HSM whose output cannot be written (/dev/full) ends with its documented
/// status, not a panic's 101: a malformed Step1 line (7), `--help` (2).
#[test]
fn lab_hsm_with_closed_output_keeps_its_exit_status() {
    let (_, hsm, _) = built();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut c = Command::new(hsm)
        .args(["--keys", "/nonexistent"])
        .stdin(Stdio::piped())
        .stderr(full())
        .spawn()
        .unwrap();
    c.stdin
        .take()
        .unwrap()
        .write_all(b"not a step1 line\n")
        .unwrap();
    assert_eq!(c.wait().unwrap().code(), Some(7));
    let o = Command::new(hsm)
        .arg("--help")
        .stdout(full())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(o.code(), Some(2));
}
