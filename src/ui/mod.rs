//! What the desk worker sees: the guided screen, the plain lines, in Chinese or
//! English.
//!
//! Why it is separate from the flows: the flows hand messages to a
//! [`Desk`] as data and never print, so the same flow
//! can drive a guided terminal screen for staff ([`guided`]), localized lines for a
//! non-terminal desk ([`lines`]), or the English lines scripts and tests read
//! ([`PlainDesk`]). [`Frontend`] picks one and adds what only the command around the
//! flow knows: recovery instructions ([`trouble`]), the receipt, the final advice.
//!
//! The choice: `--ui guided` or `plain`, or `auto` (the default): guided when stderr
//! is a terminal and `TERM` is not `dumb`. Plain output is English unless a language
//! is set explicitly (`--lang`, or `language` in the configuration file), so existing
//! scripts keep reading the same lines.

pub mod advice;
pub mod guided;
pub mod i18n;
pub mod lines;
pub mod messages;
pub mod receipt;
pub mod spinner;
pub mod steps;
pub mod style;
pub mod trouble;

use crate::activation::desk::{Desk, PlainDesk};
use crate::activation::receipt::Receipt;
use crate::activation::ActivationError;
use crate::error::Error;
use crate::pin_input::PinReader;
use advice::Advice;
use guided::{GuidedDesk, GuidedSetup};
use i18n::{Lang, Text};
use lines::{say, LinesDesk};
use std::time::Duration;
use steps::Plan;
use style::Paint;
use trouble::Trouble;

/// How the desk is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiMode {
    /// Guided on a terminal, plain otherwise.
    #[default]
    Auto,
    /// The guided screen.
    Guided,
    /// One line per message.
    Plain,
}

