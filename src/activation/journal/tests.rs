use super::schema::SCHEMA_2;
use super::*;

fn entry(id: &str) -> Entry {
    Entry {
        id: id.into(),
        flow: Flow::Pharmacy,
        state: State::Freezing,
        terminal: "639900000001".into(),
        operator: "op1".into(),
        citizen_id: "111111198101011110".into(),
        holder_name: "张三".into(),
        old_card: Some("6399000123".into()),
        new_card: Some("X00000019".into()),
        account: Some("6300001234".into()),
        category: Some(1),
        balance_fen: Some(123456),
        counter: Some(1),
        legacy: false,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

#[test]
fn entries_advance_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/journal.sqlite");
    {
        let mut j = Journal::open(&path).unwrap();
        let r = j.begin(&entry("AB01"), "old card read").unwrap();
        assert_eq!(r.state, State::Freezing);
        let r2 = j
            .advance("AB01", State::Frozen, "639900000001", "op1", "")
            .unwrap();
        assert!(r2.seq > r.seq);
        assert!(!j.credit_attempted("AB01").unwrap());
        let _ = j
            .advance("AB01", State::Crediting, "639900000001", "op2", "")
            .unwrap();
    }
    let j = Journal::open(&path).unwrap();
    let e = j.get("ab01").unwrap().unwrap();
    assert_eq!(e.state, State::Crediting);
    assert_eq!(e.bound_card(), Some("X00000019"));
    assert_eq!(e.counter, Some(1));
    assert!(!e.legacy);
    assert!(j.credit_attempted("AB01").unwrap());
    let ev = j.events("AB01").unwrap();
    assert_eq!(ev.len(), 3);
    assert_eq!(ev[2].operator, "op2");
    assert_eq!(j.unfinished().unwrap().len(), 1);
    drop(j);
    let mut j = Journal::open(&path).unwrap();
    assert!(matches!(
        j.advance("nope", State::Frozen, "", "", ""),
        Err(JournalError::NotFound(_))
    ));
    assert!(matches!(
        j.begin(&entry("AB01"), ""),
        Err(JournalError::Exists(_))
    ));
}

#[test]
fn the_state_order_is_enforced_and_final_is_final() {
    use State::*;
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let _ = j.begin(&entry("C1"), "").unwrap();
    for st in [Frozen, Crediting, Crediting, Credited, Complete] {
        let _ = j.advance("C1", st, "t", "o", "").unwrap();
    }
    // Issue 10 case 5: a completed transfer can never become a cancelled one.
    let e = j.advance("C1", Cancelling, "t", "o", "").unwrap_err();
    assert!(matches!(e, JournalError::IllegalMove { .. }), "{e}");
    assert!(e
        .to_string()
        .contains("is COMPLETE; it cannot become CANCELLING"));
    for &st in State::ALL {
        assert!(j.advance("C1", st, "t", "o", "").is_err(), "{st:?}");
    }
    assert_eq!(j.get("C1").unwrap().unwrap().state, Complete);
    assert_eq!(j.events("C1").unwrap().len(), 6);
    // Never backwards.
    let _ = j.begin(&entry("C2"), "").unwrap();
    let _ = j.advance("C2", Credited, "t", "o", "").unwrap();
    assert!(j.advance("C2", Frozen, "t", "o", "").is_err());
    assert!(j.advance("C2", Voiding, "t", "o", "").is_err(), "N holds X");
    // The cancel moves forward only, and ends final.
    let _ = j.begin(&entry("C3"), "").unwrap();
    let _ = j.advance("C3", Frozen, "t", "o", "").unwrap();
    for st in [Voiding, Voiding, Voided, Cancelling, Cancelled] {
        let _ = j.advance("C3", st, "t", "o", "").unwrap();
    }
    assert!(j.advance("C3", Frozen, "t", "o", "").is_err());
    let _ = j.begin(&entry("C4"), "").unwrap();
    let _ = j.advance("C4", Voiding, "t", "o", "").unwrap();
    let _ = j.advance("C4", Voided, "t", "o", "").unwrap();
    assert!(
        j.advance("C4", Credited, "t", "o", "").is_err(),
        "the floor bars it"
    );
    assert!(j.advance("C4", Voiding, "t", "o", "").is_err());
    // The stored names are the spec's.
    let names: Vec<_> = STATES.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "FREEZING",
            "FROZEN",
            "CREDITING",
            "CREDITED",
            "COMPLETE",
            "VOIDING",
            "VOIDED",
            "CANCELLING",
            "CANCELLED"
        ]
    );
    assert_eq!(serde_json::to_string(&Voiding).unwrap(), "\"VOIDING\"");
}

