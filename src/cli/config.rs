//! `sscard config check|example`: validate the desk configuration and the readers it
//! names, or print a documented example.
//!
//! `check` is what a technician runs after setting up a desk, and what a desk's
//! start-up script can run before opening: every check prints one `ok`, `warn` or
//! `FAIL` line, and the exit code is the first failure's, using the tool's usual codes
//! (14 file unreadable, 7 bad contents, 11 keys, 13 journal, 3 pcscd or reader,
//! 4 no PSAM in its reader), so a script can tell what to fix. The output is for
//! technicians and stays English.

use super::CmdResult;
use crate::activation::journal::Journal;
use crate::apdu::Channel;
use crate::config::desk::{check_roles, Role, Use};
use crate::config::{self, Config, Source};
use crate::error::{Error, ExitCode};
use crate::reader::{
    establish, list_readers, ConnectOptions, PcscCard, ReaderInfo, ReaderSelector,
};
use crate::sam::keyfile::KeyFile;
use crate::sam::psam::Psam;
use crate::sam::Sam;
use std::path::{Path, PathBuf};

/// Arguments of `sscard config`.
#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `sscard config` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Validate the configuration file and the readers, PSAM, key file and journal it
    /// names. Exit code: that of the first failure.
    Check {
        /// The configuration file (default: $SSCARD_CONFIG, else /etc/sscard/sscard.toml).
        #[arg(long, env = "SSCARD_CONFIG", value_name = "PATH")]
        config: Option<PathBuf>,
        /// Check the file only: no pcscd, readers or PSAM.
        #[arg(long)]
        offline: bool,
    },
    /// Print a documented example configuration (every key, with its flag).
    Example,
}

/// Results of the checks, printed as they come.
#[derive(Default)]
struct Report {
    first_failure: Option<ExitCode>,
    problems: usize,
    warnings: usize,
}

impl Report {
    fn ok(&mut self, what: &str) {
        println!("ok    {what}");
    }
    fn warn(&mut self, what: &str) {
        self.warnings += 1;
        println!("warn  {what}");
    }
    fn fail(&mut self, code: ExitCode, what: &str) {
        self.problems += 1;
        self.first_failure.get_or_insert(code);
        println!("FAIL  {what} [exit {}]", code as u8);
    }
}

/// Runs `sscard config`.
pub fn run(args: &ConfigArgs) -> CmdResult {
    match &args.command {
        ConfigCommand::Example => {
            print!("{}", config::EXAMPLE);
            Ok(ExitCode::Ok)
        }
        ConfigCommand::Check { config, offline } => Ok(check(config.as_deref(), *offline)),
    }
}

fn check(named: Option<&Path>, offline: bool) -> ExitCode {
    let mut r = Report::default();
    let path = match Source::of(named) {
        Source::Disabled => {
            println!("no configuration file (SSCARD_CONFIG=none): nothing to check");
            return ExitCode::Ok;
        }
        Source::Default(p) | Source::Named(p) if !p.exists() => {
            r.fail(
                ExitCode::Io,
                &format!(
                    "no configuration file at {} (write one, as root, with: {})",
                    p.display(),
                    config::install_hint(&p)
                ),
            );
            return finish(&r);
        }
        Source::Default(p) | Source::Named(p) => p,
    };
    println!("configuration {}", path.display());
    let loaded = match config::load(Some(&path)) {
        Ok(Some(l)) => l,
        Ok(None) => return finish(&r),
        Err(e) => {
            r.fail(e.exit_code(), &e.to_string());
            return finish(&r);
        }
    };
    let c = &loaded.config;
    r.ok(&format!("parses; {}", summary(c)));
    check_keys(&mut r, c);
    check_journal(&mut r, c);
    if offline {
        println!("skip  readers and PSAM (--offline)");
    } else {
        check_readers(&mut r, c);
    }
    finish(&r)
}

