//! Reading entries and their histories back.

use super::{Entry, Event, Flow, Journal, JournalError, State};
use rusqlite::{params, OptionalExtension};

/// A stored flow name; a journal from before the flows were named (none stored) is
/// pharmacy's.
fn stored_flow(s: &str) -> Flow {
    s.parse().unwrap_or(Flow::Pharmacy)
}

impl Journal {
    fn row_to_entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
        let state: String = r.get(2)?;
        let flow: String = r.get(1)?;
        let legacy: i64 = r.get(15)?;
        Ok(Entry {
            id: r.get(0)?,
            flow: stored_flow(&flow),
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
