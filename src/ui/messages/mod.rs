//! The desk's Chinese and English for everything the activation core says
//! (`activation::core::msg`): one exhaustive `match` per message type and language,
//! so a variant without a translation in both languages does not compile, and a test
//! renders every variant in both.
//!
//! English is what plain desks, scripts and the scripted-holder tests read; Chinese
//! is for the desk staff (`--lang zh`, or a `zh*` locale).
//!
//! By concern, one file each: `progress` (steps and notes), `asking` (prompts and
//! the desk's card-in/card-out messages), `refusal`, `stop`, `driver` (what the
//! driver and the command say around the core), `interrupted` (a signal stopped
//! the flow) and `national` (the national interface's `pOutInfo` texts). This file
//! keeps the small pieces they share.

use crate::activation::core::{JournalState, KeyRole, SscStatus, TransferId, Which};
pub use crate::ui::i18n::Lang;

mod asking;
mod driver;
mod interrupted;
mod national;
mod progress;
mod refusal;
mod stop;

use asking::want;
pub use asking::{ask, desk, desk_step, prompt};
pub use driver::{desk_refusal, internal, layout_record, setup, wait_timeout};
pub use interrupted::{answer_yes_or_no, interrupted, yes_no, Interrupted, StoppedBy};
pub use national::{national_error, national_out_info, pin_prompt};
use progress::holder_line;
pub use progress::{msg, note, step};
pub use refusal::refusal;
pub use stop::stop;

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

#[cfg(test)]
pub(crate) mod tests;
