//! What the core says while a flow goes on: its steps ([`step`]) and notes
//! ([`note`]): the holder read, amounts moved, a card's state. One exhaustive `match`
//! per type and language.

use super::{card, id, journal_state, masked, Lang};
use crate::activation::core::{Msg, Note, Purpose, Step};

/// A progress step or a note.
pub fn msg(lang: Lang, m: &Msg) -> String {
    match m {
        Msg::Step(s) => step(lang, *s).to_string(),
        Msg::Note(n) => note(lang, n),
    }
}

/// A progress step.
pub fn step(lang: Lang, s: Step) -> &'static str {
    match lang {
        Lang::En => match s {
            Step::CheckNew => "Reading and checking the new card...",
            Step::ProveKey => "Proving this desk's key on the new card...",
            Step::ReadOld => "Reading the old card...",
            Step::PinVerified => "PIN accepted.",
            Step::Freeze => "Freezing the old card's account for the new card...",
            Step::Frozen => "The old card is frozen for the new card.",
            Step::Credit => "Moving the medical account to the new card...",
            Step::SetPin => "Setting the new card's PIN...",
            Step::FinishOld => "Marking the old card as migrated...",
            Step::Void => "Voiding the transfer on the new card...",
            Step::Unfreeze => "Returning the old card to active...",
            Step::Activate => "Activating the card's medical function...",
        },
        Lang::Zh => match s {
            Step::CheckNew => "正在读取并检查新卡……",
            Step::ProveKey => "正在新卡上验证本终端密钥……",
            Step::ReadOld => "正在读取旧卡……",
            Step::PinVerified => "密码正确。",
            Step::Freeze => "正在冻结旧卡账户（绑定新卡）……",
            Step::Frozen => "旧卡已冻结，绑定新卡。",
            Step::Credit => "正在将医保账户转入新卡……",
            Step::SetPin => "正在设置新卡密码……",
            Step::FinishOld => "正在将旧卡标记为已迁移……",
            Step::Void => "正在新卡上作废本次转移……",
            Step::Unfreeze => "正在恢复旧卡为正常状态……",
            Step::Activate => "正在启用医保功能……",
        },
    }
}

fn purpose(lang: Lang, p: Purpose) -> &'static str {
    match lang {
        Lang::En => match p {
            Purpose::Check => "to be checked (nothing is written)",
            Purpose::Freeze => "to be frozen",
            Purpose::Credit => "again, to be credited",
            Purpose::Identify => "to read its transfer",
            Purpose::Void => "to void the transfer on it",
            Purpose::Unfreeze => "to return it to active",
            Purpose::Activate => "to activate it",
        },
        Lang::Zh => match p {
            Purpose::Check => "进行检查（不写卡）",
            Purpose::Freeze => "进行冻结",
            Purpose::Credit => "再次插入，进行转入",
            Purpose::Identify => "读取转移信息",
            Purpose::Void => "作废本次转移",
            Purpose::Unfreeze => "恢复为正常状态",
            Purpose::Activate => "进行启用",
        },
    }
}

/// The holder line: name (left out when the card was not asked for it, e.g. the new
/// card at step 1 of the pharmacy, whose name is the old card's), masked citizen ID,
/// card number.
pub(super) fn holder_line(lang: Lang, name: &str, id_masked: &str, card: &str) -> String {
    let name = if name.trim().is_empty() {
        String::new()
    } else {
        format!("{name}  ")
    };
    match lang {
        Lang::En => format!("Holder: {name}ID {id_masked}  card {card}"),
        Lang::Zh => format!("持卡人：{name}身份证 {id_masked}  卡号 {card}"),
    }
}

