//! `sscard man [--dir DIR]`: manual pages generated from the clap definition.
//!
//! Generated rather than written by hand so every option and subcommand is documented
//! exactly as it is parsed. The main page `sscard(1)` adds what clap does not know:
//! exit codes, environment variables and files. With `--dir`, one page per subcommand
//! is written too (`sscard-activate-pharmacy.1`, ...); `scripts/install-docs`
//! installs them under `/usr/local/share/man/man1`.

use super::{Cli, CmdResult};
use crate::error::{Error, ExitCode};
use clap::CommandFactory;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `sscard man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write sscard.1 and one page per subcommand into DIR (instead of printing
    /// sscard.1 on stdout).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Escapes text for roff (`-` and `\`, and a leading `.` or `'`).
fn roff(text: &str) -> String {
    let t = text.replace('\\', "\\\\").replace('-', "\\-");
    if t.starts_with('.') || t.starts_with('\'') {
        format!("\\&{t}")
    } else {
        t
    }
}

const EXIT_CODES: &[(u8, &str)] = &[
    (0, "success"),
    (1, "internal error"),
    (2, "bad command-line usage"),
    (3, "pcscd not running, no reader, or no such reader"),
    (4, "no card in the reader"),
    (5, "card removed, reset or silent during an exchange"),
    (6, "the card answered an unexpected status word"),
    (
        7,
        "malformed data (ATR, TLV, response, input, configuration)",
    ),
    (8, "unknown card"),
    (9, "APDU script expectation not met"),
    (10, "APDU script syntax error"),
    (11, "keys: SAM or key file missing, unreadable or refused"),
    (12, "refused by an activation rule"),
    (13, "journal error"),
    (14, "local file I/O error"),
    (15, "timed out waiting for a card"),
    (16, "virtual card failure"),
    (
        17,
        "fleet centre (PostgreSQL) unreachable, refused or failed",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SSCARD_CONFIG",
        "the configuration file (default /etc/sscard/sscard.toml; none: no file)",
    ),
    ("SSCARD_JOURNAL", "the activation journal"),
    ("SSCARD_OPERATOR", "the operator recorded in the journal"),
    (
        "LC_ALL, LC_MESSAGES, LANG",
        "the desk language when --lang and the configuration give none (zh_* means Chinese)",
    ),
    ("NO_COLOR", "no colors on the guided screen"),
    (
        "PCSCLITE_CSOCK_NAME",
        "the pcscd socket (private test beds)",
    ),
    ("RUST_LOG", "log filter (see also -v)"),
];

const FILES: &[(&str, &str)] = &[
    (
        "/etc/sscard/sscard.toml",
        "desk configuration (sscard config example prints a documented one)",
    ),
    (
        "/var/lib/sscard/journal.sqlite",
        "activation journal (root)",
    ),
    (
        "~/.local/state/sscard/journal.sqlite",
        "activation journal (other users)",
    ),
];

/// The main page, `sscard(1)`.
pub fn main_page() -> Result<Vec<u8>, std::io::Error> {
    let cmd = Cli::command();
    let man = clap_mangen::Man::new(cmd.clone()).manual("sscard manual");
    let mut w = Vec::new();
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    man.render_options_section(&mut w)?;
    man.render_subcommands_section(&mut w)?;
    let mut extra = String::new();
    extra.push_str(".SH \"EXIT STATUS\"\n");
    for (code, what) in EXIT_CODES {
        extra.push_str(&format!(".TP\n\\fB{code}\\fR\n{}\n", roff(what)));
    }
    extra.push_str(".SH ENVIRONMENT\n");
    for (name, what) in ENVIRONMENT {
        extra.push_str(&format!(".TP\n\\fB{}\\fR\n{}\n", roff(name), roff(what)));
    }
    extra.push_str(".SH FILES\n");
    for (name, what) in FILES {
        extra.push_str(&format!(".TP\n\\fI{}\\fR\n{}\n", roff(name), roff(what)));
    }
    extra.push_str(".SH \"SEE ALSO\"\n");
    extra.push_str(&roff(
        "pcscd(8), pcsc_scan(1); hardware.md in the source tree for setting up a desk and a table of every error message.",
    ));
    extra.push('\n');
    w.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut w)?;
    Ok(w)
}

fn write_dir(dir: &Path) -> Result<(), std::io::Error> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    std::fs::write(dir.join("sscard.1"), main_page()?)
}

/// Runs `sscard man`.
pub fn run(args: &ManArgs) -> CmdResult {
    match &args.dir {
        Some(dir) => write_dir(dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?,
        None => {
            let page = main_page().map_err(|e| Error::Io {
                path: "manual page".into(),
                source: e,
            })?;
            let mut out = std::io::stdout().lock();
            out.write_all(&page)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Io {
                    path: "stdout".into(),
                    source: e,
                })?;
        }
    }
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn main_page_has_options_exit_codes_and_environment() {
        let page = String::from_utf8(main_page().unwrap()).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH sscard 1"),
            "{page}"
        );
        assert!(page.contains("EXIT STATUS"));
        assert!(page.contains("SSCARD_CONFIG"));
        assert!(page.contains("activate"));
        assert!(page.contains("completions"));
        // Every code 0..=the highest ExitCode, in order.
        assert_eq!(EXIT_CODES.len(), crate::error::ExitCode::Fleet as usize + 1);
        assert!(EXIT_CODES
            .iter()
            .enumerate()
            .all(|(i, (c, _))| *c as usize == i));
        assert_eq!(roff("-v"), "\\-v");
        assert_eq!(roff(".x"), "\\&.x");
    }
}
