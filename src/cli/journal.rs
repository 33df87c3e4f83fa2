//! `sscard journal list|show|export|backup|push`: the activation journal for the back
//! office.
//!
//! What a supervisor needs from it, and the choices made (issue 15 point 4):
//! - `list` filters by holder (name or citizen ID, any part), card (old or new card
//!   number, any part), state and creation date (`--since`/`--until`, the desk's
//!   local dates, inclusive); an empty journal, or none yet at the default path, is
//!   "no entries" and exit 0: a desk that has not activated a card is not an error.
//!   A journal *named* with `--journal` that does not exist is an error (exit 13,
//!   every subcommand): a mistyped path listing "no entries" looks like an empty
//!   journal, which is how a supervisor misses a day of transfers. Nothing creates
//!   the file: reading never makes a journal.
//! - Text output escapes what it prints from the journal ([`visible`]): the file may
//!   have been tampered with, and a holder's name or a note holding terminal escape
//!   sequences must not rewrite the screen (`\u{1b}` is shown instead). JSON escapes
//!   by itself; CSV cells are text to a spreadsheet.
//! - `show` takes any unique prefix of the transfer id (as git does for commits); an
//!   ambiguous prefix is refused with the candidates listed (exit 2, usage).
//! - `--format csv` is for spreadsheets ([`crate::output::csv`]: UTF-8 with BOM,
//!   identifiers as text, yuan beside fen, local dates); other systems read
//!   `--format json` or `export --format jsonl`.
//! - `backup PATH` copies the journal while the desk runs, with SQLite's online backup
//!   API on a read-only connection (a consistent snapshot: a transfer half-written by
//!   the desk is in the copy as it was last committed, never torn), into a file of mode
//!   600 (the journal holds names and citizen IDs) that replaces PATH atomically, and
//!   checks the copy (`PRAGMA integrity_check`) before it does. Copying the file with
//!   `cp` is not safe: the journal is in WAL mode, and recent commits live in the
//!   `-wal` file beside it.

use super::CmdResult;
use crate::activation::journal::{self, Entry, Journal, State};
use crate::error::{Error, ExitCode};
use crate::output::csv::Cell;
use crate::output::visible::visible;
use crate::output::{self, Doc, Format, FormatArgs, TableFormat, TableFormatArgs};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

mod backup;

pub use backup::{backup, BackupOutcome};

/// Arguments of `sscard journal`.
#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    /// The journal file [default as for `sscard activate`: $SSCARD_JOURNAL, else
    /// `journal` in the configuration, else the desk's default].
    #[arg(long, value_name = "PATH", global = true)]
    pub journal: Option<PathBuf>,
    /// The desk configuration file (`none`: no file), for its `journal` and `[fleet]`
    /// [default: /etc/sscard/sscard.toml].
    #[arg(long, value_name = "PATH", env = "SSCARD_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: JournalCommand,
}

/// Filters of `sscard journal list`.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct Filters {
    /// Only entries not complete or cancelled.
    #[arg(long)]
    pub unfinished: bool,
    /// Only this holder: part of the name or of the citizen ID.
    #[arg(long, value_name = "TEXT")]
    pub holder: Option<String>,
    /// Only this card: part of the old or new card's number.
    #[arg(long, value_name = "NUMBER")]
    pub card: Option<String>,
    /// Only entries in this state (e.g. FROZEN; repeatable).
    #[arg(long, value_name = "STATE")]
    pub state: Vec<String>,
    /// Only entries created on or after this local date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only entries created on or before this local date (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
}

