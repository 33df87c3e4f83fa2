//! Issue 16, end to end through the `sscard` binary: secrets on every path, no core
//! dump holding a PIN, bounded inputs, signals, files with secrets checked, one desk
//! one meaning, hex typos named. Each test lists the inputs it tries; most need no
//! pcscd (a replayed transcript, or `PCSCLITE_CSOCK_NAME` pointing nowhere), the
//! reader and signal tests start a private one (root), so they belong to the pcscd +
//! vpcd tier: ignored, with that reason, unless the `pcscd-tests` feature is on.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{exe, Bed, Run};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// `sscard ARGS` in `dir` with no pcscd and no configuration.
fn offline(dir: &Path, args: &[&str]) -> Run {
    Command::new(exe())
        .args(args)
        .current_dir(dir)
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")
        .env("SSCARD_CONFIG", "none")
        .env("SSCARD_JOURNAL", dir.join("journal.sqlite"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap()
        .into()
}

/// Every spelling of the secrets of [`secrets_stay_out_of_trace_dump_and_report`].
const LEAKS: &[&str] = &[
    "12 34 56",
    "123456",
    "31 33 35 37 39 30",
    "313335373930",
    "135790",
    "AB CD EF 01",
    "ABCDEF01",
];

#[test]
fn secrets_stay_out_of_trace_dump_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "v.txt", "pin = 123456\nword = \"135790\"\n", 0o600);
    write(d, "k.txt", "key = AB CD EF 01\n", 0o600);
    // Inputs: a PIN (hex) and a word (ASCII) from var files, in a command the
    // instruction rule does not redact (UPDATE BINARY), concatenated by `let`, echoed
    // back by the card (READ BINARY), and compared in a failing expectation.
    write(
        d,
        "s.apdu",
        "00 D6 00 00 03 $pin\n\
         00 D6 00 00 06 $word\n\
         let both = $pin $key\n\
         00 D6 00 00 07 $both\n\
         00 B0 00 00 03\n\
         => 9000 $pin\n\
         00 B0 00 00 04\n\
         => 9000 $key\n",
        0o644,
    );
    write(
        d,
        "r.txt",
        "# sscard transcript 1\n# reader: R\n\
         > 00 D6 00 00 03 .. .. ..\n< 90 00\n\
         > 00 D6 00 00 06 .. .. .. .. .. ..\n< 90 00\n\
         > 00 D6 00 00 07 .. .. .. .. .. .. ..\n< 90 00\n\
         > 00 B0 00 00 03\n< 12 34 56 90 00\n\
         > 00 B0 00 00 04\n< AB CD EF 02 90 00\n",
        0o644,
    );
    // A dump that exists already, readable by all: it is tightened before writing.
    write(d, "old-dump.txt", "old\n", 0o644);
    let mut outputs = Vec::new();
    for (json, dump) in [(false, "new-dump.txt"), (true, "old-dump.txt")] {
        let mut args = vec![
            "-vv",
            "script",
            "--var-file",
            "v.txt",
            "--var-file",
            "k.txt",
            "--replay",
            "r.txt",
            "--dump",
            dump,
            "--keep-going",
        ];
        if json {
            args.push("--json");
        }
        args.push("s.apdu");
        let r = offline(d, &args);
        // The last expectation fails (02 vs 01): exit 9, the rest passes.
        assert_eq!(r.code, 9, "{r:?}");
        assert!(r.stderr.contains("sscard::apdu"), "no trace: {r:?}");
        let text = std::fs::read_to_string(d.join(dump)).unwrap();
        assert_eq!(mode(&d.join(dump)), 0o600, "{dump}");
        assert!(text.contains("> 00 D6 00 00 03 .. .. .."), "{text}");
        outputs.push((format!("{dump} json={json} stdout"), r.stdout.clone()));
        outputs.push((format!("{dump} json={json} stderr"), r.stderr.clone()));
        outputs.push((format!("{dump} file"), text));
    }
    for (what, text) in &outputs {
        for leak in LEAKS {
            assert!(
                !text.to_uppercase().contains(leak),
                "{what} holds {leak}:\n{text}"
            );
        }
    }
    // Replaying the dump still works: the redacted bytes match anything.
    let r = offline(
        d,
        &[
            "script",
            "--var-file",
            "v.txt",
            "--var-file",
            "k.txt",
            "--replay",
            "new-dump.txt",
            "--keep-going",
            "s.apdu",
        ],
    );
    assert_eq!(r.code, 9, "{r:?}");
}

