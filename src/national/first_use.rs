//! First use driven by the HIS: the hospital's system activates a patient's new card
//! while it registers them (spec/activation.md, "Window and first-use flows").
//!
//! Why it is built on the desk's activation and not on the national read path: the
//! first use is the same protocol `sscard activate first-use` runs (refused like
//! pharmacy step 1, optional PIN verification with the PIN rule, EXTERNAL
//! AUTHENTICATE key 0C in DF04, tags 24, 25, then 22 = `01`, log type `02`), with the
//! same journal, so that the desk's recovery (`sscard journal list`, `sscard activate
//! resume ID`) sees what a call of the HIS did and a card pulled mid-write is
//! never left behind unknown. This module only adapts that driver
//! ([`crate::activation::driver::run`] with `Start::FirstUse`) to a caller without a
//! screen or keyboard:
//! - the desk is `HisDesk`: it shows nothing (no holder data reaches a log), types
//!   no citizen ID (first use has none), and takes PINs from the desk's PIN device
//!   ([`PinPad`]) only when the caller asked for the holder's verification;
//! - the card must already be in the reader: the wait for a card is zero, so an
//!   empty reader is −2 at once and a wrong card −1;
//! - the outcome is sorted into one national return code (`failure_of`); the codes
//!   the national table has no name for (already active, expired, an unfinished
//!   transfer, interrupted, journal) are sscard's own −41…−47, documented in
//!   [`NationalError`] and include/sscard.h.

use super::desk::Settings;
use super::error::{Failure, NationalError};
use super::pin::{PinPad, PinPrompt};
use crate::activation::core::{Prompt, Refusal, Start, Stop};
use crate::activation::desk::{Ask, Desk, Msg};
use crate::activation::driver::{self, Context, Outcome};
use crate::activation::error::{ActivationError, Setup, WaitTimeout};
use crate::activation::journal::{Journal, State};
use crate::activation::receipt::Receipt;
use crate::activation::slots::Slots;
use crate::error::{Error, ExitCode};
use crate::profile::Profiles;
use crate::reader::ReaderSelector;
use crate::secret::Pin;
use std::collections::HashMap;
use std::time::Duration;

/// A first use that completed.
#[derive(Debug, Clone)]
pub struct Activated {
    /// The receipt (as `sscard activate first-use --receipt json` prints it; its
    /// `transfer_id` is the journal's id).
    pub receipt: Receipt,
    /// The card's basic line after activation (as `iReadCardBas`).
    pub line: String,
}

/// The desk of a HIS call: no screen, no keyboard; PINs from the PIN device.
struct HisDesk<'a> {
    pad: Option<&'a mut dyn PinPad>,
    /// The card in the reader is not a social security card.
    wrong_card: bool,
    /// Why the last PIN entry failed (device, length), for the return code.
    pin_failure: Option<Failure>,
    /// A new PIN typed first, to compare with its confirmation.
    first_new: Option<Pin>,
    /// The chosen PIN's two entries differed, or it was the initial PIN.
    choice: Option<NationalError>,
}

impl Desk for HisDesk<'_> {
    fn show(&mut self, msg: &Msg) {
        match msg {
            Msg::WrongCard { .. } => self.wrong_card = true,
            // The holder's name and ID stay out of the service's log.
            Msg::Holder { .. } => {}
            m => log::debug!("first use: {}", crate::activation::desk::english(m)),
        }
    }

    fn pin(&mut self, ask: Ask, _confirm: bool) -> Result<Pin, Error> {
        let refuse = |why: &str| Error::Other {
            message: why.to_string(),
            code: ExitCode::Refused,
        };
        let Some(pad) = self.pad.as_deref_mut() else {
            return Err(refuse("no PIN verification asked for"));
        };
        let prompt = match ask {
            Ask::Prompt(Prompt::ChooseNewPin) => PinPrompt::New,
            Ask::Again => PinPrompt::NewAgain,
            Ask::Prompt(_) => PinPrompt::Verify,
        };
        let text = pad.enter(prompt).inspect_err(|f| {
            self.pin_failure = Some(f.clone());
        });
        let pin = text.and_then(|t| {
            Pin::parse(&t)
                .map_err(|_| Failure::new(NationalError::PinLength, "a PIN is 6 digits 0-9"))
        });
        let pin = match pin {
            Ok(p) => p,
            Err(f) => {
                let message = f.detail.clone();
                self.pin_failure = Some(f);
                return Err(refuse(&message));
            }
        };
        match prompt {
            PinPrompt::New => self.first_new = Some(pin.clone()),
            PinPrompt::NewAgain => {
                let initial = Pin::parse(super::pin::INITIAL_PIN).ok();
                self.choice = match &self.first_new {
                    Some(first) if *first != pin => Some(NationalError::PinEntriesDiffer),
                    _ if Some(&pin) == initial.as_ref() => Some(NationalError::InitialPinChosen),
                    _ => None,
                };
            }
            _ => {}
        }
        Ok(pin)
    }

    fn line(&mut self, _prompt: Prompt) -> Result<String, Error> {
        Err(Error::Other {
            message: "first use driven by the HIS types nothing".into(),
            code: ExitCode::Refused,
        })
    }

    fn interactive(&self) -> bool {
        false
    }
}

