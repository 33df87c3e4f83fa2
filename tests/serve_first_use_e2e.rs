//! End-to-end: first use driven by the HIS (issue 12 point 4) through a private pcscd +
//! vpcd: the C program linked against libsscard.so calls `iActivateCard_FirstUse` on
//! an inactive card (the card read back with `sscard info --format json`), an active
//! one, an expired one, an empty reader and a wrong card; the holder's PIN rule from
//! the desk's PIN file; the Python example; a card pulled at every APDU of a first use,
//! after which the desk's `sscard activate first-use` finishes the card or refuses it
//! as already active; and `sscard serve` doing first use over WebSocket and POST
//! /national (national style) and in its typed API, two clients at once on one reader
//! serialised, a timed-out first use that still completes, and no PIN in the service's
//! log or answers. Every journal entry is looked up in the desk's journal with
//! `sscard journal list --format json`.
//!
//! The library is built by this test with the cargo that runs it (as
//! tests/national_ffi_e2e.rs does); the service is a child process.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::pool::{run_cases, workers};
use common::Bed;
use serde_json::{json, Value};
use std::io::BufRead;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TODAY: &str = "20261122";
const DEVICE: &str = "VPCD0000";
/// The test key file's terminal number.
const TERMINAL: &str = "639900000001";

/// Builds sscard-ffi and the C example, once per test process.
fn demo_exe() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = common::exe().parent().unwrap().to_path_buf();
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
        let demo = dir.join("sscard_demo_first_use_e2e");
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
        (dir.join("libsscard.so"), demo)
    })
}

/// A desk: the bed, its key file, configuration and journal.
struct Desk {
    bed: Bed,
    keys: PathBuf,
    cfg: PathBuf,
    journal: PathBuf,
}

fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

impl Desk {
    /// The card in slot 0, the test keys, the journal named in the configuration
    /// (`journal = ...`), extra lines appended (e.g. a `[serve]` table).
    fn new(extra: &str) -> Desk {
        let bed = Bed::start();
        let keys = bed.dir.path().join("keys.txt");
        std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).unwrap();
        private(&keys);
        let journal = bed.dir.path().join("desk-journal.sqlite");
        let cfg = bed.dir.path().join("sscard.toml");
        std::fs::write(
            &cfg,
            format!(
                "keys = \"{}\"\njournal = \"{}\"\noperator = \"desk1\"\n[readers]\ncard = \"{}\"\n{extra}",
                keys.display(),
                journal.display(),
                bed.pcscd.reader_name(0)
            ),
        )
        .unwrap();
        Desk {
            bed,
            keys,
            cfg,
            journal,
        }
    }

    /// A fresh copy of `image` in slot 0 (saved as the card changes).
    fn insert_fresh(&mut self, image: &str, extra: &[&str]) -> PathBuf {
        let img = self.bed.dir.path().join(image);
        std::fs::copy(common::root().join("cards").join(image), &img).unwrap();
        self.bed.insert(0, &img, extra);
        img
    }

    /// A PIN file (mode 600) with these lines.
    fn pins(&self, name: &str, lines: &[&str]) -> PathBuf {
        let path = self.bed.dir.path().join(name);
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, text).unwrap();
        private(&path);
        path
    }

    /// Runs the C program (`firstuse`, `bas`, `verify`...): the return code and
    /// pOutInfo decoded from GBK.
    fn c(&self, args: &[&str], env: &[(&str, &str)]) -> (i64, String) {
        let (_, exe) = demo_exe();
        let (k, v) = self.bed.pcscd.env();
        let mut c = Command::new(exe);
        c.args(args)
            .env(k, v)
            .env("SSCARD_CONFIG", &self.cfg)
            .env("SSCARD_DEVICE_ID", DEVICE)
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_PIN_FILE")
            .env_remove("SSCARD_JOURNAL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            c.env(k, v);
        }
        let o = wait_output(c.spawn().unwrap(), 60, "sscard_demo");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{stderr}");
        let mut lines = o.stdout.split(|b| *b == b'\n');
        let head = String::from_utf8_lossy(lines.next().unwrap()).into_owned();
        let ret: i64 = head
            .split_once(" ret=")
            .unwrap_or_else(|| panic!("no ret in {head:?} ({stderr})"))
            .1
            .parse()
            .unwrap();
        let out = lines.next().unwrap_or_default();
        let (text, _, bad) = encoding_rs::GBK.decode(out);
        assert!(!bad, "not GBK: {out:?}");
        assert_eq!(o.status.code(), Some(i32::from(ret != 0)), "{head}");
        (ret, text.into_owned())
    }

    /// `sscard info --format json` of the card in slot 0, with the desk's keys.
    fn info(&self) -> Value {
        let mut c = self.bed.cmd();
        c.args(["info", "-r", "0", "--format", "json", "--keys"])
            .arg(&self.keys)
            .env("SSCARD_CONFIG", "none")
            .env("SSCARD_TODAY", TODAY);
        let r: common::Run = c.output().unwrap().into();
        assert_eq!(r.code, 0, "{r:?}");
        serde_json::from_str(&r.stdout).unwrap()
    }

    /// The card's medical status code (`00` not active, `01` active).
    fn status(&self) -> String {
        let v = self.info();
        v["medical"]["status"]["code"]
            .as_str()
            .or_else(|| v["medical"]["status"].as_str())
            .unwrap_or_else(|| panic!("no medical status in {v}"))
            .to_string()
    }

    /// The desk's journal entries (`sscard journal list --format json`).
    fn journal_entries(&self) -> Vec<Value> {
        let mut c = self.bed.cmd();
        c.args(["journal", "--journal"])
            .arg(&self.journal)
            .args(["list", "--format", "json"])
            .env("SSCARD_CONFIG", &self.cfg);
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["schema"], "sscard-journal-list", "{v}");
        v["entries"].as_array().unwrap().clone()
    }

    /// `sscard activate first-use` at the desk (the desk's configuration: its reader,
    /// keys and journal), card already in slot 0.
    fn cli_first_use(&self) -> common::Run {
        let mut c = self.bed.cmd();
        c.args(["activate", "first-use", "--config"])
            .arg(&self.cfg)
            .args([
                "--ui",
                "plain",
                "--timeout",
                "3",
                "--retries",
                "0",
                "--receipt",
                "json",
            ])
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_JOURNAL");
        let o = wait_output(
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
            60,
            "sscard activate",
        );
        o.into()
    }
}