impl UiMode {
    /// Whether this mode means the guided screen here: `auto` asks whether stderr is
    /// a terminal that can take screen control.
    pub fn guided(self) -> bool {
        use std::io::IsTerminal;
        match self {
            UiMode::Guided => true,
            UiMode::Plain => false,
            UiMode::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
}

/// Why a command stopped.
pub enum Failure<'a> {
    /// The flow stopped.
    Activation(&'a ActivationError),
    /// Setup or input failed.
    Other(&'a Error),
}

impl Failure<'_> {
    /// What the desk is told.
    pub fn advice(&self, lang: Lang) -> Advice {
        match self {
            Failure::Activation(e) => advice::advise_activation(lang, e),
            Failure::Other(e) => advice::advise(lang, e),
        }
    }
}

/// What is needed to pick and build the desk.
pub struct FrontendSetup {
    /// Requested mode.
    pub mode: UiMode,
    /// Desk language.
    pub lang: Lang,
    /// Whether the language was set explicitly (flag or configuration).
    pub lang_explicit: bool,
    /// Where PINs come from.
    pub pins: PinReader,
    /// Whether a person answers prompts.
    pub interactive: bool,
    /// The flow's title.
    pub title: Text,
    /// How long a card is awaited.
    pub timeout: Duration,
    /// The step plan (refined later by [`Frontend::set_context`]).
    pub plan: Plan,
}

/// The desk of one command.
pub enum Frontend {
    /// English lines, exactly as the flows' plain desk prints them.
    Plain(PlainDesk),
    /// Lines in another language.
    Lines(LinesDesk),
    /// The guided screen.
    Guided(Box<GuidedDesk>),
}

impl Frontend {
    /// Picks the desk for `setup`.
    pub fn choose(setup: FrontendSetup) -> Frontend {
        if setup.mode.guided() {
            return Frontend::Guided(Box::new(GuidedDesk::new(GuidedSetup {
                lang: setup.lang,
                paint: Paint::for_stderr(),
                pins: setup.pins,
                interactive: setup.interactive,
                title: setup.title.get(setup.lang).to_string(),
                timeout: setup.timeout,
                plan: setup.plan,
            })));
        }
        if setup.lang_explicit && setup.lang != Lang::En {
            return Frontend::Lines(LinesDesk {
                lang: setup.lang,
                pins: setup.pins,
                interactive: setup.interactive,
            });
        }
        Frontend::Plain(PlainDesk {
            pins: setup.pins,
            interactive: setup.interactive,
        })
    }

    /// The flows' view of it.
    pub fn desk(&mut self) -> &mut dyn Desk {
        match self {
            Frontend::Plain(d) => d,
            Frontend::Lines(d) => d,
            Frontend::Guided(d) => d.as_mut(),
        }
    }

    /// Its language.
    pub fn lang(&self) -> Lang {
        match self {
            Frontend::Plain(_) => Lang::En,
            Frontend::Lines(d) => d.lang,
            Frontend::Guided(d) => d.lang(),
        }
    }

    /// Whether it is the guided screen.
    pub fn is_guided(&self) -> bool {
        matches!(self, Frontend::Guided(_))
    }

    /// Header facts and the step plan, once known.
    /// `operator`: `None` when none is configured.
    pub fn set_context(&mut self, terminal: &str, operator: Option<&str>, plan: Plan) {
        if let Frontend::Guided(d) = self {
            d.set_context(terminal, operator, plan);
        }
    }

    /// Something went wrong and the flow goes on.
    pub fn trouble(&mut self, t: Trouble, attempt: u32, max: u32) {
        match self {
            Frontend::Guided(d) => d.trouble(t, attempt, max),
            _ => {
                let lang = self.lang();
                let text = t.instruction(lang, None);
                say(&match lang {
                    Lang::En => format!("{text} (Recovering: attempt {attempt} of {max}.)"),
                    Lang::Zh => format!("{text}（正在恢复：第 {attempt} 次，共 {max} 次）"),
                });
            }
        }
    }

    /// Waits for pcscd and the readers.
    pub fn waiting_for_service(&mut self, timeout: Duration) {
        match self {
            Frontend::Guided(d) => d.waiting_for_service(timeout),
            _ => say(&format!("{}...", Text::WaitingService.get(self.lang()))),
        }
    }

    /// pcscd and the readers are back.
    pub fn service_back(&mut self) {
        match self {
            Frontend::Guided(d) => d.service_back(),
            _ => say(Text::ServiceBack.get(self.lang())),
        }
    }

    /// Asks whether to use the last PIN try (guided and interactive only).
    pub fn confirm_last_try(&mut self) -> bool {
        match self {
            Frontend::Guided(d) => d.confirm_last_try(),
            _ => false,
        }
    }

    /// The flow finished.
    pub fn finished(&mut self, receipt: Option<&Receipt>) {
        if let Frontend::Guided(d) = self {
            d.finished(receipt);
        }
    }

    /// The command stopped. Returns `false` when the caller should let the usual
    /// error report print it (plain English, as scripts expect).
    pub fn failed(&mut self, f: Failure<'_>, gave_up_after: Option<u32>) -> bool {
        let lang = self.lang();
        match self {
            Frontend::Plain(_) => {
                if let Some(n) = gave_up_after {
                    say(&format!("Tried {n} times to recover; stopping here."));
                }
                false
            }
            Frontend::Lines(_) => {
                if let Some(n) = gave_up_after {
                    say(&format!("已尝试恢复 {n} 次，现停止办理。"));
                }
                lines::report(lang, &f.advice(lang));
                true
            }
            Frontend::Guided(d) => {
                d.failed(&f.advice(lang), gave_up_after);
                true
            }
        }
    }

    /// The text receipt for stdout in the desk's language (English: unchanged).
    pub fn receipt_text(&self, r: &Receipt) -> String {
        receipt::text(self.lang(), r)
    }

    /// Whether the receipt also goes to stdout: not when the guided screen already
    /// shows it on the same terminal.
    pub fn stdout_receipt(&self) -> bool {
        use std::io::IsTerminal;
        !(self.is_guided() && std::io::stdout().is_terminal())
    }
}