/// Runs the first use on the card in the desk's reader (see the module doc).
///
/// # Errors
/// The national codes: −2 no card, −1 not a social security card, −11 reader,
/// −2201…−2203 no PSAM/keys or the PSAM lacks the key, −5 no terminal number;
/// the refusals −41 already active, −42 expired, −43 an unfinished transfer (or a
/// balance without one), −44 blocked, −21 not genuine, −45 another rule (nothing
/// written for any of them); with PIN verification −51/−52 wrong/blocked, −31 no
/// entry, −33 not 6 digits, −34/−36 the new PIN's entries differ / is the initial
/// PIN, −13 no PIN device; −46 interrupted after the journal entry was written (the
/// failure's `transfer` names it; `sscard activate resume ID` finishes it); −47 the journal cannot be written; a card status
/// word as minus its decimal value (e.g. a wrong write key).
pub fn first_use(
    s: &Settings,
    profiles: &Profiles,
    pad: Option<&mut dyn PinPad>,
) -> Result<Activated, Failure> {
    let verify_pin = pad.is_some();
    let reader = super::desk::National::card_reader(s)?;
    let mut sam = crate::sam::open(
        s.keys.as_deref(),
        s.psam_reader
            .as_deref()
            .map(|t| match t.parse::<ReaderSelector>() {
                Ok(sel) => sel,
                Err(e) => match e {},
            })
            .as_ref(),
    )?
    .ok_or_else(|| {
        Failure::new(
            NationalError::NoPsam,
            "first use needs the desk's card keys: configure readers.psam (or keys in a lab)",
        )
    })?;
    let terminal = match (&s.terminal, sam.terminal_number()) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(Failure::new(
                NationalError::LoadFailure,
                "no terminal number: the SAM has none and the configuration gives none",
            ))
        }
    };
    if terminal.len() != 12 || !terminal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Failure::new(
            NationalError::LoadFailure,
            format!("terminal number {terminal:?} is not 12 digits"),
        ));
    }
    let today =
        crate::card::clock::today().map_err(|e| Failure::new(NationalError::LoadFailure, e))?;
    let mut journal = Journal::open(&s.journal).map_err(|e| {
        Failure::new(
            NationalError::Journal,
            format!("journal {}: {e}", s.journal.display()),
        )
    })?;
    let before: HashMap<String, (State, String)> = journal
        .unfinished()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.id, (e.state, e.updated_at)))
        .collect();
    let mut slots = Slots::new(&ReaderSelector::Exact(reader), None, Duration::ZERO)
        .map_err(|e| failure_of(&e, &HisDesk::idle()))?;
    let mut desk = HisDesk {
        pad,
        wrong_card: false,
        pin_failure: None,
        first_new: None,
        choice: None,
    };
    let result = {
        let mut cx = Context {
            profiles,
            sam: sam.as_mut(),
            journal: &mut journal,
            desk: &mut desk,
            slots: &mut slots,
            terminal,
            operator: s.operator.clone(),
            today,
            force_last_try: false,
        };
        driver::run(&mut cx, Start::FirstUse { verify_pin })
    };
    match result {
        Ok(Outcome::Done(receipt)) => Ok(Activated {
            receipt,
            line: String::new(),
        }),
        Ok(Outcome::Cancelled { id, .. }) => Err(Failure::new(
            NationalError::Refused,
            format!("the first use ended as a cancel of {id}"),
        )),
        Err(e) => {
            let mut f = failure_of(&e, &desk);
            // What this call journaled and left unfinished: the desk finishes it
            // (`sscard activate resume ID`).
            let touched: Vec<String> = journal
                .unfinished()
                .unwrap_or_default()
                .into_iter()
                .filter(|x| before.get(&x.id) != Some(&(x.state, x.updated_at.clone())))
                .map(|x| x.id)
                .collect();
            if let Some(id) = touched.into_iter().next() {
                if !matches!(f.error, NationalError::Journal) {
                    f.detail = format!("{} (stopped by: {})", f.error, f.detail);
                    f.error = NationalError::Interrupted;
                }
                f.transfer = Some(id);
            }
            Err(f)
        }
    }
}

impl HisDesk<'_> {
    fn idle() -> HisDesk<'static> {
        HisDesk {
            pad: None,
            wrong_card: false,
            pin_failure: None,
            first_new: None,
            choice: None,
        }
    }
}

