//! Running a parsed script over a channel: evaluate, send, check, capture, report.
//!
//! Why it is shaped this way:
//! - It talks to an [`apdu::Channel`](crate::apdu::Channel), so a PC/SC reader, a
//!   replayed dump and an in-process test card are all the same to it, and every
//!   exchange passes the standard trace (redacted) and `--dump` recorder.
//! - By default APDUs go out exactly as written, below the T=0 layer
//!   ([`Channel::transmit_raw`](crate::apdu::Channel::transmit_raw)), because that is
//!   what scriptor does and a scriptor script fetches `61xx` data itself;
//!   `get-response auto` switches to the tool's T=0 handling.
//! - What is shown is redacted by [`crate::apdu::redact`], the one rule the trace
//!   uses, plus any byte that comes from a secret variable, so a PIN put in an odd
//!   command is hidden too. Every secret value (var file, cryptogram, secret capture or
//!   `let`) is also registered in the channel's
//!   [`KnownSecrets`], so the `-v` trace, the
//!   `--dump` transcript, the report and its JSON hide it wherever it appears, in
//!   commands and in responses.
//! - Sizes are bounded: a value built by `let` (which can double itself line after
//!   line) or an APDU never grows past [`MAX_VALUE_BYTES`], so a script cannot make
//!   the tool allocate without bound.
//! - Waiting for cards goes through [`CardEvents`], so `wait-card` on a replay or in a
//!   unit test passes at once instead of needing a reader.

use super::ast::{AlgArg, Call, DataExpect, Exchange, Expect, Script, StmtKind, Value, ValueKind};
use super::expect::{explain_mismatch, match_data, PatItem, Resolved, SwPattern};
use super::report::{Event, ExchangeReport, Failure, JsonPos, Reporter, Session, Summary};
use super::vars::{VarValue, Vars};
use super::{Pos, ScriptError};
use crate::apdu::redact::{self, KnownSecrets, Redactor, Secrets};
use crate::apdu::{Channel, Status, Transport, TransportError};
use crate::crypto::Algorithm;
use crate::error::{Error, ExitCode};
use crate::sam::{Sam, SamError};
use std::time::Duration;
use zeroize::Zeroizing;

mod eval;
mod exchange;

/// The largest value or APDU a script may build: an extended-length APDU (4 header
/// bytes, 3 bytes Lc, 65,535 data bytes, 3 bytes Le).
pub const MAX_VALUE_BYTES: usize = 4 + 3 + 65_535 + 3;

/// How long `wait-card` / `wait-remove` wait when no timeout is written.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// Card insertion and removal, and the link's protocol.
pub trait CardEvents {
    /// Waits until a card is in the reader and connects to it; `false` at the timeout.
    fn wait_card(&mut self, timeout: Duration) -> Result<bool, Error>;
    /// Lets go of the card and waits until the reader is empty; `false` at the timeout.
    fn wait_removal(&mut self, timeout: Duration) -> Result<bool, Error>;
    /// The active protocol (0 for T=0, 1 for T=1), when known.
    fn protocol(&self) -> Option<u8>;
    /// Whether waits really wait (false on a replay).
    fn is_real(&self) -> bool;
    /// The reader, for messages.
    fn reader(&self) -> String;
}

/// Events for a transport without a reader (a replay, a test card): waits pass at once.
#[derive(Debug, Clone, Default)]
pub struct Immediate {
    /// A name for messages.
    pub name: String,
    /// The protocol to report, if any.
    pub protocol: Option<u8>,
}

impl CardEvents for Immediate {
    fn wait_card(&mut self, _: Duration) -> Result<bool, Error> {
        Ok(true)
    }
    fn wait_removal(&mut self, _: Duration) -> Result<bool, Error> {
        Ok(true)
    }
    fn protocol(&self) -> Option<u8> {
        self.protocol
    }
    fn is_real(&self) -> bool {
        false
    }
    fn reader(&self) -> String {
        self.name.clone()
    }
}

/// Run options.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Run on after a mismatch (the exit code still says mismatch).
    pub keep_going: bool,
    /// `wait-card` / `wait-remove` timeout when the script gives none.
    pub default_wait: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            keep_going: false,
            default_wait: DEFAULT_WAIT,
        }
    }
}

/// Everything a run uses.
pub struct Context<'c, 'a> {
    /// The card.
    pub channel: &'c mut Channel<'a>,
    /// Card insertion and removal.
    pub events: &'c mut dyn CardEvents,
    /// Where cryptograms come from, if the script needs them.
    pub sam: Option<&'c mut dyn Sam>,
    /// Variables given on the command line.
    pub vars: Vars,
    /// Options.
    pub options: Options,
}

/// The result of a run: its summary (also given to the reporter) and the error that
/// ended it, if any.
#[derive(Debug)]
pub struct RunResult {
    /// The summary.
    pub summary: Summary,
    /// The error that stopped the run (script, reader, keys).
    pub error: Option<Error>,
    /// The variables at the end (tests inspect captures).
    pub vars: Vars,
}

