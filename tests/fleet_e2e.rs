//! The fleet centre end to end, on a real private PostgreSQL (tests/common/postgres.rs):
//! `sscard fleet init`, desk roles, `sscard journal push` after days offline, killed
//! mid-push, the centre restarted mid-push, row-level security, lookups and reports on
//! known data. No mocks; PostgreSQL is installed when missing, never skipped.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/postgres.rs"]
mod pg;

use pg::{secret_file, Cluster, TlsFiles, ADMIN, TLS_HOST};
use rusqlite::params;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const DESK_A: &str = "000000000001";
const DESK_B: &str = "000000000002";

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sscard"))
}

fn sscard(args: &[&str]) -> Output {
    Command::new(exe())
        .args(args)
        .env("SSCARD_CONFIG", "none")
        .env_remove("SSCARD_FLEET_DB")
        .env_remove("SSCARD_FLEET_PASSWORD_FILE")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A centre with schema, two desks and a reporter; returns the password files.
struct Centre {
    pg: Cluster,
    dir: tempfile::TempDir,
}

impl Centre {
    fn new() -> Centre {
        Centre::with(Cluster::start())
    }

    fn with(pg: Cluster) -> Centre {
        let dir = tempfile::tempdir().unwrap();
        let c = Centre { pg, dir };
        let out = ok(&c.admin_cmd(&["init"]));
        assert!(out.contains("version 4"), "{out}");
        // Idempotent: a second init applies nothing.
        let out = ok(&c.admin_cmd(&["init"]));
        assert!(out.contains("up to date"), "{out}");
        for t in [DESK_A, DESK_B] {
            let pw = secret_file(c.dir.path(), &format!("{t}.pw"), &format!("pw-{t}"));
            ok(&c.admin_cmd(&["desk-add", t, "--new-password-file", pw.to_str().unwrap()]));
        }
        let pw = secret_file(c.dir.path(), "report.pw", "pw-report");
        ok(&c.admin_cmd(&[
            "reporter-add",
            "backoffice",
            "--new-password-file",
            pw.to_str().unwrap(),
        ]));
        c
    }

    fn admin_cmd(&self, args: &[&str]) -> Output {
        let url = self.pg.url(ADMIN);
        let pw = self.pg.admin_pw.to_str().unwrap().to_string();
        let mut a = vec!["fleet", "--db", &url, "--password-file", &pw];
        a.extend_from_slice(args);
        sscard(&a)
    }

    fn report_cmd(&self, args: &[&str]) -> Output {
        let url = self.pg.url("backoffice");
        let pw = self.dir.path().join("report.pw");
        let pw = pw.to_str().unwrap().to_string();
        let mut a = vec!["fleet", "--db", &url, "--password-file", &pw];
        a.extend_from_slice(args);
        sscard(&a)
    }

    fn push_cmd(&self, terminal: &str, journal: &Path, extra: &[&str]) -> Command {
        let mut c = Command::new(exe());
        c.env("SSCARD_CONFIG", "none")
            .args(["journal", "--journal"])
            .arg(journal)
            .args(["push", "--db", &self.pg.url(&format!("desk_{terminal}"))])
            .arg("--password-file")
            .arg(self.dir.path().join(format!("{terminal}.pw")))
            .args(extra);
        c
    }

    fn push(&self, terminal: &str, journal: &Path, extra: &[&str]) -> Output {
        self.push_cmd(terminal, journal, extra).output().unwrap()
    }

    fn count(&self, terminal: &str) -> (i64, i64, i64) {
        let mut a = self.pg.admin();
        let r = a
            .query_one(
                "SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM fleet.events WHERE terminal = $1",
                &[&terminal],
            )
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    }
}

fn push_json(o: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(o)).unwrap()
}

/// A desk journal with `transfers` pharmacy transfers of 5 events each
/// (FREEZING..COMPLETE), one event every `step` seconds from `start`: made with the
/// journal's own schema (Journal::open), filled in one SQLite transaction.
fn journal_with(
    path: &Path,
    terminal: &str,
    transfers: usize,
    start: chrono::DateTime<chrono::FixedOffset>,
    step: i64,
) -> i64 {
    drop(sscard::activation::journal::Journal::open(path).unwrap());
    let mut conn = rusqlite::Connection::open(path).unwrap();
    let tx = conn.transaction().unwrap();
    let states = ["FREEZING", "FROZEN", "CREDITING", "CREDITED", "COMPLETE"];
    let mut n = 0i64;
    for t in 0..transfers {
        let id = format!("{:08X}{}", t, &terminal[4..]);
        let at0 = start + chrono::Duration::seconds(step * n);
        tx.execute(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                old_card, new_card, account, category, balance_fen, created_at, updated_at, counter, legacy)
             VALUES (?1, 'pharmacy', 'COMPLETE', ?2, 'op', '110101199001011234', 'Holder', ?3, ?4, NULL, 1, 12345, ?5, ?5, 1, 0)",
            params![id, terminal, format!("OLD{t}"), format!("NEW{t}"), at0.to_rfc3339()],
        )
        .unwrap();
        for s in states {
            let at = start + chrono::Duration::seconds(step * n);
            tx.execute(
                "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES (?1, ?2, ?3, ?4, 'op', '')",
                params![id, s, at.to_rfc3339(), terminal],
            )
            .unwrap();
            n += 1;
        }
    }
    tx.commit().unwrap();
    n
}

fn days_ago(d: i64) -> chrono::DateTime<chrono::FixedOffset> {
    (chrono::Utc::now() - chrono::Duration::days(d)).fixed_offset()
}

