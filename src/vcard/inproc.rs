//! Virtual cards in process: a [`Transport`] straight into the card engine, with
//! tear-off injection, for the fast test tier and the model checker (issue 10).
//!
//! Why: the pcscd + vpcd tier proves the flows against the real PC/SC stack, but each
//! case costs a card process, a socket and pcscd's polling; the tear-off matrix over
//! every APDU of pharmacy, resume, cancel and void would take many minutes. Here a
//! card is an [`Card`] behind a mutex, shared by the test (the holder who carries it
//! from reader to reader and inspects it) and the flow (through the transport), so
//! the same flows run in milliseconds, without root or pcscd.
//!
//! Faults are counted in APDUs sent to one card since [`SharedCard::arm`]:
//! - [`TearKind::Before`]: the power goes before the card runs APDU `k`: the command
//!   has no effect (a torn record write keeps its old value);
//! - [`TearKind::After`]: the card runs APDU `k` (a record write takes its new
//!   value), then the power goes before the answer reaches the terminal.
//!
//! Either way the card is out of its reader afterwards: the transport answers
//! [`TransportError::CardRemoved`], and a reader asked about it sees it empty, exactly
//! as a holder pulling the card would look to the flow.

use super::engine::Card;
use super::image::CardImage;
use super::VcardError;
use crate::apdu::{Transport, TransportError};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// When the power goes, relative to the APDU counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TearKind {
    /// Before the card runs it: no effect.
    Before,
    /// After the card ran it, before the terminal sees the answer.
    After,
}

/// A tear at APDU `at` (1-based, counted since [`SharedCard::arm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tear {
    /// The APDU number.
    pub at: u64,
    /// Before or after the card runs it.
    pub kind: TearKind,
}

struct Inner {
    card: Card,
    label: String,
    apdus: u64,
    tear: Option<Tear>,
    fired: bool,
    /// Raised at every removal: a transport of an older insertion is dead.
    epoch: u64,
    /// Whether the card sits in a reader (a tear takes it out).
    inserted: bool,
}

/// A virtual card shared by the holder (tests) and the readers it is put in.
#[derive(Clone)]
pub struct SharedCard {
    inner: Arc<Mutex<Inner>>,
}

impl std::fmt::Debug for SharedCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.lock();
        f.debug_struct("SharedCard")
            .field("label", &g.label)
            .field("apdus", &g.apdus)
            .field("inserted", &g.inserted)
            .finish_non_exhaustive()
    }
}

impl SharedCard {
    /// A shared card from an engine; `label` names it in messages ("old", "N").
    pub fn new(card: Card, label: &str) -> SharedCard {
        SharedCard {
            inner: Arc::new(Mutex::new(Inner {
                card,
                label: label.to_string(),
                apdus: 0,
                tear: None,
                fired: false,
                epoch: 0,
                inserted: false,
            })),
        }
    }