impl RunResult {
    /// The process exit code.
    pub fn exit_code(&self) -> ExitCode {
        match &self.error {
            Some(e) => e.exit_code(),
            None if self.summary.failures.is_empty() => ExitCode::Ok,
            None => ExitCode::ScriptMismatch,
        }
    }
}

/// Why an evaluation failed.
enum EvalError {
    /// A variable that a failed expectation did not capture (only with --keep-going).
    Missing(String),
    /// Ends the run.
    Fatal(Error),
}

impl From<ScriptError> for EvalError {
    fn from(e: ScriptError) -> Self {
        EvalError::Fatal(e.into())
    }
}

/// Bytes with a secrecy flag per byte.
#[derive(Default)]
struct Evaluated {
    bytes: Zeroizing<Vec<u8>>,
    secret: Vec<bool>,
}

impl Evaluated {
    /// Appends, refusing to grow past [`MAX_VALUE_BYTES`].
    fn push(&mut self, pos: &Pos, bytes: &[u8], secret: bool) -> Result<(), EvalError> {
        if self.bytes.len() + bytes.len() > MAX_VALUE_BYTES {
            return Err(ScriptError::new(
                pos.clone(),
                format!(
                    "the value grows past {MAX_VALUE_BYTES} bytes (the largest APDU); \
                     a script cannot build more"
                ),
            )
            .into());
        }
        self.bytes.extend_from_slice(bytes);
        self.secret.extend(std::iter::repeat_n(secret, bytes.len()));
        Ok(())
    }
    fn any_secret(&self) -> bool {
        self.secret.iter().any(|s| *s)
    }
}

/// Maps a SAM failure: reader problems keep their reader exit codes, the rest is a
/// keys problem.
fn sam_error(e: SamError) -> Error {
    match e {
        SamError::Transport(t) => Error::Transport(t),
        other => Error::Other {
            message: other.to_string(),
            code: ExitCode::Keys,
        },
    }
}

struct Run<'r, 'c, 'a> {
    ctx: &'r mut Context<'c, 'a>,
    reporter: &'r mut dyn Reporter,
    redactor: Redactor,
    auto_response: bool,
    step: Option<String>,
    exchanges: usize,
    failures: Vec<Failure>,
    atr: Option<Vec<u8>>,
}

/// Runs `script`, reporting to `reporter`.
pub fn run(script: &Script, ctx: &mut Context<'_, '_>, reporter: &mut dyn Reporter) -> RunResult {
    let atr = ctx.channel.atr();
    let session = Session {
        files: script.files.clone(),
        reader: ctx.events.reader(),
        atr: atr.as_deref().map(redact::spaced_hex),
        warnings: script
            .warnings
            .iter()
            .map(|(p, w)| format!("{p}: {w}"))
            .collect(),
    };
    reporter.begin(&session);
    // Every secret value given to the run is hidden wherever it appears.
    let names: Vec<String> = ctx.vars.names().map(str::to_string).collect();
    for name in names {
        if let Some(v) = ctx.vars.get(&name).filter(|v| v.secret) {
            ctx.channel.known_secrets().add(&v.bytes);
        }
    }
    let mut r = Run {
        ctx,
        reporter,
        redactor: Redactor::default(),
        auto_response: false,
        step: None,
        exchanges: 0,
        failures: Vec::new(),
        atr,
    };
    let mut stopped_early = false;
    let mut error = None;
    let mut error_at = None;
    for stmt in &script.stmts {
        match r.statement(&stmt.pos, &stmt.kind) {
            Ok(Flow::Next) => {}
            Ok(Flow::Exit) => {
                stopped_early = true;
                break;
            }
            Err(e) => {
                if let StopReason::Error(e, at) = e {
                    error = Some(e);
                    error_at = at;
                }
                stopped_early = true;
                break;
            }
        }
    }
    let result = match &error {
        Some(e) if e.exit_code() == ExitCode::ScriptError => "script_error",
        Some(_) => "reader_error",
        None if r.failures.is_empty() => "pass",
        None => "mismatch",
    };
    let exit_code = match &error {
        Some(e) => e.exit_code(),
        None if r.failures.is_empty() => ExitCode::Ok,
        None => ExitCode::ScriptMismatch,
    } as u8;
    let summary = Summary {
        result: result.into(),
        exit_code,
        exchanges: r.exchanges,
        failures: r.failures.clone(),
        stopped_early,
        error: error.as_ref().map(|e| e.to_string()),
        error_at,
    };
    r.reporter.end(&summary);
    RunResult {
        summary,
        error,
        vars: std::mem::take(&mut r.ctx.vars),
    }
}

enum Flow {
    Next,
    Exit,
}

