//! Every subcommand, every argument, hostile values: never a panic (exit 101).
//!
//! The subcommands and their arguments are read from the clap command tree
//! (`Cli::command()`), so a new subcommand or option is covered without editing this
//! file. Each run has no card and no pcscd (`PCSCLITE_CSOCK_NAME` points nowhere, so a
//! command that gets as far as PC/SC fails at once with exit 3), no configuration
//! (`SSCARD_CONFIG=none`), a journal and a working directory in a scratch directory,
//! and a watchdog: a run that takes more than [`LIMIT`] fails the test as a hang.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::CommandFactory;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

/// The hostile values, each tried in every argument position.
fn hostile() -> Vec<(&'static str, OsString)> {
    vec![
        ("empty", OsString::new()),
        ("huge", OsString::from("9".repeat(100_000))),
        (
            "non-UTF-8",
            OsString::from_vec(vec![b'0', 0xFF, 0xFE, b'1']),
        ),
        ("NaN", "NaN".into()),
        ("inf", "inf".into()),
        ("-inf", "-inf".into()),
        ("negative", "-1".into()),
        ("1e30", "1e30".into()),
        ("1.9e19", "1.9e19".into()),
        ("2^64", "18446744073709551616".into()),
        ("full-width", "３０".into()),
        ("slot spec", "9=\u{202e}x".into()),
    ]
}

/// Every leaf subcommand as its path of names, with its clap definition.
fn leaves(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .collect();
    if subs.is_empty() {
        out.push((path, cmd.clone()));
        return;
    }
    for s in subs {
        let mut p = path.clone();
        p.push(s.get_name().to_string());
        leaves(s, p, out);
    }
}

struct Outcome {
    code: Option<i32>,
    stderr: String,
    took: Duration,
}

fn run(dir: &Path, args: &[OsString]) -> Outcome {
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sscard"))
        .args(args)
        .current_dir(dir)
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/pcscd.comm")
        .env("SSCARD_CONFIG", "none")
        .env("SSCARD_JOURNAL", dir.join("journal.sqlite"))
        .env("HOME", dir)
        .env_remove("RUST_LOG")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sscard starts");
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut std::io::BufReader::new(stderr), &mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("hung for {LIMIT:?}: sscard {args:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Outcome {
        code,
        stderr: reader.join().unwrap_or_default(),
        took: start.elapsed(),
    }
}

/// Arguments for one leaf: the required positionals filled with `fill`, the rest empty.
fn base(cmd: &clap::Command, fill: &OsString) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut last = Vec::new();
    for a in cmd.get_positionals() {
        if !a.is_required_set() {
            continue;
        }
        if a.is_last_set() {
            last.push(OsString::from("--"));
            last.push(fill.clone());
        } else {
            out.push(fill.clone());
        }
    }
    out.extend(last);
    out
}

#[test]
fn no_subcommand_panics_on_hostile_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let mut all = Vec::new();
    leaves(&sscard::cli::Cli::command(), Vec::new(), &mut all);
    assert!(all.len() >= 15, "{} leaf subcommands", all.len());
    let values = hostile();
    let benign = OsString::from("nonexistent-file");
    let mut runs = 0usize;
    let mut per_kind = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    let mut slowest = (Duration::ZERO, String::new());
    for (path, cmd) in &all {
        let prefix: Vec<OsString> = path.iter().map(OsString::from).collect();
        let options: Vec<&clap::Arg> = cmd
            .get_arguments()
            .filter(|a| !a.is_positional() && a.get_action().takes_values())
            .filter(|a| a.get_id() != "help" && a.get_id() != "version")
            .collect();
        for (kind, v) in &values {
            // Every required positional hostile.
            let mut cases = vec![base(cmd, v)];
            // Each option hostile, the positionals benign.
            for o in &options {
                let flag = match (o.get_long(), o.get_short()) {
                    (Some(l), _) => format!("--{l}"),
                    (None, Some(s)) => format!("-{s}"),
                    (None, None) => continue,
                };
                let mut a = vec![OsString::from(flag), v.clone()];
                a.extend(base(cmd, &benign));
                cases.push(a);
            }
            for mut case in cases {
                // Without pcscd, `wait` rides it out for its --timeout (30 s by default,
                // hardware.md): that is a wait, not a hang; keep it short.
                if path == &["wait"] && !case.iter().any(|a| a == "--timeout") {
                    case.extend(["--timeout".into(), "1".into()]);
                }
                // `serve` serves until stopped: a refused address ends it once its
                // arguments and configuration are parsed.
                if path == &["serve"] && !case.iter().any(|a| a == "--listen") {
                    case.extend(["--listen".into(), "0.0.0.0:0".into()]);
                }
                let mut args = prefix.clone();
                args.extend(case);
                let o = run(dir.path(), &args);
                runs += 1;
                *per_kind.entry(kind).or_default() += 1;
                let shown = format!("sscard {}", path.join(" "));
                if o.took > slowest.0 {
                    slowest = (o.took, shown.clone());
                }
                if o.code == Some(101) || o.code.is_none() || o.stderr.contains("panicked") {
                    failures.push(format!(
                        "{shown} [{kind}] {:?}: exit {:?}: {}",
                        args.iter().map(|a| a.len()).collect::<Vec<_>>(),
                        o.code,
                        o.stderr.chars().take(300).collect::<String>()
                    ));
                }
            }
        }
    }
    println!(
        "{runs} runs over {} subcommands; per value kind: {per_kind:?}; slowest {:?} ({})",
        all.len(),
        slowest.0,
        slowest.1
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(runs > 300, "{runs}");
}

