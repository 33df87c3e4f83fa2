//! The guided desk: a screen for staff who are not smart-card engineers.
//!
//! What the screen holds, top to bottom: the flow and the terminal, whose card it is,
//! the step list with progress, at most a couple of notices, and **one** line saying
//! what to do now (insert this card into that reader, holder enters the PIN, ...).
//! While a card is awaited a spinner names the reader and counts down the timeout.
//! The whole screen is redrawn on every message instead of scrolling a log: a desk
//! worker reads the current state, not the history (the journal and `-v` trace keep
//! the history for technicians). At the end it shows the receipt, or what stopped and
//! what to do about it.
//!
//! It implements the flows' [`Desk`] trait, so the flows do not know it exists; PINs
//! still come from [`PinReader`] (terminal with echo off, or a file), never argv.

use super::advice::Advice;
use super::i18n::{self, Lang, Text};
use super::messages;
use super::receipt::{pad, rows, width};
use super::spinner::Spinner;
use super::steps::{Mark, Plan, Stage, StepList};
use super::style::{mark, Paint, Tone};
use super::trouble::Trouble;
use crate::activation::core::Prompt;
use crate::activation::desk::{english, Ask, Desk, Msg, Step, Want};
use crate::activation::receipt::Receipt;
use crate::error::{Error, ExitCode};
use crate::pin_input::PinReader;
use crate::secret::{Pin, PinError};
use std::io::Write;
use std::time::Duration;

/// How many times a malformed PIN (or two differing PINs) is asked again before the
/// desk gives up.
const PIN_ATTEMPTS: usize = 3;

/// The guided screen.
pub struct GuidedDesk {
    lang: Lang,
    paint: Paint,
    pins: PinReader,
    interactive: bool,
    /// Whether to clear the screen before each redraw (off in tests of the layout).
    clear: bool,
    /// Whether to draw at all (off in unit tests).
    draw: bool,
    title: String,
    terminal: String,
    /// The header's operator part (`operator desk-7`, or "not set").
    operator: Option<String>,
    timeout: Duration,
    steps: StepList,
    holder: Option<(String, String)>,
    old_card: Option<String>,
    new_card: Option<String>,
    reading: Option<Want>,
    card_at: Option<(Want, String)>,
    notices: Vec<(Tone, String)>,
    now: Option<(Tone, &'static str, String)>,
    finale: Vec<String>,
    spinner: Spinner,
    /// The last message was a wrong card (the removal asked next is of *that* card).
    after_wrong_card: bool,
}

/// What the guided desk needs to know up front.
pub struct GuidedSetup {
    /// Desk language.
    pub lang: Lang,
    /// Styling.
    pub paint: Paint,
    /// Where PINs come from.
    pub pins: PinReader,
    /// Whether a person answers prompts.
    pub interactive: bool,
    /// The flow's title.
    pub title: String,
    /// How long a card is awaited.
    pub timeout: Duration,
    /// The step plan.
    pub plan: Plan,
}

impl GuidedDesk {
    /// A guided desk.
    pub fn new(s: GuidedSetup) -> GuidedDesk {
        GuidedDesk {
            lang: s.lang,
            paint: s.paint,
            pins: s.pins,
            interactive: s.interactive,
            clear: true,
            draw: true,
            title: s.title,
            terminal: String::new(),
            operator: None,
            timeout: s.timeout,
            steps: StepList::new(s.plan),
            holder: None,
            old_card: None,
            new_card: None,
            reading: None,
            card_at: None,
            notices: Vec::new(),
            now: None,
            finale: Vec::new(),
            spinner: Spinner::default(),
            after_wrong_card: false,
        }
    }

    /// The desk language.
    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// Sets what the header shows and the step plan (known once the readers and the
    /// SAM are open).
    /// `operator`: `None` when none is configured (shown as "not set").
    pub fn set_context(&mut self, terminal: &str, operator: Option<&str>, plan: Plan) {
        self.terminal = terminal.to_string();
        self.operator = Some(operator.map_or_else(
            || Text::OperatorUnset.get(self.lang).to_string(),
            |o| format!("{} {o}", Text::Operator.get(self.lang)),
        ));
        self.steps = StepList::new(plan);
    }

