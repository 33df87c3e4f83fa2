//! `sscard journal list|show|export|backup|push`: the activation journal for the back
//! office.
//!
//! What a supervisor needs from it, and the choices made (issue 15 point 4):
//! - `list` filters by holder (name or citizen ID, any part), card (old or new card
//!   number, any part), state and creation date (`--since`/`--until`, the desk's
//!   local dates, inclusive); an empty journal, or none yet at the default path, is
//!   "no entries" and exit 0: a desk that has not activated a card is not an error.
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
use crate::output::{self, Doc, Format, FormatArgs, TableFormat, TableFormatArgs};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};

/// Arguments of `sscard journal`.
#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    /// The journal file (default as for `sscard activate`).
    #[arg(long, value_name = "PATH", global = true)]
    pub journal: Option<PathBuf>,
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
        conn: super::fleet::ConnArgs,
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

fn print_text_list(entries: &[Entry]) {
    if entries.is_empty() {
        println!("no entries");
        return;
    }
    for e in entries {
        println!(
            "{}  {:<10} {:<9} {}  {} -> {}  {}",
            e.id,
            e.state.as_str(),
            e.flow.as_str(),
            e.updated_at,
            e.old_card.as_deref().unwrap_or("-"),
            e.new_card.as_deref().unwrap_or("-"),
            e.holder_name
        );
    }
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
                    e.id,
                    e.state.as_str(),
                    e.holder_name,
                    e.created_at
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ))),
    }
}

