//! What the desk is told when something stops a command: what happened, who acts
//! (the clerk at the desk, or the technician who set the desk up) and what to do, in
//! the desk's language, with the tool's own English message kept apart as the
//! technical line.
//!
//! Why typed: every activation failure is data (`activation::error`,
//! `activation::core::msg`) and is advised from its variant, never from its English
//! text, so a Chinese screen carries no English sentence and no raw enum or state
//! name. Errors of the layers below (transport, SAM, card) are advised in the `card` submodule.

mod card;

pub use card::{advise_card, advise_sam, advise_transport};

use crate::activation::core::Refusal;
use crate::activation::error::{ConfigSeen, DeskRefusal, Setup};
use crate::activation::ActivationError;
use crate::apdu::TransportError;
use crate::error::{Error, ExitCode};
use crate::sam::SamError;
use crate::ui::i18n::{Lang, Text};
use crate::ui::messages;

/// Who must act on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Who {
    /// The clerk at the desk (with the holder).
    #[default]
    Clerk,
    /// The technician who installs and configures the desk.
    Technician,
}

impl Who {
    /// The label put before the action: `Clerk: ` / `操作员：`.
    pub fn label(self, lang: Lang) -> String {
        let t = match self {
            Who::Clerk => Text::Clerk,
            Who::Technician => Text::Technician,
        };
        crate::ui::i18n::prefix(lang, t)
    }
}

/// What the desk is told when something stops the flow.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Advice {
    /// What happened, in one sentence, in the desk's language.
    pub title: String,
    /// What to do next, addressed to [`Advice::who`].
    pub action: String,
    /// Who does it.
    pub who: Who,
    /// The tool's own message (English), for a technician.
    pub detail: String,
    /// The desk's setup failed before any card step started: no step is marked
    /// failed.
    pub before_flow: bool,
}

impl Advice {
    /// The same advice, addressed to `who`.
    pub fn by(mut self, who: Who) -> Advice {
        self.who = who;
        self
    }

    /// The action with its addressee: `Technician: Start the card service...`.
    pub fn addressed(&self, lang: Lang) -> String {
        format!("{}{}", self.who.label(lang), self.action)
    }
}

pub(super) fn advice(
    lang: Lang,
    title: (&str, &str),
    action: (&str, &str),
    detail: String,
) -> Advice {
    Advice {
        title: lang.pick(title.0, title.1).to_string(),
        action: lang.pick(action.0, action.1).to_string(),
        detail,
        ..Advice::default()
    }
}

pub(super) const TECHNICIAN: (&str, &str) = (
    "Note the details below and call the technician.",
    "请记下下面的技术信息并联系技术人员。",
);
pub(super) const RESUME: (&str, &str) = (
    "Nothing is lost: the journal keeps where the transfer stands. Run `sscard activate resume` with the old card to continue.",
    "资金不会丢失：交易日志记录了转移进度。插入旧卡运行 `sscard activate resume` 即可继续。",
);

/// Advice for any error of the tool. Its English message is the technical line; the
/// Chinese title says what kind of problem it is, never the English text.
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
                Lang::En => format!("Some data is malformed: {m}."),
                Lang::Zh => "数据格式错误（详见技术信息）。".into(),
            },
            action: lang
                .pick(
                    "Check what was typed or configured; for card data call the technician.",
                    "请检查录入或配置的内容；如是卡内数据，请联系技术人员。",
                )
                .to_string(),
            detail: d,
            ..Advice::default()
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
                Lang::Zh => "等待超时。".into(),
            },
            action: lang
                .pick(
                    "Start the activation again when the holder is ready.",
                    "持卡人准备好后请重新办理。",
                )
                .to_string(),
            detail: d,
            ..Advice::default()
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
            who: Who::Technician,
            ..Advice::default()
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
    let (title, action, who) = match code {
        ExitCode::Refused => (
            ("Refused", "无法办理"),
            NOTHING_WRITTEN,
            Who::Clerk,
        ),
        ExitCode::Keys => (
            ("The card keys cannot be used", "卡片密钥不可用"),
            (
                "Check the PSAM is in its slot (or the key file is in place).",
                "请确认 PSAM 已插好（或密钥文件可用）。",
            ),
            Who::Technician,
        ),
        // Outside a flow (journal list/show/export/backup/push, fleet new-instance):
        // no card was being written, so the flow's "stopped writing, resume" advice
        // would mislead; a flow's journal error is advised in `advise_activation`.
        ExitCode::Journal => (
            ("The journal cannot be used", "交易日志无法使用"),
            (
                "Check the journal path and the disk; `sscard config check` shows the journal this desk uses.",
                "请检查日志路径和磁盘；`sscard config check` 会显示本柜台使用的日志。",
            ),
            Who::Technician,
        ),
        ExitCode::CardStatus => (
            ("Stopped for safety", "为安全起见已停止"),
            (
                "Do not retry on your own: keep both cards and call the technician.",
                "请勿自行重试：保留两张卡片并联系技术人员。",
            ),
            Who::Clerk,
        ),
        ExitCode::InvalidData => (
            ("Input problem", "输入有误"),
            (
                "Check what was typed or configured.",
                "请检查录入或配置的内容。",
            ),
            Who::Clerk,
        ),
        _ => (("Stopped", "已停止"), TECHNICIAN, Who::Clerk),
    };
    Advice {
        title: match lang {
            Lang::En => format!("{}: {message}", title.0),
            Lang::Zh => format!("{}（详见技术信息）。", title.1),
        },
        action: lang.pick(action.0, action.1).to_string(),
        who,
        detail: d,
        before_flow: false,
    }
}