/// Journal subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum JournalCommand {
    /// Entries, newest first, optionally filtered.
    List {
        /// Which entries.
        #[command(flatten)]
        filters: Filters,
        /// Output format.
        #[command(flatten)]
        output: TableFormatArgs,
    },
    /// One entry with its history.
    Show {
        /// The entry id (transfer id), or any unique beginning of it.
        id: String,
        /// Output format.
        #[command(flatten)]
        output: FormatArgs,
    },
    /// Send the events the fleet centre has not acknowledged (see docs/fleet.md, "Push").
    Push {
        /// The centre.
        #[command(flatten)]
        conn: super::fleet::CentreArgs,
        /// Events per batch (one transaction each).
        #[arg(long, default_value_t = crate::fleet::push::DEFAULT_BATCH)]
        batch: usize,
        /// Print nothing on success (the desk's background push).
        #[arg(long)]
        quiet: bool,
        /// Output format.
        #[command(flatten)]
        output: FormatArgs,
    },
    /// Every entry, for other systems (`jsonl`: one JSON document per line).
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
    /// Copy the journal safely while the desk runs (SQLite online backup, mode 600).
    Backup {
        /// The copy; replaced atomically if it exists.
        #[arg(value_name = "PATH")]
        dest: PathBuf,
        /// Output format.
        #[command(flatten)]
        output: FormatArgs,
    },
}

/// Export formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON document per line (`sscard-journal-export`).
    Jsonl,
    /// One JSON document (`sscard-journal-list`).
    Json,
    /// CSV for spreadsheets, as `list --format csv`.
    Csv,
}

impl JournalCommand {
    /// Whether JSON was asked for (errors are then JSON documents too).
    pub fn wants_json(&self) -> bool {
        match self {
            JournalCommand::List { output, .. } => output.is_json(),
            JournalCommand::Show { output, .. }
            | JournalCommand::Push { output, .. }
            | JournalCommand::Backup { output, .. } => output.is_json(),
            JournalCommand::Export { format } => *format != ExportFormat::Csv,
        }
    }
}

fn jerr(e: journal::JournalError) -> Error {
    Error::Other {
        message: e.to_string(),
        code: ExitCode::Journal,
    }
}

fn usage(message: String) -> Error {
    Error::Other {
        message,
        code: ExitCode::Usage,
    }
}

/// The checked filters.
struct Filter {
    unfinished: bool,
    holder: Option<String>,
    card: Option<String>,
    states: Vec<State>,
    since: Option<NaiveDate>,
    until: Option<NaiveDate>,
}

fn date_arg(flag: &str, v: &Option<String>) -> Result<Option<NaiveDate>, Error> {
    v.as_deref()
        .map(|s| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
                usage(format!(
                    "{flag} '{s}' is not a date: give it as YYYY-MM-DD (e.g. 2026-11-30)"
                ))
            })
        })
        .transpose()
}

