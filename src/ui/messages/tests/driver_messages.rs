//! The driver's and the command's own messages (`activation::error`): a sample per
//! variant, proved complete by exhaustive `match`es, each rendered in both
//! languages, the Chinese without English words.

use super::*;
use crate::activation::error::{
    ConfigSeen, DeskRefusal, Internal, LayoutRecord, OldLayout, Setup, WaitTimeout,
};
use crate::apdu::TransportError;
use crate::sam::SamError;

fn desk_refusals() -> Vec<DeskRefusal> {
    let mut v = vec![
        DeskRefusal::NotTransferId {
            text: "12zz".into(),
        },
        DeskRefusal::NoJournalEntry { id: x() },
    ];
    for record in LayoutRecord::ALL {
        for card in [None, Some("6399000123".to_string())] {
            v.push(DeskRefusal::OldLayout(OldLayout {
                which: Which::Old,
                card,
                profile: "city-2.00".into(),
                record,
            }));
        }
    }
    v
}

fn desk_refusal_index(r: &DeskRefusal) -> usize {
    match r {
        DeskRefusal::OldLayout(o) => match o.record {
            LayoutRecord::TargetCard => 0,
            LayoutRecord::TransferCounter => 1,
            LayoutRecord::TransferFloor => 2,
        },
        DeskRefusal::NotTransferId { .. } => 3,
        DeskRefusal::NoJournalEntry { .. } => 4,
    }
}

fn timeouts() -> Vec<WaitTimeout> {
    let r = || "Virtual PCD 00 00".to_string();
    vec![
        WaitTimeout::NotInserted {
            want: Want::OldCard,
            reader: r(),
        },
        WaitTimeout::NotRemoved {
            want: Want::NewCard,
            reader: r(),
        },
    ]
}

fn timeout_index(t: &WaitTimeout) -> usize {
    match t {
        WaitTimeout::NotInserted { .. } => 0,
        WaitTimeout::NotRemoved { .. } => 1,
    }
}

fn internals() -> Vec<Internal> {
    vec![
        Internal::NoRandom("getrandom failed".into()),
        Internal::LogRecord("amount too large".into()),
        Internal::PinMissing,
        Internal::ChangePinsMissing,
        Internal::NotAField("last_log"),
    ]
}

fn internal_index(i: &Internal) -> usize {
    match i {
        Internal::NoRandom(_) => 0,
        Internal::LogRecord(_) => 1,
        Internal::PinMissing => 2,
        Internal::ChangePinsMissing => 3,
        Internal::NotAField(_) => 4,
    }
}

fn setups() -> Vec<Setup> {
    let psam = |error| Setup::Psam {
        reader: "SAM 0".into(),
        error,
    };
    vec![
        Setup::NoKeys(ConfigSeen::Missing),
        Setup::NoKeys(ConfigSeen::Disabled),
        Setup::NoKeys(ConfigSeen::WithoutKeys),
        psam(SamError::Transport(TransportError::NoCard("SAM 0".into()))),
        psam(SamError::Transport(TransportError::UnknownReader(
            "SAM".into(),
        ))),
        psam(SamError::Transport(TransportError::NoService("x".into()))),
        psam(SamError::Transport(TransportError::Busy)),
        psam(SamError::Transport(TransportError::CardRemoved)),
        psam(SamError::PsamStatus {
            step: "SELECT",
            status: crate::apdu::Status::from(0x6A82),
        }),
        psam(SamError::UnknownKey {
            app: "SSC",
            key_id: 1,
            alg: crate::crypto::Algorithm::Tdes,
        }),
        psam(SamError::KeyFile {
            path: "/k".into(),
            why: "x".into(),
        }),
        Setup::KeyFile(SamError::KeyFile {
            path: "/k".into(),
            why: "x".into(),
        }),
        Setup::NoTerminal,
        Setup::BadTerminal("12".into()),
    ]
}

fn setup_index(s: &Setup) -> usize {
    match s {
        Setup::NoKeys(ConfigSeen::Missing) => 0,
        Setup::NoKeys(ConfigSeen::Disabled) => 1,
        Setup::NoKeys(ConfigSeen::WithoutKeys) => 2,
        Setup::Psam { .. } => 3,
        Setup::KeyFile(_) => 4,
        Setup::NoTerminal => 5,
        Setup::BadTerminal(_) => 6,
    }
}

#[test]
fn every_driver_message_renders_in_both_languages_without_english_in_chinese() {
    complete(
        "DeskRefusal",
        desk_refusals().iter().map(desk_refusal_index),
        5,
    );
    complete("WaitTimeout", timeouts().iter().map(timeout_index), 2);
    complete("Internal", internals().iter().map(internal_index), 5);
    complete("Setup", setups().iter().map(setup_index), 7);
    let [en, zh] = ALL_LANGS;
    let mut all = Vec::new();
    for r in desk_refusals() {
        all.push((desk_refusal(en, &r), desk_refusal(zh, &r)));
    }
    for t in timeouts() {
        all.push((wait_timeout(en, &t), wait_timeout(zh, &t)));
    }
    for i in internals() {
        all.push((internal(en, &i), internal(zh, &i)));
    }
    for s in setups() {
        all.push((setup(en, &s), setup(zh, &s)));
    }
    let mut bad = Vec::new();
    for (e, z) in all {
        let w = english_words(&z);
        if !w.is_empty() {
            bad.push(format!("{w:?} in {z}"));
        }
        check("driver", e, z);
    }
    assert!(bad.is_empty(), "English in Chinese:\n{}", bad.join("\n"));
    // The English is what scripts, tests and hardware.md quote: unchanged.
    assert_eq!(
        wait_timeout(en, &timeouts()[0]),
        "no card was inserted into 'Virtual PCD 00 00'"
    );
    assert_eq!(
        desk_refusal(en, &desk_refusals()[0]),
        "'12zz' is not a transfer id (32 hex digits)"
    );
    // A journal state is said, not named.
    assert_eq!(english_words("转移（FROZEN）"), ["FROZEN"]);
    for &st in JournalState::ALL {
        assert!(english_words(journal_state(zh, st)).is_empty(), "{st:?}");
        assert_eq!(journal_state(en, st), st.as_str());
    }
}
