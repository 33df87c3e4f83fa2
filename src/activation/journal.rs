//! The activation journal: the terminal's durable record of every transfer.
//!
//! SQLite (bundled, so every terminal runs the same engine) in WAL mode with
//! `synchronous = FULL`: a state change is on disk when [`Journal::advance`] returns,
//! and the flows call it *before* the card write it announces (spec/activation.md).
//! The journal never holds a PIN, key or cryptogram; it holds what a supervisor needs
//! to find the money: card numbers, account, balance, transfer id and the history of
//! states with terminal and operator.
//!
//! Why it guards itself rather than trusting its callers (issue 10):
//! - **Its own state order.** [`State::may_become`] (the core's) is the one table of legal moves;
//!   a final state (`COMPLETE`, `CANCELLED`) is final, so a stale process can never
//!   turn a completed transfer into a cancelled one (issue 10, case 5).
//! - **One process per transfer.** Every announce holds an exclusive lock
//!   (`flock`) on `<journal>.locks/<ID>`, released when the process ends however it
//!   ends; a second process is refused with [`JournalError::InUse`], a refusal of its
//!   own, never mistaken for an absent card.
//! - **Its file removed or replaced.** Before every announce the path's device and
//!   inode are compared with the file opened at [`Journal::open`]; records written to
//!   an unlinked file would be lost, so the journal refuses ([`JournalError::Removed`],
//!   [`JournalError::Replaced`]) and nothing further is written to a card.
//! - **Old journals.** Schema 1 (before the transfer protocol bound each transfer to
//!   one new card at the freeze) is migrated in place; its entries are marked
//!   [`Entry::legacy`], and [`Entry::bound_card`] is `None` for them, so a cancel
//!   reads the old card first instead of trusting a card number recorded for another
//!   purpose. Schema 2 adds nothing to migrate in the rows; schema 3 adds the journal's
//!   instance id and the card reads (below).
//! - **Its instance.** Every journal file gets a random instance id when it is created
//!   ([`Journal::instance`]); the fleet centre keys a desk's events by terminal,
//!   instance and sequence, so a journal deleted and re-created (its sequence starting
//!   again at 1) never collides with the events its predecessor pushed (issue 13).
//!   Journals migrated from schema 1 or 2 keep the empty instance `""`, the key their
//!   earlier pushes were stored under at the centre.
//! - **Card reads.** The desk notes each not-yet-activated new card it reads
//!   ([`Journal::note_card_read`]: card number, issue and expiry dates, the six-month
//!   activation deadline of spec/activation.md, the holder's citizen ID *masked*), so
//!   the back office can list cards near or past that deadline. No PIN, key or
//!   cryptogram, as everywhere in the journal.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Journal schema version (PRAGMA user_version). 1: before the transfer protocol;
/// 2: adds the transfer counter and the legacy mark; 3: adds the instance id
/// (`journal_meta`) and the card reads (`card_reads`).
pub const SCHEMA_VERSION: i32 = 3;

/// Where a transfer stands: the core's journal states (spec/activation.md), so that
/// the order the journal enforces is the one the protocol follows, written once
/// ([`State::may_become`]). Pharmacy: `FREEZING → FROZEN → CREDITING → CREDITED →
/// COMPLETE`; cancel: `VOIDING → VOIDED → CANCELLING → CANCELLED`; window and first
/// use: `CREDITING → CREDITED → COMPLETE`. `COMPLETE` and `CANCELLED` are final.
pub use super::core::types::JournalState as State;

/// Every state, in declaration order.
pub const STATES: &[State] = State::ALL;

impl Serialize for State {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Which flow an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Flow {
    /// Dual insert: old city card to new SSC.
    Pharmacy,
    /// Bureau window, new card only.
    Window,
    /// Hospital first use, new card only.
    FirstUse,
}

impl Flow {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// A stored name; a journal from before the flows were named (none stored) is
    /// pharmacy's.
    fn parse(s: &str) -> Flow {
        s.parse().unwrap_or(Flow::Pharmacy)
    }
}

/// One transfer or activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The transfer id (hex); for window flows, the journal's own id.
    pub id: String,
    /// The flow.
    pub flow: Flow,
    /// The current state.
    pub state: State,
    /// The terminal number.
    pub terminal: String,
    /// The operator.
    pub operator: String,
    /// The holder's citizen ID.
    pub citizen_id: String,
    /// The holder's name.
    pub holder_name: String,
    /// The old card's number (pharmacy).
    pub old_card: Option<String>,
    /// N: the new card's number. Schema 2 entries record it at `FREEZING` (the card
    /// the transfer is bound to); see [`Entry::bound_card`].
    pub new_card: Option<String>,
    /// The medical account number.
    pub account: Option<String>,
    /// The insured category.
    pub category: Option<u8>,
    /// The balance moved, in fen.
    pub balance_fen: Option<u32>,
    /// The old card's transfer counter after the freeze (the first 4 bytes of the
    /// transfer id); `None` for window flows and legacy entries.
    pub counter: Option<u32>,
    /// Written by a journal of schema 1 (before the transfer protocol): its
    /// `new_card` is not a binding.
    pub legacy: bool,
    /// When the entry was created (RFC 3339, local time).
    pub created_at: String,
    /// When the state last changed.
    pub updated_at: String,
}

impl Entry {
    /// N, the new card this transfer is bound to, as far as this journal knows:
    /// `None` for legacy entries (their card number was recorded at the credit, not
    /// bound at the freeze), so a cancel must read the old card first.
    pub fn bound_card(&self) -> Option<&str> {
        if self.legacy {
            None
        } else {
            self.new_card.as_deref()
        }
    }
}

