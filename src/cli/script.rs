//! `sscard script FILE...`: run APDU scripts with expectations (see
//! `apdu-scripts/README.md` for the format).
//!
//! This file is the glue between the command line and [`crate::script`]: it reads the
//! variables (PINs only from `--var-file`, never argv), parses every file before the
//! card is touched, picks the transport (a reader, or `--replay DUMP`), the SAM
//! (`--keys FILE` or `--psam READER`) and the reporter (text or `--format json`), and turns the
//! outcome into the exit code: 0 pass, 9 mismatch, 10 script error, 3-5 reader errors,
//! 11 keys, 15 a `wait-card`/`wait-remove` timeout.
//!
//! `wait-card` and `wait-remove` need to drop one card connection and open another on
//! the same reader while the transcript recorder and trace stay in place, so the
//! channel sits on a shared slot ([`SharedCard`]) that [`PcscEvents`] refills.

use super::CmdResult;
use crate::apdu::transcript::Replay;
use crate::apdu::{Channel, Transport, TransportError};
use crate::error::{Error, ExitCode};
use crate::reader::{
    establish, list_readers, ConnectOptions, PcscCard, ReaderName, ReaderSelector, Watcher,
};
use crate::sam::Sam;
use crate::script::parser::{parse_files, FsLoader};
use crate::script::report::{JsonReporter, Reporter, Summary, TextReporter};
use crate::script::runner::{self, CardEvents, Context, Immediate, Options};
use crate::script::vars::Vars;
use crate::script::{plain, ScriptError};
use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// Arguments of `sscard script`.
#[derive(clap::Args, Debug)]
pub struct ScriptArgs {
    /// Script files, run in order as one script (shared variables, one card session).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The reader: an index from `sscard readers`, or part of its name.
    #[arg(long, short, conflicts_with = "replay")]
    pub reader: Option<ReaderSelector>,
    /// A variable: NAME=HEX or NAME="ASCII" (repeatable). Not for PINs: see --var-file.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Secret variables (PINs), one `NAME = VALUE` per line; `-` reads standard input.
    /// The file must not be readable by group or others. Values are never shown.
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
    /// Master keys for cryptogram() (labs and tests; chmod 600).
    #[arg(long, value_name = "FILE", conflicts_with = "psam")]
    pub keys: Option<PathBuf>,
    /// A PSAM in this reader computes cryptogram() (index or part of the name).
    #[arg(long, value_name = "READER")]
    pub psam: Option<ReaderSelector>,
    /// Run on after a mismatch; the exit code still reports it.
    #[arg(long)]
    pub keep_going: bool,
    /// Record a transcript of the exchanges (secrets redacted); replay it with --replay.
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Output format (`json`: one document, schema `sscard-script`, instead of text).
    #[command(flatten)]
    pub output: crate::output::FormatArgs,
    /// Run against a recorded transcript instead of a reader.
    #[arg(long, value_name = "DUMP")]
    pub replay: Option<PathBuf>,
    /// Print the scriptor-compatible subset of the script and exit.
    #[arg(long, conflicts_with_all = ["check", "json", "format", "dump", "replay"])]
    pub plain: bool,
    /// Only parse and check the script (no card needed).
    #[arg(long)]
    pub check: bool,
    /// Connect to the card exclusively.
    #[arg(long)]
    pub exclusive: bool,
    /// Timeout of `wait-card` / `wait-remove` lines that give none, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = super::bounds::seconds)]
    pub wait_timeout: f64,
}

fn usage(message: String) -> Error {
    Error::Other {
        message,
        code: ExitCode::Usage,
    }
}

/// The card of one reader, replaced when `wait-card` finds a new one.
type Slot = Rc<RefCell<Option<PcscCard>>>;

/// The channel's base transport: whatever card is in the slot now.
pub struct SharedCard {
    slot: Slot,
    reader: String,
}

impl Transport for SharedCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        match self.slot.borrow_mut().as_mut() {
            Some(card) => card.transmit(command),
            None => Err(TransportError::NoCard(self.reader.clone())),
        }
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        match self.slot.borrow_mut().as_mut() {
            Some(card) => card.reset(),
            None => Err(TransportError::NoCard(self.reader.clone())),
        }
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.slot.borrow().as_ref().and_then(|c| c.atr())
    }
    fn name(&self) -> String {
        self.reader.clone()
    }
}

