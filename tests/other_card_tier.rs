//! Hostile scenarios of issue 10 in the in-process tier (the real driver and core
//! against in-process virtual cards, no root, no pcscd): the holder's *other* genuine
//! new card M offered at the credit, and after every tear-off point of the pharmacy
//! (one and two readers) M tried with pharmacy, resume and cancel on fresh desks with
//! their own journals: M is never credited and the balance is never on two cards or
//! lost. Also new cards that lie (an FCI algorithm against their spec-version record).
//! Written by the break-it review of 2026-11-30.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/inproc.rs"]
mod inproc;

use inproc::*;
use sscard::activation::core::Start;
use sscard::activation::driver::Outcome;
use sscard::vcard::inproc::{SharedCard, Tear, TearKind};

fn resume() -> Start {
    Start::Resume {
        entry: None,
        old_card_present: true,
    }
}

/// One reader: N checked, the old card frozen bound to N, then the holder brings the
/// other genuine card M for the credit. M must get nothing; the money stays frozen and
/// bound to N; every other desk refuses M too; N then completes.
#[test]
fn second_genuine_card_at_the_credit() {
    let (old, n, m) = (
        card("city.json", "old"),
        card("ssc-2.00.json", "N"),
        card("ssc-3.00-second.json", "M"),
    );
    let d = DeskRig::new(false);
    let mut h = hand(&old, &n);
    h.swap = Some((1, m.clone()));
    let (r, lines) = d.run(Start::Pharmacy, &h);
    eprintln!("swap at credit: {r:?}\n{lines:#?}");
    assert!(!matches!(r, Ok(Outcome::Done(_))), "{r:?}");
    assert_eq!(invariants(&old, &[&n, &m], "swap"), "frozen");
    assert_eq!(new_state(&m).balance, 0);
    // Desk B with its own journal, old + M: pharmacy, resume, cancel all refused.
    for start in ["pharmacy", "resume", "cancel"] {
        let e = DeskRig::new(false);
        let s = match start {
            "pharmacy" => Start::Pharmacy,
            "resume" => resume(),
            _ => Start::Cancel {
                id: sscard::activation::core::TransferId(old_state(&old).transfer.unwrap()),
                entry: None,
            },
        };
        let (r, lines) = e.run(s, &hand(&old, &m));
        eprintln!("desk B {start} with M: {r:?}");
        assert!(r.is_err(), "{start} with M: {r:?} {lines:#?}");
        assert_eq!(invariants(&old, &[&n, &m], start), "frozen");
    }
    // Desk A resumes with N: done on N.
    let (r, lines) = d.run(resume(), &hand(&old, &n));
    assert!(matches!(r, Ok(Outcome::Done(_))), "{r:?} {lines:#?}");
    assert_eq!(invariants(&old, &[&n, &m], "resume N"), "X00000019");
}

/// Tear the one-reader pharmacy at every APDU; then the holder tries the other genuine
/// card M everywhere (resume, cancel, pharmacy, window, each on a fresh desk) before N
/// comes back. The money must never be spendable on two cards nor reach M.
#[test]
fn torn_then_the_other_card_everywhere() {
    for two in [false, true] {
        let base_old = card("city.json", "old");
        let base_new = card("ssc-2.00.json", "N");
        let base_m = card("ssc-3.00-second.json", "M");
        let (a, b) = counts(two);
        let mut points = 0;
        for (which, total) in [("old", a), ("new", b)] {
            for k in 1..=total {
                for kind in [TearKind::Before, TearKind::After] {
                    let (old, n, m) = (copy(&base_old), copy(&base_new), copy(&base_m));
                    let torn = if which == "old" { &old } else { &n };
                    torn.arm(Some(Tear { at: k, kind }));
                    let when = format!("two={two} {which} torn {kind:?} APDU {k}");
                    let (r, _) = DeskRig::new(two).run(Start::Pharmacy, &hand(&old, &n));
                    assert!(r.is_err(), "{when}");
                    torn.arm(None);
                    invariants(&old, &[&n, &m], &when);
                    let x = old_state(&old).transfer;
                    let frozen = old_state(&old).status != 0;
                    let mut starts = vec![("pharmacy", Start::Pharmacy), ("resume", resume())];
                    if let Some(x) = x {
                        starts.push((
                            "cancel",
                            Start::Cancel {
                                id: sscard::activation::core::TransferId(x),
                                entry: None,
                            },
                        ));
                    }
                    for (name, s) in starts {
                        let before_m = new_state(&m);
                        let (r, lines) = DeskRig::new(two).run(s, &hand(&old, &m));
                        let place = invariants(&old, &[&n, &m], &format!("{when}, {name} with M"));
                        assert_ne!(place, "X00000035", "{when}: {name} with M credited M");
                        // M may be used only for a fresh pharmacy from an old card at 00
                        // that was never frozen for N.
                        if matches!(r, Ok(Outcome::Done(_))) {
                            assert!(
                                name == "pharmacy" && !frozen,
                                "{when}: {name} with M succeeded: {lines:#?}"
                            );
                            return_check(&old, &n, &m, &when);
                            break;
                        } else {
                            let after_m = new_state(&m);
                            assert_eq!(
                                (before_m.status, before_m.balance, before_m.transfer),
                                (after_m.status, after_m.balance, after_m.transfer),
                                "{when}: {name} with M wrote M's balance: {r:?}"
                            );
                        }
                    }
                    points += 1;
                }
            }
        }
        eprintln!("two={two}: {points} tear points, M refused everywhere");
    }
}