/// One state change in an entry's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Event {
    /// The state entered.
    pub state: State,
    /// When.
    pub at: String,
    /// The terminal.
    pub terminal: String,
    /// The operator.
    pub operator: String,
    /// A note (e.g. "resumed", "old card not present").
    pub detail: String,
}

/// The receipt of a durable announce: the entry `id` is at `state`, on disk. The
/// activation core turns it into its `Announced` proof, which a card write needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "an announce is made for the card write that follows it"]
pub struct Recorded {
    /// The entry.
    pub id: String,
    /// The state now on disk.
    pub state: State,
    /// The event's sequence number in the journal.
    pub seq: i64,
}

/// Journal failures.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// SQLite failed.
    #[error("journal {path}: {source}")]
    Sql {
        /// The journal file.
        path: String,
        /// The failure.
        source: rusqlite::Error,
    },
    /// The journal directory or a lock file cannot be created.
    #[error("journal {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// No such entry.
    #[error("no journal entry {0}")]
    NotFound(String),
    /// The file was written by a newer sscard.
    #[error("journal {path} has schema {found}, newer than this sscard ({SCHEMA_VERSION})")]
    TooNew {
        /// The journal file.
        path: String,
        /// Its schema version.
        found: i32,
    },
    /// A move the state order forbids (a final state is final).
    #[error("journal entry {id} is {from}; it cannot become {to}")]
    IllegalMove {
        /// The entry.
        id: String,
        /// Its state.
        from: &'static str,
        /// The state asked for.
        to: &'static str,
    },
    /// An entry created twice.
    #[error("journal entry {0} already exists")]
    Exists(String),
    /// N, once recorded, never changes.
    #[error("journal entry {id} is bound to new card {bound}, not {asked}")]
    Rebind {
        /// The entry.
        id: String,
        /// The card recorded.
        bound: String,
        /// The card asked for.
        asked: String,
    },
    /// Another process of this terminal works on the transfer.
    #[error("transfer {id} is in use by another sscard process{} on this terminal; wait for it to finish (this is not a missing card)", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    InUse {
        /// The transfer.
        id: String,
        /// The process holding it, when it said.
        holder: Option<u32>,
    },
    /// The journal file was deleted after it was opened.
    #[error("journal {path} was deleted while this process had it open; nothing more is written to a card (records would be lost). Restore the file from backup or ask the supervisor")]
    Removed {
        /// The journal file.
        path: String,
    },
    /// The journal path now names another file.
    #[error("journal {path} was replaced by another file while this process had it open; nothing more is written to a card. Ask the supervisor which journal is the terminal's")]
    Replaced {
        /// The journal file.
        path: String,
    },
}

/// The journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    /// The database file as opened, to notice removal or replacement.
    file: File,
    /// Transfers this process holds (lock files with an exclusive `flock`).
    claims: HashMap<String, File>,
}

/// The default journal path: `$SSCARD_JOURNAL`, else `/var/lib/sscard/journal.sqlite`
/// for root, else `$XDG_STATE_HOME/sscard/journal.sqlite` (`~/.local/state/...`).
pub fn default_path() -> PathBuf {
    if let Some(p) = std::env::var_os("SSCARD_JOURNAL") {
        return PathBuf::from(p);
    }
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || std::env::var_os("HOME").is_some_and(|h| h == "/root");
    if is_root {
        return PathBuf::from("/var/lib/sscard/journal.sqlite");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("sscard").join("journal.sqlite")
}

/// Appends one state change to an entry's history (inside the caller's transaction).
fn insert_event(
    tx: &rusqlite::Transaction<'_>,
    id: &str,
    state: State,
    at: &str,
    terminal: &str,
    operator: &str,
    detail: &str,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, state.as_str(), at, terminal, operator, detail],
    )?;
    Ok(tx.last_insert_rowid())
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

const SCHEMA_2: &str = "CREATE TABLE IF NOT EXISTS entries (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        state TEXT NOT NULL,
        terminal TEXT NOT NULL,
        operator TEXT NOT NULL,
        citizen_id TEXT NOT NULL,
        holder_name TEXT NOT NULL,
        old_card TEXT,
        new_card TEXT,
        account TEXT,
        category INTEGER,
        balance_fen INTEGER,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        counter INTEGER,
        legacy INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE IF NOT EXISTS events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL REFERENCES entries(id),
        state TEXT NOT NULL,
        at TEXT NOT NULL,
        terminal TEXT NOT NULL,
        operator TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS events_by_id ON events(id);
    PRAGMA user_version = 2;";

/// Schema 1 to 2: the counter column, and every existing entry marked legacy.
const MIGRATE_1_TO_2: &str = "ALTER TABLE entries ADD COLUMN counter INTEGER;
    ALTER TABLE entries ADD COLUMN legacy INTEGER NOT NULL DEFAULT 0;
    UPDATE entries SET legacy = 1;
    PRAGMA user_version = 2;";

/// Schema 2 to 3 (and the tail of a new file): the instance id and the card reads.
/// The instance row is written by [`Journal::open`]: random for a new file, `""`
/// for a migrated one.
const SCHEMA_3: &str = "CREATE TABLE IF NOT EXISTS journal_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE IF NOT EXISTS card_reads (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        terminal TEXT NOT NULL,
        operator TEXT NOT NULL,
        card_number TEXT NOT NULL,
        issue_date TEXT,
        expiry_date TEXT,
        deadline TEXT NOT NULL,
        deadline_basis TEXT NOT NULL,
        holder_masked TEXT
    );
    PRAGMA user_version = 3;";

/// The instance id of a journal migrated from schema 1 or 2: the key its events
/// were pushed under before instances existed (the centre's migration 0002 gives
/// those rows the same empty value).
pub const LEGACY_INSTANCE: &str = "";

