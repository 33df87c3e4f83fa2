//! Tokens to statements: directives, APDUs, expectations, includes, and the static
//! checks that run before any APDU is sent.
//!
//! Why check up front: a technician's script that fails half-way on a typo has already
//! changed the card (a VERIFY spent a try, an UPDATE wrote). So the whole script,
//! included files too, is parsed first, and every variable must be defined (by
//! `--var`/`--var-file`, `let`, or a capture in an earlier `=>` line) before the line
//! that uses it. Every error carries file:line:column and the include chain.
//!
//! How a line is read: a first word that is a directive keyword (`reset`, `exit`,
//! `step`, `let`, `wait-card`, `wait-remove`, `include`, `echo`, `atr`, `protocol`,
//! `get-response`, case-insensitive) makes it a directive; a line starting with `=>` is
//! an expectation for the APDU just above; anything else is an APDU. No keyword is
//! valid hex, so a scriptor APDU can never be taken for a directive.

use super::ast::{
    AlgArg, Call, DataExpect, Exchange, Expect, Script, Stmt, StmtKind, Value, ValueKind,
};
use super::expect::{masked_bytes, LenRange, PatItem, SwPattern, MAX_PATTERN_SPECIALS};
use super::lexer::{Line, Lines, Tok, Token, MAX_FILE_BYTES};
use super::vars::valid_name;
use super::{Pos, ScriptError};
use crate::crypto::Algorithm;
use crate::sam::KeyApp;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod directive;
mod expectation;
mod values;

#[cfg(test)]
mod tests;

/// Directive keywords. None of them is valid hex (tested).
pub const KEYWORDS: [&str; 11] = [
    "reset",
    "exit",
    "step",
    "let",
    "wait-card",
    "wait-remove",
    "include",
    "echo",
    "atr",
    "protocol",
    "get-response",
];

/// Deepest include nesting.
pub const MAX_INCLUDE_DEPTH: usize = 16;
/// Deepest nesting of calls inside calls.
pub const MAX_CALL_DEPTH: usize = 8;
/// Longest `wait-card` / `wait-remove` timeout, in seconds (one day).
pub const MAX_WAIT_SECS: f64 = 86_400.0;

/// The most script text one run reads, includes counted each time they are read: a
/// file that includes another twice, 16 levels deep, would otherwise make 65,536
/// copies of it.
pub const MAX_TOTAL_BYTES: usize = 16 << 20;

/// Reads included files. Tests and the fuzz target use in-memory loaders.
pub trait Loader {
    /// The text of the file at `path` (already joined to the including file's
    /// directory), or why it cannot be read.
    fn load(&mut self, path: &Path) -> Result<Vec<u8>, String>;

    /// A name that is the same for every path to one file (for include cycles).
    fn identity(&mut self, path: &Path) -> PathBuf {
        path.to_path_buf()
    }
}

/// Reads files from the file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsLoader;

impl Loader for FsLoader {
    fn load(&mut self, path: &Path) -> Result<Vec<u8>, String> {
        use std::io::Read;
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if meta.len() > MAX_FILE_BYTES as u64 {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        // The size in the metadata is 0 for /dev/zero, /proc files and pipes, so the
        // read itself is bounded too: one byte past the limit is enough to refuse.
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
            .map_err(|e| e.to_string())?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
        }
        Ok(bytes)
    }

    fn identity(&mut self, path: &Path) -> PathBuf {
        std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
    }
}

/// Refuses every include (the fuzz target: no file access).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIncludes;

impl Loader for NoIncludes {
    fn load(&mut self, _: &Path) -> Result<Vec<u8>, String> {
        Err("includes are disabled here".into())
    }
}

/// Files held in memory, by path (tests).
#[derive(Debug, Default, Clone)]
pub struct MemLoader(pub HashMap<PathBuf, String>);

impl Loader for MemLoader {
    fn load(&mut self, path: &Path) -> Result<Vec<u8>, String> {
        self.0
            .get(path)
            .map(|s| s.as_bytes().to_vec())
            .ok_or_else(|| "no such file".into())
    }
}

