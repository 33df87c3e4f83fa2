//! Every message variant renders in both languages: the samples below list every
//! variant, and the `index` functions (exhaustive `match`es, no wildcard) prove the
//! list complete — a new variant fails to compile here until it has a sample.

use super::*;
use crate::activation::core::{Date, JournalState};
use std::collections::BTreeSet;

const ALL_LANGS: [Lang; 2] = [Lang::En, Lang::Zh];

fn x() -> TransferId {
    TransferId::new(7, [0xAB; 12])
}

fn date() -> Date {
    Date::from_ymd_opt(2026, 6, 1).expect("date")
}

fn steps() -> Vec<Step> {
    use Step::*;
    vec![
        CheckNew,
        ProveKey,
        ReadOld,
        PinVerified,
        Freeze,
        Frozen,
        Credit,
        SetPin,
        FinishOld,
        Void,
        Unfreeze,
        Activate,
    ]
}

fn step_index(s: Step) -> usize {
    match s {
        Step::CheckNew => 0,
        Step::ProveKey => 1,
        Step::ReadOld => 2,
        Step::PinVerified => 3,
        Step::Freeze => 4,
        Step::Frozen => 5,
        Step::Credit => 6,
        Step::SetPin => 7,
        Step::FinishOld => 8,
        Step::Void => 9,
        Step::Unfreeze => 10,
        Step::Activate => 11,
    }
}

fn notes() -> Vec<Note> {
    let mut v = vec![Note::Holder {
        name: "张三".into(),
        citizen_id: "111111198101011110".into(),
        card: "X00000019".into(),
    }];
    for which in [Which::Old, Which::New] {
        for purpose in [
            Purpose::Check,
            Purpose::Freeze,
            Purpose::Credit,
            Purpose::Identify,
            Purpose::Void,
            Purpose::Unfreeze,
            Purpose::Activate,
        ] {
            v.push(Note::Insert { which, purpose });
        }
    }
    v.extend([
        Note::ContinuingFromJournal {
            id: x(),
            state: JournalState::Frozen,
        },
        Note::ContinuingFromOldCard { id: x() },
        Note::AlreadyCredited { id: x() },
        Note::OldCardStaysFrozen {
            new_card: "X00000019".into(),
        },
        Note::PinWrong { left: 2 },
        Note::PinsDiffer,
        Note::PinInitialRefused,
        Note::ChoosePinBecauseInitial,
        Note::CitizenIdInvalid,
        Note::CitizenIdMismatch,
        Note::FreezeNeverTookEffect { id: x() },
        Note::FloorAlreadyThere,
        Note::TornCreditCleared { id: x() },
        Note::NothingToUndo,
    ]);
    v
}

fn note_index(n: &Note) -> usize {
    match n {
        Note::Holder { .. } => 0,
        Note::Insert { .. } => 1,
        Note::ContinuingFromJournal { .. } => 2,
        Note::ContinuingFromOldCard { .. } => 3,
        Note::AlreadyCredited { .. } => 4,
        Note::OldCardStaysFrozen { .. } => 5,
        Note::PinWrong { .. } => 6,
        Note::PinsDiffer => 7,
        Note::PinInitialRefused => 8,
        Note::ChoosePinBecauseInitial => 9,
        Note::CitizenIdInvalid => 10,
        Note::CitizenIdMismatch => 11,
        Note::FreezeNeverTookEffect { .. } => 12,
        Note::FloorAlreadyThere => 13,
        Note::TornCreditCleared { .. } => 14,
        Note::NothingToUndo => 15,
    }
}

fn prompts() -> Vec<Prompt> {
    vec![
        Prompt::OldPin {
            tries_left: Some(3),
        },
        Prompt::OldPin { tries_left: None },
        Prompt::PinForNewCard,
        Prompt::ChooseNewPin,
        Prompt::NewCardPin,
        Prompt::CitizenId,
    ]
}