/// A new random instance id: 16 random bytes in hex.
fn new_instance() -> Result<String, std::io::Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(hex::encode_upper(b))
}

/// A not-yet-activated new card as a desk read it: what the back office's report
/// of cards near or past the six-month activation deadline needs (issue 13), and
/// nothing more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardRead {
    /// The journal's sequence of card reads.
    pub seq: i64,
    /// When (RFC 3339, local time).
    pub at: String,
    /// The terminal.
    pub terminal: String,
    /// The operator.
    pub operator: String,
    /// The card number (EF05 tag 07).
    pub card_number: String,
    /// The issue date (EF05 tag 05) when the read had it.
    pub issue_date: Option<crate::profile::Date>,
    /// The expiry date (EF05 tag 06) when the read had it.
    pub expiry_date: Option<crate::profile::Date>,
    /// The activation deadline: issue date + 6 months (spec/activation.md).
    pub deadline: crate::profile::Date,
    /// What the deadline was computed from: `issue_date`, or `expiry_date` when the
    /// flow read only the expiry (cards are valid ten years, spec/activation.md, so
    /// the issue date is the expiry date − 10 years).
    pub deadline_basis: String,
    /// The holder's citizen ID masked (region code and the last four characters
    /// kept: `110101********1234`), when the read had it.
    pub holder_masked: Option<String>,
}

/// A citizen ID masked for the centre: the first six characters (region) and the
/// last four kept, the birth date and the rest replaced by `*`; `None` when it is
/// not shaped as one (18 characters, digits where kept, last a digit or `X`).
pub fn mask_citizen_id(id: &str) -> Option<String> {
    let c: Vec<char> = id.chars().collect();
    let digits = |r: std::ops::Range<usize>| c[r].iter().all(char::is_ascii_digit);
    if c.len() != 18 || !digits(0..6) || !digits(14..17) || !matches!(c[17], '0'..='9' | 'X' | 'x')
    {
        return None;
    }
    Some(format!(
        "{}{}{}",
        c[..6].iter().collect::<String>(),
        "*".repeat(8),
        c[14..].iter().collect::<String>()
    ))
}

