//! One transfer as every desk saw it, in time order (`sscard fleet lookup`).
//!
//! Why through `fleet.transfer_history(id)` (a `SECURITY DEFINER` function) rather
//! than a `SELECT` on the table: a desk role has no read right on other desks' events,
//! yet before a cancel or resume it should see what other desks saw of *this*
//! transfer. The function answers for one exact id, so a desk can read a transfer it
//! knows the id of, never browse the table.

use super::FleetError;
use serde::Serialize;

/// One desk's event of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The desk's terminal number.
    pub terminal: String,
    /// The event's sequence in that desk's journal.
    pub seq: i64,
    /// The journal state entered (spec/activation.md).
    pub state: String,
    /// When the desk recorded it (RFC 3339, UTC).
    pub at: String,
    /// The operator.
    pub operator: String,
    /// The desk's note.
    pub detail: String,
    /// The old card's number, when known.
    pub old_card: Option<String>,
    /// The new card's number, when known.
    pub new_card: Option<String>,
    /// The balance, in fen.
    pub balance_fen: Option<i64>,
    /// When the centre received it (RFC 3339, UTC).
    pub received_at: String,
}

/// Every desk's events for transfer `id` (case-insensitive), oldest first; empty when
/// the centre knows nothing of it.
///
/// # Errors
/// [`FleetError::Db`].
pub fn lookup(client: &mut postgres::Client, id: &str) -> Result<Vec<Seen>, FleetError> {
    let rows = client.query(
        "SELECT terminal, seq, state,
                to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                operator, detail, old_card, new_card, balance_fen,
                to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
         FROM fleet.transfer_history($1)",
        &[&id],
    )?;
    Ok(rows
        .iter()
        .map(|r| Seen {
            terminal: r.get(0),
            seq: r.get(1),
            state: r.get(2),
            at: r.get(3),
            operator: r.get(4),
            detail: r.get(5),
            old_card: r.get(6),
            new_card: r.get(7),
            balance_fen: r.get(8),
            received_at: r.get(9),
        })
        .collect())
}

/// A one-paragraph summary for a desk about to cancel or resume `id`, from what
/// *other* desks (not `own_terminal`) saw; `None` when no other desk saw it.
pub fn advisory(seen: &[Seen], own_terminal: Option<&str>) -> Option<String> {
    let others: Vec<&Seen> = seen
        .iter()
        .filter(|s| Some(s.terminal.as_str()) != own_terminal)
        .collect();
    if others.is_empty() {
        return None;
    }
    let mut lines = vec![format!(
        "The centre has {} event(s) of this transfer from other desks (advisory; the cards decide):",
        others.len()
    )];
    for s in others {
        lines.push(format!(
            "  {}  terminal {}  {:<10} operator {}  {}",
            s.at, s.terminal, s.state, s.operator, s.detail
        ));
    }
    Some(lines.join("\n"))
}