    /// The screen as text (without the clear sequence).
    pub fn screen(&self) -> String {
        let p = self.paint;
        let l = self.lang;
        let mut out = String::new();
        let mut line = |s: String| {
            out.push_str(&s);
            out.push('\n');
        };
        line(p.paint(Tone::Title, &format!("sscard · {}", self.title)));
        let mut ctx = Vec::new();
        if !self.terminal.is_empty() {
            ctx.push(format!("{} {}", Text::Terminal.get(l), self.terminal));
        }
        if let Some(o) = &self.operator {
            ctx.push(o.clone());
        }
        if !ctx.is_empty() {
            line(p.paint(Tone::Dim, &ctx.join(" · ")));
        }
        line("─".repeat(64));
        if let Some((name, id)) = &self.holder {
            line(format!(
                "{} {name} · {} {id}",
                Text::Holder.get(l),
                Text::CitizenId.get(l)
            ));
        }
        let mut cards = Vec::new();
        if let Some(c) = &self.old_card {
            cards.push(format!("{} {c}", Text::OldCard.get(l)));
        }
        if let Some(c) = &self.new_card {
            cards.push(format!("{} {c}", Text::NewCard.get(l)));
        }
        if !cards.is_empty() {
            line(cards.join(" → "));
        }
        line(String::new());
        let (at, total) = self.steps.position();
        if self.steps.all_done() {
            // With the receipt shown, its box says "complete": the one "done" on
            // the screen (issue 15 §9).
            if self.finale.is_empty() {
                line(p.paint(
                    Tone::Good,
                    &match l {
                        Lang::En => format!("{} All {total} steps done", mark::DONE),
                        Lang::Zh => format!("{} 全部 {total} 步已完成", mark::DONE),
                    },
                ));
            }
        } else {
            line(p.paint(
                Tone::Dim,
                &match l {
                    Lang::En => format!("Step {at} of {total}"),
                    Lang::Zh => format!("第 {at} 步，共 {total} 步"),
                },
            ));
            for (i, (stage, m)) in self.steps.rows().into_iter().enumerate() {
                let (sym, tone) = match m {
                    Mark::Done => (mark::DONE, Tone::Good),
                    Mark::Now => (mark::NOW, Tone::Action),
                    Mark::Todo => (mark::TODO, Tone::Dim),
                    Mark::Failed => (mark::FAILED, Tone::Bad),
                };
                line(p.paint(tone, &format!("  {sym} {}. {}", i + 1, stage.label(l))));
            }
        }
        line(String::new());
        for (tone, n) in &self.notices {
            let sym = if *tone == Tone::Warn { mark::WARN } else { "i" };
            line(p.paint(*tone, &format!("{sym} {n}")));
        }
        if let Some((tone, sym, text)) = &self.now {
            line(p.paint(*tone, &format!("{sym} {text}")));
        }
        for f in &self.finale {
            line(f.clone());
        }
        out
    }

