//! Chinese and English for everything a desk worker reads.
//!
//! Why it is shaped like this:
//! - Everything the activation says (its core's steps, notes, prompts, refusals and
//!   safety stops, and the driver's insert/remove/wrong-card/pcscd messages) is data,
//!   rendered by [`crate::ui::messages`] with one exhaustive `match` per language.
//! - This module holds the desk's fixed screen texts and the advice for errors of the
//!   transport, card, SAM and journal layers, also as `match`es. A few texts still
//!   arrive as English sentences (the driver's text refusals/timeouts and the setup
//!   and PIN-input errors of the CLI): a small phrase table of English patterns
//!   translates those; a sentence not in it is shown in English rather than hidden.
//!   Technician output (the APDU trace, JSON, `config check`) stays English.

use crate::activation::core::Refusal;
use crate::activation::desk::Want;
use crate::apdu::TransportError;
use crate::card::CardError;
use crate::error::{Error, ExitCode};
use crate::sam::SamError;
use crate::ui::messages;

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
}

impl Text {
    /// Every text (for the completeness test).
    pub const ALL: [Text; 41] = [
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

/// Sentences that reach the desk as English text, as patterns (`{}` = a value) with
/// their Chinese (`{0}`, `{1}` = the values in order). First match wins: keep the
/// more specific pattern first.
const PHRASES: &[(&str, &str)] = &[
    // Driver-level refusals, timeouts and internal stops still carried as text by
    // `ActivationError::{Refused, Timeout, Inconsistent}` (the core's own refusals and
    // stops are typed: `ui::messages`).
    ("no journal entry {}", "交易日志中没有记录 {0}"),
    (
        "'{}' is not a transfer id (32 hex digits)",
        "“{0}”不是转移流水号（32 位十六进制数字）",
    ),
    (
        "no card was inserted into '{}'",
        "读卡器“{0}”中一直没有插入卡片",
    ),
    (
        "the card was not removed from '{}'",
        "卡片一直没有从读卡器“{0}”取出",
    ),
    ("the PIN for the new card is missing", "缺少新卡的密码"),
    ("log record: {}", "交易记录：{0}"),
    ("no random numbers: {}", "无法取得随机数：{0}"),
    // Setup and input (cli).
    (
        "activation needs card keys: give --sam-reader READER (the PSAM) or --keys FILE",
        "缺少卡片密钥：请配置 PSAM 读卡器（--sam-reader 或配置文件 readers.psam）或密钥文件（--keys）",
    ),
    (
        "no terminal number: the SAM has none; give --terminal DIGITS",
        "没有终端号：PSAM 中没有终端号，请用 --terminal 或配置文件 terminal 指定",
    ),
    (
        "terminal number '{}' is not 12 digits",
        "终端号“{0}”不是 12 位数字",
    ),
    ("the two PINs differ", "两次输入的密码不一致"),
    (
        "no terminal to ask for the PIN: use --pin-file FILE or --pin-file - (stdin)",
        "没有可输入密码的终端：请使用 --pin-file 文件 或 --pin-file -（标准输入）",
    ),
    ("the PIN input has no line {}", "密码输入缺少第 {0} 行"),
    ("PIN line {}: {}", "密码第 {0} 行：{1}"),
    ("PIN file {}: {}", "密码文件 {0}：{1}"),
    ("a PIN is exactly 6 digits 0-9", "密码必须是 6 位数字"),
];

/// Matches `text` against `pattern`, where each `{}` captures any (possibly empty)
/// text; returns the captures.
fn captures<'t>(pattern: &str, text: &'t str) -> Option<Vec<&'t str>> {
    let pieces: Vec<&str> = pattern.split("{}").collect();
    let (first, rest_pieces) = pieces.split_first()?;
    let mut rest = text.strip_prefix(first)?;
    let mut caps = Vec::new();
    let n = rest_pieces.len();
    for (i, piece) in rest_pieces.iter().enumerate() {
        if i + 1 == n {
            caps.push(rest.strip_suffix(piece)?);
            rest = "";
        } else {
            let at = rest.find(piece)?;
            caps.push(&rest[..at]);
            rest = &rest[at + piece.len()..];
        }
    }
    rest.is_empty().then_some(caps)
}

