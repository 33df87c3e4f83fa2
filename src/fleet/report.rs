//! The back office's reports over every desk's events (`sscard fleet report`).
//!
//! Why these: they are the questions one desk's journal cannot answer (issue 13):
//! how many cards each desk activated per day; which old cards are frozen with no
//! credit seen anywhere (the holder's money is stuck until the bureau acts); which
//! transfers one desk credited while another still shows them open; which holders
//! came back for a cancel or void; which new cards a desk has read that are near or
//! past the six-month activation deadline (spec/activation.md: EF05 issue date + 6
//! months) and that no desk has seen activated since (the desks' card reads, pushed
//! from their journals: src/activation/journal.rs).
//!
//! Output: text for people, JSON for programs, CSV (the `csv` crate) in one long table
//! with a `section` column, so a spreadsheet filter separates the sections.

use super::FleetError;
use crate::output::visible::visible;
use serde::Serialize;

/// Report options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Frozen longer than this many hours with no credit seen.
    pub frozen_hours: u32,
    /// Time zone for "day" (an IANA name such as `Asia/Shanghai`, or `UTC`).
    pub tz: String,
    /// Cards whose deadline is at most this many days after today (in [`Options::tz`])
    /// or already past.
    pub deadline_days: u32,
}

/// A new card a desk has read, not seen activated anywhere, whose six-month
/// activation deadline is near or past.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// The card number.
    pub card_number: String,
    /// The deadline (`YYYY-MM-DD`).
    pub deadline: String,
    /// Days from today to the deadline; negative when past.
    pub days_left: i32,
    /// `issue_date` or `expiry_date` (what the desk computed it from).
    pub basis: String,
    /// The desk that read it last.
    pub terminal: String,
    /// When (RFC 3339, UTC).
    pub last_read_at: String,
    /// How many times desks read it.
    pub reads: i64,
    /// The holder's citizen ID, masked (`110101********1234`), when read.
    pub holder_masked: Option<String>,
}

/// Activations (transfers reaching `COMPLETE`) of one desk on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Activations {
    /// The desk.
    pub terminal: String,
    /// The day (`YYYY-MM-DD` in [`Options::tz`]).
    pub day: String,
    /// Distinct transfers completed.
    pub count: i64,
}

/// An old card frozen with no credit seen at any desk, or possibly frozen: a desk
/// journaled `FREEZING` and no desk ever `FROZEN` (spec/activation.md step 2: the
/// desk stopped between the two journal writes, so the old card may well hold the
/// money frozen; only reading the card tells).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frozen {
    /// The transfer.
    pub id: String,
    /// The desk that froze it (or began to).
    pub terminal: String,
    /// When (RFC 3339, UTC): the first `FROZEN`, else the first `FREEZING`.
    pub frozen_at: String,
    /// No desk recorded `FROZEN`, only `FREEZING`: possibly frozen.
    pub possibly_frozen: bool,
    /// The old card.
    pub old_card: Option<String>,
    /// The balance, in fen.
    pub balance_fen: Option<i64>,
    /// The latest state any desk recorded.
    pub last_state: String,
}

/// A transfer credited at one desk and left open at another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Split {
    /// The transfer.
    pub id: String,
    /// A desk whose latest state is `CREDITED` or `COMPLETE`.
    pub credited_at: String,
    /// Its state.
    pub credited_state: String,
    /// A desk whose latest state is still open.
    pub open_at: String,
    /// That desk's state.
    pub open_state: String,
    /// When it last changed there (RFC 3339, UTC).
    pub open_since: String,
}

/// A cancel or void: the latest cancel-side event of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cancel {
    /// The transfer.
    pub id: String,
    /// The desk.
    pub terminal: String,
    /// `VOIDING`, `VOIDED`, `CANCELLING` or `CANCELLED`.
    pub state: String,
    /// When (RFC 3339, UTC).
    pub at: String,
    /// The old card.
    pub old_card: Option<String>,
    /// The new card.
    pub new_card: Option<String>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Report format version.
    pub schema_version: &'static str,
    /// When it was made (RFC 3339, UTC).
    pub generated_at: String,
    /// The `frozen` threshold, hours.
    pub frozen_hours: u32,
    /// Activations per desk and day.
    pub activations: Vec<Activations>,
    /// Frozen old cards with no credit seen.
    pub frozen: Vec<Frozen>,
    /// Credited at one desk, open at another.
    pub split: Vec<Split>,
    /// Cancels and voids.
    pub cancels: Vec<Cancel>,
    /// The `deadline` threshold, days.
    pub deadline_days: u32,
    /// New cards read near or past the activation deadline, soonest first.
    pub deadlines: Vec<Deadline>,
    /// What the report cannot tell, and why.
    pub notes: Vec<String>,
}

