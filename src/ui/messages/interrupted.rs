//! An activation stopped by a signal (issue 15 §2): what stopped it, where the cards
//! stand and the command that continues; and the operator's yes/no answers.

use super::Lang;

/// What stopped an activation from outside: the three stop signals, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoppedBy {
    /// SIGINT: Ctrl-C at the desk.
    CtrlC,
    /// SIGHUP: the terminal window was closed (or the session ended).
    WindowClosed,
    /// SIGTERM: a stop request (shutdown, `kill`, a service manager).
    Terminated,
}

/// Where an interrupted activation left the cards, read from the journal when the
/// signal came (the journal is written before every card write, so it never says
/// less than the cards hold). `command` is the exact command line that continues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interrupted {
    /// Nothing of this run was journaled, so no card was written: start again.
    NothingWritten {
        /// The command that starts again (this run's own).
        command: String,
    },
    /// The freeze was announced: the old card may or may not be frozen yet.
    Freezing {
        /// The transfer id (hex).
        id: String,
        /// `sscard activate resume ID ...`.
        command: String,
    },
    /// The old card is frozen for the new card; the money is not (all) on it yet.
    Frozen {
        /// The transfer id (hex).
        id: String,
        /// `sscard activate resume ID ...`.
        command: String,
    },
    /// The money is on the new card; the old card is not yet marked migrated.
    Credited {
        /// The transfer id (hex).
        id: String,
        /// `sscard activate resume ID ...`.
        command: String,
    },
    /// A cancel was under way.
    Cancelling {
        /// The transfer id (hex).
        id: String,
        /// `sscard activate cancel ID ...`.
        command: String,
    },
    /// A window or first-use activation was under way (no money moves in it).
    Activating {
        /// The journal id (hex).
        id: String,
        /// `resume ID`: the new card's status tells whether it took, and resume
        /// finishes it under the same journal entry.
        command: String,
    },
}

/// The desk's message for an activation stopped by `by` (one line of what happened
/// and where the cards stand, one line of what to do, with the command).
pub fn interrupted(lang: Lang, by: StoppedBy, i: &Interrupted) -> String {
    use Interrupted as I;
    let cause = match (lang, by) {
        (Lang::En, StoppedBy::CtrlC) => "Stopped by Ctrl-C",
        (Lang::En, StoppedBy::WindowClosed) => "Stopped: the window was closed",
        (Lang::En, StoppedBy::Terminated) => "Stopped by a stop request (SIGTERM)",
        (Lang::Zh, StoppedBy::CtrlC) => "已按 Ctrl-C 中断",
        (Lang::Zh, StoppedBy::WindowClosed) => "窗口已关闭，办理中断",
        (Lang::Zh, StoppedBy::Terminated) => "收到停止请求（SIGTERM），办理中断",
    };
    match lang {
        Lang::En => match i {
            I::NothingWritten { command } => format!(
                "{cause} before any card was written: both cards are unchanged.\n\
                 To start again: {command}"
            ),
            I::Freezing { id, command } => format!(
                "{cause} while the old card was being frozen: it may already be frozen. \
                 Transfer id {id}.\nTo continue, with either card in its reader: {command}"
            ),
            I::Frozen { id, command } => format!(
                "{cause} mid-transfer: the old card is frozen (it cannot pay) and the \
                 money is not on the new card yet. Transfer id {id}.\n\
                 To continue, with either card in its reader: {command}"
            ),
            I::Credited { id, command } => format!(
                "{cause} near the end: the money is on the new card; the old card is not \
                 yet marked migrated. Transfer id {id}.\n\
                 To finish, with either card in its reader: {command}"
            ),
            I::Cancelling { id, command } => format!(
                "{cause} while cancelling: the cancel is not finished. Transfer id {id}.\n\
                 To finish it, with either card in its reader: {command}"
            ),
            I::Activating { id, command } => format!(
                "{cause} while activating the new card: it may not be activated yet. \
                 Journal id {id}.\nTo check and finish, with the new card in its reader: \
                 {command}"
            ),
        },
        Lang::Zh => match i {
            I::NothingWritten { command } => {
                format!("{cause}：尚未写入任何卡片，两张卡均未改变。\n重新办理：{command}")
            }
            I::Freezing { id, command } => format!(
                "{cause}：正在冻结旧卡，旧卡可能已被冻结。流水号 {id}。\n\
                 将任一张卡插入读卡器后继续办理：{command}"
            ),
            I::Frozen { id, command } => format!(
                "{cause}：转移未完成，旧卡已冻结（不能支付），资金尚未转入新卡。流水号 {id}。\n\
                 将任一张卡插入读卡器后继续办理：{command}"
            ),
            I::Credited { id, command } => format!(
                "{cause}：资金已转入新卡，旧卡尚未标记为已迁移。流水号 {id}。\n\
                 将任一张卡插入读卡器后完成办理：{command}"
            ),
            I::Cancelling { id, command } => format!(
                "{cause}：撤销尚未完成。流水号 {id}。\n将任一张卡插入读卡器后完成撤销：{command}"
            ),
            I::Activating { id, command } => format!(
                "{cause}：新卡可能尚未启用。流水号 {id}。\n将新卡插入读卡器后检查并完成：{command}"
            ),
        },
    }
}

