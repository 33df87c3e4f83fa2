//! The desk's Chinese and English for everything the activation core says
//! (`activation::core::msg`): one exhaustive `match` per message type and language,
//! so a variant without a translation in both languages does not compile, and a test
//! renders every variant in both.
//!
//! English is what plain desks, scripts and the scripted-holder tests read; Chinese
//! is for the desk staff (`--lang zh`, or a `zh*` locale).

use crate::activation::core::{
    CardFault, JournalState, KeyRole, Msg, Note, Prompt, Purpose, Refusal, SscStatus, Step, Stop,
    TransferId, Which,
};
use crate::activation::desk::{self, Ask, Service, Want};
use crate::card::CardKind;
pub use crate::ui::i18n::Lang;

mod driver;
pub use driver::{desk_refusal, internal, layout_record, setup, wait_timeout};
mod national;
pub use national::{national_error, national_out_info, pin_prompt};

/// `1234.56` from fen.
fn yuan(fen: u32) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// A citizen ID with its middle hidden (first 6 and last 4 shown).
fn masked(id: &str) -> String {
    let c: Vec<char> = id.chars().collect();
    if c.len() <= 10 {
        return "*".repeat(c.len());
    }
    let mut out: String = c[..6].iter().collect();
    out.push_str(&"*".repeat(c.len() - 10));
    out.extend(&c[c.len() - 4..]);
    out
}

fn card(lang: Lang, w: Which) -> &'static str {
    match (lang, w) {
        (Lang::En, Which::Old) => "the old city medical card",
        (Lang::En, Which::New) => "the new social security card",
        (Lang::Zh, Which::Old) => "旧医保卡",
        (Lang::Zh, Which::New) => "新社保卡",
    }
}

fn key(lang: Lang, k: KeyRole) -> &'static str {
    match (lang, k) {
        (Lang::En, KeyRole::Write) => "medical write key",
        (Lang::En, KeyRole::PinReload) => "PIN reload key",
        (Lang::Zh, KeyRole::Write) => "医疗写密钥",
        (Lang::Zh, KeyRole::PinReload) => "密码重装密钥",
    }
}

fn ssc_status(lang: Lang, s: SscStatus) -> String {
    match (lang, s) {
        (Lang::En, SscStatus::NotActivated) => "not activated".into(),
        (Lang::En, SscStatus::Active) => "active".into(),
        (Lang::En, SscStatus::Blocked) => "blocked".into(),
        (Lang::En, SscStatus::Other(c)) => format!("unknown ({c:02X})"),
        (Lang::Zh, SscStatus::NotActivated) => "未启用".into(),
        (Lang::Zh, SscStatus::Active) => "已启用".into(),
        (Lang::Zh, SscStatus::Blocked) => "已锁定".into(),
        (Lang::Zh, SscStatus::Other(c)) => format!("未知（{c:02X}）"),
    }
}

/// Where a transfer stands, for a desk worker: the journal's state names (`FROZEN`)
/// are for technicians and scripts (English keeps them).
pub fn journal_state(lang: Lang, st: JournalState) -> &'static str {
    use JournalState as J;
    match lang {
        Lang::En => st.as_str(),
        Lang::Zh => match st {
            J::Freezing => "正在冻结旧卡",
            J::Frozen => "旧卡已冻结",
            J::Crediting => "正在转入新卡",
            J::Credited => "已转入新卡",
            J::Complete => "已完成",
            J::Voiding => "正在作废",
            J::Voided => "已在新卡上作废",
            J::Cancelling => "正在撤销",
            J::Cancelled => "已撤销",
        },
    }
}

fn id(x: &TransferId) -> String {
    x.hex()
}

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
fn holder_line(lang: Lang, name: &str, id_masked: &str, card: &str) -> String {
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
        },
    }
}

/// A question to the holder or operator.
pub fn prompt(lang: Lang, p: Prompt) -> String {
    match lang {
        Lang::En => match p {
            Prompt::OldPin {
                tries_left: Some(n),
            } => {
                format!("Holder: enter the old card's PIN ({n} tries left): ")
            }
            Prompt::OldPin { tries_left: None } => "Holder: enter the old card's PIN: ".into(),
            Prompt::PinForNewCard => {
                "Holder: enter the old card's PIN for the new card (twice): ".into()
            }
            Prompt::ChooseNewPin => {
                "Holder: choose the new card's PIN, 6 digits, not 123456 (twice): ".into()
            }
            Prompt::NewCardPin => "Holder: enter the card's PIN: ".into(),
            Prompt::CitizenId => {
                "Operator: type the holder's citizen ID from the identity document: ".into()
            }
        },
        Lang::Zh => match p {
            Prompt::OldPin {
                tries_left: Some(n),
            } => {
                format!("请持卡人输入旧卡密码（还可尝试 {n} 次）：")
            }
            Prompt::OldPin { tries_left: None } => "请持卡人输入旧卡密码：".into(),
            Prompt::PinForNewCard => "请持卡人输入旧卡密码，用于新卡（输入两次）：".into(),
            Prompt::ChooseNewPin => {
                "请持卡人设置新卡密码，6 位数字，不能为 123456（输入两次）：".into()
            }
            Prompt::NewCardPin => "请持卡人输入本卡密码：".into(),
            Prompt::CitizenId => "请操作员按身份证件输入持卡人身份证号：".into(),
        },
    }
}

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