    fn render(&mut self) {
        self.spinner.stop();
        if !self.draw {
            return;
        }
        let mut text = String::new();
        if self.clear {
            text.push_str("\x1b[H\x1b[J");
        }
        text.push_str(&self.screen());
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    fn notice(&mut self, tone: Tone, text: String) {
        // One warning at a time: a new one replaces the last (it is what matters now).
        self.notices
            .retain(|(t, n)| *n != text && !(tone == Tone::Warn && *t == Tone::Warn));
        self.notices.push((tone, text));
        while self.notices.len() > 3 {
            self.notices.remove(0);
        }
    }

    fn wait_spinner(&mut self, text: String) {
        let timeout = self.timeout;
        self.spinner
            .start(self.paint, self.lang, text, Some(timeout));
    }

    /// Something went wrong and the flow goes on: one instruction, and the spinner if
    /// the desk must wait for the card service.
    pub fn trouble(&mut self, t: Trouble, attempt: u32, max: u32) {
        let card = self.card_at.as_ref().map(|(w, r)| (*w, r.as_str()));
        let mut text = t.instruction(self.lang, card);
        text.push_str(&match self.lang {
            Lang::En => format!(" (Recovering: attempt {attempt} of {max}.)"),
            Lang::Zh => format!("（正在恢复：第 {attempt} 次，共 {max} 次）"),
        });
        self.notice(Tone::Warn, text);
        self.now = None;
        self.render();
    }

    /// Waits (spinner) for pcscd and the readers to come back.
    pub fn waiting_for_service(&mut self, timeout: Duration) {
        self.now = Some((
            Tone::Action,
            mark::DO,
            Text::WaitingService.get(self.lang).to_string(),
        ));
        self.render();
        self.spinner.start(
            self.paint,
            self.lang,
            Text::WaitingService.get(self.lang).to_string(),
            Some(timeout),
        );
    }

    /// The card service is back.
    pub fn service_back(&mut self) {
        self.spinner.stop();
        self.notice(Tone::Dim, Text::ServiceBack.get(self.lang).to_string());
        self.now = None;
        self.render();
    }

    /// Asks the operator whether to use the last PIN try; `true` on yes.
    pub fn confirm_last_try(&mut self) -> bool {
        if !self.interactive {
            return false;
        }
        self.now = Some((
            Tone::Warn,
            mark::WARN,
            Text::LastTryQuestion.get(self.lang).trim_end().to_string(),
        ));
        self.render();
        // A typo is asked again, not taken for "no" (issue 15 §3); Enter alone is
        // the default, no; three unclear answers are no.
        let mut yes = false;
        for _ in 0..3 {
            let answer = read_line(Text::LinePrompt.get(self.lang)).unwrap_or_default();
            match messages::yes_no(&answer) {
                Some(y) => {
                    yes = y;
                    break;
                }
                None => {
                    self.notice(
                        Tone::Warn,
                        messages::answer_yes_or_no(self.lang).to_string(),
                    );
                    self.render();
                }
            }
        }
        if !yes {
            self.notice(Tone::Dim, Text::LastTryDeclined.get(self.lang).to_string());
        }
        yes
    }

    /// The flow finished: the receipt (or, for a cancel, the confirmation).
    pub fn finished(&mut self, receipt: Option<&Receipt>) {
        self.steps.complete();
        self.notices.clear();
        let l = self.lang;
        let p = self.paint;
        self.finale.clear();
        match receipt {
            Some(r) => {
                self.now = None;
                let rows = rows(l, r);
                let w = rows.iter().map(|(k, _)| width(k)).max().unwrap_or(0) + 2;
                let head = format!("╭─ {} {} ", mark::DONE, Text::Complete.get(l));
                let rule = 64usize.saturating_sub(width(&head));
                self.finale
                    .push(p.paint(Tone::Good, &format!("{head}{}", "─".repeat(rule))));
                for (k, v) in rows {
                    self.finale
                        .push(format!("{} {}{v}", p.paint(Tone::Good, "│"), pad(&k, w)));
                }
                self.finale
                    .push(p.paint(Tone::Good, &format!("╰{}", "─".repeat(63))));
                self.finale.push(p.paint(
                    Tone::Action,
                    &format!("{} {}", mark::DO, Text::HandBack.get(l)),
                ));
            }
            None => {
                self.now = Some((Tone::Good, mark::DONE, Text::Cancelled.get(l).to_string()));
            }
        }
        self.render();
    }

    /// The flow stopped: what happened, what to do, and the technician's details.
    pub fn failed(&mut self, advice: &Advice, gave_up_after: Option<u32>) {
        let l = self.lang;
        let p = self.paint;
        if !advice.before_flow {
            self.steps.fail();
        }
        self.notices.retain(|(t, _)| *t != Tone::Warn);
        self.now = Some((Tone::Bad, mark::FAILED, advice.title.clone()));
        self.finale.clear();
        if let Some(n) = gave_up_after {
            self.finale.push(p.paint(
                Tone::Warn,
                &match l {
                    Lang::En => {
                        format!("{} Tried {n} times to recover; stopping here.", mark::WARN)
                    }
                    Lang::Zh => format!("{} 已尝试恢复 {n} 次，现停止办理。", mark::WARN),
                },
            ));
        }
        self.finale.push(p.paint(
            Tone::Action,
            &format!("{} {}", mark::DO, advice.addressed(l)),
        ));
        self.finale.push(p.paint(
            Tone::Dim,
            &format!("{}{}", i18n::prefix(l, Text::Details), advice.detail),
        ));
        self.render();
    }

    fn ask_pin(&mut self, short: &str) -> Result<Pin, Error> {
        let mut left = PIN_ATTEMPTS;
        loop {
            match self.pins.read(short) {
                Ok(pin) => return Ok(pin),
                Err(e) if self.interactive && is_format_error(&e) && left > 1 => {
                    left -= 1;
                    self.notice(Tone::Warn, Text::PinFormat.get(self.lang).to_string());
                    self.render();
                }
                Err(e) => return Err(e),
            }
        }
    }
}

fn is_format_error(e: &Error) -> bool {
    matches!(e, Error::Other { message, code: ExitCode::InvalidData }
        if message == &PinError::Format.to_string())
}

fn read_line(prompt: &str) -> Result<String, Error> {
    crate::activation::desk::prompt_line(prompt)
}

impl Desk for GuidedDesk {
    fn show(&mut self, msg: &Msg) {
        log::info!("desk: {}", english(msg));
        self.spinner.stop();
        let after_wrong_card = std::mem::replace(
            &mut self.after_wrong_card,
            matches!(msg, Msg::WrongCard { .. }),
        );
        self.steps.follow(msg);
        let l = self.lang;
        match msg {
            Msg::Insert(w, r) => {
                self.card_at = Some((*w, r.clone()));
                self.now = Some((Tone::Action, mark::DO, messages::desk(l, msg)));
                self.render();
                let text = match l {
                    Lang::En => format!("Waiting for a card in '{r}'"),
                    Lang::Zh => format!("等待插卡：读卡器“{r}”"),
                };
                self.wait_spinner(text);
                return;
            }
            Msg::Remove(_, r) => {
                // After a wrong card the reader holds *that* card, not the wanted one.
                let text = if after_wrong_card {
                    match l {
                        Lang::En => format!("Take the card out of '{r}'."),
                        Lang::Zh => format!("请从读卡器“{r}”取出这张卡。"),
                    }
                } else {
                    messages::desk(l, msg)
                };
                self.now = Some((Tone::Action, mark::DO, text));
                self.render();
                let text = match l {
                    Lang::En => format!("Waiting for the card to leave '{r}'"),
                    Lang::Zh => format!("等待取卡：读卡器“{r}”"),
                };
                self.wait_spinner(text);
                return;
            }
            Msg::WrongCard { .. } => {
                self.notice(Tone::Warn, messages::desk(l, msg));
                self.now = Some((Tone::Warn, mark::WARN, messages::desk(l, msg)));
            }
            Msg::Holder {
                name,
                id_masked,
                card,
            } => {
                self.holder = Some((name.clone(), id_masked.clone()));
                match self.reading {
                    Some(Want::NewCard) => self.new_card = Some(card.clone()),
                    _ => self.old_card = Some(card.clone()),
                }
            }
            Msg::Step(s) => {
                match s {
                    Step::ReadOld => self.reading = Some(Want::OldCard),
                    Step::ReadNew => self.reading = Some(Want::NewCard),
                    _ => {}
                }
                if matches!(s, Step::ReadNew)
                    && self.card_at.as_ref().is_some_and(|c| c.0 != Want::NewCard)
                {
                    self.card_at = self.card_at.take().map(|(_, r)| (Want::NewCard, r));
                }
                if matches!(s, Step::ReadOld)
                    && self.card_at.as_ref().is_some_and(|c| c.0 != Want::OldCard)
                {
                    self.card_at = self.card_at.take().map(|(_, r)| (Want::OldCard, r));
                }
                // Progress resolves the warnings raised before it.
                self.notices.retain(|(t, _)| *t != Tone::Warn);
                let tone = if matches!(s, Step::PinVerified | Step::Done) {
                    Tone::Good
                } else {
                    Tone::Dim
                };
                let sym = if tone == Tone::Good {
                    mark::DONE
                } else {
                    "…"
                };
                self.now = Some((tone, sym, messages::desk_step(l, *s).to_string()));
            }
            Msg::PinWrong { .. } => {
                self.notice(Tone::Warn, messages::desk(l, msg));
            }
            Msg::Note(_) | Msg::Service(_) => {
                self.notice(Tone::Dim, messages::desk(l, msg));
            }
        }
        self.render();
    }

