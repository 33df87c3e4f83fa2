//! The parsed script: statements with positions, values, calls and expectations.
//!
//! Includes are already inlined and every statement keeps the file:line:column it came
//! from, so the runner can name the exact line of a mismatch. Expectations keep their
//! source text too: a report shows what the technician wrote (`$rnd:8`), never a
//! variable's value, which may be a PIN or a cryptogram.

use super::expect::{LenRange, PatItem, SwPattern};
use super::Pos;
use crate::crypto::Algorithm;
use crate::sam::KeyApp;
use std::fmt;
use std::time::Duration;

/// A whole script (one or more files, includes inlined).
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The statements in execution order.
    pub stmts: Vec<Stmt>,
    /// The files read, top-level and included, in the order first read.
    pub files: Vec<String>,
    /// Findings that do not stop the script (e.g. an Lc that does not match the data,
    /// sent as written because testing a card's answer to it is legitimate).
    pub warnings: Vec<(Pos, String)>,
}

impl Script {
    /// Whether any statement calls `cryptogram(...)` (a SAM is needed).
    pub fn needs_sam(&self) -> bool {
        self.stmts.iter().any(|s| s.calls().any(|c| c.needs_sam()))
    }

    /// Whether the first statement that touches the card is a `wait-card`: then no
    /// card needs to be present when the script starts.
    pub fn starts_with_wait(&self) -> bool {
        for s in &self.stmts {
            match s.kind {
                StmtKind::WaitCard(_) => return true,
                StmtKind::Exchange(_)
                | StmtKind::Reset
                | StmtKind::Atr(_)
                | StmtKind::Protocol(_)
                | StmtKind::WaitRemove(_) => return false,
                _ => {}
            }
        }
        false
    }
}

/// One statement.
#[derive(Debug, Clone)]
pub struct Stmt {
    /// Where it starts.
    pub pos: Pos,
    /// What it does.
    pub kind: StmtKind,
}

/// Statement kinds.
#[derive(Debug, Clone)]
pub enum StmtKind {
    /// An APDU and the expectations written after it.
    Exchange(Exchange),
    /// `reset`: warm reset; the ATR is shown.
    Reset,
    /// `exit`: stop here (the rest of the file is not read, as in scriptor).
    Exit,
    /// `step NAME`: names the exchanges that follow in reports.
    Step(String),
    /// `let NAME = VALUE...`
    Let {
        /// The variable.
        name: String,
        /// The parts, concatenated.
        value: Vec<Value>,
    },
    /// `wait-card [SECONDS]`
    WaitCard(Option<Duration>),
    /// `wait-remove [SECONDS]`
    WaitRemove(Option<Duration>),
    /// `echo TEXT`: a message for the technician.
    Echo(String),
    /// `atr => PATTERN`: the current ATR must match.
    Atr(DataExpect),
    /// `protocol => T=0`: the active protocol must be one of these T numbers.
    Protocol(Vec<u8>),
    /// `get-response auto|manual`: whether `61xx`/`6Cxx` are handled by the tool.
    GetResponse(bool),
}

/// An APDU line and its expectations.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The command, as parts to concatenate.
    pub apdu: Vec<Value>,
    /// `=>` lines that follow it; all must hold. None: normal processing expected.
    pub expects: Vec<Expect>,
}

/// A part of an APDU or `let` value.
#[derive(Debug, Clone)]
pub struct Value {
    /// Where it is written.
    pub pos: Pos,
    /// What it is.
    pub kind: ValueKind,
}

/// Value kinds.
#[derive(Debug, Clone)]
pub enum ValueKind {
    /// Literal bytes (hex or a string).
    Bytes(Vec<u8>),
    /// `$name`
    Var(String),
    /// `${call(...)}`
    Call(Box<Call>),
}

/// A function call.
#[derive(Debug, Clone)]
pub enum Call {
    /// `cryptogram(APP, KEY, ALG, DIVERSIFIER, CHALLENGE)`: through the SAM.
    Cryptogram {
        /// `ssc` or `city`.
        app: KeyApp,
        /// Key id.
        key_id: u8,
        /// `3des`/`sm4`, or a value holding the algorithm id `01`/`03`.
        alg: AlgArg,
        /// 8 bytes.
        diversifier: Value,
        /// 8 bytes.
        challenge: Value,
    },
    /// `len(VALUE)`: the length as one byte (for Lc).
    Len(Value),
    /// `random(N)`: N random bytes.
    Random(usize),
}

/// The algorithm argument of `cryptogram`.
#[derive(Debug, Clone)]
pub enum AlgArg {
    /// Written as a name.
    Fixed(Algorithm),
    /// A value that must be `01` or `03` when evaluated (e.g. captured from the FCI).
    Id(Value),
}

