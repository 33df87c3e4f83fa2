//! Which failures the desk can recover from, and what to tell the holder then.
//!
//! A pulled card, a reset, a reader or pcscd that went away, a card that did not come
//! in time: none of these changes what the cards or the journal hold in a way the
//! recovery rules do not cover (spec/activation.md: the invariants hold after a fault
//! at any APDU, and `resume` continues from the old card or the journal). So the desk
//! gives one plain instruction and goes on. Everything else (a refusal, a card that
//! answers something unsafe, a journal that cannot be written) stops, with advice.

use super::i18n::{card_name, Lang, Text};
use crate::activation::desk::Want;
use crate::activation::ActivationError;
use crate::apdu::TransportError;
use crate::card::CardError;
use crate::error::Error;
use crate::sam::SamError;

/// A failure the flow can continue after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// The card left the reader during an exchange.
    CardPulled,
    /// Another program reset the card.
    CardReset,
    /// The card answered garbage or nothing (bad contact).
    BadContact,
    /// The reader is used by another program.
    ReaderBusy,
    /// pcscd is gone.
    ServiceDown,
    /// The reader was unplugged.
    ReaderGone,
    /// No card (or no removal) in time.
    NoCardInTime,
}

impl Trouble {
    /// Whether the desk must wait for pcscd or a reader before going on.
    pub fn needs_service(self) -> bool {
        matches!(self, Trouble::ServiceDown | Trouble::ReaderGone)
    }

    /// The instruction for the desk. `card` is the card the flow was working on and
    /// the reader it was in, when known.
    pub fn instruction(self, lang: Lang, card: Option<(Want, &str)>) -> String {
        match (self, card) {
            (Trouble::CardPulled, Some((want, reader))) => {
                let name = card_name(lang, want);
                match lang {
                    Lang::En => format!(
                        "{} was taken out too early. Put it back into '{reader}' and leave it there until the screen says to remove it.",
                        capitalize(name)
                    ),
                    Lang::Zh => format!(
                        "{name}被过早取出。请放回读卡器“{reader}”，屏幕提示取出前不要拔卡。"
                    ),
                }
            }
            (Trouble::CardPulled, None) => Text::CardPulledUnknown.get(lang).to_string(),
            (Trouble::CardReset, _) => Text::CardReset.get(lang).to_string(),
            (Trouble::BadContact, _) => Text::BadContact.get(lang).to_string(),
            (Trouble::ReaderBusy, _) => Text::ReaderBusy.get(lang).to_string(),
            (Trouble::ServiceDown, _) => Text::ServiceDown.get(lang).to_string(),
            (Trouble::ReaderGone, _) => Text::ReaderGone.get(lang).to_string(),
            (Trouble::NoCardInTime, _) => Text::NoCardInTime.get(lang).to_string(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The trouble behind a transport failure, when the flow can go on after it.
pub fn of_transport(t: &TransportError) -> Option<Trouble> {
    match t {
        // A card pulled from vpcd (and many real readers) shows as an empty answer.
        TransportError::CardRemoved
        | TransportError::NoCard(_)
        | TransportError::ShortResponse(0) => Some(Trouble::CardPulled),
        TransportError::CardReset => Some(Trouble::CardReset),
        TransportError::ShortResponse(_) | TransportError::Pcsc(_) => Some(Trouble::BadContact),
        TransportError::Busy => Some(Trouble::ReaderBusy),
        TransportError::NoService(_) => Some(Trouble::ServiceDown),
        TransportError::NoReaders | TransportError::UnknownReader(_) => Some(Trouble::ReaderGone),
        TransportError::EndlessResponse(_)
        | TransportError::AmbiguousReader { .. }
        | TransportError::Command(_)
        | TransportError::Replay(_)
        | TransportError::Unsupported(_)
        | TransportError::Io(_) => None,
    }
}

/// The trouble behind a top-level error (setup: readers, pcscd).
pub fn of_error(e: &Error) -> Option<Trouble> {
    match e {
        Error::Transport(t) => of_transport(t),
        _ => None,
    }
}

/// The trouble behind an activation failure, when the flow can go on after it.
pub fn classify(e: &ActivationError) -> Option<Trouble> {
    match e {
        ActivationError::Card(CardError::Transport(t)) => of_transport(t),
        ActivationError::Card(CardError::Sam {
            source: SamError::Transport(t),
            ..
        }) => of_transport(t),
        ActivationError::Desk(err) => of_error(err),
        ActivationError::Timeout(_) => Some(Trouble::NoCardInTime),
        ActivationError::Card(_)
        | ActivationError::Journal(_)
        | ActivationError::Refused(_)
        | ActivationError::Refusal(_)
        | ActivationError::Stop(_)
        | ActivationError::Setup(_)
        | ActivationError::Inconsistent(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_failures_are_recoverable_and_refusals_are_not() {
        let pulled: ActivationError = TransportError::CardRemoved.into();
        assert_eq!(classify(&pulled), Some(Trouble::CardPulled));
        let zero: ActivationError = TransportError::ShortResponse(0).into();
        assert_eq!(classify(&zero), Some(Trouble::CardPulled));
        let one: ActivationError = TransportError::ShortResponse(1).into();
        assert_eq!(classify(&one), Some(Trouble::BadContact));
        let gone: ActivationError = TransportError::NoService("x".into()).into();
        assert_eq!(classify(&gone), Some(Trouble::ServiceDown));
        assert!(Trouble::ServiceDown.needs_service());
        let psam = ActivationError::Card(CardError::Sam {
            sam: "PSAM".into(),
            source: SamError::Transport(TransportError::CardRemoved),
        });
        assert_eq!(classify(&psam), Some(Trouble::CardPulled));
        use crate::activation::error::{DeskRefusal, Internal, WaitTimeout};
        let timeout = ActivationError::Timeout(WaitTimeout::NotInserted {
            want: Want::OldCard,
            reader: "R".into(),
        });
        assert_eq!(classify(&timeout), Some(Trouble::NoCardInTime));
        let refused = ActivationError::Refused(DeskRefusal::NotTransferId { text: "x".into() });
        assert_eq!(classify(&refused), None);
        assert_eq!(
            classify(&ActivationError::Inconsistent(Internal::PinMissing)),
            None
        );
    }

    #[test]
    fn instructions_name_the_card_and_reader() {
        let en = Trouble::CardPulled.instruction(Lang::En, Some((Want::OldCard, "R 0")));
        assert!(
            en.starts_with("The old city medical card was taken out too early"),
            "{en}"
        );
        assert!(en.contains("'R 0'"));
        let zh = Trouble::CardPulled.instruction(Lang::Zh, Some((Want::NewCard, "R 0")));
        assert!(zh.starts_with("新社保卡被过早取出"), "{zh}");
    }
}
