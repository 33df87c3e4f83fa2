//! Push: the desk's SQLite journal is the outbox, the centre its destination.
//!
//! Why this shape: a desk must work for days with the centre down and then catch up,
//! and a push may die at any point (power cut, SIGKILL, the centre restarting). So:
//! - The journal's `events.seq` (AUTOINCREMENT, committed in order, since SQLite has
//!   one writer at a time) is the desk's sequence; the centre keeps `(terminal,
//!   journal instance, seq)` unique and inserts with `ON CONFLICT DO NOTHING`, so
//!   sending an event twice changes nothing. The instance (random per journal file,
//!   src/activation/journal.rs) keeps a deleted and re-created journal, whose sequence
//!   restarts at 1, from colliding with what its predecessor pushed.
//! - A row the centre already holds *with different content* is not a re-push but a
//!   collision (a journal restored from a backup, or copied): the batch is rolled
//!   back and the push refuses ([`FleetError::Collision`]) rather than drop it
//!   silently; `sscard fleet new-instance` gives the journal a fresh instance.
//! - The card reads (not-yet-activated new cards the desk read, for the deadline
//!   report) travel the same way in their own stream, with their own watermark row
//!   (`<centre> card_reads`).
//! - A durable watermark (`fleet_watermark` in the journal file, one row per centre)
//!   says up to which `seq` the centre has *committed*. It advances only after the
//!   centre's `COMMIT` returned; dying between the two only means the next push
//!   re-sends a batch that the centre ignores. Nothing lost, nothing twice.
//! - Batches (default 500 events, one `INSERT ... SELECT FROM unnest(...)` each) keep a
//!   catch-up after days offline to a few round trips per thousand events.
//!
//! What is pushed: the event (state, time, terminal, operator, detail) and the
//! transfer's flow, card numbers and balance, which the back office's reports need.
//! The holder's name and citizen id stay on the desk (the centre needs none to find
//! a transfer). Never a PIN, key or cryptogram: the journal holds none.
//!
//! A centre that accepts the connection and then never answers (a hung server, a
//! firewall that drops the replies, a stall behind a lock) must not leave a push, and
//! a process per flow, waiting forever: [`push_to`] holds an exclusive lock
//! (`flock` on `<journal>.push.lock`) so one journal has one push at a time (another
//! finds it held and stops at once), bounds every statement (`statement_timeout`,
//! `lock_timeout`, per transaction so a pooler keeps nothing), and a watchdog thread
//! ends the process after [`DEFAULT_DEADLINE`] (`SSCARD_FLEET_PUSH_DEADLINE` seconds)
//! whatever the centre does. Ending a push at any point loses nothing (above).
//!
//! The watermark table lives in the journal file but is created here (`CREATE TABLE
//! IF NOT EXISTS`), not by the journal's schema: the journal does not depend on the
//! fleet, and a journal that was never pushed stays as it was.

mod guard;

use guard::Watchdog;
pub use guard::{deadline, lock_path, try_lock, DEADLINE_ENV, DEFAULT_DEADLINE};

use super::{FleetError, Target};
use crate::activation::journal::Journal;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// Default events per batch.
pub const DEFAULT_BATCH: usize = 500;

/// The bounds of every push transaction at the centre (`SET LOCAL`): one statement at
/// most a minute, one lock wait at most ten seconds.
const TX_LIMITS: &str = "SET LOCAL statement_timeout = '60s'; SET LOCAL lock_timeout = '10s'";

/// What one push did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PushOutcome {
    /// Events sent (including ones the centre already had).
    pub sent: u64,
    /// Events the centre did not have before.
    pub inserted: u64,
    /// Batches committed.
    pub batches: u64,
    /// The watermark after the push (journal `seq`).
    pub watermark: i64,
    /// Card reads sent (including ones the centre already had).
    pub card_reads_sent: u64,
    /// Card reads the centre did not have before.
    pub card_reads_inserted: u64,
    /// The card reads' watermark after the push.
    pub card_reads_watermark: i64,
    /// The journal's instance id (`""` for a journal older than instances).
    pub journal_instance: String,
    /// Another push of this journal was running: this one sent nothing and left it
    /// to that one.
    pub busy: bool,
}

