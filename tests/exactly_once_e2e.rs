//! Issue 10, cases 1-7, through pcscd + vpcd with two desks (two journals), a holder
//! who owns two genuine new cards (N = `X00000019`, M = `X00000043`), and a torn
//! cancel finished on another desk. Under the rewritten spec each case ends with the
//! balance spendable on exactly one card (or nothing written); every card's image on
//! disk is checked after each step.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{assert_invariants, log_records, new_money, old_money, Desk, Faults, Strike};
use std::path::{Path, PathBuf};

const BALANCE: u32 = 123_456;

/// A desk's second journal (desk B), next to desk A's.
fn desk_b(d: &Desk) -> PathBuf {
    d.bed.dir.path().join("desk-b.sqlite")
}

/// M: the holder's other genuine new card, as an image in the test bed.
fn other_card(d: &Desk) -> PathBuf {
    let p = d.bed.dir.path().join("ssc-second.json");
    std::fs::copy(common::root().join("cards/ssc-3.00-second.json"), &p).unwrap();
    p
}

/// The try counter of key `kid` in the DF04 of an SSC image.
fn key_tries(img: &Path, kid: &str) -> u64 {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(img).unwrap()).unwrap();
    let mut stack = vec![&v["mf"]];
    while let Some(df) = stack.pop() {
        for k in df["keys"].as_array().into_iter().flatten() {
            if k["id"] == kid && df["name"] == "DF04" {
                return k["tries"].as_u64().unwrap();
            }
        }
        stack.extend(df["dfs"].as_array().into_iter().flatten());
    }
    panic!("no key {kid} in DF04 of {}", img.display());
}

/// The money sits on exactly one card: the old card (`"old"`) or the new card whose
/// image is given (`"N"`/`"M"`); the other new card holds nothing.
fn spendable_on(d: &Desk, n: &Path, m: Option<&Path>, when: &str) -> &'static str {
    let old = old_money(&d.old_img);
    let nn = new_money(n);
    let mm = m.map(new_money);
    let mut on = Vec::new();
    if old.status == 0 && old.balance == BALANCE {
        on.push("old");
    }
    if nn.status == 1 && nn.balance == BALANCE {
        on.push("N");
    }
    if let Some(mm) = &mm {
        if mm.status == 1 && mm.balance == BALANCE {
            on.push("M");
        }
        assert!(
            mm.balance == 0 || mm.status == 1,
            "{when}: M holds money it cannot spend: {mm:?}"
        );
    }
    assert_eq!(
        on.len(),
        1,
        "{when}: spendable on {on:?}: old {old:?} N {nn:?} M {mm:?}"
    );
    on[0]
}

fn id_of(d: &Desk) -> String {
    hex::encode_upper(old_money(&d.old_img).transfer)
}

/// Case 1: desk A freezes the old card and times out waiting for N; desk B resumes
/// from the old card's own data and credits N; desk A's cancel then needs N, finds it
/// credited and refuses (the journal of A is completed instead).
#[test]
fn case_1_cancel_after_another_desk_credited_is_refused() {
    let mut d = Desk::new(false);
    d.timeout = "3";
    let (r, _) = d.run(
        &["pharmacy"],
        &Faults::default(),
        Strike::WithholdNewAfter(1),
    );
    assert_eq!(r.code, 15, "desk A times out waiting for N: {r:?}");
    let old = old_money(&d.old_img);
    assert_eq!(
        (old.status, old.extra.as_slice()),
        (0x01, &b"X00000019"[..])
    );
    assert_eq!(new_money(&d.new_img).status, 0x00, "N untouched at step 1");
    let id = id_of(&d);
    let a = d.journal.clone();
    d.timeout = "20";
    // Desk B never saw the transfer: it continues from the old card.
    d.journal = desk_b(&d);
    let (r, _) = d.run(&["resume"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "desk B: {r:?}");
    assert!(r.stderr.contains("unknown to this desk"), "{r:?}");
    assert_eq!(spendable_on(&d, &d.new_img.clone(), None, "case 1, B"), "N");
    // Desk A cancels: it must show N, which holds X: refused, nothing unfrozen.
    d.journal = a;
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("is already on card"), "{r:?}");
    assert_eq!(old_money(&d.old_img).status, 0x01);
    assert_eq!(
        spendable_on(&d, &d.new_img.clone(), None, "case 1, end"),
        "N"
    );
    assert_invariants(&d.old_img, &d.new_img, "case 1");
}