fn fault(lang: Lang, f: CardFault) -> String {
    match lang {
        Lang::En => match f {
            CardFault::Removed => "the card left the reader or was reset".into(),
            CardFault::Absent => "no card came in time".into(),
            CardFault::ReaderInUse => "another process is using the reader".into(),
            CardFault::Reader => "the reader or the PC/SC service failed".into(),
            CardFault::Status(sw) => format!("the card answered {sw:04X}"),
        },
        Lang::Zh => match f {
            CardFault::Removed => "卡片被拔出或复位".into(),
            CardFault::Absent => "未按时插卡".into(),
            CardFault::ReaderInUse => "读卡器正被其他程序使用".into(),
            CardFault::Reader => "读卡器或 PC/SC 服务故障".into(),
            CardFault::Status(sw) => format!("卡片返回 {sw:04X}"),
        },
    }
}

/// Why the flow stopped for safety.
pub fn stop(lang: Lang, s: &Stop) -> String {
    match lang {
        Lang::En => match s {
            Stop::WrongKey {
                which,
                key: k,
                tries_left,
            } => format!(
                "{} rejected this desk's {} ({tries_left} tries left on the card); stopped at once, not retried: check the key configuration",
                card(lang, *which),
                key(lang, *k)
            ),
            Stop::KeyBlocked { which, key: k } => format!(
                "the {} of {} is blocked; the card must go to the bureau",
                key(lang, *k),
                card(lang, *which)
            ),
            Stop::CardFault {
                which,
                fault: f,
                journal,
            } => match journal {
                Some((x, st)) => format!(
                    "{}: {}; transfer {} stands at {}: run `sscard activate resume` (or cancel)",
                    card(lang, *which),
                    fault(lang, *f),
                    id(x),
                    st.as_str()
                ),
                None => format!(
                    "{}: {}; nothing was written",
                    card(lang, *which),
                    fault(lang, *f)
                ),
            },
            Stop::ReadBack { which } => format!(
                "{} does not read back what was written; keep both cards and call the bureau",
                card(lang, *which)
            ),
            Stop::MissingField { role } => {
                format!("the card lacks the field '{role}' the activation needs")
            }
            Stop::FrozenWithoutTransfer => "the old card is frozen without a complete transfer: the balance stays frozen on it, not lost; the bureau resolves it".into(),
            Stop::FloorOtherOldCard { old_card } => format!(
                "the new card bars transfers from another old card ({old_card}); the balance stays frozen on the old card; the bureau resolves it"
            ),
            Stop::Inconsistent { id: x } => format!(
                "the cards and the journal disagree about transfer {}; keep both cards and call the bureau",
                id(x)
            ),
            Stop::NewCardUnavailable => "the new card the transfer is bound to is lost or broken: the balance stays frozen on the old card, not lost; the bureau resolves it".into(),
            Stop::JournalFailed => "the journal could not be written; nothing further was written to a card".into(),
            Stop::DriverMisuse => "internal error: the desk answered out of order; nothing further was written".into(),
            Stop::CounterExhausted => "the old card's transfer counter is exhausted; the bureau resolves it".into(),
        },
        Lang::Zh => match s {
            Stop::WrongKey {
                which,
                key: k,
                tries_left,
            } => format!(
                "{}拒绝了本终端的{}（卡上还剩 {tries_left} 次）；已立即停止，不会重试：请检查密钥配置",
                card(lang, *which),
                key(lang, *k)
            ),
            Stop::KeyBlocked { which, key: k } => {
                format!("{}的{}已锁定，请将卡送经办机构", card(lang, *which), key(lang, *k))
            }
            Stop::CardFault {
                which,
                fault: f,
                journal,
            } => match journal {
                Some((x, st)) => format!(
                    "{}：{}；转移 {} 目前{}：请运行 `sscard activate resume`（或撤销）",
                    card(lang, *which),
                    fault(lang, *f),
                    id(x),
                    journal_state(lang, *st)
                ),
                None => format!("{}：{}；未写入任何数据", card(lang, *which), fault(lang, *f)),
            },
            Stop::ReadBack { which } => format!(
                "{}读回的数据与写入不符；请保留两张卡并联系经办机构",
                card(lang, *which)
            ),
            Stop::MissingField { .. } => "卡片缺少启用所需的数据项（名称见技术信息）".into(),
            Stop::FrozenWithoutTransfer => "旧卡已冻结但转移信息不完整：余额仍冻结在旧卡上，不会丢失；请经办机构处理".into(),
            Stop::FloorOtherOldCard { old_card } => format!(
                "新卡已禁止来自另一张旧卡（{old_card}）的转移；余额仍冻结在旧卡上；请经办机构处理"
            ),
            Stop::Inconsistent { id: x } => format!(
                "卡片与日志关于转移 {} 的记录不一致；请保留两张卡并联系经办机构",
                id(x)
            ),
            Stop::NewCardUnavailable => "本次转移绑定的新卡丢失或损坏：余额仍冻结在旧卡上，不会丢失；请经办机构处理".into(),
            Stop::JournalFailed => "日志无法写入；未再写卡".into(),
            Stop::DriverMisuse => "内部错误：终端应答顺序有误；未再写卡".into(),
            Stop::CounterExhausted => "旧卡的转移计数已用尽；请经办机构处理".into(),
        },
    }
}

