//! The journal's tables, their migrations from older sscards, and the journal's
//! instance id: everything that decides what a journal file *is* when it is opened.

use super::{Journal, JournalError, SCHEMA_VERSION};
use rusqlite::{params, Connection};
use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

pub(super) const SCHEMA_2: &str = "CREATE TABLE IF NOT EXISTS entries (
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
}
