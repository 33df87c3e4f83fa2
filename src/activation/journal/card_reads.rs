//! The card reads: not-yet-activated new cards a desk saw, for the back office's
//! report of cards near or past the six-month activation deadline (issue 13).

use super::{now, Journal, JournalError};
use rusqlite::params;
use serde::Serialize;

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
}
