//! The PIN functions (`iVerifyPIN`, `iChangePIN`): the PIN comes from the desk's PIN
//! device, never from the caller.
//!
//! Why a trait: the national functions take no PIN argument (the driver asks the
//! desk's PIN device, national-interface.md §5), and desks differ: a terminal with
//! echo off, a serial pinpad, a file for automation. [`PinPad`] is the one question
//! ("the PIN for this prompt"), so the card logic here is the same for all of them and
//! testable without one. PINs live in zeroized buffers and appear in no message.

use super::error::{Failure, NationalError};
use crate::apdu::{catalogue, Channel, Status};
use crate::profile::Profiles;
use crate::secret::Pin;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// The PIN every card is issued with (cards.md §1.3); activation.md's PIN rule: a card
/// on it cannot transact (−35) and it cannot be chosen (−36).
pub const INITIAL_PIN: &str = "123456";

/// What the PIN device is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinPrompt {
    /// The PIN, to verify it.
    Verify,
    /// The current PIN, to change it.
    Old,
    /// The new PIN.
    New,
    /// The new PIN again.
    NewAgain,
}

impl PinPrompt {
    /// The prompt shown on a terminal (both languages: the holder reads it;
    /// [`crate::ui::messages::pin_prompt`]).
    pub fn text(self) -> &'static str {
        crate::ui::messages::pin_prompt(self)
    }
}

/// A source of PINs: the desk's PIN device.
pub trait PinPad {
    /// The text the holder entered for `prompt`.
    ///
    /// # Errors
    /// −31 cancelled, −32 timed out, −13 no PIN device.
    fn enter(&mut self, prompt: PinPrompt) -> Result<Zeroizing<String>, Failure>;
}

/// The controlling terminal, echo off (`/dev/tty`, through `rpassword`).
#[derive(Debug, Default)]
pub struct TerminalPad;

impl PinPad for TerminalPad {
    fn enter(&mut self, prompt: PinPrompt) -> Result<Zeroizing<String>, Failure> {
        rpassword::prompt_password(prompt.text())
            .map(Zeroizing::new)
            .map_err(|e| {
                Failure::new(
                    NationalError::Unsupported,
                    format!("no PIN device: the terminal cannot be read ({e})"),
                )
            })
    }
}

/// PINs from a file, one per line in prompt order (automation and tests). The file
/// must be readable by its owner only; it is read at each national call, so every
/// call starts from its first line. Running out of lines is a cancelled entry (−31).
#[derive(Debug)]
pub struct FilePad {
    lines: Vec<Zeroizing<String>>,
    next: usize,
}

impl FilePad {
    /// Reads the PIN file (at most 4 KiB).
    ///
    /// # Errors
    /// −13 (no usable PIN device) for a file others may read, or that cannot be read.
    pub fn load(path: &PathBuf) -> Result<FilePad, Failure> {
        use std::io::Read;
        let bad = |why: String| {
            Failure::new(
                NationalError::Unsupported,
                format!("PIN file {}: {why}", path.display()),
            )
        };
        crate::secret::check_private_file(path).map_err(bad)?;
        let mut text = Zeroizing::new(String::new());
        std::fs::File::open(path)
            .and_then(|f| f.take(4096).read_to_string(&mut text))
            .map_err(|e| bad(e.to_string()))?;
        Ok(FilePad {
            lines: text
                .lines()
                .map(|l| Zeroizing::new(l.to_string()))
                .collect(),
            next: 0,
        })
    }

    /// PINs from lines in memory (tests).
    pub fn from_lines(lines: &[&str]) -> FilePad {
        FilePad {
            lines: lines
                .iter()
                .map(|l| Zeroizing::new(l.to_string()))
                .collect(),
            next: 0,
        }
    }
}

impl PinPad for FilePad {
    fn enter(&mut self, _prompt: PinPrompt) -> Result<Zeroizing<String>, Failure> {
        let line = self.lines.get(self.next).cloned().ok_or_else(|| {
            Failure::new(
                NationalError::PinCancelled,
                "the PIN file has no more lines",
            )
        })?;
        self.next += 1;
        Ok(line)
    }
}

fn ask(pad: &mut dyn PinPad, prompt: PinPrompt) -> Result<Pin, Failure> {
    let text = pad.enter(prompt)?;
    Pin::parse(&text).map_err(|_| Failure::new(NationalError::PinLength, "a PIN is 6 digits 0-9"))
}