/// A note.
pub fn note(lang: Lang, n: &Note) -> String {
    match lang {
        Lang::En => match n {
            Note::Holder {
                name,
                citizen_id,
                card,
            } => holder_line(lang, name, &masked(citizen_id), card),
            // Not "Insert ...": scripts wait for the driver's "Insert <card> into
            // '<reader>'." line, which follows when the card is not there yet.
            Note::Insert { which, purpose: p } => {
                format!("Next: {} {}.", card(lang, *which), purpose(lang, *p))
            }
            Note::ContinuingFromJournal { id: x, state } => format!(
                "Unfinished transfer {} found in this desk's journal ({}); continuing.",
                id(x),
                state.as_str()
            ),
            Note::ContinuingFromOldCard { id: x } => format!(
                "The old card carries transfer {}, unknown to this desk; continuing from the card's own data.",
                id(x)
            ),
            Note::AlreadyCredited { id: x } => format!(
                "The new card already holds transfer {}; completing what is left.",
                id(x)
            ),
            Note::OldCardStaysFrozen { new_card } => format!(
                "The old card stays frozen: it cannot pay and names card {new_card}."
            ),
            Note::PinWrong { left } => format!("Wrong PIN: {left} tries left."),
            Note::PinsDiffer => "The two PINs differ; please enter them again.".into(),
            Note::PinInitialRefused => {
                "123456 cannot be the new PIN; please choose another.".into()
            }
            Note::ChoosePinBecauseInitial => {
                "The PIN is still 123456: the holder chooses the new card's PIN.".into()
            }
            Note::CitizenIdInvalid => {
                "The citizen ID typed is not valid (check digit); please type it again.".into()
            }
            Note::CitizenIdMismatch => {
                "The citizen ID typed is not the card's; please type it again.".into()
            }
            Note::FreezeNeverTookEffect { id: x } => format!(
                "Transfer {} never froze the old card; its journal entry is closed.",
                id(x)
            ),
            Note::FloorAlreadyThere => {
                "The new card already bars this transfer (a cancel run again).".into()
            }
            Note::TornCreditCleared { id: x } => format!(
                "The new card holds an unfinished credit of transfer {}; it is cleared.",
                id(x)
            ),
            Note::NothingToUndo => "The old card is already active; nothing to undo.".into(),
            Note::PinNotChangedOnResume { id: x } => format!(
                "Activation {} is finished, but a PIN chosen before the interruption was not set: the card keeps the PIN it had (the holder can change it at any card terminal).",
                id(x)
            ),
        },
        Lang::Zh => match n {
            Note::Holder {
                name,
                citizen_id,
                card,
            } => holder_line(lang, name, &masked(citizen_id), card),
            Note::Insert { which, purpose: p } => {
                format!("请插入{}，{}。", card(lang, *which), purpose(lang, *p))
            }
            Note::ContinuingFromJournal { id: x, state } => format!(
                "本终端日志中有未完成的转移 {}（{}），继续办理。",
                id(x),
                journal_state(lang, *state)
            ),
            Note::ContinuingFromOldCard { id: x } => format!(
                "旧卡载有本终端未记录的转移 {}，按卡内数据继续办理。",
                id(x)
            ),
            Note::AlreadyCredited { id: x } => {
                format!("新卡已载有转移 {}，完成剩余步骤。", id(x))
            }
            Note::OldCardStaysFrozen { new_card } => {
                format!("旧卡保持冻结：不能支付，并指向卡号 {new_card}。")
            }
            Note::PinWrong { left } => format!("密码错误，还可尝试 {left} 次。"),
            Note::PinsDiffer => "两次输入的密码不一致，请重新输入。".into(),
            Note::PinInitialRefused => "新密码不能为 123456，请另选。".into(),
            Note::ChoosePinBecauseInitial => {
                "密码仍为初始密码 123456：请持卡人为新卡设置新密码。".into()
            }
            Note::CitizenIdInvalid => "输入的身份证号无效（校验位不符），请重新输入。".into(),
            Note::CitizenIdMismatch => "输入的身份证号与卡内不一致，请重新输入。".into(),
            Note::FreezeNeverTookEffect { id: x } => {
                format!("转移 {} 未能冻结旧卡，日志记录已关闭。", id(x))
            }
            Note::FloorAlreadyThere => "新卡上已有本次转移的作废标记（重复撤销）。".into(),
            Note::TornCreditCleared { id: x } => {
                format!("新卡上有转移 {} 未完成的转入，已清除。", id(x))
            }
            Note::NothingToUndo => "旧卡已是正常状态，无需恢复。".into(),
            Note::PinNotChangedOnResume { id: x } => format!(
                "启用 {} 已完成，但中断前选定的新密码未设置：卡片保留原密码（持卡人可在任一终端修改）。",
                id(x)
            ),
        },
    }
}
#[cfg(test)]
mod holder_line_tests {
    use super::*;

    #[test]
    fn an_unread_name_is_left_out_not_shown_blank() {
        for lang in [Lang::En, Lang::Zh] {
            let with = holder_line(lang, "张三", "1101**********1234", "A1");
            let without = holder_line(lang, "", "1101**********1234", "A1");
            assert!(with.contains("张三"), "{with}");
            assert!(
                !without.contains("：  ") && !without.contains(":  "),
                "{without}"
            );
            assert!(without.contains("1101**********1234") && without.contains("A1"));
        }
    }
}