const UTC: &str = "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'";

/// What the deadline section can and cannot see.
pub const DEADLINE_NOTE: &str = "activation deadlines come from the new cards desks have read (not yet activated when read) and exclude cards any desk has since seen COMPLETE; a card read only by desks running an sscard older than journal schema 3 is not known to the centre";

/// Builds the report.
///
/// # Errors
/// [`FleetError::Db`] (an unknown time zone is refused by PostgreSQL).
pub fn build(client: &mut postgres::Client, o: &Options) -> Result<Report, FleetError> {
    let mut tx = client.build_transaction().read_only(true).start()?;
    let generated_at: String = tx
        .query_one(
            &format!("SELECT to_char(now() AT TIME ZONE 'UTC', {UTC})"),
            &[],
        )?
        .get(0);
    let activations = tx
        .query(
            "SELECT terminal, to_char((at AT TIME ZONE $1::text)::date, 'YYYY-MM-DD') AS day,
                    count(DISTINCT id)
             FROM fleet.events WHERE state = 'COMPLETE'
             GROUP BY 1, 2 ORDER BY 2, 1",
            &[&o.tz],
        )?
        .iter()
        .map(|r| Activations {
            terminal: r.get(0),
            day: r.get(1),
            count: r.get(2),
        })
        .collect();
    let hours = f64::from(o.frozen_hours);
    let frozen = tx
        .query(
            &format!(
                "WITH f AS (
                    SELECT DISTINCT ON (id) id, terminal, at, old_card, balance_fen,
                           state = 'FREEZING' AS possibly
                    FROM fleet.events WHERE state IN ('FREEZING', 'FROZEN')
                    ORDER BY id, state = 'FREEZING', at, seq)
                 SELECT f.id, f.terminal, to_char(f.at AT TIME ZONE 'UTC', {UTC}), f.old_card,
                        f.balance_fen,
                        (SELECT e.state FROM fleet.events e WHERE e.id = f.id
                         ORDER BY e.at DESC, e.seq DESC LIMIT 1),
                        f.possibly
                 FROM f
                 WHERE f.at < now() - make_interval(secs => $1::float8 * 3600)
                   AND NOT EXISTS (SELECT 1 FROM fleet.events e WHERE e.id = f.id
                                   AND e.state IN ('CREDITED', 'COMPLETE', 'CANCELLED'))
                 ORDER BY f.at, f.id"
            ),
            &[&hours],
        )?
        .iter()
        .map(|r| Frozen {
            id: r.get(0),
            terminal: r.get(1),
            frozen_at: r.get(2),
            old_card: r.get(3),
            balance_fen: r.get(4),
            last_state: r.get(5),
            possibly_frozen: r.get(6),
        })
        .collect();
    let split = tx
        .query(
            &format!(
                "WITH multi AS (
                    SELECT id FROM fleet.events GROUP BY id HAVING count(DISTINCT terminal) > 1),
                 last AS (
                    SELECT DISTINCT ON (e.id, e.terminal) e.id, e.terminal, e.state, e.at
                    FROM fleet.events e JOIN multi m ON m.id = e.id
                    ORDER BY e.id, e.terminal, e.at DESC, e.seq DESC)
                 SELECT o.id, c.terminal, c.state, o.terminal, o.state,
                        to_char(o.at AT TIME ZONE 'UTC', {UTC})
                 FROM last o JOIN last c ON c.id = o.id AND c.terminal <> o.terminal
                 WHERE c.state IN ('CREDITED', 'COMPLETE')
                   AND o.state NOT IN ('CREDITED', 'COMPLETE', 'CANCELLED')
                 ORDER BY o.at, o.id, c.terminal"
            ),
            &[],
        )?
        .iter()
        .map(|r| Split {
            id: r.get(0),
            credited_at: r.get(1),
            credited_state: r.get(2),
            open_at: r.get(3),
            open_state: r.get(4),
            open_since: r.get(5),
        })
        .collect();
    let cancels = tx
        .query(
            &format!(
                "SELECT DISTINCT ON (id) id, terminal, state,
                        to_char(at AT TIME ZONE 'UTC', {UTC}), old_card, new_card
                 FROM fleet.events
                 WHERE state IN ('VOIDING', 'VOIDED', 'CANCELLING', 'CANCELLED')
                 ORDER BY id, at DESC, seq DESC"
            ),
            &[],
        )?
        .iter()
        .map(|r| Cancel {
            id: r.get(0),
            terminal: r.get(1),
            state: r.get(2),
            at: r.get(3),
            old_card: r.get(4),
            new_card: r.get(5),
        })
        .collect();
    let deadlines = tx
        .query(
            &format!(
                "WITH today AS (SELECT (now() AT TIME ZONE $1::text)::date AS d),
                 last AS (
                    SELECT DISTINCT ON (card_number) card_number, deadline, deadline_basis,
                           terminal, at, holder_masked,
                           count(*) OVER (PARTITION BY card_number) AS reads
                    FROM fleet.card_reads
                    WHERE deadline <= (SELECT d FROM today) + $2::int
                    ORDER BY card_number, at DESC, seq DESC)
                 SELECT l.card_number, to_char(l.deadline, 'YYYY-MM-DD'),
                        (l.deadline - (SELECT d FROM today))::int, l.deadline_basis,
                        l.terminal, to_char(l.at AT TIME ZONE 'UTC', {UTC}), l.reads,
                        l.holder_masked
                 FROM last l
                 WHERE NOT EXISTS (SELECT 1 FROM fleet.events e
                                   WHERE e.state = 'COMPLETE' AND e.new_card = l.card_number)
                 ORDER BY l.deadline, l.card_number"
            ),
            &[&o.tz, &(o.deadline_days as i32)],
        )?
        .iter()
        .map(|r| Deadline {
            card_number: r.get(0),
            deadline: r.get(1),
            days_left: r.get(2),
            basis: r.get(3),
            terminal: r.get(4),
            last_read_at: r.get(5),
            reads: r.get(6),
            holder_masked: r.get(7),
        })
        .collect();
    tx.commit()?;
    Ok(Report {
        schema_version: crate::output::Doc::FleetReport.version(),
        generated_at,
        frozen_hours: o.frozen_hours,
        activations,
        frozen,
        split,
        cancels,
        deadline_days: o.deadline_days,
        deadlines,
        notes: vec![DEADLINE_NOTE.to_string()],
    })
}

