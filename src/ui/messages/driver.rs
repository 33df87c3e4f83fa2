//! Chinese and English for what the driver and the command say around the core:
//! their refusals, timeouts, internal stops and the desk's setup problems
//! (`activation::error`). One exhaustive `match` per type and language, like the
//! core's messages in the parent module.

use super::{want, Lang};
use crate::activation::core::Which;
use crate::activation::error::{
    ConfigSeen, DeskRefusal, Internal, LayoutRecord, OldLayout, Setup, WaitTimeout,
};
use crate::apdu::TransportError;
use crate::sam::SamError;

/// The record's name, as a desk worker or technician reads it.
pub fn layout_record(lang: Lang, r: LayoutRecord) -> &'static str {
    match lang {
        Lang::En => r.role(),
        Lang::Zh => match r {
            LayoutRecord::TargetCard => "绑定新卡号记录（旧卡标签 27）",
            LayoutRecord::TransferCounter => "转移计数记录（旧卡标签 28）",
            LayoutRecord::TransferFloor => "转移下限记录（新卡 DF04 EF05 标签 27）",
        },
    }
}

/// Why the transfer protocol needs the record (spec/activation.md).
fn layout_why(lang: Lang, r: LayoutRecord) -> &'static str {
    match lang {
        Lang::En => match r {
            LayoutRecord::TargetCard => {
                "the freeze binds the transfer to one new card by writing its number there \
                 (CITY tag 27), so no other new card can ever receive it"
            }
            LayoutRecord::TransferCounter => {
                "every freeze raises the old card's transfer counter (CITY tag 28), which \
                 orders its transfers so that a cancelled one can be barred for good"
            }
            LayoutRecord::TransferFloor => {
                "a cancel writes the transfer floor (DF04 EF05 tag 27) on the new card so \
                 that the cancelled transfer can never be credited to it later"
            }
        },
        Lang::Zh => match r {
            LayoutRecord::TargetCard => "冻结时在此写入新卡卡号，使本次转移只能转入这一张新卡",
            LayoutRecord::TransferCounter => {
                "每次冻结都递增旧卡的转移计数，据此可永久禁止已撤销的转移"
            }
            LayoutRecord::TransferFloor => {
                "撤销时在新卡上写入转移下限，使已撤销的转移永远不能再转入该卡"
            }
        },
    }
}

fn old_layout(lang: Lang, o: &OldLayout) -> String {
    let rec = layout_record(lang, o.record);
    let why = layout_why(lang, o.record);
    match lang {
        Lang::En => {
            let (card, profile) = (
                match o.which {
                    Which::Old => "old card",
                    Which::New => "new card",
                },
                &o.profile,
            );
            let subject = match &o.card {
                Some(n) => format!("the {card} {n} (profile {profile})"),
                None => format!("the {card}'s profile (profile {profile})"),
            };
            format!(
                "{subject} has no {rec} record: {why}. It follows a layout older than the \
                 transfer protocol; the bureau must update the card (or the profile must name \
                 the record)"
            )
        }
        Lang::Zh => {
            let card = match o.which {
                Which::Old => "旧卡",
                Which::New => "新卡",
            };
            let subject = match &o.card {
                Some(n) => format!("{card} {n}（卡片配置 {}）", o.profile),
                None => format!("{card}的卡片配置 {}", o.profile),
            };
            format!(
                "{subject}缺少{rec}：{why}。该卡仍是转移协议之前的旧格式，需由经办机构更新卡片\
                 （或由技术人员在卡片配置中指明该记录）"
            )
        }
    }
}

/// A refusal of the driver or the command (nothing was written for it).
pub fn desk_refusal(lang: Lang, r: &DeskRefusal) -> String {
    match lang {
        Lang::En => match r {
            DeskRefusal::OldLayout(o) => old_layout(lang, o),
            DeskRefusal::NotTransferId { text } => {
                format!("'{text}' is not a transfer id (32 hex digits)")
            }
            DeskRefusal::NoJournalEntry { id } => format!("no journal entry {}", id.hex()),
        },
        Lang::Zh => match r {
            DeskRefusal::OldLayout(o) => old_layout(lang, o),
            DeskRefusal::NotTransferId { text } => {
                format!("“{text}”不是转移流水号（应为 32 位十六进制数字）")
            }
            DeskRefusal::NoJournalEntry { id } => {
                format!("本终端的交易日志中没有流水号 {}", id.hex())
            }
        },
    }
}

/// A wait for a card that ran out.
pub fn wait_timeout(lang: Lang, t: &WaitTimeout) -> String {
    match lang {
        Lang::En => match t {
            WaitTimeout::NotInserted { reader, .. } => {
                format!("no card was inserted into '{reader}'")
            }
            WaitTimeout::NotRemoved { reader, .. } => {
                format!("the card was not removed from '{reader}'")
            }
        },
        Lang::Zh => match t {
            WaitTimeout::NotInserted { want: w, reader } => {
                format!("读卡器“{reader}”中一直没有插入{}", want(lang, *w))
            }
            WaitTimeout::NotRemoved { want: w, reader } => {
                format!("{}一直没有从读卡器“{reader}”取出", want(lang, *w))
            }
        },
    }
}