/// The card read of a new card from the fields a flow read (its `seq` 0 until
/// recorded), or `None` when it is not one the deadline report needs: its status is
/// not `not_activated`, or neither date was read, or it has no card number.
pub fn card_read_of(
    profile: &crate::profile::Profile,
    fields: &crate::card::fields::Fields,
    terminal: &str,
    operator: &str,
) -> Option<CardRead> {
    let status = fields.code("status").ok()?;
    if profile.field("status").ok()?.code_name(status) != Some("not_activated") {
        return None;
    }
    let card_number = fields.text("card_number").ok()?;
    let issue_date = fields.date("issue_date").ok().flatten();
    let expiry_date = fields.date("expiry_date").ok().flatten();
    let (deadline, basis) = match (issue_date, expiry_date) {
        (Some(i), _) => (crate::card::checks::activation_deadline(i)?, "issue_date"),
        (None, Some(e)) => (
            crate::card::checks::activation_deadline(
                e.checked_sub_months(chrono::Months::new(120))?,
            )?,
            "expiry_date",
        ),
        (None, None) => return None,
    };
    Some(CardRead {
        seq: 0,
        at: now(),
        terminal: terminal.to_string(),
        operator: operator.to_string(),
        card_number,
        issue_date,
        expiry_date,
        deadline,
        deadline_basis: basis.to_string(),
        holder_masked: fields
            .text("citizen_id")
            .ok()
            .and_then(|c| mask_citizen_id(&c)),
    })
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`, migrating a schema 1 file.
    ///
    /// # Errors
    /// [`JournalError::Io`] when the directory cannot be made, [`JournalError::Sql`]
    /// when the file is not a journal, [`JournalError::TooNew`] when a newer sscard
    /// wrote it.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let p = path.display().to_string();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
                path: p.clone(),
                source,
            })?;
        }
        let sql = |source| JournalError::Sql {
            path: p.clone(),
            source,
        };
        let mut conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        let file = File::open(path).map_err(|source| JournalError::Io {
            path: p.clone(),
            source,
        })?;
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let version: i32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        match version {
            v if v > SCHEMA_VERSION => {
                return Err(JournalError::TooNew {
                    path: p,
                    found: version,
                })
            }
            1 => tx
                .execute_batch(&format!("{MIGRATE_1_TO_2}{SCHEMA_3}"))
                .map_err(sql)?,
            2 => tx.execute_batch(SCHEMA_3).map_err(sql)?,
            3 => {}
            _ => tx
                .execute_batch(&format!("{SCHEMA_2}{SCHEMA_3}"))
                .map_err(sql)?,
        }
        if version < SCHEMA_VERSION {
            // A new file gets a fresh instance; a migrated one keeps the key its
            // earlier pushes were stored under.
            let instance = if version == 0 {
                new_instance().map_err(|source| JournalError::Io {
                    path: p.clone(),
                    source,
                })?
            } else {
                LEGACY_INSTANCE.to_string()
            };
            tx.execute(
                "INSERT OR IGNORE INTO journal_meta (key, value) VALUES ('instance', ?1)",
                params![instance],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            file,
            claims: HashMap::new(),
        })
    }

    fn sql(&self, source: rusqlite::Error) -> JournalError {
        JournalError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Checks that the path still names the file opened at [`Journal::open`].
    ///
    /// # Errors
    /// [`JournalError::Removed`] or [`JournalError::Replaced`].
    pub fn check_file(&self) -> Result<(), JournalError> {
        let path = self.path.display().to_string();
        let held = self.file.metadata().map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(JournalError::Removed { path })
            }
            Err(source) => return Err(JournalError::Io { path, source }),
        };
        if (now.dev(), now.ino()) != (held.dev(), held.ino()) {
            return Err(JournalError::Replaced { path });
        }
        if held.nlink() == 0 {
            return Err(JournalError::Removed { path });
        }
        Ok(())
    }

    /// The lock file of transfer `id`.
    fn lock_path(&self, id: &str) -> PathBuf {
        let mut dir = self.path.clone().into_os_string();
        dir.push(".locks");
        PathBuf::from(dir).join(id)
    }

    /// Claims transfer `id` for this process (an exclusive `flock` on its lock file,
    /// released when the journal is dropped or the process ends). Claiming a transfer
    /// this journal already holds does nothing.
    ///
    /// # Errors
    /// [`JournalError::InUse`] when another process holds it; [`JournalError::Io`]
    /// when the lock file cannot be made.
    pub fn claim(&mut self, id: &str) -> Result<(), JournalError> {
        let id = id.to_ascii_uppercase();
        if self.claims.contains_key(&id) {
            return Ok(());
        }
        let lock = self.lock_path(&id);
        let io = |source| JournalError::Io {
            path: lock.display().to_string(),
            source,
        };
        if let Some(dir) = lock.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock)
            .map_err(io)?;
        // flock(2) (through rustix; `File::try_lock` needs Rust 1.89, the MSRV is 1.85):
        // exclusive, non-blocking, released by the kernel when the process ends.
        use rustix::fs::{flock, FlockOperation};
        match flock(&f, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(e) if e == rustix::io::Errno::WOULDBLOCK => {
                let holder = std::fs::read_to_string(&lock)
                    .ok()
                    .and_then(|t| t.trim().parse().ok());
                return Err(JournalError::InUse { id, holder });
            }
            Err(e) => return Err(io(e.into())),
        }
        use std::io::{Seek, Write};
        f.set_len(0).map_err(io)?;
        f.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
        write!(f, "{}", std::process::id()).map_err(io)?;
        self.claims.insert(id, f);
        Ok(())
    }

    /// Releases transfer `id` (another process may then work on it).
    pub fn release(&mut self, id: &str) {
        self.claims.remove(&id.to_ascii_uppercase());
    }

    /// Whether this journal holds transfer `id`.
    pub fn holds(&self, id: &str) -> bool {
        self.claims.contains_key(&id.to_ascii_uppercase())
    }

    /// Records a new entry in its first state; durable when this returns. Claims the
    /// transfer and checks the file first.
    ///
    /// # Errors
    /// [`JournalError::Exists`] when the entry is already there (use
    /// [`Journal::advance`]), [`JournalError::InUse`], [`JournalError::Removed`],
    /// [`JournalError::Replaced`], [`JournalError::Sql`].
    pub fn begin(&mut self, entry: &Entry, detail: &str) -> Result<Recorded, JournalError> {
        let id = entry.id.to_ascii_uppercase();
        self.claim(&id)?;
        self.check_file()?;
        let at = now();
        let path = self.path.display().to_string();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM entries WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        if exists.is_some() {
            return Err(JournalError::Exists(id));
        }
        tx.execute(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                old_card, new_card, account, category, balance_fen, created_at, updated_at,
                counter, legacy)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, 0)",
            params![
                id,
                entry.flow.as_str(),
                entry.state.as_str(),
                entry.terminal,
                entry.operator,
                entry.citizen_id,
                entry.holder_name,
                entry.old_card,
                entry.new_card,
                entry.account,
                entry.category,
                entry.balance_fen,
                at,
                entry.counter,
            ],
        )
        .map_err(err)?;
        let seq = insert_event(
            &tx,
            &id,
            entry.state,
            &at,
            &entry.terminal,
            &entry.operator,
            detail,
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Recorded {
            id,
            state: entry.state,
            seq,
        })
    }

    /// Moves an entry to `state` (recording who and why); durable when this returns.
    /// Claims the transfer, checks the file, and refuses a move the state order
    /// forbids ([`State::may_become`]).
    ///
    /// # Errors
    /// [`JournalError::NotFound`], [`JournalError::IllegalMove`],
    /// [`JournalError::InUse`], [`JournalError::Removed`], [`JournalError::Replaced`],
    /// [`JournalError::Sql`].
    pub fn advance(
        &mut self,
        id: &str,
        state: State,
        terminal: &str,
        operator: &str,
        detail: &str,
    ) -> Result<Recorded, JournalError> {
        let id = id.to_ascii_uppercase();
        self.claim(&id)?;
        self.check_file()?;
        let at = now();
        let path = self.path.display().to_string();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(err)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT state FROM entries WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        let Some(current) = current else {
            return Err(JournalError::NotFound(id));
        };
        let from = State::parse(&current).ok_or_else(|| JournalError::IllegalMove {
            id: id.clone(),
            from: "an unknown state",
            to: state.as_str(),
        })?;
        if !from.may_become(state) {
            return Err(JournalError::IllegalMove {
                id,
                from: from.as_str(),
                to: state.as_str(),
            });
        }
        tx.execute(
            "UPDATE entries SET state = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, state.as_str(), at],
        )
        .map_err(err)?;
        let seq = insert_event(&tx, &id, state, &at, terminal, operator, detail).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(Recorded { id, state, seq })
    }

    /// Records N, the new card of an entry. Once recorded it never changes: the
    /// transfer is bound to that card.
    ///
    /// # Errors
    /// [`JournalError::Rebind`] when another card is recorded, [`JournalError::NotFound`],
    /// [`JournalError::InUse`], [`JournalError::Removed`], [`JournalError::Replaced`].
    pub fn set_new_card(&mut self, id: &str, new_card: &str) -> Result<(), JournalError> {
        let id = id.to_ascii_uppercase();
        let e = self
            .get(&id)?
            .ok_or_else(|| JournalError::NotFound(id.clone()))?;
        match e.new_card.as_deref() {
            Some(b) if b == new_card => return Ok(()),
            Some(b) if !e.legacy => {
                return Err(JournalError::Rebind {
                    id,
                    bound: b.to_string(),
                    asked: new_card.to_string(),
                })
            }
            _ => {}
        }
        self.claim(&id)?;
        self.check_file()?;
        self.conn
            .execute(
                "UPDATE entries SET new_card = ?2, legacy = 0 WHERE id = ?1",
                params![id, new_card],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
        let state: String = r.get(2)?;
        let flow: String = r.get(1)?;
        let legacy: i64 = r.get(15)?;
        Ok(Entry {
            id: r.get(0)?,
            flow: Flow::parse(&flow),
            state: State::parse(&state).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown journal state '{state}'").into(),
                )
            })?,
            terminal: r.get(3)?,
            operator: r.get(4)?,
            citizen_id: r.get(5)?,
            holder_name: r.get(6)?,
            old_card: r.get(7)?,
            new_card: r.get(8)?,
            account: r.get(9)?,
            category: r.get(10)?,
            balance_fen: r.get(11)?,
            created_at: r.get(12)?,
            updated_at: r.get(13)?,
            counter: r.get(14)?,
            legacy: legacy != 0,
        })
    }

    const COLUMNS: &'static str = "id, flow, state, terminal, operator, citizen_id, holder_name, \
        old_card, new_card, account, category, balance_fen, created_at, updated_at, counter, legacy";

    /// One entry.
    pub fn get(&self, id: &str) -> Result<Option<Entry>, JournalError> {
        self.conn
            .query_row(
                &format!("SELECT {} FROM entries WHERE id = ?1", Self::COLUMNS),
                params![id.to_ascii_uppercase()],
                Self::row_to_entry,
            )
            .optional()
            .map_err(|e| self.sql(e))
    }

    /// All entries, newest first.
    pub fn list(&self) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {} FROM entries ORDER BY created_at DESC, id",
                Self::COLUMNS
            ))
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map([], Self::row_to_entry)
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Entries not yet complete or cancelled, oldest first.
    pub fn unfinished(&self) -> Result<Vec<Entry>, JournalError> {
        let mut all = self.list()?;
        all.retain(|e| !e.state.is_final());
        all.reverse();
        Ok(all)
    }

    /// An entry's history, oldest first.
    pub fn events(&self, id: &str) -> Result<Vec<Event>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT state, at, terminal, operator, detail FROM events WHERE id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.sql(e))?;
        let rows = stmt
            .query_map(params![id.to_ascii_uppercase()], |r| {
                let state: String = r.get(0)?;
                Ok(Event {
                    state: State::parse(&state).ok_or_else(|| {
                        rusqlite::Error::FromSqlConversionFailure(
                            0,
                            rusqlite::types::Type::Text,
                            format!("unknown journal state '{state}'").into(),
                        )
                    })?,
                    at: r.get(1)?,
                    terminal: r.get(2)?,
                    operator: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// This journal file's instance id (random, made when the file was created;
    /// [`LEGACY_INSTANCE`] for a file migrated from schema 1 or 2).
    ///
    /// # Errors
    /// [`JournalError::Sql`].
    pub fn instance(&self) -> Result<String, JournalError> {
        self.conn
            .query_row(
                "SELECT value FROM journal_meta WHERE key = 'instance'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sql(e))
    }

    /// Gives this journal a new random instance id, for a journal file restored from
    /// a backup or copied (its sequence numbers then name, at the fleet centre,
    /// records it no longer has): from now on its records go to the centre under the
    /// new instance, so none collides. Returns the new id.
    ///
    /// # Errors
    /// [`JournalError::Removed`], [`JournalError::Replaced`], [`JournalError::Io`]
    /// (no randomness), [`JournalError::Sql`].
    pub fn renew_instance(&mut self) -> Result<String, JournalError> {
        self.check_file()?;
        let id = new_instance().map_err(|source| JournalError::Io {
            path: self.path.display().to_string(),
            source,
        })?;
        self.conn
            .execute(
                "INSERT INTO journal_meta (key, value) VALUES ('instance', ?1)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![id],
            )
            .map_err(|e| self.sql(e))?;
        Ok(id)
    }

    /// Records a card read (see [`CardRead`]); returns its sequence number.
    ///
    /// # Errors
    /// [`JournalError::Removed`], [`JournalError::Replaced`], [`JournalError::Sql`].
    pub fn record_card_read(&mut self, r: &CardRead) -> Result<i64, JournalError> {
        self.check_file()?;
        let d = |d: Option<crate::profile::Date>| d.map(|d| d.to_string());
        self.conn
            .execute(
                "INSERT INTO card_reads (at, terminal, operator, card_number, issue_date,
                    expiry_date, deadline, deadline_basis, holder_masked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    r.at,
                    r.terminal,
                    r.operator,
                    r.card_number,
                    d(r.issue_date),
                    d(r.expiry_date),
                    r.deadline.to_string(),
                    r.deadline_basis,
                    r.holder_masked
                ],
            )
            .map_err(|e| self.sql(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Notes that the desk read a new card (the flows call it when they open one):
    /// records it when it is not yet activated ([`card_read_of`]). Never fails a
    /// flow: a failure is logged, since nothing on a card depends on this record
    /// (the announces do, and they report a broken journal themselves).
    pub fn note_card_read(
        &mut self,
        profile: &crate::profile::Profile,
        fields: &crate::card::fields::Fields,
        terminal: &str,
        operator: &str,
    ) {
        if let Some(r) = card_read_of(profile, fields, terminal, operator) {
            if let Err(e) = self.record_card_read(&r) {
                log::warn!("card read of {} not journaled: {e}", r.card_number);
            }
        }
    }

    /// The card reads, oldest first.
    ///
    /// # Errors
    /// [`JournalError::Sql`].
    pub fn card_reads(&self) -> Result<Vec<CardRead>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, at, terminal, operator, card_number, issue_date, expiry_date,
                        deadline, deadline_basis, holder_masked FROM card_reads ORDER BY seq",
            )
            .map_err(|e| self.sql(e))?;
        let date = |s: Option<String>| s.and_then(|s| s.parse::<crate::profile::Date>().ok());
        let rows = stmt
            .query_map([], |r| {
                let deadline: String = r.get(7)?;
                Ok(CardRead {
                    seq: r.get(0)?,
                    at: r.get(1)?,
                    terminal: r.get(2)?,
                    operator: r.get(3)?,
                    card_number: r.get(4)?,
                    issue_date: date(r.get(5)?),
                    expiry_date: date(r.get(6)?),
                    deadline: deadline.parse().map_err(|_| {
                        rusqlite::Error::FromSqlConversionFailure(
                            7,
                            rusqlite::types::Type::Text,
                            format!("bad deadline '{deadline}'").into(),
                        )
                    })?,
                    deadline_basis: r.get(8)?,
                    holder_masked: r.get(9)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Whether a credit of the new card was ever announced for this entry.
    pub fn credit_attempted(&self, id: &str) -> Result<bool, JournalError> {
        Ok(self.events(id)?.iter().any(|e| {
            matches!(
                e.state,
                State::Crediting | State::Credited | State::Complete
            )
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Entry {
        Entry {
            id: id.into(),
            flow: Flow::Pharmacy,
            state: State::Freezing,
            terminal: "639900000001".into(),
            operator: "op1".into(),
            citizen_id: "111111198101011110".into(),
            holder_name: "张三".into(),
            old_card: Some("6399000123".into()),
            new_card: Some("X00000019".into()),
            account: Some("6300001234".into()),
            category: Some(1),
            balance_fen: Some(123456),
            counter: Some(1),
            legacy: false,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn entries_advance_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/journal.sqlite");
        {
            let mut j = Journal::open(&path).unwrap();
            let r = j.begin(&entry("AB01"), "old card read").unwrap();
            assert_eq!(r.state, State::Freezing);
            let r2 = j
                .advance("AB01", State::Frozen, "639900000001", "op1", "")
                .unwrap();
            assert!(r2.seq > r.seq);
            assert!(!j.credit_attempted("AB01").unwrap());
            let _ = j
                .advance("AB01", State::Crediting, "639900000001", "op2", "")
                .unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let e = j.get("ab01").unwrap().unwrap();
        assert_eq!(e.state, State::Crediting);
        assert_eq!(e.bound_card(), Some("X00000019"));
        assert_eq!(e.counter, Some(1));
        assert!(!e.legacy);
        assert!(j.credit_attempted("AB01").unwrap());
        let ev = j.events("AB01").unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[2].operator, "op2");
        assert_eq!(j.unfinished().unwrap().len(), 1);
        drop(j);
        let mut j = Journal::open(&path).unwrap();
        assert!(matches!(
            j.advance("nope", State::Frozen, "", "", ""),
            Err(JournalError::NotFound(_))
        ));
        assert!(matches!(
            j.begin(&entry("AB01"), ""),
            Err(JournalError::Exists(_))
        ));
    }

    #[test]
    fn the_state_order_is_enforced_and_final_is_final() {
        use State::*;
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let _ = j.begin(&entry("C1"), "").unwrap();
        for st in [Frozen, Crediting, Crediting, Credited, Complete] {
            let _ = j.advance("C1", st, "t", "o", "").unwrap();
        }
        // Issue 10 case 5: a completed transfer can never become a cancelled one.
        let e = j.advance("C1", Cancelling, "t", "o", "").unwrap_err();
        assert!(matches!(e, JournalError::IllegalMove { .. }), "{e}");
        assert!(e
            .to_string()
            .contains("is COMPLETE; it cannot become CANCELLING"));
        for &st in State::ALL {
            assert!(j.advance("C1", st, "t", "o", "").is_err(), "{st:?}");
        }
        assert_eq!(j.get("C1").unwrap().unwrap().state, Complete);
        assert_eq!(j.events("C1").unwrap().len(), 6);
        // Never backwards.
        let _ = j.begin(&entry("C2"), "").unwrap();
        let _ = j.advance("C2", Credited, "t", "o", "").unwrap();
        assert!(j.advance("C2", Frozen, "t", "o", "").is_err());
        assert!(j.advance("C2", Voiding, "t", "o", "").is_err(), "N holds X");
        // The cancel moves forward only, and ends final.
        let _ = j.begin(&entry("C3"), "").unwrap();
        let _ = j.advance("C3", Frozen, "t", "o", "").unwrap();
        for st in [Voiding, Voiding, Voided, Cancelling, Cancelled] {
            let _ = j.advance("C3", st, "t", "o", "").unwrap();
        }
        assert!(j.advance("C3", Frozen, "t", "o", "").is_err());
        let _ = j.begin(&entry("C4"), "").unwrap();
        let _ = j.advance("C4", Voiding, "t", "o", "").unwrap();
        let _ = j.advance("C4", Voided, "t", "o", "").unwrap();
        assert!(
            j.advance("C4", Credited, "t", "o", "").is_err(),
            "the floor bars it"
        );
        assert!(j.advance("C4", Voiding, "t", "o", "").is_err());
        // The stored names are the spec's.
        let names: Vec<_> = STATES.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "FREEZING",
                "FROZEN",
                "CREDITING",
                "CREDITED",
                "COMPLETE",
                "VOIDING",
                "VOIDED",
                "CANCELLING",
                "CANCELLED"
            ]
        );
        assert_eq!(serde_json::to_string(&Voiding).unwrap(), "\"VOIDING\"");
    }

    #[test]
    fn n_is_bound_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let _ = j.begin(&entry("D1"), "").unwrap();
        j.set_new_card("D1", "X00000019").unwrap();
        let e = j.set_new_card("D1", "X00000043").unwrap_err();
        assert!(matches!(e, JournalError::Rebind { .. }), "{e}");
        assert_eq!(
            j.get("D1").unwrap().unwrap().new_card.as_deref(),
            Some("X00000019")
        );
    }

    #[test]
    fn one_process_per_transfer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let mut a = Journal::open(&path).unwrap();
        let mut b = Journal::open(&path).unwrap();
        let _ = a.begin(&entry("E1"), "").unwrap();
        assert!(a.holds("e1"));
        // flock conflicts between open file descriptions, as between processes.
        let e = b.claim("E1").unwrap_err();
        match &e {
            JournalError::InUse { id, holder } => {
                assert_eq!(id, "E1");
                assert_eq!(*holder, Some(std::process::id()));
            }
            other => panic!("{other}"),
        }
        assert!(e.to_string().contains("in use by another sscard process"));
        assert!(e.to_string().contains("not a missing card"));
        let e = b.advance("E1", State::Frozen, "t", "o", "").unwrap_err();
        assert!(matches!(e, JournalError::InUse { .. }));
        assert_eq!(b.get("E1").unwrap().unwrap().state, State::Freezing);
        // Another transfer is free.
        b.claim("E2").unwrap();
        a.release("E1");
        let _ = b.advance("E1", State::Frozen, "t", "o", "").unwrap();
        drop(b);
        a.claim("E1").unwrap();
    }

    #[test]
    fn a_removed_or_replaced_file_is_noticed_before_an_announce() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let mut j = Journal::open(&path).unwrap();
        let _ = j.begin(&entry("F1"), "").unwrap();
        j.check_file().unwrap();
        std::fs::remove_file(&path).unwrap();
        let e = j.advance("F1", State::Frozen, "t", "o", "").unwrap_err();
        assert!(matches!(e, JournalError::Removed { .. }), "{e}");
        assert!(e.to_string().contains("was deleted"));
        // Replaced: another journal now sits at the path.
        let path2 = dir.path().join("k.sqlite");
        let mut k = Journal::open(&path2).unwrap();
        let _ = k.begin(&entry("F2"), "").unwrap();
        let other = dir.path().join("other.sqlite");
        drop(Journal::open(&other).unwrap());
        std::fs::rename(&other, &path2).unwrap();
        let e = k.advance("F2", State::Frozen, "t", "o", "").unwrap_err();
        assert!(matches!(e, JournalError::Replaced { .. }), "{e}");
        let e = k.begin(&entry("F3"), "").unwrap_err();
        assert!(matches!(e, JournalError::Replaced { .. }), "{e}");
    }

    /// A journal written by the sscard before the transfer protocol (schema 1).
    fn schema_1(path: &Path) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "CREATE TABLE entries (id TEXT PRIMARY KEY, flow TEXT NOT NULL, state TEXT NOT NULL,
                terminal TEXT NOT NULL, operator TEXT NOT NULL, citizen_id TEXT NOT NULL,
                holder_name TEXT NOT NULL, old_card TEXT, new_card TEXT, account TEXT,
                category INTEGER, balance_fen INTEGER, created_at TEXT NOT NULL,
                updated_at TEXT NOT NULL);
             CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL REFERENCES entries(id), state TEXT NOT NULL, at TEXT NOT NULL,
                terminal TEXT NOT NULL, operator TEXT NOT NULL, detail TEXT NOT NULL);
             CREATE INDEX events_by_id ON events(id);
             INSERT INTO entries VALUES ('AA11', 'pharmacy', 'FROZEN', '639900000001', 'op',
                '111111198101011110', '张三', '6399000123', NULL, '6300001234', 1, 123456,
                '2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.000+00:00');
             INSERT INTO entries VALUES ('BB22', 'pharmacy', 'CREDITING', '639900000001', 'op',
                '111111198101011110', '张三', '6399000123', 'X00000019', '6300001234', 1, 123456,
                '2026-01-02T00:00:00.000+00:00', '2026-01-02T00:00:00.000+00:00');
             INSERT INTO events (id, state, at, terminal, operator, detail)
                VALUES ('AA11', 'FREEZING', 'x', 't', 'o', ''), ('AA11', 'FROZEN', 'x', 't', 'o', ''),
                       ('BB22', 'CREDITING', 'x', 't', 'o', '');
             PRAGMA user_version = 1;",
        )
        .unwrap();
    }

    #[test]
    fn an_old_journal_opens_migrated_and_its_entries_still_move_safely() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        schema_1(&path);
        let mut j = Journal::open(&path).unwrap();
        let v: i32 = j
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let a = j.get("AA11").unwrap().unwrap();
        assert_eq!(a.state, State::Frozen);
        assert!(a.legacy);
        assert_eq!(a.counter, None);
        assert_eq!(
            a.bound_card(),
            None,
            "no N: a cancel reads the old card first"
        );
        let b = j.get("BB22").unwrap().unwrap();
        assert_eq!(b.new_card.as_deref(), Some("X00000019"));
        assert_eq!(
            b.bound_card(),
            None,
            "a legacy card number is not a binding"
        );
        assert_eq!(j.events("AA11").unwrap().len(), 2);
        // Cancel follows the new order; resume moves forward.
        assert!(j.advance("AA11", State::Voided, "t", "o", "").is_err());
        let _ = j.advance("AA11", State::Voiding, "t", "o", "").unwrap();
        // N learnt from the old card binds a legacy entry.
        j.set_new_card("AA11", "X00000043").unwrap();
        assert_eq!(
            j.get("AA11").unwrap().unwrap().bound_card(),
            Some("X00000043")
        );
        let _ = j.advance("BB22", State::Credited, "t", "o", "").unwrap();
        drop(j);
        // Opening again changes nothing.
        let j = Journal::open(&path).unwrap();
        assert_eq!(j.list().unwrap().len(), 2);
        assert!(j.get("BB22").unwrap().unwrap().legacy);
    }

    #[test]
    fn each_new_journal_has_its_own_instance_and_migrated_ones_the_legacy_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let a = Journal::open(&path).unwrap().instance().unwrap();
        assert_eq!(a.len(), 32);
        // Reopening keeps it.
        assert_eq!(Journal::open(&path).unwrap().instance().unwrap(), a);
        // Deleted and re-created: another instance (its sequence restarts at 1).
        std::fs::remove_file(&path).unwrap();
        let _ = std::fs::remove_file(dir.path().join("j.sqlite-wal"));
        let _ = std::fs::remove_file(dir.path().join("j.sqlite-shm"));
        let mut j = Journal::open(&path).unwrap();
        let b = j.instance().unwrap();
        assert_ne!(a, b);
        assert_eq!(j.begin(&entry("G1"), "").unwrap().seq, 1);
        // Schema 1 and schema 2 files: migrated to 3 with the legacy instance.
        let old = dir.path().join("old.sqlite");
        schema_1(&old);
        let j1 = Journal::open(&old).unwrap();
        assert_eq!(j1.instance().unwrap(), LEGACY_INSTANCE);
        assert!(j1.card_reads().unwrap().is_empty());
        drop(j1);
        let two = dir.path().join("two.sqlite");
        {
            let c = Connection::open(&two).unwrap();
            c.execute_batch(SCHEMA_2).unwrap();
            c.execute_batch(
                "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                    created_at, updated_at) VALUES ('CC33', 'window', 'CREDITING', 't', 'o', 'c',
                    'h', 'x', 'x');
                 INSERT INTO events (id, state, at, terminal, operator, detail)
                    VALUES ('CC33', 'CREDITING', 'x', 't', 'o', '')",
            )
            .unwrap();
        }
        let j2 = Journal::open(&two).unwrap();
        let v: i32 = j2
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, 3);
        assert_eq!(j2.instance().unwrap(), LEGACY_INSTANCE);
        assert_eq!(j2.get("CC33").unwrap().unwrap().state, State::Crediting);
        assert!(!j2.get("CC33").unwrap().unwrap().legacy);
    }

    #[test]
    fn card_reads_of_new_cards_not_yet_activated() {
        use crate::card::fields::{FieldRead, Fields};
        use crate::profile::Value;
        let profiles = crate::profile::Profiles::builtin().unwrap();
        let ssc = profiles.get("ssc").unwrap();
        let f = |role: &str, value: Value| FieldRead {
            role: role.into(),
            raw: vec![],
            value,
        };
        let date = |s: &str| s.parse::<crate::profile::Date>().unwrap();
        let mut fields = Fields {
            items: vec![
                f("card_number", Value::Text("X00000019".into())),
                f("expiry_date", Value::Date(Some(date("2036-06-01")))),
                f("citizen_id", Value::Text("111111198101011110".into())),
                f("status", Value::Code(0)),
            ],
        };
        let r = card_read_of(ssc, &fields, "639900000001", "op").unwrap();
        assert_eq!(
            r.deadline,
            date("2026-12-01"),
            "expiry − 10 years + 6 months"
        );
        assert_eq!(r.deadline_basis, "expiry_date");
        assert_eq!(r.holder_masked.as_deref(), Some("111111********1110"));
        // The issue date, when read, is the spec's basis.
        fields
            .items
            .push(f("issue_date", Value::Date(Some(date("2026-03-31")))));
        let r = card_read_of(ssc, &fields, "t", "o").unwrap();
        assert_eq!(r.deadline, date("2026-09-30"));
        assert_eq!(r.deadline_basis, "issue_date");
        // Recorded and read back.
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        j.note_card_read(ssc, &fields, "t", "o");
        let reads = j.card_reads().unwrap();
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].card_number, "X00000019");
        assert_eq!(reads[0].deadline, date("2026-09-30"));
        assert_eq!(reads[0].seq, 1);
        // An activated card is not recorded; nor one without any date.
        fields.items.retain(|x| x.role != "status");
        fields.items.push(f("status", Value::Code(1)));
        assert!(card_read_of(ssc, &fields, "t", "o").is_none());
        j.note_card_read(ssc, &fields, "t", "o");
        assert_eq!(j.card_reads().unwrap().len(), 1);
        let bare = Fields {
            items: vec![
                f("card_number", Value::Text("X1".into())),
                f("status", Value::Code(0)),
            ],
        };
        assert!(card_read_of(ssc, &bare, "t", "o").is_none());
        assert_eq!(mask_citizen_id("12345"), None);
        assert_eq!(mask_citizen_id("ABCDEF198101011110"), None);
        assert_eq!(
            mask_citizen_id("11010119900101123X").as_deref(),
            Some("110101********123X")
        );
    }

    #[test]
    fn a_newer_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 9;")
            .unwrap();
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::TooNew { found: 9, .. })
        ));
    }

    #[test]
    fn wal_and_full_sync_are_on() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
        let mode: String = j
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        let sync: i32 = j
            .conn
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(mode.to_lowercase(), "wal");
        assert_eq!(sync, 2, "FULL");
    }
}
