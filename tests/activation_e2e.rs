//! End-to-end: the activation flows through a real pcscd + vpcd with virtual cards,
//! a scripted holder, and the invariants of spec/activation.md checked on the cards'
//! persistent state after every fault.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{
    assert_invariants, log_records, new_money, old_money, Desk, Faults, Strike, BALANCE,
};

fn json(stdout: &str) -> serde_json::Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

#[test]
fn pharmacy_with_one_reader_moves_account_and_pin() {
    let mut d = Desk::new(false);
    let (r, lines) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    // The desk was told to swap the cards, in this order (issue 10: the new card is
    // checked first, so one reader takes three insertions: new, old, new).
    let order: Vec<_> = lines
        .iter()
        .filter(|l| l.starts_with("Insert") || l.starts_with("Remove"))
        .map(|l| {
            l.split(" into")
                .next()
                .unwrap()
                .split(" from")
                .next()
                .unwrap()
        })
        .collect();
    assert_eq!(
        order,
        [
            "Insert the new social security card",
            "Remove the new social security card",
            "Insert the old city medical card",
            "Remove the old city medical card",
            "Insert the new social security card"
        ],
        "{lines:#?}"
    );
    let receipt = json(&r.stdout);
    assert_eq!(receipt["schema"], "sscard-receipt");
    assert_eq!(
        receipt["schema_version"],
        sscard::output::Doc::Receipt.version()
    );
    assert_eq!(receipt["flow"], "pharmacy");
    assert_eq!(receipt["citizen_id_masked"], "111111********1110");
    assert_eq!(receipt["old_card"], "6399000123");
    assert_eq!(receipt["new_card"], "X00000019");
    assert_eq!(receipt["amount_fen"], 123456);
    assert_eq!(receipt["amount_yuan"], "1234.56");
    assert_eq!(receipt["terminal"], "639900000001");
    assert_eq!(receipt["old_card_finished"], false);
    let id = receipt["transfer_id"].as_str().unwrap().to_string();
    let old = old_money(&d.old_img);
    let new = new_money(&d.new_img);
    assert_eq!(old.status, 0x01, "one reader: the old card stays frozen");
    assert_eq!(hex::encode_upper(old.transfer), id);
    assert_eq!(old.extra, b"X00000019", "the freeze binds N");
    assert_eq!(&old.transfer[..4], &[0, 0, 0, 1], "X = counter 1 || random");
    assert_eq!(new.status, 0x01);
    assert_eq!(new.balance, BALANCE);
    assert_eq!(hex::encode_upper(new.transfer), id);
    assert_eq!(new.extra, b"6300001234");
    let logs = log_records(&d.new_img);
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0][0], 0x01, "log type: activation with transfer in");
    assert_eq!(&logs[0][22..30], &old.transfer[..8]);
    // The new card now takes the old card's PIN.
    let mut card = sscard::vcard::Card::load(&d.new_img).unwrap();
    card.power_on();
    assert_eq!(
        card.process(&hex::decode("0020000003135790").unwrap()),
        vec![0x90, 0x00]
    );
    // Read back through the tool as a desk would.
    d.bed.insert(0, &d.new_img, &[]);
    let info = d.bed.run(&["info", "--reader", "0", "--format", "json"]);
    assert_eq!(info.code, 0, "{info:?}");
    let text = info.stdout.to_lowercase();
    assert!(text.contains(&id.to_lowercase()), "{info:?}");
    // The journal says COMPLETE, with the history of states.
    let j = d.bed.run(&[
        "journal",
        "--journal",
        d.journal.to_str().unwrap(),
        "show",
        &id,
        "--json",
    ]);
    assert_eq!(j.code, 0, "{j:?}");
    let doc = json(&j.stdout);
    assert_eq!(doc["entry"]["state"], "COMPLETE");
    let states: Vec<_> = doc["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        states,
        ["FREEZING", "FROZEN", "CREDITING", "CREDITED", "COMPLETE"]
    );
    assert_eq!(doc["events"][0]["operator"], "tester");
}

#[test]
fn pharmacy_with_two_readers_marks_the_old_card_migrated() {
    let mut d = Desk::new(true);
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(json(&r.stdout)["old_card_finished"], true);
    let old = old_money(&d.old_img);
    assert_eq!(old.status, 0x02);
    assert_eq!(old.extra, b"X00000019");
    assert_eq!(new_money(&d.new_img).status, 0x01);
    // A second attempt with the migrated card is refused and changes nothing.
    let before = (
        std::fs::read(&d.old_img).unwrap(),
        std::fs::read(&d.new_img).unwrap(),
    );
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    // The new card is checked first (issue 10): it is already active.
    assert!(
        r.stderr
            .contains("the new card's medical function is already active"),
        "{r:?}"
    );
    assert_eq!(before.0, std::fs::read(&d.old_img).unwrap());
    assert_eq!(before.1, std::fs::read(&d.new_img).unwrap());
    // Export for other systems.
    let csv = d.bed.run(&[
        "journal",
        "--journal",
        d.journal.to_str().unwrap(),
        "export",
        "--format",
        "csv",
    ]);
    assert_eq!(csv.code, 0, "{csv:?}");
    // A spreadsheet's CSV: the UTF-8 byte-order mark first (tests/journal_cli.rs).
    assert!(csv.stdout.starts_with("\u{feff}id,flow,state"), "{csv:?}");
    assert!(csv.stdout.contains(",COMPLETE,"), "{csv:?}");
}

