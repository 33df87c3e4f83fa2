//! The national interface's return codes (docs/spec/national-interface.md §3) as one
//! typed enum.
//!
//! Why a type and not integers: the codes are the whole contract with a desk system
//! (a HIS tests `ret == -2` to ask for a card), so every failure of the card, reader,
//! SAM and PIN layers is sorted into exactly one variant in one place
//! ([`NationalError::from_card`]), and the integer is produced by one function
//! ([`NationalError::code`]). A card status word the table does not name becomes
//! [`NationalError::Status`], returned as minus its decimal value (`6982` → −27010).
//! [`Failure`] adds the detail a technician needs (which file, which status) for logs;
//! the detail never holds a PIN, key or cryptogram.

use crate::apdu::{Status, TransportError};
use crate::card::CardError;
use crate::sam::SamError;
use std::fmt;

/// One national return code other than success (`0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NationalError {
    /// −1: wrong card type, or an `iType` this desk does not serve (2, contactless).
    WrongCard,
    /// −2: no card in the reader.
    NoCard,
    /// −3: a card is present but not powered.
    NotPowered,
    /// −4: the card does not answer (lost, removed mid-exchange, or a broken answer).
    NoAnswer,
    /// −5: the library cannot start: its configuration cannot be read or is invalid.
    LoadFailure,
    /// −11: the reader cannot be reached (pcscd down, no reader, reader unknown or busy).
    Reader,
    /// −13: not supported here (e.g. no PIN device at this desk).
    Unsupported,
    /// −14: a bad parameter (an `iType` outside 1–4, a malformed `pKey`, no HSM session).
    BadParameter,
    /// −21: the card's INTERNAL AUTHENTICATE failed (refused, or a malformed proof).
    InternalAuth,
    /// −23: the card's data is malformed or contradicts its layout.
    InvalidData,
    /// −25: the card's internal authentication differs from the HSM's.
    HsmMismatch,
    /// −31: PIN entry cancelled.
    PinCancelled,
    /// −33: the PIN entered is not 6 digits.
    PinLength,
    /// −34: the two entries of the new PIN differ.
    PinEntriesDiffer,
    /// −35: the card is on its initial PIN and cannot transact.
    InitialPin,
    /// −36: the initial PIN cannot be chosen as the new PIN.
    InitialPinChosen,
    /// −51: wrong PIN (`63Cx`, x tries left).
    WrongPin {
        /// Tries left.
        tries_left: u8,
    },
    /// −52: PIN blocked (`6983`).
    PinBlocked,
    /// −2201: no PSAM (nor key file) at this desk, and the card needs one.
    NoPsam,
    /// −2202: the PSAM lacks the algorithm.
    PsamNoAlgorithm,
    /// −2203: the PSAM lacks the key.
    PsamNoKey,
    /// −2204: this card needs no HSM (use `iReadCardBas`).
    NoHsmNeeded,
    /// −41 (sscard's own, first use): the card's medical function is already active.
    AlreadyActive,
    /// −42 (sscard's own, first use): the card has expired (replace it at the bureau).
    Expired,
    /// −43 (sscard's own, first use): the card carries an unfinished transfer (or a
    /// balance without one): a desk must resume or cancel it first.
    UnfinishedTransfer,
    /// −44 (sscard's own, first use): the card's medical status is blocked or unknown.
    CardBlocked,
    /// −45 (sscard's own, first use): another activation rule refused (the detail
    /// names it); nothing was written.
    Refused,
    /// −46 (sscard's own, first use): the activation stopped after its journal entry
    /// was written (card pulled, reader lost, a safety stop); the journal holds the
    /// entry, and `sscard activate first-use` at the desk finishes or refuses it.
    Interrupted,
    /// −47 (sscard's own, first use): the desk's activation journal cannot be opened
    /// or written; nothing further was written to the card.
    Journal,
    /// Any other card status word, returned as minus its decimal value.
    Status(u16),
}