fn prompt_index(p: Prompt) -> usize {
    match p {
        Prompt::OldPin { .. } => 0,
        Prompt::PinForNewCard => 1,
        Prompt::ChooseNewPin => 2,
        Prompt::NewCardPin => 3,
        Prompt::CitizenId => 4,
    }
}

fn refusals() -> Vec<Refusal> {
    use Refusal::*;
    vec![
        NewExpired { expiry: date() },
        NotGenuine { which: Which::New },
        NotGenuine { which: Which::Old },
        NewAlreadyActive,
        NewStatus {
            status: SscStatus::Blocked,
        },
        NewStatus {
            status: SscStatus::Other(9),
        },
        UnfinishedTransferOnNew { id: x() },
        BalanceWithoutTransfer {
            balance_fen: 123456,
        },
        FloorOtherOldCard {
            old_card: "6399000999".into(),
        },
        TransferCancelled { id: x() },
        NewActiveWithOtherTransfer,
        WrongNewCard {
            expected: "X00000019".into(),
            found: "X00000043".into(),
        },
        WrongOldCard {
            expected: "6399000123".into(),
            found: "6399000999".into(),
        },
        OtherPerson,
        CitizenIdCheckDigit,
        CitizenIdTyped,
        NoInput,
        OldMigrated {
            to: Some("X00000019".into()),
        },
        OldMigrated { to: None },
        OldNotUsable,
        OldBoundToOther {
            new_card: "X00000019".into(),
        },
        OldNotCarrying { id: x() },
        NothingToResume,
        OldRefusesPin,
        PinWrong { left: 1 },
        PinLastTry,
        PinBlocked,
        PinNotChosen,
        EntryFinal {
            id: x(),
            state: JournalState::Complete,
        },
        BeingCancelled { id: x() },
        FreezeUnfinished { id: x() },
        EntryLacksNewCard { id: x() },
        CancelAfterCredit {
            id: x(),
            new_card: "X00000019".into(),
        },
        NothingToCancel { id: x() },
    ]
}

fn refusal_index(r: &Refusal) -> usize {
    use Refusal::*;
    match r {
        NewExpired { .. } => 0,
        NotGenuine { .. } => 1,
        NewAlreadyActive => 2,
        NewStatus { .. } => 3,
        UnfinishedTransferOnNew { .. } => 4,
        BalanceWithoutTransfer { .. } => 5,
        FloorOtherOldCard { .. } => 6,
        TransferCancelled { .. } => 7,
        NewActiveWithOtherTransfer => 8,
        WrongNewCard { .. } => 9,
        WrongOldCard { .. } => 10,
        OtherPerson => 11,
        CitizenIdCheckDigit => 12,
        CitizenIdTyped => 13,
        NoInput => 14,
        OldMigrated { .. } => 15,
        OldNotUsable => 16,
        OldBoundToOther { .. } => 17,
        OldNotCarrying { .. } => 18,
        NothingToResume => 19,
        OldRefusesPin => 20,
        PinWrong { .. } => 21,
        PinLastTry => 22,
        PinBlocked => 23,
        PinNotChosen => 24,
        EntryFinal { .. } => 25,
        BeingCancelled { .. } => 26,
        FreezeUnfinished { .. } => 27,
        EntryLacksNewCard { .. } => 28,
        CancelAfterCredit { .. } => 29,
        NothingToCancel { .. } => 30,
    }
}

fn stops() -> Vec<Stop> {
    let mut v = Vec::new();
    for which in [Which::Old, Which::New] {
        for key in [KeyRole::Write, KeyRole::PinReload] {
            v.push(Stop::WrongKey {
                which,
                key,
                tries_left: 4,
            });
            v.push(Stop::KeyBlocked { which, key });
        }
        for fault in [
            CardFault::Removed,
            CardFault::Absent,
            CardFault::ReaderInUse,
            CardFault::Reader,
            CardFault::Status(0x6A82),
        ] {
            for journal in [None, Some((x(), JournalState::Crediting))] {
                v.push(Stop::CardFault {
                    which,
                    fault,
                    journal,
                });
            }
        }
        v.push(Stop::ReadBack { which });
    }
    v.extend([
        Stop::MissingField {
            role: "transfer_floor",
        },
        Stop::FrozenWithoutTransfer,
        Stop::FloorOtherOldCard {
            old_card: "6399000999".into(),
        },
        Stop::Inconsistent { id: x() },
        Stop::NewCardUnavailable,
        Stop::JournalFailed,
        Stop::DriverMisuse,
        Stop::CounterExhausted,
    ]);
    v
}

