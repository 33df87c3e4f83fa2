//! `sscard journal` for the back office (issue 15 point 4), on journals written by
//! the library: filters, id prefixes, the spreadsheet CSV, an empty journal, and the
//! online backup while another process holds the journal. No pcscd needed.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sscard::activation::journal::{Entry, Flow, Journal, State};
use std::path::{Path, PathBuf};

const T: &str = "639900000001";
const ID_A1: &str = "AB120000000000000000000000000001";
const ID_A2: &str = "AB340000000000000000000000000002";
const ID_C: &str = "CD560000000000000000000000000003";

fn entry(id: &str, name: &str, citizen: &str, old: Option<&str>, new: &str) -> Entry {
    Entry {
        id: id.into(),
        flow: if old.is_some() {
            Flow::Pharmacy
        } else {
            Flow::Window
        },
        state: if old.is_some() {
            State::Freezing
        } else {
            State::Crediting
        },
        terminal: T.into(),
        operator: "0007".into(),
        citizen_id: citizen.into(),
        holder_name: name.into(),
        old_card: old.map(str::to_string),
        new_card: Some(new.into()),
        account: Some("6300001234".into()),
        category: Some(1),
        balance_fen: Some(123_456),
        counter: old.map(|_| 1),
        legacy: false,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

/// A journal with three entries: A1 frozen (pharmacy, 张三), A2 complete (pharmacy,
/// 李四), C crediting (window, 王五, created "last month").
fn journal(dir: &Path) -> PathBuf {
    let path = dir.join("journal.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let _ = j
        .begin(
            &entry(
                ID_A1,
                "张三",
                "110101199003078515",
                Some("6399000123"),
                "X00000019",
            ),
            "",
        )
        .unwrap();
    let _ = j.advance(ID_A1, State::Frozen, T, "0007", "").unwrap();
    let _ = j
        .begin(
            &entry(
                ID_A2,
                "李四",
                "440301198512120032",
                Some("6399000456"),
                "X00000027",
            ),
            "",
        )
        .unwrap();
    for s in [
        State::Frozen,
        State::Crediting,
        State::Credited,
        State::Complete,
    ] {
        let _ = j.advance(ID_A2, s, T, "0007", "").unwrap();
    }
    let _ = j
        .begin(
            &entry(ID_C, "王五", "320102197001010011", None, "X00000035"),
            "",
        )
        .unwrap();
    drop(j);
    // Entry C was made "last month" (the library stamps the current time).
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute(
        "UPDATE entries SET created_at = '2026-10-15T09:30:00.000+08:00' WHERE id = ?1",
        [ID_C],
    )
    .unwrap();
    path
}

fn run(path: &Path, args: &[&str]) -> common::Run {
    std::process::Command::new(common::exe())
        .arg("journal")
        .arg("--journal")
        .arg(path)
        .args(args)
        .output()
        .unwrap()
        .into()
}

fn ids(r: &common::Run) -> Vec<String> {
    let mut v: Vec<String> = r
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn list_filters_by_holder_card_state_and_date() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let r = run(&j, &["list"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&r), [ID_A1, ID_A2, ID_C]);

    assert_eq!(ids(&run(&j, &["list", "--holder", "张三"])), [ID_A1]);
    assert_eq!(ids(&run(&j, &["list", "--holder", "440301"])), [ID_A2]);
    assert_eq!(ids(&run(&j, &["list", "--card", "6399000123"])), [ID_A1]);
    assert_eq!(ids(&run(&j, &["list", "--card", "x00000035"])), [ID_C]);
    assert_eq!(ids(&run(&j, &["list", "--state", "frozen"])), [ID_A1]);
    assert_eq!(
        ids(&run(
            &j,
            &["list", "--state", "FROZEN", "--state", "complete"]
        )),
        [ID_A1, ID_A2]
    );
    assert_eq!(ids(&run(&j, &["list", "--unfinished"])), [ID_A1, ID_C]);
    assert_eq!(
        ids(&run(
            &j,
            &["list", "--since", "2026-10-01", "--until", "2026-10-31"]
        )),
        [ID_C]
    );
    let today = chrono::Local::now().date_naive().to_string();
    assert_eq!(ids(&run(&j, &["list", "--since", &today])), [ID_A1, ID_A2]);
    // A filter that matches nothing: "no entries", exit 0.
    let r = run(&j, &["list", "--holder", "赵六"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "no entries"), "{r:?}");

    // Bad filters: usage (2), naming what is accepted.
    let r = run(&j, &["list", "--state", "frozn"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(
        r.stderr.contains("FROZEN") && r.stderr.contains("CANCELLED"),
        "{r:?}"
    );
    let r = run(&j, &["list", "--since", "15/10/2026"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("YYYY-MM-DD"), "{r:?}");
}

#[test]
fn list_as_json_is_one_versioned_document() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    for flag in [&["--format", "json"][..], &["--json"][..]] {
        let mut args = vec!["list", "--state", "complete"];
        args.extend_from_slice(flag);
        let r = run(&j, &args);
        assert_eq!(r.code, 0, "{r:?}");
        let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(doc["schema"], "sscard-journal-list");
        assert_eq!(
            doc["schema_version"],
            sscard::output::Doc::JournalList.version()
        );
        assert_eq!(doc["entries"].as_array().unwrap().len(), 1);
        assert_eq!(doc["entries"][0]["id"], ID_A2);
        assert_eq!(doc["entries"][0]["holder_name"], "李四");
    }
}

#[test]
fn csv_opens_in_a_chinese_spreadsheet_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let out = std::process::Command::new(common::exe())
        .args(["journal", "--journal"])
        .arg(&j)
        .args(["list", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let bytes = out.stdout;
    // UTF-8 with a BOM (Excel/WPS read UTF-8 only with it), CRLF line ends.
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    assert!(text.contains("\r\n"));
    assert!(text.contains("张三") && text.contains("李四"), "{text}");
    let mut rdr = csv::Reader::from_reader(&bytes[3..]);
    let header: Vec<String> = rdr.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header, sscard::cli::journal::CSV_HEADER);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    let a1 = rows
        .iter()
        .find(|r| r[col("id")] == format!("=\"{ID_A1}\""))
        .expect("A1's row");
    // 18-digit IDs and 12-digit terminal numbers stay text (no 1.10101E+17).
    assert_eq!(&a1[col("citizen_id")], "=\"110101199003078515\"");
    assert_eq!(&a1[col("terminal")], format!("=\"{T}\""));
    assert_eq!(&a1[col("operator")], "=\"0007\"");
    assert_eq!(&a1[col("old_card")], "=\"6399000123\"");
    assert_eq!(&a1[col("holder_name")], "张三");
    assert_eq!(&a1[col("state")], "FROZEN");
    // Amounts in fen and in yuan.
    assert_eq!(&a1[col("balance_fen")], "123456");
    assert_eq!(&a1[col("balance_yuan")], "1234.56");
    // Dates as local "YYYY-MM-DD HH:MM:SS" (a spreadsheet's date and time), offset aside.
    let created = &a1[col("created_local")];
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$").unwrap();
    assert!(re.is_match(created), "{created}");
    assert!(
        created.starts_with(&chrono::Local::now().date_naive().to_string()),
        "{created}"
    );
    let c = rows
        .iter()
        .find(|r| r[col("id")] == format!("=\"{ID_C}\""))
        .unwrap();
    assert_eq!(&c[col("created_local")], "2026-10-15 09:30:00");
    assert_eq!(&c[col("utc_offset")], "=\"+08:00\"");
    assert_eq!(&c[col("old_card")], "", "window flow: no old card");

    // export --format csv is the same table.
    let r = run(&j, &["export", "--format", "csv"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.as_bytes(), &bytes[..]);
}

#[test]
fn show_takes_a_unique_prefix_and_lists_the_candidates_of_an_ambiguous_one() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let r = run(&j, &["show", "cd5"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&format!("transfer:  {ID_C}")), "{r:?}");
    assert!(r.stdout.contains("王五"), "{r:?}");
    let r = run(&j, &["show", "AB3", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-journal-entry");
    assert_eq!(doc["entry"]["id"], ID_A2);
    assert_eq!(doc["events"].as_array().unwrap().len(), 5);
    // The full id still works.
    assert_eq!(run(&j, &["show", ID_A1]).code, 0);

    let r = run(&j, &["show", "AB"]);
    assert_eq!(r.code, 2, "ambiguous: {r:?}");
    assert!(
        r.stderr.contains(ID_A1) && r.stderr.contains(ID_A2) && !r.stderr.contains(ID_C),
        "{r:?}"
    );
    assert!(r.stdout.is_empty(), "{r:?}");
    // With JSON asked for, the error is a JSON document on stdout, same exit code.
    let r = run(&j, &["show", "AB", "--format", "json"]);
    assert_eq!(r.code, 2, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-error");
    assert_eq!(doc["error"]["exit_code"], 2);
    assert!(doc["error"]["message"].as_str().unwrap().contains(ID_A2));

    let r = run(&j, &["show", "EF"]);
    assert_eq!(r.code, 13, "not found: {r:?}");
    assert!(r.stderr.contains("no journal entry EF"), "{r:?}");
}

#[test]
fn an_empty_journal_has_no_entries_and_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.sqlite");
    drop(Journal::open(&path).unwrap());
    let r = run(&path, &["list"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no entries\n"), "{r:?}");
    let r = run(&path, &["list", "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["entries"], serde_json::json!([]));
    let r = run(&path, &["list", "--format", "csv"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim_start_matches('\u{feff}').lines().count(), 1);
    let r = run(&path, &["export"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:?}");
    // No journal file at the default path (a desk that never activated; here the
    // default is $SSCARD_JOURNAL): no entries either, and no file made.
    let none = dir.path().join("never.sqlite");
    for args in [&["list"][..], &["list", "--format", "json"], &["export"]] {
        let r: common::Run = std::process::Command::new(common::exe())
            .arg("journal")
            .args(args)
            .env("SSCARD_JOURNAL", &none)
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(!none.exists(), "listing does not create a journal");
    }
}

/// i13fix: a journal named with `--journal` that does not exist (a typo) listed "no
/// entries" with exit 0, which reads as "nothing happened today". Now every
/// subcommand says so, exit 13, and no file is made.
#[test]
fn a_mistyped_journal_path_is_an_error_not_an_empty_journal() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let typo = dir.path().join("jounral.sqlite");
    let copy = dir.path().join("copy.sqlite");
    for args in [
        &["list"][..],
        &["list", "--format", "csv"],
        &["show", "AB12"],
        &["export"],
        &["backup", copy.to_str().unwrap()],
        &["push", "--db", "postgresql://desk@127.0.0.1:1/sscard"],
    ] {
        let r = run(&typo, args);
        assert_eq!(r.code, 13, "{args:?}: {r:?}");
        assert!(
            r.stderr.contains("no journal at") && r.stderr.contains("jounral.sqlite"),
            "{args:?}: {r:?}"
        );
        assert!(r.stderr.contains("--journal"), "{args:?}: {r:?}");
        assert!(
            r.stdout.is_empty() || !r.stdout.contains("no entries"),
            "{r:?}"
        );
        assert!(!typo.exists(), "{args:?} created the journal");
        assert!(!copy.exists());
    }
    // JSON asked for: the error is the JSON document, same code.
    let r = run(&typo, &["list", "--format", "json"]);
    assert_eq!(r.code, 13, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-error");
    assert!(!typo.exists());
    // The real one, named the same way, still lists.
    assert_eq!(run(&j, &["list"]).code, 0);
}

/// `sscard journal ...` without `--journal`, with `config` as `--config` (and
/// nothing from this machine's environment).
fn run_configured(config: &Path, env_journal: Option<&Path>, args: &[&str]) -> common::Run {
    let mut c = std::process::Command::new(common::exe());
    c.arg("journal")
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SSCARD_CONFIG")
        .env_remove("SSCARD_FLEET_DB")
        .env_remove("SSCARD_FLEET_PASSWORD_FILE");
    match env_journal {
        Some(j) => c.env("SSCARD_JOURNAL", j),
        None => c.env_remove("SSCARD_JOURNAL"),
    };
    c.output().unwrap().into()
}

/// i13post: `sscard journal` ignored the configuration's `journal = ...` (activate
/// honours it), so a desk with a configured journal listed "no entries". Now every
/// subcommand resolves it as activate does: --journal, $SSCARD_JOURNAL, the
/// configuration, the default.
#[test]
fn journal_commands_read_the_configured_journal_as_activate_does() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let cfg = dir.path().join("sscard.toml");
    std::fs::write(
        &cfg,
        format!(
            "journal = \"{}\"\n[fleet]\ndb = \"postgresql://desk_x@127.0.0.1:1/sscard\"\n",
            j.display()
        ),
    )
    .unwrap();
    let r = run_configured(&cfg, None, &["list"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(ids(&r), [ID_A1, ID_A2, ID_C], "{r:?}");
    let r = run_configured(&cfg, None, &["show", "AB12"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(ID_A1), "{r:?}");
    let r = run_configured(&cfg, None, &["export"]);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 3), "{r:?}");
    let copy = dir.path().join("copy.sqlite");
    let r = run_configured(&cfg, None, &["backup", copy.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("3 entries"), "{r:?}");
    // Push reads the configured journal too: it gets as far as the (absent) centre,
    // exit 17, not "no journal" (13).
    let r = run_configured(&cfg, None, &["push"]);
    assert_eq!(r.code, 17, "{r:?}");
    // $SSCARD_CONFIG names it as --config does.
    let r: common::Run = std::process::Command::new(common::exe())
        .args(["journal", "list"])
        .env("SSCARD_CONFIG", &cfg)
        .env_remove("SSCARD_JOURNAL")
        .output()
        .unwrap()
        .into();
    assert_eq!(ids(&r), [ID_A1, ID_A2, ID_C], "{r:?}");
    // The order is activate's: $SSCARD_JOURNAL over the configuration, --journal
    // over both.
    let other = dir.path().join("other.sqlite");
    drop(Journal::open(&other).unwrap());
    let r = run_configured(&cfg, Some(&other), &["list"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "no entries\n"), "{r:?}");
    let mut c = std::process::Command::new(common::exe());
    c.args(["journal", "--journal"])
        .arg(&j)
        .arg("list")
        .env("SSCARD_JOURNAL", &other)
        .env("SSCARD_CONFIG", &cfg);
    let r: common::Run = c.output().unwrap().into();
    assert_eq!(ids(&r), [ID_A1, ID_A2, ID_C], "{r:?}");
}

/// i13post: a journal that cannot be looked at (`exists()` says false for
/// "permission denied") listed "no entries". Now it is an error naming the path
/// (exit 13), through every way of naming it.
#[test]
fn a_journal_that_cannot_be_looked_at_is_an_error_not_no_entries() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // A file where a directory should be (ENOTDIR), from the configuration.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let cfg = dir.path().join("sscard.toml");
    std::fs::write(
        &cfg,
        format!("journal = \"{}\"\n", file.join("journal.sqlite").display()),
    )
    .unwrap();
    for args in [&["list"][..], &["export"], &["show", "AB"]] {
        let r = run_configured(&cfg, None, args);
        assert_eq!(r.code, 13, "{args:?}: {r:?}");
        assert!(r.stderr.contains("cannot look at the journal"), "{r:?}");
        assert!(!r.stdout.contains("no entries"), "{r:?}");
    }
    // Permission denied: a journal in a directory this user may not search. Root may
    // search anything, so as root the command runs as nobody (uid 65534).
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    let j = journal(&locked);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    let root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap()
        == 0;
    let mut c = if root {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(common::exe());
        c
    } else {
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        std::process::Command::new(common::exe())
    };
    let r: common::Run = c
        .args(["journal", "list"])
        .env("SSCARD_JOURNAL", &j)
        .env("SSCARD_CONFIG", "none")
        .output()
        .unwrap()
        .into();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(r.code, 13, "{r:?}");
    assert!(
        r.stderr.contains("cannot look at the journal") && r.stderr.contains("ermission denied"),
        "{r:?}"
    );
    assert!(!r.stdout.contains("no entries"), "{r:?}");
}

/// i13fix: text output printed what the journal holds raw, so a tampered journal
/// (an escape sequence in a holder's name or a note) could clear the screen or
/// rewrite lines on the supervisor's terminal. Now shown escaped; JSON stays exact.
#[test]
fn text_output_escapes_control_characters_from_a_tampered_journal() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let name = "张三\u{1b}[2J\u{1b}]0;pwned\u{7}";
    let note = "ok\r\u{1b}[1ACOMPLETE\u{202e}";
    {
        let c = rusqlite::Connection::open(&j).unwrap();
        c.execute(
            "UPDATE entries SET holder_name = ?1, new_card = ?2 WHERE id = ?3",
            rusqlite::params![name, "X0\u{9b}31m", ID_A1],
        )
        .unwrap();
        c.execute(
            "UPDATE events SET detail = ?1, operator = ?2 WHERE id = ?3",
            rusqlite::params![note, "00\n07", ID_A1],
        )
        .unwrap();
    }
    let raw = |t: &str| {
        t.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}')
    };
    for args in [&["list"][..], &["show", ID_A1]] {
        let r = run(&j, args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        assert!(
            !raw(&r.stdout),
            "{args:?}: raw control characters: {:?}",
            r.stdout
        );
        assert!(
            r.stdout.contains("张三\\u{1b}[2J\\u{1b}]0;pwned\\u{7}"),
            "{:?}",
            r.stdout
        );
        assert!(r.stdout.contains("X0\\u{9b}31m"), "{:?}", r.stdout);
    }
    let r = run(&j, &["show", ID_A1]);
    assert!(
        r.stdout.contains("ok\\u{d}\\u{1b}[1ACOMPLETE\\u{202e}"),
        "{:?}",
        r.stdout
    );
    assert!(r.stdout.contains("operator 00\\u{a}07"), "{:?}", r.stdout);
    // An ambiguous prefix lists the candidates on stderr: escaped too.
    let r = run(&j, &["show", "AB"]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(!raw(&r.stderr), "{:?}", r.stderr);
    // JSON carries the exact text; serde escapes C0 controls (ESC, BEL, CR, LF).
    // (It leaves C1 controls such as U+009B and bidi overrides as they are: valid
    // JSON for a program, noted in the i13fix report.)
    let r = run(&j, &["show", ID_A1, "--format", "json"]);
    assert!(
        !r.stdout
            .trim_end()
            .chars()
            .any(|c| c < ' ' || c == '\u{7f}'),
        "{:?}",
        r.stdout
    );
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["entry"]["holder_name"], name);
}

#[test]
fn export_lines_are_each_a_versioned_document() {
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    let r = run(&j, &["export"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l["schema"], "sscard-journal-export");
        assert_eq!(
            l["schema_version"],
            sscard::output::Doc::JournalExportLine.version()
        );
        assert!(l["id"].is_string());
    }
}

#[test]
fn backup_is_consistent_while_another_process_holds_the_journal() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let j = journal(dir.path());
    // The desk: a Journal holding a transfer (its lock) and a write transaction in
    // flight (a new entry not yet committed), as during a card write.
    let mut desk = Journal::open(&j).unwrap();
    let _ = desk
        .advance(ID_A1, State::Crediting, T, "0007", "")
        .unwrap();
    let writer = rusqlite::Connection::open(&j).unwrap();
    writer.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .execute(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                created_at, updated_at) VALUES ('EE', 'window', 'CREDITING', ?1, '0007',
                '110101199003078515', '未提交', 'x', 'x')",
            [T],
        )
        .unwrap();

    let copy = dir.path().join("backup/journal-copy.sqlite");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::write(&copy, b"an older backup").unwrap();
    let r = run(&j, &["backup", copy.to_str().unwrap(), "--format", "json"]);
    assert_eq!(r.code, 0, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(doc["schema"], "sscard-journal-backup");
    assert_eq!(
        doc["entries"], 3,
        "the uncommitted entry is not in the copy"
    );
    assert_eq!(
        std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777,
        0o600,
        "the copy holds names and citizen IDs"
    );
    // The copy is a journal on its own (no -wal beside it) with the committed state.
    assert!(!dir.path().join("backup/journal-copy.sqlite-wal").exists());
    let c = Journal::open(&copy).unwrap();
    assert_eq!(c.list().unwrap().len(), 3);
    assert_eq!(c.get(ID_A1).unwrap().unwrap().state, State::Crediting);
    assert!(c.get("EE").unwrap().is_none());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("backup"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // The desk carries on unharmed.
    writer.execute_batch("COMMIT").unwrap();
    let _ = desk.advance(ID_A1, State::Credited, T, "0007", "").unwrap();
    assert_eq!(desk.list().unwrap().len(), 4);

    // Text output, and the journal itself refused as the destination.
    let again = dir.path().join("copy2.sqlite");
    let r = run(&j, &["backup", again.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("backed up 4 entries"), "{r:?}");
    let r = run(&j, &["backup", j.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("journal itself"), "{r:?}");
    // A folder that is not there (an unmounted USB stick): said plainly, exit 14.
    let unmounted = dir.path().join("usb-stick/journal.sqlite");
    let r = run(&j, &["backup", unmounted.to_str().unwrap()]);
    assert_eq!(r.code, 14, "{r:?}");
    assert!(r.stderr.contains("does not exist"), "{r:?}");
    assert!(
        !r.stderr.contains(".journal.sqlite."),
        "the internal temp file is not named: {r:?}"
    );
    // No journal: nothing to back up (13).
    let r = run(
        &dir.path().join("none.sqlite"),
        &["backup", again.to_str().unwrap()],
    );
    assert_eq!(r.code, 13, "{r:?}");
}