/// The Chinese of an English sentence from the phrase table, if it is there.
pub fn known_phrase(text: &str) -> Option<String> {
    for (pattern, zh) in PHRASES {
        if let Some(caps) = captures(pattern, text) {
            let mut out = (*zh).to_string();
            for (i, c) in caps.iter().enumerate() {
                out = out.replace(&format!("{{{i}}}"), c);
            }
            return Some(out);
        }
    }
    None
}

/// An English sentence (note, prompt, refusal reason, error message) in `lang`;
/// unknown sentences stay English.
pub fn phrase(lang: Lang, text: &str) -> String {
    match lang {
        Lang::En => text.to_string(),
        Lang::Zh => known_phrase(text).unwrap_or_else(|| text.to_string()),
    }
}

/// What the desk is told when something stops the flow: what happened and what to
/// do, in the desk language; the technical message stays English for technicians.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// What happened, in one sentence.
    pub title: String,
    /// What to do next.
    pub action: String,
    /// The tool's own message (English), for a technician.
    pub detail: String,
}

fn advice(lang: Lang, title: (&str, &str), action: (&str, &str), detail: String) -> Advice {
    Advice {
        title: lang.pick(title.0, title.1).to_string(),
        action: lang.pick(action.0, action.1).to_string(),
        detail,
    }
}

const TECHNICIAN: (&str, &str) = (
    "Note the details below and call the technician.",
    "请记下下面的技术信息并联系技术人员。",
);
const RESUME: (&str, &str) = (
    "Nothing is lost: the journal keeps where the transfer stands. Run `sscard activate resume` with the old card to continue.",
    "资金不会丢失：交易日志记录了转移进度。插入旧卡运行 `sscard activate resume` 即可继续。",
);