#[test]
fn new_card_of_another_person_is_refused_and_the_transfer_can_be_cancelled() {
    let mut d = Desk::new(true);
    let text = std::fs::read_to_string(&d.new_img).unwrap();
    assert!(text.contains("111111198101011110"));
    std::fs::write(
        &d.new_img,
        text.replace("111111198101011110", "11010519491231002X"),
    )
    .unwrap();
    let new_before = std::fs::read(&d.new_img).unwrap();
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("belong to different people"), "{r:?}");
    assert_eq!(
        new_before,
        std::fs::read(&d.new_img).unwrap(),
        "nothing written to the new card"
    );
    // Issue 10: the new card is checked before anything is frozen, so there is
    // nothing to cancel: the old card was never touched.
    let old = old_money(&d.old_img);
    assert_eq!(old.status, 0x00, "nothing frozen");
    assert_eq!(old.transfer, [0; 16]);
    assert_invariants(&d.old_img, &d.new_img, "after refusal");
}

#[test]
fn expired_new_card_is_refused() {
    let mut d = Desk::new(true);
    let cmd_args = d.args(&["pharmacy"]);
    d.bed.insert(0, &d.old_img.clone(), &[]);
    d.bed.insert(1, &d.new_img.clone(), &[]);
    let out = d
        .bed
        .cmd()
        .env("SSCARD_TODAY", "20370101")
        .args(&cmd_args)
        .output()
        .unwrap();
    let r: common::Run = out.into();
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("expired on 2036-06-01"), "{r:?}");
    // JSON was asked for (the desk helper passes `--receipt json`, the old spelling of
    // `--format json`): the refusal is a JSON document on stdout with the same code.
    let err = json(&r.stdout);
    assert_eq!(err["schema"], "sscard-error", "{r:?}");
    assert_eq!(err["error"]["exit_code"], 12);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired on 2036-06-01"),
        "{err}"
    );
    assert_eq!(new_money(&d.new_img).status, 0x00);
}

#[test]
fn wrong_pins_are_counted_and_the_last_try_needs_force() {
    let mut d = Desk::new(true);
    std::fs::write(&d.pins, "111111\n").unwrap();
    for left in [4, 3, 2, 1] {
        let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
        assert_eq!(r.code, 12, "{r:?}");
        assert!(r.stderr.contains(&format!("{left} tries left")), "{r:?}");
        assert_eq!(old_money(&d.old_img).status, 0x00, "not frozen");
    }
    std::fs::write(&d.pins, "135790\n").unwrap();
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("--force-last-try"), "{r:?}");
    let (r, _) = d.run(
        &["pharmacy", "--force-last-try"],
        &Faults::default(),
        Strike::None,
    );
    assert_eq!(r.code, 0, "{r:?}");
}

#[test]
fn new_card_active_with_another_transfer_is_refused() {
    let mut d = Desk::new(true);
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    // A second (fresh) old card of the same holder against the now active new card.
    std::fs::copy(common::root().join("cards/city.json"), &d.old_img).unwrap();
    let new_before = std::fs::read(&d.new_img).unwrap();
    let (r, _) = d.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    // Checked first (issue 10): an active new card is refused before the old card is touched.
    assert!(
        r.stderr
            .contains("the new card's medical function is already active"),
        "{r:?}"
    );
    assert_eq!(old_money(&d.old_img).status, 0x00, "the old card untouched");
    assert_eq!(new_before, std::fs::read(&d.new_img).unwrap());
}

#[test]
fn window_and_first_use_activate_the_new_card_only() {
    for flow in ["window", "first-use"] {
        let mut d = Desk::new(false);
        // Window: the operator's typed ID must pass its check digit and be the card's.
        // First use takes no typed ID (the hospital's system starts it; the card's own
        // data is checked).
        let id: &[&str] = if flow == "window" {
            &["--citizen-id", "111111198101011110"]
        } else {
            &[]
        };
        if flow == "window" {
            let (r, _) = d.run(
                &[flow, "--citizen-id", "11010519491231002X"],
                &Faults::default(),
                Strike::None,
            );
            assert_eq!(r.code, 12, "{flow}: {r:?}");
            assert!(r.stderr.contains("is not the card's"), "{r:?}");
            let (r, _) = d.run(
                &[flow, "--citizen-id", "111111198101011111"],
                &Faults::default(),
                Strike::None,
            );
            assert_eq!(r.code, 12, "{flow}: bad check digit: {r:?}");
            assert_eq!(new_money(&d.new_img).status, 0x00);
        }
        let mut args = vec![flow];
        args.extend_from_slice(id);
        let (r, _) = d.run(&args, &Faults::default(), Strike::None);
        assert_eq!(r.code, 0, "{flow}: {r:?}");
        assert_eq!(json(&r.stdout)["flow"], flow);
        let new = new_money(&d.new_img);
        assert_eq!(new.status, 0x01);
        assert_eq!(new.transfer, [0; 16]);
        let logs = log_records(&d.new_img);
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0][0], 0x02);
        let (r, _) = d.run(&args, &Faults::default(), Strike::None);
        assert_eq!(r.code, 12, "{flow}: already active: {r:?}");
        assert_eq!(log_records(&d.new_img).len(), 1);
    }
}