/// Parses the script files given on the command line, in order, as one script.
/// `predefined` names the variables given with `--var` / `--var-file`.
pub fn parse_files(
    paths: &[PathBuf],
    loader: &mut dyn Loader,
    predefined: &[&str],
) -> Result<Script, ScriptError> {
    let mut p = Parser::new(loader, predefined);
    for path in paths {
        if p.exited {
            break;
        }
        let name: Arc<str> = Arc::from(path.display().to_string());
        let start = Pos {
            file: name.clone(),
            line: 1,
            col: 1,
        };
        let bytes = p
            .loader
            .load(path)
            .map_err(|e| ScriptError::new(start.clone(), format!("cannot read the script: {e}")))?;
        let id = p.loader.identity(path);
        p.file(name, path, id, &bytes, None)?;
    }
    Ok(p.finish())
}

/// Parses one script given as bytes (named `name` in positions); includes are
/// resolved against `name`'s directory through `loader`.
pub fn parse_bytes(
    name: &str,
    bytes: &[u8],
    loader: &mut dyn Loader,
    predefined: &[&str],
) -> Result<Script, ScriptError> {
    let mut p = Parser::new(loader, predefined);
    let path = PathBuf::from(name);
    let id = p.loader.identity(&path);
    p.file(Arc::from(name), &path, id, bytes, None)?;
    Ok(p.finish())
}

/// Parses one script given as text.
pub fn parse_str(
    name: &str,
    text: &str,
    loader: &mut dyn Loader,
    predefined: &[&str],
) -> Result<Script, ScriptError> {
    parse_bytes(name, text.as_bytes(), loader, predefined)
}

struct Parser<'l> {
    loader: &'l mut dyn Loader,
    /// Include chain: (file identity, position of the `include`).
    stack: Vec<(PathBuf, Option<Pos>)>,
    /// Script bytes read so far (see [`MAX_TOTAL_BYTES`]).
    total_bytes: usize,
    script: Script,
    defined: HashSet<String>,
    /// Whether the last statement is an exchange that `=>` lines may follow.
    open_exchange: bool,
    exited: bool,
    /// Non-fatal findings: (position, message).
    warnings: Vec<(Pos, String)>,
}

fn pos_plus(pos: &Pos, chars: usize) -> Pos {
    Pos {
        col: pos.col + chars,
        ..pos.clone()
    }
}

/// The position just after a token (for "expected more here" errors at a line's end).
fn after(t: &Token) -> Pos {
    pos_plus(&t.pos, t.chars.max(1))
}