impl NationalError {
    /// The return code (always negative, within the 32-bit range).
    pub fn code(self) -> i32 {
        match self {
            NationalError::WrongCard => -1,
            NationalError::NoCard => -2,
            NationalError::NotPowered => -3,
            NationalError::NoAnswer => -4,
            NationalError::LoadFailure => -5,
            NationalError::Reader => -11,
            NationalError::Unsupported => -13,
            NationalError::BadParameter => -14,
            NationalError::InternalAuth => -21,
            NationalError::InvalidData => -23,
            NationalError::HsmMismatch => -25,
            NationalError::PinCancelled => -31,
            NationalError::PinLength => -33,
            NationalError::PinEntriesDiffer => -34,
            NationalError::InitialPin => -35,
            NationalError::InitialPinChosen => -36,
            NationalError::WrongPin { .. } => -51,
            NationalError::PinBlocked => -52,
            NationalError::NoPsam => -2201,
            NationalError::PsamNoAlgorithm => -2202,
            NationalError::PsamNoKey => -2203,
            NationalError::NoHsmNeeded => -2204,
            NationalError::AlreadyActive => -41,
            NationalError::Expired => -42,
            NationalError::UnfinishedTransfer => -43,
            NationalError::CardBlocked => -44,
            NationalError::Refused => -45,
            NationalError::Interrupted => -46,
            NationalError::Journal => -47,
            NationalError::Status(sw) => -i32::from(sw),
        }
    }

    /// The error a card status word means where the table has no better name (PIN
    /// statuses are sorted by the PIN functions themselves).
    pub fn from_status(status: Status) -> NationalError {
        NationalError::Status(status.code())
    }

    /// Sorts a card-layer failure into its code.
    pub fn from_card(e: &CardError) -> NationalError {
        match e {
            CardError::Transport(t) => Self::from_transport(t),
            CardError::Status { status, .. } | CardError::AuthRefused { status, .. } => {
                Self::from_status(*status)
            }
            CardError::InvalidData { .. } | CardError::Profile(_) => NationalError::InvalidData,
            CardError::Unknown(_) => NationalError::WrongCard,
            CardError::Sam { source, .. } => Self::from_sam(source),
            CardError::NeedsKey(_) => NationalError::NoPsam,
        }
    }

    /// Sorts a reader failure into its code.
    pub fn from_transport(t: &TransportError) -> NationalError {
        match t {
            TransportError::NoService(_)
            | TransportError::UnknownReader(_)
            | TransportError::AmbiguousReader { .. }
            | TransportError::NoReaders
            | TransportError::Busy
            | TransportError::Pcsc(_) => NationalError::Reader,
            TransportError::NoCard(_) => NationalError::NoCard,
            TransportError::CardRemoved
            | TransportError::CardReset
            | TransportError::ShortResponse(_) => NationalError::NoAnswer,
            TransportError::EndlessResponse(_)
            | TransportError::Command(_)
            | TransportError::Replay(_) => NationalError::InvalidData,
            TransportError::Unsupported(_) => NationalError::Unsupported,
            TransportError::Io(_) => NationalError::Reader,
        }
    }

    /// Sorts a SAM failure into its code (−22xx for the PSAM's own failures; a SAM
    /// whose reader fails is a reader failure).
    pub fn from_sam(e: &SamError) -> NationalError {
        match e {
            SamError::Transport(TransportError::NoCard(_)) => NationalError::NoPsam,
            SamError::Transport(_) => NationalError::Reader,
            SamError::UnknownKey { .. } => NationalError::PsamNoKey,
            SamError::PsamStatus {
                status: Status::IncorrectP1P2 | Status::FunctionNotSupported,
                ..
            } => NationalError::PsamNoAlgorithm,
            SamError::PsamStatus { .. } | SamError::PsamData(_) | SamError::KeyFile { .. } => {
                NationalError::NoPsam
            }
        }
    }

    /// What the code means, in Chinese (for a desk's screen;
    /// [`crate::ui::messages::national_error`]).
    pub fn message_zh(self) -> String {
        crate::ui::messages::national_error(crate::ui::messages::Lang::Zh, self)
    }

    /// What the code means, in English.
    pub fn message_en(self) -> String {
        crate::ui::messages::national_error(crate::ui::messages::Lang::En, self)
    }
}

impl fmt::Display for NationalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message_en(), self.code())
    }
}

/// A failed national function: its code and, for logs, what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The code returned.
    pub error: NationalError,
    /// What happened, for a technician's log (no secrets).
    pub detail: String,
    /// The journal's transfer id of an activation this call left unfinished
    /// ([`NationalError::Interrupted`]), for the desk to finish it.
    pub transfer: Option<String>,
}

impl Failure {
    /// A failure with a detail.
    pub fn new(error: NationalError, detail: impl Into<String>) -> Failure {
        Failure {
            error,
            detail: detail.into(),
            transfer: None,
        }
    }

