//! Every ATR of pcsc-tools' `smartcard_list.txt` through the decoder and the
//! conformance checks (issue 11 point 6), and `sscard atr` on non-conforming input.
//!
//! The list holds thousands of real cards' ATRs. Each fully specified one (hex bytes
//! only) must decode without a panic, keep the fuzz invariants, and be identified by
//! its own entry; the counts of clean / conforming-with-warnings / non-conforming ATRs
//! and the most common rules are printed (`--nocapture`) for the record.
//!
//! pcsc-tools is a declared test dependency (README): without its list this test
//! fails and says so, rather than passing without checking anything.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use sscard::apdu::atr::smartcard_list::CardList;
use sscard::apdu::atr::{Atr, Rule, Severity};
use std::collections::BTreeMap;
use std::path::Path;

const LIST: &str = "/usr/share/pcsc/smartcard_list.txt";

fn list() -> CardList {
    assert!(
        Path::new(LIST).is_file(),
        "{LIST} is missing: install pcsc-tools (apt-get install pcsc-tools)"
    );
    CardList::load(Path::new(LIST)).expect("read the list")
}

#[test]
fn every_fully_specified_atr_of_the_list_decodes() {
    let list = list();
    assert!(
        list.bad_patterns.is_empty(),
        "patterns our regex engine rejects: {:?}",
        list.bad_patterns
    );
    let exact: Vec<(usize, Vec<u8>)> = list
        .entries
        .iter()
        .filter_map(|e| e.exact().map(|b| (e.line, b.to_vec())))
        .collect();
    assert!(exact.len() > 3000, "only {} exact ATRs", exact.len());
    let (mut clean, mut warned, mut bad, mut strict_err) = (0, 0, 0, 0);
    let mut by_rule: BTreeMap<Rule, usize> = BTreeMap::new();
    let mut by_rule_atrs: BTreeMap<Rule, usize> = BTreeMap::new();
    for (line, atr) in &exact {
        let outcome = std::panic::catch_unwind(|| {
            sscard::apdu::atr::fuzz_check(atr);
            Atr::analyse(atr)
        });
        let a =
            outcome.unwrap_or_else(|_| panic!("line {line}: panic on {}", hex::encode_upper(atr)));
        let _ = a.to_string();
        if Atr::parse(atr).is_err() {
            strict_err += 1;
        }
        if a.violations.is_empty() {
            clean += 1;
        } else if a.conforms() {
            warned += 1;
        } else {
            bad += 1;
        }
        let mut seen = Vec::new();
        for v in &a.violations {
            *by_rule.entry(v.rule).or_default() += 1;
            if !seen.contains(&v.rule) {
                seen.push(v.rule);
                *by_rule_atrs.entry(v.rule).or_default() += 1;
            }
        }
        // Its own entry identifies it.
        assert!(
            list.identify(atr).iter().any(|e| e.line == *line),
            "line {line} does not identify its own ATR"
        );
    }
    eprintln!(
        "{LIST}: {} entries, {} fully specified ATRs: {clean} clean, {warned} conforming with warnings only, {bad} non-conforming; {strict_err} fail the strict structural parse",
        list.entries.len(),
        exact.len()
    );
    let mut ranked: Vec<_> = by_rule_atrs.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1));
    for (rule, n) in &ranked {
        eprintln!(
            "  {rule:?} ({:?}, §{}): {n} ATRs",
            rule.severity(),
            rule.clause()
        );
    }
    assert_eq!(clean + warned + bad, exact.len());
    // The example and its kind are among the non-conforming ones.
    assert!(bad > 0 && strict_err > 0 && strict_err <= bad);
    assert!(by_rule.contains_key(&Rule::TrailingBytes));
    assert!(by_rule_atrs
        .keys()
        .all(|r| r.severity() == Severity::Error || r.severity() == Severity::Warning));
}

#[test]
fn wildcard_patterns_identify_cards() {
    let list = list();
    let regex_entries = list.entries.iter().filter(|e| e.exact().is_none()).count();
    assert!(regex_entries > 100, "{regex_entries}");
    // `3B 39 19 00 53 4F 4D 41 44 53 33 30 3[1,3]` is in the list as a pattern.
    let atr = hex::decode("3B391900534F4D414453333033").unwrap();
    let hits = list.identify(&atr);
    assert!(
        hits.iter().any(|e| e.pattern.contains("3[1,3]")),
        "{:?}",
        hits.iter().map(|e| &e.pattern).collect::<Vec<_>>()
    );
}

#[test]
fn sscard_atr_shows_a_non_conforming_atr_and_exits_7() {
    let r: common::Run = std::process::Command::new(common::exe())
        .args(["atr", "3B6500002063CB680026"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 7, "{r:?}");
    assert!(
        r.stdout.contains("Historical bytes (5): 20 63 CB 68 00"),
        "{r:?}"
    );
    assert!(r.stdout.contains("After the end (1): 26"), "{r:?}");
    assert!(r.stdout.contains("§8.2.1"), "{r:?}");
    assert!(
        r.stdout.contains("VISA Société Générale"),
        "identified offline: {r:?}"
    );
    assert!(r.stderr.contains("does not conform"), "{r:?}");

    let r: common::Run = std::process::Command::new(common::exe())
        .args(["atr", "--json", "3B6500002063CB680026"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 7, "{r:?}");
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(doc["schema_version"], sscard::output::Doc::Atr.version());
    assert_eq!(doc["conforms"], false);
    assert_eq!(doc["trailing"], "26");
    assert_eq!(doc["violations"][0]["rule"], "trailing_bytes");
    assert!(doc["identified"][0]["line"].as_u64().is_some());

    // Warnings only (the SSC ATR sends the deprecated TB1): exit 0.
    let r: common::Run = std::process::Command::new(common::exe())
        .args(["atr", "3B6D00000081544C968684639948FB4966"])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("conforms, with warnings"), "{r:?}");
    // A list given explicitly; an unreadable one is an I/O error.
    let dir = tempfile::tempdir().unwrap();
    let own = dir.path().join("list.txt");
    std::fs::write(
        &own,
        "3B 6D 00 00 .. .. .. .. .. .. .. .. .. .. .. .. ..\n\tOur SSC\n",
    )
    .unwrap();
    let r: common::Run = std::process::Command::new(common::exe())
        .args([
            "atr",
            "--card-list",
            own.to_str().unwrap(),
            "3B6D00000081544C968684639948FB4966",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("    Our SSC"), "{r:?}");
    let r: common::Run = std::process::Command::new(common::exe())
        .args([
            "atr",
            "--card-list",
            "/nonexistent/list",
            "3B6D00000081544C968684639948FB4966",
        ])
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 14, "{r:?}");
    // Empty and one-byte input: shown, exit 7, no panic.
    for hex in ["3B", "3C"] {
        let r: common::Run = std::process::Command::new(common::exe())
            .args(["atr", hex])
            .output()
            .unwrap()
            .into();
        assert_eq!(r.code, 7, "{r:?}");
        assert!(r.stdout.contains("nothing to decode"), "{r:?}");
    }
}
