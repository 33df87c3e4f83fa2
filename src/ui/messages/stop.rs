//! Why a flow stopped part-way ([`stop`]) and the card faults it names: what was
//! written, where the cards stand, and what the desk does next.

use super::{card, id, journal_state, key, Lang};
use crate::activation::core::{CardFault, Stop};

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