    fn pin(&mut self, ask: Ask, confirm: bool) -> Result<Pin, Error> {
        self.spinner.stop();
        // A PIN asked again on recovery does not undo the steps after the first one.
        if !self.steps.is_done(Stage::Pin) {
            self.steps.enter(Stage::Pin);
        }
        let ask = messages::ask(self.lang, ask).trim_end().to_string();
        self.now = Some((Tone::Action, mark::DO, ask));
        self.render();
        let mut rounds = PIN_ATTEMPTS;
        let typo_notes = [
            Text::PinFormat.get(self.lang),
            Text::PinsDiffer.get(self.lang),
        ];
        loop {
            let pin = self.ask_pin(Text::PinPrompt.get(self.lang))?;
            if confirm {
                let again = self.ask_pin(Text::PinAgain.get(self.lang))?;
                if again != pin {
                    rounds -= 1;
                    if rounds == 0 || !self.interactive {
                        return Err(Error::Other {
                            message: "the two PINs differ".into(),
                            code: ExitCode::Refused,
                        });
                    }
                    self.notice(Tone::Warn, Text::PinsDiffer.get(self.lang).to_string());
                    self.render();
                    continue;
                }
            }
            // The typing mistakes are behind us once a PIN is taken.
            self.notices
                .retain(|(_, n)| !typo_notes.contains(&n.as_str()));
            return Ok(pin);
        }
    }