    /// Loads an image file.
    ///
    /// # Errors
    /// [`VcardError`] when the image does not load.
    pub fn load(path: &Path, label: &str) -> Result<SharedCard, VcardError> {
        Ok(SharedCard::new(Card::load(path)?, label))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves a usable card state: every
        // engine call completes before it returns.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The card's label.
    pub fn label(&self) -> String {
        self.lock().label.clone()
    }

    /// The persistent state now (what an image on disk would hold).
    pub fn image(&self) -> CardImage {
        self.lock().card.to_image()
    }

    /// Runs `f` on the engine (inspection in tests).
    pub fn with<R>(&self, f: impl FnOnce(&Card) -> R) -> R {
        f(&self.lock().card)
    }

    /// Arms a tear (or none) and restarts the APDU count.
    pub fn arm(&self, tear: Option<Tear>) {
        let mut g = self.lock();
        g.tear = tear;
        g.fired = false;
        g.apdus = 0;
    }

    /// APDUs received since [`SharedCard::arm`].
    pub fn apdus(&self) -> u64 {
        self.lock().apdus
    }

    /// Whether the armed tear fired.
    pub fn torn(&self) -> bool {
        self.lock().fired
    }

    /// Whether the card sits in a reader.
    pub fn inserted(&self) -> bool {
        self.lock().inserted
    }

    /// Puts the card in a reader (power stays off until a connection).
    pub fn insert(&self) {
        let mut g = self.lock();
        g.inserted = true;
    }

    /// Takes the card out: power off, every open transport dead.
    pub fn pull(&self) {
        let mut g = self.lock();
        g.card.power_off();
        g.epoch += 1;
        g.inserted = false;
    }

    /// Connects to the card (powering it on, a fresh session).
    ///
    /// # Errors
    /// [`TransportError::CardRemoved`] when the card is not in a reader.
    pub fn connect(&self, reader: &str) -> Result<InProcessTransport, TransportError> {
        let mut g = self.lock();
        if !g.inserted {
            return Err(TransportError::NoCard(reader.to_string()));
        }
        g.card.power_on();
        Ok(InProcessTransport {
            card: self.clone(),
            epoch: g.epoch,
            name: reader.to_string(),
        })
    }
}

/// A connection to a [`SharedCard`]: dead once the card leaves its reader.
pub struct InProcessTransport {
    card: SharedCard,
    epoch: u64,
    name: String,
}

impl Transport for InProcessTransport {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut g = self.card.lock();
        if g.epoch != self.epoch || !g.inserted {
            return Err(TransportError::CardRemoved);
        }
        g.apdus += 1;
        let n = g.apdus;
        let tear = g.tear.filter(|t| t.at == n && !g.fired);
        let cut = |g: &mut Inner| {
            g.fired = true;
            g.card.power_off();
            g.epoch += 1;
            g.inserted = false;
        };
        match tear.map(|t| t.kind) {
            Some(TearKind::Before) => {
                cut(&mut g);
                Err(TransportError::CardRemoved)
            }
            Some(TearKind::After) => {
                let _ = g.card.process(command);
                cut(&mut g);
                Err(TransportError::CardRemoved)
            }
            None => Ok(g.card.process(command)),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        let mut g = self.card.lock();
        if g.epoch != self.epoch || !g.inserted {
            return Err(TransportError::CardRemoved);
        }
        g.card.reset();
        Ok(g.card.atr().to_vec())
    }

    fn atr(&self) -> Option<Vec<u8>> {
        Some(self.card.lock().card.atr().to_vec())
    }

    fn name(&self) -> String {
        self.name.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn city() -> SharedCard {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cards/city.json");
        SharedCard::load(&path, "old").unwrap()
    }

    const SELECT: &[u8] = &[
        0x00, 0xA4, 0x04, 0x00, 0x08, 0xF0, 0x59, 0x42, 0x2E, 0x43, 0x49, 0x54, 0x59,
    ];

    #[test]
    fn transmits_and_dies_on_removal() {
        let c = city();
        assert!(matches!(c.connect("r"), Err(TransportError::NoCard(_))));
        c.insert();
        let mut t = c.connect("r").unwrap();
        let r = t.transmit(SELECT).unwrap();
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
        assert_eq!(c.apdus(), 1);
        c.pull();
        assert!(matches!(
            t.transmit(SELECT),
            Err(TransportError::CardRemoved)
        ));
        c.insert();
        assert!(
            matches!(t.transmit(SELECT), Err(TransportError::CardRemoved)),
            "an old connection stays dead after re-insertion"
        );
        let mut t = c.connect("r").unwrap();
        assert!(t.transmit(SELECT).is_ok());
    }

    #[test]
    fn tears_before_and_after() {
        // A wrong VERIFY spends a try (a persistent write): torn before, the try is
        // kept; torn after, it is spent; either way the terminal sees a removal.
        for (kind, left) in [(TearKind::Before, 0x63C5u16), (TearKind::After, 0x63C4)] {
            let c = city();
            c.insert();
            c.arm(Some(Tear { at: 2, kind }));
            let mut t = c.connect("r").unwrap();
            assert!(t.transmit(SELECT).is_ok());
            assert!(matches!(
                t.transmit(&[0x00, 0x20, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00]),
                Err(TransportError::CardRemoved)
            ));
            assert!(c.torn());
            assert!(!c.inserted());
            assert_eq!(c.apdus(), 2);
            c.insert();
            let mut t = c.connect("r").unwrap();
            assert!(t.transmit(SELECT).is_ok());
            let r = t.transmit(&[0x00, 0x20, 0x00, 0x00]).unwrap();
            let sw = u16::from_be_bytes([r[r.len() - 2], r[r.len() - 1]]);
            assert_eq!(sw, left, "{kind:?}");
            assert!(!c.torn() || c.apdus() == 4, "a tear fires once");
        }
    }
}
