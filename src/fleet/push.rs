//! Push: the desk's SQLite journal is the outbox, the centre its destination.
//!
//! Why this shape: a desk must work for days with the centre down and then catch up,
//! and a push may die at any point (power cut, SIGKILL, the centre restarting). So:
//! - The journal's `events.seq` (AUTOINCREMENT, committed in order, since SQLite has
//!   one writer at a time) is the desk's sequence; the centre keeps `(terminal, seq)`
//!   unique and inserts with `ON CONFLICT DO NOTHING`, so sending an event twice
//!   changes nothing.
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
//! The watermark table lives in the journal file but is created here (`CREATE TABLE
//! IF NOT EXISTS`), not by the journal's schema: the journal does not depend on the
//! fleet, and a journal that was never pushed stays as it was.

use super::{FleetError, Target};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::time::Duration;

/// Default events per batch.
pub const DEFAULT_BATCH: usize = 500;

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
}

/// One event as sent.
struct Row {
    seq: i64,
    terminal: String,
    id: String,
    flow: String,
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

/// Opens the journal for pushing and makes sure the watermark table exists.
///
/// # Errors
/// [`FleetError::Journal`] when the file is absent or is not a journal.
pub fn open_outbox(path: &Path) -> Result<Connection, FleetError> {
    let e = jerr(path);
    if !path.exists() {
        return Err(FleetError::Journal {
            path: path.display().to_string(),
            source: rusqlite::Error::InvalidPath(path.to_path_buf()),
        });
    }
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
             FROM events ev JOIN entries en ON en.id = ev.id
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

/// Sends one batch in one transaction; returns how many rows were new.
fn send_batch(client: &mut postgres::Client, rows: &[Row]) -> Result<u64, FleetError> {
    let col = |f: fn(&Row) -> String| rows.iter().map(f).collect::<Vec<String>>();
    let seq: Vec<i64> = rows.iter().map(|r| r.seq).collect();
    let terminal = col(|r| r.terminal.clone());
    let id = col(|r| r.id.clone());
    let flow = col(|r| r.flow.clone());
    let state = col(|r| r.state.clone());
    let at = col(|r| r.at.clone());
    let operator = col(|r| r.operator.clone());
    let detail = col(|r| r.detail.clone());
    let old: Vec<Option<String>> = rows.iter().map(|r| r.old_card.clone()).collect();
    let new: Vec<Option<String>> = rows.iter().map(|r| r.new_card.clone()).collect();
    let bal: Vec<Option<i64>> = rows.iter().map(|r| r.balance_fen).collect();
    let mut tx = client.transaction()?;
    let n = tx.execute(
        "INSERT INTO fleet.events (terminal, seq, id, flow, state, at, operator, detail,
                                   old_card, new_card, balance_fen)
         SELECT t, s, i, f, st, a::timestamptz, o, d, oc, nc, b
         FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])
              AS u(t, s, i, f, st, a, o, d, oc, nc, b)
         ON CONFLICT DO NOTHING",
        &[
            &terminal, &seq, &id, &flow, &state, &at, &operator, &detail, &old, &new, &bal,
        ],
    )?;
    tx.commit()?;
    Ok(n)
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
    let conn = open_outbox(journal)?;
    let batch = batch.max(1);
    let mut out = PushOutcome {
        watermark: watermark(&conn, journal, centre)?,
        ..PushOutcome::default()
    };
    loop {
        let rows = read_batch(&conn, journal, out.watermark, batch)?;
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        out.inserted += send_batch(client, &rows)?;
        out.sent += rows.len() as u64;
        out.batches += 1;
        // The centre committed: only now the watermark moves (durable, synchronous=FULL).
        conn.execute(
            "INSERT INTO fleet_watermark (centre, seq, at) VALUES (?1, ?2, ?3)
             ON CONFLICT (centre) DO UPDATE SET seq = excluded.seq, at = excluded.at",
            params![centre, last, chrono::Local::now().to_rfc3339()],
        )
        .map_err(jerr(journal))?;
        out.watermark = last;
        if rows.len() < batch {
            break;
        }
    }
    Ok(out)
}

/// Connects to `target` and pushes `journal`.
///
/// # Errors
/// As [`Target::connect`] and [`push`].
pub fn push_to(target: &Target, journal: &Path, batch: usize) -> Result<PushOutcome, FleetError> {
    let centre = target.identity()?;
    // Check the journal before reaching out.
    drop(open_outbox(journal)?);
    let mut client = target.connect()?;
    push(journal, &mut client, &centre, batch)
}

/// Starts `sscard journal push` as a detached child (its own session, output to
/// nowhere) so that the desk never waits for the centre; returns at once. A push
/// already running or a centre down only means this one fails and the next catches
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
