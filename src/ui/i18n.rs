//! The desk's languages and its fixed screen texts.
//!
//! Why it is shaped like this: everything the activation says (its core's steps,
//! notes, prompts, refusals and safety stops; the driver's refusals, timeouts and
//! setup problems) is data, rendered by [`crate::ui::messages`] with one exhaustive
//! `match` per language; the advice for a failure is [`crate::ui::advice`]. This
//! module holds only the language choice and the screens' own labels, also as one
//! `match`. No English sentence is translated back from text. Technician output
//! (the APDU trace, JSON, `config check`, the "details" line) stays English.

use crate::activation::desk::Want;

/// A desk language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 中文 (简体).
    Zh,
    /// English.
    En,
}

impl Lang {
    /// The language the environment asks for: the first non-empty of `LC_ALL`,
    /// `LC_MESSAGES`, `LANG` (POSIX order) decides; `zh*` means Chinese, anything
    /// else (or nothing) English.
    ///
    /// Except where Chinese cannot be shown (issue 15 §7): the Linux text console
    /// (`TERM=linux`) has no CJK glyphs and would draw boxes, and a `zh` locale with a
    /// non-UTF-8 codeset (`zh_CN.GBK`, `.GB18030`, `.GB2312`, `zh_TW.BIG5`) would get
    /// UTF-8 bytes it shows as garbage; both fall back to English. An explicit
    /// `--lang zh` or `language = "zh"` still wins (a console with a CJK frame
    /// buffer terminal, fbterm, can show it).
    pub fn from_env() -> Lang {
        Lang::from_vars(|k| std::env::var(k).ok())
    }

    /// [`Lang::from_env`] over any variable lookup (testable).
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Some(v) = get(var).filter(|v| !v.is_empty()) {
                let v = v.to_ascii_lowercase();
                let codeset = v
                    .split_once('.')
                    .map(|(_, c)| c.split('@').next().unwrap_or(c));
                let shows_chinese = get("TERM").as_deref() != Some("linux")
                    && codeset.is_none_or(|c| c.replace('-', "") == "utf8");
                return if v.starts_with("zh") && shows_chinese {
                    Lang::Zh
                } else {
                    Lang::En
                };
            }
        }
        Lang::En
    }

    /// `en` or `zh`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// One of two texts.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// Fixed texts of the desk screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Text {
    FlowPharmacy,
    FlowWindow,
    FlowFirstUse,
    FlowResume,
    FlowCancel,
    Terminal,
    Operator,
    Holder,
    CitizenId,
    OldCard,
    NewCard,
    PinPrompt,
    PinAgain,
    PinFormat,
    PinsDiffer,
    LastTryQuestion,
    LastTryDeclined,
    LinePrompt,
    Complete,
    Cancelled,
    HandBack,
    OldFrozen,
    OldMigrated,
    Flow,
    Amount,
    Yuan,
    TransferId,
    Time,
    Stopped,
    Details,
    WaitingService,
    ServiceBack,
    CardPulledUnknown,
    CardReset,
    BadContact,
    ReaderBusy,
    ServiceDown,
    ReaderGone,
    NoCardInTime,
    ErrorPrefix,
    HintPrefix,
    OperatorUnset,
    Clerk,
    Technician,
}

impl Text {
    /// Every text (for the completeness test).
    pub const ALL: [Text; 44] = [
        Text::FlowPharmacy,
        Text::FlowWindow,
        Text::FlowFirstUse,
        Text::FlowResume,
        Text::FlowCancel,
        Text::Terminal,
        Text::Operator,
        Text::Holder,
        Text::CitizenId,
        Text::OldCard,
        Text::NewCard,
        Text::PinPrompt,
        Text::PinAgain,
        Text::PinFormat,
        Text::PinsDiffer,
        Text::LastTryQuestion,
        Text::LastTryDeclined,
        Text::LinePrompt,
        Text::Complete,
        Text::Cancelled,
        Text::HandBack,
        Text::OldFrozen,
        Text::OldMigrated,
        Text::Flow,
        Text::Amount,
        Text::Yuan,
        Text::TransferId,
        Text::Time,
        Text::Stopped,
        Text::Details,
        Text::WaitingService,
        Text::ServiceBack,
        Text::CardPulledUnknown,
        Text::CardReset,
        Text::BadContact,
        Text::ReaderBusy,
        Text::ServiceDown,
        Text::ReaderGone,
        Text::NoCardInTime,
        Text::ErrorPrefix,
        Text::HintPrefix,
        Text::OperatorUnset,
        Text::Clerk,
        Text::Technician,
    ];

