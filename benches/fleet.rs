//! Fleet benchmark (issue 13): 1,000 simulated desks, 500 journal events each, pushed
//! concurrently into a private local PostgreSQL through the real push path (SQLite
//! journal → `fleet::push` → `INSERT ... ON CONFLICT DO NOTHING`, watermark after
//! commit), each desk with its own SCRAM login role under row-level security.
//! Then a full re-push (counts must not change), the centre filled to one million
//! events, `fleet lookup` latency and `fleet report` time.
//!
//! Run: `cargo bench --bench fleet` (root; installs `postgresql` when missing).
//! Knobs: FLEET_DESKS (1000), FLEET_EVENTS (500, a multiple of 5), FLEET_CONC
//! (connections in flight at once, 100), FLEET_TOTAL (1000000).

// A benchmark's or example's unwrap/expect stops the run with the message: there is
// nothing to recover (clippy.toml allows them in tests; these targets need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/postgres.rs"]
mod pg;

use rusqlite::params;
use sscard::fleet::{migrate, push, query, report, Target, TlsMode};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn terminal(d: usize) -> String {
    format!("{:012}", d + 1)
}

fn make_journal(path: &Path, term: &str, events: usize) {
    drop(sscard::activation::journal::Journal::open(path).unwrap());
    let mut conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    let tx = conn.transaction().unwrap();
    let states = ["FREEZING", "FROZEN", "CREDITING", "CREDITED", "COMPLETE"];
    let start = chrono::Utc::now().fixed_offset() - chrono::Duration::days(2);
    for t in 0..events / 5 {
        let id = format!("{:08X}{}", t, &term[4..]);
        let at = (start + chrono::Duration::seconds(t as i64 * 60)).to_rfc3339();
        tx.execute(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                old_card, new_card, balance_fen, created_at, updated_at, legacy)
             VALUES (?1, 'pharmacy', 'COMPLETE', ?2, 'op', 'c', 'h', ?3, ?4, 1000, ?5, ?5, 0)",
            params![id, term, format!("O{id}"), format!("N{id}"), at],
        )
        .unwrap();
        for s in states {
            tx.execute(
                "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES (?1, ?2, ?3, ?4, 'op', '')",
                params![id, s, at, term],
            )
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

fn pct(v: &mut [Duration], p: f64) -> Duration {
    v.sort();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Pushes every desk's journal with at most `conc` desks connected at once; returns
/// (wall time, per-desk push latencies incl. connect, events sent, events new).
fn push_all(
    cluster: &pg::Cluster,
    journals: &[PathBuf],
    pw: &Path,
    conc: usize,
) -> (Duration, Vec<Duration>, u64, u64) {
    let next = Arc::new(AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::with_capacity(journals.len())));
    let totals = Arc::new(Mutex::new((0u64, 0u64)));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..conc {
            let next = next.clone();
            let lat = lat.clone();
            let totals = totals.clone();
            s.spawn(move || loop {
                let d = next.fetch_add(1, Ordering::Relaxed);
                if d >= journals.len() {
                    break;
                }
                let role = migrate::desk_role(&terminal(d));
                let target = Target {
                    db: cluster.url(&role),
                    password_file: Some(pw.to_path_buf()),
                    tls: TlsMode::Disable,
                    ca_file: None,
                    connect_timeout: Duration::from_secs(60),
                };
                let t = Instant::now();
                let out = push::push_to(&target, &journals[d], push::DEFAULT_BATCH)
                    .unwrap_or_else(|e| panic!("desk {d}: {e}"));
                lat.lock().unwrap().push(t.elapsed());
                let mut tot = totals.lock().unwrap();
                tot.0 += out.sent;
                tot.1 += out.inserted;
            });
        }
    });
    let wall = t0.elapsed();
    let lat = std::mem::take(&mut *lat.lock().unwrap());
    let (sent, inserted) = *totals.lock().unwrap();
    (wall, lat, sent, inserted)
}

