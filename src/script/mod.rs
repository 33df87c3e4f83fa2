//! APDU scripts for technicians: a superset of pcsc-tools `scriptor` input that checks
//! every response.
//!
//! Why it exists: `scriptor` sends each line and ignores the status word, and
//! `opensc-tool` exits 0 on an error status, so a technician's script "passes" on a
//! broken card. Here every response is checked (against the expectation written after
//! it, or against "normal processing" when there is none) and the first difference is
//! reported with its step, what was expected and what came back, and a distinct exit
//! code. The format is documented for users in `apdu-scripts/README.md`.
//!
//! Compatibility: every line scriptor runs means the same here, by scriptor's own rules
//! (issue 11 §3, [`lexer::Lines`]): a line *containing* `exit` or `reset` ends the
//! script or resets the card, a `\` continuation goes on across blank and column-0
//! comment lines, an APDU unfinished at the end of the file is dropped. Each addition
//! of ours is a line or a token scriptor refuses outright (it aborts with
//! "ascii_to_array: wrong value"), and one of our lines that scriptor would take for
//! `exit`/`reset` is an error, so no script can mean two things. Proven against
//! scriptor itself by `tests/scriptor_corpus.rs`.
//!
//! Pipeline, one concern per file:
//! - [`lexer`]: characters → tokens with file:line:column, `\` continuation, comments.
//! - [`parser`]: tokens → [`ast::Script`], resolving `include` (through a [`parser::Loader`],
//!   so tests and the fuzz target need no files) and checking that every variable is
//!   defined before use, so a script error is found before any APDU is sent.
//! - [`expect`]: status-word masks and data patterns (wildcards, `*`, captures, length).
//! - [`vars`]: variable values, `--var`, `--var-file`; which values are secret.
//! - [`runner`]: executes a script over an [`apdu::Channel`](crate::apdu::Channel), with a
//!   [`sam::Sam`](crate::sam::Sam) for cryptograms and [`runner::CardEvents`] for
//!   `wait-card` / `wait-remove`.
//! - [`report`]: what the technician sees (text, or versioned JSON), redacted as the
//!   APDU trace is.
//! - [`plain`]: the scriptor-compatible subset of a script (`sscard script --plain`).

pub mod ast;
pub mod expect;
pub mod lexer;
pub mod parser;
pub mod plain;
pub mod report;
pub mod runner;
pub mod vars;

use std::fmt;
use std::sync::Arc;

/// A place in a script file: file name as given, 1-based line and column (in
/// characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    /// The file, as named on the command line or in the `include`.
    pub file: Arc<str>,
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub col: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.col)
    }
}

/// A script error: a syntax error, an undefined variable, an include that cannot be
/// read, or a value that turns out unusable while running. Always has a position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    /// Where.
    pub pos: Pos,
    /// What is wrong, for a technician.
    pub message: String,
    /// The `include` lines that led to the file, outermost first.
    pub included_from: Vec<Pos>,
}

impl ScriptError {
    /// An error at `pos`.
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        ScriptError {
            pos,
            message: message.into(),
            included_from: Vec::new(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.message)?;
        for p in self.included_from.iter().rev() {
            write!(f, "\n  included from {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScriptError {}

impl From<ScriptError> for crate::error::Error {
    fn from(e: ScriptError) -> Self {
        crate::error::Error::Other {
            message: format!("script error: {e}"),
            code: crate::error::ExitCode::ScriptError,
        }
    }
}

/// Parses script text and never panics, whatever the bytes: the fuzz target's entry
/// (and the proptests'). Includes are refused (no file access). Whatever parses is
/// also rendered as plain scriptor text, and its literal patterns are matched against
/// the input bytes, so the matcher is fuzzed too.
pub fn fuzz_parse(data: &[u8]) {
    let mut loader = parser::NoIncludes;
    let Ok(script) = parser::parse_bytes("fuzz", data, &mut loader, &["v"]) else {
        return;
    };
    let _ = plain::render(&script, &vars::Vars::default());
    for stmt in &script.stmts {
        let _ = stmt.to_string();
        let patterns: Vec<&ast::DataExpect> = match &stmt.kind {
            ast::StmtKind::Exchange(x) => x.expects.iter().map(|e| &e.data).collect(),
            ast::StmtKind::Atr(d) => vec![d],
            _ => Vec::new(),
        };
        for d in patterns {
            let resolved: Option<Vec<expect::Resolved>> = d
                .pattern
                .iter()
                .flatten()
                .map(|p| match p {
                    expect::PatItem::Masked(b) => Some(expect::Resolved::Fixed {
                        bytes: b.clone(),
                        secret: false,
                    }),
                    expect::PatItem::Star => Some(expect::Resolved::Star),
                    expect::PatItem::Capture { name, len } => {
                        Some(expect::Resolved::Capture(name.clone(), *len))
                    }
                    expect::PatItem::Value(_) => None,
                })
                .collect();
            if let Some(items) = resolved {
                let sample = &data[..data.len().min(512)];
                if let Some(caps) = expect::match_data(&items, sample) {
                    for (_, range) in caps {
                        assert!(range.end <= sample.len() && range.start <= range.end);
                    }
                } else {
                    let _ = expect::explain_mismatch(&items, sample, false);
                }
            }
        }
    }
}
