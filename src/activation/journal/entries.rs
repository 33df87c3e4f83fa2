//! Writing entries: a new entry, a state change (in the one legal order) and N
//! bound once; each durable when it returns.

use super::{now, Entry, Journal, JournalError, Recorded, State};
use rusqlite::{params, OptionalExtension};

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

impl Journal {
    /// Opens the write of an announce on `id` (upper case): claims the transfer and
    /// checks the file before anything is written, then takes SQLite's write lock.
    /// Returns the transaction and the journal's path (for its SQL errors).
    fn announce_tx(
        &mut self,
        id: &str,
    ) -> Result<(rusqlite::Transaction<'_>, String), JournalError> {
        self.claim(id)?;
        self.check_file()?;
        let path = self.path.display().to_string();
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|source| JournalError::Sql {
                path: path.clone(),
                source,
            })?;
        Ok((tx, path))
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
        let (tx, path) = self.announce_tx(&id)?;
        let at = now();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
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
        let (tx, path) = self.announce_tx(&id)?;
        let at = now();
        let err = |source| JournalError::Sql {
            path: path.clone(),
            source,
        };
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
}