fn utf8_error_pos(file: &Arc<str>, bytes: &[u8], valid: usize) -> Pos {
    let before = &bytes[..valid.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Pos {
        file: file.clone(),
        line,
        col,
    }
}

impl<'l> Parser<'l> {
    fn new(loader: &'l mut dyn Loader, predefined: &[&str]) -> Self {
        Parser {
            loader,
            stack: Vec::new(),
            total_bytes: 0,
            script: Script::default(),
            defined: predefined.iter().map(|s| s.to_string()).collect(),
            open_exchange: false,
            exited: false,
            warnings: Vec::new(),
        }
    }

    fn finish(mut self) -> Script {
        self.script.warnings = std::mem::take(&mut self.warnings);
        self.script
    }

    /// An error at `pos` carrying the include chain.
    fn err(&self, pos: &Pos, msg: impl Into<String>) -> ScriptError {
        let mut e = ScriptError::new(pos.clone(), msg);
        e.included_from = self.stack.iter().filter_map(|(_, p)| p.clone()).collect();
        e
    }

    fn file(
        &mut self,
        name: Arc<str>,
        path: &Path,
        id: PathBuf,
        bytes: &[u8],
        included_at: Option<Pos>,
    ) -> Result<(), ScriptError> {
        if let Some(at) = &included_at {
            if self.stack.len() >= MAX_INCLUDE_DEPTH {
                return Err(self.err(
                    at,
                    format!("includes nest deeper than {MAX_INCLUDE_DEPTH} files"),
                ));
            }
            if self.stack.iter().any(|(f, _)| *f == id) {
                return Err(self.err(at, format!("'{name}' includes itself (an include cycle)")));
            }
        }
        self.stack.push((id, included_at));
        let result = self.file_body(name, path, bytes);
        if result.is_ok() {
            self.stack.pop();
        }
        result
    }

    fn file_body(&mut self, name: Arc<str>, path: &Path, bytes: &[u8]) -> Result<(), ScriptError> {
        let start = Pos {
            file: name.clone(),
            line: 1,
            col: 1,
        };
        if bytes.len() > MAX_FILE_BYTES {
            return Err(self.err(
                &start,
                format!("the file is larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        self.total_bytes = self.total_bytes.saturating_add(bytes.len());
        if self.total_bytes > MAX_TOTAL_BYTES {
            return Err(self.err(
                &start,
                format!("the script and its includes exceed {MAX_TOTAL_BYTES} bytes in all"),
            ));
        }
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let pos = utf8_error_pos(&name, bytes, e.valid_up_to());
            self.err(
                &pos,
                "the file is not UTF-8 text (write non-ASCII bytes in hex)",
            )
        })?;
        if !self.script.files.iter().any(|f| **f == *name) {
            self.script.files.push(name.to_string());
        }
        self.open_exchange = false;
        for line in Lines::new(&name, text) {
            let line = line.map_err(|mut e| {
                e.included_from = self.stack.iter().filter_map(|(_, p)| p.clone()).collect();
                e
            })?;
            self.warnings.extend(line.notes.iter().cloned());
            if !line.tokens.is_empty() {
                self.line(&line, path)?;
            }
            if self.exited {
                break;
            }
        }
        self.open_exchange = false;
        Ok(())
    }

    fn push(&mut self, pos: Pos, kind: StmtKind) {
        self.open_exchange = matches!(kind, StmtKind::Exchange(_));
        self.script.stmts.push(Stmt { pos, kind });
    }

    fn line(&mut self, line: &Line, path: &Path) -> Result<(), ScriptError> {
        let first = &line.tokens[0];
        match &first.tok {
            Tok::Arrow => self.expect_line(line),
            Tok::Word(w) if KEYWORDS.contains(&w.to_ascii_lowercase().as_str()) => {
                self.directive(&w.to_ascii_lowercase(), line, path)
            }
            _ => {
                let mut i = 0;
                let apdu = self.values(line, &mut i, "an APDU")?;
                self.check_apdu(&first.pos, &apdu)?;
                self.push(
                    first.pos.clone(),
                    StmtKind::Exchange(Exchange {
                        apdu,
                        expects: Vec::new(),
                    }),
                );
                Ok(())
            }
        }
    }

    /// Checks the variables an APDU uses, its literal length and its Lc.
    fn check_apdu(&mut self, pos: &Pos, apdu: &[Value]) -> Result<(), ScriptError> {
        for v in apdu {
            self.check_defined(v)?;
        }
        let literal: Option<Vec<u8>> = apdu
            .iter()
            .map(|v| match &v.kind {
                ValueKind::Bytes(b) => Some(b.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|parts| parts.concat());
        if let Some(bytes) = literal {
            if bytes.len() < 4 {
                return Err(self.err(
                    pos,
                    format!(
                        "an APDU has at least 4 bytes (CLA INS P1 P2); this one has {}",
                        bytes.len()
                    ),
                ));
            }
            let max = super::runner::MAX_VALUE_BYTES;
            if bytes.len() > max {
                // The run would stop here (exit 10); --check says so before.
                return Err(self.err(
                    pos,
                    format!(
                        "this APDU has {} bytes, past {max} (the largest APDU); \
                         a script cannot build more",
                        bytes.len()
                    ),
                ));
            }
            if let Err(e) = crate::apdu::Command::parse(&bytes) {
                // Sent anyway: testing a card's answer to a malformed APDU is legitimate.
                self.warnings
                    .push((pos.clone(), format!("{e} (sent as written)")));
            }
        }
        Ok(())
    }

    fn check_defined(&self, v: &Value) -> Result<(), ScriptError> {
        for (name, pos) in v.vars() {
            if !self.defined.contains(name) {
                // `--var` refuses names holding "pin" (argv is public): point to the file.
                let pass = if name.to_ascii_lowercase().contains("pin") {
                    format!("or put `{name} = ...` in a --var-file FILE (chmod 600)")
                } else {
                    format!("or pass --var {name}=... (--var-file FILE for a secret)")
                };
                return Err(self.err(
                    pos,
                    format!(
                        "${name} is not defined here: capture it in an earlier '=>' line \
                         (${name}:8), set it with 'let {name} = ...', {pass}"
                    ),
                ));
            }
        }
        Ok(())
    }
}
