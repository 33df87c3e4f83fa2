//! Chinese and English for what the national interface tells a desk system: the
//! meaning of each return code (the `pOutInfo` of a failed call, in
//! `libsscard.so` and in `sscard serve`'s national style) and the prompts of the
//! desk's PIN device.
//!
//! Why here and not beside the codes (`national::error`): every message to people is
//! a typed value rendered in one place, one exhaustive `match` per language, so a
//! code without a text in both languages does not compile (as the activation
//! messages of the parent module). The national module keeps only the codes and the
//! technician's English detail.

use super::Lang;
use crate::national::pin::PinPrompt;
use crate::national::NationalError;

/// What a national return code means, for a desk's screen.
pub fn national_error(lang: Lang, e: NationalError) -> String {
    use NationalError as N;
    match lang {
        Lang::Zh => match e {
            N::WrongCard => "卡类型不符或不支持的读卡方式".into(),
            N::NoCard => "未插卡".into(),
            N::NotPowered => "卡未上电".into(),
            N::NoAnswer => "卡片无响应".into(),
            N::LoadFailure => "读卡库配置错误".into(),
            N::Reader => "连接读卡器失败".into(),
            N::Unsupported => "不支持的操作".into(),
            N::BadParameter => "参数错误".into(),
            N::InternalAuth => "内部认证失败".into(),
            N::InvalidData => "卡内数据无效".into(),
            N::HsmMismatch => "内部认证结果与加密机不一致".into(),
            N::PinCancelled => "取消输入密码".into(),
            N::PinLength => "密码长度错误".into(),
            N::PinEntriesDiffer => "两次输入的新密码不一致".into(),
            N::InitialPin => "卡片为初始密码，不能交易".into(),
            N::InitialPinChosen => "新密码不能为初始密码".into(),
            N::WrongPin { tries_left } => format!("密码错误，还可尝试{tries_left}次"),
            N::PinBlocked => "密码已锁".into(),
            N::NoPsam => "无PSAM卡".into(),
            N::PsamNoAlgorithm => "PSAM卡不支持该算法".into(),
            N::PsamNoKey => "PSAM卡无此密钥".into(),
            N::NoHsmNeeded => "此卡无需加密机".into(),
            N::AlreadyActive => "此卡医保功能已启用".into(),
            N::Expired => "此卡已过有效期，请到经办机构换卡".into(),
            N::UnfinishedTransfer => "此卡有未完成的转移，请先在柜台继续或撤销".into(),
            N::CardBlocked => "此卡医保功能已锁定或状态未知".into(),
            N::Refused => "启用规则拒绝，卡片未写入".into(),
            N::Interrupted => {
                "启用中断，已记入日志，请在柜台将此卡插入后用 sscard activate resume 加日志号完成"
                    .into()
            }
            N::Journal => "启用日志无法写入".into(),
            N::Status(sw) => format!("卡片返回状态字{sw:04X}"),
        },
        Lang::En => match e {
            N::WrongCard => "wrong card type or unsupported iType".into(),
            N::NoCard => "no card".into(),
            N::NotPowered => "the card is not powered".into(),
            N::NoAnswer => "the card does not answer".into(),
            N::LoadFailure => "the library's configuration is unusable".into(),
            N::Reader => "reader connection failed".into(),
            N::Unsupported => "not supported".into(),
            N::BadParameter => "bad parameter".into(),
            N::InternalAuth => "internal authentication failed".into(),
            N::InvalidData => "invalid card data".into(),
            N::HsmMismatch => "the card's internal authentication differs from the HSM's".into(),
            N::PinCancelled => "PIN entry cancelled".into(),
            N::PinLength => "a PIN is 6 digits".into(),
            N::PinEntriesDiffer => "the two entries of the new PIN differ".into(),
            N::InitialPin => "the card is on its initial PIN and cannot transact".into(),
            N::InitialPinChosen => "the initial PIN cannot be chosen as the new PIN".into(),
            N::WrongPin { tries_left } => format!("wrong PIN, {tries_left} tries left"),
            N::PinBlocked => "PIN blocked".into(),
            N::NoPsam => "no PSAM".into(),
            N::PsamNoAlgorithm => "the PSAM lacks the algorithm".into(),
            N::PsamNoKey => "the PSAM lacks the key".into(),
            N::NoHsmNeeded => "this card needs no HSM".into(),
            N::AlreadyActive => "the card's medical function is already active".into(),
            N::Expired => "the card has expired: replace it at the bureau".into(),
            N::UnfinishedTransfer => {
                "the card carries an unfinished transfer: resume or cancel it at a desk first"
                    .into()
            }
            N::CardBlocked => "the card's medical function is blocked or its status unknown".into(),
            N::Refused => "refused by an activation rule; nothing was written".into(),
            N::Interrupted => {
                "the activation was interrupted and is in the journal: finish it at the desk \
                 with the card inserted and sscard activate resume ID (the journal id)"
                    .into()
            }
            N::Journal => "the activation journal cannot be written".into(),
            N::Status(sw) => format!("the card answered status {sw:04X}"),
        },
    }
}

/// `pOutInfo` of a failed national call: the code's meaning in Chinese, then English
/// (`未插卡 / no card`); an interrupted activation adds its journal transfer id.
pub fn national_out_info(e: NationalError, transfer: Option<&str>) -> String {
    let zh = national_error(Lang::Zh, e);
    let en = national_error(Lang::En, e);
    match transfer {
        Some(id) => format!("{zh}（日志 {id}） / {en} (journal {id})"),
        None => format!("{zh} / {en}"),
    }
}

/// The prompt the desk's PIN device shows (both languages: the holder reads it).
pub fn pin_prompt(p: PinPrompt) -> &'static str {
    match p {
        PinPrompt::Verify => "请输入密码 / PIN: ",
        PinPrompt::Old => "请输入原密码 / current PIN: ",
        PinPrompt::New => "请输入新密码 / new PIN: ",
        PinPrompt::NewAgain => "请再次输入新密码 / new PIN again: ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_languages_and_they_differ() {
        let all = [
            NationalError::WrongCard,
            NationalError::NoCard,
            NationalError::AlreadyActive,
            NationalError::Expired,
            NationalError::UnfinishedTransfer,
            NationalError::CardBlocked,
            NationalError::Refused,
            NationalError::Interrupted,
            NationalError::Journal,
            NationalError::WrongPin { tries_left: 2 },
            NationalError::Status(0x6982),
        ];
        for e in all {
            let (zh, en) = (national_error(Lang::Zh, e), national_error(Lang::En, e));
            assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{e:?}");
            assert!(!zh.is_ascii(), "{e:?}: {zh}");
        }
        assert_eq!(
            national_out_info(NationalError::NoCard, None),
            "未插卡 / no card"
        );
        let t = national_out_info(NationalError::Interrupted, Some("AB12"));
        assert!(
            t.contains("日志 AB12") && t.contains("(journal AB12)"),
            "{t}"
        );
        assert!(pin_prompt(PinPrompt::Verify).contains("PIN"));
    }
}