#[test]
fn push_after_days_offline_then_repush_changes_nothing() {
    let c = Centre::new();
    let j = c.dir.path().join("a.sqlite");
    // Three days of work with the centre unreachable.
    let n = journal_with(&j, DESK_A, 1200, days_ago(3), 40);
    c.pg.pg_stop("fast");
    let o = c.push(DESK_A, &j, &["--json"]);
    assert_eq!(
        o.status.code(),
        Some(17),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!String::from_utf8_lossy(&o.stderr).contains("pw-"));
    c.pg.pg_start();
    let v = push_json(&c.push(DESK_A, &j, &["--json", "--batch", "500"]));
    assert_eq!(v["sent"], n);
    assert_eq!(v["inserted"], n);
    assert_eq!(v["batches"], (n + 499) / 500);
    assert_eq!(v["watermark"], n);
    assert_eq!(c.count(DESK_A), (n, n, n));
    // Nothing pending: nothing sent.
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["sent"], 0);
    // Watermark lost (journal restored from an older backup): a full re-push changes nothing.
    rusqlite::Connection::open(&j)
        .unwrap()
        .execute("DELETE FROM fleet_watermark", [])
        .unwrap();
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["sent"], n);
    assert_eq!(v["inserted"], 0);
    assert_eq!(c.count(DESK_A), (n, n, n));
    // Times survive the trip (the first event was three days ago).
    let mut a = c.pg.admin();
    let age: f64 = a
        .query_one(
            "SELECT extract(epoch FROM now() - min(at))::float8 / 86400 FROM fleet.events",
            &[],
        )
        .unwrap()
        .get(0);
    assert!((2.9..3.1).contains(&age), "{age}");
}

fn wait_for_rows(c: &Centre, terminal: &str, min: i64) {
    let t0 = Instant::now();
    while c.count(terminal).0 < min {
        assert!(t0.elapsed() < Duration::from_secs(60), "no rows arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn watermark(j: &Path) -> i64 {
    rusqlite::Connection::open(j)
        .unwrap()
        .query_row(
            "SELECT coalesce(max(seq), 0) FROM fleet_watermark",
            [],
            |r| r.get(0),
        )
        .unwrap_or(0)
}

#[test]
fn desk_killed_mid_push_loses_nothing_and_sends_nothing_twice() {
    let c = Centre::new();
    let j = c.dir.path().join("a.sqlite");
    let n = journal_with(&j, DESK_A, 8000, days_ago(5), 10);
    let mut child = c.push_cmd(DESK_A, &j, &["--batch", "20"]).spawn().unwrap();
    wait_for_rows(&c, DESK_A, 1);
    let killed = unsafe { libc_kill(child.id() as i32, 9) };
    assert_eq!(killed, 0);
    let st = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        st.signal(),
        Some(9),
        "push finished before the kill: the test proves nothing"
    );
    let (got, distinct, _) = c.count(DESK_A);
    assert!(got < n, "all {n} events arrived before the kill");
    assert_eq!(got, distinct);
    // The watermark never runs ahead of what the centre committed.
    let w = watermark(&j);
    assert!(w <= got, "watermark {w} ahead of the centre's {got}");
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["watermark"], n);
    assert_eq!(c.count(DESK_A), (n, n, n));
    assert_eq!(v["inserted"].as_i64().unwrap(), n - got);
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

#[test]
fn centre_restarted_mid_push_loses_nothing_and_sends_nothing_twice() {
    let c = Centre::new();
    let j = c.dir.path().join("a.sqlite");
    let n = journal_with(&j, DESK_A, 8000, days_ago(2), 10);
    let mut child = c.push_cmd(DESK_A, &j, &["--batch", "20"]).spawn().unwrap();
    wait_for_rows(&c, DESK_A, 1);
    c.pg.pg_stop("immediate");
    let st = child.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(17),
        "the push should fail when the centre crashes"
    );
    c.pg.pg_start();
    let (got, distinct, _) = c.count(DESK_A);
    assert!(got < n);
    assert_eq!(got, distinct);
    assert!(watermark(&j) <= got);
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["watermark"], n);
    assert_eq!(c.count(DESK_A), (n, n, n));
}