/// `wait-card` / `wait-remove` on a PC/SC reader.
pub struct PcscEvents {
    slot: Slot,
    /// The reader's exact name (bytes), for PC/SC.
    name: ReaderName,
    /// The same as shown to people.
    reader: String,
    options: ConnectOptions,
}

impl CardEvents for PcscEvents {
    fn wait_card(&mut self, timeout: Duration) -> Result<bool, Error> {
        let mut watcher = Watcher::new()?;
        if watcher.wait_card(&self.name, timeout)?.is_none() {
            return Ok(false);
        }
        if self.slot.borrow().is_none() {
            let card = PcscCard::connect_with(establish()?, &self.name, self.options)?;
            *self.slot.borrow_mut() = Some(card);
        }
        Ok(true)
    }

    fn wait_removal(&mut self, timeout: Duration) -> Result<bool, Error> {
        // Let go of the card first (leaving it as it is).
        if let Some(card) = self.slot.borrow_mut().take() {
            let _ = card.disconnect();
        }
        let mut watcher = Watcher::new()?;
        Ok(watcher.wait_removal(&self.name, timeout)?)
    }

    fn protocol(&self) -> Option<u8> {
        match self.slot.borrow().as_ref().map(|c| c.protocol_name()) {
            Some("T=0") => Some(0),
            Some("T=1") => Some(1),
            _ => None,
        }
    }

    fn is_real(&self) -> bool {
        true
    }

    fn reader(&self) -> String {
        self.reader.clone()
    }
}

/// Prints a JSON document for an error found before the run (script error, no reader).
fn json_early_error(e: &Error, at: Option<&ScriptError>) {
    let summary = Summary {
        result: if e.exit_code() == ExitCode::ScriptError {
            "script_error".into()
        } else {
            "reader_error".into()
        },
        exit_code: e.exit_code() as u8,
        exchanges: 0,
        failures: Vec::new(),
        stopped_early: true,
        error: Some(e.to_string()),
        error_at: at.map(|s| (&s.pos).into()),
    };
    let mut r = JsonReporter::new(std::io::stdout());
    r.end(&summary);
}

/// Runs `sscard script`.
pub fn run(args: &ScriptArgs) -> CmdResult {
    let mut vars = Vars::default();
    for v in &args.vars {
        vars.add_arg(v).map_err(usage)?;
    }
    for f in &args.var_files {
        vars.add_file(f).map_err(usage)?;
    }
    let names: Vec<String> = vars.names().map(str::to_string).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let script = match parse_files(&args.files, &mut FsLoader, &names) {
        Ok(s) => s,
        Err(e) => {
            let err: Error = e.clone().into();
            if args.output.is_json() {
                json_early_error(&err, Some(&e));
            }
            return Err(err);
        }
    };
    if args.plain {
        let text = plain::render(&script, &vars)?;
        print!("{text}");
        return Ok(ExitCode::Ok);
    }
    if args.check {
        for (pos, w) in &script.warnings {
            eprintln!("{pos}: warning: {w}");
        }
        println!(
            "OK: {} statement(s) in {}",
            script.stmts.len(),
            script.files.join(", ")
        );
        return Ok(ExitCode::Ok);
    }
    match execute(args, &script, vars) {
        Ok(result) => result,
        Err(e) => {
            if args.output.is_json() {
                json_early_error(&e, None);
            }
            Err(e)
        }
    }
}

