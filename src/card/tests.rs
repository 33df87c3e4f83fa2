//! In-process tests of the reader against the virtual card engine: the exact APDUs
//! sent (no redundant SELECT), the counts per card kind, and every broken image
//! failing with the right error. The same cards through pcscd are in
//! `tests/info_e2e.rs`.

use super::*;
use crate::apdu::{Channel, Transport, TransportError};
use crate::error::ExitCode;
use crate::profile::Profiles;
use crate::sam::keyfile::KeyFile;
use crate::vcard::Card;
use std::path::{Path, PathBuf};

/// The vcard engine as a transport, logging every command.
struct Engine {
    card: Card,
    log: Vec<String>,
}

impl Transport for Engine {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.log.push(hex::encode_upper(command));
        Ok(self.card.process(command))
    }
    fn atr(&self) -> Option<Vec<u8>> {
        Some(self.card.atr().to_vec())
    }
}

fn image(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("cards")
        .join(name)
}

fn engine(name: &str) -> Engine {
    let mut card = Card::load(&image(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    card.power_on();
    Engine {
        card,
        log: Vec::new(),
    }
}

fn keys() -> (tempfile::TempDir, KeyFile) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.txt");
    std::fs::write(&path, include_str!("../../keys/test-keys.txt")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let k = KeyFile::load(&path).unwrap();
    (dir, k)
}

enum Read {
    Ssc(Box<SscCard>),
    City(Box<CityCard>),
    Psam(String),
}

/// Detects and reads like `sscard info`; returns the result and the commands sent.
fn info(
    name: &str,
    sam: Option<&mut dyn crate::sam::Sam>,
    verify: bool,
) -> (Result<Read, CardError>, Vec<String>) {
    let profiles = Profiles::builtin().unwrap();
    let mut e = engine(name);
    let result = {
        let mut ch = Channel::new(Box::new(&mut e));
        (|| {
            let d = identify(&mut ch, &profiles)?;
            let p = d
                .profile
                .ok_or_else(|| CardError::Unknown(d.unknown_message(None)))?;
            Ok(match d.kind {
                CardKind::Ssc => {
                    let opts = SscReadOptions {
                        selected: d.selection.clone(),
                        verify_card: verify,
                    };
                    Read::Ssc(Box::new(read_ssc_with(&mut ch, p, sam, &opts)?))
                }
                CardKind::City => {
                    Read::City(Box::new(read_city_with(&mut ch, p, d.selection.as_ref())?))
                }
                CardKind::Psam => Read::Psam(read_psam_terminal(&mut ch, p, d.selection.as_ref())?),
                CardKind::Unknown => unreachable!("no profile"),
            })
        })()
    };
    (result, e.log)
}

fn ssc(r: Result<Read, CardError>) -> SscCard {
    match r {
        Ok(Read::Ssc(c)) => *c,
        Ok(_) => panic!("not an SSC"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn ssc_2_00_reads_with_the_fewest_apdus() {
    let (r, log) = info("ssc-2.00.json", None, false);
    let c = ssc(r);
    assert_eq!(
        hex::encode_upper(c.card_id),
        "639900D15600000500BF7C7A48FB4966"
    );
    assert_eq!(
        c.diversifier(),
        [0x00, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66]
    );
    assert_eq!(c.holder.as_ref().unwrap().name, "张三");
    assert_eq!(c.current_df.as_deref(), Some("df04"));
    let expected = [
        "00A404000F7378312E73682EC9E7BBE1B1A3D5CF", // SELECT SSSE (detection)
        "00C000001E",                               // GET RESPONSE: the FCI
        "00B2032806",                               // spec version first
        "00B2012812",
        "00B2022803",
        "00B204280E",
        "00B2052806",
        "00B2062806",
        "00B207280B",
        "00B2083014", // EF06 by SFI 06 and tag
        "00B2093020",
        "00B24E3016",
        "00B20A3003",
        "00B20B3003",
        "00B20C3005",
        "00B20D3006",
        "00A4000002DF04", // DF04 by FID: no FCI to fetch
        "00B220280C",
        "00B2212803",
        "00B2222803",
        "00B2232806",
        "00B2242806",
        "00B2252808",
        "00B2262812",
        "00B2272810", // the transfer floor
    ];
    assert_eq!(log, expected);
}

#[test]
fn apdu_counts_per_card_kind() {
    let count = |name: &str| info(name, None, false).1.len();
    // 24 before the transfer protocol; the floor (DF04 tag 27) is one READ RECORD more.
    assert_eq!(count("ssc-2.00.json"), 25);
    assert_eq!(count("ssc-1.00.json"), 24);
    assert_eq!(count("ssc-3.00.json"), 18);
    assert_eq!(count("city.json"), 11);
    assert_eq!(count("psam.json"), 2);
    let (_d, mut k) = keys();
    let (r, log) = info("ssc-3.00.json", Some(&mut k), false);
    assert!(ssc(r).holder.is_some());
    assert_eq!(log.len(), 27);
    let (r, log) = info("ssc-3.00.json", Some(&mut k), true);
    assert_eq!(ssc(r).genuine, Some(true));
    assert_eq!(log.len(), 29);
}

#[test]
fn generations_differ_only_in_the_profile() {
    let c1 = ssc(info("ssc-1.00.json", None, false).0);
    assert_eq!(c1.spec_version, "1.00");
    let h = c1.holder.unwrap();
    assert_eq!((h.name.as_str(), h.name_ext.as_str()), ("张三", ""));
    assert_eq!(h.sex, "1");
    assert_eq!(h.birthplace, "639900");
    let c3 = ssc(info("ssc-3.00.json", None, false).0);
    assert_eq!(c3.alg, crate::crypto::Algorithm::Sm4);
    assert!(c3.holder.is_none());
    assert_eq!(c3.holder_key, Some(0x0A));
    assert!(c3.notes[0].contains("key 0A"), "{:?}", c3.notes);
    assert_eq!(c3.medical.unwrap().status, 0);
}

#[test]
fn verify_card_standalone_reselects_and_checks() {
    let profiles = Profiles::builtin().unwrap();
    let p = profiles.get("ssc").unwrap();
    let (_d, mut k) = keys();
    let mut e = engine("ssc-2.00.json");
    let mut ch = Channel::new(Box::new(&mut e));
    let c = read_ssc(&mut ch, p, None).unwrap();
    assert!(verify_card(&mut ch, p, &c, &mut k).unwrap());
    // A card whose key 01 is not the one the SAM derives is not genuine.
    let mut other = c.clone();
    other.card_id[15] ^= 1;
    assert!(!verify_card(&mut ch, p, &other, &mut k).unwrap());
}

#[test]
fn city_and_psam() {
    let (r, _) = info("city.json", None, false);
    let Ok(Read::City(c)) = r else {
        panic!("not a city card")
    };
    assert_eq!(c.card_number, "6399000123");
    assert_eq!(c.balance_fen, 123456);
    assert_eq!(c.diversifier, *b"99000123");
    assert_eq!(c.target_card, None);
    assert_eq!(c.transfer_counter, Some(0));
    assert!(c.has_target_record);
    assert_eq!(c.transfer(), None);
    let (r, _) = info("psam.json", None, false);
    assert!(matches!(r, Ok(Read::Psam(t)) if t == "639900000001"));
}

#[test]
fn old_layouts_are_read_and_refused_for_activation() {
    let (r, _) = info("broken/city-no-counter.json", None, false);
    let Ok(Read::City(c)) = r else {
        panic!("not a city card")
    };
    assert_eq!(c.transfer_counter, None);
    assert!(c.has_target_record, "the old layout had tag 27");
    let gap = c.activation_gap().expect("refused");
    assert_eq!(
        gap.record,
        crate::activation::error::LayoutRecord::TransferCounter
    );
    let why = crate::ui::messages::desk_refusal(
        crate::ui::messages::Lang::En,
        &crate::activation::error::DeskRefusal::OldLayout(gap),
    );
    assert!(why.contains("no transfer_counter record"), "{why}");
    assert!(why.contains("tag 28"), "{why}");
    assert!(why.contains("older than the transfer protocol"), "{why}");
    let (r, _) = info("city.json", None, false);
    let Ok(Read::City(c)) = r else {
        panic!("not a city card")
    };
    assert_eq!(c.activation_gap(), None);

    let s = ssc(info("broken/ssc-no-floor.json", None, false).0);
    assert_eq!(s.medical.as_ref().unwrap().transfer_floor, None);
    let gap = s.activation_gap().expect("refused");
    assert_eq!(
        gap.record,
        crate::activation::error::LayoutRecord::TransferFloor
    );
    let why = crate::ui::messages::desk_refusal(
        crate::ui::messages::Lang::En,
        &crate::activation::error::DeskRefusal::OldLayout(gap),
    );
    assert!(why.contains("no transfer_floor record"), "{why}");
    assert!(why.contains("tag 27"), "{why}");
    let s = ssc(info("ssc-2.00.json", None, false).0);
    assert_eq!(s.medical.as_ref().unwrap().transfer_floor, Some(None));
    assert_eq!(s.activation_gap(), None);
    // The second genuine card of the same holder: another card, the same person.
    let (_d, mut k) = keys();
    let a = ssc(info("ssc-3.00.json", Some(&mut k), true).0);
    let b = ssc(info("ssc-3.00-second.json", Some(&mut k), true).0);
    assert_eq!(b.genuine, Some(true));
    assert_ne!(a.card_number, b.card_number);
    assert_ne!(a.card_id, b.card_id);
    assert_eq!(a.holder.unwrap().citizen_id, b.holder.unwrap().citizen_id);
}

#[test]
fn broken_images_fail_with_their_exit_code() {
    let cases: &[(&str, Option<ExitCode>, &str)] = &[
        ("ssc-missing-record", Some(ExitCode::CardStatus), "6A83"),
        ("ssc-wrong-length", Some(ExitCode::InvalidData), "15 bytes"),
        ("ssc-lying-le", Some(ExitCode::InvalidData), "31 bytes"),
        (
            "ssc-invalid-gbk",
            Some(ExitCode::InvalidData),
            "not valid GBK",
        ),
        (
            "ssc-bad-date",
            Some(ExitCode::InvalidData),
            "not a calendar date",
        ),
        ("ssc-unknown-version", Some(ExitCode::InvalidData), "'4.00'"),
        (
            "ssc-bad-fci",
            Some(ExitCode::InvalidData),
            "algorithm id 02",
        ),
        ("ssc-no-df04", Some(ExitCode::CardStatus), "6A82"),
        ("ssc-no-issue-date", Some(ExitCode::InvalidData), "00000000"),
        ("city-bad-balance", Some(ExitCode::InvalidData), "3 bytes"),
        ("psam-bad-terminal", Some(ExitCode::InvalidData), "not BCD"),
        ("unknown", Some(ExitCode::UnknownCard), "no card profile"),
        // Read fine; their checks fail (see the report tests).
        ("ssc-bad-citizen-id", None, ""),
        ("ssc-bad-card-number", None, ""),
        ("ssc-sex-mismatch", None, ""),
        ("ssc-expired", None, ""),
        ("ssc-erased-card-number", None, ""),
        // Layouts before the transfer protocol: readable; activation refuses them
        // (`old_layouts_are_read_and_refused_for_activation`).
        ("city-no-counter", None, ""),
        ("ssc-no-floor", None, ""),
    ];
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("cards/broken");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut listed: Vec<String> = cases.iter().map(|c| format!("{}.json", c.0)).collect();
    listed.sort();
    assert_eq!(names, listed, "every broken image has a case here");
    for (name, code, text) in cases {
        let (r, _) = info(&format!("broken/{name}.json"), None, false);
        match (r, code) {
            (Err(e), Some(code)) => {
                assert_eq!(e.exit_code(), *code, "{name}: {e}");
                assert!(e.to_string().contains(text), "{name}: {e}");
            }
            (Ok(_), None) => {}
            (Err(e), None) => panic!("{name}: {e}"),
            (Ok(_), Some(_)) => panic!("{name}: read without error"),
        }
    }
}

#[test]
fn reports_flag_the_broken_data() {
    use crate::card::checks::Outcome;
    use crate::card::report::{Body, Report};
    let profiles = Profiles::builtin().unwrap();
    let p = profiles.get("ssc").unwrap();
    let today = crate::profile::codec::parse_yyyymmdd("20260701").unwrap();
    let report = |name: &str| {
        let c = ssc(info(&format!("broken/{name}.json"), None, false).0);
        Report::new(
            "r".into(),
            c.atr.clone(),
            p,
            Body::Ssc(Box::new(c)),
            today,
            None,
            None,
        )
    };
    for (name, check) in [
        ("ssc-bad-citizen-id", "citizen_id_check_digit"),
        ("ssc-bad-card-number", "card_number_check_char"),
        ("ssc-sex-mismatch", "sex_digit"),
        ("ssc-erased-card-number", "card_number_check_char"),
    ] {
        let r = report(name);
        assert_eq!(r.failed().map(|c| c.id), Some(check), "{name}");
    }
    let r = report("ssc-expired");
    assert!(r.failed().is_none());
    assert_eq!(r.check("expiry").unwrap().outcome, Outcome::Warn);
    assert_eq!(
        r.check("activation_deadline").unwrap().outcome,
        Outcome::Warn
    );
    assert!(r.deadline.unwrap().days_left < 0);
}

/// A card answering whatever the property test says, then `6F00` forever.
struct Liar {
    answers: std::collections::VecDeque<Vec<u8>>,
}

impl Transport for Liar {
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        Ok(self.answers.pop_front().unwrap_or_else(|| vec![0x6F, 0x00]))
    }
    fn atr(&self) -> Option<Vec<u8>> {
        Some(hex::decode("3B6D00000081544C968684639948FB4966").unwrap_or_default())
    }
}

fn answer() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let sw = prop_oneof![
        4 => Just(vec![0x90, 0x00]),
        1 => any::<u8>().prop_map(|n| vec![0x61, n]),
        1 => any::<u8>().prop_map(|n| vec![0x6C, n]),
        1 => Just(vec![0x6A, 0x83]),
        1 => any::<[u8; 2]>().prop_map(|b| b.to_vec()),
    ];
    let data = prop_oneof![
        // Plausible records: a tag, a length (sometimes lying), some bytes.
        3 => (any::<u8>(), 0u8..40, proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(t, l, v)| { let mut r = vec![t, l]; r.extend(v); r }),
        1 => proptest::collection::vec(any::<u8>(), 0..3),
    ];
    (data, sw).prop_map(|(mut d, sw)| {
        d.extend(sw);
        d
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Cards lie: no answer sequence makes detection or reading panic.
    #[test]
    fn lying_cards_never_panic(answers in proptest::collection::vec(answer(), 0..60)) {
        let profiles = Profiles::builtin().unwrap();
        let (_d, mut k) = keys();
        for p in profiles.iter() {
            let mut liar = Liar { answers: answers.clone().into() };
            let mut ch = Channel::new(Box::new(&mut liar));
            let _ = identify(&mut ch, &profiles);
            let _ = match p.kind {
                crate::profile::Kind::Ssc => {
                    let opts = SscReadOptions { selected: None, verify_card: true };
                    read_ssc_with(&mut ch, p, Some(&mut k), &opts).map(|_| ())
                }
                crate::profile::Kind::City => read_city(&mut ch, p).map(|_| ()),
                crate::profile::Kind::Psam => read_psam_terminal(&mut ch, p, None).map(|_| ()),
            };
        }
    }
}

#[test]
fn writes_by_role_after_authenticating_in_the_current_df() {
    use crate::profile::Value;
    let profiles = Profiles::builtin().unwrap();
    let p = profiles.get("ssc").unwrap();
    let (_d, mut k) = keys();
    let mut e = engine("ssc-2.00.json");
    let mut ch = Channel::new(Box::new(&mut e));
    let c = read_ssc(&mut ch, p, None).unwrap();
    assert_eq!(c.current_df.as_deref(), Some("df04"));
    let active = Value::Code(p.field("status").unwrap().code("active").unwrap());
    // Not authenticated yet: the card refuses.
    let err = update_field(&mut ch, p, "status", &active).unwrap_err();
    assert!(err.to_string().contains("6982"), "{err}");
    let key = p.key("write").unwrap();
    auth::external_authenticate(
        &mut ch,
        p.key_app().unwrap(),
        key.id,
        c.alg,
        &c.diversifier(),
        &mut k,
        "test",
    )
    .unwrap();
    update_field(&mut ch, p, "balance", &Value::Number(123456)).unwrap();
    update_field(&mut ch, p, "status", &active).unwrap();
    // A value that does not fit is refused before the card sees it.
    let before = ch.apdu_count();
    assert!(update_field(&mut ch, p, "transfer_id", &Value::Bytes(vec![1; 15])).is_err());
    assert_eq!(ch.apdu_count(), before);
    let again = read_ssc(&mut ch, p, None).unwrap();
    let m = again.medical.unwrap();
    assert_eq!((m.status, m.balance_fen), (1, 123456));
}
