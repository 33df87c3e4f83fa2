//! The fleet centre end to end, on a real private PostgreSQL (tests/common/postgres.rs):
//! `sscard fleet init`, desk roles, `sscard journal push` after days offline, killed
//! mid-push, the centre restarted mid-push, row-level security, lookups and reports on
//! known data. No mocks; PostgreSQL is installed when missing, never skipped.

#[path = "common/postgres.rs"]
mod pg;

use pg::{secret_file, Cluster, ADMIN};
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
        let pg = Cluster::start();
        let dir = tempfile::tempdir().unwrap();
        let c = Centre { pg, dir };
        let out = ok(&c.admin_cmd(&["init"]));
        assert!(out.contains("version 1"), "{out}");
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
    assert_eq!(o.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("secret@"));
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
    assert!(r["notes"][0].as_str().unwrap().contains("six-month"));
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
    assert!(text.contains("not available"));
    // An unknown time zone is refused clearly.
    let o = c.report_cmd(&["report", "--tz", "Mars/Olympus"]);
    assert_eq!(o.status.code(), Some(17));
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