/// Sets up and runs. The outer error is a failure before the run started (not yet
/// reported); the inner result is the run's own, already reported.
fn execute(
    args: &ScriptArgs,
    script: &crate::script::ast::Script,
    vars: Vars,
) -> Result<CmdResult, Error> {
    if script.needs_sam() && args.keys.is_none() && args.psam.is_none() {
        return Err(Error::keys(
            "the script calls cryptogram(): pass --keys FILE (a key file, chmod 600) or \
             --psam READER",
        ));
    }
    let options = ConnectOptions {
        exclusive: args.exclusive,
        ..ConnectOptions::default()
    };

    // The SAM first: a missing key file is found before the card is touched.
    let mut opened = if script.needs_sam() {
        crate::sam::open(args.keys.as_deref(), args.psam.as_ref())?
    } else {
        None
    };
    let sam = opened.as_mut().map(|s| &mut **s as &mut dyn Sam);

    let (base, mut events): (Box<dyn Transport>, Box<dyn CardEvents>) = match &args.replay {
        Some(path) => {
            let replay = Replay::open(path).map_err(|e| match e {
                TransportError::Io(source) => Error::Io {
                    path: path.display().to_string(),
                    source,
                },
                other => Error::Transport(other),
            })?;
            let name = replay.name();
            (
                Box::new(replay),
                Box::new(Immediate {
                    name,
                    protocol: None,
                }),
            )
        }
        None => {
            let ctx = establish()?;
            let readers = list_readers(&ctx)?;
            let selector = args.reader.clone().unwrap_or(ReaderSelector::Auto);
            let reader = selector.pick(&readers)?.name.clone();
            let slot: Slot = Rc::new(RefCell::new(None));
            if !script.starts_with_wait() {
                *slot.borrow_mut() = Some(PcscCard::connect_with(ctx, &reader, options)?);
            }
            (
                Box::new(SharedCard {
                    slot: slot.clone(),
                    reader: reader.to_string(),
                }),
                Box::new(PcscEvents {
                    slot,
                    reader: reader.to_string(),
                    name: reader,
                    options,
                }),
            )
        }
    };
    let mut channel = match &args.dump {
        Some(path) => Channel::recording(base, path).map_err(|e| match e {
            TransportError::Io(source) => Error::Io {
                path: path.display().to_string(),
                source,
            },
            other => Error::Transport(other),
        })?,
        None => Channel::new(base),
    };
    let mut ctx = Context {
        channel: &mut channel,
        events: events.as_mut(),
        sam,
        vars,
        options: Options {
            keep_going: args.keep_going,
            default_wait: Duration::from_secs_f64(args.wait_timeout.clamp(0.0, 86_400.0)),
        },
    };
    let (result, lost) = if args.output.is_json() {
        let mut r = JsonReporter::new(FirstError::new(std::io::stdout()));
        let result = runner::run(script, &mut ctx, &mut r);
        (result, r.into_inner().error)
    } else {
        let mut r = TextReporter::new(FirstError::new(std::io::stdout()));
        let result = runner::run(script, &mut ctx, &mut r);
        (result, r.into_inner().error)
    };
    if let Some(e) = result.error {
        return Ok(Err(e));
    }
    if let Some(e) = lost {
        // The report (or part of it) is lost: never exit 0 or 9 as if it were there.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(crate::cli::process::BROKEN_PIPE_EXIT);
        }
        return Ok(Err(Error::Io {
            path: "standard output (the script's report)".into(),
            source: e,
        }));
    }
    let code = result.exit_code();
    if let Some(f) = result.summary.failures.first() {
        eprintln!(
            "sscard: {} expectation(s) not met; first: step \"{}\" at {}:{}:{}: expected {}, actual {}",
            result.summary.failures.len(),
            f.step,
            f.at.file,
            f.at.line,
            f.at.column,
            f.expected,
            f.actual
        );
    }
    Ok(Ok(code))
}

/// A writer that remembers its first error. The reporters write as the run goes and
/// must not stop a script half-way over a lost line, but the run's exit status must
/// say when its report could not be written (`> /dev/full`, a full disk).
struct FirstError<W: std::io::Write> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> FirstError<W> {
    fn new(inner: W) -> Self {
        FirstError { inner, error: None }
    }

    fn keep<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            if self.error.is_none() {
                self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: std::io::Write> std::io::Write for FirstError<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.keep(r)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.keep(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::report::Reporter;

    #[test]
    fn a_report_that_cannot_be_written_is_remembered() {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let mut r = TextReporter::new(FirstError::new(full));
        r.event(crate::script::report::Event::Echo {
            text: "hello".into(),
        });
        let e = r.into_inner().error.expect("the lost write is remembered");
        assert!(e.to_string().contains("No space left"), "{e}");
        let mut ok = TextReporter::new(FirstError::new(Vec::new()));
        ok.event(crate::script::report::Event::Echo {
            text: "hello".into(),
        });
        let w = ok.into_inner();
        assert!(w.error.is_none());
        assert!(String::from_utf8(w.inner).unwrap().contains("hello"));
    }
}
