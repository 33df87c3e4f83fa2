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
//!   [`KnownSecrets`](crate::apdu::redact::KnownSecrets), so the `-v` trace, the
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

    fn eval_all(&mut self, values: &[Value], out: &mut Evaluated) -> Result<(), EvalError> {
        for v in values {
            self.eval(v, out)?;
        }
        Ok(())
    }

    fn eval(&mut self, v: &Value, out: &mut Evaluated) -> Result<(), EvalError> {
        match &v.kind {
            ValueKind::Bytes(b) => out.push(&v.pos, b, false)?,
            ValueKind::Var(name) => match self.ctx.vars.get(name) {
                Some(val) => {
                    let (bytes, secret) = (val.bytes.clone(), val.secret);
                    out.push(&v.pos, &bytes, secret)?;
                }
                None => return Err(EvalError::Missing(name.clone())),
            },
            ValueKind::Call(c) => self.call(&v.pos, c, out)?,
        }
        Ok(())
    }

    fn eval_one(&mut self, v: &Value) -> Result<Evaluated, EvalError> {
        let mut out = Evaluated::default();
        self.eval(v, &mut out)?;
        Ok(out)
    }

    fn call(&mut self, pos: &Pos, c: &Call, out: &mut Evaluated) -> Result<(), EvalError> {
        match c {
            Call::Len(v) => {
                let inner = self.eval_one(v)?;
                let n = inner.bytes.len();
                let byte = u8::try_from(n).map_err(|_| {
                    ScriptError::new(
                        pos.clone(),
                        format!("len(): the value is {n} bytes, more than one length byte holds"),
                    )
                })?;
                out.push(pos, &[byte], false)?;
            }
            Call::Random(n) => {
                let mut buf = vec![0u8; *n];
                getrandom::fill(&mut buf).map_err(|e| {
                    EvalError::Fatal(Error::Other {
                        message: format!("random(): the system gave no random bytes: {e}"),
                        code: ExitCode::Internal,
                    })
                })?;
                out.push(pos, &buf, false)?;
            }
            Call::Cryptogram {
                app,
                key_id,
                alg,
                diversifier,
                challenge,
            } => {
                let alg = match alg {
                    AlgArg::Fixed(a) => *a,
                    AlgArg::Id(v) => {
                        let id = self.eval_one(v)?;
                        match id.bytes.as_slice() {
                            [b] => Algorithm::from_id(*b),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            ScriptError::new(
                                v.pos.clone(),
                                "the algorithm value must be one byte, 01 (3DES) or 03 (SM4)",
                            )
                        })?
                    }
                };
                let eight = |me: &mut Self, v: &Value, what: &str| -> Result<[u8; 8], EvalError> {
                    let e = me.eval_one(v)?;
                    <[u8; 8]>::try_from(e.bytes.as_slice()).map_err(|_| {
                        EvalError::from(ScriptError::new(
                            v.pos.clone(),
                            format!(
                                "the {what} must be 8 bytes; this value is {}",
                                e.bytes.len()
                            ),
                        ))
                    })
                };
                let d = eight(self, diversifier, "diversifier")?;
                let r = eight(self, challenge, "challenge")?;
                let sam = self.ctx.sam.as_deref_mut().ok_or_else(|| {
                    EvalError::Fatal(Error::Other {
                        message: format!(
                            "{pos}: cryptogram() needs keys: pass --keys FILE or --psam READER"
                        ),
                        code: ExitCode::Keys,
                    })
                })?;
                let crypt = Zeroizing::new(
                    sam.cryptogram(*app, *key_id, alg, &d, &r)
                        .map_err(|e| EvalError::Fatal(sam_error(e)))?,
                );
                self.ctx.channel.known_secrets().add(&crypt);
                out.push(pos, &crypt, true)?;
            }
        }
        Ok(())
    }

    /// Resolves a pattern's variables and calls into bytes.
    fn resolve(&mut self, items: &[PatItem]) -> Result<Vec<Resolved>, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(match item {
                PatItem::Masked(b) => Resolved::Fixed {
                    bytes: b.clone(),
                    secret: false,
                },
                PatItem::Star => Resolved::Star,
                PatItem::Capture { name, len } => Resolved::Capture(name.clone(), *len),
                PatItem::Value(v) => {
                    let e = self.eval_one(v)?;
                    Resolved::Fixed {
                        bytes: e.bytes.iter().map(|b| (*b, 0xFF)).collect(),
                        secret: e.any_secret(),
                    }
                }
            });
        }
        Ok(out)
    }

    fn exchange(&mut self, pos: &Pos, x: &Exchange) -> Result<(), StopReason> {
        self.exchanges += 1;
        let index = self.exchanges;
        let mut cmd = Evaluated::default();
        match self.eval_all(&x.apdu, &mut cmd) {
            Ok(()) => {}
            Err(EvalError::Missing(var)) => {
                self.reporter.event(Event::Exchange(ExchangeReport {
                    index,
                    step: self.step.clone(),
                    at: pos.into(),
                    command: "(not sent)".into(),
                    response: String::new(),
                    sw: None,
                    meaning: None,
                    ok: false,
                    captures: Vec::new(),
                }));
                return self.missing(pos, "the APDU", &var);
            }
            Err(EvalError::Fatal(e)) => return Err(e.into()),
        }
        if cmd.bytes.len() < 4 {
            return Err(ScriptError::new(
                pos.clone(),
                format!(
                    "the APDU is {} bytes once its variables are filled in; at least 4 are needed",
                    cmd.bytes.len()
                ),
            )
            .into());
        }
        // The secret parts of this command, for the trace and transcript below.
        let mut run_start = None;
        for (i, s) in cmd.secret.iter().chain(std::iter::once(&false)).enumerate() {
            match (s, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(st)) => {
                    self.ctx.channel.known_secrets().add(&cmd.bytes[st..i]);
                    run_start = None;
                }
                _ => {}
            }
        }
        let secrets = self.redactor.classify(&cmd.bytes);
        let command = shown_command(&cmd, secrets, self.ctx.channel.known_secrets());
        let sent = if self.auto_response {
            self.ctx.channel.transmit(&cmd.bytes)
        } else {
            self.ctx.channel.transmit_raw(&cmd.bytes)
        };
        let resp = Zeroizing::new(sent?);
        if resp.len() < 2 {
            return Err(TransportError::ShortResponse(resp.len()).into());
        }
        self.redactor.observe(secrets, &resp);
        let (data, sw_bytes) = resp.split_at(resp.len() - 2);
        let sw = u16::from_be_bytes([sw_bytes[0], sw_bytes[1]]);
        let status = Status::from(sw);
        let hidden = redact::response_mask(&resp, secrets, self.ctx.channel.known_secrets());
        let response = redact::masked_hex(&resp, &hidden);
        // A response holding a known secret is explained without its values.
        let data_secret = secrets.response_data || hidden.iter().any(|h| *h);
        let actual = format!("{response} (SW {status})");

        // Check every expectation (or normal processing when none is written).
        let mut failures = Vec::new();
        let mut captures: Vec<(String, std::ops::Range<usize>)> = Vec::new();
        let mut would_capture: Vec<String> = Vec::new();
        if x.expects.is_empty() {
            let normal = SwPattern::normal_processing();
            if !normal.iter().any(|p| p.matches(sw)) {
                failures.push(Failure {
                    step: self.step_label(),
                    at: pos.into(),
                    expected: "normal processing: 9000 or 61xx (no '=>' line is written)".into(),
                    actual: actual.clone(),
                    reason: format!(
                        "status {sw:04X} is an error; write '=> {sw:04X}' after the APDU if it is expected"
                    ),
                });
            }
        }
        for e in &x.expects {
            would_capture.extend(e.data.pattern.iter().flatten().filter_map(|p| match p {
                PatItem::Capture { name, .. } => Some(name.clone()),
                _ => None,
            }));
            match self.check(e, sw, data, data_secret) {
                Ok(Ok(caps)) => captures.extend(caps),
                Ok(Err(reason)) => failures.push(Failure {
                    step: self.step_label(),
                    at: (&e.pos).into(),
                    expected: format!("=> {}", e.text),
                    actual: actual.clone(),
                    reason,
                }),
                Err(EvalError::Missing(var)) => failures.push(Failure {
                    step: self.step_label(),
                    at: (&e.pos).into(),
                    expected: format!("=> {}", e.text),
                    actual: actual.clone(),
                    reason: format!("${var} was not captured (an earlier expectation failed)"),
                }),
                Err(EvalError::Fatal(err)) => return Err(err.into()),
            }
        }
        let ok = failures.is_empty();
        let mut shown_caps = Vec::new();
        if ok {
            for (name, range) in captures {
                // A capture overlapping a hidden byte is secret too.
                let secret = hidden[range.clone()].iter().any(|h| *h);
                let v = VarValue::new(data[range].to_vec(), secret);
                self.remember(&v);
                shown_caps.push((name.clone(), v.shown()));
                self.ctx.vars.set(&name, v);
            }
        } else {
            // A failed exchange captures nothing, and stale values must not be used.
            for name in would_capture {
                self.ctx.vars.remove(&name);
            }
        }
        self.reporter.event(Event::Exchange(ExchangeReport {
            index,
            step: self.step.clone(),
            at: pos.into(),
            command,
            response,
            sw: Some(format!("{sw:04X}")),
            meaning: Some(status.meaning()),
            ok,
            captures: shown_caps,
        }));
        for f in failures {
            self.fail(f)?;
        }
        Ok(())
    }

    /// Checks one `=>` line: `Ok(Ok(captures))`, `Ok(Err(reason))`.
    #[allow(clippy::type_complexity)]
    fn check(
        &mut self,
        e: &Expect,
        sw: u16,
        data: &[u8],
        data_secret: bool,
    ) -> Result<Result<Vec<(String, std::ops::Range<usize>)>, String>, EvalError> {
        if !e.sw.iter().any(|p| p.matches(sw)) {
            let want: Vec<String> = e.sw.iter().map(|p| p.to_string()).collect();
            return Ok(Err(format!(
                "the status word is {sw:04X}, not {}",
                want.join(" or ")
            )));
        }
        self.check_data(&e.data, data, data_secret)
    }

    #[allow(clippy::type_complexity)]
    fn check_data(
        &mut self,
        d: &DataExpect,
        data: &[u8],
        data_secret: bool,
    ) -> Result<Result<Vec<(String, std::ops::Range<usize>)>, String>, EvalError> {
        let mut caps = Vec::new();
        if let Some(items) = &d.pattern {
            let resolved = self.resolve(items)?;
            match match_data(&resolved, data) {
                Some(c) => caps = c,
                None => return Ok(Err(explain_mismatch(&resolved, data, data_secret))),
            }
        }
        if let Some(len) = d.len {
            if !len.contains(data.len()) {
                return Ok(Err(format!("the data is {} bytes, not {len}", data.len())));
            }
        }
        Ok(Ok(caps))
    }

    fn atr_check(&mut self, pos: &Pos, d: &DataExpect) -> Result<(), StopReason> {
        let Some(atr) = self.atr.clone() else {
            let f = Failure {
                step: self.step_label(),
                at: pos.into(),
                expected: format!("atr => {}", d.text),
                actual: "no ATR known (no card)".into(),
                reason: "there is no ATR to check".into(),
            };
            return self.fail(f);
        };
        let shown = redact::spaced_hex(&atr);
        let result = match self.check_data(d, &atr, false) {
            Ok(r) => r,
            Err(EvalError::Missing(var)) => Err(format!("${var} was not captured")),
            Err(EvalError::Fatal(e)) => return Err(e.into()),
        };
        self.reporter.event(Event::Check {
            what: "atr".into(),
            actual: shown.clone(),
            ok: result.is_ok(),
        });
        match result {
            Ok(caps) => {
                for (name, range) in caps {
                    self.ctx
                        .vars
                        .set(&name, VarValue::new(atr[range].to_vec(), false));
                }
                Ok(())
            }
            Err(reason) => {
                let f = Failure {
                    step: self.step_label(),
                    at: d.pos.as_ref().unwrap_or(pos).into(),
                    expected: format!("atr => {}", d.text),
                    actual: shown,
                    reason: reason.replace("the data", "the ATR"),
                };
                self.fail(f)
            }
        }
    }

    fn protocol_check(&mut self, pos: &Pos, allowed: &[u8]) -> Result<(), StopReason> {
        let (actual, source) = match self.ctx.events.protocol() {
            Some(p) => (Some(p), ""),
            None => (
                self.atr
                    .as_deref()
                    .and_then(|a| crate::apdu::atr::Atr::parse_lenient(a).ok())
                    .and_then(|a| a.protocols.first().copied()),
                " (first protocol the ATR offers)",
            ),
        };
        let shown = actual.map_or("unknown".to_string(), |p| format!("T={p}{source}"));
        let ok = actual.is_some_and(|p| allowed.contains(&p));
        self.reporter.event(Event::Check {
            what: "protocol".into(),
            actual: shown.clone(),
            ok,
        });
        if ok {
            return Ok(());
        }
        let want: Vec<String> = allowed.iter().map(|p| format!("T={p}")).collect();
        let f = Failure {
            step: self.step_label(),
            at: pos.into(),
            expected: format!("protocol => {}", want.join(" | ")),
            actual: shown,
            reason: "the card does not use the expected protocol".into(),
        };
        self.fail(f)
    }
}

/// The command as shown: redacted by the trace's rule and the known secrets, and
/// every byte that came from a secret value hidden as well.
fn shown_command(cmd: &Evaluated, secrets: Secrets, known: &KnownSecrets) -> String {
    let mut hide = redact::command_mask(&cmd.bytes, secrets, known);
    for (h, s) in hide.iter_mut().zip(&cmd.secret) {
        *h |= *s;
    }
    redact::masked_hex(&cmd.bytes, &hide)
}

#[cfg(test)]
mod tests;