    /// What `pOutInfo` says on failure: the code's meaning in Chinese and English
    /// (and the transfer id of an interrupted activation);
    /// [`crate::ui::messages::national_out_info`].
    pub fn out_info(&self) -> String {
        crate::ui::messages::national_out_info(self.error, self.transfer.as_deref())
    }

    /// The return code.
    pub fn code(&self) -> i32 {
        self.error.code()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.detail)
    }
}

impl std::error::Error for Failure {}

impl From<CardError> for Failure {
    fn from(e: CardError) -> Failure {
        Failure::new(NationalError::from_card(&e), e.to_string())
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Failure {
        Failure::new(NationalError::from_transport(&e), e.to_string())
    }
}

impl From<crate::profile::ProfileError> for Failure {
    fn from(e: crate::profile::ProfileError) -> Failure {
        Failure::new(NationalError::InvalidData, e.to_string())
    }
}

impl From<SamError> for Failure {
    fn from(e: SamError) -> Failure {
        Failure::new(NationalError::from_sam(&e), e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let table = [
            (NationalError::WrongCard, -1),
            (NationalError::NoCard, -2),
            (NationalError::NotPowered, -3),
            (NationalError::NoAnswer, -4),
            (NationalError::LoadFailure, -5),
            (NationalError::Reader, -11),
            (NationalError::Unsupported, -13),
            (NationalError::BadParameter, -14),
            (NationalError::InternalAuth, -21),
            (NationalError::InvalidData, -23),
            (NationalError::HsmMismatch, -25),
            (NationalError::PinCancelled, -31),
            (NationalError::PinLength, -33),
            (NationalError::PinEntriesDiffer, -34),
            (NationalError::InitialPin, -35),
            (NationalError::InitialPinChosen, -36),
            (NationalError::WrongPin { tries_left: 3 }, -51),
            (NationalError::PinBlocked, -52),
            (NationalError::NoPsam, -2201),
            (NationalError::PsamNoAlgorithm, -2202),
            (NationalError::PsamNoKey, -2203),
            (NationalError::NoHsmNeeded, -2204),
            (NationalError::AlreadyActive, -41),
            (NationalError::Expired, -42),
            (NationalError::UnfinishedTransfer, -43),
            (NationalError::CardBlocked, -44),
            (NationalError::Refused, -45),
            (NationalError::Interrupted, -46),
            (NationalError::Journal, -47),
        ];
        for (e, code) in table {
            assert_eq!(e.code(), code, "{e:?}");
            assert!(!e.message_zh().is_empty() && !e.message_en().is_empty());
        }
        // Status words as minus their decimal value (spec §3's examples).
        assert_eq!(NationalError::Status(0x6982).code(), -27010);
        assert_eq!(NationalError::Status(0x6A83).code(), -27267);
        assert_eq!(
            NationalError::from_status(Status::SecurityNotSatisfied).code(),
            -27010
        );
        // Every status word stays in the 32-bit range and negative.
        for sw in 0..=u16::MAX {
            let c = NationalError::Status(sw).code();
            assert!((-65535..=0).contains(&c));
        }
    }

    #[test]
    fn failures_are_sorted() {
        let f = |t: TransportError| NationalError::from_transport(&t);
        assert_eq!(f(TransportError::NoCard("r".into())), NationalError::NoCard);
        assert_eq!(f(TransportError::NoReaders), NationalError::Reader);
        assert_eq!(
            f(TransportError::NoService("x".into())),
            NationalError::Reader
        );
        assert_eq!(f(TransportError::CardRemoved), NationalError::NoAnswer);
        assert_eq!(f(TransportError::ShortResponse(1)), NationalError::NoAnswer);
        assert_eq!(
            f(TransportError::EndlessResponse(9)),
            NationalError::InvalidData
        );
        let e = CardError::status("x", Status::RecordNotFound);
        assert_eq!(NationalError::from_card(&e).code(), -27267);
        let e = CardError::NeedsKey("k".into());
        assert_eq!(NationalError::from_card(&e), NationalError::NoPsam);
        let e = SamError::UnknownKey {
            app: "ssc",
            key_id: 0x0A,
            alg: crate::crypto::Algorithm::Sm4,
        };
        assert_eq!(NationalError::from_sam(&e), NationalError::PsamNoKey);
    }
}