/// One event as sent.
struct Row {
    seq: i64,
    terminal: String,
    id: String,
    /// `None` when the event's entry row is missing (a damaged journal).
    flow: Option<String>,
    state: String,
    at: String,
    operator: String,
    detail: String,
    old_card: Option<String>,
    new_card: Option<String>,
    balance_fen: Option<i64>,
}

fn jerr(path: &Path) -> impl Fn(rusqlite::Error) -> FleetError + '_ {
    move |source| FleetError::Journal {
        path: path.display().to_string(),
        source,
    }
}

/// Opens the journal for pushing (migrating an older journal first, as the desk
/// would) and makes sure the watermark table exists.
///
/// # Errors
/// [`FleetError::Journal`] when the file is absent or is not a journal,
/// [`FleetError::JournalFile`] when it cannot be migrated (newer, unreadable).
pub fn open_outbox(path: &Path) -> Result<Connection, FleetError> {
    let e = jerr(path);
    if !path.exists() {
        return Err(FleetError::Journal {
            path: path.display().to_string(),
            source: rusqlite::Error::InvalidPath(path.to_path_buf()),
        });
    }
    drop(Journal::open(path).map_err(|e| FleetError::JournalFile(e.to_string()))?);
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(&e)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(&e)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(&e)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS fleet_watermark (
            centre TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            at TEXT NOT NULL)",
    )
    .map_err(&e)?;
    Ok(conn)
}

/// The watermark of `centre` (0 when never pushed).
///
/// # Errors
/// [`FleetError::Journal`].
pub fn watermark(conn: &Connection, path: &Path, centre: &str) -> Result<i64, FleetError> {
    Ok(conn
        .query_row(
            "SELECT seq FROM fleet_watermark WHERE centre = ?1",
            params![centre],
            |r| r.get(0),
        )
        .optional()
        .map_err(jerr(path))?
        .unwrap_or(0))
}

/// The journal's instance id.
///
/// # Errors
/// [`FleetError::Journal`].
pub fn instance(conn: &Connection, path: &Path) -> Result<String, FleetError> {
    conn.query_row(
        "SELECT value FROM journal_meta WHERE key = 'instance'",
        [],
        |r| r.get(0),
    )
    .map_err(jerr(path))
}

/// The watermark key of the card reads' stream for `centre`.
pub fn reads_key(centre: &str) -> String {
    format!("{centre} card_reads")
}

/// Events after the watermark that the centre has not acknowledged.
///
/// # Errors
/// [`FleetError::Journal`].
pub fn pending(conn: &Connection, path: &Path, centre: &str) -> Result<i64, FleetError> {
    let w = watermark(conn, path, centre)?;
    conn.query_row(
        "SELECT count(*) FROM events WHERE seq > ?1",
        params![w],
        |r| r.get(0),
    )
    .map_err(jerr(path))
}

fn read_batch(
    conn: &Connection,
    path: &Path,
    after: i64,
    limit: usize,
) -> Result<Vec<Row>, FleetError> {
    let e = jerr(path);
    let mut st = conn
        .prepare_cached(
            "SELECT ev.seq, ev.terminal, ev.id, en.flow, ev.state, ev.at, ev.operator, ev.detail,
                    en.old_card, en.new_card, en.balance_fen
             FROM events ev LEFT JOIN entries en ON en.id = ev.id
             WHERE ev.seq > ?1 ORDER BY ev.seq LIMIT ?2",
        )
        .map_err(&e)?;
    let rows = st
        .query_map(params![after, limit as i64], |r| {
            Ok(Row {
                seq: r.get(0)?,
                terminal: r.get(1)?,
                id: r.get(2)?,
                flow: r.get(3)?,
                state: r.get(4)?,
                at: r.get(5)?,
                operator: r.get(6)?,
                detail: r.get(7)?,
                old_card: r.get(8)?,
                new_card: r.get(9)?,
                balance_fen: r.get(10)?,
            })
        })
        .map_err(&e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&e)?;
    Ok(rows)
}