impl Desk {
    /// `sscard activate resume ID` at the desk, card already in slot 0.
    fn cli_resume(&self, id: &str) -> common::Run {
        let mut c = self.bed.cmd();
        c.args(["activate", "resume", id, "--config"])
            .arg(&self.cfg)
            .args(["--ui", "plain", "--timeout", "3", "--retries", "0"])
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_JOURNAL");
        let o = wait_output(
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
            60,
            "sscard activate resume",
        );
        o.into()
    }
}

/// Waits for a child at most `secs`, killing it (and failing) on a hang.
fn wait_output(mut child: Child, secs: u64, what: &str) -> std::process::Output {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The log records of type `02` (first use) on a card image.
fn first_use_records(img: &Path) -> usize {
    common::desk::log_records(img)
        .iter()
        .filter(|r| r.first() == Some(&0x02))
        .count()
}

#[test]
fn the_library_activates_refuses_and_follows_the_pin_rule() {
    let mut d = Desk::new("");
    // No card: -2; the journal not even created for it.
    let (ret, text) = d.c(&["firstuse"], &[]);
    assert_eq!(ret, -2, "{text}");
    assert!(text.contains("未插卡"), "{text}");
    // A wrong card: -1, nothing written.
    let city = d.insert_fresh("city.json", &[]);
    let before = std::fs::read(&city).unwrap();
    let (ret, text) = d.c(&["firstuse"], &[]);
    assert_eq!(ret, -1, "{text}");
    assert_eq!(std::fs::read(&city).unwrap(), before);
    d.bed.pull(0);

    // An inactive card: activated; pOutInfo is its basic line after activation.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    assert_eq!(d.status(), "00");
    // A bad iVerifyHolder: -14, nothing written, nothing journaled.
    let (ret, text) = d.c(&["firstuse", "3", "2"], &[]);
    assert_eq!(ret, -14, "{text}");
    // iType 2 (contactless) on a contact desk: -1.
    assert_eq!(d.c(&["firstuse", "2"], &[]).0, -1);
    assert_eq!(d.status(), "00");
    let (ret, line) = d.c(&["firstuse"], &[]);
    assert_eq!(ret, 0, "{line}");
    let (ret, bas) = d.c(&["bas"], &[]);
    assert_eq!(ret, 0);
    assert_eq!(line, bas, "pOutInfo is the basic line");
    assert!(
        line.contains("|张三|") && line.contains(&format!("|{TERMINAL}|{DEVICE}|")),
        "{line}"
    );
    let v = d.info();
    assert_eq!(d.status(), "01", "{v}");
    assert_eq!(v["medical"]["activation_terminal"], TERMINAL, "{v}");
    assert_eq!(first_use_records(&img), 1);
    // The journal entry is in the desk's journal (the configuration's `journal`).
    let entries = d.journal_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["flow"], "first-use", "{e}");
    assert_eq!(e["state"], "COMPLETE", "{e}");
    assert_eq!(e["terminal"], TERMINAL, "{e}");
    assert_eq!(e["operator"], "desk1", "{e}");
    assert_eq!(e["new_card"], "X00000019", "{e}");
    // Already active: -41, nothing written, no second entry.
    let before = std::fs::read(&img).unwrap();
    let (ret, text) = d.c(&["firstuse"], &[]);
    assert_eq!(ret, -41, "{text}");
    assert!(
        text.contains("已启用") && text.contains("already active"),
        "{text}"
    );
    assert_eq!(std::fs::read(&img).unwrap(), before);
    assert_eq!(d.journal_entries().len(), 1);
    // The desk's command line sees the same card the same way.
    let r = d.cli_first_use();
    assert_eq!(r.code, 12, "{r:?}");
    d.bed.pull(0);

    // Expired (today after the expiry date 2036-06-01): -42, nothing written.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    let before = std::fs::read(&img).unwrap();
    let (ret, text) = d.c(&["firstuse"], &[("SSCARD_TODAY", "20370101")]);
    assert_eq!(ret, -42, "{text}");
    assert!(text.contains("过有效期"), "{text}");
    assert_eq!(std::fs::read(&img).unwrap(), before);

    // The PIN rule, from the desk's PIN file: a wrong PIN is -51 and writes nothing.
    let wrong = d.pins("wrong", &["000000"]);
    let (ret, text) = d.c(
        &["firstuse", "3", "verify"],
        &[("SSCARD_PIN_FILE", wrong.to_str().unwrap())],
    );
    assert_eq!(ret, -51, "{text}");
    assert_eq!(d.status(), "00");
    // The initial PIN verified: the holder must choose another; twice the same
    // initial PIN is -36, two different entries -34; neither writes anything.
    for (lines, code) in [
        (&["123456", "123456", "123456"][..], -36),
        (&["123456", "654321", "654322"], -34),
        (&["123456"], -31),
        (&["12345"], -33),
    ] {
        let p = d.pins("p", lines);
        let (ret, text) = d.c(
            &["firstuse", "3", "verify"],
            &[("SSCARD_PIN_FILE", p.to_str().unwrap())],
        );
        assert_eq!(ret, code, "{lines:?}: {text}");
        assert_eq!(d.status(), "00", "{lines:?}");
    }
    let entries_before = d.journal_entries().len();
    let p = d.pins("ok", &["123456", "654321", "654321"]);
    let (ret, line) = d.c(
        &["firstuse", "3", "verify"],
        &[("SSCARD_PIN_FILE", p.to_str().unwrap())],
    );
    assert_eq!(ret, 0, "{line}");
    assert_eq!(d.status(), "01");
    assert_eq!(d.journal_entries().len(), entries_before + 1);
    // The card now has the chosen PIN.
    let p = d.pins("v", &["654321"]);
    assert_eq!(
        d.c(&["verify"], &[("SSCARD_PIN_FILE", p.to_str().unwrap())])
            .0,
        0
    );
    d.bed.pull(0);

    // Without card keys at the desk: -2201 before the card is touched.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    let nokeys = d.bed.dir.path().join("nokeys.toml");
    std::fs::write(
        &nokeys,
        format!(
            "journal = \"{}\"\n[readers]\ncard = \"{}\"\n",
            d.journal.display(),
            d.bed.pcscd.reader_name(0)
        ),
    )
    .unwrap();
    let before = std::fs::read(&img).unwrap();
    let (ret, text) = d.c(
        &["firstuse"],
        &[("SSCARD_CONFIG", nokeys.to_str().unwrap())],
    );
    assert_eq!(ret, -2201, "{text}");
    assert_eq!(std::fs::read(&img).unwrap(), before);
    // $SSCARD_JOURNAL wins over the configuration, as for `sscard activate`.
    let other = d.bed.dir.path().join("other-journal.sqlite");
    let (ret, text) = d.c(
        &["firstuse"],
        &[("SSCARD_JOURNAL", other.to_str().unwrap())],
    );
    assert_eq!(ret, 0, "{text}");
    assert!(other.exists());

    // The Python example: the same call, on a fresh card.
    d.bed.pull(0);
    d.insert_fresh("ssc-2.00.json", &[]);
    let (lib, _) = demo_exe();
    let (k, v) = d.bed.pcscd.env();
    let o = Command::new("python3")
        .arg(common::root().join("examples/python/first_use.py"))
        .arg("3")
        .env(k, &v)
        .env("SSCARD_LIB", lib)
        .env("SSCARD_CONFIG", &d.cfg)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_TODAY", TODAY)
        .env_remove("SSCARD_JOURNAL")
        .env_remove("SSCARD_PIN_FILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let doc: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["name"], "张三");
    assert_eq!(doc["terminal_number"], TERMINAL);
    let o = Command::new("python3")
        .arg(common::root().join("examples/python/first_use.py"))
        .env(k, &v)
        .env("SSCARD_LIB", lib)
        .env("SSCARD_CONFIG", &d.cfg)
        .env("SSCARD_TODAY", TODAY)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("ret=-41"),
        "{o:?}"
    );
}

