//! What a script run shows: each exchange as it happens (text), or one JSON document.
//!
//! Why a separate reporter: the runner decides *what* happened (which exchange, which
//! expectation failed and why) and hands over strings that are already redacted, so a
//! reporter cannot leak a PIN or cryptogram however it formats them. Text output
//! follows scriptor's `> command` / `< response : meaning` shape so technicians read it
//! at once; a mismatch names the step, the line, what was expected and what came back.
//!
//! JSON (`--format json`) is one document printed at the end, with a versioned schema: fields
//! may be added (minor version), never removed or changed without a major version.

use super::Pos;
use serde::Serialize;
use std::io::Write;

/// The JSON schema name (from the one table, [`crate::output::Doc`]).
pub const JSON_SCHEMA: &str = crate::output::Doc::Script.name();
/// The JSON schema version (major.minor). 2.0: the version's key is `schema_version`,
/// as in every other document (it was `version`).
pub const JSON_VERSION: &str = crate::output::Doc::Script.version();

/// A position as JSON.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct JsonPos {
    /// File.
    pub file: String,
    /// Line (from 1).
    pub line: usize,
    /// Column (from 1).
    pub column: usize,
}

impl From<&Pos> for JsonPos {
    fn from(p: &Pos) -> Self {
        JsonPos {
            file: p.file.to_string(),
            line: p.line,
            column: p.col,
        }
    }
}

/// An expectation that did not hold.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failure {
    /// The step name, or `exchange N` when no `step` was given.
    pub step: String,
    /// Where the failed expectation (or the APDU, for the default check) is written.
    pub at: JsonPos,
    /// What was expected, as written in the script.
    pub expected: String,
    /// What came back (redacted).
    pub actual: String,
    /// The first difference, in words.
    pub reason: String,
}

/// One APDU exchange.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExchangeReport {
    /// Sequence number from 1.
    pub index: usize,
    /// The step name, if any.
    pub step: Option<String>,
    /// Where the APDU is written.
    pub at: JsonPos,
    /// The command as sent, secret bytes shown as `..`.
    pub command: String,
    /// The response, secret bytes shown as `..` (empty when not sent).
    pub response: String,
    /// The status word (hex), when there is a response.
    pub sw: Option<String>,
    /// The status word's meaning.
    pub meaning: Option<String>,
    /// Whether every expectation held.
    pub ok: bool,
    /// Variables captured: name and shown value (secret ones as their length).
    pub captures: Vec<(String, String)>,
}

/// Something that happened during the run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A `step` line.
    Step {
        /// The name.
        name: String,
        /// Where.
        at: JsonPos,
    },
    /// An exchange.
    Exchange(ExchangeReport),
    /// A failure (follows the exchange or check it belongs to).
    Mismatch(Failure),
    /// A card reset and its ATR.
    Reset {
        /// The ATR in hex.
        atr: String,
    },
    /// An `echo` message.
    Echo {
        /// The text.
        text: String,
    },
    /// A `let`.
    Let {
        /// The variable.
        name: String,
        /// Its shown value (secret ones as their length).
        value: String,
    },
    /// Waiting for a card to be inserted or removed.
    Wait {
        /// `card` or `remove`.
        what: String,
        /// The reader.
        reader: String,
        /// Whether the wait was real (false on a replay).
        real: bool,
    },
    /// A card came in.
    Card {
        /// Its ATR in hex, when known.
        atr: Option<String>,
    },
    /// An `atr =>` or `protocol =>` check.
    Check {
        /// `atr` or `protocol`.
        what: String,
        /// The value seen.
        actual: String,
        /// Whether it matched.
        ok: bool,
    },
    /// A change of the GET RESPONSE mode.
    GetResponse {
        /// Whether `61xx`/`6Cxx` are handled by the tool from here.
        auto: bool,
    },
}

/// The session being run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Session {
    /// The script files.
    pub files: Vec<String>,
    /// The reader (or transcript) name.
    pub reader: String,
    /// The ATR at the start, when a card was present.
    pub atr: Option<String>,
    /// Warnings found while parsing.
    pub warnings: Vec<String>,
}

/// How the run ended.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// `pass`, `mismatch`, `script_error` or `reader_error`.
    pub result: String,
    /// The process exit code.
    pub exit_code: u8,
    /// Exchanges made.
    pub exchanges: usize,
    /// Expectations that failed.
    pub failures: Vec<Failure>,
    /// Whether the run stopped early (at a mismatch, an error, or `exit`).
    pub stopped_early: bool,
    /// The error that ended the run, if any (script, reader or keys).
    pub error: Option<String>,
    /// Where a script error is, if that ended the run.
    pub error_at: Option<JsonPos>,
}

/// Receives what happens during a run.
pub trait Reporter {
    /// The run starts.
    fn begin(&mut self, session: &Session);
    /// Something happened.
    fn event(&mut self, event: Event);
    /// The run ended.
    fn end(&mut self, summary: &Summary);
}

/// Human-readable text on an output stream, printed as it happens.
pub struct TextReporter<W: Write> {
    out: W,
    last_step: Option<String>,
}