    fn line(&mut self, prompt: Prompt) -> Result<String, Error> {
        self.spinner.stop();
        self.steps.enter(Stage::TypeId);
        self.now = Some((
            Tone::Action,
            mark::DO,
            messages::prompt(self.lang, prompt).trim_end().to_string(),
        ));
        self.render();
        read_line(Text::LinePrompt.get(self.lang))
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::CardKind;
    use crate::pin_input::PinSource;

    fn desk(lang: Lang) -> GuidedDesk {
        let mut d = GuidedDesk::new(GuidedSetup {
            lang,
            paint: Paint { color: false },
            pins: PinReader::new(PinSource::Stdin),
            interactive: false,
            title: "T".into(),
            timeout: Duration::from_secs(5),
            plan: Plan::PharmacyOneReader,
        });
        d.clear = false;
        d.draw = false;
        d.set_context("639900000001", Some("demo"), Plan::PharmacyOneReader);
        d
    }

    #[test]
    fn one_instruction_at_a_time_with_progress() {
        let mut d = desk(Lang::En);
        // Issue 10: the new card goes in first (checked before anything is frozen).
        d.steps.follow(&Msg::Insert(Want::NewCard, "R".into()));
        d.now = Some((
            Tone::Action,
            mark::DO,
            messages::desk(Lang::En, &Msg::Insert(Want::NewCard, "R".into())),
        ));
        let s = d.screen();
        assert!(
            s.contains("➜ Insert the new social security card into 'R'."),
            "{s}"
        );
        assert!(s.contains("Step 1 of 10"), "{s}");
        assert!(
            s.contains("▶ 1. Insert the new social security card"),
            "{s}"
        );
        assert!(s.contains("terminal 639900000001 · operator demo"), "{s}");
        assert!(!s.contains('\x1b'), "no color: {s:?}");
        d.show(&Msg::Step(Step::ReadOld));
        d.show(&Msg::Holder {
            name: "张三".into(),
            id_masked: "111111********1110".into(),
            card: "6399000123".into(),
        });
        let s = d.screen();
        assert!(
            s.contains("✔ 1. Insert the new social security card"),
            "{s}"
        );
        assert!(
            s.contains("Holder 张三 · Citizen ID 111111********1110"),
            "{s}"
        );
        assert!(s.contains("Old card 6399000123"), "{s}");
        assert_eq!(s.matches('➜').count() + s.matches('…').count(), 1, "{s}");
    }

    #[test]
    fn wrong_card_then_removal_says_take_this_card_out() {
        let mut d = desk(Lang::Zh);
        d.show(&Msg::WrongCard {
            want: Want::OldCard,
            found: CardKind::Ssc,
        });
        d.spinner.stop();
        let s = d.screen();
        assert!(
            s.contains("这不是旧医保卡：读卡器里是一张社保卡。请换卡。"),
            "{s}"
        );
        d.show(&Msg::Remove(Want::OldCard, "R".into()));
        d.spinner.stop();
        let s = d.screen();
        assert!(s.contains("请从读卡器“R”取出这张卡。"), "{s}");
    }

    #[test]
    fn receipt_and_failure_screens() {
        let mut d = desk(Lang::Zh);
        d.card_at = Some((Want::OldCard, "R".into()));
        d.trouble(Trouble::CardPulled, 1, 3);
        let s = d.screen();
        assert!(s.contains("⚠ 旧医保卡被过早取出。请放回读卡器“R”"), "{s}");
        assert!(s.contains("第 1 次，共 3 次"), "{s}");
        let r = crate::ui::receipt::sample();
        d.finished(Some(&r));
        let s = d.screen();
        assert!(s.contains("╭─ ✔ 办理完成"), "{s}");
        assert_eq!(s.matches("完成").count(), 1, "one \"done\": {s}");
        assert!(s.contains("转移金额"), "{s}");
        assert!(s.contains("1234.56 元"), "{s}");
        assert!(!s.contains("⚠"), "resolved warnings are gone: {s}");
        let a = crate::ui::advice::advise_transport(
            Lang::Zh,
            &crate::apdu::TransportError::CardRemoved,
        );
        d.failed(&a, Some(3));
        let s = d.screen();
        assert!(s.contains("✘ 卡片被过早取出"), "{s}");
        assert!(s.contains("已尝试恢复 3 次"), "{s}");
        assert!(s.contains("技术信息：the card was removed"), "{s}");
    }
}