/// Advice for a transport failure.
pub fn advise_transport(lang: Lang, t: &TransportError) -> Advice {
    let d = t.to_string();
    let subject = |s: &str| s.to_string();
    match t {
        TransportError::NoService(_) => advice(
            lang,
            ("The card service (pcscd) is not running.", "读卡服务（pcscd）没有运行。"),
            (
                "Ask the technician to start it: systemctl start pcscd (see hardware.md).",
                "请技术人员启动：systemctl start pcscd（见 hardware.md）。",
            ),
            d,
        ),
        TransportError::UnknownReader(r) => Advice {
            title: match lang {
                Lang::En => format!("No reader matches '{}'.", subject(r)),
                Lang::Zh => format!("找不到读卡器“{r}”。"),
            },
            action: lang
                .pick(
                    "Check the reader's cable; `sscard readers` lists the names; fix the reader names in the configuration.",
                    "请检查读卡器连线；用 `sscard readers` 查看名称，并改正配置文件中的读卡器名称。",
                )
                .to_string(),
            detail: d,
        },
        TransportError::AmbiguousReader { text, .. } => Advice {
            title: match lang {
                Lang::En => format!("'{}' names more than one reader.", subject(text)),
                Lang::Zh => format!("“{text}”对应多个读卡器。"),
            },
            action: lang
                .pick(
                    "Give more of the reader's name (`sscard readers` lists them) in the configuration or on the command line.",
                    "请在配置文件或命令行中写出更完整的读卡器名称（用 `sscard readers` 查看）。",
                )
                .to_string(),
            detail: d,
        },
        TransportError::NoReaders => advice(
            lang,
            ("No card reader is connected.", "没有连接读卡器。"),
            (
                "Plug the reader in and check it with `sscard readers --watch`.",
                "请插好读卡器，并用 `sscard readers --watch` 检查。",
            ),
            d,
        ),
        TransportError::NoCard(r) => Advice {
            title: match lang {
                Lang::En => format!("There is no card in '{r}'."),
                Lang::Zh => format!("读卡器“{r}”中没有卡片。"),
            },
            action: lang
                .pick("Insert the card and try again.", "请插入卡片后重试。")
                .to_string(),
            detail: d,
        },
        TransportError::CardRemoved => advice(
            lang,
            (
                "The card was taken out too early (or lost power).",
                "卡片被过早取出（或断电）。",
            ),
            RESUME,
            d,
        ),
        TransportError::CardReset => advice(
            lang,
            ("Another program reset the card.", "其他程序复位了卡片。"),
            RESUME,
            d,
        ),
        TransportError::ShortResponse(_) => advice(
            lang,
            (
                "The card stopped answering in the middle of a command.",
                "卡片在命令中途停止应答。",
            ),
            RESUME,
            d,
        ),
        TransportError::EndlessResponse(_) => advice(
            lang,
            ("The card answers endlessly; it may be faulty.", "卡片不断返回数据，可能已损坏。"),
            TECHNICIAN,
            d,
        ),
        TransportError::Command(_) => advice(
            lang,
            ("A card command could not be built.", "无法构造卡片命令。"),
            TECHNICIAN,
            d,
        ),
        TransportError::Busy => advice(
            lang,
            ("Another program is using the reader.", "读卡器正被其他程序占用。"),
            (
                "Close the other card program and try again.",
                "请关闭其他读卡程序后重试。",
            ),
            d,
        ),
        TransportError::Replay(_) => advice(
            lang,
            ("A recorded session did not match.", "回放记录与命令不符。"),
            TECHNICIAN,
            d,
        ),
        TransportError::Unsupported(_) => advice(
            lang,
            ("The reader cannot do this.", "读卡器不支持该操作。"),
            TECHNICIAN,
            d,
        ),
        TransportError::Pcsc(_) => advice(
            lang,
            ("The reader reported an error.", "读卡器报告错误。"),
            (
                "Take the card out and put it back. If it happens again, unplug and replug the reader.",
                "请取出卡片重新插入；如反复出现，请重新插拔读卡器。",
            ),
            d,
        ),
        TransportError::Io(_) => advice(
            lang,
            ("A file could not be read or written.", "文件读写失败。"),
            TECHNICIAN,
            d,
        ),
    }
}

/// Advice for a SAM failure.
pub fn advise_sam(lang: Lang, e: &SamError, detail: String) -> Advice {
    match e {
        SamError::Transport(t) => {
            let mut a = advise_transport(lang, t);
            a.title = format!("{} {}", lang.pick("PSAM reader:", "PSAM 读卡器："), a.title);
            a.detail = detail;
            a
        }
        SamError::KeyFile { .. } => advice(
            lang,
            ("The key file cannot be used.", "密钥文件不可用。"),
            (
                "The key file must exist and be readable by its owner only (chmod 600).",
                "密钥文件必须存在，且只有属主可读（chmod 600）。",
            ),
            detail,
        ),
        SamError::UnknownKey { .. } => advice(
            lang,
            (
                "The PSAM has no key for this card.",
                "PSAM 中没有这张卡所需的密钥。",
            ),
            (
                "Check that the PSAM belongs to this region and card type.",
                "请确认 PSAM 属于本地区、本卡种。",
            ),
            detail,
        ),
        SamError::PsamStatus { .. } | SamError::PsamData(_) => advice(
            lang,
            (
                "The PSAM refused or answered wrongly.",
                "PSAM 拒绝或应答异常。",
            ),
            (
                "Check the PSAM is seated in the PSAM slot, chip first; then call the technician.",
                "请确认 PSAM 已插好在 PSAM 卡座中，然后联系技术人员。",
            ),
            detail,
        ),
    }
}