fn stop_index(s: &Stop) -> usize {
    match s {
        Stop::WrongKey { .. } => 0,
        Stop::KeyBlocked { .. } => 1,
        Stop::CardFault { .. } => 2,
        Stop::ReadBack { .. } => 3,
        Stop::MissingField { .. } => 4,
        Stop::FrozenWithoutTransfer => 5,
        Stop::FloorOtherOldCard { .. } => 6,
        Stop::Inconsistent { .. } => 7,
        Stop::NewCardUnavailable => 8,
        Stop::JournalFailed => 9,
        Stop::DriverMisuse => 10,
        Stop::CounterExhausted => 11,
    }
}

fn fault_index(f: CardFault) -> usize {
    match f {
        CardFault::Removed => 0,
        CardFault::Absent => 1,
        CardFault::ReaderInUse => 2,
        CardFault::Reader => 3,
        CardFault::Status(_) => 4,
    }
}

/// Every index from 0 to the highest is hit.
fn complete(kind: &str, idx: impl Iterator<Item = usize>, count: usize) {
    let seen: BTreeSet<usize> = idx.collect();
    let want: BTreeSet<usize> = (0..count).collect();
    assert_eq!(seen, want, "a {kind} variant has no sample");
}

/// Checks one rendering: not empty, Chinese text in Chinese, and distinct per
/// language.
fn check(kind: &str, en: String, zh: String) {
    assert!(
        !en.trim().is_empty() && !zh.trim().is_empty(),
        "{kind}: empty"
    );
    assert!(
        en.is_ascii() || en.contains("张三"),
        "{kind}: English has non-ASCII: {en}"
    );
    assert!(
        zh.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
        "{kind}: no Chinese in {zh:?}"
    );
    assert_ne!(en, zh, "{kind}");
    println!("{en}\n{zh}");
}

#[test]
fn every_variant_renders_in_chinese_and_english() {
    complete("Step", steps().into_iter().map(step_index), 12);
    complete("Note", notes().iter().map(note_index), 16);
    complete("Prompt", prompts().into_iter().map(prompt_index), 5);
    complete("Refusal", refusals().iter().map(refusal_index), 31);
    complete("Stop", stops().iter().map(stop_index), 12);
    complete(
        "CardFault",
        stops().iter().filter_map(|s| match s {
            Stop::CardFault { fault, .. } => Some(fault_index(*fault)),
            _ => None,
        }),
        5,
    );
    let [en, zh] = ALL_LANGS;
    for s in steps() {
        check("step", msg(en, &Msg::Step(s)), msg(zh, &Msg::Step(s)));
    }
    for n in notes() {
        check(
            "note",
            msg(en, &Msg::Note(n.clone())),
            msg(zh, &Msg::Note(n)),
        );
    }
    for p in prompts() {
        check("prompt", prompt(en, p), prompt(zh, p));
    }
    for r in refusals() {
        check("refusal", refusal(en, &r), refusal(zh, &r));
    }
    for s in stops() {
        check("stop", stop(en, &s), stop(zh, &s));
    }
}

#[test]
fn holder_citizen_id_is_masked_in_both_languages() {
    let n = Note::Holder {
        name: "张三".into(),
        citizen_id: "111111198101011110".into(),
        card: "X00000019".into(),
    };
    for l in ALL_LANGS {
        let s = note(l, &n);
        assert!(s.contains("111111********1110"), "{s}");
        assert!(!s.contains("111111198101011110"), "{s}");
    }
}
