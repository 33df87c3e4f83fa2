//! `--lang` is a global option (issue 14): every command takes it, its errors are
//! shown in it, its default comes from the desk configuration's `language`, else the
//! locale (as `activate` always did), and the man page and completions carry it
//! (they are generated from the clap definition). No pcscd needed: `info` is pointed
//! at a socket where no pcscd listens.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

/// `sscard ARGS` with no configuration file, no locale and no pcscd, plus `env`.
fn sscard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sscard"));
    c.args(args)
        .env("SSCARD_CONFIG", "none")
        .env("PCSCLITE_CSOCK_NAME", "/nonexistent/sscard-test/pcscd.comm")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANG");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn has_chinese(text: &str) -> bool {
    text.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An empty journal at `path` (made by the library, as a desk's first run does).
fn empty_journal(path: &Path) {
    sscard::activation::journal::Journal::open(path).unwrap();
}

#[test]
fn journal_list_takes_lang_before_and_after_the_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.sqlite");
    empty_journal(&j);
    let j = j.to_str().unwrap();
    for args in [
        &["journal", "list", "--lang", "en", "--journal", j][..],
        &["--lang", "zh", "journal", "list", "--journal", j][..],
        &[
            "journal",
            "--lang=zh",
            "list",
            "--journal",
            j,
            "--format",
            "json",
        ][..],
    ] {
        let o = sscard(args, &[]);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
    // Machine output is the same in both languages.
    let en = sscard(
        &[
            "journal",
            "list",
            "--format",
            "json",
            "--journal",
            j,
            "--lang",
            "en",
        ],
        &[],
    );
    let zh = sscard(
        &[
            "journal",
            "list",
            "--format",
            "json",
            "--journal",
            j,
            "--lang",
            "zh",
        ],
        &[],
    );
    assert_eq!(en.stdout, zh.stdout);
    assert!(!en.stdout.is_empty());
}

#[test]
fn errors_are_shown_in_the_language_asked() {
    // No pcscd: exit 3 in both languages; the words follow --lang.
    let zh = sscard(&["info", "--lang", "zh"], &[]);
    let en = sscard(&["info", "--lang", "en"], &[]);
    assert_eq!(zh.status.code(), Some(3), "{}", stderr(&zh));
    assert_eq!(en.status.code(), Some(3), "{}", stderr(&en));
    assert!(has_chinese(&stderr(&zh)), "{}", stderr(&zh));
    assert!(stderr(&zh).starts_with("sscard: "), "{}", stderr(&zh));
    assert!(!has_chinese(&stderr(&en)), "{}", stderr(&en));
    assert!(
        stderr(&en).starts_with("sscard: error: "),
        "{}",
        stderr(&en)
    );
    // A journal error, in Chinese, keeps its own exit code.
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.sqlite");
    empty_journal(&j);
    let j = j.to_str().unwrap();
    let show_en = sscard(&["journal", "show", "ABCD", "--journal", j], &[]);
    let show_zh = sscard(
        &["journal", "show", "ABCD", "--journal", j, "--lang", "zh"],
        &[],
    );
    assert_ne!(show_en.status.code(), Some(0), "{}", stderr(&show_en));
    assert_eq!(show_en.status.code(), show_zh.status.code());
    assert!(has_chinese(&stderr(&show_zh)), "{}", stderr(&show_zh));
    assert!(!has_chinese(&stderr(&show_en)), "{}", stderr(&show_en));
}

#[test]
fn the_default_is_the_configuration_then_the_locale() {
    let zh_locale = [("LANG", "zh_CN.UTF-8")];
    // The locale alone.
    assert!(has_chinese(&stderr(&sscard(&["info"], &zh_locale))));
    assert!(!has_chinese(&stderr(&sscard(&["info"], &[]))));
    // The configuration's `language` over the locale; --lang over both.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sscard.toml");
    std::fs::write(&cfg, "language = \"en\"\n").unwrap();
    let with_cfg = [
        ("LANG", "zh_CN.UTF-8"),
        ("SSCARD_CONFIG", cfg.to_str().unwrap()),
    ];
    assert!(!has_chinese(&stderr(&sscard(&["info"], &with_cfg))));
    assert!(has_chinese(&stderr(&sscard(
        &["info", "--lang", "zh"],
        &with_cfg
    ))));
    std::fs::write(&cfg, "language = \"zh\"\n").unwrap();
    let zh_cfg = [("SSCARD_CONFIG", cfg.to_str().unwrap())];
    assert!(has_chinese(&stderr(&sscard(&["info"], &zh_cfg))));
    assert!(!has_chinese(&stderr(&sscard(
        &["info", "--lang", "en"],
        &zh_cfg
    ))));
}

#[test]
fn a_bad_language_is_a_usage_error() {
    for args in [
        &["--lang", "fr", "info"][..],
        &["journal", "list", "--lang", "xx"][..],
        &["info", "--lang"][..],
    ] {
        let o = sscard(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("--lang"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn man_pages_and_completions_carry_lang() {
    let main = sscard(&["man"], &[]);
    assert_eq!(main.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&main.stdout).contains("\\-\\-lang"));
    let dir = tempfile::tempdir().unwrap();
    let o = sscard(&["man", "--dir", dir.path().to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for page in ["sscard-journal.1", "sscard-info.1", "sscard-readers.1"] {
        let text = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(text.contains("\\-\\-lang"), "{page} lacks --lang");
    }
    for shell in ["bash", "zsh", "fish"] {
        let o = sscard(&["completions", shell], &[]);
        assert_eq!(o.status.code(), Some(0));
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(
            text.contains("--lang") || text.contains("-l lang"),
            "{shell}"
        );
    }
    let bash = String::from_utf8_lossy(&sscard(&["completions", "bash"], &[]).stdout).into_owned();
    // Offered after `journal list` too (a global option reaches every subcommand):
    // the section of bash's completion function for `sscard journal list`.
    let start = bash
        .lines()
        .position(|l| {
            let l = l.trim();
            l.contains("journal") && l.ends_with("list)") && !l.contains("help") && !l.contains(',')
        })
        .expect("a journal list section");
    let opts = bash
        .lines()
        .skip(start)
        .find(|l| l.trim().starts_with("opts="))
        .unwrap();
    assert!(
        opts.contains("--lang") && opts.contains("--unfinished"),
        "{opts}"
    );
}

/// A reading command's journal error (here a mistyped `--journal`) is not a flow's:
/// in either language it must not say card writing stopped or send the desk to
/// `activate resume` (the newcomer review found the Chinese advice did).
#[test]
fn a_reading_commands_journal_error_is_not_a_stopped_flow() {
    for lang in ["zh", "en"] {
        let o = sscard(
            &[
                "--lang",
                lang,
                "journal",
                "list",
                "--journal",
                "/nonexistent/sscard-test/j.sqlite",
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(13), "{o:?}");
        let e = stderr(&o);
        assert!(e.contains("/nonexistent/sscard-test/j.sqlite"), "{e}");
        assert!(!e.contains("activate resume"), "{e}");
        assert!(!e.contains("已停止写卡"), "{e}");
        if lang == "zh" {
            assert!(e.contains("交易日志无法使用"), "{e}");
        }
    }
}