#[test]
fn n_is_bound_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let _ = j.begin(&entry("D1"), "").unwrap();
    j.set_new_card("D1", "X00000019").unwrap();
    let e = j.set_new_card("D1", "X00000043").unwrap_err();
    assert!(matches!(e, JournalError::Rebind { .. }), "{e}");
    assert_eq!(
        j.get("D1").unwrap().unwrap().new_card.as_deref(),
        Some("X00000019")
    );
}

#[test]
fn one_process_per_transfer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let mut a = Journal::open(&path).unwrap();
    let mut b = Journal::open(&path).unwrap();
    let _ = a.begin(&entry("E1"), "").unwrap();
    assert!(a.holds("e1"));
    // flock conflicts between open file descriptions, as between processes.
    let e = b.claim("E1").unwrap_err();
    match &e {
        JournalError::InUse { id, holder } => {
            assert_eq!(id, "E1");
            assert_eq!(*holder, Some(std::process::id()));
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("in use by another sscard process"));
    assert!(e.to_string().contains("not a missing card"));
    let e = b.advance("E1", State::Frozen, "t", "o", "").unwrap_err();
    assert!(matches!(e, JournalError::InUse { .. }));
    assert_eq!(b.get("E1").unwrap().unwrap().state, State::Freezing);
    // Another transfer is free.
    b.claim("E2").unwrap();
    a.release("E1");
    let _ = b.advance("E1", State::Frozen, "t", "o", "").unwrap();
    drop(b);
    a.claim("E1").unwrap();
}

#[test]
fn a_removed_or_replaced_file_is_noticed_before_an_announce() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let mut j = Journal::open(&path).unwrap();
    let _ = j.begin(&entry("F1"), "").unwrap();
    j.check_file().unwrap();
    std::fs::remove_file(&path).unwrap();
    let e = j.advance("F1", State::Frozen, "t", "o", "").unwrap_err();
    assert!(matches!(e, JournalError::Removed { .. }), "{e}");
    assert!(e.to_string().contains("was deleted"));
    // Replaced: another journal now sits at the path.
    let path2 = dir.path().join("k.sqlite");
    let mut k = Journal::open(&path2).unwrap();
    let _ = k.begin(&entry("F2"), "").unwrap();
    let other = dir.path().join("other.sqlite");
    drop(Journal::open(&other).unwrap());
    std::fs::rename(&other, &path2).unwrap();
    let e = k.advance("F2", State::Frozen, "t", "o", "").unwrap_err();
    assert!(matches!(e, JournalError::Replaced { .. }), "{e}");
    let e = k.begin(&entry("F3"), "").unwrap_err();
    assert!(matches!(e, JournalError::Replaced { .. }), "{e}");
}

