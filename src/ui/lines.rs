//! The plain desk in another language: one line per message, no screen control.
//!
//! For a desk that is not a terminal (a log, a kiosk wrapper, a serial console) but
//! whose staff read Chinese: `--lang zh` with plain output. Without an explicit
//! language, plain output is [`PlainDesk`](crate::activation::desk::PlainDesk)'s
//! English, unchanged, because scripts and tests read those lines.

use super::i18n::{self, Lang, Text};
use super::messages;
use crate::activation::core::Prompt;
use crate::activation::desk::{Ask, Desk, Msg};
use crate::error::{Error, ExitCode};
use crate::pin_input::PinReader;
use crate::secret::Pin;
use std::io::Write;

/// Writes one line to stderr; a closed stderr is not worth a panic.
pub fn say(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Localized plain lines.
pub struct LinesDesk {
    /// The language.
    pub lang: Lang,
    /// Where PINs come from.
    pub pins: PinReader,
    /// Whether a person answers.
    pub interactive: bool,
}

impl Desk for LinesDesk {
    fn show(&mut self, msg: &Msg) {
        say(&messages::desk(self.lang, msg));
    }

    fn pin(&mut self, ask: Ask, confirm: bool) -> Result<Pin, Error> {
        let pin = self.pins.read(&messages::ask(self.lang, ask))?;
        if confirm {
            let again = self.pins.read(&messages::ask(self.lang, Ask::Again))?;
            if again != pin {
                return Err(Error::Other {
                    message: "the two PINs differ".into(),
                    code: ExitCode::Refused,
                });
            }
        }
        Ok(pin)
    }

    fn line(&mut self, prompt: Prompt) -> Result<String, Error> {
        crate::activation::desk::prompt_line(&messages::prompt(self.lang, prompt))
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}

/// Prints why the command stopped, in `lang`, as `sscard: error: ...` and `hint: ...`
/// lines (the technical message follows for technicians).
pub fn report(lang: Lang, advice: &crate::ui::advice::Advice) {
    say(&format!(
        "sscard: {}{}",
        i18n::prefix(lang, Text::ErrorPrefix),
        advice.title
    ));
    say(&format!(
        "{}{}",
        i18n::prefix(lang, Text::HintPrefix),
        advice.addressed(lang)
    ));
    say(&format!(
        "{}{}",
        i18n::prefix(lang, Text::Details),
        advice.detail
    ));
}