/// The report for people. Every field a desk sent (ids, terminals, card numbers,
/// states, the masked holder) is shown escaped ([`visible`]): a desk, or whoever
/// holds its password, chooses those bytes, and terminal escape sequences in them
/// must not rewrite the supervisor's screen (as `fleet lookup` and the journal's
/// text output do it).
pub fn text(r: &Report) -> String {
    let v = |t: &str| visible(t).into_owned();
    let o = |t: &Option<String>| t.as_deref().map_or("-".to_string(), v);
    let mut s = format!("fleet report, {}\n", v(&r.generated_at));
    s += "\nactivations per desk and day:\n";
    if r.activations.is_empty() {
        s += "  none\n";
    }
    for a in &r.activations {
        s += &format!(
            "  {}  terminal {:<14} {:>6}\n",
            v(&a.day),
            v(&a.terminal),
            a.count
        );
    }
    s += &format!(
        "\nold cards frozen longer than {} h with no credit seen:\n",
        r.frozen_hours
    );
    if r.frozen.is_empty() {
        s += "  none\n";
    }
    for f in &r.frozen {
        s += &format!(
            "  {}  {} {} at terminal {}  old card {}  balance {}  now {}\n",
            v(&f.id),
            if f.possibly_frozen {
                "possibly frozen (FREEZING journaled, FROZEN never seen)"
            } else {
                "frozen"
            },
            v(&f.frozen_at),
            v(&f.terminal),
            o(&f.old_card),
            f.balance_fen
                .map_or("-".into(), |b| format!("{}.{:02} yuan", b / 100, b % 100)),
            v(&f.last_state)
        );
    }
    s += "\ntransfers credited at one desk and open at another:\n";
    if r.split.is_empty() {
        s += "  none\n";
    }
    for x in &r.split {
        s += &format!(
            "  {}  {} at terminal {}; {} at terminal {} since {}\n",
            v(&x.id),
            v(&x.credited_state),
            v(&x.credited_at),
            v(&x.open_state),
            v(&x.open_at),
            v(&x.open_since)
        );
    }
    s += "\ncancels and voids:\n";
    if r.cancels.is_empty() {
        s += "  none\n";
    }
    for c in &r.cancels {
        s += &format!(
            "  {}  {:<10} at terminal {}  {}  old {} new {}\n",
            v(&c.id),
            v(&c.state),
            v(&c.terminal),
            v(&c.at),
            o(&c.old_card),
            o(&c.new_card)
        );
    }
    s += &format!(
        "\nnew cards read, not seen activated, deadline within {} days or past:\n",
        r.deadline_days
    );
    if r.deadlines.is_empty() {
        s += "  none\n";
    }
    for d in &r.deadlines {
        let when = if d.days_left < 0 {
            format!("PAST by {} day(s)", -d.days_left)
        } else {
            format!("{} day(s) left", d.days_left)
        };
        s += &format!(
            "  card {}  deadline {} ({when}, from {})  last read {} at terminal {} ({} read(s))  holder {}\n",
            v(&d.card_number),
            v(&d.deadline),
            v(&d.basis),
            v(&d.last_read_at),
            v(&d.terminal),
            d.reads,
            o(&d.holder_masked)
        );
    }
    for n in &r.notes {
        s += &format!("\nnote: {n}\n");
    }
    s
}

