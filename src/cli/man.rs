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
use roff::{bold, italic, roman, Roff};
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
    (
        "NO_COLOR",
        "no colors on the guided screen (also CLICOLOR=0; CLICOLOR_FORCE=1 forces them, never over NO_COLOR)",
    ),
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

/// What clap does not know, as roff (escaping is the `roff` crate's): EXIT STATUS
/// from [`ExitCode::table`], ENVIRONMENT, FILES and SEE ALSO.
fn extra_sections() -> Roff {
    let mut page = Roff::new();
    page.control("SH", ["EXIT STATUS"]);
    for (code, what) in ExitCode::table() {
        page.control("TP", [])
            .text([bold(code.to_string())])
            .text([roman(what)]);
    }
    page.control("SH", ["ENVIRONMENT"]);
    for (name, what) in ENVIRONMENT {
        page.control("TP", [])
            .text([bold(*name)])
            .text([roman(*what)]);
    }
    page.control("SH", ["FILES"]);
    for (name, what) in FILES {
        page.control("TP", [])
            .text([italic(*name)])
            .text([roman(*what)]);
    }
    page.control("SH", ["SEE ALSO"]).text([roman(
        "pcscd(8), pcsc_scan(1); hardware.md in the source tree for setting up a desk and a table of every error message.",
    )]);
    page
}

/// The main page, `sscard(1)`.
///
/// # Errors
/// Only an I/O error of writing into memory (clap_mangen's renderers take a writer).
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
    w.extend_from_slice(extra_sections().to_roff().as_bytes());
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
        assert!(page.contains(".SH \"EXIT STATUS\""), "{page}");
        assert!(page.contains("SSCARD_CONFIG"));
        assert!(page.contains("activate"));
        assert!(page.contains("completions"));
    }

    /// The EXIT STATUS section is the enum, code by code, in order, escaped by roff
    /// (`-` as `\-`), and nothing else.
    #[test]
    fn exit_status_section_is_the_enum() {
        let page = extra_sections().to_roff();
        let section = page
            .split(".SH \"EXIT STATUS\"\n")
            .nth(1)
            .and_then(|s| s.split("\n.SH").next())
            .expect("an EXIT STATUS section");
        let rows: Vec<(String, String)> = section
            .split(".TP\n")
            .filter(|r| !r.is_empty())
            .map(|r| {
                let (code, what) = r.trim_end().split_once('\n').expect("code and meaning");
                (code.to_string(), what.to_string())
            })
            .collect();
        let want: Vec<(String, String)> = ExitCode::table()
            .map(|(c, w)| (format!("\\fB{c}\\fR"), w.replace('-', "\\-")))
            .collect();
        assert_eq!(rows, want);
        assert_eq!(rows.len(), 18, "0 to 17");
        assert!(section.contains("bad command\\-line usage"), "{section}");
        // Every file name is in italics, every variable in bold, the see-also line
        // is plain text and never a control line.
        assert!(page.contains(".TP\n\\fBNO_COLOR\\fR\n"), "{page}");
        assert!(page.contains("\\fI/etc/sscard/sscard.toml\\fR"), "{page}");
        assert!(page.contains("\npcscd(8), pcsc_scan(1)"), "{page}");
    }
}
