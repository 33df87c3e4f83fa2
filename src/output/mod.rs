//! Machine output: every versioned JSON document sscard prints, and the one flag that
//! asks for it.
//!
//! Why one module: before it, seven places stamped their own version (`"1.0"` typed
//! by hand in each), the script report called its version `version` while the others
//! said `schema_version`, and four spellings asked for JSON (`--json`, `--format json`,
//! `--receipt json`, `--format jsonl`). A script had to learn each command anew. Now:
//!
//! - **One table** ([`Doc`]): every document's name and version, in one `match`. A
//!   document carries both at its top level, the same way everywhere:
//!   `{"schema": "sscard-info", "schema_version": "1.1", ...}` ([`document`]). The
//!   rule is openpgp-card's: adding a field bumps the minor version, removing or
//!   changing one the major.
//! - **One flag**: `--format text|json` on every command that can print JSON, plus
//!   `csv` where the output is a table ([`FormatArgs`], [`TableFormatArgs`]).
//!   The old spellings stay as hidden aliases because tests and desk scripts use them
//!   (`--json`; `activate --receipt json`).
//! - **stdout holds the document alone.** Anything for people goes to stderr.
//! - **Errors as JSON when JSON was asked for** ([`print_error`]): the failing
//!   command prints an `sscard-error` document on *stdout* and exits with the error's
//!   own code. Why stdout: a caller that asked for JSON reads stdout and parses it; a
//!   second stream to parse only on failure is the trap this removes. The usual
//!   `sscard: error:` lines still go to stderr for the person watching. When a command
//!   already printed its document before failing (`atr` of a non-conforming ATR,
//!   `info` of a card failing a check, a script's report), that document says what
//!   failed and no second one follows: stdout is always exactly one document (or one
//!   per line for streams such as `readers --watch`, whose last line is then the error).

pub mod csv;
pub mod visible;

use crate::error::Error;
use serde::Serialize;
use serde_json::{Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Every JSON document sscard prints: the one table of names and versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Doc {
    /// `sscard info --format json`: the card, its holder, its checks.
    Info,
    /// `sscard atr --format json`: the decoded ATR and its conformance.
    Atr,
    /// `sscard readers --format json`: readers and cards.
    Readers,
    /// `sscard readers --watch --format json`: one event per line.
    ReaderEvent,
    /// `sscard script --format json`: the run's report.
    Script,
    /// `sscard activate ... --format json`: the holder's receipt.
    Receipt,
    /// `sscard journal list --format json`: entries.
    JournalList,
    /// `sscard journal show --format json`: one entry with its history.
    JournalEntry,
    /// `sscard journal export --format jsonl`: one entry per line.
    JournalExportLine,
    /// `sscard journal push --format json`: what was sent to the centre.
    JournalPush,
    /// `sscard journal backup --format json`: the copy made.
    JournalBackup,
    /// `sscard fleet lookup --format json`: every desk's view of one transfer.
    FleetLookup,
    /// `sscard fleet report --format json`: the back office's report.
    FleetReport,
    /// Any command's failure when JSON was asked for.
    Error,
    /// `sscard serve`: what the service is and speaks (its `hello` and subscription
    /// answers).
    Serve,
}

impl Doc {
    /// Every document, for tests and documentation.
    pub const ALL: [Doc; 15] = [
        Doc::Info,
        Doc::Atr,
        Doc::Readers,
        Doc::ReaderEvent,
        Doc::Script,
        Doc::Receipt,
        Doc::JournalList,
        Doc::JournalEntry,
        Doc::JournalExportLine,
        Doc::JournalPush,
        Doc::JournalBackup,
        Doc::FleetLookup,
        Doc::FleetReport,
        Doc::Error,
        Doc::Serve,
    ];

    /// The document's name (`schema`), and its version (`schema_version`, major.minor).
    ///
    /// History (minor: fields added; major: fields removed or changed):
    /// - info 1.1, atr 1.2, readers 1.2, journal list/show 1.1, fleet lookup 1.1:
    ///   `schema` added. atr 1.2 also: `reader` and `protocol` when read from a card
    ///   (they were a text line before the JSON).
    /// - reader events, journal export lines, push 1.1: `schema` and `schema_version`
    ///   added (they were unversioned 1.0).
    /// - script 2.0: `version` renamed `schema_version` (a change, so major).
    /// - receipt 1.1, fleet report 1.1: `schema` added.
    /// - journal backup 1.0, error 1.0: new.
    /// - fleet report 1.2: `deadlines` (new cards read near or past the six-month
    ///   activation deadline) and `deadline_days` added.
    /// - serve 1.0: new (the loopback service, `sscard serve`).
    /// - fleet lookup 1.2: `journal` (the desk journal's instance id) in each event.
    /// - fleet report 1.3: `frozen[].possibly_frozen` (FREEZING journaled, FROZEN never
    ///   seen at the centre).
    /// - journal push 1.2: `busy` (another push of this journal held its lock; this one
    ///   sent nothing).
    pub const fn schema(self) -> (&'static str, &'static str) {
        match self {
            Doc::Info => ("sscard-info", "1.1"),
            Doc::Atr => ("sscard-atr", "1.2"),
            Doc::Readers => ("sscard-readers", "1.2"),
            Doc::ReaderEvent => ("sscard-reader-event", "1.1"),
            Doc::Script => ("sscard-script", "2.0"),
            Doc::Receipt => ("sscard-receipt", "1.1"),
            Doc::JournalList => ("sscard-journal-list", "1.1"),
            Doc::JournalEntry => ("sscard-journal-entry", "1.1"),
            Doc::JournalExportLine => ("sscard-journal-export", "1.1"),
            Doc::JournalPush => ("sscard-journal-push", "1.2"),
            Doc::JournalBackup => ("sscard-journal-backup", "1.0"),
            Doc::FleetLookup => ("sscard-fleet-lookup", "1.2"),
            Doc::FleetReport => ("sscard-fleet-report", "1.3"),
            Doc::Error => ("sscard-error", "1.0"),
            Doc::Serve => ("sscard-serve", "1.0"),
        }
    }

    /// The document's name, e.g. `sscard-info`.
    pub const fn name(self) -> &'static str {
        self.schema().0
    }

    /// The document's version, e.g. `1.1`.
    pub const fn version(self) -> &'static str {
        self.schema().1
    }
}