impl Filter {
    fn new(f: &Filters) -> Result<Filter, Error> {
        let mut states = Vec::new();
        for s in &f.state {
            let st = State::parse(&s.trim().to_ascii_uppercase()).ok_or_else(|| {
                usage(format!(
                    "--state '{s}' is not a journal state; the states are {}",
                    State::ALL
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?;
            states.push(st);
        }
        let since = date_arg("--since", &f.since)?;
        let until = date_arg("--until", &f.until)?;
        if let (Some(a), Some(b)) = (since, until) {
            if a > b {
                return Err(usage(format!("--since {a} is after --until {b}")));
            }
        }
        Ok(Filter {
            unfinished: f.unfinished,
            holder: f.holder.as_ref().map(|h| h.trim().to_lowercase()),
            card: f.card.as_ref().map(|c| c.trim().to_ascii_uppercase()),
            states,
            since,
            until,
        })
    }

    fn keeps(&self, e: &Entry) -> bool {
        if self.unfinished && e.state.is_final() {
            return false;
        }
        if let Some(h) = &self.holder {
            if !e.holder_name.to_lowercase().contains(h.as_str())
                && !e.citizen_id.to_lowercase().contains(h.as_str())
            {
                return false;
            }
        }
        if let Some(c) = &self.card {
            let has = |o: &Option<String>| {
                o.as_deref()
                    .is_some_and(|n| n.to_ascii_uppercase().contains(c.as_str()))
            };
            if !has(&e.old_card) && !has(&e.new_card) {
                return false;
            }
        }
        if !self.states.is_empty() && !self.states.contains(&e.state) {
            return false;
        }
        if self.since.is_some() || self.until.is_some() {
            let Some(day) = local_date(&e.created_at) else {
                return false;
            };
            if self.since.is_some_and(|s| day < s) || self.until.is_some_and(|u| day > u) {
                return false;
            }
        }
        true
    }
}

/// The local date of a journal time (RFC 3339 with the desk's offset).
fn local_date(at: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.date_naive())
}

/// A journal time as a spreadsheet reads it (`YYYY-MM-DD HH:MM:SS`, the desk's local
/// time) and its UTC offset; the text as stored when it does not parse.
fn sheet_time(at: &str) -> (String, String) {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => (
            t.format("%Y-%m-%d %H:%M:%S").to_string(),
            t.format("%:z").to_string(),
        ),
        Err(_) => (at.to_string(), String::new()),
    }
}

/// The CSV columns of the journal (one row per entry).
pub const CSV_HEADER: [&str; 18] = [
    "id",
    "flow",
    "state",
    "terminal",
    "operator",
    "citizen_id",
    "holder_name",
    "old_card",
    "new_card",
    "account",
    "category",
    "balance_fen",
    "balance_yuan",
    "counter",
    "legacy",
    "created_local",
    "updated_local",
    "utc_offset",
];

fn csv_row(e: &Entry) -> Vec<Cell> {
    let (created, offset) = sheet_time(&e.created_at);
    let (updated, _) = sheet_time(&e.updated_at);
    let num = |v: Option<String>| v.map_or(Cell::Empty, Cell::Number);
    vec![
        Cell::Id(e.id.clone()),
        Cell::Text(e.flow.as_str().into()),
        Cell::Text(e.state.as_str().into()),
        Cell::id(Some(&e.terminal)),
        Cell::id(Some(&e.operator)),
        Cell::id(Some(&e.citizen_id)),
        Cell::Text(e.holder_name.clone()),
        Cell::id(e.old_card.as_deref()),
        Cell::id(e.new_card.as_deref()),
        Cell::id(e.account.as_deref()),
        e.category
            .map_or(Cell::Empty, |c| Cell::Id(format!("{c:02}"))),
        num(e.balance_fen.map(|b| b.to_string())),
        num(e.balance_fen.map(crate::activation::receipt::yuan)),
        num(e.counter.map(|c| c.to_string())),
        Cell::Number(u8::from(e.legacy).to_string()),
        Cell::Number(created),
        Cell::Number(updated),
        if offset.is_empty() {
            Cell::Empty
        } else {
            Cell::Id(offset)
        },
    ]
}

fn write_csv(entries: &[Entry]) -> Result<(), Error> {
    let out = std::io::stdout().lock();
    output::csv::write(out, "stdout", &CSV_HEADER, entries.iter().map(csv_row))
}

/// An optional journal field as text output shows it: escaped, `-` when absent.
fn opt(v: &Option<String>) -> std::borrow::Cow<'_, str> {
    v.as_deref()
        .map_or(std::borrow::Cow::Borrowed("-"), visible)
}

/// The text of `journal list`, every field from the journal escaped.
fn text_list(entries: &[Entry]) -> String {
    if entries.is_empty() {
        return "no entries\n".into();
    }
    let mut out = String::new();
    for e in entries {
        out += &format!(
            "{}  {:<10} {:<9} {}  {} -> {}  {}\n",
            visible(&e.id),
            e.state.as_str(),
            e.flow.as_str(),
            visible(&e.updated_at),
            opt(&e.old_card),
            opt(&e.new_card),
            visible(&e.holder_name)
        );
    }
    out
}

/// The text of `journal show`, every field from the journal escaped.
fn text_entry(e: &Entry, events: &[journal::Event]) -> String {
    let mut out = format!("transfer:  {}\n", visible(&e.id));
    out += &format!("flow:      {}\n", e.flow.as_str());
    out += &format!("state:     {}\n", e.state.as_str());
    out += &format!(
        "holder:    {} ({})\n",
        visible(&e.holder_name),
        visible(&e.citizen_id)
    );
    out += &format!("old card:  {}\n", opt(&e.old_card));
    out += &format!("new card:  {}\n", opt(&e.new_card));
    out += &format!("account:   {}\n", opt(&e.account));
    if let Some(b) = e.balance_fen {
        out += &format!(
            "balance:   {} yuan ({b} fen)\n",
            crate::activation::receipt::yuan(b)
        );
    }
    out += "history:\n";
    for ev in events {
        out += &format!(
            "  {}  {:<10} terminal {} operator {}  {}\n",
            visible(&ev.at),
            ev.state.as_str(),
            visible(&ev.terminal),
            visible(&ev.operator),
            visible(&ev.detail)
        );
    }
    out
}

/// Finds the one entry whose id is `prefix` or starts with it.
///
/// # Errors
/// Not found (exit 13); ambiguous, with the candidates (exit 2).
fn find(j: &Journal, prefix: &str) -> Result<Entry, Error> {
    let want = prefix.trim().to_ascii_uppercase();
    if want.is_empty() {
        return Err(usage("give a transfer id, or its first digits".into()));
    }
    if let Some(e) = j.get(&want).map_err(jerr)? {
        return Ok(e);
    }
    let mut hits: Vec<Entry> = j
        .list()
        .map_err(jerr)?
        .into_iter()
        .filter(|e| e.id.to_ascii_uppercase().starts_with(&want))
        .collect();
    match hits.len() {
        0 => Err(jerr(journal::JournalError::NotFound(want))),
        1 => Ok(hits.remove(0)),
        n => Err(usage(format!(
            "'{prefix}' begins {n} journal entries; give more digits: {}",
            hits.iter()
                .map(|e| format!(
                    "{} ({}, {}, {})",
                    visible(&e.id),
                    e.state.as_str(),
                    visible(&e.holder_name),
                    visible(&e.created_at)
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Runs `sscard journal`.
pub fn run(args: &JournalArgs) -> CmdResult {
    let explicit = args.journal.is_some();
    // The configuration is read only when it is needed: for the journal when no
    // --journal is given (as `activate` resolves it), for the centre when pushing.
    let needs_config = !explicit || matches!(args.command, JournalCommand::Push { .. });
    let cfg = if needs_config {
        crate::config::load(args.config.as_deref())?
            .map(|l| l.config)
            .unwrap_or_default()
    } else {
        crate::config::Config::default()
    };
    let path = cfg.journal_path(args.journal.as_deref());
    if let JournalCommand::Push {
        conn,
        batch,
        quiet,
        output: out,
    } = &args.command
    {
        require_file(&path, explicit)?;
        let target = conn.target(cfg.fleet.as_ref())?;
        let pushed = crate::fleet::push::push_to(&target, &path, *batch)?;
        if out.is_json() {
            output::print(Doc::JournalPush, &pushed)?;
        } else if !quiet {
            print!("{}", push_text(&pushed, &path));
        }
        return Ok(ExitCode::Ok);
    }
    if let JournalCommand::Backup { dest, output: out } = &args.command {
        require_file(&path, explicit)?;
        let b = backup(&path, dest)?;
        if out.is_json() {
            output::print(Doc::JournalBackup, &b)?;
        } else {
            println!(
                "backed up {} entr{} ({} event(s)) from {} to {}",
                b.entries,
                if b.entries == 1 { "y" } else { "ies" },
                b.events,
                b.source,
                b.backup
            );
        }
        return Ok(ExitCode::Ok);
    }
    // Reading: a desk with no journal yet at its path has no entries; a path named
    // with --journal that does not exist is a typo until shown otherwise. A path that
    // cannot be looked at (permission denied, a file where a directory should be) is
    // an error, never "no entries".
    let j = if exists(&path)? {
        Some(Journal::open(&path).map_err(jerr)?)
    } else if explicit {
        return Err(missing(&path, true));
    } else {
        None
    };
    let all = |j: &Option<Journal>| -> Result<Vec<Entry>, Error> {
        match j {
            Some(j) => j.list().map_err(jerr),
            None => Ok(Vec::new()),
        }
    };
    match &args.command {
        JournalCommand::Push { .. } | JournalCommand::Backup { .. } => {
            unreachable!("handled above")
        }
        JournalCommand::List {
            filters,
            output: out,
        } => {
            let filter = Filter::new(filters)?;
            let entries: Vec<Entry> = all(&j)?.into_iter().filter(|e| filter.keeps(e)).collect();
            match out.get() {
                TableFormat::Json => {
                    output::print(Doc::JournalList, &serde_json::json!({ "entries": entries }))?
                }
                TableFormat::Csv => write_csv(&entries)?,
                TableFormat::Text => print!("{}", text_list(&entries)),
            }
        }
        JournalCommand::Show { id, output: out } => {
            let Some(j) = &j else {
                return Err(jerr(journal::JournalError::NotFound(
                    id.to_ascii_uppercase(),
                )));
            };
            let e = find(j, id)?;
            let events = j.events(&e.id).map_err(jerr)?;
            if out.get() == Format::Json {
                output::print(
                    Doc::JournalEntry,
                    &serde_json::json!({"entry": e, "events": events}),
                )?;
            } else {
                print!("{}", text_entry(&e, &events));
            }
        }
        JournalCommand::Export { format } => {
            let entries = all(&j)?;
            match format {
                ExportFormat::Jsonl => {
                    for e in &entries {
                        output::print_line(Doc::JournalExportLine, e)?;
                    }
                }
                ExportFormat::Json => {
                    output::print(Doc::JournalList, &serde_json::json!({ "entries": entries }))?
                }
                ExportFormat::Csv => write_csv(&entries)?,
            }
        }
    }
    Ok(ExitCode::Ok)
}

/// The error for a journal file that does not exist (exit 13); `explicit`: named
/// with `--journal`, so probably mistyped.
fn missing(path: &Path, explicit: bool) -> Error {
    Error::Other {
        message: if explicit {
            format!(
                "no journal at {} (named with --journal): no such file; check the path, \
                 or leave --journal out for this desk's journal ({})",
                path.display(),
                journal::default_path().display()
            )
        } else {
            format!("no journal at {}", path.display())
        },
        code: ExitCode::Journal,
    }
}

fn require_file(path: &Path, explicit: bool) -> Result<(), Error> {
    if exists(path)? {
        Ok(())
    } else {
        Err(missing(path, explicit))
    }
}

/// Whether the journal file is there; `Err` (exit 13) when that cannot be told
/// (`try_exists`: a directory on the way the user may not search, a file where a
/// directory should be), so a journal the user cannot reach is never "no entries".
///
/// # Errors
/// The path cannot be looked at.
fn exists(path: &Path) -> Result<bool, Error> {
    path.try_exists().map_err(|e| Error::Other {
        message: format!(
            "cannot look at the journal {}: {e}; check its directory's permissions \
             (run as the desk's user), or name another with --journal",
            path.display()
        ),
        code: ExitCode::Journal,
    })
}

/// The text `journal push` prints: what was sent, or that another push of this
/// journal holds its lock and this one sent nothing.
fn push_text(p: &crate::fleet::push::PushOutcome, journal: &Path) -> String {
    if p.busy {
        return format!(
            "another push of {} is running (it holds the lock); this one sent nothing, \
             that one sends the events\n",
            journal.display()
        );
    }
    format!(
        "pushed {} event(s) in {} batch(es), {} new at the centre; acknowledged up to #{}\n",
        p.sent, p.batches, p.inserted, p.watermark
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sheet_times_are_local_and_spreadsheet_shaped() {
        let (t, off) = sheet_time("2026-11-30T13:08:25.123+08:00");
        assert_eq!(t, "2026-11-30 13:08:25");
        assert_eq!(off, "+08:00");
        assert_eq!(
            local_date("2026-11-30T23:59:59.000+08:00"),
            NaiveDate::from_ymd_opt(2026, 11, 30)
        );
        assert_eq!(sheet_time("garbage").0, "garbage");
    }

    #[test]
    fn bad_filters_are_usage_errors_naming_the_choices() {
        let f = Filters {
            state: vec!["frozn".into()],
            ..Filters::default()
        };
        let Err(e) = Filter::new(&f) else {
            panic!("accepted")
        };
        assert_eq!(e.exit_code(), ExitCode::Usage);
        assert!(e.to_string().contains("FROZEN"), "{e}");
        let f = Filters {
            since: Some("30/11/2026".into()),
            ..Filters::default()
        };
        assert!(Filter::new(&f).is_err());
        let f = Filters {
            state: vec!["frozen".into()],
            since: Some("2026-11-01".into()),
            ..Filters::default()
        };
        assert!(Filter::new(&f).is_ok());
    }
}
