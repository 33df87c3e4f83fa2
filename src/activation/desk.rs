//! What the flows say to the desk and ask of it, as data.
//!
//! The flows never print: they hand a [`Msg`] to a [`Desk`], which decides how to show
//! it (plain lines for scripts and logs here; a guided, bilingual screen for staff can
//! implement the same trait). PINs come through the desk too, so no flow can take one
//! from the command line.

use crate::card::CardKind;
use crate::error::Error;
use crate::secret::Pin;

use super::core::{Note, Prompt};

/// Which card a step wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The old city medical card.
    OldCard,
    /// The new social security card.
    NewCard,
}

/// Progress of a flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::VariantArray)]
pub enum Step {
    /// Reading and checking the new card.
    ReadNew,
    /// Proving the desk's medical write key on the new card (before any freeze).
    ProveKey,
    /// Reading the old card.
    ReadOld,
    /// Holder PIN checked on the old card.
    PinVerified,
    /// The old card is being frozen.
    Freeze,
    /// The old card is frozen, bound to the new card.
    Frozen,
    /// Crediting the new card.
    Credit,
    /// Activating a card's medical function (window, first use).
    Activate,
    /// Setting the new card's PIN.
    ReloadPin,
    /// Marking the old card migrated.
    FinishOld,
    /// Voiding the transfer on the new card: its floor (cancel).
    Void,
    /// Returning the old card to active (cancel).
    Unfreeze,
    /// Done.
    Done,
}

/// The card service (pcscd) while the desk waits for a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// pcscd went away; the wait goes on.
    Lost,
    /// pcscd is back.
    Back,
}

/// A message for the desk: data only; each desk renders it in its language with
/// [`crate::ui::messages::desk`] (one exhaustive `match` per language).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Msg {
    /// Insert a card into a reader.
    Insert(Want, String),
    /// Remove the card from a reader.
    Remove(Want, String),
    /// The card in the reader is not the one wanted.
    WrongCard {
        /// The card wanted.
        want: Want,
        /// What is in the reader.
        found: CardKind,
    },
    /// Whose card this is.
    Holder {
        /// Holder name.
        name: String,
        /// Masked citizen ID.
        id_masked: String,
        /// Card number.
        card: String,
    },
    /// A step started.
    Step(Step),
    /// The PIN was wrong.
    PinWrong {
        /// Tries left.
        left: u8,
    },
    /// pcscd went away or came back during a wait.
    Service(Service),
    /// A note of the protocol core (recovery found, already done, ...).
    Note(Note),
}

/// What a PIN entry asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ask {
    /// The core's question.
    Prompt(Prompt),
    /// The same PIN once more (confirmation).
    Again,
}

/// The desk: shows messages, reads PINs and typed input.
pub trait Desk {
    /// Shows a message.
    fn show(&mut self, msg: &Msg);
    /// Asks the holder for a PIN; with `confirm`, asks twice and requires a match.
    ///
    /// # Errors
    /// No PIN could be read (no terminal, end of input, malformed PIN).
    fn pin(&mut self, ask: Ask, confirm: bool) -> Result<Pin, Error>;
    /// Asks the operator to type a line (a citizen ID).
    ///
    /// # Errors
    /// Standard input could not be read.
    fn line(&mut self, prompt: Prompt) -> Result<String, Error>;
    /// Whether a person answers (a wrong PIN may then be retried).
    fn interactive(&self) -> bool;
}

/// English text of a message (technician view, logs, the plain desk).
pub fn english(msg: &Msg) -> String {
    crate::ui::messages::desk(crate::ui::messages::Lang::En, msg)
}

/// Shows `prompt` on stderr and reads one line of standard input, trimmed (every
/// desk's typed input: a citizen ID).
pub fn prompt_line(prompt: &str) -> Result<String, Error> {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(prompt.as_bytes());
    let _ = err.flush();
    drop(err);
    let mut s = String::new();
    std::io::stdin().read_line(&mut s).map_err(|e| Error::Io {
        path: "stdin".into(),
        source: e,
    })?;
    Ok(s.trim().to_string())
}

/// A desk that prints English lines to stderr and reads PINs from a
/// [`PinReader`](crate::pin_input::PinReader).
pub struct PlainDesk {
    /// Where PINs come from.
    pub pins: crate::pin_input::PinReader,
    /// Where typed lines (citizen IDs) come from when not given as options.
    pub interactive: bool,
}

impl Desk for PlainDesk {
    fn show(&mut self, msg: &Msg) {
        eprintln!("{}", english(msg));
    }

    fn pin(&mut self, ask: Ask, confirm: bool) -> Result<Pin, Error> {
        use crate::ui::messages::{ask as text, Lang};
        let pin = self.pins.read(&text(Lang::En, ask))?;
        if confirm {
            let again = self.pins.read(&text(Lang::En, Ask::Again))?;
            if again != pin {
                return Err(Error::Other {
                    message: "the two PINs differ".into(),
                    code: crate::error::ExitCode::Refused,
                });
            }
        }
        Ok(pin)
    }

    fn line(&mut self, prompt: Prompt) -> Result<String, Error> {
        prompt_line(&crate::ui::messages::prompt(
            crate::ui::messages::Lang::En,
            prompt,
        ))
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}