    /// The text in `lang`.
    pub fn get(self, lang: Lang) -> &'static str {
        let (en, zh) = match self {
            Text::FlowPharmacy => (
                "Pharmacy activation: old medical card to new social security card",
                "药店激活：旧医保卡 → 新社保卡",
            ),
            Text::FlowWindow => ("Bureau window activation", "经办窗口激活"),
            Text::FlowFirstUse => ("First use at the hospital", "医院首次使用激活"),
            Text::FlowResume => ("Continue an unfinished transfer", "继续未完成的转移"),
            Text::FlowCancel => ("Cancel a transfer", "撤销转移"),
            Text::Terminal => ("terminal", "终端"),
            Text::Operator => ("operator", "操作员"),
            Text::Holder => ("Holder", "持卡人"),
            Text::CitizenId => ("Citizen ID", "身份证号"),
            Text::OldCard => ("Old card", "旧卡"),
            Text::NewCard => ("New card", "新卡"),
            Text::PinPrompt => ("PIN: ", "密码："),
            Text::PinAgain => ("PIN again: ", "再次输入密码："),
            Text::PinFormat => (
                "The PIN is 6 digits. Ask the holder to enter it again.",
                "密码为 6 位数字，请持卡人重新输入。",
            ),
            Text::PinsDiffer => (
                "The two PINs differ. Ask the holder to enter it twice again.",
                "两次输入的密码不一致，请持卡人重新输入两次。",
            ),
            Text::LastTryQuestion => (
                "Only one PIN try is left on the old card; a wrong PIN blocks it. Is the holder sure of the PIN? [y/N] ",
                "旧卡密码只剩最后一次机会，输错将锁定。持卡人确定密码吗？[y/N] ",
            ),
            Text::LastTryDeclined => (
                "The last PIN try was not used. The holder can have the PIN reset at the bureau.",
                "未使用最后一次密码机会。持卡人可到社保经办机构重置密码。",
            ),
            Text::LinePrompt => ("> ", "> "),
            Text::Complete => ("Activation complete", "办理完成"),
            Text::Cancelled => ("Transfer cancelled", "转移已撤销"),
            Text::HandBack => (
                "Give the cards and the receipt back to the holder.",
                "请将卡片和回执交还持卡人。",
            ),
            Text::OldFrozen => ("(frozen; cannot pay)", "（已冻结，不能再支付）"),
            Text::OldMigrated => ("(migrated)", "（已迁移）"),
            Text::Flow => ("Service", "业务"),
            Text::Amount => ("Amount moved", "转移金额"),
            Text::Yuan => ("yuan", "元"),
            Text::TransferId => ("Transfer id", "流水号"),
            Text::Time => ("Time", "时间"),
            Text::Stopped => ("Stopped", "已停止"),
            Text::Details => ("details", "技术信息"),
            Text::WaitingService => (
                "Waiting for the card service and the readers",
                "正在等待读卡服务和读卡器",
            ),
            Text::ServiceBack => (
                "The card service is back; the activation continues.",
                "读卡服务已恢复，办理继续。",
            ),
            Text::CardPulledUnknown => (
                "The card was taken out too early. Put it back and leave it until the screen says to remove it.",
                "卡片被过早取出。请放回读卡器，屏幕提示取出前不要拔卡。",
            ),
            Text::CardReset => (
                "Another program reset the card. Close other card programs; the activation continues.",
                "其他程序复位了卡片。请关闭其他读卡程序，办理将继续。",
            ),
            Text::BadContact => (
                "The card did not answer properly. Take it out, check that the chip is clean and faces the right way, and put it back.",
                "卡片应答异常。请取出卡片，确认芯片清洁、方向正确后重新插入。",
            ),
            Text::ReaderBusy => (
                "Another program is using the reader. Close it; the activation continues.",
                "读卡器正被其他程序占用，请关闭该程序，办理将继续。",
            ),
            Text::ServiceDown => (
                "The card service (pcscd) stopped. Ask the technician to start it: systemctl start pcscd.",
                "读卡服务（pcscd）已停止。请技术人员启动：systemctl start pcscd。",
            ),
            Text::ReaderGone => (
                "The card reader is not connected. Plug it back in.",
                "读卡器未连接，请重新插好读卡器。",
            ),
            Text::NoCardInTime => ("No card came in time.", "等待插卡超时。"),
            Text::ErrorPrefix => ("error", "错误"),
            Text::HintPrefix => ("hint", "提示"),
            Text::OperatorUnset => ("operator not set", "操作员未设置"),
            Text::Clerk => ("Clerk", "操作员"),
            Text::Technician => ("Technician", "技术人员"),
        };
        lang.pick(en, zh)
    }
}