/// Case 2: a credit torn after the transfer id, account, category and balance were
/// written (X is written first now): window refuses the card (an unfinished
/// transfer), and the cancel on desk B voids it on N and unfreezes the old card.
#[test]
fn case_2_torn_credit_window_refuses_and_cancel_voids() {
    let mut d = Desk::new(true);
    // Step 1 reads N in 15 APDUs (SELECT + GET RESPONSE, tags 01, 07, 06, 08, INTERNAL
    // AUTHENTICATE + GET RESPONSE, SELECT DF04, tags 22, 23, 26, 27, GET CHALLENGE +
    // EXTERNAL AUTHENTICATE); N's APDU 16 is the credit's first write (tag 26), then
    // 17, 18, 19 (tags 20, 21, 23): pulled before 20 (tag 24).
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "20".into(), "--once".into()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    let n = new_money(&d.new_img);
    assert_eq!(n.status, 0x00);
    assert_eq!(n.balance, BALANCE, "the balance was written");
    assert_eq!(n.transfer, old_money(&d.old_img).transfer, "X first");
    assert_eq!(spendable_on_frozen(&d), "frozen", "case 2, torn");
    let id = id_of(&d);
    d.journal = desk_b(&d);
    let before = std::fs::read(&d.new_img).unwrap();
    let (r, _) = d.run(
        &["window", "--citizen-id", "111111198101011110"],
        &Faults::default(),
        Strike::None,
    );
    assert_eq!(r.code, 12, "window refuses a torn credit: {r:?}");
    assert!(r.stderr.contains("unfinished transfer"), "{r:?}");
    assert_eq!(
        before,
        std::fs::read(&d.new_img).unwrap(),
        "window wrote nothing"
    );
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    let n = new_money(&d.new_img);
    assert_eq!((n.status, n.balance, n.transfer), (0x00, 0, [0; 16]));
    let logs = log_records(&d.new_img);
    assert_eq!(logs.iter().map(|l| l[0]).collect::<Vec<_>>(), [0x03]);
    assert_eq!(
        spendable_on(&d, &d.new_img.clone(), None, "case 2, end"),
        "old"
    );
    // And the cancelled transfer never credits N afterwards (the floor).
    let (r, _) = d.run(&["resume", &id], &Faults::default(), Strike::None);
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(
        spendable_on(&d, &d.new_img.clone(), None, "case 2, resume"),
        "old"
    );
}

/// While the money is frozen on the old card (no new card can spend it).
fn spendable_on_frozen(d: &Desk) -> &'static str {
    let old = old_money(&d.old_img);
    let n = new_money(&d.new_img);
    assert_eq!(old.status, 0x01, "frozen");
    assert_ne!(n.status, 0x01, "N cannot spend");
    "frozen"
}

/// Case 3: a credit torn after N reached active (before its log record and PIN): the
/// cancel refuses M (the old card names N); resume on desk B finishes N; a cancel with
/// N is then refused (N holds X).
#[test]
fn case_3_cancel_with_the_other_card_is_refused() {
    let mut d = Desk::new(true);
    // Writes 16..22 are tags 26, 20, 21, 23, 24, 25, 22: pulled before the log (23).
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "23".into(), "--once".into()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    assert_eq!(new_money(&d.new_img).status, 0x01, "N reached active");
    assert!(log_records(&d.new_img).is_empty());
    let id = id_of(&d);
    let n_img = d.new_img.clone();
    let m_img = other_card(&d);
    d.journal = desk_b(&d);
    d.new_img = m_img.clone();
    let m_before = std::fs::read(&m_img).unwrap();
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "M is no proof: {r:?}");
    assert!(r.stderr.contains("bound to card X00000019"), "{r:?}");
    assert_eq!(m_before, std::fs::read(&m_img).unwrap(), "M untouched");
    assert_eq!(old_money(&d.old_img).status, 0x01, "still frozen");
    d.new_img = n_img.clone();
    let (r, _) = d.run(&["resume"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        log_records(&n_img).len(),
        1,
        "the log record completed once"
    );
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert_eq!(spendable_on(&d, &n_img, Some(&m_img), "case 3"), "N");
    assert_eq!(log_records(&n_img).len(), 1);
}