#[test]
fn desk_role_adds_only_its_own_events_and_changes_none() {
    let c = Centre::new();
    let ja = c.dir.path().join("a.sqlite");
    journal_with(&ja, DESK_A, 2, days_ago(1), 1);
    push_json(&c.push(DESK_A, &ja, &["--json"]));
    // A journal holding desk B's events, pushed with desk A's role: refused whole.
    let jb = c.dir.path().join("b.sqlite");
    journal_with(&jb, DESK_B, 2, days_ago(1), 1);
    let o = c.push(DESK_A, &jb, &[]);
    assert_eq!(o.status.code(), Some(17));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("row-level security"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(c.count(DESK_B).0, 0);
    assert_eq!(watermark(&jb), 0);
    let mut a =
        c.pg.connect(&format!("desk_{DESK_A}"), &format!("pw-{DESK_A}"))
            .unwrap();
    let e = a
        .execute(
            "INSERT INTO fleet.events (terminal, seq, id, flow, state, at, operator, detail)
             VALUES ($1, 99, 'X', 'pharmacy', 'FROZEN', now(), 'op', '')",
            &[&DESK_B],
        )
        .unwrap_err();
    let m = sscard::fleet::describe(&e);
    assert!(m.contains("row-level security"), "{m}");
    // A report with a desk's role: refused, and the message names the reporting role.
    let e = a
        .query("SELECT count(*) FROM fleet.events", &[])
        .unwrap_err();
    let m = sscard::fleet::describe(&e);
    assert!(m.contains("42501") && m.contains("reporter-add"), "{m}");
    // No password where the centre asks for one: the message says where it goes.
    let url = c.pg.url("backoffice");
    let o = sscard(&["fleet", "--db", &url, "lookup", "X"]);
    assert_eq!(o.status.code(), Some(17), "{o:?}");
    let m = String::from_utf8_lossy(&o.stderr);
    assert!(m.contains("--password-file"), "{m}");
    for sql in [
        "UPDATE fleet.events SET state = 'COMPLETE'",
        "DELETE FROM fleet.events",
        "TRUNCATE fleet.events",
        "SELECT count(*) FROM fleet.events",
        "UPDATE fleet.desks SET terminal = 'x'",
        "INSERT INTO fleet.desks (terminal, role) VALUES ('x', 'y')",
    ] {
        let e = sscard::fleet::describe(&a.batch_execute(sql).unwrap_err());
        assert!(e.contains("permission denied"), "{sql}: {e}");
    }
    // Own events: allowed (and a duplicate is ignored).
    let n = a
        .execute(
            "INSERT INTO fleet.events (terminal, seq, id, flow, state, at, operator, detail)
             VALUES ($1, 1000, 'X', 'pharmacy', 'FROZEN', now(), 'op', '') ON CONFLICT DO NOTHING",
            &[&DESK_A],
        )
        .unwrap();
    assert_eq!(n, 1);
    // A desk reads one transfer by id through the function, nothing else.
    let rows = a
        .query("SELECT * FROM fleet.transfer_history('x')", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    // The reporter reads but cannot write.
    let mut r = c.pg.connect("backoffice", "pw-report").unwrap();
    let cnt: i64 = r
        .query_one("SELECT count(*) FROM fleet.events", &[])
        .unwrap()
        .get(0);
    assert_eq!(cnt, 11);
    let e = sscard::fleet::describe(&r.batch_execute("DELETE FROM fleet.events").unwrap_err());
    assert!(e.contains("permission denied"), "{e}");
    // Wrong password: refused, and the password never appears in the message.
    let bad = secret_file(c.dir.path(), "bad.pw", "not-the-password");
    let o = sscard(&[
        "journal",
        "--journal",
        ja.to_str().unwrap(),
        "push",
        "--db",
        &c.pg.url(&format!("desk_{DESK_A}")),
        "--password-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(17));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("not-the-password"));
    // A password file others can read is refused before connecting.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = sscard(&[
        "journal",
        "--journal",
        ja.to_str().unwrap(),
        "push",
        "--db",
        &c.pg.url(&format!("desk_{DESK_A}")),
        "--password-file",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(11));
    assert!(String::from_utf8_lossy(&o.stderr).contains("chmod 600"));
    // A password in the URL is refused.
    let o = sscard(&[
        "journal",
        "--journal",
        ja.to_str().unwrap(),
        "push",
        "--db",
        &format!(
            "postgresql://desk_{DESK_A}:secret@127.0.0.1:{}/sscard",
            c.pg.port
        ),
    ]);
    // Exit 11 (credentials) since i13fix; it was 2 (usage).
    assert_eq!(o.status.code(), Some(11));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("secret"));
}

/// Inserts one event (and its entry when new) with a chosen time.
fn event(conn: &rusqlite::Connection, id: &str, terminal: &str, state: &str, hours_ago: i64) {
    let at = (chrono::Utc::now() - chrono::Duration::hours(hours_ago))
        .fixed_offset()
        .to_rfc3339();
    conn.execute(
        "INSERT OR IGNORE INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
            old_card, new_card, balance_fen, created_at, updated_at, legacy)
         VALUES (?1, 'pharmacy', ?2, ?3, 'op', 'c', 'h', ?4, ?5, 5000, ?6, ?6, 0)",
        params![id, state, terminal, format!("OLD-{id}"), format!("NEW-{id}"), at],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES (?1, ?2, ?3, ?4, 'op', ?5)",
        params![id, state, at, terminal, format!("{state} at {terminal}")],
    )
    .unwrap();
}

#[test]
fn lookup_and_report_on_known_data() {
    let c = Centre::new();
    let ja = c.dir.path().join("a.sqlite");
    let jb = c.dir.path().join("b.sqlite");
    drop(sscard::activation::journal::Journal::open(&ja).unwrap());
    drop(sscard::activation::journal::Journal::open(&jb).unwrap());
    let a = rusqlite::Connection::open(&ja).unwrap();
    let b = rusqlite::Connection::open(&jb).unwrap();
    // SPLIT: frozen at A (50 h ago), credited and completed at B.
    event(&a, "SPLIT", DESK_A, "FREEZING", 50);
    event(&a, "SPLIT", DESK_A, "FROZEN", 50);
    event(&b, "SPLIT", DESK_B, "CREDITING", 49);
    event(&b, "SPLIT", DESK_B, "CREDITED", 49);
    event(&b, "SPLIT", DESK_B, "COMPLETE", 48);
    // STUCK: frozen at A 30 h ago, no credit anywhere.
    event(&a, "STUCK", DESK_A, "FREEZING", 30);
    event(&a, "STUCK", DESK_A, "FROZEN", 30);
    // RECENT: frozen 1 h ago (under the 24 h threshold).
    event(&b, "RECENT", DESK_B, "FREEZING", 1);
    event(&b, "RECENT", DESK_B, "FROZEN", 1);
    // DONE: a whole activation at A.
    for s in ["FREEZING", "FROZEN", "CREDITING", "CREDITED", "COMPLETE"] {
        event(&a, "DONE", DESK_A, s, 2);
    }
    // GONE: cancelled at B.
    for s in [
        "FREEZING",
        "FROZEN",
        "VOIDING",
        "VOIDED",
        "CANCELLING",
        "CANCELLED",
    ] {
        event(&b, "GONE", DESK_B, s, 3);
    }
    push_json(&c.push(DESK_A, &ja, &["--json"]));
    push_json(&c.push(DESK_B, &jb, &["--json"]));

    // Lookup: both desks' views, in time order.
    let v: serde_json::Value =
        serde_json::from_str(&ok(&c.report_cmd(&["lookup", "split", "--json"]))).unwrap();
    let seen: Vec<(String, String)> = v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["terminal"].as_str().unwrap().into(),
                e["state"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = [
        (DESK_A, "FREEZING"),
        (DESK_A, "FROZEN"),
        (DESK_B, "CREDITING"),
        (DESK_B, "CREDITED"),
        (DESK_B, "COMPLETE"),
    ]
    .iter()
    .map(|(t, s)| (t.to_string(), s.to_string()))
    .collect();
    assert_eq!(seen, want);
    let text = ok(&c.report_cmd(&["lookup", "SPLIT"]));
    assert!(text.contains("terminal 000000000002"), "{text}");
    // A desk role can look up too; an unknown id is a clear error.
    let o = sscard(&[
        "fleet",
        "--db",
        &c.pg.url(&format!("desk_{DESK_B}")),
        "--password-file",
        c.dir.path().join(format!("{DESK_B}.pw")).to_str().unwrap(),
        "lookup",
        "NOSUCH",
    ]);
    assert_eq!(o.status.code(), Some(13));
    assert!(String::from_utf8_lossy(&o.stderr).contains("knows no transfer NOSUCH"));

    // Report, JSON.
    let r: serde_json::Value =
        serde_json::from_str(&ok(&c.report_cmd(&["report", "--format", "json"]))).unwrap();
    let acts: Vec<(String, i64)> = r["activations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["terminal"].as_str().unwrap().into(),
                a["count"].as_i64().unwrap(),
            )
        })
        .collect();
    let mut terms: Vec<String> = acts.iter().map(|a| a.0.clone()).collect();
    terms.sort();
    assert_eq!(
        terms,
        vec![DESK_A.to_string(), DESK_B.to_string()],
        "{acts:?}"
    );
    assert_eq!(acts.iter().map(|a| a.1).sum::<i64>(), 2);
    let frozen: Vec<&str> = r["frozen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(frozen, vec!["STUCK"]);
    assert_eq!(r["frozen"][0]["old_card"], "OLD-STUCK");
    let split = r["split"].as_array().unwrap();
    assert_eq!(split.len(), 1);
    assert_eq!(split[0]["id"], "SPLIT");
    assert_eq!(split[0]["credited_at"], DESK_B);
    assert_eq!(split[0]["open_at"], DESK_A);
    assert_eq!(split[0]["open_state"], "FROZEN");
    let cancels = r["cancels"].as_array().unwrap();
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0]["id"], "GONE");
    assert_eq!(cancels[0]["state"], "CANCELLED");
    assert!(r["notes"][0].as_str().unwrap().contains("card"));
    // A lower threshold catches the recent freeze too.
    let r: serde_json::Value = serde_json::from_str(&ok(&c.report_cmd(&[
        "report",
        "--format",
        "json",
        "--frozen-hours",
        "0",
    ])))
    .unwrap();
    let mut frozen: Vec<&str> = r["frozen"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    frozen.sort();
    assert_eq!(frozen, vec!["RECENT", "STUCK"]);

    // CSV: parsed back with the csv crate.
    let text = ok(&c.report_cmd(&["report", "--format", "csv"]));
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let sections: Vec<&str> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(sections.iter().filter(|s| **s == "activations").count(), 2);
    assert!(rows.iter().any(|r| &r[0] == "frozen" && &r[3] == "STUCK"));
    assert!(rows
        .iter()
        .any(|r| &r[0] == "split" && &r[3] == "SPLIT" && &r[9] == DESK_B));
    assert!(rows.iter().any(|r| &r[0] == "cancels" && &r[3] == "GONE"));
    // Text.
    let text = ok(&c.report_cmd(&["report"]));
    assert!(
        text.contains("STUCK") && text.contains("SPLIT") && text.contains("GONE"),
        "{text}"
    );
    assert!(text.contains("deadline within 30 days or past"), "{text}");
    // An unknown time zone is refused clearly, as bad usage (i13post: it was exit 17,
    // "a database error"), and so are out-of-range numbers (which wrapped or failed
    // at the centre).
    for tz in ["Mars/Olympus", "", "Asia/Shanghai'; --"] {
        let o = c.report_cmd(&["report", "--tz", tz]);
        assert_eq!(o.status.code(), Some(2), "{tz:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("--tz") && e.contains("Asia/Shanghai"), "{e}");
    }
    for (opt, v) in [
        ("--deadline-days", "4294967295"),
        ("--deadline-days", "3651"),
        ("--deadline-days", "-1"),
        ("--frozen-hours", "87601"),
        ("--frozen-hours", "4000000000"),
    ] {
        let o = c.report_cmd(&["report", &format!("{opt}={v}")]);
        assert_eq!(o.status.code(), Some(2), "{opt} {v}: {}", stderr(&o));
        assert!(stderr(&o).contains(opt), "{}", stderr(&o));
    }
    // The edges of the ranges, and a POSIX-style zone the centre knows, are taken.
    for args in [
        &["--deadline-days", "3650", "--frozen-hours", "87600"][..],
        &[
            "--deadline-days",
            "0",
            "--frozen-hours",
            "0",
            "--tz",
            "Asia/Shanghai",
        ],
        &["--tz", "UTC+8"],
    ] {
        let mut a = vec!["report", "--format", "json"];
        a.extend_from_slice(args);
        ok(&c.report_cmd(&a));
    }
}

#[test]
fn desk_with_fleet_section_advises_before_cancel_and_pushes_after_the_flow() {
    let c = Centre::new();
    let jb = c.dir.path().join("b.sqlite");
    journal_with(&jb, DESK_B, 1, days_ago(1), 1);
    push_json(&c.push(DESK_B, &jb, &["--json"]));
    let ja = c.dir.path().join("a.sqlite");
    let n = journal_with(&ja, DESK_A, 3, days_ago(1), 1);
    let cfg = c.dir.path().join("sscard.toml");
    std::fs::write(
        &cfg,
        format!(
            "terminal = \"{DESK_A}\"\njournal = \"{}\"\ntimeout = 1\nui = \"plain\"\n\n[fleet]\ndb = \"{}\"\npassword_file = \"{}\"\n",
            ja.display(),
            c.pg.url(&format!("desk_{DESK_A}")),
            c.dir.path().join(format!("{DESK_A}.pw")).display()
        ),
    )
    .unwrap();
    // Desk B's transfer, cancelled at desk A: no PC/SC here, so the flow itself fails,
    // but the advisory comes first and the push follows whatever the outcome.
    let out = Command::new(exe())
        .args(["activate", "cancel", "0000000000000002", "--config"])
        .arg(&cfg)
        .env("PCSCLITE_CSOCK_NAME", c.dir.path().join("no-pcscd.sock"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("from other desks"), "{err}");
    assert!(err.contains("terminal 000000000002"), "{err}");
    assert!(!err.contains("pw-"), "{err}");
    let t0 = Instant::now();
    while c.count(DESK_A).0 < n {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "background push did not arrive: {:?}",
            c.count(DESK_A)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.count(DESK_A), (n, n, n));
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn tls_verify_full_pushes_and_a_wrong_ca_or_host_name_is_refused() {
    let tls = TlsFiles::generate();
    let c = Centre::with(Cluster::start_tls(&tls));
    let j = c.dir.path().join("a.sqlite");
    let n = journal_with(&j, DESK_A, 4, days_ago(1), 1);
    let pw = c.dir.path().join(format!("{DESK_A}.pw"));
    // By the name in the certificate (hostaddr: no DNS needed), and by address.
    let by_name = format!(
        "postgresql://desk_{DESK_A}@{TLS_HOST}:{}/sscard?hostaddr=127.0.0.1",
        c.pg.port
    );
    let by_addr = c.pg.url(&format!("desk_{DESK_A}"));
    let ca = tls.ca.to_str().unwrap();
    let rogue = tls.rogue_ca.to_str().unwrap();
    let push = |db: &str, extra: &[&str]| {
        let mut a = vec![
            "journal",
            "--journal",
            j.to_str().unwrap(),
            "push",
            "--db",
            db,
            "--password-file",
            pw.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        sscard(&a)
    };
    // A certificate signed by another CA: refused, clearly, exit 17, nothing sent.
    let o = push(&by_name, &["--tls", "verify-full", "--ca-file", rogue]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("certificate was refused"), "{e}");
    assert!(e.contains("verify-full") && e.contains("rogue.pem"), "{e}");
    eprintln!("wrong CA: {e}");
    assert!(!e.contains("pw-"), "{e}");
    assert_eq!(c.count(DESK_A).0, 0);
    // The right CA but a host name the certificate does not carry: refused.
    let o = push(&by_addr, &["--tls", "verify-full", "--ca-file", ca]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("certificate was refused"), "{e}");
    assert!(e.contains("name the host '127.0.0.1'"), "{e}");
    eprintln!("wrong host name: {e}");
    assert_eq!(c.count(DESK_A).0, 0);
    // The system's roots alone do not know the test CA.
    let o = push(&by_name, &["--tls", "verify-full"]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    assert!(stderr(&o).contains("the system's roots"), "{}", stderr(&o));
    // Right CA, right name: pushed.
    let v = push_json(&push(
        &by_name,
        &["--tls", "verify-full", "--ca-file", ca, "--json"],
    ));
    assert_eq!(v["inserted"], n);
    assert_eq!(c.count(DESK_A), (n, n, n));
    // libpq's sslmode/sslrootcert in the URL work the same.
    let v = push_json(&push(
        &format!("{by_name}&sslmode=verify-full&sslrootcert={ca}"),
        &["--json"],
    ));
    assert_eq!(v["sent"], 0);
    let o = push(
        &format!("{by_addr}?sslmode=verify-full&sslrootcert={rogue}"),
        &[],
    );
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    // verify-ca checks the chain, not the name.
    ok(&push(&by_addr, &["--tls", "verify-ca", "--ca-file", ca]));
    let o = push(&by_addr, &["--tls", "verify-ca", "--ca-file", rogue]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    // Modes that fall back to plain text, or contradict the flags, are refused (usage).
    let o = push(&format!("{by_addr}?sslmode=prefer"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("plain text"), "{}", stderr(&o));
    let o = push(
        &format!("{by_addr}?sslmode=verify-ca"),
        &["--tls", "verify-full"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // The connection really is encrypted (the server says so).
    let t = sscard::fleet::Target {
        db: by_name.clone(),
        password_file: Some(pw.clone()),
        tls: sscard::fleet::TlsMode::VerifyFull,
        ca_file: Some(tls.ca.clone()),
        connect_timeout: Duration::from_secs(10),
    };
    let mut client = t.connect().unwrap();
    let (on, version): (bool, String) = {
        let r = client
            .query_one(
                "SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert!(on && version.starts_with("TLS"), "{on} {version}");
    // Through the desk's [fleet] section, as the background push runs it.
    let cfg = c.dir.path().join("tls.toml");
    std::fs::write(
        &cfg,
        format!(
            "terminal = \"{DESK_A}\"\n\n[fleet]\ndb = \"{by_name}\"\npassword_file = \"{}\"\ntls = \"verify-full\"\nca_file = \"{ca}\"\n",
            pw.display()
        ),
    )
    .unwrap();
    event(
        &rusqlite::Connection::open(&j).unwrap(),
        "CFG",
        DESK_A,
        "FREEZING",
        1,
    );
    let v = push_json(&sscard(&[
        "journal",
        "--journal",
        j.to_str().unwrap(),
        "push",
        "--config",
        cfg.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["inserted"], 1);
    // i13fix: a URL given with --db keeps the section's password file and CA (same
    // role): before, it dropped both, and the push could not log in.
    event(
        &rusqlite::Connection::open(&j).unwrap(),
        "CLI",
        DESK_A,
        "FREEZING",
        1,
    );
    let v = push_json(&sscard(&[
        "journal",
        "--journal",
        j.to_str().unwrap(),
        "push",
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        &format!("{by_name}&application_name=desk-cli"),
        "--json",
    ]));
    assert_eq!(v["inserted"], 1);
    // ... and so does `fleet lookup` (the desk role may look up a transfer).
    let cli_lookup = |db: &str| {
        sscard(&[
            "fleet",
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            db,
            "lookup",
            "CLI",
        ])
    };
    ok(&cli_lookup(&by_name));
    // The section's CA checks the URL typed on the command line: by address, the
    // certificate's name does not match (verify-full from the section).
    let o = cli_lookup(&by_addr);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("certificate was refused"),
        "{}",
        stderr(&o)
    );
    // Another role is not given this role's password.
    let o = cli_lookup(&format!(
        "postgresql://backoffice@{TLS_HOST}:{}/sscard?hostaddr=127.0.0.1",
        c.pg.port
    ));
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    assert!(stderr(&o).contains("password"), "{}", stderr(&o));
    // i13fix: no TLS mode set anywhere. A centre on another machine (a host name) is
    // verified: with the CA, pushed; without, refused (before: plain text, pushed).
    let auto_cfg = c.dir.path().join("auto.toml");
    std::fs::write(
        &auto_cfg,
        format!(
            "[fleet]\ndb = \"{by_name}\"\npassword_file = \"{}\"\nca_file = \"{ca}\"\n",
            pw.display()
        ),
    )
    .unwrap();
    event(
        &rusqlite::Connection::open(&j).unwrap(),
        "AUTO",
        DESK_A,
        "FREEZING",
        1,
    );
    let v = push_json(&sscard(&[
        "journal",
        "--journal",
        j.to_str().unwrap(),
        "push",
        "--config",
        auto_cfg.to_str().unwrap(),
        "--json",
    ]));
    assert_eq!(v["inserted"], 1);
    let o = push(&by_name, &[]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("No TLS mode is set") && e.contains("ca_file"),
        "{e}"
    );
    assert!(!e.contains("pw-"), "{e}");
    // The connections themselves, as the server sees them: verified TLS to the
    // name; plain text to this machine's address (nothing crosses a network).
    let ssl_of = |db: &str, ca: Option<PathBuf>| -> bool {
        let t = sscard::fleet::Target {
            db: db.to_string(),
            password_file: Some(pw.clone()),
            tls: sscard::fleet::TlsMode::Auto,
            ca_file: ca,
            connect_timeout: Duration::from_secs(10),
        };
        t.connect()
            .unwrap()
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert!(ssl_of(&by_name, Some(tls.ca.clone())));
    assert!(!ssl_of(&by_addr, None));
    // The password file: owner-only, else refused before connecting (exit 11).
    use std::os::unix::fs::PermissionsExt;
    for mode in [0o640, 0o604] {
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(mode)).unwrap();
        let o = push(&by_name, &["--tls", "verify-full", "--ca-file", ca]);
        assert_eq!(o.status.code(), Some(11), "{mode:o}: {}", stderr(&o));
        assert!(stderr(&o).contains("chmod 600"), "{}", stderr(&o));
    }
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn remove_journal(j: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = j.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

fn instances(c: &Centre, terminal: &str) -> i64 {
    c.pg.admin()
        .query_one(
            "SELECT count(DISTINCT journal) FROM fleet.events WHERE terminal = $1",
            &[&terminal],
        )
        .unwrap()
        .get(0)
}

#[test]
fn a_recreated_journal_does_not_collide_and_a_restored_one_is_refused_not_dropped() {
    let c = Centre::new();
    let j = c.dir.path().join("a.sqlite");
    let n = journal_with(&j, DESK_A, 2, days_ago(3), 1);
    assert_eq!(push_json(&c.push(DESK_A, &j, &["--json"]))["inserted"], n);
    // The journal is deleted and made again: its sequence starts at 1 again.
    remove_journal(&j);
    let m = journal_with(&j, DESK_A, 3, days_ago(2), 1);
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["sent"], m);
    assert_eq!(
        v["inserted"], m,
        "a re-created journal's events were dropped"
    );
    assert_eq!(c.count(DESK_A).0, n + m);
    assert_eq!(instances(&c, DESK_A), 2);
    // i13fix: `fleet lookup` tells the two journals apart. Transfer #0 of each has the
    // same id and the same sequence numbers; only the instance differs.
    let now = sscard::activation::journal::Journal::open(&j)
        .unwrap()
        .instance()
        .unwrap();
    let id = format!("{:08X}{}", 0, &DESK_A[4..]);
    let doc: serde_json::Value =
        serde_json::from_str(&ok(&c.report_cmd(&["lookup", &id, "--format", "json"]))).unwrap();
    assert_eq!(
        doc["schema_version"],
        sscard::output::Doc::FleetLookup.version()
    );
    let events = doc["events"].as_array().unwrap();
    assert_eq!(events.len(), 10, "{doc}");
    let journals: std::collections::BTreeSet<&str> = events
        .iter()
        .map(|e| e["journal"].as_str().unwrap())
        .collect();
    assert_eq!(journals.len(), 2, "{doc}");
    assert!(journals.contains(now.as_str()), "{doc}");
    assert!(journals.iter().all(|i| i.len() == 32), "{doc}");
    let text = ok(&c.report_cmd(&["lookup", &id]));
    for i in &journals {
        assert_eq!(text.matches(&format!("journal {i}")).count(), 5, "{text}");
    }
    let csv = ok(&c.report_cmd(&["lookup", &id, "--format", "csv"]));
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(header, sscard::cli::fleet::LOOKUP_CSV_HEADER);
    let col = header.iter().position(|h| *h == "journal").unwrap();
    let from_csv: std::collections::BTreeSet<String> = lines
        .map(|l| l.split(',').nth(col).unwrap().to_string())
        .collect();
    assert_eq!(
        from_csv,
        journals
            .iter()
            .map(|i| format!("\"=\"\"{i}\"\"\""))
            .collect(),
        "{csv}"
    );
    // A backup of the journal now; then more work, pushed.
    let backup = c.dir.path().join("backup.sqlite");
    std::fs::copy(&j, &backup).unwrap();
    let conn = rusqlite::Connection::open(&j).unwrap();
    for s in ["FREEZING", "FROZEN", "CREDITING"] {
        event(&conn, "LOST", DESK_A, s, 1);
    }
    drop(conn);
    assert_eq!(push_json(&c.push(DESK_A, &j, &["--json"]))["inserted"], 3);
    // The disk fails; the backup is restored and the desk works on: its new events
    // get the numbers the lost ones had at the centre.
    remove_journal(&j);
    std::fs::copy(&backup, &j).unwrap();
    let conn = rusqlite::Connection::open(&j).unwrap();
    for s in ["FREEZING", "FROZEN"] {
        event(&conn, "AFTER", DESK_A, s, 0);
    }
    drop(conn);
    let before = c.count(DESK_A).0;
    let o = c.push(DESK_A, &j, &[]);
    assert_eq!(o.status.code(), Some(17), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("restored from a backup"), "{e}");
    assert!(e.contains(&format!("#{}", m + 1)), "{e}");
    assert!(e.contains("sscard fleet new-instance"), "{e}");
    eprintln!("collision: {e}");
    assert_eq!(c.count(DESK_A).0, before, "nothing changed at the centre");
    // The remedy: a new instance; then the new events go, the lost ones stay.
    let out = ok(&sscard(&[
        "fleet",
        "new-instance",
        "--journal",
        j.to_str().unwrap(),
    ]));
    assert!(out.contains("instance"), "{out}");
    let v = push_json(&c.push(DESK_A, &j, &["--json"]));
    assert_eq!(v["inserted"], 2);
    assert_eq!(c.count(DESK_A).0, before + 2);
    let mut a = c.pg.admin();
    for (id, k) in [("LOST", 3i64), ("AFTER", 2)] {
        let got: i64 = a
            .query_one("SELECT count(*) FROM fleet.events WHERE id = $1", &[&id])
            .unwrap()
            .get(0);
        assert_eq!(got, k, "{id}");
    }
    // An unknown journal file for new-instance: a journal error, not a new file.
    let o = sscard(&[
        "fleet",
        "new-instance",
        "--journal",
        "/nonexistent/j.sqlite",
    ]);
    assert_eq!(o.status.code(), Some(13));
}

/// A card read as the driver records it, through the journal's own code (masking
/// included).
fn card_read(j: &Path, terminal: &str, card: &str, expiry: chrono::NaiveDate) {
    use sscard::card::fields::{FieldRead, Fields};
    use sscard::profile::Value;
    let profiles = sscard::profile::Profiles::builtin().unwrap();
    let f = |role: &str, value: Value| FieldRead {
        role: role.into(),
        raw: vec![],
        value,
    };
    let fields = Fields {
        items: vec![
            f("card_number", Value::Text(card.into())),
            f("expiry_date", Value::Date(Some(expiry))),
            f("citizen_id", Value::Text("110101199001011234".into())),
            f("name", Value::Text("Holder Name".into())),
            f("status", Value::Code(0)),
        ],
    };
    let mut jn = sscard::activation::journal::Journal::open(j).unwrap();
    let before = jn.card_reads().unwrap().len();
    jn.note_card_read(profiles.get("ssc").unwrap(), &fields, terminal, "op");
    assert_eq!(jn.card_reads().unwrap().len(), before + 1);
}

#[test]
fn deadline_report_from_card_reads_and_the_centre_holds_no_secrets() {
    let c = Centre::new();
    let ja = c.dir.path().join("a.sqlite");
    let jb = c.dir.path().join("b.sqlite");
    journal_with(&ja, DESK_A, 2, days_ago(1), 1);
    drop(sscard::activation::journal::Journal::open(&jb).unwrap());
    let today = chrono::Local::now().date_naive();
    // expiry − 10 years + 6 months = deadline: choose the expiry for a deadline.
    let expiry_for = |days: i64| {
        (today + chrono::Duration::days(days))
            .checked_sub_months(chrono::Months::new(6))
            .unwrap()
            .checked_add_months(chrono::Months::new(120))
            .unwrap()
    };
    card_read(&ja, DESK_A, "XNEAR0001", expiry_for(10));
    card_read(&jb, DESK_B, "XNEAR0001", expiry_for(10));
    card_read(&ja, DESK_A, "XPAST0001", expiry_for(-5));
    card_read(&jb, DESK_B, "XFAR00001", expiry_for(100));
    // Read when its deadline had passed, then activated at desk B: not reported.
    card_read(&jb, DESK_B, "XDONE0001", expiry_for(-20));
    let b = rusqlite::Connection::open(&jb).unwrap();
    for s in ["FREEZING", "FROZEN", "CREDITING", "CREDITED", "COMPLETE"] {
        b.execute(
            "INSERT OR IGNORE INTO entries (id, flow, state, terminal, operator, citizen_id,
                holder_name, old_card, new_card, created_at, updated_at, legacy)
             VALUES ('DONE1', 'pharmacy', 'COMPLETE', ?1, 'op', '110101199001011234',
                'Holder Name', 'OLD1', 'XDONE0001', 'x', 'x', 0)",
            params![DESK_B],
        )
        .unwrap();
        b.execute(
            "INSERT INTO events (id, state, at, terminal, operator, detail) VALUES ('DONE1', ?1, ?2, ?3, 'op', '')",
            params![s, chrono::Utc::now().to_rfc3339(), DESK_B],
        )
        .unwrap();
    }
    drop(b);
    let va = push_json(&c.push(DESK_A, &ja, &["--json"]));
    assert_eq!(va["card_reads_inserted"], 2);
    let vb = push_json(&c.push(DESK_B, &jb, &["--json"]));
    assert_eq!(vb["card_reads_inserted"], 3);
    assert_eq!(vb["inserted"], 5);
    // A re-push sends nothing; with the watermarks lost, it changes nothing.
    assert_eq!(
        push_json(&c.push(DESK_B, &jb, &["--json"]))["card_reads_sent"],
        0
    );
    rusqlite::Connection::open(&jb)
        .unwrap()
        .execute("DELETE FROM fleet_watermark", [])
        .unwrap();
    let v = push_json(&c.push(DESK_B, &jb, &["--json"]));
    assert_eq!(
        (
            v["card_reads_sent"].as_i64(),
            v["card_reads_inserted"].as_i64()
        ),
        (Some(3), Some(0))
    );

    let r: serde_json::Value = serde_json::from_str(&ok(
        &c.report_cmd(&["report", "--format", "json", "--tz", "UTC"])
    ))
    .unwrap();
    let d = r["deadlines"].as_array().unwrap();
    let cards: Vec<&str> = d
        .iter()
        .map(|x| x["card_number"].as_str().unwrap())
        .collect();
    assert_eq!(cards, vec!["XPAST0001", "XNEAR0001"], "{r:#}");
    let utc_today = chrono::Utc::now().date_naive();
    let shift = (today - utc_today).num_days();
    assert_eq!(d[0]["days_left"], -5 + shift);
    assert_eq!(d[1]["days_left"], 10 + shift);
    assert_eq!(d[1]["reads"], 2);
    assert_eq!(d[1]["terminal"], DESK_B, "the last read");
    assert_eq!(d[1]["basis"], "expiry_date");
    assert_eq!(d[1]["holder_masked"], "110101********1234");
    // A wider window takes the far one too; the activated card never.
    let r: serde_json::Value = serde_json::from_str(&ok(&c.report_cmd(&[
        "report",
        "--format",
        "json",
        "--deadline-days",
        "365",
    ])))
    .unwrap();
    let cards: Vec<&str> = r["deadlines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["card_number"].as_str().unwrap())
        .collect();
    assert_eq!(cards, vec!["XPAST0001", "XNEAR0001", "XFAR00001"]);
    // Text and CSV.
    let text = ok(&c.report_cmd(&["report"]));
    assert!(
        text.contains("card XPAST0001") && text.contains("PAST by"),
        "{text}"
    );
    assert!(
        text.contains("card XNEAR0001") && !text.contains("XDONE0001"),
        "{text}"
    );
    let csv_text = ok(&c.report_cmd(&["report", "--format", "csv"]));
    let mut rd = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    let dl: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| &r[0] == "deadline")
        .map(|r| (&r[3], &r[4]))
        .collect();
    assert_eq!(dl, vec![("XPAST0001", "PAST"), ("XNEAR0001", "NEAR")]);

    // The centre holds no secret and no holder identity: every row of every fleet
    // table, as text, has neither the citizen ID nor the name nor a password.
    let mut a = c.pg.admin();
    let dump: String = a
        .query_one(
            "SELECT coalesce(string_agg(t, E'\\n'), '') FROM (
                SELECT row_to_json(e)::text AS t FROM fleet.events e
                UNION ALL SELECT row_to_json(r)::text FROM fleet.card_reads r
                UNION ALL SELECT row_to_json(d)::text FROM fleet.desks d) x",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(dump.contains("XNEAR0001") && dump.contains("110101********1234"));
    for secret in [
        "110101199001011234",
        "19900101",
        "Holder",
        "pw-",
        "admin-test-password",
    ] {
        assert!(!dump.contains(secret), "{secret} reached the centre");
    }
    // And the centre refuses a clear citizen ID in the masked column, even from a
    // desk that tried.
    let mut desk =
        c.pg.connect(&format!("desk_{DESK_A}"), &format!("pw-{DESK_A}"))
            .unwrap();
    let e = desk
        .execute(
            "INSERT INTO fleet.card_reads (terminal, journal, seq, at, operator, card_number,
                deadline, deadline_basis, holder_masked)
             VALUES ($1, 'x', 1, now(), 'op', 'C', current_date, 'issue_date', '110101199001011234')",
            &[&DESK_A],
        )
        .unwrap_err();
    let m = sscard::fleet::describe(&e);
    assert!(m.contains("check constraint"), "{m}");
    // Another desk's card reads: refused by row-level security.
    let e = desk
        .execute(
            "INSERT INTO fleet.card_reads (terminal, journal, seq, at, operator, card_number,
                deadline, deadline_basis)
             VALUES ($1, 'x', 1, now(), 'op', 'C', current_date, 'issue_date')",
            &[&DESK_B],
        )
        .unwrap_err();
    assert!(sscard::fleet::describe(&e).contains("row-level security"));
}

/// i13fix: a password in the URL (command line or environment) is refused before
/// anything is parsed or sent, with the credentials exit code (11, not usage's 2),
/// and never repeated. No centre needed: nothing may be sent.
#[test]
fn a_password_in_the_url_is_refused_with_exit_11_and_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("a.sqlite");
    drop(sscard::activation::journal::Journal::open(&j).unwrap());
    for db in [
        "postgresql://desk_000000000001:Hunter2secret@127.0.0.1:1/sscard",
        "postgresql://desk_000000000001:Hunter2secret@127.0.0.1:notaport/sscard",
        "postgresql://desk_000000000001@127.0.0.1:1/sscard?password=Hunter2secret",
        "host=127.0.0.1 port=1 user=desk_000000000001 password=Hunter2secret",
    ] {
        for args in [
            vec![
                "journal",
                "--journal",
                j.to_str().unwrap(),
                "push",
                "--db",
                db,
            ],
            vec!["fleet", "--db", db, "lookup", "X"],
            vec!["fleet", "--db", db, "lookup", "X", "--format", "json"],
        ] {
            let o = sscard(&args);
            let (out, err) = (
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr),
            );
            assert_eq!(o.status.code(), Some(11), "{args:?}: {err}");
            assert!(err.contains("carries a password"), "{err}");
            assert!(
                !err.contains("Hunter2") && !out.contains("Hunter2"),
                "{out}{err}"
            );
        }
        // From the environment, the same.
        let o = Command::new(exe())
            .args(["fleet", "lookup", "X"])
            .env("SSCARD_CONFIG", "none")
            .env("SSCARD_FLEET_DB", db)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(11), "{}", stderr(&o));
    }
    // --help does not show the environment's URL.
    let o = Command::new(exe())
        .args(["fleet", "--help"])
        .env("SSCARD_FLEET_DB", "postgresql://d:Hunter2secret@h/s")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stdout).contains("Hunter2"));
}
