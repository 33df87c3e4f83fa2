//! The core against a scripted driver: the key rule (no retry after `63Cx`) and the
//! journal proof.

use super::machine::*;
use super::*;

fn env() -> Env {
    Env {
        terminal: "639900000001".into(),
        today: Date::from_ymd_opt(2026, 6, 1).expect("date"),
        random: [7; 12],
        readers: Readers::One,
        interactive: true,
        force_last_try: false,
        rules: Rules::spec(),
    }
}

fn new_card() -> Fields {
    use SscRole::*;
    let s = Role::Ssc;
    Fields(vec![
        (s(CardNumber), FieldValue::Text("X00000019".into())),
        (
            s(ExpiryDate),
            FieldValue::Date(Some(Date::from_ymd_opt(2036, 6, 1).expect("date"))),
        ),
        (s(CitizenId), FieldValue::Text("111111198101011110".into())),
        (s(Name), FieldValue::Text("张三".into())),
        (s(Account), FieldValue::Text(String::new())),
        (s(Category), FieldValue::Code(0)),
        (s(Status), FieldValue::SscStatus(SscStatus::NotActivated)),
        (s(Balance), FieldValue::Number(0)),
        (s(TransferId), FieldValue::TransferId(None)),
        (s(TransferFloor), FieldValue::Floor(None)),
        (s(LastLog), FieldValue::LastLog(None)),
    ])
}

fn old_card() -> Fields {
    use CityRole::*;
    let c = Role::City;
    Fields(vec![
        (c(CardNumber), FieldValue::Text("6399000123".into())),
        (c(CitizenId), FieldValue::Text("111111198101011110".into())),
        (c(Name), FieldValue::Text("张三".into())),
        (c(Account), FieldValue::Text("6300001234".into())),
        (c(Category), FieldValue::Code(1)),
        (c(Status), FieldValue::CityStatus(CityStatus::Active)),
        (c(Balance), FieldValue::Number(123_456)),
        (c(TransferId), FieldValue::TransferId(None)),
        (c(TargetCard), FieldValue::Text(String::new())),
        (c(TransferCounter), FieldValue::Number(4)),
    ])
}

#[test]
fn a_wrong_key_on_the_new_card_stops_at_once() {
    let mut core = Core::new(env(), Start::Pharmacy);
    assert!(matches!(
        core.step(None).action,
        Action::Card(CardOp::Read {
            which: Which::New,
            ..
        })
    ));
    core.step(Some(Input::Read(new_card())));
    let a = core.step(Some(Input::Genuine(true))).action;
    assert!(matches!(
        a,
        Action::Card(CardOp::Authenticate {
            which: Which::New,
            key: KeyRole::Write
        })
    ));
    let a = core
        .step(Some(Input::Auth(AuthOutcome::WrongKey { tries_left: 4 })))
        .action;
    assert_eq!(
        a,
        Action::End(End::Stopped(Stop::WrongKey {
            which: Which::New,
            key: KeyRole::Write,
            tries_left: 4
        }))
    );
    assert!(core.ended());
}

/// Drives the pharmacy flow to its FREEZING journal write.
fn to_freezing() -> (Core, JournalWrite) {
    let mut core = Core::new(env(), Start::Pharmacy);
    core.step(None);
    core.step(Some(Input::Read(new_card())));
    core.step(Some(Input::Genuine(true)));
    core.step(Some(Input::Auth(AuthOutcome::Ok)));
    core.step(Some(Input::Read(old_card())));
    let next = core.step(Some(Input::Pin(PinOutcome::Ok { initial: false })));
    match next.action {
        Action::Journal(w) => (core, w),
        other => panic!("expected the FREEZING journal write, got {other:?}"),
    }
}

#[test]
fn the_freeze_is_announced_bound_to_n_and_a_wrong_old_key_is_not_retried() {
    let (mut core, w) = to_freezing();
    assert_eq!(w.state(), JournalState::Freezing);
    assert_eq!(w.data().new_card.as_deref(), Some("X00000019"));
    assert_eq!(w.id().counter(), 5, "X carries the raised counter");
    let a = core.step(Some(Input::Journaled(w.announced()))).action;
    assert!(matches!(
        a,
        Action::Card(CardOp::Authenticate {
            which: Which::Old,
            ..
        })
    ));
    let a = core
        .step(Some(Input::Auth(AuthOutcome::WrongKey { tries_left: 3 })))
        .action;
    assert!(matches!(
        a,
        Action::End(End::Stopped(Stop::WrongKey { .. }))
    ));
}

#[test]
fn the_counter_is_written_first_under_the_freezing_proof() {
    let (mut core, w) = to_freezing();
    core.step(Some(Input::Journaled(w.announced())));
    let a = core.step(Some(Input::Auth(AuthOutcome::Ok))).action;
    let Action::Card(CardOp::Write(cw)) = a else {
        panic!("expected a write, got {a:?}");
    };
    assert_eq!(cw.under(), JournalState::Freezing);
    assert_eq!(
        cw.op(),
        &WriteOp::Field {
            role: Role::City(CityRole::TransferCounter),
            value: FieldValue::Number(5)
        }
    );
}

#[test]
fn a_proof_of_another_journal_write_is_refused() {
    let (mut core, w) = to_freezing();
    // A proof for the same transfer but another state and sequence number.
    let forged =
        JournalWrite::new(w.id(), w.flow(), JournalState::Frozen, w.data().clone(), 9).announced();
    let a = core.step(Some(Input::Journaled(forged))).action;
    assert_eq!(a, Action::End(End::Stopped(Stop::DriverMisuse)));
}

#[test]
fn writes_need_the_state_that_announces_them() {
    let p = JournalWrite::new(
        TransferId::new(1, [0; 12]),
        Flow::Pharmacy,
        JournalState::Freezing,
        TransferData {
            old_card: None,
            new_card: None,
            citizen_id: String::new(),
            holder_name: String::new(),
            account: String::new(),
            category: 0,
            balance_fen: 0,
        },
        0,
    )
    .announced();
    let credit = WriteOp::Field {
        role: Role::Ssc(SscRole::Balance),
        value: FieldValue::Number(1),
    };
    assert!(CardWrite::new(&p, Which::New, credit).is_none());
    let freeze = WriteOp::Field {
        role: Role::City(CityRole::Status),
        value: FieldValue::CityStatus(CityStatus::Migrating),
    };
    assert!(CardWrite::new(&p, Which::Old, freeze).is_some());
}