/// Advice for a refusal of the protocol core, rendered from its variant.
fn refused_typed(lang: Lang, r: &Refusal, detail: String) -> Advice {
    let action = match r {
        Refusal::PinLastTry => LAST_TRY,
        Refusal::PinWrong { .. }
        | Refusal::PinBlocked
        | Refusal::PinNotChosen
        | Refusal::OldRefusesPin => PIN_ACTION,
        _ => NOTHING_WRITTEN,
    };
    refused_with(lang, &messages::refusal(lang, r), action, detail)
}

fn refused_with(lang: Lang, reason: &str, action: (&str, &str), detail: String) -> Advice {
    Advice {
        title: match lang {
            Lang::En => format!("Refused: {reason}."),
            Lang::Zh => format!("无法办理：{reason}。"),
        },
        action: lang.pick(action.0, action.1).to_string(),
        detail,
        ..Advice::default()
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
const OLD_LAYOUT: (&str, &str) = (
    "Nothing was written. Give the cards back: the holder has the card updated at the bureau.",
    "未写卡。请将卡片交还持卡人，由持卡人到社保经办机构更新卡片。",
);
const CHECK_ID: (&str, &str) = (
    "Nothing was written. Copy the transfer id from the receipt or `sscard journal list`; without it, insert the old card and run `sscard activate resume`.",
    "未写卡。请从回执或 `sscard journal list` 抄写流水号；没有流水号时，插入旧卡运行 `sscard activate resume`。",
);

/// Advice for a desk whose keys or terminal number are not usable (before any card
/// step): the technician's.
fn advise_setup(lang: Lang, s: &Setup, detail: String) -> Advice {
    use TransportError as T;
    let action: (&str, &str) = match s {
        Setup::NoKeys(ConfigSeen::Missing) => (
            "Set this desk up: `sscard config example` prints a configuration; write it to /etc/sscard/sscard.toml with this desk's PSAM reader (readers.psam) or key file (keys).",
            "请配置本终端：`sscard config example` 输出配置示例，写入 `/etc/sscard/sscard.toml`，并填写本终端的 PSAM 读卡器（`readers.psam`）或密钥文件（`keys`）。",
        ),
        Setup::NoKeys(ConfigSeen::Disabled | ConfigSeen::WithoutKeys) => (
            "Name this desk's PSAM reader (readers.psam) or key file (keys) in the configuration, or give --sam-reader or --keys.",
            "请在配置文件中填写本终端的 PSAM 读卡器（`readers.psam`）或密钥文件（`keys`），或使用 --sam-reader、--keys。",
        ),
        Setup::Psam { error, .. } => match error {
            SamError::Transport(T::NoCard(_)) => (
                "Put this desk's PSAM into the PSAM slot, chip first. Holders' cards never go there: they go into the card reader.",
                "请将本终端的 PSAM 卡插入 PSAM 卡座（芯片朝里）。持卡人的卡不要插在这里，应插入读卡器。",
            ),
            SamError::Transport(T::UnknownReader(_) | T::AmbiguousReader { .. } | T::NoReaders) => (
                "Connect the PSAM reader; `sscard readers` lists the names; fix readers.psam in the configuration.",
                "请连接 PSAM 读卡器；用 `sscard readers` 查看名称，并改正配置文件中的 `readers.psam`。",
            ),
            SamError::Transport(T::NoService(_)) => (
                "Start the card service: systemctl start pcscd (see hardware.md).",
                "请启动读卡服务：`systemctl start pcscd`（见 `hardware.md`）。",
            ),
            SamError::Transport(T::Busy) => (
                "Close the other program that uses the PSAM reader, then start again.",
                "请关闭占用 PSAM 读卡器的其他程序，然后重新办理。",
            ),
            SamError::Transport(_) => (
                "Take the PSAM out and seat it again, chip first; if it happens again, replace the PSAM reader.",
                "请取出 PSAM 卡重新插好（芯片朝里）；如反复出现，请更换 PSAM 读卡器。",
            ),
            SamError::PsamStatus { .. } | SamError::PsamData(_) => (
                "Check the card in the PSAM slot: it must be this desk's PSAM. A holder's card found there goes back to the holder.",
                "请检查 PSAM 卡座中的卡片：必须是本终端的 PSAM 卡。如是持卡人的卡，请交还持卡人。",
            ),
            SamError::UnknownKey { .. } => (
                "Use a PSAM issued for this region's cards.",
                "请使用为本地区卡片发行的 PSAM 卡。",
            ),
            SamError::KeyFile { .. } => (
                "The key file must exist and be readable by its owner only (chmod 600).",
                "密钥文件必须存在，且只有属主可读（`chmod 600`）。",
            ),
        },
        Setup::KeyFile(_) => (
            "The key file must exist and be readable by its owner only (chmod 600).",
            "密钥文件必须存在，且只有属主可读（`chmod 600`）。",
        ),
        Setup::NoTerminal => (
            "Set this desk's terminal number (terminal, 12 digits) in the configuration, or use a PSAM that carries one.",
            "请在配置文件中设置本终端的终端号（`terminal`，12 位数字），或使用带有终端号的 PSAM 卡。",
        ),
        Setup::BadTerminal(_) => (
            "Correct the terminal number (terminal) in the configuration: 12 digits.",
            "请改正配置文件中的终端号（`terminal`）：应为 12 位数字。",
        ),
    };
    Advice {
        title: match lang {
            Lang::En => {
                let t = messages::setup(lang, s);
                let mut c = t.chars();
                let first = c.next().map(|f| f.to_uppercase().collect::<String>());
                format!("{}{}.", first.unwrap_or_default(), c.as_str())
            }
            Lang::Zh => format!("{}。", messages::setup(lang, s)),
        },
        action: lang.pick(action.0, action.1).to_string(),
        who: Who::Technician,
        detail,
        before_flow: true,
    }
}

/// Advice for why an activation stopped.
pub fn advise_activation(lang: Lang, e: &ActivationError) -> Advice {
    use ActivationError as A;
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
        )
        .by(Who::Technician),
        A::Refused(r) => {
            let action = match r {
                DeskRefusal::OldLayout(_) => OLD_LAYOUT,
                DeskRefusal::NotTransferId { .. } | DeskRefusal::NoJournalEntry { .. } => {
                    CHECK_ID
                }
            };
            refused_with(lang, &messages::desk_refusal(lang, r), action, d)
        }
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
            ..Advice::default()
        },
        A::Timeout(t) => Advice {
            title: match lang {
                Lang::En => format!("Timed out: {}.", messages::wait_timeout(lang, t)),
                Lang::Zh => format!("等待超时：{}。", messages::wait_timeout(lang, t)),
            },
            action: lang
                .pick(
                    "Start again when the holder is ready (if a transfer had begun, it continues where it stopped).",
                    "持卡人准备好后请重新办理（如果转移已经开始，会从中断处继续）。",
                )
                .to_string(),
            detail: d,
            ..Advice::default()
        },
        A::Desk(err) => advise(lang, err),
        A::Inconsistent(i) => Advice {
            title: match lang {
                Lang::En => format!("Stopped for safety: {}.", messages::internal(lang, i)),
                Lang::Zh => format!("为安全起见已停止：{}。", messages::internal(lang, i)),
            },
            action: lang
                .pick(
                    "Do not retry on your own: keep both cards and call the technician (`sscard journal list` shows the transfer).",
                    "请勿自行重试：保留两张卡片并联系技术人员（`sscard journal list` 可查看该转移）。",
                )
                .to_string(),
            detail: d,
            ..Advice::default()
        },
        A::Setup(s) => advise_setup(lang, s, d),
    }
}

#[cfg(test)]
mod tests;