/// A card pulled before each APDU of a first use driven by the library: the call
/// fails (or, torn in the basic-line read after it, the card is active); the desk's
/// `sscard activate first-use` afterwards finishes the card or refuses it as already
/// active, and either way the card ends active with at most one first-use record;
/// a call that journaled before the tear says -46 and names its unfinished entry.
/// One tear point of the torn test: the library's first use with the card pulled
/// before APDU `n`, then the desk's recovery; returns the library's answer.
fn torn_case(d: &mut Desk, n: u64) -> i64 {
    let at = n.to_string();
    let img = d.insert_fresh("ssc-2.00.json", &["--remove-before", &at, "--once"]);
    let unfinished = |d: &Desk| -> Vec<String> {
        // A worker's fresh desk has no journal before its first call.
        if !d.journal.exists() {
            return Vec::new();
        }
        d.journal_entries()
            .into_iter()
            .filter(|e| e["state"] != "COMPLETE")
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let before = unfinished(d);
    let (ret, text) = d.c(&["firstuse"], &[]);
    d.bed.wait_removed(0);
    assert_ne!(ret, 0, "torn before APDU {n}: {text}");
    let new: Vec<String> = unfinished(d)
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    // The card back in the reader; the desk finishes what the call left.
    d.bed.insert(0, &img, &[]);
    if ret == -46 {
        assert_eq!(new.len(), 1, "APDU {n}: -46 and unfinished entries {new:?}");
        assert!(
            text.contains(&new[0]) && text.contains("sscard activate resume"),
            "APDU {n}: {text} does not name {} and the resume",
            new[0]
        );
        let r = d.cli_resume(&new[0]);
        assert_eq!(r.code, 0, "torn before APDU {n}: the desk's resume: {r:?}");
        let done = d
            .journal_entries()
            .into_iter()
            .find(|e| e["id"] == new[0].as_str())
            .unwrap();
        assert_eq!(done["state"], "COMPLETE", "APDU {n}: {done}");
    } else {
        assert!(new.is_empty(), "APDU {n}: {ret} left {new:?} unfinished");
        // Nothing journaled (torn before the entry: the desk activates), or the
        // activation completed (torn in the basic line's read: already active).
        let r = d.cli_first_use();
        assert!(
            r.code == 0 || (r.code == 12 && r.stderr.contains("already active")),
            "torn before APDU {n} (library {ret}): the desk's run: {r:?}"
        );
    }
    assert_eq!(d.status(), "01", "APDU {n}");
    assert_eq!(first_use_records(&img), 1, "APDU {n}: first-use records");
    assert!(
        unfinished(d).iter().all(|id| before.contains(id)),
        "APDU {n}: an entry left unfinished"
    );
    d.bed.pull(0);
    eprintln!("torn before APDU {n}: library {ret}");
    ret
}

#[test]
fn a_first_use_torn_at_every_apdu_is_finished_or_resumed_by_the_desk() {
    let started = Instant::now();
    let mut d = Desk::new("");
    // How many APDUs a whole call sends (the activation, then the basic line).
    let count = d.bed.dir.path().join("count");
    d.insert_fresh("ssc-2.00.json", &["--count-file", count.to_str().unwrap()]);
    let (ret, text) = d.c(&["firstuse"], &[]);
    assert_eq!(ret, 0, "{text}");
    let total: u64 = std::fs::read_to_string(&count)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    d.bed.pull(0);
    drop(d);
    assert!(total > 15, "{total} APDUs");
    // Every tear point, side by side on private beds (common::pool).
    let rets = std::sync::Mutex::new(Vec::new());
    let ran = run_cases(
        workers(),
        (1..=total).collect(),
        |_| Desk::new(""),
        |d, n| {
            let ret = torn_case(d, n);
            rets.lock().unwrap().push(ret);
        },
    );
    let rets = rets.into_inner().unwrap();
    let interrupted = rets.iter().filter(|r| **r == -46).count();
    eprintln!(
        "{ran} tear points in {:.0?}: {interrupted} answered -46 and were resumed, the rest \
         finished or found active by the desk",
        started.elapsed()
    );
    assert!(interrupted > 0 && interrupted < rets.len());
}

/// A running `sscard serve`.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(d: &Desk, env: &[(&str, &str)]) -> Serve {
        let log = d.bed.dir.path().join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut c = d.bed.cmd();
        c.args(["-vv", "serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&d.cfg)
            .env("SSCARD_DEVICE_ID", DEVICE)
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_PIN_FILE")
            .env_remove("SSCARD_JOURNAL")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Serve { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn ws(&self) -> WebSocket<MaybeTlsStream<TcpStream>> {
        let (ws, _) = tungstenite::connect(format!("ws://127.0.0.1:{}/ws", self.port)).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        }
        ws
    }

    /// POST /national.
    fn national_http(&self, req: Value) -> Value {
        use std::io::{Read, Write};
        let body = req.to_string();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(90))).unwrap();
        write!(
            s,
            "POST /national HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.port,
            body.len()
        )
        .unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        serde_json::from_str(resp.split_once("\r\n\r\n").unwrap().1).unwrap()
    }
}