fn initial() -> Pin {
    // A constant of six digits: parses.
    Pin::parse(INITIAL_PIN).unwrap_or_else(|_| unreachable!("INITIAL_PIN is 6 digits"))
}

/// The outcome of VERIFY or CHANGE PIN as a national result.
fn pin_status(status: Status, what: &str) -> Result<(), Failure> {
    match status {
        Status::Success => Ok(()),
        Status::TriesLeft(0) | Status::AuthBlocked => Err(Failure::new(
            NationalError::PinBlocked,
            format!("{what}: {status}"),
        )),
        Status::TriesLeft(n) => Err(Failure::new(
            NationalError::WrongPin { tries_left: n },
            format!("{what}: {status}"),
        )),
        s => Err(Failure::new(
            NationalError::from_status(s),
            format!("{what}: {s}"),
        )),
    }
}

/// VERIFY and CHANGE PIN return no data (cards.md §1.3): a card that answers some
/// (`61xx` to a command without Le) is not trusted to have checked the PIN.
fn no_data(data: &[u8], what: &str) -> Result<(), Failure> {
    if data.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(
            NationalError::InvalidData,
            format!(
                "{what}: the card answered {} bytes of data, none expected",
                data.len()
            ),
        ))
    }
}

/// `iVerifyPIN`: selects the card's application, asks the PIN device, VERIFY.
///
/// # Errors
/// −1 another card; −33 not 6 digits; −51 wrong (tries left in the failure); −52
/// blocked; −35 when the PIN verified is the initial PIN (the card cannot transact).
pub fn verify_pin(
    ch: &mut Channel<'_>,
    profiles: &Profiles,
    pad: &mut dyn PinPad,
) -> Result<(), Failure> {
    super::read::open_ssc(ch, profiles)?;
    let pin = ask(pad, PinPrompt::Verify)?;
    let r = ch.send(&catalogue::verify(&pin))?;
    no_data(&r.data, "VERIFY")?;
    pin_status(r.status, "VERIFY")?;
    if pin == initial() {
        return Err(Failure::new(
            NationalError::InitialPin,
            "the card is on its initial PIN: change it (iChangePIN) before it can transact",
        ));
    }
    Ok(())
}

/// `iChangePIN`: selects the card's application, asks the current PIN and the new one
/// twice, CHANGE PIN. The entries are checked before the card sees anything.
///
/// # Errors
/// −33 not 6 digits; −34 the new entries differ; −36 the new PIN is the initial PIN;
/// −51/−52 the current PIN is wrong / blocked.
pub fn change_pin(
    ch: &mut Channel<'_>,
    profiles: &Profiles,
    pad: &mut dyn PinPad,
) -> Result<(), Failure> {
    super::read::open_ssc(ch, profiles)?;
    let old = ask(pad, PinPrompt::Old)?;
    let new = ask(pad, PinPrompt::New)?;
    let again = ask(pad, PinPrompt::NewAgain)?;
    if new != again {
        return Err(Failure::new(
            NationalError::PinEntriesDiffer,
            "the two new PINs differ",
        ));
    }
    if new == initial() {
        return Err(Failure::new(
            NationalError::InitialPinChosen,
            "the initial PIN cannot be the new PIN",
        ));
    }
    let r = ch.send(&catalogue::change_pin(&old, &new))?;
    no_data(&r.data, "CHANGE PIN")?;
    pin_status(r.status, "CHANGE PIN")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(pin_status(Status::Success, "x").is_ok());
        assert_eq!(
            pin_status(Status::TriesLeft(4), "x").unwrap_err().error,
            NationalError::WrongPin { tries_left: 4 }
        );
        assert_eq!(
            pin_status(Status::TriesLeft(0), "x").unwrap_err().code(),
            -52
        );
        assert_eq!(
            pin_status(Status::AuthBlocked, "x").unwrap_err().code(),
            -52
        );
        assert_eq!(
            pin_status(Status::SecurityNotSatisfied, "x")
                .unwrap_err()
                .code(),
            -27010
        );
    }

    #[test]
    fn file_pad_hands_out_lines_then_cancels() {
        let mut p = FilePad::from_lines(&["111111", "12345"]);
        assert_eq!(
            ask(&mut p, PinPrompt::Old).unwrap(),
            Pin::parse("111111").unwrap()
        );
        assert_eq!(ask(&mut p, PinPrompt::New).unwrap_err().code(), -33);
        assert_eq!(ask(&mut p, PinPrompt::New).unwrap_err().code(), -31);
    }
}