/// A failure inside this tool. The Chinese leaves the technical detail to the
/// technician's line.
pub fn internal(lang: Lang, i: &Internal) -> String {
    match lang {
        Lang::En => match i {
            Internal::NoRandom(e) => format!("no random numbers: {e}"),
            Internal::LogRecord(e) => format!("log record: {e}"),
            Internal::PinMissing => "the PIN for the new card is missing".into(),
            Internal::ChangePinsMissing => "the PINs for CHANGE PIN are missing".into(),
            Internal::NotAField(role) => format!("{role} is not written as a field"),
        },
        Lang::Zh => match i {
            Internal::NoRandom(_) => "内部错误：系统无法提供随机数".into(),
            Internal::LogRecord(_) => "内部错误：无法生成卡内交易记录".into(),
            Internal::PinMissing => "内部错误：缺少新卡的密码".into(),
            Internal::ChangePinsMissing => "内部错误：缺少修改密码所需的密码".into(),
            Internal::NotAField(_) => "内部错误：该数据项不能作为字段写入".into(),
        },
    }
}

/// What is wrong with the PSAM in `reader`, from the error opening it.
fn psam(lang: Lang, reader: &str, e: &SamError) -> String {
    use TransportError as T;
    match lang {
        Lang::En => match e {
            SamError::Transport(T::NoCard(_)) => {
                format!("there is no PSAM in the PSAM reader '{reader}'")
            }
            SamError::Transport(T::UnknownReader(_) | T::AmbiguousReader { .. } | T::NoReaders) => {
                format!("the PSAM reader '{reader}' is not connected (or its name is wrong)")
            }
            SamError::Transport(T::NoService(_)) => {
                "the card service (pcscd) is not running".into()
            }
            SamError::Transport(T::Busy) => {
                format!("another program is using the PSAM reader '{reader}'")
            }
            SamError::Transport(_) => {
                format!("the card in the PSAM reader '{reader}' stopped answering")
            }
            SamError::PsamStatus { .. } | SamError::PsamData(_) => format!(
                "the card in the PSAM reader '{reader}' is not a working PSAM (a holder's \
                 card put into the PSAM slot, or a PSAM of another region)"
            ),
            SamError::UnknownKey { .. } => {
                format!("the PSAM in '{reader}' holds no key for these cards")
            }
            SamError::KeyFile { .. } => "the key file cannot be used".into(),
        },
        Lang::Zh => match e {
            SamError::Transport(T::NoCard(_)) => {
                format!("PSAM 卡座（读卡器“{reader}”）中没有 PSAM 卡")
            }
            SamError::Transport(T::UnknownReader(_) | T::AmbiguousReader { .. } | T::NoReaders) => {
                format!("找不到 PSAM 读卡器“{reader}”（未连接或名称有误）")
            }
            SamError::Transport(T::NoService(_)) => "读卡服务（pcscd）没有运行".into(),
            SamError::Transport(T::Busy) => {
                format!("PSAM 读卡器“{reader}”正被其他程序占用")
            }
            SamError::Transport(_) => {
                format!("PSAM 卡座（读卡器“{reader}”）中的卡片没有正常应答")
            }
            SamError::PsamStatus { .. } | SamError::PsamData(_) => format!(
                "PSAM 卡座（读卡器“{reader}”）中的卡片不是可用的 PSAM 卡（可能误插了持卡人的卡，\
                 或是其他地区的 PSAM）"
            ),
            SamError::UnknownKey { .. } => {
                format!("读卡器“{reader}”中的 PSAM 没有这类卡片的密钥")
            }
            SamError::KeyFile { .. } => "密钥文件不可用".into(),
        },
    }
}

/// Why the desk cannot start (the technical detail is not part of it).
pub fn setup(lang: Lang, s: &Setup) -> String {
    let path = crate::config::DEFAULT_PATH;
    match lang {
        Lang::En => match s {
            Setup::NoKeys(ConfigSeen::Missing) => format!(
                "this desk is not set up: there is no configuration file ({path}) naming its \
                 PSAM reader or key file"
            ),
            Setup::NoKeys(ConfigSeen::Disabled) => "activation needs card keys: no \
                 configuration file is used (--config none) and neither --sam-reader nor \
                 --keys was given"
                .into(),
            Setup::NoKeys(ConfigSeen::WithoutKeys) => "activation needs card keys: the \
                 configuration names neither a PSAM reader (readers.psam) nor a key file (keys)"
                .into(),
            Setup::Psam { reader, error } => psam(lang, reader, error),
            Setup::KeyFile(_) => "the key file cannot be used".into(),
            Setup::NoTerminal => {
                "no terminal number: the SAM has none; give --terminal DIGITS".into()
            }
            Setup::BadTerminal(t) => format!("terminal number '{t}' is not 12 digits"),
        },
        Lang::Zh => match s {
            Setup::NoKeys(ConfigSeen::Missing) => format!(
                "本终端尚未配置：没有配置文件（`{path}`），不知道 PSAM 读卡器或密钥文件在哪里"
            ),
            Setup::NoKeys(ConfigSeen::Disabled) => {
                "缺少卡片密钥：未使用配置文件（`--config none`），也未指定 PSAM 读卡器或密钥文件"
                    .into()
            }
            Setup::NoKeys(ConfigSeen::WithoutKeys) => {
                "缺少卡片密钥：配置文件中既没有 PSAM 读卡器（`readers.psam`）也没有密钥文件（`keys`）"
                    .into()
            }
            Setup::Psam { reader, error } => psam(lang, reader, error),
            Setup::KeyFile(_) => "密钥文件不可用".into(),
            Setup::NoTerminal => {
                "没有终端号：PSAM 中没有终端号，配置文件中也没有设置（`terminal`）".into()
            }
            Setup::BadTerminal(t) => format!("终端号“{t}”不是 12 位数字"),
        },
    }
}