fn ask(ws: &mut WebSocket<MaybeTlsStream<TcpStream>>, req: Value) -> Value {
    ws.send(Message::Text(req.to_string().into())).unwrap();
    loop {
        match ws.read().unwrap() {
            Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn the_service_does_first_use_in_both_styles_on_the_desks_journal() {
    let mut d = Desk::new("[serve]\ntimeout = 20\n");
    let pins = d.pins("pins", &["123456", "975310", "975310"]);
    let s = Serve::start(&d, &[("SSCARD_PIN_FILE", pins.to_str().unwrap())]);
    let mut ws = s.ws();
    // The service names the desk's journal (the configuration's), and the call.
    let hello = ask(&mut ws, json!({"type": "hello"}));
    assert_eq!(hello["journal"], d.journal.display().to_string(), "{hello}");
    assert!(
        hello["functions"]
            .as_array()
            .unwrap()
            .contains(&json!("iActivateCard_FirstUse")),
        "{hello}"
    );
    assert!(hello["types"]
        .as_array()
        .unwrap()
        .contains(&json!("first-use")));
    // No card: -2 (national style, over HTTP).
    let a = s.national_http(json!({"function": "iActivateCard_FirstUse", "iType": 3}));
    assert_eq!(a["ret"], -2, "{a}");
    assert_eq!(a["success"], false);

    // National style over WebSocket, the holder verifying the PIN on the desk's PIN
    // device (initial PIN, so a new one is chosen): activated, the basic line back.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    let a = ask(
        &mut ws,
        json!({"function": "iActivateCard_FirstUse", "iType": 3, "iVerifyHolder": 1, "id": 7}),
    );
    assert_eq!(a["ret"], 0, "{a}");
    assert_eq!(a["success"], true);
    assert_eq!(a["id"], 7);
    assert_eq!(a["functionName"], "iActivateCard_FirstUse");
    assert!(a["pOutInfo"].as_str().unwrap().contains("|张三|"), "{a}");
    assert_eq!(d.status(), "01");
    assert_eq!(first_use_records(&img), 1);
    let entries = d.journal_entries();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["flow"], "first-use");
    assert_eq!(entries[0]["state"], "COMPLETE");
    // Again: already active, -41; a bad iVerifyHolder -14; a PIN in the request is
    // refused (-13) and never echoed.
    let a = ask(
        &mut ws,
        json!({"function": "iActivateCard_FirstUse", "iType": 3}),
    );
    assert_eq!(a["ret"], -41, "{a}");
    let a = ask(
        &mut ws,
        json!({"function": "iActivateCard_FirstUse", "iType": 3, "iVerifyHolder": 2}),
    );
    assert_eq!(a["ret"], -14, "{a}");
    let a = ask(
        &mut ws,
        json!({"function": "iActivateCard_FirstUse", "iType": 3, "pin": "864209"}),
    );
    assert_eq!(a["ret"], -13, "{a}");
    assert!(!a.to_string().contains("864209"));
    d.bed.pull(0);

    // The typed API: the receipt document with the journal's transfer id.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    let r = ask(&mut ws, json!({"type": "first-use", "reader": "0"}));
    assert_eq!(r["schema"], "sscard-receipt", "{r}");
    assert_eq!(r["flow"], "first-use");
    assert_eq!(r["terminal"], TERMINAL);
    assert!(r["basic_line"].as_str().unwrap().contains("|张三|"), "{r}");
    let id = r["transfer_id"].as_str().unwrap().to_string();
    let entries = d.journal_entries();
    let e = entries
        .iter()
        .find(|e| e["id"] == id.as_str())
        .unwrap_or_else(|| panic!("{id} not in the desk's journal: {entries:?}"));
    assert_eq!(e["state"], "COMPLETE");
    assert_eq!(first_use_records(&img), 1);
    let r = ask(&mut ws, json!({"type": "first-use", "reader": "0"}));
    assert_eq!(r["schema"], "sscard-error", "{r}");
    assert_eq!(r["error"]["ret"], -41, "{r}");
    assert_eq!(r["error"]["exit_code"], 12, "{r}");
    let r = ask(
        &mut ws,
        json!({"type": "first-use", "verify_holder": "yes"}),
    );
    assert_eq!(r["error"]["exit_code"], 2, "{r}");
    d.bed.pull(0);

    // Two clients at once on the one reader: serialised, so exactly one activates
    // and the other finds the card active; one entry, one record.
    let img = d.insert_fresh("ssc-2.00.json", &[]);
    let n_before = d.journal_entries().len();
    let port = s.port;
    let clients: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                let (mut ws, _) =
                    tungstenite::connect(format!("ws://127.0.0.1:{port}/ws")).unwrap();
                let req = if i == 0 {
                    json!({"function": "iActivateCard_FirstUse", "iType": 3})
                } else {
                    json!({"function": "iActivateCard_FirstUse", "iType": 1})
                };
                ask(&mut ws, req)
            })
        })
        .collect();
    let mut rets: Vec<i64> = clients
        .into_iter()
        .map(|t| t.join().unwrap()["ret"].as_i64().unwrap())
        .collect();
    rets.sort_unstable();
    assert_eq!(rets, vec![-41, 0], "serialised per reader");
    assert_eq!(d.journal_entries().len(), n_before + 1);
    assert_eq!(first_use_records(&img), 1);
    d.bed.pull(0);

    // No PIN in the service's log (at -vv, APDU trace included) or answers. (The
    // initial PIN 123456 is public, and the desk's note names it.)
    let log = s.log();
    assert!(log.contains("> 80 5E 01 00"), "no CHANGE PIN traced: {log}");
    // As typed, and as the BCD bytes an APDU trace would show.
    for pin in ["975310", "97 53 10", "864209", "86 42 09"] {
        assert!(!log.contains(pin), "PIN {pin} in the log:\n{log}");
    }
    assert!(log.contains("first use: activated, journal"), "{log}");
    assert!(!log.contains("张三"), "the holder's name in the log");
}

/// A first use that outlives the service's timeout is answered "timed out" but is not
/// abandoned half-way: it runs to its end on the reader's thread, and the desk's
/// journal and the card agree afterwards.
#[test]
fn a_timed_out_first_use_still_completes() {
    let mut d = Desk::new("[serve]\ntimeout = 1\n");
    let s = Serve::start(&d, &[]);
    // 150 ms per APDU: the first use takes well over the second allowed.
    let img = d.insert_fresh("ssc-2.00.json", &["--delay-apdu-us", "150000"]);
    let mut ws = s.ws();
    let a = ask(
        &mut ws,
        json!({"function": "iActivateCard_FirstUse", "iType": 3}),
    );
    assert_eq!(a["ret"], -11, "{a}");
    assert!(
        a["detail"].as_str().unwrap().contains("did not finish"),
        "{a}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let entries = d.journal_entries();
        if entries.iter().any(|e| e["state"] == "COMPLETE") {
            break;
        }
        assert!(Instant::now() < deadline, "never completed: {entries:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(first_use_records(&img), 1);
    // The job ends with the basic-line read; then the card reads back active.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(d.status(), "01");
    assert!(!s.log().contains("panicked"));
}