/// Positive control: a process that may dump writes a core in this directory.
fn cores_are_written_here(dir: &Path) -> bool {
    let mut c = Command::new("sh")
        .args(["-c", "ulimit -c unlimited; exec sleep 30"])
        .current_dir(dir)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill")
        .args(["-QUIT", &c.id().to_string()])
        .status();
    let _ = c.wait();
    let found = cores(dir);
    for f in &found {
        let _ = std::fs::remove_file(f);
    }
    !found.is_empty()
}

fn cores(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("core"))
        })
        .collect()
}

#[test]
fn no_core_dump_holds_a_pin() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "v.txt", "pin = \"864213\"\n", 0o600);
    write(d, "s.apdu", "00 D6 00 00 06 $pin\n", 0o644);
    let control = cores_are_written_here(d);
    // The PIN is loaded from the first var file; the second (stdin, kept open) blocks.
    let mut child = Command::new("sh")
        .args([
            "-c",
            &format!(
                "ulimit -c unlimited; exec '{}' script --var-file v.txt --var-file - --check s.apdu",
                exe().display()
            ),
        ])
        .current_dir(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // While it runs: its soft core limit is 0 whatever the shell allowed.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let core_line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap()
        .to_string();
    let soft = core_line.split_whitespace().nth(4).unwrap();
    assert_eq!(soft, "0", "{core_line}");
    let _ = Command::new("kill")
        .args(["-QUIT", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(3), "{status:?}");
    assert!(!status.core_dumped(), "the kernel reports a core dump");
    let left = cores(d);
    if let Some(f) = left.first() {
        let bytes = std::fs::read(f).unwrap();
        let holds = bytes.windows(6).any(|w| w == b"864213");
        panic!(
            "a core file was written ({} bytes, holds the PIN: {holds})",
            bytes.len()
        );
    }
    // Say what this run could prove (core_pattern is system-wide).
    println!(
        "cores are written in this directory for dumpable processes: {control}; \
         sscard left none and ran with soft RLIMIT_CORE 0"
    );
    assert!(
        control
            || !std::fs::read_to_string("/proc/sys/kernel/core_pattern")
                .unwrap()
                .starts_with("core"),
        "the control process wrote no core although core_pattern writes to the working directory"
    );
}

#[test]
fn files_with_secrets_shared_with_others_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "s.apdu", "00 A4 00 00 02 3F 00\n", 0o644);
    let keys = std::fs::read_to_string(common::root().join("keys/test-keys.txt")).unwrap();
    let mut tried = 0;
    for m in [0o640, 0o620, 0o604, 0o602, 0o660, 0o666, 0o644] {
        // Var file: exit 2 (usage).
        write(d, "v.txt", "pin = 123456\n", m);
        let r = offline(d, &["script", "--var-file", "v.txt", "--check", "s.apdu"]);
        assert_eq!(r.code, 2, "var file {m:o}: {r:?}");
        assert!(
            r.stderr.contains("by group or others") && r.stderr.contains("chmod 600"),
            "{r:?}"
        );
        assert!(!r.stderr.contains("123456"), "{r:?}");
        // PIN file: exit 14, before any reader is looked for.
        write(d, "pins", "135790\n", m);
        let r = offline(
            d,
            &["activate", "pharmacy", "--pin-file", "pins", "--keys", "k"],
        );
        assert_eq!(r.code, 14, "pin file {m:o}: {r:?}");
        assert!(r.stderr.contains("PIN file pins: "), "{r:?}");
        assert!(!r.stderr.contains("135790"), "{r:?}");
        // Key file: exit 11 (config check reads it offline).
        let k = write(d, "k.txt", &keys, m);
        let cfg = write(d, "c.toml", &format!("keys = \"{}\"\n", k.display()), 0o644);
        let r = offline(
            d,
            &[
                "config",
                "check",
                "--offline",
                "--config",
                cfg.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 11, "key file {m:o}: {r:?}");
        assert!(r.stdout.contains("by group or others"), "{r:?}");
        tried += 3;
    }
    assert_eq!(tried, 21);
    // Owner-only files pass the check (the script is only checked; the PIN file
    // passes and the command fails later on the missing pcscd or key file).
    write(d, "v.txt", "pin = 123456\n", 0o600);
    assert_eq!(
        offline(d, &["script", "--var-file", "v.txt", "--check", "s.apdu"]).code,
        0
    );
}

