//! What the desk asks for and tells while cards go in and out: the core's prompts
//! ([`prompt`]), the driver's desk messages ([`desk`]) and the PIN entry's questions
//! ([`ask`]).

use super::{card, holder_line, note, step, Lang};
use crate::activation::core::{Prompt, Step, Which};
use crate::activation::desk::{self, Ask, Service, Want};
use crate::card::CardKind;

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

pub(super) fn want(lang: Lang, w: Want) -> &'static str {
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
