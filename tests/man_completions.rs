//! The manual pages and shell completions come from the clap definition, and
//! `scripts/install-docs` puts them where man and the shells look.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{exe, Run};
use std::process::Command;

fn sscard(args: &[&str]) -> Run {
    Command::new(exe()).args(args).output().unwrap().into()
}

#[test]
fn man_page_documents_commands_exit_codes_and_environment() {
    let r = sscard(&["man"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(".TH sscard 1"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    for needle in [
        "activate",
        "completions",
        "EXIT STATUS",
        "SSCARD_CONFIG",
        "NO_COLOR",
        "/etc/sscard/sscard.toml",
    ] {
        assert!(r.stdout.contains(needle), "{needle}");
    }
    // Every subcommand page, rendered by man itself when it is installed.
    let dir = tempfile::tempdir().unwrap();
    let r = sscard(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    for page in [
        "sscard.1",
        "sscard-activate.1",
        "sscard-activate-pharmacy.1",
        "sscard-config-check.1",
    ] {
        assert!(dir.path().join(page).exists(), "{page}");
    }
    let pharmacy = std::fs::read_to_string(dir.path().join("sscard-activate-pharmacy.1")).unwrap();
    for opt in [
        "\\-\\-lang",
        "\\-\\-ui",
        "\\-\\-retries",
        "\\-\\-config",
        "\\-\\-pin\\-file",
    ] {
        assert!(pharmacy.contains(opt), "{opt}");
    }
    if let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(dir.path().join("sscard.1"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
    {
        if out.status.success() {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("EXIT STATUS"), "{text}");
        }
    }
}

#[test]
fn completions_for_each_shell() {
    for (shell, marker) in [
        ("bash", "complete -F _sscard"),
        ("zsh", "#compdef sscard"),
        ("fish", "complete -c sscard"),
    ] {
        let r = sscard(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {r:?}");
        assert!(r.stdout.contains(marker), "{shell}");
        assert!(
            r.stdout.contains("pharmacy") && r.stdout.contains("lang"),
            "{shell}"
        );
    }
    let r = sscard(&["completions", "tcsh"]);
    assert_eq!(r.code, 2, "{r:?}");
    // The bash script loads and completes a subcommand.
    let bash = sscard(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("sscard.bash");
    std::fs::write(&f, bash).unwrap();
    let script = format!(
        "source '{}'; COMP_WORDS=(sscard act); COMP_CWORD=1; _sscard sscard act sscard; echo \"${{COMPREPLY[@]}}\"",
        f.display()
    );
    if let Ok(out) = Command::new("bash").arg("-c").arg(script).output() {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "activate");
    }
}

#[test]
fn install_docs_writes_pages_and_completions_under_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(common::root().join("scripts/install-docs"))
        .arg(dir.path())
        .env("SSCARD", exe())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = dir.path();
    for f in [
        "share/man/man1/sscard.1",
        "share/man/man1/sscard-activate-pharmacy.1",
        "share/bash-completion/completions/sscard",
        "share/zsh/site-functions/_sscard",
        "share/fish/vendor_completions.d/sscard.fish",
    ] {
        assert!(p.join(f).exists(), "{f}");
    }
}