fn summary(c: &Config) -> String {
    let mut parts = Vec::new();
    if let Some(l) = c.language {
        parts.push(format!("language {}", l.code()));
    }
    if let Some(u) = c.ui {
        parts.push(format!("ui {u:?}").to_lowercase());
    }
    if let Some(o) = &c.operator {
        parts.push(format!("operator {o}"));
    }
    if let Some(t) = &c.terminal {
        parts.push(format!("terminal {t}"));
    }
    if let Some(t) = c.timeout {
        parts.push(format!("timeout {t} s"));
    }
    if let Some(n) = c.retries {
        parts.push(format!("retries {n}"));
    }
    if parts.is_empty() {
        "all defaults".into()
    } else {
        parts.join(", ")
    }
}

fn finish(r: &Report) -> ExitCode {
    match r.first_failure {
        None => {
            println!(
                "configuration OK{}",
                if r.warnings > 0 {
                    format!(
                        " ({} warning{})",
                        r.warnings,
                        if r.warnings == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
            ExitCode::Ok
        }
        Some(code) => {
            println!(
                "{} problem{}; exit {}",
                r.problems,
                if r.problems == 1 { "" } else { "s" },
                code as u8
            );
            code
        }
    }
}

fn check_keys(r: &mut Report, c: &Config) {
    match (&c.keys, &c.readers.psam) {
        (Some(path), _) => match KeyFile::load(path) {
            Ok(k) => {
                r.ok(&format!("key file {}", path.display()));
                r.warn("a key file holds master keys: labs and tests only; a production desk uses a PSAM");
                if c.terminal.is_none() && k.terminal_number().is_none() {
                    r.warn("no terminal number: set `terminal` (the key file has none)");
                }
            }
            Err(e) => r.fail(ExitCode::Keys, &e.to_string()),
        },
        (None, Some(_)) if c.terminal.is_some() => r.warn(
            "terminal is set: it overrides the PSAM's own terminal number on every card and journal entry; remove it unless this PSAM has none",
        ),
        (None, Some(_)) => {}
        (None, None) => r.warn(
            "no card keys configured (readers.psam or keys): activation needs --sam-reader or --keys",
        ),
    }
}

fn check_journal(r: &mut Report, c: &Config) {
    // The journal activate and `sscard journal` use (no flag here).
    let path = c.journal_path(None);
    if path.exists() {
        match Journal::open(&path) {
            Ok(j) => match j.unfinished() {
                Ok(u) if u.is_empty() => r.ok(&format!("journal {} opens", path.display())),
                Ok(u) => r.warn(&format!(
                    "journal {} opens and holds {} unfinished transfer{}: `sscard journal list`, `sscard activate resume`",
                    path.display(),
                    u.len(),
                    if u.len() == 1 { "" } else { "s" }
                )),
                Err(e) => r.fail(ExitCode::Journal, &e.to_string()),
            },
            Err(e) => r.fail(ExitCode::Journal, &e.to_string()),
        }
        return;
    }
    // Not there yet: the first activation creates it. Check that it can.
    let mut dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    while !dir.as_os_str().is_empty() && !dir.exists() {
        dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    if dir.as_os_str().is_empty() {
        dir = PathBuf::from(".");
    }
    let probe = dir.join(format!(".sscard-config-check-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            r.ok(&format!(
                "journal {} will be created on the first activation",
                path.display()
            ));
        }
        Err(e) => r.fail(
            ExitCode::Journal,
            &format!(
                "journal {}: cannot create it in {}: {e}",
                path.display(),
                dir.display()
            ),
        ),
    }
}

fn pick<'r>(
    r: &mut Report,
    key: &str,
    value: &str,
    readers: &'r [ReaderInfo],
) -> Option<&'r ReaderInfo> {
    let sel: ReaderSelector = match value.parse() {
        Ok(s) => s,
        Err(e) => match e {},
    };
    if matches!(sel, ReaderSelector::Index(_)) {
        r.warn(&format!(
            "{key} = '{value}' is an index: it changes when readers are plugged in another order; use part of the name"
        ));
    }
    match sel.pick(readers) {
        Ok(info) => {
            let card = if info.card_present {
                "card present"
            } else {
                "empty"
            };
            r.ok(&format!("{key} '{value}' is '{}' ({card})", info.name));
            Some(info)
        }
        Err(e) => {
            r.fail(ExitCode::NoReader, &format!("{key} '{value}': {e}"));
            None
        }
    }
}