impl<W: Write> TextReporter<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        TextReporter {
            out,
            last_step: None,
        }
    }

    /// The stream back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn begin(&mut self, s: &Session) {
        let _ = writeln!(self.out, "# script: {}", s.files.join(", "));
        let _ = writeln!(self.out, "# reader: {}", s.reader);
        if let Some(atr) = &s.atr {
            let _ = writeln!(self.out, "# ATR: {atr}");
        }
        for w in &s.warnings {
            let _ = writeln!(self.out, "# warning: {w}");
        }
    }

    fn event(&mut self, e: Event) {
        let o = &mut self.out;
        let _ = match e {
            Event::Step { name, at } => {
                self.last_step = Some(name.clone());
                writeln!(o, "\n== {name}  ({}:{})", at.file, at.line)
            }
            Event::Exchange(x) => {
                let _ = writeln!(o, "> {}", x.command);
                let verdict = if x.ok { "ok" } else { "MISMATCH" };
                let _ = match (&x.sw, &x.meaning) {
                    (Some(_), Some(m)) => writeln!(o, "< {} : {m}  [{verdict}]", x.response),
                    _ => writeln!(o, "< (not sent)  [{verdict}]"),
                };
                for (name, value) in &x.captures {
                    let _ = writeln!(o, "  ${name} = {value}");
                }
                Ok(())
            }
            Event::Mismatch(f) => {
                let _ = writeln!(
                    o,
                    "MISMATCH in step \"{}\" at {}:{}:{}",
                    f.step, f.at.file, f.at.line, f.at.column
                );
                let _ = writeln!(o, "  expected: {}", f.expected);
                let _ = writeln!(o, "  actual:   {}", f.actual);
                writeln!(o, "  why:      {}", f.reason)
            }
            Event::Reset { atr } => writeln!(o, "> RESET\n< ATR {atr}"),
            Event::Echo { text } => writeln!(o, "# {text}"),
            Event::Let { name, value } => writeln!(o, "  let ${name} = {value}"),
            Event::Wait { what, reader, real } => {
                let verb = if what == "card" {
                    "insert a card into"
                } else {
                    "remove the card from"
                };
                if real {
                    writeln!(o, "# waiting: {verb} {reader}")
                } else {
                    writeln!(o, "# wait-{what}: passes at once on a replay")
                }
            }
            Event::Card { atr } => {
                writeln!(
                    o,
                    "# card in, ATR {}",
                    atr.unwrap_or_else(|| "unknown".into())
                )
            }
            Event::Check { what, actual, ok } => writeln!(
                o,
                "{what}: {actual}  [{}]",
                if ok { "ok" } else { "MISMATCH" }
            ),
            Event::GetResponse { auto } => writeln!(
                o,
                "# get-response {}",
                if auto {
                    "auto: 61xx and 6Cxx are handled by sscard"
                } else {
                    "manual: responses are shown as the card sends them"
                }
            ),
        };
        let _ = o.flush();
    }

    fn end(&mut self, s: &Summary) {
        let o = &mut self.out;
        let _ = writeln!(o);
        let _ = match s.result.as_str() {
            "pass" => writeln!(
                o,
                "PASS: {} exchange(s), every expectation met",
                s.exchanges
            ),
            "mismatch" => {
                let _ = writeln!(
                    o,
                    "FAIL: {} expectation(s) not met in {} exchange(s){}",
                    s.failures.len(),
                    s.exchanges,
                    if s.stopped_early {
                        " (stopped at the first; --keep-going runs on)"
                    } else {
                        ""
                    }
                );
                if let Some(f) = s.failures.first() {
                    writeln!(
                        o,
                        "first: step \"{}\" at {}:{}:{}: expected {}, actual {}",
                        f.step, f.at.file, f.at.line, f.at.column, f.expected, f.actual
                    )
                } else {
                    Ok(())
                }
            }
            _ => writeln!(
                o,
                "ERROR after {} exchange(s): {}",
                s.exchanges,
                s.error.clone().unwrap_or_default()
            ),
        };
        let _ = o.flush();
    }
}

/// Collects everything and prints one JSON document at the end.
pub struct JsonReporter<W: Write> {
    out: W,
    session: Option<Session>,
    events: Vec<Event>,
}

impl<W: Write> JsonReporter<W> {
    /// Writes to `out` at the end.
    pub fn new(out: W) -> Self {
        JsonReporter {
            out,
            session: None,
            events: Vec::new(),
        }
    }

    /// The stream back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    schema: &'static str,
    schema_version: &'static str,
    session: Option<&'a Session>,
    events: &'a [Event],
    summary: &'a Summary,
}

impl<W: Write> Reporter for JsonReporter<W> {
    fn begin(&mut self, session: &Session) {
        self.session = Some(session.clone());
    }

    fn event(&mut self, event: Event) {
        self.events.push(event);
    }

    fn end(&mut self, summary: &Summary) {
        let doc = JsonDoc {
            schema: JSON_SCHEMA,
            schema_version: JSON_VERSION,
            session: self.session.as_ref(),
            events: &self.events,
            summary,
        };
        crate::output::mark_printed();
        match serde_json::to_string(&doc) {
            Ok(text) => {
                let _ = writeln!(self.out, "{text}");
            }
            Err(e) => {
                let _ = writeln!(
                    self.out,
                    "{{\"schema\":\"{JSON_SCHEMA}\",\"schema_version\":\"{JSON_VERSION}\",\"error\":\"{e}\"}}"
                );
            }
        }
        let _ = self.out.flush();
    }
}