/// The refusal of a batch whose rows the centre holds with other content.
fn collision(what: &str, terminal: &str, instance: &str, seqs: &[i64]) -> FleetError {
    FleetError::Collision(format!(
        "the centre already holds {what} {} of terminal {terminal}, journal instance {} with \
         different content: this journal file was restored from a backup or copied from \
         another desk, so its numbers now name other records. Nothing of this batch was \
         stored and nothing at the centre changed. Give the journal a new instance \
         (`sscard fleet new-instance --journal PATH`), then push again",
        seqs.iter()
            .take(5)
            .map(|s| format!("#{s}"))
            .collect::<Vec<_>>()
            .join(", ")
            + if seqs.len() > 5 { ", ..." } else { "" },
        if instance.is_empty() {
            "'' (legacy)"
        } else {
            instance
        }
    ))
}

/// Sends one batch in one transaction; returns how many rows were new.
///
/// # Errors
/// [`FleetError::Collision`] (rolled back), [`FleetError::Db`].
fn send_batch(
    client: &mut postgres::Client,
    rows: &[Row],
    instance: &str,
) -> Result<u64, FleetError> {
    let col = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let seq: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let terminal = col(|r| r.terminal.clone());
    let id = col(|r| r.id.clone());
    let flow = col(|r| r.flow.clone().unwrap_or_default());
    let state = col(|r| r.state.clone());
    let at = col(|r| r.at.clone());
    let operator = col(|r| r.operator.clone());
    let detail = col(|r| r.detail.clone());
    let old: Vec<Option<String>> = rows.iter().map(|r| r.old_card.clone()).collect();
    let new: Vec<Option<String>> = rows.iter().map(|r| r.new_card.clone()).collect();
    let bal: Vec<Option<i64>> = rows.iter().map(|r| r.balance_fen).collect();
    let mut tx = client.transaction()?;
    tx.batch_execute(TX_LIMITS)?;
    let n = tx.execute(
        "INSERT INTO fleet.events (terminal, journal, seq, id, flow, state, at, operator,
                                   detail, old_card, new_card, balance_fen)
         SELECT t, $12, s, i, f, st, a::timestamptz, o, d, oc, nc, b
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
              AS u(t, s, i, f, st, a, o, d, oc, nc, b)
         ON CONFLICT DO NOTHING",
        &[
            &terminal, &seq, &id, &flow, &state, &at, &operator, &detail, &old, &new, &bal,
            &instance,
        ],
    )?;
    if n < rows.len() as u64 {
        // Some rows were there already: a re-push (same content) or a collision.
        let mut terminals: Vec<&str> = rows.iter().map(|r| r.terminal.as_str()).collect();
        terminals.sort_unstable();
        terminals.dedup();
        for t in terminals {
            let mine: Vec<&Row> = rows.iter().filter(|r| r.terminal == t).collect();
            let seq: Vec<i64> = mine.iter().map(|r| r.seq).collect();
            let id: Vec<&str> = mine.iter().map(|r| r.id.as_str()).collect();
            let state: Vec<&str> = mine.iter().map(|r| r.state.as_str()).collect();
            let at: Vec<&str> = mine.iter().map(|r| r.at.as_str()).collect();
            let clash: Vec<i64> = tx
                .query(
                    "SELECT fleet.event_conflicts($1, $2, $3, $4, $5, $6::text[]::timestamptz[])",
                    &[&t, &instance, &seq, &id, &state, &at],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !clash.is_empty() {
                tx.rollback()?;
                return Err(collision("events", t, instance, &clash));
            }
        }
    }
    tx.commit()?;
    Ok(n)
}