/// The report as one CSV table: `section,terminal,day,id,state,at,old_card,new_card,count,other_terminal,other_state`.
/// The `deadline` section's rows: the last reading terminal, the deadline in `day`,
/// the card number in `id` and `new_card`, `NEAR` or `PAST` in `state`, the last read
/// in `at`, days left (negative: past) in `count`.
///
/// The `frozen` section's possibly frozen rows (only `FREEZING` seen) say
/// `possibly frozen` in `other_state`.
///
/// Every text field a desk sent (ids, card numbers, terminals) is guarded against
/// spreadsheet formulas as [`crate::output::csv::Cell::Text`] does it (a leading `'`
/// before `=`, `+`, `-`, `@`, tab or CR): the back office opens this file in a
/// spreadsheet, and a desk (or whoever holds its password) chooses those fields.
/// `count` is the report's own number and is written as it is.
///
/// # Errors
/// [`FleetError::Invalid`] when the CSV writer fails (it writes to memory).
pub fn csv(r: &Report) -> Result<String, FleetError> {
    /// A guarded CSV writer: fields through the crate's formula guard, except `count`.
    struct Guarded(csv::Writer<Vec<u8>>);
    impl Guarded {
        fn write_record<'a>(
            &mut self,
            fields: impl IntoIterator<Item = &'a str>,
        ) -> Result<(), csv::Error> {
            self.0
                .write_record(fields.into_iter().enumerate().map(|(i, f)| {
                    if i == COUNT_COLUMN {
                        f.to_string()
                    } else {
                        crate::output::csv::Cell::Text(f.to_string()).field()
                    }
                }))
        }
    }
    const COUNT_COLUMN: usize = 8;
    let mut w = Guarded(csv::Writer::from_writer(Vec::new()));
    let e = |e: csv::Error| FleetError::Invalid(e.to_string());
    w.write_record([
        "section",
        "terminal",
        "day",
        "id",
        "state",
        "at",
        "old_card",
        "new_card",
        "count",
        "other_terminal",
        "other_state",
    ])
    .map_err(e)?;
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    for a in &r.activations {
        w.write_record([
            "activations",
            &a.terminal,
            &a.day,
            "",
            "COMPLETE",
            "",
            "",
            "",
            &a.count.to_string(),
            "",
            "",
        ])
        .map_err(e)?;
    }
    for f in &r.frozen {
        w.write_record([
            "frozen",
            &f.terminal,
            "",
            &f.id,
            &f.last_state,
            &f.frozen_at,
            &o(&f.old_card),
            "",
            "",
            "",
            if f.possibly_frozen {
                "possibly frozen"
            } else {
                ""
            },
        ])
        .map_err(e)?;
    }
    for x in &r.split {
        w.write_record([
            "split",
            &x.open_at,
            "",
            &x.id,
            &x.open_state,
            &x.open_since,
            "",
            "",
            "",
            &x.credited_at,
            &x.credited_state,
        ])
        .map_err(e)?;
    }
    for c in &r.cancels {
        w.write_record([
            "cancels",
            &c.terminal,
            "",
            &c.id,
            &c.state,
            &c.at,
            &o(&c.old_card),
            &o(&c.new_card),
            "",
            "",
            "",
        ])
        .map_err(e)?;
    }
    for d in &r.deadlines {
        w.write_record([
            "deadline",
            &d.terminal,
            &d.deadline,
            &d.card_number,
            if d.days_left < 0 { "PAST" } else { "NEAR" },
            &d.last_read_at,
            "",
            &d.card_number,
            &d.days_left.to_string(),
            "",
            "",
        ])
        .map_err(e)?;
    }
    let bytes =
        w.0.into_inner()
            .map_err(|e| FleetError::Invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| FleetError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            schema_version: "1",
            generated_at: "2026-11-30T08:00:00Z".into(),
            frozen_hours: 24,
            activations: vec![],
            frozen: vec![Frozen {
                id: "TORN".into(),
                terminal: "+000000000002".into(),
                frozen_at: "2026-11-27T08:00:00Z".into(),
                possibly_frozen: true,
                old_card: Some("@SUM(A1:A9)".into()),
                balance_fen: Some(70000),
                last_state: "FREEZING".into(),
            }],
            split: vec![],
            cancels: vec![Cancel {
                id: "=1+2".into(),
                terminal: "000000000001".into(),
                state: "CANCELLED".into(),
                at: "2026-11-28T08:00:00Z".into(),
                old_card: Some("-2+3".into()),
                new_card: Some("\t=cmd".into()),
            }],
            deadline_days: 30,
            deadlines: vec![Deadline {
                card_number: "=HYPERLINK(\"x\")".into(),
                deadline: "2026-11-20".into(),
                days_left: -10,
                basis: "issue_date".into(),
                terminal: "000000000001".into(),
                last_read_at: "2026-11-01T08:00:00Z".into(),
                reads: 1,
                holder_masked: None,
            }],
            notes: vec![],
        }
    }

    #[test]
    fn csv_cells_from_desks_never_start_a_formula() {
        let text = csv(&report()).unwrap();
        let mut rd = ::csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<Vec<String>> = rd
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect();
        for row in &rows {
            for (i, f) in row.iter().enumerate() {
                if i != 8 {
                    assert!(
                        !f.starts_with(['=', '+', '-', '@', '\t', '\r']),
                        "column {i} of {row:?}"
                    );
                }
            }
        }
        let cancel = rows.iter().find(|r| r[0] == "cancels").unwrap();
        assert_eq!(cancel[3], "'=1+2");
        assert_eq!(cancel[6], "'-2+3");
        assert_eq!(cancel[7], "'\t=cmd");
        let frozen = rows.iter().find(|r| r[0] == "frozen").unwrap();
        assert_eq!(frozen[1], "'+000000000002");
        assert_eq!(frozen[6], "'@SUM(A1:A9)");
        assert_eq!(frozen[10], "possibly frozen");
        // The report's own number stays a number, negative or not.
        let deadline = rows.iter().find(|r| r[0] == "deadline").unwrap();
        assert_eq!(deadline[8], "-10");
        assert_eq!(deadline[3], "'=HYPERLINK(\"x\")");
    }

    #[test]
    fn a_torn_freeze_is_labelled_possibly_frozen() {
        let t = text(&report());
        assert!(
            t.contains("TORN  possibly frozen (FREEZING journaled, FROZEN never seen) 2026-11-27"),
            "{t}"
        );
    }

    /// i13post (rev13 F4): the text report printed what desks sent raw, so a desk's
    /// terminal id or card number holding an escape sequence reached the supervisor's
    /// terminal. Now escaped as `fleet lookup` does it.
    #[test]
    fn text_escapes_what_desks_sent() {
        let mut r = report();
        r.frozen[0].terminal = "00000000000\u{1b}[2J2".into();
        r.frozen[0].old_card = Some("639\u{9b}31m".into());
        r.cancels[0].state = "CANCELLED\r\u{202e}".into();
        r.deadlines[0].holder_masked = Some("张*\u{7}".into());
        r.activations.push(Activations {
            terminal: "\u{1b}]0;pwned\u{7}".into(),
            day: "2026-11-30".into(),
            count: 3,
        });
        let t = text(&r);
        for bad in ['\u{1b}', '\u{9b}', '\r', '\u{202e}', '\u{7}'] {
            assert!(!t.contains(bad), "{bad:?} in {t}");
        }
        assert!(t.contains("00000000000\\u{1b}[2J2"), "{t}");
        assert!(t.contains("old card 639\\u{9b}31m"), "{t}");
        assert!(t.contains("holder 张*\\u{7}"), "{t}");
        assert!(t.contains("terminal \\u{1b}]0;pwned\\u{7}"), "{t}");
    }
}
