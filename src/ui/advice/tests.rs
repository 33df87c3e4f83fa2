//! Every failure is advised in both languages, the Chinese without English words,
//! and the desk's setup problems name the technician.

use super::*;
use crate::activation::core::{TransferId, Which};
use crate::activation::desk::Want;
use crate::activation::error::{Internal, LayoutRecord, OldLayout, WaitTimeout};
use crate::ui::messages::tests::english_words;

#[test]
fn advice_exists_in_both_languages_for_every_transport_error() {
    let all = [
        TransportError::NoService("x".into()),
        TransportError::UnknownReader("r".into()),
        TransportError::NoReaders,
        TransportError::NoCard("r".into()),
        TransportError::CardRemoved,
        TransportError::CardReset,
        TransportError::ShortResponse(0),
        TransportError::EndlessResponse(9),
        TransportError::Busy,
        TransportError::Replay("x".into()),
        TransportError::Unsupported("reset"),
        TransportError::Pcsc("x".into()),
        TransportError::Io(std::io::Error::other("x")),
    ];
    for t in &all {
        let (en, zh) = (advise_transport(Lang::En, t), advise_transport(Lang::Zh, t));
        assert_ne!(en.title, zh.title, "{t}");
        assert_ne!(en.action, zh.action, "{t}");
        assert_eq!(en.detail, zh.detail, "details stay English");
    }
}

fn sams() -> Vec<SamError> {
    vec![
        SamError::Transport(TransportError::NoCard("SAM 0".into())),
        SamError::Transport(TransportError::UnknownReader("SAM".into())),
        SamError::Transport(TransportError::NoReaders),
        SamError::Transport(TransportError::NoService("x".into())),
        SamError::Transport(TransportError::Busy),
        SamError::Transport(TransportError::CardRemoved),
        SamError::PsamStatus {
            step: "SELECT",
            status: crate::apdu::Status::from(0x6A82),
        },
        SamError::PsamData("short".into()),
        SamError::UnknownKey {
            app: "SSC",
            key_id: 1,
            alg: crate::crypto::Algorithm::Tdes,
        },
        SamError::KeyFile {
            path: "/k".into(),
            why: "missing".into(),
        },
    ]
}

/// Every variant of the activation's own errors (those the desk advises from data).
fn activation_errors() -> Vec<ActivationError> {
    let x = TransferId::new(7, [0xAB; 12]);
    let mut v = vec![
        ActivationError::Refused(DeskRefusal::NotTransferId {
            text: "12zz".into(),
        }),
        ActivationError::Refused(DeskRefusal::NoJournalEntry { id: x }),
        ActivationError::Setup(Setup::NoKeys(ConfigSeen::Missing)),
        ActivationError::Setup(Setup::NoKeys(ConfigSeen::Disabled)),
        ActivationError::Setup(Setup::NoKeys(ConfigSeen::WithoutKeys)),
        ActivationError::Setup(Setup::NoTerminal),
        ActivationError::Setup(Setup::BadTerminal("12".into())),
        ActivationError::Setup(Setup::KeyFile(SamError::KeyFile {
            path: "/k".into(),
            why: "missing".into(),
        })),
    ];
    for record in LayoutRecord::ALL {
        for card in [None, Some("6399000123".to_string())] {
            v.push(ActivationError::Refused(DeskRefusal::OldLayout(
                OldLayout {
                    which: if record.kind() == crate::profile::Kind::City {
                        Which::Old
                    } else {
                        Which::New
                    },
                    card,
                    profile: "city-2.00".into(),
                    record,
                },
            )));
        }
    }
    for want in [Want::OldCard, Want::NewCard] {
        let reader = "Virtual PCD 00 00".to_string();
        v.push(ActivationError::Timeout(WaitTimeout::NotInserted {
            want,
            reader: reader.clone(),
        }));
        v.push(ActivationError::Timeout(WaitTimeout::NotRemoved {
            want,
            reader,
        }));
    }
    for i in [
        Internal::NoRandom("x".into()),
        Internal::LogRecord("x".into()),
        Internal::PinMissing,
        Internal::ChangePinsMissing,
        Internal::NotAField("last_log"),
    ] {
        v.push(ActivationError::Inconsistent(i));
    }
    for error in sams() {
        v.push(ActivationError::Setup(Setup::Psam {
            reader: "SAM 0".into(),
            error,
        }));
    }
    v
}