/// One card read as sent.
struct ReadRow {
    seq: i64,
    terminal: String,
    at: String,
    operator: String,
    card_number: String,
    issue_date: Option<String>,
    expiry_date: Option<String>,
    deadline: String,
    basis: String,
    holder: Option<String>,
}

fn read_reads(
    conn: &Connection,
    path: &Path,
    after: i64,
    limit: usize,
) -> Result<Vec<ReadRow>, FleetError> {
    let e = jerr(path);
    let mut st = conn
        .prepare_cached(
            "SELECT seq, terminal, at, operator, card_number, issue_date, expiry_date, deadline,
                    deadline_basis, holder_masked
             FROM card_reads WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(&e)?;
    let rows = st
        .query_map(params![after, limit as i64], |r| {
            Ok(ReadRow {
                seq: r.get(0)?,
                terminal: r.get(1)?,
                at: r.get(2)?,
                operator: r.get(3)?,
                card_number: r.get(4)?,
                issue_date: r.get(5)?,
                expiry_date: r.get(6)?,
                deadline: r.get(7)?,
                basis: r.get(8)?,
                holder: r.get(9)?,
            })
        })
        .map_err(&e)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(&e)?;
    Ok(rows)
}

fn send_reads(
    client: &mut postgres::Client,
    rows: &[ReadRow],
    instance: &str,
) -> Result<u64, FleetError> {
    let seq: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let s = |f: fn(&ReadRow) -> &str| rows.iter().map(f).collect::<Vec<&str>>();
    let o = |f: fn(&ReadRow) -> Option<&str>| rows.iter().map(f).collect::<Vec<Option<&str>>>();
    let terminal = s(|r| &r.terminal);
    let at = s(|r| &r.at);
    let operator = s(|r| &r.operator);
    let card = s(|r| &r.card_number);
    let issue = o(|r| r.issue_date.as_deref());
    let expiry = o(|r| r.expiry_date.as_deref());
    let deadline = s(|r| &r.deadline);
    let basis = s(|r| &r.basis);
    let holder = o(|r| r.holder.as_deref());
    let mut tx = client.transaction()?;
    tx.batch_execute(TX_LIMITS)?;
    let n = tx.execute(
        "INSERT INTO fleet.card_reads (terminal, journal, seq, at, operator, card_number,
                                       issue_date, expiry_date, deadline, deadline_basis,
                                       holder_masked)
         SELECT t, $11, s, a::timestamptz, o, c, i::date, e::date, d::date, b, h
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[])
              AS u(t, s, a, o, c, i, e, d, b, h)
         ON CONFLICT DO NOTHING",
        &[
            &terminal, &seq, &at, &operator, &card, &issue, &expiry, &deadline, &basis, &holder,
            &instance,
        ],
    )?;
    if n < rows.len() as u64 {
        let mut terminals = terminal.clone();
        terminals.sort_unstable();
        terminals.dedup();
        for t in terminals {
            let mine: Vec<&ReadRow> = rows.iter().filter(|r| r.terminal == t).collect();
            let seq: Vec<i64> = mine.iter().map(|r| r.seq).collect();
            let card: Vec<&str> = mine.iter().map(|r| r.card_number.as_str()).collect();
            let at: Vec<&str> = mine.iter().map(|r| r.at.as_str()).collect();
            let clash: Vec<i64> = tx
                .query(
                    "SELECT fleet.card_read_conflicts($1, $2, $3, $4, $5::text[]::timestamptz[])",
                    &[&t, &instance, &seq, &card, &at],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            if !clash.is_empty() {
                tx.rollback()?;
                return Err(collision("card reads", t, instance, &clash));
            }
        }
    }
    tx.commit()?;
    Ok(n)
}