/// Called when M legitimately got the money (old never frozen): N must not get it too.
fn return_check(old: &SharedCard, n: &SharedCard, m: &SharedCard, when: &str) {
    for s in [Start::Pharmacy, resume()] {
        let _ = DeskRig::new(false).run(s, &hand(old, n));
        invariants(old, &[n, m], when);
    }
}

fn edited(name: &str, label: &str, f: impl Fn(&mut serde_json::Value)) -> SharedCard {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root().join("cards").join(name)).unwrap())
            .unwrap();
    f(&mut v);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name.replace('/', "_"));
    std::fs::write(&p, serde_json::to_string(&v).unwrap()).unwrap();
    SharedCard::load(&p, label).unwrap()
}

fn walk(v: &mut serde_json::Value, f: &dyn Fn(&mut serde_json::Value)) {
    f(v);
    match v {
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| walk(x, f)),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, f)),
        _ => {}
    }
}

fn set_fci(alg: &'static str) -> impl Fn(&mut serde_json::Value) {
    move |v| {
        walk(v, &|x| {
            if let Some(s) = x.get("fci").and_then(|s| s.as_str()).map(str::to_string) {
                x["fci"] = serde_json::Value::String(format!("{}{alg}", &s[..s.len() - 2]));
            }
        })
    }
}

fn set_version(ver: &'static str) -> impl Fn(&mut serde_json::Value) {
    move |v| {
        walk(v, &|x| {
            if x.get("tag").and_then(|t| t.as_str()) == Some("03") && x.get("ascii").is_some() {
                x["ascii"] = serde_json::Value::String(ver.into());
            }
        })
    }
}

/// Lying new cards: the FCI's algorithm disagrees with the spec version record. The
/// pharmacy either completes with the money on exactly one card, or refuses with no
/// money moved.
#[test]
fn lying_new_cards() {
    let cases: Vec<(&str, SharedCard)> = vec![
        (
            "2.00 card, FCI says SM4",
            edited("ssc-2.00.json", "N", set_fci("03")),
        ),
        (
            "3.00 card, FCI says 3DES",
            edited("ssc-3.00.json", "N", set_fci("01")),
        ),
        (
            "2.00 card, version says 3.00",
            edited("ssc-2.00.json", "N", set_version("3.00")),
        ),
        (
            "3.00 card, version says 2.00",
            edited("ssc-3.00.json", "N", set_version("2.00")),
        ),
        (
            "3.00 card, version says 1.00",
            edited("ssc-3.00.json", "N", set_version("1.00")),
        ),
        (
            "2.00 card, version says 9.99",
            edited("ssc-2.00.json", "N", set_version("9.99")),
        ),
    ];
    for (what, n) in cases {
        for two in [false, true] {
            let old = card("city.json", "old");
            let n = copy(&n);
            let before_n = n.image().to_json();
            let (r, lines) = DeskRig::new(two).run(Start::Pharmacy, &hand(&old, &n));
            eprintln!(
                "{what} two={two}: {:?}",
                r.as_ref().map(|_| "done").map_err(|e| e.to_string())
            );
            if r.is_err() {
                let o = old_state(&old);
                assert_eq!(
                    (o.status, o.transfer),
                    (0, None),
                    "{what}: refused but the old card froze: {lines:#?}"
                );
                assert_eq!(
                    before_n,
                    n.image().to_json(),
                    "{what}: refused but N was written"
                );
            } else {
                // `read_ssc` (what `sscard info` uses) trusts the version record and
                // may not read a lying card: check the old card's side only then.
                let o = old_state(&old);
                assert!(o.status >= 1 && o.target.is_some(), "{what}: {o:?}");
            }
        }
    }
}