/// Case 4: a complete one-reader flow leaves the old card frozen and bound to N; at
/// another desk the old card and M credit nothing.
#[test]
fn case_4_the_old_card_names_n_and_m_gets_nothing() {
    let mut d = Desk::new(false);
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    let n_img = d.new_img.clone();
    let old = old_money(&d.old_img);
    assert_eq!(
        (old.status, old.extra.as_slice()),
        (0x01, &b"X00000019"[..])
    );
    let m_img = other_card(&d);
    d.journal = desk_b(&d);
    d.new_img = m_img.clone();
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("is frozen for card X00000019"), "{r:?}");
    let m = new_money(&m_img);
    assert_eq!((m.status, m.balance, m.transfer), (0x00, 0, [0; 16]));
    assert!(log_records(&m_img).is_empty());
    assert_eq!(old_money(&d.old_img), old, "the old card unchanged");
    assert_eq!(spendable_on(&d, &n_img, Some(&m_img), "case 4"), "N");
}

/// Case 5: on one desk, `cancel ID` holds the transfer (waiting for N) while
/// `resume ID` starts: the resume is refused as "in use" (never as a missing card) and
/// changes nothing; the cancel then finishes: the old card active, N barred.
#[test]
fn case_5_one_process_per_transfer() {
    let mut d = Desk::new(true);
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "16".into(), "--once".into()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    let id = id_of(&d);
    // The cancel, started by hand: it waits for N with the transfer claimed.
    let args = d.args(&["cancel", &id]);
    let mut cancel = d
        .bed
        .cmd()
        .env("SSCARD_TODAY", "20261122")
        .args(&args)
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::{BufRead, BufReader};
    let mut err = BufReader::new(cancel.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "cancel ended: {seen}"
        );
        seen.push_str(&line);
        if line.contains("Insert the new social security card") {
            break;
        }
    }
    let (before_old, before_new) = (
        std::fs::read(&d.old_img).unwrap(),
        std::fs::read(&d.new_img).unwrap(),
    );
    let args = d.args(&["resume", &id]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let resume = d.bed.run(&args);
    assert_eq!(resume.code, 13, "{resume:?}");
    assert!(
        resume.stderr.contains("in use by another sscard process"),
        "{resume:?}"
    );
    assert!(!resume.stderr.contains("no card"), "{resume:?}");
    assert_eq!(before_old, std::fs::read(&d.old_img).unwrap());
    assert_eq!(before_new, std::fs::read(&d.new_img).unwrap());
    // The holder gives N to the cancel; it voids, then asks for nothing more (two readers:
    // the old card is read from its reader).
    let new_img = d.new_img.clone();
    d.bed.insert(1, &new_img, &[]);
    let old_img = d.old_img.clone();
    let mut rest = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if line.contains("Insert the old city medical card") {
            d.bed.insert(0, &old_img, &[]);
        }
        rest.push_str(&line);
    }
    let status = cancel.wait().unwrap();
    d.clear();
    assert_eq!(status.code(), Some(0), "{seen}{rest}");
    let n = new_money(&d.new_img);
    assert_eq!((n.status, n.balance, n.transfer), (0x00, 0, [0; 16]));
    assert_eq!(spendable_on(&d, &d.new_img.clone(), None, "case 5"), "old");
    let j = d.bed.run(&[
        "journal",
        "--journal",
        d.journal.to_str().unwrap(),
        "show",
        &id,
        "--json",
    ]);
    let doc: serde_json::Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(doc["entry"]["state"], "CANCELLED", "{j:?}");
}