/// Runs only as the child of [`a_panic_is_a_short_bug_report_with_exit_101`]: installs
/// the binary's panic hook and panics.
#[test]
fn panic_hook_child() {
    if std::env::var_os("SSCARD_HOOK_CHILD").is_none() {
        return;
    }
    sscard::cli::process::install_panic_hook();
    let v: Vec<u8> = Vec::new();
    let secret_index = std::hint::black_box(135_790usize);
    let _ = v[secret_index];
}

#[test]
fn a_panic_is_a_short_bug_report_with_exit_101() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panic_hook_child",
            "--test-threads",
            "1",
            "--nocapture",
        ])
        .env("SSCARD_HOOK_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{stderr}");
    assert!(
        stderr.contains("sscard: internal error (a bug)"),
        "{stderr}"
    );
    assert!(stderr.contains("Please report it"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    // The panic message (which could hold data) is not printed, only where it was.
    assert!(!stderr.contains("135790"), "{stderr}");
    assert!(stderr.contains("hostile_args.rs"), "{stderr}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for code in ["| 101 |", "| 129, 130, 143 |"] {
        assert!(readme.contains(code), "README exit-code table lacks {code}");
    }
}

/// A full disk (here `/dev/full`) under standard output is a local I/O error (exit
/// 14) with a message, not a panic (exit 101): std's `println!` panics on a failed
/// write; sscard's writes return the `io::Error` (`sscard::stdio`) and no panic text
/// is matched. Every way of writing is tried: `println!` (`atr`, `config example`,
/// `journal list`), `write_all` (`man`, `completions`), JSON documents, and clap's
/// own help and version.
#[test]
fn a_full_standard_output_is_an_io_error_not_a_bug() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.sqlite");
    sscard::activation::journal::Journal::open(&j).unwrap();
    let j = j.to_str().unwrap();
    for args in [
        &["atr", "3B00"][..],
        &["atr", "3B00", "--format", "json"][..],
        &["config", "example"][..],
        &["journal", "list", "--journal", j, "--format", "json"][..],
        &["journal", "export", "--journal", j, "--format", "csv"][..],
        &["man"][..],
        &["completions", "bash"][..],
        &["--help"][..],
        &["--version"][..],
        &["journal", "--help"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sscard"))
            .args(args)
            .env("SSCARD_CONFIG", "none")
            .stdout(
                std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .unwrap(),
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(14), "{args:?}: {stderr}");
        assert!(
            stderr.contains("No space left on device"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("internal error"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// A reader that takes one byte and leaves (`| head -c1`): sscard ends quietly with
/// 141 (the shell's status for SIGPIPE), never a panic (101), an I/O error (14) or a
/// word on stderr, whichever way it writes. The command runs in a loop into one pipe
/// (the loop stops at the first failing run and passes its status on), so a run
/// certainly writes after `head` left, however small its output.
#[test]
fn a_reader_that_takes_one_byte_ends_it_quietly() {
    for args in [
        "man",
        "completions zsh",
        "config example",
        "atr 3B00",
        "atr 3B00 --format json",
        "--help",
        "--version",
    ] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "for i in $(seq 500); do \"$0\" {args} || exit $?; done | head -c1 >/dev/null; \
                 echo \"status=${{PIPESTATUS[0]}}\" >&2"
            ))
            .arg(env!("CARGO_BIN_EXE_sscard"))
            .env("SSCARD_CONFIG", "none")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim(), "status=141", "{args}");
    }
}
