//! Advice for failures of the transport, SAM and card layers: what happened and who
//! does what, in the desk's language (split from `ui::advice` by concern).

use super::{advice, Advice, Who, RESUME, TECHNICIAN};
use crate::apdu::TransportError;
use crate::card::CardError;
use crate::sam::SamError;
use crate::ui::i18n::Lang;

/// Advice for a transport failure.
pub fn advise_transport(lang: Lang, t: &TransportError) -> Advice {
    let d = t.to_string();
    let subject = |s: &str| s.to_string();
    match t {
        TransportError::NoService(_) => advice(
            lang,
            ("The card service (pcscd) is not running.", "读卡服务（pcscd）没有运行。"),
            (
                "Start it: systemctl start pcscd (see hardware.md).",
                "请启动读卡服务：`systemctl start pcscd`（见 `hardware.md`）。",
            ),
            d,
        )
        .by(Who::Technician),
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
            who: Who::Technician,
            ..Advice::default()
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
            who: Who::Technician,
            ..Advice::default()
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
            ..Advice::default()
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
        )
        .by(Who::Technician),
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
        )
        .by(Who::Technician),
        SamError::PsamStatus { .. } | SamError::PsamData(_) => advice(
            lang,
            (
                "The PSAM refused or answered wrongly.",
                "PSAM 拒绝或应答异常。",
            ),
            (
                "Check the PSAM is seated in the PSAM slot, chip first.",
                "请确认 PSAM 已插好在 PSAM 卡座中。",
            ),
            detail,
        )
        .by(Who::Technician),
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
                "Check that the PSAM or key file matches this region's cards.",
                "请确认 PSAM 或密钥文件与本地区卡片匹配。",
            ),
            d,
        )
        .by(Who::Technician),
        CardError::Sam { source, .. } => advise_sam(lang, source, d),
        CardError::NeedsKey(_) => advice(
            lang,
            ("Card keys are missing.", "缺少卡片密钥。"),
            (
                "Configure the PSAM reader (readers.psam) or a key file.",
                "请配置 PSAM 读卡器（`readers.psam`）或密钥文件。",
            ),
            d,
        )
        .by(Who::Technician),
        CardError::Profile(_) => advice(
            lang,
            ("A card profile is wrong.", "卡片配置文件有误。"),
            TECHNICIAN,
            d,
        ),
    }
}
