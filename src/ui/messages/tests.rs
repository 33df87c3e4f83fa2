//! Every message variant renders in both languages: the samples below list every
//! variant, and the `index` functions (exhaustive `match`es, no wildcard) prove the
//! list complete — a new variant fails to compile here until it has a sample.

use super::*;
use crate::activation::core::{
    CardFault, Date, JournalState, Msg, Note, Prompt, Purpose, Refusal, Step, Stop, Which,
};
use crate::activation::desk::{self, Ask, Service, Want};
use crate::card::CardKind;
use std::collections::BTreeSet;

const ALL_LANGS: [Lang; 2] = [Lang::En, Lang::Zh];

fn x() -> TransferId {
    TransferId::new(7, [0xAB; 12])
}

fn date() -> Date {
    Date::from_ymd_opt(2026, 6, 1).expect("date")
}

/// Every step (derived by strum: a new step is in it without a list to update).
fn steps() -> Vec<Step> {
    <Step as strum::VariantArray>::VARIANTS.to_vec()
}

fn notes() -> Vec<Note> {
    let mut v = vec![Note::Holder {
        name: "张三".into(),
        citizen_id: "111111198101011110".into(),
        card: "X00000019".into(),
    }];
    for which in [Which::Old, Which::New] {
        for &purpose in <Purpose as strum::VariantArray>::VARIANTS {
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
        Note::PinNotChangedOnResume { id: x() },
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
        Note::PinNotChangedOnResume { .. } => 16,
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
    assert_eq!(steps().len(), 12, "Step's variants");
    complete("Note", notes().iter().map(note_index), 17);
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

/// Every desk-level message (the driver's own, around the core's): a sample per
/// variant, proved complete by an exhaustive `match`.
fn desk_msgs() -> Vec<desk::Msg> {
    use desk::{Msg as D, Step as S};
    let mut v = Vec::new();
    for w in [Want::OldCard, Want::NewCard] {
        v.push(D::Insert(w, "Virtual PCD 00 00".into()));
        v.push(D::Remove(w, "Virtual PCD 00 00".into()));
        for found in [
            CardKind::Ssc,
            CardKind::City,
            CardKind::Psam,
            CardKind::Unknown,
        ] {
            v.push(D::WrongCard { want: w, found });
        }
    }
    v.push(D::Holder {
        name: "张三".into(),
        id_masked: "111111********1110".into(),
        card: "X00000019".into(),
    });
    for &s in <S as strum::VariantArray>::VARIANTS {
        v.push(D::Step(s));
    }
    v.push(D::PinWrong { left: 2 });
    v.push(D::Service(Service::Lost));
    v.push(D::Service(Service::Back));
    v.extend(notes().into_iter().map(D::Note));
    v
}

fn desk_index(m: &desk::Msg) -> usize {
    use desk::Msg as D;
    match m {
        D::Insert(..) => 0,
        D::Remove(..) => 1,
        D::WrongCard { .. } => 2,
        D::Holder { .. } => 3,
        D::Step(s) => match s {
            desk::Step::ReadNew
            | desk::Step::ProveKey
            | desk::Step::ReadOld
            | desk::Step::PinVerified
            | desk::Step::Freeze
            | desk::Step::Frozen
            | desk::Step::Credit
            | desk::Step::Activate
            | desk::Step::ReloadPin
            | desk::Step::FinishOld
            | desk::Step::Void
            | desk::Step::Unfreeze
            | desk::Step::Done => 4,
        },
        D::PinWrong { .. } => 5,
        D::Service(Service::Lost) => 6,
        D::Service(Service::Back) => 7,
        D::Note(_) => 8,
    }
}

/// ASCII words a Chinese sentence may keep: technical names a desk worker sees on
/// the hardware or types, and the values the samples carry.
const KEPT_WORDS: &[&str] = &["pcscd", "Virtual", "PCD", "PIN", "PSAM", "PC", "SC", "SAM"];

/// The ASCII-letter words of a Chinese rendering that are left untranslated: every
/// word of letters except command lines in backticks, `--options`, words with a
/// digit (ids, card numbers, status words), hex values and [`KEPT_WORDS`] (PIN,
/// PSAM, PC/SC, the sample reader's name). Words in capitals count: a raw journal
/// state name (`FROZEN`) on a Chinese screen is English.
pub(crate) fn english_words(zh: &str) -> Vec<String> {
    let mut text = String::new();
    for (i, part) in zh.split('`').enumerate() {
        if i % 2 == 0 {
            text.push_str(part);
            text.push(' ');
        }
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .filter(|w| w.chars().any(|c| c.is_ascii_alphabetic()))
        .filter(|w| !w.starts_with("--"))
        .filter(|w| !w.chars().any(|c| c.is_ascii_digit()))
        // Hex (transfer ids, status words) is a value, not a word.
        .filter(|w| !(w.len() >= 4 && w.chars().all(|c| c.is_ascii_hexdigit())))
        .filter(|w| !KEPT_WORDS.contains(w))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_desk_message_renders_in_both_languages() {
    complete("desk Msg", desk_msgs().iter().map(desk_index), 9);
    let [en, zh] = ALL_LANGS;
    for m in desk_msgs() {
        check("desk", desk(en, &m), desk(zh, &m));
    }
    for a in prompts().into_iter().map(Ask::Prompt).chain([Ask::Again]) {
        check("ask", ask(en, a), ask(zh, a));
    }
    // The plain desk's English is what scripts and the pcscd tier read.
    assert_eq!(
        desk(en, &desk::Msg::Insert(Want::OldCard, "R 0".into())),
        "Insert the old city medical card into 'R 0'."
    );
    assert_eq!(
        desk(
            en,
            &desk::Msg::WrongCard {
                want: Want::NewCard,
                found: CardKind::City
            }
        ),
        "This is not the new social security card: the reader holds a city medical card. Please swap the cards."
    );
    assert_eq!(desk(en, &desk::Msg::Step(desk::Step::Done)), "Done.");
}

/// No Chinese rendering of any variant keeps an English word (a half-translated
/// sentence), beyond the technical tokens allowed by [`english_words`].
#[test]
fn chinese_renderings_keep_no_english_words() {
    let zh = Lang::Zh;
    let mut all: Vec<String> = Vec::new();
    all.extend(steps().into_iter().map(|s| step(zh, s).to_string()));
    all.extend(notes().iter().map(|n| note(zh, n)));
    all.extend(prompts().into_iter().map(|p| prompt(zh, p)));
    all.extend(refusals().iter().map(|r| refusal(zh, r)));
    all.extend(stops().iter().map(|s| stop(zh, s)));
    all.extend(desk_msgs().iter().map(|m| desk(zh, m)));
    all.push(ask(zh, Ask::Again));
    let bad: Vec<String> = all
        .iter()
        .filter_map(|s| {
            let w = english_words(s);
            (!w.is_empty()).then(|| format!("{w:?} in {s}"))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "English left in Chinese:\n{}",
        bad.join("\n")
    );
    // The check itself catches a half-translated sentence.
    assert_eq!(
        english_words("旧卡 is blocked：PIN 已锁定"),
        ["is", "blocked"]
    );
    assert!(english_words("请运行 `sscard activate resume` --force-last-try").is_empty());
}

/// The driver's and the command's own messages (`activation::error`).
mod driver_messages;