/// Sorts an activation's failure into its national code (see [`first_use`]).
fn failure_of(e: &ActivationError, desk: &HisDesk<'_>) -> Failure {
    use NationalError as N;
    let detail = e.to_string();
    let code = match e {
        ActivationError::Card(c) => N::from_card(c),
        ActivationError::Journal(_) => N::Journal,
        ActivationError::Refused(_) => N::InvalidData,
        ActivationError::Timeout(WaitTimeout::NotInserted { .. }) if desk.wrong_card => {
            N::WrongCard
        }
        ActivationError::Timeout(WaitTimeout::NotInserted { .. }) => N::NoCard,
        ActivationError::Timeout(WaitTimeout::NotRemoved { .. }) => N::WrongCard,
        ActivationError::Desk(_) => desk
            .pin_failure
            .as_ref()
            .map_or(N::PinCancelled, |f| f.error),
        ActivationError::Inconsistent(_) => N::InvalidData,
        ActivationError::Refusal(r) => match r {
            Refusal::NewAlreadyActive | Refusal::NewActiveWithOtherTransfer => N::AlreadyActive,
            Refusal::NewExpired { .. } => N::Expired,
            Refusal::UnfinishedTransferOnNew { .. } | Refusal::BalanceWithoutTransfer { .. } => {
                N::UnfinishedTransfer
            }
            Refusal::NewStatus { .. } => N::CardBlocked,
            Refusal::NotGenuine { .. } => N::InternalAuth,
            Refusal::CitizenIdCheckDigit => N::InvalidData,
            Refusal::PinWrong { left } => N::WrongPin { tries_left: *left },
            Refusal::PinBlocked => N::PinBlocked,
            Refusal::PinLastTry => N::WrongPin { tries_left: 1 },
            Refusal::PinNotChosen => desk.choice.unwrap_or(N::PinEntriesDiffer),
            Refusal::NoInput => desk
                .pin_failure
                .as_ref()
                .map_or(N::PinCancelled, |f| f.error),
            _ => N::Refused,
        },
        ActivationError::Stop(s) => match s {
            Stop::JournalFailed => N::Journal,
            _ => N::Interrupted,
        },
        ActivationError::Setup(s) => match s {
            Setup::NoKeys(_) | Setup::KeyFile(_) => N::NoPsam,
            Setup::Psam { error, .. } => N::from_sam(error),
            Setup::NoTerminal | Setup::BadTerminal(_) => N::LoadFailure,
        },
    };
    Failure::new(code, detail)
}

/// The exit code `sscard activate first-use` ends with for the same cause (the
/// service's typed API puts it in its `sscard-error` document).
pub fn exit_code(e: NationalError) -> ExitCode {
    use NationalError as N;
    match e {
        N::NoCard => ExitCode::NoCard,
        N::Reader => ExitCode::NoReader,
        N::WrongCard => ExitCode::UnknownCard,
        N::NoAnswer | N::NotPowered | N::Interrupted => ExitCode::CardLost,
        N::LoadFailure | N::BadParameter => ExitCode::Usage,
        N::InvalidData => ExitCode::InvalidData,
        N::NoPsam | N::PsamNoAlgorithm | N::PsamNoKey => ExitCode::Keys,
        N::Journal => ExitCode::Journal,
        N::AlreadyActive
        | N::Expired
        | N::UnfinishedTransfer
        | N::CardBlocked
        | N::Refused
        | N::InternalAuth
        | N::WrongPin { .. }
        | N::PinBlocked
        | N::PinCancelled
        | N::PinLength
        | N::PinEntriesDiffer
        | N::InitialPin
        | N::InitialPinChosen => ExitCode::Refused,
        N::Unsupported => ExitCode::Usage,
        N::HsmMismatch | N::NoHsmNeeded | N::Status(_) => ExitCode::CardStatus,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activation::core::{SscStatus, TransferId, Which};

    #[test]
    fn refusals_get_their_own_codes() {
        let d = HisDesk::idle();
        let code = |r: Refusal| failure_of(&ActivationError::Refusal(r), &d).code();
        assert_eq!(code(Refusal::NewAlreadyActive), -41);
        assert_eq!(
            code(Refusal::NewExpired {
                expiry: crate::profile::Date::from_ymd_opt(2020, 1, 1).unwrap()
            }),
            -42
        );
        let id = TransferId::new(0, [7; 12]);
        assert_eq!(code(Refusal::UnfinishedTransferOnNew { id }), -43);
        assert_eq!(
            code(Refusal::BalanceWithoutTransfer { balance_fen: 1 }),
            -43
        );
        assert_eq!(
            code(Refusal::NewStatus {
                status: SscStatus::Blocked
            }),
            -44
        );
        assert_eq!(code(Refusal::NotGenuine { which: Which::New }), -21);
        assert_eq!(code(Refusal::PinWrong { left: 2 }), -51);
        assert_eq!(code(Refusal::PinBlocked), -52);
        assert_eq!(code(Refusal::NoInput), -31);
        assert_eq!(code(Refusal::OtherPerson), -45);
        let t = ActivationError::Timeout(WaitTimeout::NotInserted {
            want: crate::activation::desk::Want::NewCard,
            reader: "r".into(),
        });
        assert_eq!(failure_of(&t, &d).code(), -2);
        let wrong = HisDesk {
            wrong_card: true,
            ..HisDesk::idle()
        };
        assert_eq!(failure_of(&t, &wrong).code(), -1);
        let distinct: std::collections::HashSet<i32> =
            [-41, -42, -43, -44, -45, -46, -47].into_iter().collect();
        assert_eq!(distinct.len(), 7);
        assert_eq!(exit_code(NationalError::AlreadyActive), ExitCode::Refused);
        assert_eq!(exit_code(NationalError::NoCard), ExitCode::NoCard);
    }
}