/// Advances the watermark `key` to `seq` (durable, synchronous=FULL); never moves it
/// back (two pushes that overlapped, or one reading a stale value, cannot make the
/// next push re-send what the centre already committed).
fn advance(conn: &Connection, path: &Path, key: &str, seq: i64) -> Result<(), FleetError> {
    conn.execute(
        "INSERT INTO fleet_watermark (centre, seq, at) VALUES (?1, ?2, ?3)
         ON CONFLICT (centre) DO UPDATE SET seq = max(fleet_watermark.seq, excluded.seq),
                                            at = excluded.at",
        params![key, seq, chrono::Local::now().to_rfc3339()],
    )
    .map_err(jerr(path))?;
    Ok(())
}

/// Pushes every event after the watermark to the centre, `batch` at a time, advancing
/// the watermark after each batch the centre committed.
///
/// # Errors
/// [`FleetError::Journal`] (the journal), [`FleetError::Db`] (the centre: unreachable,
/// refused by the row-level policy when an event names another terminal). Batches
/// committed before the failure stay acknowledged.
pub fn push(
    journal: &Path,
    client: &mut postgres::Client,
    centre: &str,
    batch: usize,
) -> Result<PushOutcome, FleetError> {
    push_open(&open_outbox(journal)?, journal, client, centre, batch)
}

/// [`push`] on a journal already opened by [`open_outbox`].
fn push_open(
    conn: &Connection,
    journal: &Path,
    client: &mut postgres::Client,
    centre: &str,
    batch: usize,
) -> Result<PushOutcome, FleetError> {
    let batch = batch.max(1);
    let instance = instance(conn, journal)?;
    let mut out = PushOutcome {
        watermark: watermark(conn, journal, centre)?,
        journal_instance: instance.clone(),
        ..PushOutcome::default()
    };
    loop {
        let mut rows = read_batch(conn, journal, out.watermark, batch)?;
        // An event without its entry (the transfer's flow and cards) cannot be sent
        // whole; skipping it would report success past a hole. Send what comes
        // before it, then stop and name it.
        let orphan = rows
            .iter()
            .position(|r| r.flow.is_none())
            .map(|k| (k, rows[k].seq, rows[k].id.clone(), rows[k].state.clone()));
        if let Some((k, ..)) = orphan {
            rows.truncate(k);
        }
        let Some(last) = rows.last().map(|r| r.seq) else {
            if let Some((_, seq, id, state)) = orphan {
                return Err(orphan_error(journal, seq, &id, &state, out.watermark));
            }
            break;
        };
        out.inserted += send_batch(client, &rows, &instance)?;
        out.sent += rows.len() as u64;
        out.batches += 1;
        // The centre committed: only now the watermark moves.
        advance(conn, journal, centre, last)?;
        out.watermark = last;
        if let Some((_, seq, id, state)) = orphan {
            return Err(orphan_error(journal, seq, &id, &state, out.watermark));
        }
        if rows.len() < batch {
            break;
        }
    }
    let key = reads_key(centre);
    out.card_reads_watermark = watermark(conn, journal, &key)?;
    loop {
        let rows = read_reads(conn, journal, out.card_reads_watermark, batch)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        out.card_reads_inserted += send_reads(client, &rows, &instance)?;
        out.card_reads_sent += rows.len() as u64;
        out.batches += 1;
        advance(conn, journal, &key, last)?;
        out.card_reads_watermark = last;
        if rows.len() < batch {
            break;
        }
    }
    Ok(out)
}

/// The refusal to push past an event whose entry row is missing.
fn orphan_error(journal: &Path, seq: i64, id: &str, state: &str, watermark: i64) -> FleetError {
    FleetError::JournalFile(format!(
        "journal {}: event #{seq} ({state} of transfer {id}) has no entry row (the journal \
         is damaged or was edited), so its flow and cards are unknown; the push stops \
         there: the centre has everything up to #{watermark} and nothing after it. Restore \
         the journal from a backup (`sscard journal backup`) or ask the maintainers",
        journal.display()
    ))
}