#[test]
fn every_activation_error_is_advised_in_both_languages_without_english_in_chinese() {
    let mut bad = Vec::new();
    for e in activation_errors() {
        let (en, zh) = (
            advise_activation(Lang::En, &e),
            advise_activation(Lang::Zh, &e),
        );
        assert_ne!(en.title, zh.title, "{e:?}");
        assert_ne!(en.action, zh.action, "{e:?}");
        assert_eq!(en.detail, zh.detail, "{e:?}: details stay English");
        assert_eq!(en.detail, e.to_string());
        for text in [&zh.title, &zh.action, &zh.addressed(Lang::Zh)] {
            let w = english_words(text);
            if !w.is_empty() {
                bad.push(format!("{w:?} in {text}"));
            }
        }
    }
    assert!(bad.is_empty(), "English in Chinese:\n{}", bad.join("\n"));
}

#[test]
fn setup_problems_name_the_cause_and_the_technician_and_fail_no_step() {
    let empty = ActivationError::Setup(Setup::Psam {
        reader: "SAM 0".into(),
        error: SamError::Transport(TransportError::NoCard("SAM 0".into())),
    });
    let zh = advise_activation(Lang::Zh, &empty);
    assert_eq!(zh.title, "PSAM 卡座（读卡器“SAM 0”）中没有 PSAM 卡。");
    assert_eq!(zh.who, Who::Technician);
    assert!(zh.before_flow);
    assert!(zh
        .addressed(Lang::Zh)
        .starts_with("技术人员：请将本终端的 PSAM 卡插入"));
    assert!(!zh.title.contains("请插入卡片后重试"));
    let en = advise_activation(Lang::En, &empty);
    assert_eq!(en.title, "There is no PSAM in the PSAM reader 'SAM 0'.");
    assert!(en
        .addressed(Lang::En)
        .starts_with("Technician: Put this desk's PSAM"));
    assert!(en.detail.contains("(PSAM: "), "{}", en.detail);

    let wrong = ActivationError::Setup(Setup::Psam {
        reader: "SAM 0".into(),
        error: SamError::PsamStatus {
            step: "SELECT",
            status: crate::apdu::Status::from(0x6A82),
        },
    });
    let zh = advise_activation(Lang::Zh, &wrong);
    assert!(zh.title.contains("不是可用的 PSAM 卡"), "{}", zh.title);
    assert!(!zh.title.contains("6A82") && !zh.title.contains("SELECT"));
    assert!(zh.detail.contains("PSAM SELECT: 6A82"), "{}", zh.detail);
    let en = advise_activation(Lang::En, &wrong);
    assert!(!en.title.contains("6A82"), "{}", en.title);

    let unset = advise_activation(
        Lang::Zh,
        &ActivationError::Setup(Setup::NoKeys(ConfigSeen::Missing)),
    );
    assert!(
        unset.title.starts_with("本终端尚未配置：没有配置文件"),
        "{}",
        unset.title
    );
    assert!(unset.action.contains("`sscard config example`"));
    assert_eq!(unset.who, Who::Technician);
    assert!(!unset.title.contains("卡片密钥不可用"));
}

#[test]
fn a_chinese_title_never_carries_the_english_message() {
    let e = Error::Other {
        message: "a PIN is exactly 6 digits 0-9".into(),
        code: ExitCode::InvalidData,
    };
    let zh = advise(Lang::Zh, &e);
    assert!(english_words(&zh.title).is_empty(), "{}", zh.title);
    assert_eq!(zh.detail, "a PIN is exactly 6 digits 0-9");
    let en = advise(Lang::En, &e);
    assert!(
        en.title.contains("a PIN is exactly 6 digits"),
        "{}",
        en.title
    );
    for e in [
        Error::InvalidData("x y".into()),
        Error::Timeout("no card came".into()),
    ] {
        let zh = advise(Lang::Zh, &e);
        assert!(english_words(&zh.title).is_empty(), "{}", zh.title);
    }
}