/// Case 6: a key file whose medical write key is wrong for the card (the case of a
/// duplicated `ssc.0C` line whose second value is wrong): the key is proven on N
/// before anything is frozen, a wrong answer stops at once with no retry, and a resume
/// finds nothing to spend a try on.
#[test]
fn case_6_a_wrong_medical_key_stops_before_any_freeze_without_retry() {
    let mut d = Desk::new(false);
    let keys = std::fs::read_to_string(&d.keys).unwrap();
    let wrong: String = keys
        .lines()
        .map(|l| {
            if l.starts_with("ssc.0C") {
                "ssc.0C = 0C0C0C0C0C0C0C0CC0C0C0C0C0C0C03C".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&d.keys, format!("{wrong}\n")).unwrap();
    assert_eq!(key_tries(&d.new_img, "0C"), 5);
    let (r, _) = d.run(
        &["pharmacy", "--retries", "3"],
        &Faults::default(),
        Strike::None,
    );
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(key_tries(&d.new_img, "0C"), 4, "one try, no retry: {r:?}");
    let old = old_money(&d.old_img);
    assert_eq!(
        (old.status, old.transfer),
        (0x00, [0; 16]),
        "nothing frozen"
    );
    let (r, _) = d.run(
        &["resume", "--retries", "3"],
        &Faults::default(),
        Strike::None,
    );
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(key_tries(&d.new_img, "0C"), 4, "resume spends no try");
    assert_eq!(spendable_on(&d, &d.new_img.clone(), None, "case 6"), "old");
    // A duplicated line (second one wrong) is refused by the key file, or behaves as
    // above; either way no card is frozen.
    std::fs::write(
        &d.keys,
        format!("{keys}\nssc.0C = 0C0C0C0C0C0C0C0CC0C0C0C0C0C0C03C\n"),
    )
    .unwrap();
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_ne!(r.code, 0, "{r:?}");
    assert!(key_tries(&d.new_img, "0C") >= 3);
    assert_eq!(old_money(&d.old_img).status, 0x00);
}

/// Case 7: the journal deleted or replaced while the desk waits for N: the next
/// announce notices it and nothing more is written to a card; desk B then finishes
/// from the old card.
#[test]
fn case_7_a_removed_or_replaced_journal_stops_the_flow() {
    for replace in [false, true] {
        let mut d = Desk::new(false);
        let journal = d.journal.clone();
        let other = d.bed.dir.path().join("other.sqlite");
        if replace {
            std::fs::write(&other, b"").unwrap();
        }
        let strike = Strike::FileAt(
            "Remove the old city medical card",
            journal.clone(),
            replace.then(|| other.clone()),
        );
        let (r, _) = d.run(&["pharmacy"], &Faults::default(), strike);
        assert_eq!(r.code, 13, "replace={replace}: {r:?}");
        let what = if replace {
            "was replaced"
        } else {
            "was deleted"
        };
        assert!(r.stderr.contains(what), "{r:?}");
        let n = new_money(&d.new_img);
        assert_eq!(
            (n.status, n.balance, n.transfer),
            (0x00, 0, [0; 16]),
            "N untouched"
        );
        assert_eq!(old_money(&d.old_img).status, 0x01);
        d.journal = desk_b(&d);
        let (r, _) = d.run(&["resume"], &Faults::default(), Strike::None);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(spendable_on(&d, &d.new_img.clone(), None, "case 7"), "N");
    }
}

/// A cancel torn on N (mid-void) at desk A is finished on desk B.
#[test]
fn a_torn_cancel_is_finished_on_another_desk() {
    let mut d = Desk::new(true);
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "16".into(), "--once".into()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    let id = id_of(&d);
    // The cancel reads N (detection 2, identity 2, INTERNAL AUTHENTICATE 2, medical
    // area 5), authenticates (2) and writes the floor (14): pulled right after the
    // floor was written, before the log record.
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-after".into(), "14".into(), "--once".into()],
    };
    let (r, _) = d.run(&["cancel", &id], &faults, Strike::None);
    assert_ne!(r.code, 0, "{r:?}");
    assert_eq!(old_money(&d.old_img).status, 0x01, "not yet unfrozen");
    assert_invariants(&d.old_img, &d.new_img, "torn cancel");
    d.journal = desk_b(&d);
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(
        spendable_on(&d, &d.new_img.clone(), None, "finished cancel"),
        "old"
    );
    let old = old_money(&d.old_img);
    assert_eq!(
        (old.transfer, old.extra.as_slice()),
        ([0; 16], &b"         "[..])
    );
}