/// Connects to `target` and pushes `journal`, at most one push per journal at a time
/// and within [`deadline`]: when another push holds the journal's lock this one sends
/// nothing, says so on stderr (a warning) and returns [`PushOutcome::busy`]; when the
/// deadline passes a watchdog thread ends the process with exit 17.
///
/// # Errors
/// As [`Target::connect`] and [`push`]; [`FleetError::JournalFile`] when the lock file
/// cannot be made.
pub fn push_to(target: &Target, journal: &Path, batch: usize) -> Result<PushOutcome, FleetError> {
    let centre = target.identity()?;
    let Some(_lock) = try_lock(journal)? else {
        log::warn!(
            "another push of {} is running (lock {} held); this one sends nothing and \
             leaves the pending events to it",
            journal.display(),
            lock_path(journal).display()
        );
        return Ok(PushOutcome {
            busy: true,
            ..PushOutcome::default()
        });
    };
    // Open (and check) the journal before reaching out, once.
    let conn = open_outbox(journal)?;
    let from = watermark(&conn, journal, &centre)?;
    let _watchdog = Watchdog::arm(deadline(), journal, from);
    let mut client = target.connect()?;
    push_open(&conn, journal, &mut client, &centre, batch)
}

/// Starts `sscard journal push` as a detached child (its own session, output to
/// nowhere) so that the desk never waits for the centre; returns at once. A push
/// already running (this one finds the journal's push lock held and stops at once) or
/// a centre down (this one fails, or its watchdog ends it) only means the next catches
/// up. Errors starting the child are logged, never returned: the flow is done.
pub fn spawn_background(config_path: Option<&Path>, journal: &Path) {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let Ok(exe) = std::env::current_exe() else {
        log::warn!("fleet push: cannot find own executable");
        return;
    };
    let mut cmd = Command::new(exe);
    cmd.arg("journal")
        .arg("--journal")
        .arg(journal)
        .arg("push")
        .arg("--quiet");
    if let Some(c) = config_path {
        cmd.arg("--config").arg(c);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    match cmd.spawn() {
        Ok(mut child) => {
            log::info!("fleet push started in the background (pid {})", child.id());
            // Reaped by a thread so a desk running all day leaves no zombies; if the
            // desk exits first, the child is reparented and runs to its end.
            std::thread::spawn(move || child.wait());
        }
        Err(e) => log::warn!("fleet push not started: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j.sqlite");
        drop(Journal::open(&p).unwrap());
        let c = open_outbox(&p).unwrap();
        (d, p, c)
    }

    #[test]
    fn the_watermark_never_moves_back() {
        let (_d, p, c) = outbox();
        advance(&c, &p, "centre", 22).unwrap();
        // A slower overlapping push acknowledging an earlier batch.
        advance(&c, &p, "centre", 21).unwrap();
        assert_eq!(watermark(&c, &p, "centre").unwrap(), 22);
        advance(&c, &p, "centre", 33).unwrap();
        assert_eq!(watermark(&c, &p, "centre").unwrap(), 33);
        // Each key on its own.
        advance(&c, &p, &reads_key("centre"), 2).unwrap();
        assert_eq!(watermark(&c, &p, &reads_key("centre")).unwrap(), 2);
        assert_eq!(watermark(&c, &p, "centre").unwrap(), 33);
    }

    #[test]
    fn one_push_lock_per_journal() {
        let (_d, p, _c) = outbox();
        assert!(lock_path(&p)
            .to_string_lossy()
            .ends_with("j.sqlite.push.lock"));
        let first = try_lock(&p).unwrap().expect("free at first");
        // flock conflicts between open file descriptions, as between processes.
        assert!(try_lock(&p).unwrap().is_none());
        drop(first);
        assert!(try_lock(&p).unwrap().is_some());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(lock_path(&p))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