/// The operator's answer to a `[y/N]` question: `Some(true)` for yes, `Some(false)`
/// for no or Enter alone (the default), `None` for anything else, a typo to be asked
/// again (issue 15 §3) rather than taken for no.
pub fn yes_no(answer: &str) -> Option<bool> {
    match answer.trim().to_lowercase().as_str() {
        "y" | "yes" | "是" | "是的" | "确定" => Some(true),
        "" | "n" | "no" | "否" | "不" | "不是" => Some(false),
        _ => None,
    }
}

/// Asked after an answer [`yes_no`] did not understand.
pub fn answer_yes_or_no(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "Please answer y (yes) or n (no).",
        Lang::Zh => "请输入 y（是）或 n（否）。",
    }
}
#[cfg(test)]
mod interrupted_tests {
    use super::*;

    #[test]
    fn a_typo_in_a_yes_no_answer_is_asked_again() {
        for y in ["y", "Y", " yes ", "是", "是的", "确定"] {
            assert_eq!(yes_no(y), Some(true), "{y}");
        }
        for n in ["", "n", "NO", "否", "不"] {
            assert_eq!(yes_no(n), Some(false), "{n}");
        }
        for typo in ["ys", "t", "yes!", "1", "u"] {
            assert_eq!(yes_no(typo), None, "{typo}");
        }
        assert!(answer_yes_or_no(Lang::Zh).contains("（是）"));
    }

    #[test]
    fn every_interruption_names_the_state_the_id_and_the_command_in_both_languages() {
        let c = "sscard activate resume AB --reader 0".to_string();
        let all = [
            Interrupted::NothingWritten { command: c.clone() },
            Interrupted::Freezing {
                id: "AB".into(),
                command: c.clone(),
            },
            Interrupted::Frozen {
                id: "AB".into(),
                command: c.clone(),
            },
            Interrupted::Credited {
                id: "AB".into(),
                command: c.clone(),
            },
            Interrupted::Cancelling {
                id: "AB".into(),
                command: c.clone(),
            },
            Interrupted::Activating {
                id: "AB".into(),
                command: c.clone(),
            },
        ];
        for by in [
            StoppedBy::CtrlC,
            StoppedBy::WindowClosed,
            StoppedBy::Terminated,
        ] {
            for i in &all {
                for lang in [Lang::En, Lang::Zh] {
                    let t = interrupted(lang, by, i);
                    assert!(t.ends_with(&c), "{t}");
                    if !matches!(i, Interrupted::NothingWritten { .. }) {
                        assert!(t.contains(" AB"), "{t}");
                    }
                    if lang == Lang::Zh {
                        // No English word outside the command, the id and the key names.
                        let prose = t
                            .replace(&c, "")
                            .replace("Ctrl-C", "")
                            .replace("SIGTERM", "");
                        assert!(!prose.chars().any(|ch| ch.is_ascii_lowercase()), "{t}");
                    }
                }
            }
        }
    }
}