#[test]
fn hex_typos_name_the_character_and_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "s.apdu", "00 A4 00 00 02 3F 00\n", 0o644);
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec!["atr", "3B ３0"],
            7,
            "character 4, '３' (U+FF13), is not a hex digit",
        ),
        (
            vec!["send", "00 A4 ３"],
            7,
            "APDU 1: the hex given is not hex: character 7, '３'",
        ),
        (
            vec!["send", "00 A4", "0G"],
            7,
            "APDU 2: the hex given is not hex: character 2, 'G'",
        ),
        (
            vec!["send", "--expect", "9O00", "00A4"],
            7,
            "digit 2, 'O', is not hex",
        ),
        (
            vec!["script", "--var", "x=0３", "--check", "s.apdu"],
            2,
            "character 2, '３' (U+FF13)",
        ),
    ];
    for (args, code, want) in &cases {
        let r = offline(d, args);
        assert_eq!(r.code, *code, "{args:?}: {r:?}");
        assert!(r.stderr.contains(want), "{args:?}: {r:?}");
        assert!(!r.stderr.contains('ï'), "{r:?}");
    }
    // Secret input: the position, never the character.
    write(d, "v.txt", "pin = 12３456\n", 0o600);
    let r = offline(d, &["script", "--var-file", "v.txt", "--check", "s.apdu"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("v.txt:1:") && r.stderr.contains("character 3 is not a hex digit"),
        "{r:?}"
    );
    assert!(
        !r.stderr.contains('３') && !r.stderr.contains("12"),
        "{r:?}"
    );
    let k = write(
        d,
        "k.txt",
        "ssc.0C = 0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0３0\n",
        0o600,
    );
    let cfg = write(d, "c.toml", &format!("keys = \"{}\"\n", k.display()), 0o644);
    let r = offline(
        d,
        &[
            "config",
            "check",
            "--offline",
            "--config",
            cfg.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 11, "{r:?}");
    assert!(
        r.stdout
            .contains("k.txt:1: a key is 32 hex digits (character 31 is not a hex digit)"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("0C0C"), "{r:?}");
    println!("{} hex inputs tried", cases.len() + 2);
}

#[test]
fn scripts_cannot_allocate_without_bound() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A value that doubles itself: stopped at the largest APDU, exit 10.
    let mut s = String::from("let x = 00 11 22 33 44 55 66 77\n");
    for _ in 0..40 {
        s.push_str("let x = $x $x\n");
    }
    write(d, "grow.apdu", &s, 0o644);
    write(d, "r.txt", "# sscard transcript 1\n", 0o644);
    let r = offline(d, &["script", "--replay", "r.txt", "grow.apdu"]);
    assert_eq!(r.code, 10, "{r:?}");
    assert!(r.stderr.contains("grows past 65545 bytes"), "{r:?}");
    // Includes that fan out (each file includes the next twice, 15 deep): refused
    // by --check before anything runs.
    let filler = format!("# {}\n", "x".repeat(2000));
    for i in 0..15 {
        let body = if i < 14 {
            format!("{filler}include f{}.apdu\ninclude f{}.apdu\n", i + 1, i + 1)
        } else {
            format!("{filler}00 A4 00 00\n")
        };
        write(d, &format!("f{i}.apdu"), &body, 0o644);
    }
    let start = Instant::now();
    let r = offline(d, &["script", "--check", "f0.apdu"]);
    assert_eq!(r.code, 10, "{r:?}");
    assert!(r.stderr.contains("exceed 16777216 bytes in all"), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(20));
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
        if after
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok())
            == Some(pid)
        {
            out.push(p);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s
                .rsplit_once(')')
                .map(|(_, a)| a.trim_start().chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}

#[test]
#[cfg_attr(
    not(feature = "pcscd-tests"),
    ignore = "pcscd + vpcd tier (root): run with --features pcscd-tests or scripts/test"
)]
fn a_signal_to_testbed_stops_everything_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("city.json");
    std::fs::copy(common::root().join("cards/city.json"), &image).unwrap();
    for (sig, name, code) in [
        ("TERM", "SIGTERM", 143),
        ("INT", "SIGINT", 130),
        ("HUP", "SIGHUP", 129),
    ] {
        let child = Command::new(exe())
            .args([
                "testbed",
                "--card",
                &format!("0={}", image.display()),
                "--",
                "sleep",
                "300",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        // Wait until the command runs (pcscd, the card and `sleep` are children).
        let deadline = Instant::now() + Duration::from_secs(30);
        let kids = loop {
            let kids = children_of(pid);
            let comms: Vec<String> = kids
                .iter()
                .map(|k| std::fs::read_to_string(format!("/proc/{k}/comm")).unwrap_or_default())
                .collect();
            if comms.iter().any(|c| c.trim() == "sleep") {
                break kids;
            }
            assert!(
                Instant::now() < deadline,
                "testbed did not start: {comms:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        };
        assert!(kids.len() >= 3, "pcscd, vcard and sleep: {kids:?}");
        let tmp = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("sscard-pcscd-{pid}-")))
            })
            .collect::<Vec<_>>();
        assert_eq!(tmp.len(), 1, "{tmp:?}");
        Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("testbed stopped by {name}")),
            "{stderr}"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while kids.iter().any(|k| alive(*k)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left: Vec<u32> = kids.iter().copied().filter(|k| alive(*k)).collect();
        assert!(left.is_empty(), "{name}: children still alive: {left:?}");
        assert!(!tmp[0].exists(), "{name}: {} left behind", tmp[0].display());
    }
}