/// A journal written by the sscard before the transfer protocol (schema 1).
fn schema_1(path: &Path) {
    let c = Connection::open(path).unwrap();
    c.execute_batch(
        "CREATE TABLE entries (id TEXT PRIMARY KEY, flow TEXT NOT NULL, state TEXT NOT NULL,
            terminal TEXT NOT NULL, operator TEXT NOT NULL, citizen_id TEXT NOT NULL,
            holder_name TEXT NOT NULL, old_card TEXT, new_card TEXT, account TEXT,
            category INTEGER, balance_fen INTEGER, created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL);
         CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL REFERENCES entries(id), state TEXT NOT NULL, at TEXT NOT NULL,
            terminal TEXT NOT NULL, operator TEXT NOT NULL, detail TEXT NOT NULL);
         CREATE INDEX events_by_id ON events(id);
         INSERT INTO entries VALUES ('AA11', 'pharmacy', 'FROZEN', '639900000001', 'op',
            '111111198101011110', '张三', '6399000123', NULL, '6300001234', 1, 123456,
            '2026-01-01T00:00:00.000+00:00', '2026-01-01T00:00:00.000+00:00');
         INSERT INTO entries VALUES ('BB22', 'pharmacy', 'CREDITING', '639900000001', 'op',
            '111111198101011110', '张三', '6399000123', 'X00000019', '6300001234', 1, 123456,
            '2026-01-02T00:00:00.000+00:00', '2026-01-02T00:00:00.000+00:00');
         INSERT INTO events (id, state, at, terminal, operator, detail)
            VALUES ('AA11', 'FREEZING', 'x', 't', 'o', ''), ('AA11', 'FROZEN', 'x', 't', 'o', ''),
                   ('BB22', 'CREDITING', 'x', 't', 'o', '');
         PRAGMA user_version = 1;",
    )
    .unwrap();
}

#[test]
fn an_old_journal_opens_migrated_and_its_entries_still_move_safely() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    schema_1(&path);
    let mut j = Journal::open(&path).unwrap();
    let v: i32 = j
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    let a = j.get("AA11").unwrap().unwrap();
    assert_eq!(a.state, State::Frozen);
    assert!(a.legacy);
    assert_eq!(a.counter, None);
    assert_eq!(
        a.bound_card(),
        None,
        "no N: a cancel reads the old card first"
    );
    let b = j.get("BB22").unwrap().unwrap();
    assert_eq!(b.new_card.as_deref(), Some("X00000019"));
    assert_eq!(
        b.bound_card(),
        None,
        "a legacy card number is not a binding"
    );
    assert_eq!(j.events("AA11").unwrap().len(), 2);
    // Cancel follows the new order; resume moves forward.
    assert!(j.advance("AA11", State::Voided, "t", "o", "").is_err());
    let _ = j.advance("AA11", State::Voiding, "t", "o", "").unwrap();
    // N learnt from the old card binds a legacy entry.
    j.set_new_card("AA11", "X00000043").unwrap();
    assert_eq!(
        j.get("AA11").unwrap().unwrap().bound_card(),
        Some("X00000043")
    );
    let _ = j.advance("BB22", State::Credited, "t", "o", "").unwrap();
    drop(j);
    // Opening again changes nothing.
    let j = Journal::open(&path).unwrap();
    assert_eq!(j.list().unwrap().len(), 2);
    assert!(j.get("BB22").unwrap().unwrap().legacy);
}

#[test]
fn each_new_journal_has_its_own_instance_and_migrated_ones_the_legacy_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("j.sqlite");
    let a = Journal::open(&path).unwrap().instance().unwrap();
    assert_eq!(a.len(), 32);
    // Reopening keeps it.
    assert_eq!(Journal::open(&path).unwrap().instance().unwrap(), a);
    // Deleted and re-created: another instance (its sequence restarts at 1).
    std::fs::remove_file(&path).unwrap();
    let _ = std::fs::remove_file(dir.path().join("j.sqlite-wal"));
    let _ = std::fs::remove_file(dir.path().join("j.sqlite-shm"));
    let mut j = Journal::open(&path).unwrap();
    let b = j.instance().unwrap();
    assert_ne!(a, b);
    assert_eq!(j.begin(&entry("G1"), "").unwrap().seq, 1);
    // Schema 1 and schema 2 files: migrated to 3 with the legacy instance.
    let old = dir.path().join("old.sqlite");
    schema_1(&old);
    let j1 = Journal::open(&old).unwrap();
    assert_eq!(j1.instance().unwrap(), LEGACY_INSTANCE);
    assert!(j1.card_reads().unwrap().is_empty());
    drop(j1);
    let two = dir.path().join("two.sqlite");
    {
        let c = Connection::open(&two).unwrap();
        c.execute_batch(SCHEMA_2).unwrap();
        c.execute_batch(
            "INSERT INTO entries (id, flow, state, terminal, operator, citizen_id, holder_name,
                created_at, updated_at) VALUES ('CC33', 'window', 'CREDITING', 't', 'o', 'c',
                'h', 'x', 'x');
             INSERT INTO events (id, state, at, terminal, operator, detail)
                VALUES ('CC33', 'CREDITING', 'x', 't', 'o', '')",
        )
        .unwrap();
    }
    let j2 = Journal::open(&two).unwrap();
    let v: i32 = j2
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, 3);
    assert_eq!(j2.instance().unwrap(), LEGACY_INSTANCE);
    assert_eq!(j2.get("CC33").unwrap().unwrap().state, State::Crediting);
    assert!(!j2.get("CC33").unwrap().unwrap().legacy);
}

