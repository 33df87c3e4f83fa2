//! One convention for machine output (issue 15 point 5, issue 14's `output` module):
//! `--format json` on every command that prints JSON, stdout holding exactly one
//! versioned document, errors as an `sscard-error` document with the error's exit
//! code. No pcscd needed (a socket that does not exist stands for a stopped pcscd).

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sscard::output::Doc;

fn run(args: &[&str]) -> common::Run {
    std::process::Command::new(common::exe())
        .args(args)
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/sscard-output-test")
        .output()
        .unwrap()
        .into()
}

fn doc(r: &common::Run) -> serde_json::Value {
    assert_eq!(r.stdout.lines().count(), 1, "one document, one line: {r:?}");
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"))
}

const SSC_ATR: &str = "3B6D00000081544C968684639948FB4966";

#[test]
fn json_is_the_document_alone_and_carries_its_schema() {
    let r = run(&["atr", "--format", "json", SSC_ATR]);
    assert_eq!(r.code, 0, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["schema"], Doc::Atr.name());
    assert_eq!(d["schema_version"], Doc::Atr.version());
    assert_eq!(d["conforms"], true);
    // The old spelling is the same.
    let old = run(&["atr", "--json", SSC_ATR]);
    assert_eq!(old.stdout, r.stdout);
    // Both at once contradict each other: usage.
    assert_eq!(run(&["atr", "--json", "--format", "text", SSC_ATR]).code, 2);
}

#[test]
fn errors_are_a_json_document_on_stdout_with_the_exit_code() {
    // Bad input (7).
    let r = run(&["atr", "--format", "json", "ZZ"]);
    assert_eq!(r.code, 7, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["schema"], "sscard-error");
    assert_eq!(d["schema_version"], Doc::Error.version());
    assert_eq!(d["error"]["exit_code"], 7);
    assert!(d["error"]["message"].as_str().unwrap().contains("not hex"));
    // People still get the text on stderr.
    assert!(r.stderr.contains("sscard: error:"), "{r:?}");
    // Text asked for: stdout stays empty.
    let r = run(&["atr", "ZZ"]);
    assert_eq!((r.code, r.stdout.as_str()), (7, ""), "{r:?}");

    // pcscd not running (3), with its hint, for every command that reads a card.
    for args in [
        &["readers", "--format", "json"][..],
        &["info", "--format", "json"][..],
        &["atr", "--format", "json"][..],
    ] {
        let r = run(args);
        assert_eq!(r.code, 3, "{args:?}: {r:?}");
        let d = doc(&r);
        assert_eq!(d["schema"], "sscard-error", "{args:?}");
        assert_eq!(d["error"]["exit_code"], 3);
        assert!(d["error"]["hint"].as_str().unwrap().contains("pcscd"));
    }
}

#[test]
fn a_document_already_printed_is_not_followed_by_an_error_document() {
    // A non-conforming ATR: its document says so, the exit code is 7, and nothing else.
    let r = run(&["atr", "--format", "json", "3B6500002063CB680026"]);
    assert_eq!(r.code, 7, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["schema"], "sscard-atr");
    assert_eq!(d["conforms"], false);
    // A script that does not parse: the script report says so (exit 10).
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.apdu");
    std::fs::write(&bad, "bogus line\n").unwrap();
    let r = run(&["script", "--format", "json", bad.to_str().unwrap()]);
    assert_eq!(r.code, 10, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["schema"], "sscard-script");
    assert_eq!(d["schema_version"], Doc::Script.version());
    assert_eq!(d["summary"]["result"], "script_error");
}

/// Every command that can print JSON offers `--format` with `json`, and none shows
/// the old spellings (`--json`, `--receipt`) in its help.
#[test]
fn every_json_command_takes_format_json() {
    let commands: &[&[&str]] = &[
        &["readers"],
        &["atr"],
        &["info"],
        &["script"],
        &["journal", "list"],
        &["journal", "show"],
        &["journal", "push"],
        &["journal", "backup"],
        &["fleet", "lookup"],
        &["fleet", "report"],
        &["activate", "pharmacy"],
        &["activate", "window"],
        &["activate", "first-use"],
        &["activate", "resume"],
        &["activate", "cancel"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let r = run(&args);
        assert_eq!(r.code, 0, "{c:?}: {r:?}");
        let format = r
            .stdout
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("--format"))
            .take(8)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            format.contains("--format") && format.contains("json"),
            "{c:?}: {}",
            r.stdout
        );
        assert!(!r.stdout.contains("--json"), "{c:?}");
        assert!(!r.stdout.contains("--receipt"), "{c:?}");
    }
}

/// The README's table of documents is the one in `output::Doc`.
#[test]
fn the_readme_lists_every_document_with_its_version() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).unwrap();
    for d in Doc::ALL {
        let row = format!("| `{}` | {} |", d.name(), d.version());
        assert!(readme.contains(&row), "README.md lacks the row {row}");
    }
}