fn want(lang: Lang, w: Want) -> &'static str {
    match w {
        Want::OldCard => card(lang, Which::Old),
        Want::NewCard => card(lang, Which::New),
    }
}

fn found(lang: Lang, kind: CardKind) -> &'static str {
    match (lang, kind) {
        (Lang::En, CardKind::Ssc) => "a social security card",
        (Lang::En, CardKind::City) => "a city medical card",
        (Lang::En, CardKind::Psam) => "a PSAM",
        (Lang::En, CardKind::Unknown) => "an unknown card",
        (Lang::Zh, CardKind::Ssc) => "一张社保卡",
        (Lang::Zh, CardKind::City) => "一张医保卡",
        (Lang::Zh, CardKind::Psam) => "一张 PSAM 卡",
        (Lang::Zh, CardKind::Unknown) => "一张无法识别的卡",
    }
}

/// A desk step (the core's steps plus the desk's own `Done`).
pub fn desk_step(lang: Lang, s: desk::Step) -> &'static str {
    use desk::Step as D;
    let core = match s {
        D::ReadNew => Step::CheckNew,
        D::ProveKey => Step::ProveKey,
        D::ReadOld => Step::ReadOld,
        D::PinVerified => Step::PinVerified,
        D::Freeze => Step::Freeze,
        D::Frozen => Step::Frozen,
        D::Credit => Step::Credit,
        D::Activate => Step::Activate,
        D::ReloadPin => Step::SetPin,
        D::FinishOld => Step::FinishOld,
        D::Void => Step::Void,
        D::Unfreeze => Step::Unfreeze,
        D::Done => {
            return match lang {
                Lang::En => "Done.",
                Lang::Zh => "完成。",
            }
        }
    };
    step(lang, core)
}

/// A message of the driver for the desk (cards in and out, the core's steps and
/// notes, pcscd going away and coming back).
pub fn desk(lang: Lang, m: &desk::Msg) -> String {
    use desk::Msg as D;
    match lang {
        Lang::En => match m {
            D::Insert(w, r) => format!("Insert {} into '{r}'.", want(lang, *w)),
            D::Remove(w, r) => format!("Remove {} from '{r}'.", want(lang, *w)),
            D::WrongCard { want: w, found: f } => format!(
                "This is not {}: the reader holds {}. Please swap the cards.",
                want(lang, *w),
                found(lang, *f)
            ),
            D::Holder {
                name,
                id_masked,
                card,
            } => holder_line(lang, name, id_masked, card),
            D::Step(s) => desk_step(lang, *s).to_string(),
            D::PinWrong { left } => format!("Wrong PIN: {left} tries left."),
            D::Service(Service::Lost) => {
                "The card service (pcscd) stopped; waiting for it to come back".into()
            }
            D::Service(Service::Back) => "The card service (pcscd) is back".into(),
            D::Note(n) => note(lang, n),
        },
        Lang::Zh => match m {
            D::Insert(w, r) => format!("请将{}插入读卡器“{r}”。", want(lang, *w)),
            D::Remove(w, r) => format!("请从读卡器“{r}”取出{}。", want(lang, *w)),
            D::WrongCard { want: w, found: f } => format!(
                "这不是{}：读卡器里是{}。请换卡。",
                want(lang, *w),
                found(lang, *f)
            ),
            D::Holder {
                name,
                id_masked,
                card,
            } => holder_line(lang, name, id_masked, card),
            D::Step(s) => desk_step(lang, *s).to_string(),
            D::PinWrong { left } => format!("密码错误，还可尝试 {left} 次。"),
            D::Service(Service::Lost) => "读卡服务（pcscd）已停止，正在等待其恢复".into(),
            D::Service(Service::Back) => "读卡服务（pcscd）已恢复".into(),
            D::Note(n) => note(lang, n),
        },
    }
}

/// What a PIN entry asks.
pub fn ask(lang: Lang, a: Ask) -> String {
    match (lang, a) {
        (_, Ask::Prompt(p)) => prompt(lang, p),
        (Lang::En, Ask::Again) => "Enter the PIN again: ".into(),
        (Lang::Zh, Ask::Again) => "请再次输入密码：".into(),
    }
}

#[cfg(test)]
pub(crate) mod tests;

// ---- Issue 15 §2 (branch i15): an activation stopped by a signal. Kept apart so
// ---- the other message work merges around it.

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
        /// The same activation again (the card's status tells whether it took).
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