/// Runs `sscard journal`.
pub fn run(args: &JournalArgs) -> CmdResult {
    let explicit = args.journal.is_some();
    let path = args.journal.clone().unwrap_or_else(journal::default_path);
    if let JournalCommand::Push {
        conn,
        batch,
        quiet,
        output: out,
    } = &args.command
    {
        require_file(&path)?;
        let target = conn.target()?;
        let pushed = crate::fleet::push::push_to(&target, &path, *batch)?;
        if out.is_json() {
            output::print(Doc::JournalPush, &pushed)?;
        } else if !quiet {
            println!(
                "pushed {} event(s) in {} batch(es), {} new at the centre; acknowledged up to #{}",
                pushed.sent, pushed.batches, pushed.inserted, pushed.watermark
            );
        }
        return Ok(ExitCode::Ok);
    }
    if let JournalCommand::Backup { dest, output: out } = &args.command {
        require_file(&path)?;
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
    // Reading: a desk with no journal yet has no entries. An explicit path that does
    // not exist is more likely a typo, so it is named on stderr (still exit 0).
    let j = if path.exists() {
        Some(Journal::open(&path).map_err(jerr)?)
    } else {
        if explicit {
            eprintln!("sscard: no journal at {} (no entries)", path.display());
        }
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
                TableFormat::Text => print_text_list(&entries),
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
                println!("transfer:  {}", e.id);
                println!("flow:      {}", e.flow.as_str());
                println!("state:     {}", e.state.as_str());
                println!("holder:    {} ({})", e.holder_name, e.citizen_id);
                println!("old card:  {}", e.old_card.as_deref().unwrap_or("-"));
                println!("new card:  {}", e.new_card.as_deref().unwrap_or("-"));
                println!("account:   {}", e.account.as_deref().unwrap_or("-"));
                if let Some(b) = e.balance_fen {
                    println!(
                        "balance:   {} yuan ({b} fen)",
                        crate::activation::receipt::yuan(b)
                    );
                }
                println!("history:");
                for ev in events {
                    println!(
                        "  {}  {:<10} terminal {} operator {}  {}",
                        ev.at,
                        ev.state.as_str(),
                        ev.terminal,
                        ev.operator,
                        ev.detail
                    );
                }
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

fn require_file(path: &Path) -> Result<(), Error> {
    if path.exists() {
        Ok(())
    } else {
        Err(Error::Other {
            message: format!("no journal at {}", path.display()),
            code: ExitCode::Journal,
        })
    }
}

/// What `journal backup` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupOutcome {
    /// The journal copied.
    pub source: String,
    /// The copy.
    pub backup: String,
    /// Entries in the copy.
    pub entries: u64,
    /// Events in the copy.
    pub events: u64,
    /// Size of the copy, bytes.
    pub bytes: u64,
}

/// Copies the journal at `src` to `dest` with SQLite's online backup API (see the
/// module docs): a consistent snapshot taken on a read-only connection while the desk
/// may be writing, checked, mode 600, renamed over `dest`.
///
/// # Errors
/// Exit 13 (journal) when the journal cannot be read or the copy fails its check;
/// exit 14 (I/O) when the copy cannot be written; exit 2 when `dest` is the journal.
pub fn backup(src: &Path, dest: &Path) -> Result<BackupOutcome, Error> {
    use rusqlite::{Connection, OpenFlags};
    use std::os::unix::fs::OpenOptionsExt;
    let io = |p: &Path, source: std::io::Error| Error::Io {
        path: p.display().to_string(),
        source,
    };
    let sql = |what: &str, e: rusqlite::Error| Error::Other {
        message: format!("journal backup: {what}: {e}"),
        code: ExitCode::Journal,
    };
    let src_real = std::fs::canonicalize(src).map_err(|e| io(src, e))?;
    if std::fs::canonicalize(dest).is_ok_and(|d| d == src_real) {
        return Err(usage(format!(
            "{} is the journal itself; give another path for the copy",
            dest.display()
        )));
    }
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = dest
        .file_name()
        .ok_or_else(|| usage(format!("{} names no file", dest.display())))?;
    if !dir.is_dir() {
        // The likely case at a desk: a USB stick that is not mounted.
        return Err(Error::Other {
            message: format!(
                "the folder {} for the copy does not exist (is the USB stick or share \
                 mounted?); create it or give another path",
                dir.display()
            ),
            code: ExitCode::Io,
        });
    }
    // SQLite's files beside the journal (`-wal`, `-shm`, `-journal`): replacing the
    // write-ahead log loses every transaction not yet checkpointed into the journal
    // when the desk stops uncleanly.
    if let Ok(d) = std::fs::canonicalize(&dir) {
        let target = std::fs::canonicalize(dest).unwrap_or_else(|_| d.join(name));
        for side in ["-wal", "-shm", "-journal"] {
            let mut f = src_real.clone().into_os_string();
            f.push(side);
            if target.as_os_str() == f {
                return Err(usage(format!(
                    "{} is a file SQLite keeps beside the journal; give another path for the copy",
                    dest.display()
                )));
            }
        }
    }
    // Only a regular file is replaced: the rename would put the copy in place of a
    // device (`/dev/null`, `/dev/full` when run as root), a FIFO or a socket.
    if let Ok(m) = std::fs::metadata(dest) {
        if !m.is_file() {
            return Err(usage(format!(
                "{} exists and is not a regular file; give a file path for the copy",
                dest.display()
            )));
        }
    }
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    // Owner-only from the first byte: the copy holds names and citizen IDs.
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| io(&tmp, e))?;
    let result = (|| {
        let source = Connection::open_with_flags(
            &src_real,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sql("open the journal", e))?;
        source
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| sql("open the journal", e))?;
        let mut copy = Connection::open(&tmp).map_err(|e| sql("open the copy", e))?;
        {
            let b =
                rusqlite::backup::Backup::new(&source, &mut copy).map_err(|e| sql("start", e))?;
            // All pages in one step (-1): one read transaction, so one consistent
            // snapshot. Busy/locked is transient (in WAL mode a reader waits only for
            // a checkpoint): retry for up to 10 s.
            let mut waited = 0u32;
            loop {
                match b.step(-1).map_err(|e| sql("copy", e))? {
                    rusqlite::backup::StepResult::Done => break,
                    rusqlite::backup::StepResult::More => {}
                    _ if waited < 100 => {
                        waited += 1;
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                    _ => {
                        return Err(Error::Other {
                            message: "journal backup: the journal stayed locked for 10 s; \
                                      try again"
                                .into(),
                            code: ExitCode::Journal,
                        })
                    }
                }
            }
        }
        // A self-contained file (no -wal beside it) that opens anywhere.
        copy.pragma_update(None, "journal_mode", "DELETE")
            .map_err(|e| sql("finish the copy", e))?;
        let check: String = copy
            .pragma_query_value(None, "integrity_check", |r| r.get(0))
            .map_err(|e| sql("check the copy", e))?;
        if check != "ok" {
            return Err(Error::Other {
                message: format!("journal backup: the copy fails SQLite's check: {check}"),
                code: ExitCode::Journal,
            });
        }
        let count = |table: &str| -> Result<u64, Error> {
            copy.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(|e| sql("count the copy", e))
        };
        let entries = count("entries")?;
        let events = count("events")?;
        drop(copy);
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| io(dest, e))?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        let bytes = std::fs::metadata(dest).map_err(|e| io(dest, e))?.len();
        Ok(BackupOutcome {
            source: src_real.display().to_string(),
            backup: dest.display().to_string(),
            entries,
            events,
            bytes,
        })
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    /// revbreak: `journal backup` onto the journal's write-ahead log replaced it (a
    /// desk stopping uncleanly then lost its uncheckpointed entries), and onto a
    /// device or FIFO replaced the node with a regular file (`/dev/full` as root).
    #[test]
    fn backup_refuses_sqlite_side_files_and_non_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let j = dir.path().join("j.sqlite");
        let held = Journal::open(&j).unwrap();
        let wal = dir.path().join("j.sqlite-wal");
        assert!(wal.exists(), "the journal runs in WAL mode");
        let before = std::fs::read(&wal).unwrap();
        for side in ["j.sqlite-wal", "j.sqlite-shm", "j.sqlite-journal"] {
            let e = backup(&j, &dir.path().join(side)).unwrap_err();
            assert!(e.to_string().contains("beside the journal"), "{side}: {e}");
        }
        assert_eq!(std::fs::read(&wal).unwrap(), before, "the WAL is untouched");
        let fifo = dir.path().join("fifo");
        let ok = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let e = backup(&j, &fifo).unwrap_err();
        assert!(e.to_string().contains("not a regular file"), "{e}");
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
        // A regular file is still replaced.
        let copy = dir.path().join("copy.sqlite");
        std::fs::write(&copy, b"old").unwrap();
        backup(&j, &copy).unwrap();
        drop(held);
    }

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
