//! The activation journal: the terminal's durable record of every transfer.
//!
//! SQLite (bundled, so every terminal runs the same engine) in WAL mode with
//! `synchronous = FULL`: a state change is on disk when [`Journal::advance`] returns,
//! and the flows call it *before* the card write it announces (spec/activation.md).
//! The journal never holds a PIN, key or cryptogram; it holds what a supervisor needs
//! to find the money: card numbers, account, balance, transfer id and the history of
//! states with terminal and operator.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Journal schema version (PRAGMA user_version).
pub const SCHEMA_VERSION: i32 = 1;

/// Where a transfer stands. The order is the order of the pharmacy flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum State {
    /// About to freeze the old card (write tag 26, then 22 = migrating).
    Freezing,
    /// The old card is frozen and carries the transfer.
    Frozen,
    /// About to credit the new card (or, window flows, to activate it).
    Crediting,
    /// The new card holds the account and the PIN.
    Credited,
    /// Done (the old card marked migrated where it was present).
    Complete,
    /// About to return the old card to active.
    Cancelling,
    /// The old card is active again; nothing moved.
    Cancelled,
}

impl State {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Freezing => "FREEZING",
            State::Frozen => "FROZEN",
            State::Crediting => "CREDITING",
            State::Credited => "CREDITED",
            State::Complete => "COMPLETE",
            State::Cancelling => "CANCELLING",
            State::Cancelled => "CANCELLED",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<State> {
        [
            State::Freezing,
            State::Frozen,
            State::Crediting,
            State::Credited,
            State::Complete,
            State::Cancelling,
            State::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// Whether nothing more will happen to this entry.
    pub fn is_final(self) -> bool {
        matches!(self, State::Complete | State::Cancelled)
    }
}

/// Which flow an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
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
        match self {
            Flow::Pharmacy => "pharmacy",
            Flow::Window => "window",
            Flow::FirstUse => "first-use",
        }
    }

    fn parse(s: &str) -> Flow {
        match s {
            "window" => Flow::Window,
            "first-use" => Flow::FirstUse,
            _ => Flow::Pharmacy,
        }
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
    /// The new card's number, once known.
    pub new_card: Option<String>,
    /// The medical account number.
    pub account: Option<String>,
    /// The insured category.
    pub category: Option<u8>,
    /// The balance moved, in fen.
    pub balance_fen: Option<u32>,
    /// When the entry was created (RFC 3339, local time).
    pub created_at: String,
    /// When the state last changed.
    pub updated_at: String,
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
    /// The journal directory cannot be created.
    #[error("journal {path}: {source}")]
    Io {
        /// The journal file.
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
}

/// The journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
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
) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![id, state.as_str(), at, terminal, operator, detail],
    )
}

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

impl Journal {
    /// Opens (creating if needed) the journal at `path`.
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
        let conn = Connection::open(path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sql)?;
        let version: i32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(JournalError::TooNew {
                path: p,
                found: version,
            });
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS entries (
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
                updated_at TEXT NOT NULL
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
            PRAGMA user_version = 1;",
        )
        .map_err(sql)?;
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
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

    /// Records a new entry in its first state; durable when this returns.
    pub fn begin(&mut self, entry: &Entry, detail: &str) -> Result<(), JournalError> {
        let at = now();
        let path = self.path.display().to_string();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        tx.execute(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                old_card, new_card, account, category, balance_fen, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)
             ON CONFLICT(id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            params![
                entry.id,
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
                at
            ],
        )
        .map_err(err)?;
        insert_event(
            &tx,
            &entry.id,
            entry.state,
            &at,
            &entry.terminal,
            &entry.operator,
            detail,
        )
        .map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Moves an entry to `state` (recording who and why); durable when this returns.
    pub fn advance(
        &mut self,
        id: &str,
        state: State,
        terminal: &str,
        operator: &str,
        detail: &str,
    ) -> Result<(), JournalError> {
        let at = now();
        let path = self.path.display().to_string();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let n = tx
            .execute(
                "UPDATE entries SET state = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, state.as_str(), at],
            )
            .map_err(err)?;
        if n == 0 {
            return Err(JournalError::NotFound(id.to_string()));
        }
        insert_event(&tx, id, state, &at, terminal, operator, detail).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// Records the new card's number on an entry.
    pub fn set_new_card(&mut self, id: &str, new_card: &str) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE entries SET new_card = ?2 WHERE id = ?1",
                params![id, new_card],
            )
            .map_err(|e| self.sql(e))?;
        Ok(())
    }

    fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
        let state: String = r.get(2)?;
        let flow: String = r.get(1)?;
        Ok(Entry {
            id: r.get(0)?,
            flow: Flow::parse(&flow),
            state: State::parse(&state).unwrap_or(State::Freezing),
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
        })
    }

    const COLUMNS: &'static str = "id, flow, state, terminal, operator, citizen_id, holder_name, \
        old_card, new_card, account, category, balance_fen, created_at, updated_at";

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
                    state: State::parse(&state).unwrap_or(State::Freezing),
                    at: r.get(1)?,
                    terminal: r.get(2)?,
                    operator: r.get(3)?,
                    detail: r.get(4)?,
                })
            })
            .map_err(|e| self.sql(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.sql(e))
    }

    /// Whether a credit of the new card was ever announced for this entry (the cancel
    /// rule of spec/activation.md depends on it).
    pub fn credit_attempted(&self, id: &str) -> Result<bool, JournalError> {
        Ok(self
            .events(id)?
            .iter()
            .any(|e| e.state >= State::Crediting && e.state <= State::Complete))
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
            new_card: None,
            account: Some("6300001234".into()),
            category: Some(1),
            balance_fen: Some(123456),
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
            j.begin(&entry("AB01"), "old card read").unwrap();
            j.advance("AB01", State::Frozen, "639900000001", "op1", "")
                .unwrap();
            assert!(!j.credit_attempted("AB01").unwrap());
            j.advance("AB01", State::Crediting, "639900000001", "op2", "")
                .unwrap();
            j.set_new_card("AB01", "X00000019").unwrap();
        }
        let j = Journal::open(&path).unwrap();
        let e = j.get("ab01").unwrap().unwrap();
        assert_eq!(e.state, State::Crediting);
        assert_eq!(e.new_card.as_deref(), Some("X00000019"));
        assert!(j.credit_attempted("AB01").unwrap());
        let ev = j.events("AB01").unwrap();
        assert_eq!(ev.len(), 3);
        assert_eq!(ev[2].operator, "op2");
        assert_eq!(j.unfinished().unwrap().len(), 1);
        assert!(matches!(
            Journal::open(&path)
                .unwrap()
                .advance("nope", State::Frozen, "", "", ""),
            Err(JournalError::NotFound(_))
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