enum StopReason {
    /// Stopped at a mismatch (no --keep-going).
    Mismatch,
    /// Stopped by an error.
    Error(Error, Option<JsonPos>),
}

impl From<Error> for StopReason {
    fn from(e: Error) -> Self {
        StopReason::Error(e, None)
    }
}

impl From<TransportError> for StopReason {
    fn from(e: TransportError) -> Self {
        StopReason::Error(Error::Transport(e), None)
    }
}

impl From<ScriptError> for StopReason {
    fn from(e: ScriptError) -> Self {
        let at = Some(JsonPos::from(&e.pos));
        StopReason::Error(e.into(), at)
    }
}

impl Run<'_, '_, '_> {
    fn step_label(&self) -> String {
        self.step
            .clone()
            .unwrap_or_else(|| format!("exchange {}", self.exchanges.max(1)))
    }

    fn fail(&mut self, f: Failure) -> Result<(), StopReason> {
        self.failures.push(f.clone());
        self.reporter.event(Event::Mismatch(f));
        if self.ctx.options.keep_going {
            Ok(())
        } else {
            Err(StopReason::Mismatch)
        }
    }

    fn statement(&mut self, pos: &Pos, kind: &StmtKind) -> Result<Flow, StopReason> {
        match kind {
            StmtKind::Exchange(x) => self.exchange(pos, x)?,
            StmtKind::Reset => {
                let atr = self.ctx.channel.reset()?;
                self.redactor = Redactor::default();
                self.reporter.event(Event::Reset {
                    atr: redact::spaced_hex(&atr),
                });
                self.atr = Some(atr);
            }
            StmtKind::Exit => return Ok(Flow::Exit),
            StmtKind::Step(name) => {
                self.step = Some(name.clone());
                self.reporter.event(Event::Step {
                    name: name.clone(),
                    at: pos.into(),
                });
            }
            StmtKind::Let { name, value } => {
                let mut out = Evaluated::default();
                match self.eval_all(value, &mut out) {
                    Ok(()) => {
                        let v = VarValue::new(out.bytes.to_vec(), out.any_secret());
                        self.remember(&v);
                        self.reporter.event(Event::Let {
                            name: name.clone(),
                            value: v.shown(),
                        });
                        self.ctx.vars.set(name, v);
                    }
                    Err(EvalError::Missing(var)) => {
                        self.missing(pos, &format!("let {name}"), &var)?;
                    }
                    Err(EvalError::Fatal(e)) => return Err(e.into()),
                }
            }
            StmtKind::WaitCard(t) | StmtKind::WaitRemove(t) => {
                let card = matches!(kind, StmtKind::WaitCard(_));
                let timeout = t.unwrap_or(self.ctx.options.default_wait);
                self.reporter.event(Event::Wait {
                    what: if card { "card" } else { "remove" }.into(),
                    reader: self.ctx.events.reader(),
                    real: self.ctx.events.is_real(),
                });
                let done = if card {
                    self.ctx.events.wait_card(timeout)?
                } else {
                    self.ctx.events.wait_removal(timeout)?
                };
                if !done {
                    return Err(StopReason::Error(
                        Error::Timeout(format!(
                            "{pos}: {} '{}' within {} s",
                            if card {
                                "no card was inserted into"
                            } else {
                                "the card was not removed from"
                            },
                            self.ctx.events.reader(),
                            timeout.as_secs_f64()
                        )),
                        Some(pos.into()),
                    ));
                }
                self.redactor = Redactor::default();
                if card {
                    self.atr = self.ctx.channel.atr();
                    self.reporter.event(Event::Card {
                        atr: self.atr.as_deref().map(redact::spaced_hex),
                    });
                } else {
                    self.atr = None;
                }
            }
            StmtKind::Echo(text) => self.reporter.event(Event::Echo { text: text.clone() }),
            StmtKind::Atr(d) => self.atr_check(pos, d)?,
            StmtKind::Protocol(allowed) => self.protocol_check(pos, allowed)?,
            StmtKind::GetResponse(auto) => {
                self.auto_response = *auto;
                self.reporter.event(Event::GetResponse { auto: *auto });
            }
        }
        Ok(Flow::Next)
    }

    /// Registers a secret value with the channel, so every layer hides it.
    fn remember(&self, v: &VarValue) {
        if v.secret {
            self.ctx.channel.known_secrets().add(&v.bytes);
        }
    }

    /// A statement that cannot run because a capture it needs failed earlier.
    fn missing(&mut self, pos: &Pos, what: &str, var: &str) -> Result<(), StopReason> {
        let f = Failure {
            step: self.step_label(),
            at: pos.into(),
            expected: format!("${var} captured by an earlier '=>' line"),
            actual: "not captured: its expectation failed".into(),
            reason: format!("{what} was not run"),
        };
        self.fail(f)
    }
}

#[cfg(test)]
mod tests;