/// Advice for a card failure.
pub fn advise_card(lang: Lang, e: &CardError) -> Advice {
    let d = e.to_string();
    match e {
        CardError::Transport(t) => advise_transport(lang, t),
        CardError::Status { .. } => advice(
            lang,
            ("The card refused a command.", "卡片拒绝了一条命令。"),
            (
                "Check it is the right card, take it out and try again; if it happens again, call the technician.",
                "请确认卡片无误，取出后重试；如反复出现，请联系技术人员。",
            ),
            d,
        ),
        CardError::InvalidData { .. } => advice(
            lang,
            ("The card holds malformed data.", "卡内数据格式错误。"),
            TECHNICIAN,
            d,
        ),
        CardError::Unknown(_) => advice(
            lang,
            ("This card is not one this terminal knows.", "本终端无法识别这张卡。"),
            (
                "Insert the holder's city medical card or social security card, chip first and facing up.",
                "请插入持卡人的医保卡或社保卡，芯片朝上、先插入。",
            ),
            d,
        ),
        CardError::AuthRefused { .. } => advice(
            lang,
            (
                "The card refused the terminal's key.",
                "卡片拒绝了终端的密钥认证。",
            ),
            (
                "Check that the PSAM or key file matches this region's cards; call the technician.",
                "请确认 PSAM 或密钥文件与本地区卡片匹配，并联系技术人员。",
            ),
            d,
        ),
        CardError::Sam { source, .. } => advise_sam(lang, source, d),
        CardError::NeedsKey(_) => advice(
            lang,
            ("Card keys are missing.", "缺少卡片密钥。"),
            (
                "Configure the PSAM reader (readers.psam) or a key file.",
                "请配置 PSAM 读卡器（readers.psam）或密钥文件。",
            ),
            d,
        ),
        CardError::Profile(_) => advice(
            lang,
            ("A card profile is wrong.", "卡片配置文件有误。"),
            TECHNICIAN,
            d,
        ),
    }
}

/// Advice for any error of the tool.
pub fn advise(lang: Lang, e: &Error) -> Advice {
    let d = e.to_string();
    match e {
        Error::Transport(t) => advise_transport(lang, t),
        Error::CardStatus { .. } => advice(
            lang,
            ("The card refused a command.", "卡片拒绝了一条命令。"),
            (
                "Check it is the right card, take it out and try again; if it happens again, call the technician.",
                "请确认卡片无误，取出后重试；如反复出现，请联系技术人员。",
            ),
            d,
        ),
        Error::InvalidData(m) => Advice {
            title: match lang {
                Lang::En => "Some data is malformed.".into(),
                Lang::Zh => format!("数据格式错误：{}", phrase(lang, m)),
            },
            action: lang
                .pick(
                    "Check what was typed or configured; for card data call the technician.",
                    "请检查录入或配置的内容；如是卡内数据，请联系技术人员。",
                )
                .to_string(),
            detail: d,
        },
        Error::UnknownCard(_) => advice(
            lang,
            ("This card is not one this terminal knows.", "本终端无法识别这张卡。"),
            (
                "Insert the holder's city medical card or social security card, chip first and facing up.",
                "请插入持卡人的医保卡或社保卡，芯片朝上、先插入。",
            ),
            d,
        ),
        Error::Timeout(m) => Advice {
            title: match lang {
                Lang::En => format!("Timed out: {m}."),
                Lang::Zh => format!("等待超时：{}。", phrase(lang, m)),
            },
            action: lang
                .pick(
                    "Start the activation again when the holder is ready.",
                    "持卡人准备好后请重新办理。",
                )
                .to_string(),
            detail: d,
        },
        Error::Io { path, .. } => Advice {
            title: match lang {
                Lang::En => format!("The file {path} cannot be read or written."),
                Lang::Zh => format!("无法读写文件 {path}。"),
            },
            action: lang
                .pick(
                    "Check the path and its permissions.",
                    "请检查文件路径和权限。",
                )
                .to_string(),
            detail: d,
        },
        Error::VirtualCard(_) => advice(
            lang,
            ("The virtual card failed.", "虚拟卡故障。"),
            TECHNICIAN,
            d,
        ),
        Error::Other { message, code } => other(lang, message, *code, d),
    }
}

