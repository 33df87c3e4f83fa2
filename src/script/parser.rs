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

    fn directive(&mut self, kw: &str, line: &Line, path: &Path) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let pos = toks[0].pos.clone();
        let rest = &toks[1..];
        let nothing_after = |me: &Self| -> Result<(), ScriptError> {
            match rest.first() {
                Some(t) => Err(me.err(&t.pos, format!("'{kw}' takes nothing after it"))),
                None => Ok(()),
            }
        };
        match kw {
            "reset" => {
                nothing_after(self)?;
                self.push(pos, StmtKind::Reset);
            }
            "exit" => {
                nothing_after(self)?;
                self.push(pos, StmtKind::Exit);
                self.exited = true;
            }
            "step" | "echo" => {
                let text = match rest {
                    [] => {
                        return Err(self.err(
                            &pos_plus(&pos, kw.len()),
                            format!("'{kw}' needs text after it"),
                        ))
                    }
                    [Token {
                        tok: Tok::Str(s), ..
                    }] => s.clone(),
                    _ => line.raw_from(1),
                };
                let kind = if kw == "step" {
                    StmtKind::Step(text)
                } else {
                    StmtKind::Echo(text)
                };
                self.push(pos, kind);
            }
            "let" => self.let_line(line)?,
            "wait-card" | "wait-remove" => {
                let timeout = match rest {
                    [] => None,
                    [t] => Some(self.duration(t)?),
                    [_, t, ..] => {
                        return Err(self.err(&t.pos, format!("'{kw}' takes one timeout at most")))
                    }
                };
                let kind = if kw == "wait-card" {
                    StmtKind::WaitCard(timeout)
                } else {
                    StmtKind::WaitRemove(timeout)
                };
                self.push(pos, kind);
            }
            "include" => {
                let target = match rest {
                    [Token {
                        tok: Tok::Word(w) | Tok::Str(w),
                        ..
                    }] => w.clone(),
                    [] => return Err(self.err(&pos_plus(&pos, 7), "'include' needs a file name")),
                    [_, t, ..] | [t] => {
                        return Err(self.err(
                            &t.pos,
                            "'include' takes one file name (quote a name with spaces)",
                        ))
                    }
                };
                let at = rest[0].pos.clone();
                let joined = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.join(&target),
                    _ => PathBuf::from(&target),
                };
                let bytes = self.loader.load(&joined).map_err(|e| {
                    self.err(&at, format!("cannot include '{}': {e}", joined.display()))
                })?;
                let id = self.loader.identity(&joined);
                let name: Arc<str> = Arc::from(joined.display().to_string());
                self.file(name, &joined, id, &bytes, Some(at))?;
            }
            "atr" => {
                let arrow = rest
                    .first()
                    .filter(|t| t.tok == Tok::Arrow)
                    .ok_or_else(|| {
                        self.err(
                            &pos_plus(&pos, 3),
                            "write 'atr => PATTERN' (e.g. atr => 3B 6D 00 00 *)",
                        )
                    })?;
                let mut i = 2;
                let data = self.data_expect(line, &mut i)?;
                if data.is_empty() {
                    return Err(self.err(&pos_plus(&arrow.pos, 2), "'atr =>' needs a pattern"));
                }
                self.define_captures(&data);
                self.push(pos, StmtKind::Atr(data));
            }
            "protocol" => {
                let protos = self.protocols(line, &pos)?;
                self.push(pos, StmtKind::Protocol(protos));
            }
            "get-response" => {
                let auto = match rest {
                    [Token {
                        tok: Tok::Word(w), ..
                    }] if w.eq_ignore_ascii_case("auto") => true,
                    [Token {
                        tok: Tok::Word(w), ..
                    }] if w.eq_ignore_ascii_case("manual") => false,
                    _ => {
                        let at = rest
                            .first()
                            .map_or(pos_plus(&pos, kw.len()), |t| t.pos.clone());
                        return Err(
                            self.err(&at, "write 'get-response auto' or 'get-response manual'")
                        );
                    }
                };
                self.push(pos, StmtKind::GetResponse(auto));
            }
            _ => return Err(self.err(&pos, format!("unknown directive '{kw}'"))),
        }
        Ok(())
    }

    fn duration(&self, t: &Token) -> Result<Duration, ScriptError> {
        let bad = || {
            self.err(
                &t.pos,
                format!("a timeout is a number of seconds up to {MAX_WAIT_SECS} (e.g. 30 or 2.5s)"),
            )
        };
        let Tok::Word(w) = &t.tok else {
            return Err(bad());
        };
        let num = w.strip_suffix('s').unwrap_or(w);
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad());
        }
        let secs: f64 = num.parse().map_err(|_| bad())?;
        if !(secs > 0.0 && secs <= MAX_WAIT_SECS) {
            return Err(bad());
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn protocols(&self, line: &Line, pos: &Pos) -> Result<Vec<u8>, ScriptError> {
        let toks = &line.tokens;
        let hint = "write 'protocol => T=0' (or T=1, or T=0 | T=1)";
        if toks.get(1).map(|t| &t.tok) != Some(&Tok::Arrow) {
            return Err(self.err(&pos_plus(pos, 8), hint));
        }
        let mut out = Vec::new();
        let mut i = 2;
        loop {
            let at = toks.get(i).map_or(pos_plus(pos, 8), |t| t.pos.clone());
            let number = |s: &str| {
                let digits = !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
                digits
                    .then(|| s.parse::<u8>().ok())
                    .flatten()
                    .filter(|n| *n <= 15)
            };
            let n = match (toks.get(i).map(|t| &t.tok), toks.get(i + 1).map(|t| &t.tok)) {
                (Some(Tok::Word(t)), Some(Tok::Eq)) if t.eq_ignore_ascii_case("t") => {
                    let n = match toks.get(i + 2).map(|t| &t.tok) {
                        Some(Tok::Word(d)) => number(d),
                        _ => None,
                    };
                    i += 3;
                    n
                }
                (Some(Tok::Word(t)), _)
                    if t.len() > 1 && (t.starts_with('t') || t.starts_with('T')) =>
                {
                    i += 1;
                    number(t.get(1..).unwrap_or(""))
                }
                _ => None,
            };
            out.push(n.ok_or_else(|| self.err(&at, hint))?);
            match toks.get(i) {
                None => return Ok(out),
                Some(t) if t.tok == Tok::Pipe => i += 1,
                Some(t) => return Err(self.err(&t.pos, hint)),
            }
        }
    }

    fn let_line(&mut self, line: &Line) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let pos = toks[0].pos.clone();
        let name = match toks.get(1).map(|t| &t.tok) {
            Some(Tok::Word(n)) if valid_name(n) => n.clone(),
            Some(Tok::Var { name, .. }) => {
                return Err(self.err(
                    &toks[1].pos,
                    format!("write 'let {name} = ...' without the '$'"),
                ))
            }
            _ => {
                let at = toks.get(1).map_or(pos_plus(&pos, 3), |t| t.pos.clone());
                return Err(self.err(&at, "write 'let NAME = VALUE' (NAME: letters, digits, _)"));
            }
        };
        match toks.get(2) {
            Some(t) if t.tok == Tok::Eq => {}
            Some(t) => return Err(self.err(&t.pos, format!("expected '=' after 'let {name}'"))),
            None => {
                return Err(self.err(
                    &pos_plus(&toks[1].pos, name.chars().count()),
                    format!("expected '=' after 'let {name}'"),
                ))
            }
        }
        if toks.len() == 3 {
            return Err(self.err(&pos_plus(&toks[2].pos, 1), "'let' needs a value after '='"));
        }
        let mut i = 3;
        let value = self.values(line, &mut i, "a 'let' value")?;
        for v in &value {
            self.check_defined(v)?;
        }
        self.defined.insert(name.clone());
        self.push(pos, StmtKind::Let { name, value });
        Ok(())
    }

    /// Values up to the end of the line (APDU and `let`).
    fn values(&self, line: &Line, i: &mut usize, what: &str) -> Result<Vec<Value>, ScriptError> {
        let mut out = Vec::new();
        while *i < line.tokens.len() {
            out.push(self.value(line, i, what, 0)?);
        }
        Ok(out)
    }

    /// One value: hex word, string, `$var`, or `${call}`.
    fn value(
        &self,
        line: &Line,
        i: &mut usize,
        what: &str,
        depth: usize,
    ) -> Result<Value, ScriptError> {
        let t = &line.tokens[*i];
        let pos = t.pos.clone();
        *i += 1;
        let kind = match &t.tok {
            Tok::Word(w) => ValueKind::Bytes(self.hex_word(w, &pos, *i == 1, what)?),
            Tok::Str(s) => ValueKind::Bytes(self.ascii(s, &pos)?),
            Tok::Var {
                name,
                capture: None,
            } => ValueKind::Var(name.clone()),
            Tok::Var { name, .. } => {
                return Err(self.err(
                    &pos,
                    format!("captures (${name}:N) belong in '=>' lines; here write ${name}"),
                ))
            }
            Tok::DollarBrace => {
                let call = self.call(line, i, depth)?;
                match line.tokens.get(*i) {
                    Some(t) if t.tok == Tok::RBrace => *i += 1,
                    Some(t) => {
                        return Err(
                            self.err(&t.pos, format!("expected '}}', found {}", t.tok.describe()))
                        )
                    }
                    None => return Err(self.err(&pos, "'${' is not closed by '}'")),
                }
                ValueKind::Call(Box::new(call))
            }
            Tok::Arrow => {
                return Err(self.err(
                    &pos,
                    "'=>' starts its own line: put the expectation on the line after the APDU",
                ))
            }
            other => {
                return Err(self.err(&pos, format!("unexpected {} in {what}", other.describe())))
            }
        };
        Ok(Value { pos, kind })
    }

    fn ascii(&self, s: &str, pos: &Pos) -> Result<Vec<u8>, ScriptError> {
        if !s.is_ascii() {
            return Err(self.err(
                pos,
                "strings hold ASCII only (their bytes are unambiguous); write other bytes in hex",
            ));
        }
        Ok(s.as_bytes().to_vec())
    }

    fn hex_word(
        &self,
        w: &str,
        pos: &Pos,
        first: bool,
        what: &str,
    ) -> Result<Vec<u8>, ScriptError> {
        if let Some((idx, c)) = w.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
            let at = pos_plus(pos, idx);
            if first && (w == ">" || w == "<") {
                return Err(self.err(
                    &at,
                    "this looks like scriptor's output ('>' / '<' lines); a script line is the \
                     APDU alone, and its expected response goes on an '=>' line",
                ));
            }
            if matches!(c, 'x' | 'X' | '?') || w == "*" || w == ".." {
                return Err(self.err(
                    &at,
                    format!("wildcards ('{c}') are for '=>' lines; an APDU is exact hex"),
                ));
            }
            let msg = if first
                && w.chars()
                    .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
            {
                format!(
                    "'{w}' is neither hex nor a directive (directives: {})",
                    KEYWORDS.join(", ")
                )
            } else {
                format!("'{c}' is not a hex digit in {what}")
            };
            return Err(self.err(&at, msg));
        }
        if w.len() % 2 != 0 {
            return Err(self.err(
                pos,
                format!("'{w}' has an odd number of hex digits: write whole bytes"),
            ));
        }
        hex::decode(w).map_err(|e| self.err(pos, format!("bad hex '{w}': {e}")))
    }

    /// A call after `${` (or nested by name): NAME ( ARGS ).
    fn call(&self, line: &Line, i: &mut usize, depth: usize) -> Result<Call, ScriptError> {
        let toks = &line.tokens;
        let open_pos = toks.get(i.saturating_sub(1)).map(|t| t.pos.clone());
        let (name, name_pos) = match toks.get(*i) {
            Some(Token {
                tok: Tok::Word(n),
                pos,
                ..
            }) => (n.to_ascii_lowercase(), pos.clone()),
            Some(t) => {
                return Err(self.err(
                    &t.pos,
                    format!("expected a function name, found {}", t.tok.describe()),
                ))
            }
            None => {
                let at = open_pos.unwrap_or_else(|| toks[0].pos.clone());
                return Err(self.err(&at, "expected a function name after '${'"));
            }
        };
        if depth >= MAX_CALL_DEPTH {
            return Err(self.err(
                &name_pos,
                format!("calls nest deeper than {MAX_CALL_DEPTH}"),
            ));
        }
        *i += 1;
        match toks.get(*i) {
            Some(t) if t.tok == Tok::LParen => *i += 1,
            _ => {
                return Err(self.err(
                    &pos_plus(&name_pos, name.chars().count()),
                    format!("expected '(' after '{name}'"),
                ))
            }
        }
        // Arguments: each a word (name or hex), string, variable, or call.
        let mut args: Vec<(Pos, Arg)> = Vec::new();
        loop {
            let Some(t) = toks.get(*i) else {
                return Err(self.err(&name_pos, format!("'{name}(' is not closed by ')'")));
            };
            if t.tok == Tok::RParen && args.is_empty() {
                *i += 1;
                break;
            }
            let apos = t.pos.clone();
            let arg = match &t.tok {
                Tok::Word(w) if toks.get(*i + 1).map(|t| &t.tok) == Some(&Tok::LParen) => {
                    let _ = w;
                    let c = self.call(line, i, depth + 1)?;
                    Arg::Value(Value {
                        pos: apos.clone(),
                        kind: ValueKind::Call(Box::new(c)),
                    })
                }
                Tok::Word(w) => {
                    *i += 1;
                    Arg::Word(w.clone())
                }
                Tok::Str(_) | Tok::Var { .. } | Tok::DollarBrace => {
                    Arg::Value(self.value(line, i, "an argument", depth + 1)?)
                }
                other => {
                    return Err(self.err(
                        &apos,
                        format!(
                            "unexpected {} in the arguments of '{name}'",
                            other.describe()
                        ),
                    ))
                }
            };
            args.push((apos, arg));
            match toks.get(*i) {
                Some(t) if t.tok == Tok::Comma => *i += 1,
                Some(t) if t.tok == Tok::RParen => {
                    *i += 1;
                    break;
                }
                Some(t) => {
                    return Err(self.err(
                        &t.pos,
                        format!("expected ',' or ')', found {}", t.tok.describe()),
                    ))
                }
                None => return Err(self.err(&name_pos, format!("'{name}(' is not closed by ')'"))),
            }
        }
        self.typed_call(&name, &name_pos, args)
    }

    fn typed_call(
        &self,
        name: &str,
        pos: &Pos,
        args: Vec<(Pos, Arg)>,
    ) -> Result<Call, ScriptError> {
        let want = |n: usize, sig: &str| -> Result<(), ScriptError> {
            if args.len() != n {
                return Err(self.err(
                    pos,
                    format!("{sig} takes {n} argument(s), not {}", args.len()),
                ));
            }
            Ok(())
        };
        let as_value = |(p, a): &(Pos, Arg)| -> Result<Value, ScriptError> {
            match a {
                Arg::Value(v) => Ok(v.clone()),
                Arg::Word(w) => Ok(Value {
                    pos: p.clone(),
                    kind: ValueKind::Bytes(self.hex_word(w, p, false, "an argument")?),
                }),
            }
        };
        match name {
            "cryptogram" => {
                let sig = "cryptogram(APP, KEY, ALG, DIVERSIFIER, CHALLENGE)";
                want(5, sig)?;
                let app = match &args[0].1 {
                    Arg::Word(w) if w.eq_ignore_ascii_case("ssc") => KeyApp::Ssc,
                    Arg::Word(w) if w.eq_ignore_ascii_case("city") => KeyApp::City,
                    _ => return Err(self.err(&args[0].0, "the application is 'ssc' or 'city'")),
                };
                let key_id = match &args[1].1 {
                    Arg::Word(w) if w.len() == 2 => u8::from_str_radix(w, 16).ok(),
                    _ => None,
                }
                .ok_or_else(|| self.err(&args[1].0, "the key id is one hex byte, like 0C"))?;
                let alg = match &args[2].1 {
                    Arg::Word(w) => {
                        let l = w.to_ascii_lowercase();
                        let alg = match l.as_str() {
                            "3des" | "tdes" | "des3" | "01" => Some(Algorithm::Tdes),
                            "sm4" | "03" => Some(Algorithm::Sm4),
                            _ => None,
                        };
                        AlgArg::Fixed(alg.ok_or_else(|| {
                            self.err(
                                &args[2].0,
                                "the algorithm is 3des, sm4, 01, 03 or a variable holding 01/03",
                            )
                        })?)
                    }
                    Arg::Value(v) => AlgArg::Id(v.clone()),
                };
                Ok(Call::Cryptogram {
                    app,
                    key_id,
                    alg,
                    diversifier: as_value(&args[3])?,
                    challenge: as_value(&args[4])?,
                })
            }
            "len" => {
                want(1, "len(VALUE)")?;
                Ok(Call::Len(as_value(&args[0])?))
            }
            "random" => {
                want(1, "random(COUNT)")?;
                let n = match &args[0].1 {
                    Arg::Word(w) if w.len() <= 3 && w.chars().all(|c| c.is_ascii_digit()) => {
                        w.parse::<usize>().ok().filter(|n| (1..=255).contains(n))
                    }
                    _ => None,
                }
                .ok_or_else(|| self.err(&args[0].0, "random(COUNT): a decimal count 1..255"))?;
                Ok(Call::Random(n))
            }
            _ => Err(self.err(
                pos,
                format!("unknown function '{name}' (functions: cryptogram, len, random)"),
            )),
        }
    }

    fn expect_line(&mut self, line: &Line) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let arrow = &toks[0];
        if !self.open_exchange {
            // An APDU line holding the word `reset` (`00 B0 ... # reset it`) is a reset,
            // as in scriptor: say so, or the error points at the wrong line.
            let after_reset = match self.script.stmts.last() {
                Some(Stmt {
                    pos,
                    kind: StmtKind::Reset,
                }) => format!(
                    " ({}:{} is a reset: a line containing 'reset' anywhere resets the \
                     card and sends nothing, as in scriptor)",
                    pos.file, pos.line
                ),
                _ => String::new(),
            };
            return Err(self.err(
                &arrow.pos,
                format!(
                    "'=>' must follow an APDU line: it states what that APDU's response \
                     must be{after_reset}"
                ),
            ));
        }
        let sw_hint = "after '=>' comes the status word: 4 hex digits with x wildcards, like \
                       9000, 61xx or 63Cx (alternatives: 9000|6283)";
        let mut i = 1;
        let mut sw = Vec::new();
        loop {
            let at = match toks.get(i) {
                Some(t) => t.pos.clone(),
                None => after(&toks[i - 1]),
            };
            let word = |k: usize| match toks.get(k).map(|t| &t.tok) {
                Some(Tok::Word(w)) => Some(w.as_str()),
                _ => None,
            };
            let pattern = match (word(i), word(i + 1)) {
                (Some(a), _) if a.chars().count() == 4 => {
                    i += 1;
                    SwPattern::parse(a)
                }
                (Some(a), Some(b)) if a.chars().count() == 2 && b.chars().count() == 2 => {
                    i += 2;
                    SwPattern::parse(&format!("{a}{b}"))
                }
                _ => None,
            };
            let pattern = pattern.ok_or_else(|| self.err(&at, sw_hint))?;
            let sw1_known = pattern.mask >> 8 == 0xFF;
            let sw1 = (pattern.value >> 8) as u8;
            if sw1_known && !matches!(sw1, 0x61..=0x6F | 0x90..=0x9F) {
                return Err(self.err(
                    &at,
                    format!(
                        "{pattern} is not a status word (SW1 is 61..6F or 90..9F): an '=>' line \
                         starts with the status word, then the data (=> 9000 6F 1C ...)"
                    ),
                ));
            }
            sw.push(pattern);
            match toks.get(i) {
                Some(t) if t.tok == Tok::Pipe => i += 1,
                _ => break,
            }
        }
        let data = self.data_expect(line, &mut i)?;
        let expect = Expect {
            pos: arrow.pos.clone(),
            text: line.raw_from(1),
            sw,
            data,
        };
        self.define_captures(&expect.data);
        if let Some(Stmt {
            kind: StmtKind::Exchange(x),
            ..
        }) = self.script.stmts.last_mut()
        {
            x.expects.push(expect);
        }
        Ok(())
    }

    fn define_captures(&mut self, data: &DataExpect) {
        for item in data.pattern.iter().flatten() {
            if let PatItem::Capture { name, .. } = item {
                self.defined.insert(name.clone());
            }
        }
    }

    /// Data pattern items from `i` to the end of the line, then an optional `len`.
    fn data_expect(&self, line: &Line, i: &mut usize) -> Result<DataExpect, ScriptError> {
        let toks = &line.tokens;
        let text_from = *i;
        let mut items: Vec<PatItem> = Vec::new();
        let mut len = None;
        let mut specials = 0;
        let mut captured: HashSet<&str> = HashSet::new();
        while let Some(t) = toks.get(*i) {
            let pos = t.pos.clone();
            let mut special = true;
            match &t.tok {
                Tok::Word(w) if w.eq_ignore_ascii_case("len") => {
                    let spec = match toks.get(*i + 1).map(|t| &t.tok) {
                        Some(Tok::Word(s)) => LenRange::parse(s),
                        _ => None,
                    };
                    len = Some(spec.ok_or_else(|| {
                        self.err(
                            &pos_plus(&pos, 3),
                            "after 'len' write a byte count: 8, or a range 8..16",
                        )
                    })?);
                    *i += 2;
                    if let Some(t) = toks.get(*i) {
                        return Err(self.err(&t.pos, "'len N' comes last on an '=>' line"));
                    }
                    break;
                }
                Tok::Word(w) if w == "*" => {
                    *i += 1;
                    if !matches!(items.last(), Some(PatItem::Star)) {
                        items.push(PatItem::Star);
                    }
                }
                Tok::Word(w) => {
                    *i += 1;
                    special = false;
                    let bytes = masked_bytes(w).map_err(|(idx, msg)| {
                        let msg = if w.eq_ignore_ascii_case("data") || w.chars().any(|c| c.is_alphabetic() && !c.is_ascii_hexdigit() && !matches!(c, 'x' | 'X')) && w.chars().count() > 2 {
                            format!("{msg}; an '=>' line is: status word, then the data pattern, then 'len N'")
                        } else {
                            msg
                        };
                        self.err(&pos_plus(&pos, idx), msg)
                    })?;
                    items.push(PatItem::Masked(bytes));
                }
                Tok::Str(s) => {
                    *i += 1;
                    special = false;
                    let b = self.ascii(s, &pos)?;
                    items.push(PatItem::Masked(b.into_iter().map(|b| (b, 0xFF)).collect()));
                }
                Tok::Var {
                    name,
                    capture: Some(c),
                } => {
                    *i += 1;
                    if !captured.insert(name) {
                        return Err(
                            self.err(&pos, format!("${name} is captured twice on one line"))
                        );
                    }
                    items.push(PatItem::Capture {
                        name: name.clone(),
                        len: *c,
                    });
                }
                Tok::Var { .. } | Tok::DollarBrace => {
                    let v = self.value(line, i, "a pattern", 0)?;
                    self.check_defined(&v)?;
                    items.push(PatItem::Value(v));
                }
                Tok::Pipe => {
                    return Err(self.err(
                        &pos,
                        "'|' separates status words only, right after '=>' (9000|6283)",
                    ))
                }
                Tok::Arrow => return Err(self.err(&pos, "one '=>' per line")),
                other => {
                    return Err(self.err(
                        &pos,
                        format!("unexpected {} in an '=>' line", other.describe()),
                    ))
                }
            }
            if special {
                specials += 1;
                if specials > MAX_PATTERN_SPECIALS {
                    return Err(self.err(
                        &pos,
                        format!("more than {MAX_PATTERN_SPECIALS} wildcards, captures and variables in one pattern"),
                    ));
                }
            }
        }
        Ok(DataExpect {
            pos: toks.get(text_from).map(|t| t.pos.clone()),
            text: if text_from < toks.len() {
                line.raw_from(text_from)
            } else {
                String::new()
            },
            pattern: (!items.is_empty()).then_some(items),
            len,
        })
    }
}

