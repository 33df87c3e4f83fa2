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

mod card_reads;
mod entries;
mod error;
mod locks;
mod queries;
mod schema;
#[cfg(test)]
mod tests;

pub use card_reads::{card_read_of, mask_citizen_id, CardRead};
pub use error::JournalError;
pub use schema::LEGACY_INSTANCE;

use rusqlite::Connection;
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
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

/// Which flow an entry belongs to: the core's (spec/activation.md), so the journal
/// and the protocol name flows once. Stored and serialized by its strum name
/// (`pharmacy`, `window`, `first-use`).
pub use super::core::types::Flow;

impl Serialize for Flow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

fn now() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

impl Journal {
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
}