#[test]
#[cfg_attr(
    not(feature = "pcscd-tests"),
    ignore = "pcscd + vpcd tier (root): run with --features pcscd-tests or scripts/test"
)]
fn waiting_commands_end_on_a_signal_with_128_plus_n() {
    let bed = Bed::start();
    let image = bed.image("city.json");
    let script = bed.dir.path().join("wait.apdu");
    std::fs::write(&script, "wait-card 60\n00 A4 00 00 02 3F 00\n").unwrap();
    let port = bed.pcscd.port(1).to_string();
    let cases: &[(&[&str], &str, &str, i32)] = &[
        (
            &["wait", "--reader", "0", "--timeout", "60"],
            "TERM",
            "wait stopped by SIGTERM",
            143,
        ),
        (
            &["readers", "--watch", "--timeout", "60"],
            "INT",
            "readers --watch stopped by SIGINT",
            130,
        ),
        (
            &["info", "--reader", "0", "--wait", "60"],
            "HUP",
            "info --wait stopped by SIGHUP",
            129,
        ),
        (
            &["script", "--reader", "0", script.to_str().unwrap()],
            "INT",
            "script stopped by SIGINT",
            130,
        ),
        (
            &["vcard", "--image", image.to_str().unwrap(), "--port", &port],
            "TERM",
            "vcard stopped by SIGTERM",
            143,
        ),
    ];
    for (args, sig, want, code) in cases {
        let mut child = bed
            .cmd()
            .args(*args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert!(child.try_wait().unwrap().is_none(), "{args:?} ended early");
        Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
}

#[test]
#[cfg_attr(
    not(feature = "pcscd-tests"),
    ignore = "pcscd + vpcd tier (root): run with --features pcscd-tests or scripts/test"
)]
fn one_desk_one_meaning() {
    let bed = Bed::start();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keys = d.join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let k = keys.to_str().unwrap();
    let run = |extra: &[&str]| -> Run {
        let mut args = vec!["activate", "pharmacy", "--ui", "plain", "--timeout", "2"];
        args.extend_from_slice(extra);
        bed.cmd()
            .args(&args)
            .env("SSCARD_CONFIG", "none")
            .env("SSCARD_JOURNAL", d.join("j.sqlite"))
            .output()
            .unwrap()
            .into()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--old-reader", "0", "--new-reader", "PCD 00 00", "--keys", k],
            "the old card's reader (--old-reader, readers.old) and the new card's reader (--new-reader, readers.new) are the same reader 'Virtual PCD 00 00'",
        ),
        (
            vec!["--old-reader", "1", "--new-reader", "virtual pcd 00 01", "--keys", k],
            "are the same reader 'Virtual PCD 00 01'",
        ),
        (
            vec!["--reader", "0", "--sam-reader", "0"],
            "the PSAM reader (--sam-reader, readers.psam) 'Virtual PCD 00 00' is also a card reader",
        ),
        (
            vec!["--old-reader", "0", "--new-reader", "1", "--sam-reader", "00 01"],
            "is also a card reader (the new card's reader",
        ),
    ];
    for (extra, want) in &cases {
        let r = run(extra);
        assert_eq!(r.code, 7, "{extra:?}: {r:?}");
        assert!(r.stderr.contains(want), "{extra:?}: {r:?}");
    }
    // config check says the same for the same desk.
    let cfg = d.join("same.toml");
    std::fs::write(&cfg, "[readers]\nold = \"0\"\nnew = \"PCD 00 00\"\n").unwrap();
    let r = bed.run(&["config", "check", "--config", cfg.to_str().unwrap()]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stdout
            .contains("readers.old and readers.new are the same reader 'Virtual PCD 00 00'"),
        "{r:?}"
    );
    // A name that several readers share says that, once.
    let r = run(&["--reader", "Virtual", "--keys", k]);
    assert_eq!(r.code, 3, "{r:?}");
    let all = format!("{}{}", r.stdout, r.stderr);
    assert!(all.contains("'Virtual' names 2 readers"), "{r:?}");
    assert!(!all.contains("no reader matches"), "{r:?}");
    let r = bed.run(&["wait", "--reader", "PCD", "--timeout", "1"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("'PCD' names 2 readers ('Virtual PCD 00 00', 'Virtual PCD 00 01')"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("no reader matches"), "{r:?}");
}