/// A call argument before it is typed.
enum Arg {
    Word(String),
    Value(Value),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Script, ScriptError> {
        parse_str("t.apdu", text, &mut NoIncludes, &["given"])
    }

    #[test]
    fn check_refuses_a_literal_apdu_longer_than_the_largest_apdu() {
        let at_limit = format!(
            "00 A4 00 00 {}\n",
            "00 ".repeat(super::super::runner::MAX_VALUE_BYTES - 4)
        );
        assert!(parse(&at_limit).is_ok());
        let past = format!(
            "00 A4 00 00 {}\n",
            "00 ".repeat(super::super::runner::MAX_VALUE_BYTES - 3)
        );
        let e = parse(&past).unwrap_err();
        assert!(e.to_string().contains("the largest APDU"), "{e}");
    }

    #[test]
    fn an_endless_file_is_refused_without_reading_it_all() {
        // /dev/zero has size 0 in its metadata and never ends: reading it whole used
        // to grow without bound (issue 16 §3, a script cannot allocate without bound).
        let err = FsLoader.load(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("larger than"), "{err}");
        let e = parse_files(&[PathBuf::from("/dev/zero")], &mut FsLoader, &[]).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[test]
    fn no_keyword_is_hex() {
        for k in KEYWORDS {
            assert!(hex::decode(k).is_err(), "{k}");
        }
    }

    #[test]
    fn expectation_after_a_reset_line_says_the_line_is_a_reset() {
        // Line 1 holds 'reset' in a comment: scriptor resets there and sends nothing.
        let e = parse("00 A4 00 00 02 3F 00 # reset it\n=> 9000\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 1));
        assert!(e.message.contains("t.apdu:1 is a reset"), "{}", e.message);
        // Not after an APDU: no mention of a reset.
        let e = parse("=> 9000\n").unwrap_err();
        assert!(!e.message.contains("reset"), "{}", e.message);
    }

    #[test]
    fn scriptor_input_parses() {
        let s = parse(
            "# c\n00A4040000\n00 a4 00 00 02 3f 00\nreset\n00 B0 \\\n 00 00 01\nRESET\nexit\n",
        )
        .unwrap();
        assert_eq!(s.stmts.len(), 6);
        assert!(matches!(s.stmts[2].kind, StmtKind::Reset));
        match &s.stmts[3].kind {
            StmtKind::Exchange(x) => {
                let bytes: Vec<u8> = x
                    .apdu
                    .iter()
                    .flat_map(|v| match &v.kind {
                        ValueKind::Bytes(b) => b.clone(),
                        _ => vec![],
                    })
                    .collect();
                assert_eq!(bytes, vec![0, 0xB0, 0, 0, 1]);
            }
            _ => panic!("not an exchange"),
        }
    }

    #[test]
    fn exit_stops_reading() {
        let s = parse("00 A4 00 00\nexit\nthis is not parsed at all $$$\n").unwrap();
        assert_eq!(s.stmts.len(), 2);
    }

    #[test]
    fn expectations_attach_to_the_apdu_above() {
        let s = parse(
            "00 84 00 00 08\n=> 9000 $rnd:8\n=> 90 00 len 8\n00 82 00 0C 08 $rnd\n=> 9000|63Cx\n",
        )
        .unwrap();
        let StmtKind::Exchange(x) = &s.stmts[0].kind else {
            panic!()
        };
        assert_eq!(x.expects.len(), 2);
        assert_eq!(x.expects[0].text, "9000 $rnd:8");
        assert_eq!(x.expects[1].data.len, Some(LenRange { min: 8, max: 8 }));
        let StmtKind::Exchange(y) = &s.stmts[1].kind else {
            panic!()
        };
        assert_eq!(y.expects[0].sw.len(), 2);
    }

    #[test]
    fn calls_and_lets() {
        let s = parse(
            "00 84 00 00 08\n=> 9000 $rnd:8\nlet c = ${cryptogram(ssc, 0C, $given, 0011223344556677, $rnd)}\n\
             00 82 00 0C ${len($c)} $c\nlet r = ${random(8)} \"ab\"\n",
        )
        .unwrap();
        assert!(s.needs_sam());
        assert_eq!(s.stmts.len(), 4);
    }

    #[test]
    fn undefined_variables_are_found_before_running() {
        let e = parse("00 A4 00 00\n00 82 00 0C 08 $rnd\n").unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (2, 16));
        assert!(e.message.contains("$rnd"));
        // Defined by a capture later is still too late.
        assert!(parse("00 82 00 0C 08 $r\n00 84 00 00 08\n=> 9000 $r:8\n").is_err());
    }

    #[test]
    fn includes_resolve_relative_and_detect_cycles() {
        let mut mem = MemLoader::default();
        mem.0
            .insert("dir/a.apdu".into(), "include lib/b.apdu\n=> 9000\n".into());
        mem.0
            .insert("dir/lib/b.apdu".into(), "00 A4 00 00\n".into());
        let e = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap_err();
        // '=>' cannot reach into the included file's APDU.
        assert_eq!(e.pos.line, 2);
        mem.0.insert(
            "dir/a.apdu".into(),
            "include \"lib/b.apdu\"\n00 B0 00 00 01\n".into(),
        );
        let s = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap();
        assert_eq!(s.stmts.len(), 2);
        assert_eq!(&*s.stmts[0].pos.file, "dir/lib/b.apdu");
        assert_eq!(s.files, vec!["dir/a.apdu", "dir/lib/b.apdu"]);
        mem.0.insert(
            "dir/lib/b.apdu".into(),
            "00 A4 00 00\ninclude ../a.apdu\n".into(),
        );
        let e = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap_err();
        assert!(
            e.to_string().contains("included from dir/a.apdu:1:9"),
            "{e}"
        );
    }

    #[test]
    fn directives() {
        let s = parse(
            "wait-card 2.5s\nstep read  it\necho \"hi # there\"\natr => 3B 6D 00 00 * len 17\n\
             protocol => T=0 | T1\nget-response auto\nwait-remove\n",
        )
        .unwrap();
        assert!(s.starts_with_wait());
        assert!(matches!(&s.stmts[1].kind, StmtKind::Step(n) if n == "read  it"));
        assert!(matches!(&s.stmts[2].kind, StmtKind::Echo(n) if n == "hi # there"));
        assert!(matches!(&s.stmts[4].kind, StmtKind::Protocol(p) if p == &vec![0, 1]));
        assert!(matches!(&s.stmts[5].kind, StmtKind::GetResponse(true)));
    }

    #[test]
    fn literal_apdu_checks() {
        assert!(parse("00 A4 00\n").unwrap_err().message.contains("4 bytes"));
        let s = parse("00 A4 00 00 05 3F 00\n").unwrap();
        assert_eq!(s.warnings.len(), 1);
    }
}