fn other(lang: Lang, message: &str, code: ExitCode, d: String) -> Advice {
    let said = phrase(lang, message);
    let (title, action) = match code {
        ExitCode::Refused => {
            let reason = message.strip_prefix("refused: ").unwrap_or(message);
            return refused(lang, reason, d);
        }
        ExitCode::Keys => (
            ("The card keys cannot be used", "卡片密钥不可用"),
            (
                "Check the PSAM is in its slot (or the key file); call the technician.",
                "请确认 PSAM 已插好（或密钥文件可用），并联系技术人员。",
            ),
        ),
        ExitCode::Journal => (
            ("The journal cannot be written", "交易日志无法写入"),
            (
                "Nothing more was written to a card. Check the disk and the journal path, then run `sscard activate resume`.",
                "已停止写卡。请检查磁盘和日志路径，然后运行 `sscard activate resume`。",
            ),
        ),
        ExitCode::CardStatus => (
            ("Stopped for safety", "为安全起见已停止"),
            (
                "Do not retry on your own: keep both cards and call the technician.",
                "请勿自行重试：保留两张卡片并联系技术人员。",
            ),
        ),
        ExitCode::InvalidData => (
            ("Input problem", "输入有误"),
            (
                "Check what was typed or configured.",
                "请检查录入或配置的内容。",
            ),
        ),
        _ => (("Stopped", "已停止"), TECHNICIAN),
    };
    Advice {
        title: format!("{}: {said}", lang.pick(title.0, title.1)),
        action: lang.pick(action.0, action.1).to_string(),
        detail: d,
    }
}

/// Advice for a refusal of the protocol core, rendered from its variant.
fn refused_typed(lang: Lang, r: &Refusal, detail: String) -> Advice {
    let (en_action, zh_action) = match r {
        Refusal::PinLastTry => LAST_TRY,
        Refusal::PinWrong { .. }
        | Refusal::PinBlocked
        | Refusal::PinNotChosen
        | Refusal::OldRefusesPin => PIN_ACTION,
        _ => NOTHING_WRITTEN,
    };
    Advice {
        title: match lang {
            Lang::En => format!("Refused: {}.", messages::refusal(lang, r)),
            Lang::Zh => format!("无法办理：{}。", messages::refusal(lang, r)),
        },
        action: lang.pick(en_action, zh_action).to_string(),
        detail,
    }
}

const LAST_TRY: (&str, &str) = (
    "Nothing was written. If the holder is sure of the PIN, start again and allow the last try.",
    "未写卡。如持卡人确定密码，请重新办理并允许使用最后一次机会。",
);
const PIN_ACTION: (&str, &str) = (
    "Nothing was written to the new card. The holder may try again, or have the PIN reset at the bureau.",
    "未写入新卡。持卡人可重试，或到社保经办机构重置密码。",
);
const NOTHING_WRITTEN: (&str, &str) = (
    "Nothing was written for this. Give the cards back and explain the reason to the holder.",
    "此项未写卡。请将卡片交还持卡人并说明原因。",
);

