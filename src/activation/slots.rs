//! The reader slots of a desk: waiting for the wanted card and opening it.
//!
//! One reader (new card checked, old card frozen, new card credited: one card at a
//! time) or two (old and new side by side). The slots wait on card events (a blocking
//! status change, never a sleep) with a timeout, identify the card by SELECT, and turn
//! a wrong card into an instruction instead of an error: the desk is told what is in
//! the reader and what to do.
//!
//! Two backends: PC/SC readers (pcscd), and a [`Bench`] of in-process virtual cards
//! (`crate::vcard::inproc`) for the fast test tier, where a scripted holder inserts
//! and removes cards when the desk waits for them.

use super::desk::{Desk, Msg, Service, Want};
use super::error::{ActivationError, WaitTimeout};
use crate::apdu::Channel;
use crate::card::{identify, CardKind, Selection};
use crate::profile::{Profile, Profiles};
use crate::reader::{
    establish, list_readers, ConnectOptions, Event, PcscCard, ReaderName, ReaderSelector, Watcher,
};
use crate::vcard::inproc::SharedCard;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the desk waits for, as the in-process holder sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cue {
    /// A card of this kind is wanted in the reader.
    Insert(Want, String),
    /// The reader must be emptied.
    Remove(String),
}

/// Reader names and the card each holds.
type Shelf = Vec<(String, Option<SharedCard>)>;

/// In-process readers: named slots holding shared virtual cards.
#[derive(Clone, Default)]
pub struct Bench {
    slots: Arc<Mutex<Shelf>>,
}