fn check_readers(r: &mut Report, c: &Config) {
    let ctx = match establish() {
        Ok(ctx) => ctx,
        Err(e) => {
            r.fail(ExitCode::NoReader, &e.to_string());
            return;
        }
    };
    let readers = match list_readers(&ctx) {
        Ok(v) if !v.is_empty() => v,
        Ok(_) => {
            r.fail(ExitCode::NoReader, "pcscd runs but no reader is connected");
            return;
        }
        Err(e) => {
            r.fail(Error::from(e).exit_code(), "cannot list the readers");
            return;
        }
    };
    r.ok(&format!(
        "pcscd answers; readers: {}",
        readers
            .iter()
            .map(|i| format!("'{}'", i.name))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let rc = &c.readers;
    if let Some(v) = &rc.card {
        pick(r, "readers.card", v, &readers);
    }
    if let (Some(o), Some(n)) = (&rc.old, &rc.new) {
        pick(r, "readers.old", o, &readers);
        pick(r, "readers.new", n, &readers);
    }
    if rc.card.is_none() && rc.old.is_none() {
        r.warn("no card reader configured: activation uses reader 0 unless --reader is given");
    }
    // The same rule as the command line's (config::desk): one reader, one use.
    let sel = |v: &String| -> ReaderSelector {
        match v.parse() {
            Ok(s) => s,
            Err(e) => match e {},
        }
    };
    let given: Vec<(Use, &str, ReaderSelector)> = [
        (Use::Card, "readers.card", &rc.card),
        (Use::Old, "readers.old", &rc.old),
        (Use::New, "readers.new", &rc.new),
        (Use::Psam, "readers.psam", &rc.psam),
    ]
    .into_iter()
    .filter_map(|(u, label, v)| v.as_ref().map(|v| (u, label, sel(v))))
    .collect();
    let roles: Vec<Role<'_>> = given
        .iter()
        .map(|(role, label, selector)| Role {
            role: *role,
            label,
            selector,
        })
        .collect();
    if let Err(conflict) = check_roles(&roles, Some(&readers)) {
        r.fail(ExitCode::InvalidData, &conflict.to_string());
        if conflict.psam {
            return;
        }
    }
    let Some(p) = &rc.psam else { return };
    let Some(info) = pick(r, "readers.psam", p, &readers) else {
        return;
    };
    if !info.card_present {
        r.fail(
            ExitCode::NoCard,
            &format!(
                "no PSAM in '{}': insert it (chip first) into the PSAM slot",
                info.name
            ),
        );
        return;
    }
    let sel = ReaderSelector::Exact(info.name.clone());
    let opened = PcscCard::connect(&sel, ConnectOptions::default())
        .map_err(|e| {
            let why = e.to_string();
            (Error::from(e).exit_code(), why)
        })
        .and_then(|card| {
            Psam::open(Channel::new(Box::new(card))).map_err(|e| (ExitCode::Keys, e.to_string()))
        });
    match opened {
        Ok(psam) => {
            let t = psam.terminal_number();
            r.ok(&format!(
                "PSAM answers in '{}'; terminal number {}",
                info.name,
                t.as_deref().unwrap_or("none")
            ));
            match (&c.terminal, &t) {
                (Some(cfg), Some(sam)) if cfg != sam => r.warn(&format!(
                    "`terminal` {cfg} differs from the PSAM's {sam}; the configured one is used"
                )),
                (None, None) => r.warn("no terminal number: the PSAM has none; set `terminal`"),
                _ => {}
            }
        }
        Err((code, why)) => r.fail(
            code,
            &format!(
                "the card in '{}' does not answer as a PSAM: {why}",
                info.name
            ),
        ),
    }
}
