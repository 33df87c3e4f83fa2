//! Card and reader events, by blocking in `SCardGetStatusChange`.
//!
//! The watcher owns its own PC/SC context: a status-change wait blocks the context it
//! runs on. It never busy-polls: each call blocks in pcscd until something changes or
//! the timeout passes, so CPU use while waiting is nil. Readers appearing and
//! disappearing are caught through the PnP pseudo-reader. When pcscd goes away the
//! watcher reports [`Event::ServiceLost`] and re-establishes its context once the
//! daemon is back ([`Event::ServiceBack`]); that is the only case where it retries on a
//! timer, because a dead daemon cannot wake anyone.

use super::error::map;
use crate::apdu::TransportError;
use pcsc::{Context, ReaderState, Scope, State, PNP_NOTIFICATION};
use serde::Serialize;
use std::ffi::CString;
use std::time::{Duration, Instant};

/// Something that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A reader was plugged in.
    ReaderAdded {
        /// Reader name.
        reader: String,
    },
    /// A reader was unplugged.
    ReaderRemoved {
        /// Reader name.
        reader: String,
    },
    /// A card was inserted.
    CardInserted {
        /// Reader name.
        reader: String,
        /// ATR in hex.
        atr: String,
    },
    /// A card was removed.
    CardRemoved {
        /// Reader name.
        reader: String,
    },
    /// pcscd stopped or cannot be reached; the watcher keeps trying.
    ServiceLost,
    /// pcscd is reachable again.
    ServiceBack,
}

#[derive(Clone, Copy, Default)]
struct Known {
    present: bool,
    count: u32,
}

/// Watches readers and cards.
pub struct Watcher {
    ctx: Option<Context>,
    /// One state per reader, then the PnP pseudo-reader last.
    states: Vec<ReaderState>,
    known: Vec<Known>,
    lost: bool,
}

/// How often to retry reaching a stopped pcscd.
const SERVICE_RETRY: Duration = Duration::from_millis(250);

fn name_of(s: &ReaderState) -> String {
    s.name().to_string_lossy().into_owned()
}

