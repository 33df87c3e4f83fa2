//! The reader slots of a desk: waiting for the wanted card and opening it.
//!
//! One reader (insert old, remove, insert new) or two (old and new side by side). The
//! slots wait on card events (a blocking status change, never a sleep) with a timeout,
//! identify the card by SELECT, and turn a wrong card into an instruction instead of
//! an error: the desk is told what is in the reader and what to do.

use super::desk::{Desk, Msg, Want};
use super::error::ActivationError;
use crate::apdu::Channel;
use crate::card::{identify, CardKind, Selection};
use crate::profile::{Profile, Profiles};
use crate::reader::{
    establish, list_readers, ConnectOptions, Event, PcscCard, ReaderName, ReaderSelector, Watcher,
};
use std::time::Duration;

/// An opened card: its channel, profile and the detection's selection.
pub struct Opened<'p> {
    /// The kind found.
    pub kind: CardKind,
    /// Its profile.
    pub profile: &'p Profile,
    /// The channel (the connection is exclusive while the flow works on the card).
    pub ch: Channel<'static>,
    /// The DF the detection selected.
    pub selection: Option<Selection>,
}

/// The readers of the desk.
pub struct Slots {
    watcher: Watcher,
    /// Reader for the old card (its exact name bytes; `Display` decodes them).
    pub old_reader: ReaderName,
    /// Reader for the new card (the same as `old_reader` with one reader).
    pub new_reader: ReaderName,
    /// How long to wait for the holder to insert or remove a card.
    pub timeout: Duration,
    /// Where to record a transcript of every card opened (secrets redacted).
    pub dump: Option<std::path::PathBuf>,
}

fn resolve(sel: &ReaderSelector) -> Result<ReaderName, ActivationError> {
    let ctx = establish()?;
    let readers = list_readers(&ctx)?;
    Ok(sel.pick(&readers)?.name.clone())
}

impl Slots {
    /// Slots for `old` and `new` (the same selector, or `new` absent, means one reader).
    pub fn new(
        old: &ReaderSelector,
        new: Option<&ReaderSelector>,
        timeout: Duration,
    ) -> Result<Slots, ActivationError> {
        let old_reader = resolve(old)?;
        let new_reader = match new {
            Some(n) => resolve(n)?,
            None => old_reader.clone(),
        };
        Ok(Slots {
            watcher: Watcher::new()?,
            old_reader,
            new_reader,
            timeout,
            dump: None,
        })
    }

    /// Whether old and new cards share one reader.
    pub fn one_reader(&self) -> bool {
        self.old_reader == self.new_reader
    }

    fn reader_of(&self, want: Want) -> ReaderName {
        match want {
            Want::OldCard => self.old_reader.clone(),
            Want::NewCard => self.new_reader.clone(),
        }
    }

    /// Whether a card is in `want`'s reader now.
    pub fn present(&mut self, want: Want) -> Result<bool, ActivationError> {
        let reader = self.reader_of(want);
        Ok(self.watcher.wait_card(&reader, Duration::ZERO)?.is_some())
    }

    /// Waits for the wanted card and opens it; a wrong card is shown to the desk and
    /// the holder asked to swap it.
    pub fn open<'p>(
        &mut self,
        want: Want,
        profiles: &'p Profiles,
        desk: &mut dyn Desk,
    ) -> Result<Opened<'p>, ActivationError> {
        let reader = self.reader_of(want);
        loop {
            if self.watcher.wait_card(&reader, Duration::ZERO)?.is_none() {
                desk.show(&Msg::Insert(want, reader.to_string()));
                let mut notice = |e: &Event| service_notice(desk, e);
                if self
                    .watcher
                    .wait_card_with(&reader, self.timeout, &mut notice)?
                    .is_none()
                {
                    return Err(ActivationError::Timeout(format!(
                        "no card was inserted into '{reader}'"
                    )));
                }
            }
            let ctx = establish()?;
            let card = PcscCard::connect_with(
                ctx,
                &reader,
                ConnectOptions {
                    exclusive: true,
                    ..ConnectOptions::default()
                },
            )?;
            let mut ch = match &self.dump {
                Some(path) => Channel::recording_append(Box::new(card), path)?,
                None => Channel::new(Box::new(card)),
            };
            let found = identify(&mut ch, profiles)?;
            let wanted = match want {
                Want::OldCard => CardKind::City,
                Want::NewCard => CardKind::Ssc,
            };
            if found.kind == wanted {
                if let Some(profile) = found.profile {
                    return Ok(Opened {
                        kind: found.kind,
                        profile,
                        ch,
                        selection: found.selection,
                    });
                }
            }
            drop(ch);
            desk.show(&Msg::WrongCard {
                want,
                found: found.kind,
            });
            // Name the card that is in the reader, not the one wanted.
            let in_reader = match found.kind {
                CardKind::City => Want::OldCard,
                CardKind::Ssc => Want::NewCard,
                _ => want,
            };
            self.wait_empty(&reader, in_reader, desk)?;
        }
    }

    /// Asks for the card in `want`'s reader to be removed and waits until it is.
    pub fn wait_removed(&mut self, want: Want, desk: &mut dyn Desk) -> Result<(), ActivationError> {
        let reader = self.reader_of(want);
        self.wait_empty(&reader, want, desk)
    }

    /// Asks for `card` to be taken out of `reader` and waits until it is.
    fn wait_empty(
        &mut self,
        reader: &ReaderName,
        card: Want,
        desk: &mut dyn Desk,
    ) -> Result<(), ActivationError> {
        if self.watcher.wait_removal(reader, Duration::ZERO)? {
            return Ok(());
        }
        desk.show(&Msg::Remove(card, reader.to_string()));
        let mut notice = |e: &Event| service_notice(desk, e);
        if self
            .watcher
            .wait_removal_with(reader, self.timeout, &mut notice)?
        {
            Ok(())
        } else {
            Err(ActivationError::Timeout(format!(
                "the card was not removed from '{reader}'"
            )))
        }
    }
}

/// Tells the desk that pcscd went away or came back while it waits for a card (the
/// wait goes on; a timeout while pcscd is down ends as a pcscd failure, exit 3).
fn service_notice(desk: &mut dyn Desk, e: &Event) {
    match e {
        Event::ServiceLost => desk.show(&Msg::Note(
            "The card service (pcscd) stopped; waiting for it to come back".to_string(),
        )),
        Event::ServiceBack => desk.show(&Msg::Note("The card service (pcscd) is back".to_string())),
        _ => {}
    }
}