/// Advice for a refusal carried as text (nothing was written for it).
pub fn refused(lang: Lang, reason: &str, detail: String) -> Advice {
    let (en_action, zh_action) = if reason.contains("--force-last-try") {
        (
            "Nothing was written. If the holder is sure of the PIN, start again and allow the last try.",
            "未写卡。如持卡人确定密码，请重新办理并允许使用最后一次机会。",
        )
    } else if reason.contains("PIN") {
        (
            "Nothing was written to the new card. The holder may try again, or have the PIN reset at the bureau.",
            "未写入新卡。持卡人可重试，或到社保经办机构重置密码。",
        )
    } else {
        (
            "Nothing was written for this. Give the cards back and explain the reason to the holder.",
            "此项未写卡。请将卡片交还持卡人并说明原因。",
        )
    };
    Advice {
        title: match lang {
            Lang::En => format!("Refused: {reason}."),
            Lang::Zh => format!("无法办理：{}。", phrase(lang, reason)),
        },
        action: lang.pick(en_action, zh_action).to_string(),
        detail,
    }
}

/// Advice for why an activation stopped.
pub fn advise_activation(lang: Lang, e: &crate::activation::ActivationError) -> Advice {
    use crate::activation::ActivationError as A;
    let d = e.to_string();
    match e {
        A::Card(c) => advise_card(lang, c),
        A::Journal(_) => advice(
            lang,
            ("The journal cannot be written.", "交易日志无法写入。"),
            (
                "Nothing more was written to a card. Check the disk and the journal path, then run `sscard activate resume`.",
                "已停止写卡。请检查磁盘和日志路径，然后运行 `sscard activate resume`。",
            ),
            d,
        ),
        A::Refused(reason) => refused(lang, reason, d),
        A::Refusal(r) => refused_typed(lang, r, d),
        A::Stop(s) => Advice {
            title: match lang {
                Lang::En => format!("Stopped for safety: {}.", messages::stop(lang, s)),
                Lang::Zh => format!("为安全起见已停止：{}。", messages::stop(lang, s)),
            },
            action: lang
                .pick(
                    "Do not retry on your own: keep the cards and call the technician (`sscard journal list` shows the transfer).",
                    "请勿自行重试：保留卡片并联系技术人员（`sscard journal list` 可查看该转移）。",
                )
                .to_string(),
            detail: d,
        },
        A::Timeout(m) => Advice {
            title: match lang {
                Lang::En => format!("Timed out: {m}."),
                Lang::Zh => format!("等待超时：{}。", phrase(lang, m)),
            },
            action: lang
                .pick(
                    "Start again when the holder is ready: an unfinished transfer continues where it stopped.",
                    "持卡人准备好后请重新办理：未完成的转移会从中断处继续。",
                )
                .to_string(),
            detail: d,
        },
        A::Desk(err) => advise(lang, err),
        A::Inconsistent(reason) => Advice {
            title: match lang {
                Lang::En => format!("Stopped for safety: {reason}."),
                Lang::Zh => format!("为安全起见已停止：{}。", phrase(lang, reason)),
            },
            action: lang
                .pick(
                    "Do not retry on your own: keep both cards and call the technician (`sscard journal list` shows the transfer).",
                    "请勿自行重试：保留两张卡片并联系技术人员（`sscard journal list` 可查看该转移）。",
                )
                .to_string(),
            detail: d,
        },
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
    fn phrases_fill_their_values() {
        assert_eq!(
            phrase(Lang::Zh, "no card was inserted into 'R 0'"),
            "读卡器“R 0”中一直没有插入卡片"
        );
        assert_eq!(
            phrase(Lang::Zh, "'xyz' is not a transfer id (32 hex digits)"),
            "“xyz”不是转移流水号（32 位十六进制数字）"
        );
        assert_eq!(phrase(Lang::Zh, "something new"), "something new");
        assert_eq!(
            phrase(Lang::En, "no journal entry AB"),
            "no journal entry AB"
        );
        // Every pattern is reachable (no earlier pattern shadows it).
        for (p, _) in PHRASES {
            let sample = p.replace("{}", "7");
            let first = PHRASES
                .iter()
                .find(|(q, _)| captures(q, &sample).is_some())
                .map(|(q, _)| *q);
            assert_eq!(first, Some(*p), "pattern shadowed: {p}");
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
}