impl Bench {
    /// Readers with these names, empty.
    pub fn new(names: &[&str]) -> Bench {
        Bench {
            slots: Arc::new(Mutex::new(
                names.iter().map(|n| (n.to_string(), None)).collect(),
            )),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Shelf) -> R) -> R {
        f(&mut self.slots.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Puts `card` into `reader` (taking out what was there).
    pub fn insert(&self, reader: &str, card: &SharedCard) {
        self.with(|v| {
            for (name, slot) in v.iter_mut() {
                if name == reader {
                    if let Some(old) = slot.take() {
                        old.pull();
                    }
                    card.insert();
                    *slot = Some(card.clone());
                }
            }
        });
    }

    /// Takes the card out of `reader`.
    pub fn pull(&self, reader: &str) -> Option<SharedCard> {
        self.with(|v| {
            let slot = v.iter_mut().find(|(n, _)| n == reader)?;
            let c = slot.1.take()?;
            c.pull();
            Some(c)
        })
    }

    /// The card in `reader`, if one is (a torn card has left its reader).
    pub fn card_in(&self, reader: &str) -> Option<SharedCard> {
        self.with(|v| {
            let slot = v.iter_mut().find(|(n, _)| n == reader)?;
            if slot.1.as_ref().is_some_and(|c| !c.inserted()) {
                slot.1 = None;
            }
            slot.1.clone()
        })
    }
}

/// The holder of an in-process bench: acts on what the desk waits for.
pub type Holder = Box<dyn FnMut(&Cue, &Bench)>;

enum Backend {
    Pcsc(Watcher),
    Bench(Bench, Holder),
}

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
    backend: Backend,
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
            backend: Backend::Pcsc(Watcher::new()?),
            old_reader,
            new_reader,
            timeout,
            dump: None,
        })
    }

    /// Slots over an in-process [`Bench`]: `old` and `new` name its readers (the same
    /// name, or `new` absent, means one reader); `holder` inserts and removes cards
    /// when the desk waits.
    pub fn in_process(bench: Bench, old: &str, new: Option<&str>, holder: Holder) -> Slots {
        Slots {
            backend: Backend::Bench(bench, holder),
            old_reader: old.into(),
            new_reader: new.unwrap_or(old).into(),
            timeout: Duration::ZERO,
            dump: None,
        }
    }

    /// Whether a card is in `reader`; with `want` and a wait, the holder is cued (or
    /// the reader watched up to the timeout).
    /// pcscd stopping and coming back while waiting is told to the desk (the wait
    /// goes on; a timeout while pcscd is down ends as a pcscd failure, exit 3).
    fn card_present(
        &mut self,
        reader: &ReaderName,
        wait: Option<Want>,
        desk: Option<&mut dyn Desk>,
    ) -> Result<bool, ActivationError> {
        match &mut self.backend {
            Backend::Pcsc(w) => {
                let (true, Some(desk)) = (wait.is_some(), desk) else {
                    return Ok(w.wait_card(reader, Duration::ZERO)?.is_some());
                };
                let mut notice = |e: &Event| service_notice(desk, e);
                Ok(w.wait_card_with(reader, self.timeout, &mut notice)?
                    .is_some())
            }
            Backend::Bench(b, holder) => {
                let reader = reader.to_string();
                let reader = reader.as_str();
                if b.card_in(reader).is_none() {
                    if let Some(want) = wait {
                        holder(&Cue::Insert(want, reader.to_string()), b);
                    }
                }
                Ok(b.card_in(reader).is_some())
            }
        }
    }

    /// Whether `reader` is empty; with a wait, the holder is cued (or the reader
    /// watched up to the timeout).
    fn reader_empty(
        &mut self,
        reader: &ReaderName,
        wait: bool,
        desk: &mut dyn Desk,
    ) -> Result<bool, ActivationError> {
        match &mut self.backend {
            Backend::Pcsc(w) => {
                if !wait {
                    return Ok(w.wait_removal(reader, Duration::ZERO)?);
                }
                let mut notice = |e: &Event| service_notice(desk, e);
                Ok(w.wait_removal_with(reader, self.timeout, &mut notice)?)
            }
            Backend::Bench(b, holder) => {
                let reader = reader.to_string();
                let reader = reader.as_str();
                if b.card_in(reader).is_some() && wait {
                    holder(&Cue::Remove(reader.to_string()), b);
                }
                Ok(b.card_in(reader).is_none())
            }
        }
    }

    /// An exclusive connection to the card in `reader`.
    fn connect(&mut self, reader: &ReaderName) -> Result<Channel<'static>, ActivationError> {
        let base: Box<dyn crate::apdu::Transport> = match &mut self.backend {
            Backend::Pcsc(_) => {
                let ctx = establish()?;
                Box::new(PcscCard::connect_with(
                    ctx,
                    reader,
                    ConnectOptions {
                        exclusive: true,
                        ..ConnectOptions::default()
                    },
                )?)
            }
            Backend::Bench(b, _) => match b.card_in(&reader.to_string()) {
                Some(c) => Box::new(c.connect(&reader.to_string())?),
                None => return Err(crate::apdu::TransportError::NoCard(reader.to_string()).into()),
            },
        };
        Ok(match &self.dump {
            Some(path) => Channel::recording_append(base, path)?,
            None => Channel::new(base),
        })
    }

    /// Whether the card in `want`'s reader is of the kind `want` names (identified by
    /// SELECT; the connection is closed again).
    pub fn holds(&mut self, want: Want, profiles: &Profiles) -> Result<bool, ActivationError> {
        let reader = self.reader_of(want);
        if !self.card_present(&reader, None, None)? {
            return Ok(false);
        }
        let mut ch = self.connect(&reader)?;
        let found = identify(&mut ch, profiles)?;
        Ok(matches!(
            (want, found.kind),
            (Want::OldCard, CardKind::City) | (Want::NewCard, CardKind::Ssc)
        ))
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
        self.card_present(&reader, None, None)
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
            if !self.card_present(&reader, None, None)? {
                desk.show(&Msg::Insert(want, reader.to_string()));
                if !self.card_present(&reader, Some(want), Some(desk))? {
                    return Err(ActivationError::Timeout(WaitTimeout::NotInserted {
                        want,
                        reader: reader.to_string(),
                    }));
                }
            }
            let mut ch = self.connect(&reader)?;
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
        if self.reader_empty(reader, false, desk)? {
            return Ok(());
        }
        desk.show(&Msg::Remove(card, reader.to_string()));
        if self.reader_empty(reader, true, desk)? {
            Ok(())
        } else {
            Err(ActivationError::Timeout(WaitTimeout::NotRemoved {
                want: card,
                reader: reader.to_string(),
            }))
        }
    }
}

/// Tells the desk that pcscd went away or came back while it waits for a card (the
/// wait goes on; a timeout while pcscd is down ends as a pcscd failure, exit 3).
fn service_notice(desk: &mut dyn Desk, e: &Event) {
    match e {
        Event::ServiceLost => desk.show(&Msg::Service(Service::Lost)),
        Event::ServiceBack => desk.show(&Msg::Service(Service::Back)),
        _ => {}
    }
}