impl Call {
    /// Whether this call, or one inside it, needs a SAM.
    pub fn needs_sam(&self) -> bool {
        match self {
            Call::Cryptogram { .. } => true,
            Call::Len(v) => v.calls().any(|c| c.needs_sam()),
            Call::Random(_) => false,
        }
    }
}

impl Value {
    /// The calls in this value, nested ones included.
    pub fn calls(&self) -> Box<dyn Iterator<Item = &Call> + '_> {
        match &self.kind {
            ValueKind::Call(c) => {
                let inner: Box<dyn Iterator<Item = &Call>> = match c.as_ref() {
                    Call::Cryptogram {
                        alg,
                        diversifier,
                        challenge,
                        ..
                    } => {
                        let a: Box<dyn Iterator<Item = &Call>> = match alg {
                            AlgArg::Id(v) => v.calls(),
                            AlgArg::Fixed(_) => Box::new(std::iter::empty()),
                        };
                        Box::new(a.chain(diversifier.calls()).chain(challenge.calls()))
                    }
                    Call::Len(v) => v.calls(),
                    Call::Random(_) => Box::new(std::iter::empty()),
                };
                Box::new(std::iter::once(c.as_ref()).chain(inner))
            }
            _ => Box::new(std::iter::empty()),
        }
    }

    /// The variables this value reads.
    pub fn vars(&self) -> Vec<(&str, &Pos)> {
        let mut out = Vec::new();
        self.collect_vars(&mut out);
        out
    }

    fn collect_vars<'a>(&'a self, out: &mut Vec<(&'a str, &'a Pos)>) {
        match &self.kind {
            ValueKind::Bytes(_) => {}
            ValueKind::Var(n) => out.push((n, &self.pos)),
            ValueKind::Call(c) => match c.as_ref() {
                Call::Cryptogram {
                    alg,
                    diversifier,
                    challenge,
                    ..
                } => {
                    if let AlgArg::Id(v) = alg {
                        v.collect_vars(out);
                    }
                    diversifier.collect_vars(out);
                    challenge.collect_vars(out);
                }
                Call::Len(v) => v.collect_vars(out),
                Call::Random(_) => {}
            },
        }
    }
}

/// An `=>` line.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Where the `=>` is.
    pub pos: Pos,
    /// The source text after `=>`, shown as "expected".
    pub text: String,
    /// Accepted status words (any of them).
    pub sw: Vec<SwPattern>,
    /// The response data checks.
    pub data: DataExpect,
}

/// Checks on a byte string (response data, or the ATR).
#[derive(Debug, Clone, Default)]
pub struct DataExpect {
    /// Where it is written.
    pub pos: Option<Pos>,
    /// The source text, shown as "expected".
    pub text: String,
    /// The pattern, when one is written.
    pub pattern: Option<Vec<PatItem>>,
    /// The length, when `len` is written.
    pub len: Option<LenRange>,
}

impl DataExpect {
    /// Whether there is nothing to check.
    pub fn is_empty(&self) -> bool {
        self.pattern.is_none() && self.len.is_none()
    }
}

impl Stmt {
    /// Every call in the statement (APDU, `let`, patterns).
    pub fn calls(&self) -> Box<dyn Iterator<Item = &Call> + '_> {
        match &self.kind {
            StmtKind::Exchange(x) => Box::new(
                x.apdu.iter().flat_map(|v| v.calls()).chain(
                    x.expects
                        .iter()
                        .flat_map(|e| e.data.pattern.iter().flatten())
                        .flat_map(|p| p.calls()),
                ),
            ),
            StmtKind::Let { value, .. } => Box::new(value.iter().flat_map(|v| v.calls())),
            StmtKind::Atr(d) => Box::new(d.pattern.iter().flatten().flat_map(|p| p.calls())),
            _ => Box::new(std::iter::empty()),
        }
    }
}

impl fmt::Display for Stmt {
    /// A one-line summary (keyword and position), never values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.kind {
            StmtKind::Exchange(x) => format!("APDU ({} expectation(s))", x.expects.len()),
            StmtKind::Reset => "reset".into(),
            StmtKind::Exit => "exit".into(),
            StmtKind::Step(n) => format!("step {n}"),
            StmtKind::Let { name, .. } => format!("let {name}"),
            StmtKind::WaitCard(_) => "wait-card".into(),
            StmtKind::WaitRemove(_) => "wait-remove".into(),
            StmtKind::Echo(_) => "echo".into(),
            StmtKind::Atr(_) => "atr".into(),
            StmtKind::Protocol(_) => "protocol".into(),
            StmtKind::GetResponse(a) => {
                format!("get-response {}", if *a { "auto" } else { "manual" })
            }
        };
        write!(f, "{}: {what}", self.pos)
    }
}