/// `label` as a prefix: `details: ` in English, `技术信息：` in Chinese.
pub fn prefix(lang: Lang, label: Text) -> String {
    match lang {
        Lang::En => format!("{}: ", label.get(lang)),
        Lang::Zh => format!("{}：", label.get(lang)),
    }
}

/// The name of a card kind a flow wants (`the old city medical card`).
pub fn card_name(lang: Lang, want: Want) -> &'static str {
    match want {
        Want::OldCard => lang.pick("the old city medical card", "旧医保卡"),
        Want::NewCard => lang.pick("the new social security card", "新社保卡"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_has_both_languages() {
        for t in Text::ALL {
            let (en, zh) = (t.get(Lang::En), t.get(Lang::Zh));
            assert!(!en.is_empty() && !zh.is_empty(), "{t:?}");
            if t != Text::LinePrompt {
                assert_ne!(en, zh, "{t:?}");
                assert!(zh.chars().any(|c| c as u32 > 0x2E80), "{t:?}: {zh}");
            }
        }
    }

    #[test]
    fn language_from_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Lang::from_vars(env(&[])), Lang::En);
        assert_eq!(Lang::from_vars(env(&[("LANG", "zh_CN.UTF-8")])), Lang::Zh);
        assert_eq!(Lang::from_vars(env(&[("LANG", "zh_TW.UTF-8")])), Lang::Zh);
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "C")])),
            Lang::En
        );
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "zh_CN.UTF-8")])),
            Lang::Zh
        );
        assert_eq!(
            Lang::from_vars(env(&[("LANG", "en_US.UTF-8"), ("LC_ALL", "")])),
            Lang::En
        );
        // Issue 15 §7: where Chinese cannot be shown, English.
        let zh = |pairs| Lang::from_vars(env(pairs));
        assert_eq!(zh(&[("LANG", "zh_CN.UTF-8"), ("TERM", "linux")]), Lang::En);
        assert_eq!(
            zh(&[("LANG", "zh_CN.UTF-8"), ("TERM", "xterm-256color")]),
            Lang::Zh
        );
        assert_eq!(zh(&[("LANG", "zh_CN.utf8"), ("TERM", "fbterm")]), Lang::Zh);
        assert_eq!(zh(&[("LANG", "zh_CN")]), Lang::Zh);
        assert_eq!(zh(&[("LANG", "zh_CN.GBK")]), Lang::En);
        assert_eq!(zh(&[("LANG", "zh_CN.GB18030")]), Lang::En);
        assert_eq!(zh(&[("LC_ALL", "zh_TW.Big5")]), Lang::En);
        assert_eq!(zh(&[("LANG", "zh_CN.UTF-8@stroke")]), Lang::Zh);
    }
}