impl Watcher {
    /// Starts watching; the current readers and cards are the starting point (see
    /// [`Watcher::snapshot`]), not events.
    pub fn new() -> Result<Self, TransportError> {
        let ctx = Context::establish(Scope::User).map_err(|e| map(e, ""))?;
        let mut w = Watcher {
            ctx: Some(ctx),
            states: vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)],
            known: Vec::new(),
            lost: false,
        };
        w.relist(&mut Vec::new(), false)?;
        Ok(w)
    }

    /// A context handle that another thread may use to `cancel()` a blocked wait.
    pub fn context(&self) -> Option<Context> {
        self.ctx.clone()
    }

    fn readers(&self) -> &[ReaderState] {
        &self.states[..self.states.len() - 1]
    }

    /// Readers and cards as the watcher last saw them: (reader, ATR hex if a card).
    pub fn snapshot(&self) -> Vec<(String, Option<String>)> {
        self.readers()
            .iter()
            .zip(&self.known)
            .map(|(s, k)| (name_of(s), k.present.then(|| hex::encode_upper(s.atr()))))
            .collect()
    }

    /// Re-reads the reader list, emitting added/removed readers (and cards in them).
    fn relist(&mut self, events: &mut Vec<Event>, emit: bool) -> Result<(), TransportError> {
        let ctx = self
            .ctx
            .as_ref()
            .ok_or(TransportError::NoService("not connected".into()))?;
        let names: Vec<CString> = match ctx.list_readers_owned() {
            Ok(n) => n,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(map(e, "")),
        };
        let pnp = self
            .states
            .pop()
            .unwrap_or_else(|| ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE));
        let mut old: Vec<(ReaderState, Known)> = std::mem::take(&mut self.states)
            .into_iter()
            .zip(self.known.drain(..))
            .collect();
        for (s, k) in &old {
            if emit && !names.iter().any(|n| n.as_c_str() == s.name()) {
                if k.present {
                    events.push(Event::CardRemoved { reader: name_of(s) });
                }
                events.push(Event::ReaderRemoved { reader: name_of(s) });
            }
        }
        for name in names {
            match old.iter().position(|(s, _)| s.name() == name.as_c_str()) {
                Some(pos) => {
                    let (s, k) = old.swap_remove(pos);
                    self.states.push(s);
                    self.known.push(k);
                }
                None => {
                    if emit {
                        events.push(Event::ReaderAdded {
                            reader: name.to_string_lossy().into_owned(),
                        });
                    }
                    self.states.push(ReaderState::new(name, State::UNAWARE));
                    self.known.push(Known::default());
                }
            }
        }
        self.states.push(pnp);
        // Learn the new readers' states at once (they are UNAWARE, so this returns).
        self.poll(Some(Duration::ZERO), events, emit)?;
        Ok(())
    }

    /// One status-change call over all readers and the PnP pseudo-reader; returns
    /// whether the reader list changed.
    fn poll(
        &mut self,
        timeout: Option<Duration>,
        events: &mut Vec<Event>,
        emit: bool,
    ) -> Result<bool, TransportError> {
        let ctx = self
            .ctx
            .as_ref()
            .ok_or(TransportError::NoService("not connected".into()))?;
        match ctx.get_status_change(timeout, &mut self.states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => return Ok(false),
            Err(e) => return Err(map(e, "")),
        }
        let n = self.states.len() - 1;
        for (s, k) in self.states[..n].iter_mut().zip(self.known.iter_mut()) {
            let ev = s.event_state();
            let present = ev.contains(State::PRESENT) && !ev.contains(State::MUTE);
            let count = s.event_count();
            if emit {
                // A quick remove + insert between two calls shows as a count jump.
                let bounced = k.present && present && k.count != 0 && count > k.count + 1;
                if k.present && (!present || bounced) {
                    events.push(Event::CardRemoved { reader: name_of(s) });
                }
                if present && (!k.present || bounced) {
                    events.push(Event::CardInserted {
                        reader: name_of(s),
                        atr: hex::encode_upper(s.atr()),
                    });
                }
            }
            *k = Known { present, count };
            s.sync_current_state();
        }
        let pnp = &mut self.states[n];
        let changed = pnp.event_state().contains(State::CHANGED);
        pnp.sync_current_state();
        Ok(changed)
    }

    /// Waits up to `timeout` (forever with `None`) and returns what changed; an empty
    /// list means the timeout passed.
    pub fn next_events(&mut self, timeout: Option<Duration>) -> Result<Vec<Event>, TransportError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events = Vec::new();
        loop {
            if self.ctx.is_none() {
                match Context::establish(Scope::User) {
                    Ok(ctx) => {
                        self.ctx = Some(ctx);
                        self.lost = false;
                        events.push(Event::ServiceBack);
                        // A new daemon knows nothing of our states: start from UNAWARE.
                        self.states = self
                            .states
                            .iter()
                            .map(|s| ReaderState::new(s.name().to_owned(), State::UNAWARE))
                            .collect();
                        self.relist(&mut events, true)?;
                        return Ok(events);
                    }
                    Err(_) => {
                        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                        if left == Some(Duration::ZERO) {
                            return Ok(events);
                        }
                        std::thread::sleep(left.map_or(SERVICE_RETRY, |l| l.min(SERVICE_RETRY)));
                        continue;
                    }
                }
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            match self.poll(left, &mut events, true) {
                Ok(pnp_changed) => {
                    if pnp_changed {
                        self.relist(&mut events, true)?;
                    }
                }
                Err(TransportError::NoService(_)) => {
                    self.ctx = None;
                    if !self.lost {
                        self.lost = true;
                        let n = self.states.len() - 1;
                        for (s, k) in self.states[..n].iter().zip(self.known.iter_mut()) {
                            if k.present {
                                events.push(Event::CardRemoved { reader: name_of(s) });
                                k.present = false;
                            }
                        }
                        events.push(Event::ServiceLost);
                        return Ok(events);
                    }
                    continue;
                }
                Err(TransportError::UnknownReader(_)) => self.relist(&mut events, true)?,
                Err(e) => return Err(e),
            }
            if !events.is_empty() || left == Some(Duration::ZERO) {
                return Ok(events);
            }
        }
    }

    /// Waits until a card is in `reader`; returns its ATR, or `None` at the timeout.
    pub fn wait_card(
        &mut self,
        reader: &str,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        self.wait_for(reader, timeout, true)
    }

    /// Waits until `reader` is empty; `false` at the timeout.
    pub fn wait_removal(
        &mut self,
        reader: &str,
        timeout: Duration,
    ) -> Result<bool, TransportError> {
        Ok(self.wait_for(reader, timeout, false)?.is_some())
    }

    fn wait_for(
        &mut self,
        reader: &str,
        timeout: Duration,
        card: bool,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            let found = self
                .readers()
                .iter()
                .zip(&self.known)
                .find(|(s, _)| s.name().to_string_lossy() == reader);
            match found {
                Some((s, k)) if k.present == card => {
                    return Ok(Some(if card { s.atr().to_vec() } else { Vec::new() }))
                }
                None if !card => return Ok(Some(Vec::new())),
                _ => {}
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.next_events(Some(left))?;
        }
    }
}