#[test]
fn card_reads_of_new_cards_not_yet_activated() {
    use crate::card::fields::{FieldRead, Fields};
    use crate::profile::Value;
    let profiles = crate::profile::Profiles::builtin().unwrap();
    let ssc = profiles.get("ssc").unwrap();
    let f = |role: &str, value: Value| FieldRead {
        role: role.into(),
        raw: vec![],
        value,
    };
    let date = |s: &str| s.parse::<crate::profile::Date>().unwrap();
    let mut fields = Fields {
        items: vec![
            f("card_number", Value::Text("X00000019".into())),
            f("expiry_date", Value::Date(Some(date("2036-06-01")))),
            f("citizen_id", Value::Text("111111198101011110".into())),
            f("status", Value::Code(0)),
        ],
    };
    let r = card_read_of(ssc, &fields, "639900000001", "op").unwrap();
    assert_eq!(
        r.deadline,
        date("2026-12-01"),
        "expiry − 10 years + 6 months"
    );
    assert_eq!(r.deadline_basis, "expiry_date");
    assert_eq!(r.holder_masked.as_deref(), Some("111111********1110"));
    // The issue date, when read, is the spec's basis.
    fields
        .items
        .push(f("issue_date", Value::Date(Some(date("2026-03-31")))));
    let r = card_read_of(ssc, &fields, "t", "o").unwrap();
    assert_eq!(r.deadline, date("2026-09-30"));
    assert_eq!(r.deadline_basis, "issue_date");
    // Recorded and read back.
    let dir = tempfile::tempdir().unwrap();
    let mut j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    j.note_card_read(ssc, &fields, "t", "o");
    let reads = j.card_reads().unwrap();
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].card_number, "X00000019");
    assert_eq!(reads[0].deadline, date("2026-09-30"));
    assert_eq!(reads[0].seq, 1);
    // An activated card is not recorded; nor one without any date.
    fields.items.retain(|x| x.role != "status");
    fields.items.push(f("status", Value::Code(1)));
    assert!(card_read_of(ssc, &fields, "t", "o").is_none());
    j.note_card_read(ssc, &fields, "t", "o");
    assert_eq!(j.card_reads().unwrap().len(), 1);
    let bare = Fields {
        items: vec![
            f("card_number", Value::Text("X1".into())),
            f("status", Value::Code(0)),
        ],
    };
    assert!(card_read_of(ssc, &bare, "t", "o").is_none());
    assert_eq!(mask_citizen_id("12345"), None);
    assert_eq!(mask_citizen_id("ABCDEF198101011110"), None);
    assert_eq!(
        mask_citizen_id("11010119900101123X").as_deref(),
        Some("110101********123X")
    );
}

#[test]
fn a_newer_journal_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 9;")
        .unwrap();
    assert!(matches!(
        Journal::open(&path),
        Err(JournalError::TooNew { found: 9, .. })
    ));
}

#[test]
fn wal_and_full_sync_are_on() {
    let dir = tempfile::tempdir().unwrap();
    let j = Journal::open(&dir.path().join("j.sqlite")).unwrap();
    let mode: String = j
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    let sync: i32 = j
        .conn
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    assert_eq!(sync, 2, "FULL");
}