/// `body` as the document `doc`: its fields with `schema` and `schema_version` added
/// at the top level (replacing any the body carried). A body that is not a JSON object
/// (a list) goes under `items`.
///
/// # Errors
/// [`Error::InvalidData`] when `body` cannot be serialized (a map with non-string
/// keys; none of sscard's types has one).
pub fn document<T: Serialize + ?Sized>(doc: Doc, body: &T) -> Result<Value, Error> {
    let v = serde_json::to_value(body).map_err(|e| Error::InvalidData(e.to_string()))?;
    let mut out = Map::new();
    out.insert("schema".into(), doc.name().into());
    out.insert("schema_version".into(), doc.version().into());
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "schema" && k != "schema_version" {
                    out.insert(k, v);
                }
            }
        }
        other => {
            out.insert("items".into(), other);
        }
    }
    Ok(Value::Object(out))
}

/// Whether a whole document (not a stream line) has been printed on stdout by this
/// process; [`print_error`] then prints none (stdout holds one document).
static DOCUMENT_PRINTED: AtomicBool = AtomicBool::new(false);

/// Whether this process already printed a whole document.
pub fn document_printed() -> bool {
    DOCUMENT_PRINTED.load(Ordering::SeqCst)
}

/// Records that a whole document went to stdout by other means (the script reporter
/// writes its own).
pub fn mark_printed() {
    DOCUMENT_PRINTED.store(true, Ordering::SeqCst);
}

/// Writes one line to stdout. A reader that went away (`sscard ... | head -c 100`)
/// ends the process quietly with the shell's SIGPIPE status, as `println!` does
/// ([`crate::stdio::BROKEN_PIPE_EXIT`]); any other failure is an error (exit 14).
fn write_stdout(text: &str) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(|source| stdout_error("stdout", source))
}

/// The error of a failed write to stdout (`what` names it); a closed pipe ends the
/// process quietly instead (see [`print()`]).
pub fn stdout_error(what: &str, source: std::io::Error) -> Error {
    if source.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(crate::stdio::BROKEN_PIPE_EXIT);
    }
    Error::Io {
        path: what.to_string(),
        source,
    }
}

/// Prints `body` as the document `doc` on stdout, on one line.
///
/// # Errors
/// [`Error::InvalidData`] as [`document`]; [`Error::Io`] when stdout fails.
pub fn print<T: Serialize + ?Sized>(doc: Doc, body: &T) -> Result<(), Error> {
    let text = to_line(doc, body)?;
    mark_printed();
    write_stdout(&text)
}

/// Prints one line of a stream of documents (`readers --watch`, `journal export`).
/// Unlike [`print()`] it leaves room for an error document as the stream's last line.
///
/// # Errors
/// As [`print()`].
pub fn print_line<T: Serialize + ?Sized>(doc: Doc, body: &T) -> Result<(), Error> {
    write_stdout(&to_line(doc, body)?)
}

