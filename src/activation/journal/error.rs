//! The journal's refusals and failures, one variant each, so a caller can tell a
//! transfer in use from a missing card and a removed file from a broken one.

use super::SCHEMA_VERSION;

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