#[test]
fn another_terminal_recovers_from_the_old_cards_own_data() {
    let mut d = Desk::new(false);
    // Terminal A dies right after freezing.
    let (r, _) = d.run(
        &["pharmacy"],
        &Faults::default(),
        Strike::KillAt("Remove the old"),
    );
    assert_ne!(r.code, 0);
    assert_eq!(old_money(&d.old_img).status, 0x01);
    assert_invariants(&d.old_img, &d.new_img, "after kill");
    // Terminal B never saw this transfer.
    d.journal = d.bed.dir.path().join("terminal-b.sqlite");
    let (r, _) = d.run(&["resume"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("unknown to this desk"), "{r:?}");
    let new = new_money(&d.new_img);
    assert_eq!((new.status, new.balance), (0x01, BALANCE));
    assert_invariants(&d.old_img, &d.new_img, "after recovery");
}

/// Cancel always needs N, the new card the old card names (issue 10; behaviour
/// changed from the old spec, where a `FROZEN` entry cancelled with the old card
/// alone): it writes the floor on N first (void), then unfreezes the old card. A torn
/// credit (N at `00` holding X) is voided; a completed credit refuses the cancel.
#[test]
fn cancel_after_a_credit_was_announced_needs_the_new_card() {
    let mut d = Desk::new(true);
    // Two readers: N's APDUs 1-15 are step 1 (detection 2, identity 2, expiry and
    // citizen ID 2, INTERNAL AUTHENTICATE 2, DF04 and the medical area 5, the key
    // proof 2); APDU 16 is the credit's first write (tag 26). Pulled before it:
    // CREDITING is journaled, nothing reached N.
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "16".into(), "--once".into()],
    };
    let (r, _) = d.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    let old = old_money(&d.old_img);
    let id = hex::encode_upper(old.transfer);
    assert_invariants(&d.old_img, &d.new_img, "after pull");
    assert_eq!(
        new_money(&d.new_img).transfer,
        [0; 16],
        "the first write was not made"
    );
    let (r, _) = d.run(&["cancel", &id], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.contains("Voiding the transfer"), "{r:?}");
    assert_eq!(old_money(&d.old_img).status, 0x00);
    assert_invariants(&d.old_img, &d.new_img, "after cancel");
    // The torn credit: pulled before APDU 17, N holds X at 00; cancel voids it.
    let mut d2 = Desk::new(true);
    let faults = Faults {
        old: vec![],
        new: vec!["--remove-before".into(), "17".into(), "--once".into()],
    };
    let (r, _) = d2.run(&["pharmacy"], &faults, Strike::None);
    assert_eq!(r.code, 5, "{r:?}");
    let old2 = old_money(&d2.old_img);
    assert_eq!(
        new_money(&d2.new_img).transfer,
        old2.transfer,
        "tag 26 was written first"
    );
    let (r, _) = d2.run(
        &["cancel", &hex::encode_upper(old2.transfer)],
        &Faults::default(),
        Strike::None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let n = new_money(&d2.new_img);
    assert_eq!((n.status, n.balance, n.transfer), (0x00, 0, [0; 16]));
    let logs = log_records(&d2.new_img);
    assert_eq!(logs.len(), 1, "one void record");
    assert_eq!(logs[0][0], 0x03);
    assert_eq!(old_money(&d2.old_img).status, 0x00);
    assert_invariants(&d2.old_img, &d2.new_img, "after void");
    // A completed credit (one reader: the old card stays frozen): cancel is refused.
    let mut d3 = Desk::new(false);
    let (r, _) = d3.run(&["pharmacy"], &Faults::default(), Strike::None);
    assert_eq!(r.code, 0, "{r:?}");
    let old3 = old_money(&d3.old_img);
    let id3 = hex::encode_upper(old3.transfer);
    // This desk's journal says COMPLETE: final is final.
    let (r, _) = d3.run(&["cancel", &id3], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("is already COMPLETE"), "{r:?}");
    // Another desk, no journal entry: the cards say N holds X.
    d3.journal = d3.bed.dir.path().join("desk-b.sqlite");
    let (r, _) = d3.run(&["cancel", &id3], &Faults::default(), Strike::None);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("is already on card"), "{r:?}");
    assert_eq!(new_money(&d3.new_img).balance, BALANCE);
    assert_invariants(&d3.old_img, &d3.new_img, "after refused cancel");
}
