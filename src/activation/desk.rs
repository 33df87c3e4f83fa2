//! What the flows say to the desk and ask of it, as data.
//!
//! The flows never print: they hand a [`Msg`] to a [`Desk`], which decides how to show
//! it (plain lines for scripts and logs here; a guided, bilingual screen for staff can
//! implement the same trait). PINs come through the desk too, so no flow can take one
//! from the command line.

use crate::card::CardKind;
use crate::error::Error;
use crate::secret::Pin;

/// Which card a step wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The old city medical card.
    OldCard,
    /// The new social security card.
    NewCard,
}

/// Progress of a flow, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Reading the old card.
    ReadOld,
    /// Holder PIN checked on the old card.
    PinVerified,
    /// The old card is being frozen.
    Freeze,
    /// Reading and checking the new card.
    ReadNew,
    /// Crediting the new card.
    Credit,
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

/// A message for the desk.
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
    /// Anything else worth saying (recovery found, already done, ...).
    Note(String),
}

/// The desk: shows messages, reads PINs and typed input.
pub trait Desk {
    /// Shows a message.
    fn show(&mut self, msg: &Msg);
    /// Asks the holder for a PIN; with `confirm`, asks twice and requires a match.
    fn pin(&mut self, prompt: &str, confirm: bool) -> Result<Pin, Error>;
    /// Asks the operator to type a line (a citizen ID).
    fn line(&mut self, prompt: &str) -> Result<String, Error>;
    /// Whether a person answers (a wrong PIN may then be retried).
    fn interactive(&self) -> bool;
}

/// English text of a step.
pub fn step_english(s: Step) -> &'static str {
    match s {
        Step::ReadOld => "Reading the old card...",
        Step::PinVerified => "PIN accepted.",
        Step::Freeze => "Freezing the old card's account...",
        Step::ReadNew => "Reading and checking the new card...",
        Step::Credit => "Moving the medical account to the new card...",
        Step::ReloadPin => "Setting the new card's PIN...",
        Step::FinishOld => "Marking the old card as migrated...",
        Step::Void => "Voiding the transfer on the new card (writing its floor)...",
        Step::Unfreeze => "Returning the old card to active...",
        Step::Done => "Done.",
    }
}

/// English text of a message (technician view, logs, the plain desk).
pub fn english(msg: &Msg) -> String {
    let card = |w: Want| match w {
        Want::OldCard => "the old city medical card",
        Want::NewCard => "the new social security card",
    };
    match msg {
        Msg::Insert(w, r) => format!("Insert {} into '{r}'.", card(*w)),
        Msg::Remove(w, r) => format!("Remove {} from '{r}'.", card(*w)),
        Msg::WrongCard { want, found } => format!(
            "This is not {}: the reader holds {}. Please swap the cards.",
            card(*want),
            match found {
                CardKind::Ssc => "a social security card",
                CardKind::City => "a city medical card",
                CardKind::Psam => "a PSAM",
                CardKind::Unknown => "an unknown card",
            }
        ),
        Msg::Holder {
            name,
            id_masked,
            card,
        } => format!("Holder: {name}  ID {id_masked}  card {card}"),
        Msg::Step(s) => step_english(*s).to_string(),
        Msg::PinWrong { left } => format!("Wrong PIN: {left} tries left."),
        Msg::Note(n) => n.clone(),
    }
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
/// [`PinReader`](crate::cli::pin_input::PinReader).
pub struct PlainDesk {
    /// Where PINs come from.
    pub pins: crate::cli::pin_input::PinReader,
    /// Where typed lines (citizen IDs) come from when not given as options.
    pub interactive: bool,
}

impl Desk for PlainDesk {
    fn show(&mut self, msg: &Msg) {
        eprintln!("{}", english(msg));
    }

    fn pin(&mut self, prompt: &str, confirm: bool) -> Result<Pin, Error> {
        let pin = self.pins.read(prompt)?;
        if confirm {
            let again = self.pins.read("Enter the PIN again: ")?;
            if again != pin {
                return Err(Error::Other {
                    message: "the two PINs differ".into(),
                    code: crate::error::ExitCode::Refused,
                });
            }
        }
        Ok(pin)
    }

    fn line(&mut self, prompt: &str) -> Result<String, Error> {
        prompt_line(prompt)
    }

    fn interactive(&self) -> bool {
        self.interactive
    }
}
