//! Why the core refused an operation before writing anything ([`refusal`]): one
//! exhaustive `match` per language.

use super::{card, id, journal_state, ssc_status, yuan, Lang};
use crate::activation::core::Refusal;

/// Why an operation was refused (nothing was written for it).
pub fn refusal(lang: Lang, r: &Refusal) -> String {
    match lang {
        Lang::En => match r {
            Refusal::NewExpired { expiry } => format!(
                "the new card expired on {}; the holder must replace it at the bureau",
                expiry.format("%Y-%m-%d")
            ),
            Refusal::NotGenuine { which } => format!(
                "{} failed the genuineness check (INTERNAL AUTHENTICATE)",
                card(lang, *which)
            ),
            Refusal::NewAlreadyActive => {
                "the new card's medical function is already active".into()
            }
            Refusal::NewStatus { status } => format!(
                "the new card's medical status is {}",
                ssc_status(lang, *status)
            ),
            Refusal::UnfinishedTransferOnNew { id: x } => format!(
                "the new card carries the unfinished transfer {}: resume or cancel that one first",
                id(x)
            ),
            Refusal::BalanceWithoutTransfer { balance_fen } => format!(
                "the new card is not activated yet holds {} yuan without a transfer; the bureau must check it",
                yuan(*balance_fen)
            ),
            Refusal::FloorOtherOldCard { old_card } => format!(
                "the new card bars transfers from another old card ({old_card}); the bureau resolves it"
            ),
            Refusal::TransferCancelled { id: x } => format!(
                "transfer {} was cancelled on the new card; it can never be credited",
                id(x)
            ),
            Refusal::NewActiveWithOtherTransfer => {
                "the new card is already active with another transfer".into()
            }
            Refusal::WrongNewCard { expected, found } => format!(
                "this is card {found}; the transfer is bound to card {expected} and only that card may be used"
            ),
            Refusal::WrongOldCard { expected, found } => format!(
                "this is old card {found}; the transfer belongs to old card {expected}"
            ),
            Refusal::OtherPerson => "the two cards belong to different people".into(),
            Refusal::CitizenIdCheckDigit => {
                "the citizen ID on the new card fails its check digit".into()
            }
            Refusal::CitizenIdTyped => {
                "the citizen ID typed is not valid or not the card's".into()
            }
            Refusal::NoInput => "no answer came from the desk".into(),
            Refusal::OldMigrated { to: Some(t) } => {
                format!("the old card was already migrated to card {t}")
            }
            Refusal::OldMigrated { to: None } => "the old card was already migrated".into(),
            Refusal::OldNotUsable => "the old card is blocked or its status is unknown".into(),
            Refusal::OldBoundToOther { new_card } => format!(
                "the old card is frozen for card {new_card}: insert that card (or cancel the transfer)"
            ),
            Refusal::OldNotCarrying { id: x } => {
                format!("the old card does not carry transfer {}", id(x))
            }
            Refusal::NothingToResume => "there is nothing to resume on this card".into(),
            Refusal::OldRefusesPin => {
                "the old card refuses PIN verification: it can no longer pay".into()
            }
            Refusal::PinWrong { left } => format!("wrong PIN; {left} tries left"),
            Refusal::PinLastTry => "only one PIN try is left on the old card; a wrong PIN would block it. Retry with --force-last-try if the holder is sure".into(),
            Refusal::PinBlocked => {
                "the PIN is blocked; the holder must have it unblocked at the bureau".into()
            }
            Refusal::PinNotChosen => "no new PIN was chosen".into(),
            Refusal::EntryFinal { id: x, state } => {
                format!("transfer {} is already {}", id(x), state.as_str())
            }
            Refusal::BeingCancelled { id: x } => format!(
                "transfer {} is being cancelled: run `sscard activate cancel {}` again",
                id(x),
                id(x)
            ),
            Refusal::FreezeUnfinished { id: x } => format!(
                "transfer {} stopped while freezing the old card: insert the old card to resume",
                id(x)
            ),
            Refusal::EntryLacksNewCard { id: x } => format!(
                "the journal entry of transfer {} does not name the new card: insert the old card",
                id(x)
            ),
            Refusal::CancelAfterCredit { id: x, new_card } => format!(
                "transfer {} is already on card {new_card}: it cannot be cancelled; it was completed instead",
                id(x)
            ),
            Refusal::NothingToCancel { id: x } => format!(
                "the old card does not show transfer {} frozen: nothing to cancel",
                id(x)
            ),
        },
        Lang::Zh => match r {
            Refusal::NewExpired { expiry } => format!(
                "新卡已于 {} 过期，请持卡人到社保经办机构换卡",
                expiry.format("%Y-%m-%d")
            ),
            Refusal::NotGenuine { which } => {
                format!("{}未通过真伪校验（内部认证）", card(lang, *which))
            }
            Refusal::NewAlreadyActive => "新卡医保功能已启用".into(),
            Refusal::NewStatus { status } => {
                format!("新卡医保状态为：{}", ssc_status(lang, *status))
            }
            Refusal::UnfinishedTransferOnNew { id: x } => format!(
                "新卡上有未完成的转移 {}：请先继续办理或撤销该转移",
                id(x)
            ),
            Refusal::BalanceWithoutTransfer { balance_fen } => format!(
                "新卡未启用，却无转移记录而有余额 {} 元，请经办机构核查",
                yuan(*balance_fen)
            ),
            Refusal::FloorOtherOldCard { old_card } => {
                format!("新卡已禁止来自另一张旧卡（{old_card}）的转移，请经办机构处理")
            }
            Refusal::TransferCancelled { id: x } => {
                format!("转移 {} 已在新卡上撤销，永远不能再转入", id(x))
            }
            Refusal::NewActiveWithOtherTransfer => "新卡已因另一笔转移启用".into(),
            Refusal::WrongNewCard { expected, found } => format!(
                "这是卡号 {found}；本次转移绑定卡号 {expected}，只能使用该卡"
            ),
            Refusal::WrongOldCard { expected, found } => {
                format!("这是旧卡 {found}；本次转移属于旧卡 {expected}")
            }
            Refusal::OtherPerson => "两张卡不属于同一人".into(),
            Refusal::CitizenIdCheckDigit => "新卡上的身份证号校验位不符".into(),
            Refusal::CitizenIdTyped => "输入的身份证号无效或与卡内不一致".into(),
            Refusal::NoInput => "终端没有输入".into(),
            Refusal::OldMigrated { to: Some(t) } => format!("旧卡已迁移到卡号 {t}"),
            Refusal::OldMigrated { to: None } => "旧卡已迁移".into(),
            Refusal::OldNotUsable => "旧卡已锁定或状态未知".into(),
            Refusal::OldBoundToOther { new_card } => {
                format!("旧卡已冻结并绑定卡号 {new_card}：请插入该卡（或撤销本次转移）")
            }
            Refusal::OldNotCarrying { id: x } => format!("旧卡上没有转移 {}", id(x)),
            Refusal::NothingToResume => "此卡没有需要继续办理的业务".into(),
            Refusal::OldRefusesPin => "旧卡拒绝验证密码：已不能支付".into(),
            Refusal::PinWrong { left } => format!("密码错误，还可尝试 {left} 次"),
            Refusal::PinLastTry => "旧卡密码只剩最后一次尝试机会，输错将锁卡。如持卡人确认，请加 --force-last-try 重试".into(),
            Refusal::PinBlocked => "密码已锁定，请持卡人到经办机构解锁".into(),
            Refusal::PinNotChosen => "未设置新密码".into(),
            Refusal::EntryFinal { id: x, state } => {
                format!("转移 {} {}", id(x), journal_state(lang, *state))
            }
            Refusal::BeingCancelled { id: x } => format!(
                "转移 {} 正在撤销：请再次运行 `sscard activate cancel {}`",
                id(x),
                id(x)
            ),
            Refusal::FreezeUnfinished { id: x } => {
                format!("转移 {} 在冻结旧卡时中断：请插入旧卡继续", id(x))
            }
            Refusal::EntryLacksNewCard { id: x } => {
                format!("转移 {} 的日志记录中没有新卡卡号：请插入旧卡", id(x))
            }
            Refusal::CancelAfterCredit { id: x, new_card } => format!(
                "转移 {} 已转入卡号 {new_card}，不能撤销；已改为完成办理",
                id(x)
            ),
            Refusal::NothingToCancel { id: x } => {
                format!("旧卡未显示转移 {} 处于冻结状态：无需撤销", id(x))
            }
        },
    }
}