/// The document as one line of JSON (no newline).
///
/// # Errors
/// As [`document`].
pub fn to_line<T: Serialize + ?Sized>(doc: Doc, body: &T) -> Result<String, Error> {
    let v = document(doc, body)?;
    serde_json::to_string(&v).map_err(|e| Error::InvalidData(e.to_string()))
}

/// The body of an `sscard-error` document.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: ErrorFields<'a>,
}

#[derive(Debug, Serialize)]
struct ErrorFields<'a> {
    /// The process exit code (README "Exit codes").
    exit_code: u8,
    /// The same text as the `sscard: error:` line on stderr.
    message: String,
    /// The hint line, if any.
    hint: Option<&'a str>,
}

/// The `sscard-error` document for `e` (as a value, for tests and callers).
pub fn error_document(e: &Error) -> Value {
    let body = ErrorBody {
        error: ErrorFields {
            exit_code: e.exit_code() as u8,
            message: e.to_string(),
            hint: e.hint(),
        },
    };
    // Strings and integers only: serialization cannot fail.
    document(Doc::Error, &body).unwrap_or(Value::Null)
}

/// Prints the `sscard-error` document for `e` on stdout, unless a whole document was
/// already printed (see the module docs). A failing stdout is ignored: the exit code
/// still tells the error.
pub fn print_error(e: &Error) {
    if document_printed() {
        return;
    }
    if let Ok(text) = serde_json::to_string(&error_document(e)) {
        let _ = write_stdout(&text);
    }
}

/// Output formats of commands that print a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// One versioned JSON document on stdout (`schema`, `schema_version`).
    Json,
}

/// Output formats of commands that print a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TableFormat {
    /// For people.
    #[default]
    Text,
    /// One versioned JSON document on stdout.
    Json,
    /// CSV for spreadsheets (UTF-8 with BOM; see [`csv`]).
    Csv,
}

/// `--format text|json` (and the hidden alias `--json`), flattened into a command's
/// arguments.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct FormatArgs {
    /// Output format: `text` for people, `json` for one versioned JSON document on
    /// stdout (errors too are then a JSON document on stdout).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The same as `--format json` (kept for scripts written before `--format`).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

impl FormatArgs {
    /// The format asked for.
    pub fn get(&self) -> Format {
        if self.json {
            Format::Json
        } else {
            self.format
        }
    }

    /// Whether JSON was asked for.
    pub fn is_json(&self) -> bool {
        self.get() == Format::Json
    }
}

/// `--format text|json|csv`, flattened into the arguments of a command printing a
/// table.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct TableFormatArgs {
    /// Output format: `text` for people, `json` for one versioned JSON document on
    /// stdout, `csv` for a spreadsheet (UTF-8 with BOM, numbers kept as text).
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    pub format: TableFormat,
    /// The same as `--format json` (kept for scripts written before `--format`).
    #[arg(long, hide = true, conflicts_with = "format")]
    pub json: bool,
}

impl TableFormatArgs {
    /// The format asked for.
    pub fn get(&self) -> TableFormat {
        if self.json {
            TableFormat::Json
        } else {
            self.format
        }
    }

    /// Whether JSON was asked for.
    pub fn is_json(&self) -> bool {
        self.get() == TableFormat::Json
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_versions_are_major_dot_minor() {
        let mut names = HashSet::new();
        for d in Doc::ALL {
            assert!(names.insert(d.name()), "{} twice", d.name());
            assert!(d.name().starts_with("sscard-"), "{}", d.name());
            let (major, minor) = d.version().split_once('.').expect("major.minor");
            assert!(major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok());
        }
        assert_eq!(names.len(), Doc::ALL.len());
    }

    #[test]
    fn a_document_carries_its_name_and_version_over_the_body_s() {
        let v = document(
            Doc::Info,
            &serde_json::json!({"schema_version": "0.9", "kind": "ssc"}),
        )
        .unwrap();
        assert_eq!(v["schema"], "sscard-info");
        assert_eq!(v["schema_version"], Doc::Info.version());
        assert_eq!(v["kind"], "ssc");
        let list = document(Doc::JournalList, &vec![1, 2]).unwrap();
        assert_eq!(list["items"], serde_json::json!([1, 2]));
    }

    #[test]
    fn an_error_document_has_the_code_message_and_hint() {
        let e = Error::InvalidData("bad hex".into());
        let v = error_document(&e);
        assert_eq!(v["schema"], "sscard-error");
        assert_eq!(v["error"]["exit_code"], 7);
        assert!(v["error"]["message"].as_str().unwrap().contains("bad hex"));
    }
}
