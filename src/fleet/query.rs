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
    /// The instance id of the desk's journal file (32 hex digits; `""` for events
    /// pushed before instances existed, or by a journal migrated from before them):
    /// tells apart two journals of one terminal, e.g. one deleted and re-created,
    /// whose sequence numbers repeat (migration 0003).
    pub journal: String,
    /// The event's sequence in that journal.
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
                to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                journal
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
            journal: r.get(10),
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
    // What other desks sent is shown escaped: a tampered row must not drive the
    // desk's terminal (crate::output::visible).
    use crate::output::visible::visible;
    for s in others {
        lines.push(format!(
            "  {}  terminal {}  journal {}  {:<10} operator {}  {}",
            visible(&s.at),
            visible(&s.terminal),
            journal_label(&s.journal),
            visible(&s.state),
            visible(&s.operator),
            visible(&s.detail)
        ));
    }
    Some(lines.join("\n"))
}

/// A journal instance as text output shows it: the id, escaped, or `-` for the
/// empty instance (events pushed before instances existed).
pub fn journal_label(instance: &str) -> std::borrow::Cow<'_, str> {
    if instance.is_empty() {
        std::borrow::Cow::Borrowed("-")
    } else {
        crate::output::visible::visible(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(terminal: &str, journal: &str, detail: &str) -> Seen {
        Seen {
            terminal: terminal.into(),
            journal: journal.into(),
            seq: 1,
            state: "FROZEN".into(),
            at: "2026-11-30T08:00:00.000Z".into(),
            operator: "0007".into(),
            detail: detail.into(),
            old_card: None,
            new_card: None,
            balance_fen: None,
            received_at: "2026-11-30T08:00:01.000Z".into(),
        }
    }

    #[test]
    fn advisory_names_the_journal_and_escapes_what_other_desks_sent() {
        let rows = [
            seen("000000000001", "AB", "own"),
            seen("000000000002", "4F0C", "\u{1b}]0;owned\u{7}\u{1b}[2J"),
            seen("000000000002", "", "legacy"),
        ];
        let text = advisory(&rows, Some("000000000001")).unwrap();
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text:?}"
        );
        assert!(text.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2J"), "{text}");
        assert!(text.contains("journal 4F0C"), "{text}");
        assert!(text.contains("journal -"), "{text}");
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(text.contains("2 event(s)"), "{text}");
        assert_eq!(advisory(&rows[..1], Some("000000000001")), None);
    }
}