fn main() {
    let desks = env("FLEET_DESKS", 1000);
    let events = env("FLEET_EVENTS", 500);
    let conc = env("FLEET_CONC", 100);
    let total = env("FLEET_TOTAL", 1_000_000);
    println!("fleet bench: {desks} desks x {events} events, {conc} connections in flight");
    let cluster = pg::Cluster::start_with(&["max_connections = 400", "shared_buffers = 256MB"]);
    let mut admin = cluster.admin();
    migrate::migrate(&mut admin).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pw = pg::secret_file(dir.path(), "desk.pw", "bench-desk-password");
    let t = Instant::now();
    for d in 0..desks {
        migrate::add_desk(&mut admin, &terminal(d), "bench-desk-password").unwrap();
    }
    println!(
        "  {desks} desk roles made in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let journals: Vec<PathBuf> = (0..desks)
        .map(|d| {
            let p = dir.path().join(format!("j{d}.sqlite"));
            make_journal(&p, &terminal(d), events);
            p
        })
        .collect();
    println!("  journals written in {:.1} s", t.elapsed().as_secs_f64());

    let (wall, mut lat, sent, inserted) = push_all(&cluster, &journals, &pw, conc);
    let n = (desks * events) as u64;
    assert_eq!((sent, inserted), (n, n));
    let count: i64 = admin
        .query_one("SELECT count(*) FROM fleet.events", &[])
        .unwrap()
        .get(0);
    assert_eq!(count as u64, n);
    println!(
        "push: {n} events in {:.2} s = {:.0} events/s; per-desk push (connect+{} batch(es)+commit) p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        wall.as_secs_f64(),
        n as f64 / wall.as_secs_f64(),
        events.div_ceil(push::DEFAULT_BATCH),
        ms(pct(&mut lat, 0.5)),
        ms(pct(&mut lat, 0.99)),
        ms(pct(&mut lat, 1.0)),
    );

    // Full re-push: every watermark forgotten, everything sent again.
    for j in &journals {
        rusqlite::Connection::open(j)
            .unwrap()
            .execute("DELETE FROM fleet_watermark", [])
            .unwrap();
    }
    let (wall, _, sent, inserted) = push_all(&cluster, &journals, &pw, conc);
    let count2: i64 = admin
        .query_one("SELECT count(*) FROM fleet.events", &[])
        .unwrap()
        .get(0);
    assert_eq!((sent, inserted), (n, 0));
    assert_eq!(count2, count);
    println!(
        "re-push: {sent} events sent again in {:.2} s, 0 new; centre count unchanged at {count2}",
        wall.as_secs_f64()
    );

    // Fill to `total` events (other desks' history, written directly by the admin).
    let extra = total.saturating_sub(n as usize) as i64;
    let t = Instant::now();
    admin
        .execute(
            "INSERT INTO fleet.events (terminal, seq, id, flow, state, at, operator, detail, old_card, new_card, balance_fen)
             SELECT 'F' || lpad((g / 5000)::text, 11, '0'), g % 5000 + 1,
                    'F' || lpad((g / 5)::text, 15, '0'), 'pharmacy',
                    (ARRAY['FREEZING','FROZEN','CREDITING','CREDITED','COMPLETE'])[g % 5 + 1],
                    now() - interval '30 days' + g * interval '2 seconds', 'op', '', 'O', 'N', 100
             FROM generate_series(0, $1::bigint - 1) g",
            &[&extra],
        )
        .unwrap();
    // Card reads for the deadline section: 100,000 new cards read by the same desks,
    // deadlines spread over a year around today (one in ten later seen COMPLETE by
    // the events above, by card number 'N', the rest not).
    admin
        .execute(
            "INSERT INTO fleet.card_reads (terminal, journal, seq, at, operator, card_number,
                 expiry_date, deadline, deadline_basis, holder_masked)
             SELECT 'F' || lpad((g / 100)::text, 11, '0'), '', g % 100 + 1,
                    now() - interval '1 day', 'op',
                    CASE WHEN g % 10 = 0 THEN 'N' ELSE 'C' || lpad(g::text, 8, '0') END,
                    current_date + 3470 + (g % 365), current_date - 180 + (g % 365),
                    'expiry_date', '110101********1234'
             FROM generate_series(0, 99999) g",
            &[],
        )
        .unwrap();
    admin
        .batch_execute("ANALYZE fleet.events; ANALYZE fleet.card_reads")
        .unwrap();
    let total_now: i64 = admin
        .query_one("SELECT count(*) FROM fleet.events", &[])
        .unwrap()
        .get(0);
    println!(
        "centre filled to {total_now} events in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Lookups, as the back office would (one connection, 2,000 ids at random).
    let mut lat = Vec::new();
    let mut rng = 0x2545F4914F6CDD1Du64;
    for i in 0..2000 {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let d = (rng % desks as u64) as usize;
        let tnum = (rng >> 20) % (events as u64 / 5);
        let id = format!("{:08X}{}", tnum, &terminal(d)[4..]);
        let t = Instant::now();
        let seen = query::lookup(&mut admin, &id).unwrap();
        lat.push(t.elapsed());
        assert_eq!(seen.len(), 5, "lookup {i} {id}");
    }
    println!(
        "lookup at {total_now} events: p50 {:.2} ms p99 {:.2} ms max {:.2} ms (2,000 lookups)",
        ms(pct(&mut lat, 0.5)),
        ms(pct(&mut lat, 0.99)),
        ms(pct(&mut lat, 1.0))
    );
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = report::build(
            &mut admin,
            &report::Options {
                frozen_hours: 24,
                tz: "UTC".into(),
                deadline_days: 30,
            },
        )
        .unwrap();
        times.push(t.elapsed());
        assert!(!r.activations.is_empty());
        assert!(!r.deadlines.is_empty());
    }
    println!(
        "report at {total_now} events: {:.2} s (best of 3; worst {:.2} s)",
        times.iter().min().unwrap().as_secs_f64(),
        times.iter().max().unwrap().as_secs_f64()
    );
}
