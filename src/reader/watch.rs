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
use super::name::ReaderName;
use crate::apdu::TransportError;
use pcsc::{Context, ReaderState, Scope, State, PNP_NOTIFICATION};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::ffi::CString;
use std::time::{Duration, Instant};

/// Something that changed.
///
/// JSON (one object per line in `sscard readers --watch --format json`): `event` (the
/// variant in snake case), and for reader events `reader` (UTF-8 reading, other
/// bytes as `\xNN`), `reader_hex` (the exact name bytes), `reader_gbk` (when the name
/// is GBK, not UTF-8), `atr` for an insertion; `message` for the service events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A reader was plugged in.
    ReaderAdded {
        /// Reader name.
        reader: ReaderName,
    },
    /// A reader was unplugged.
    ReaderRemoved {
        /// Reader name.
        reader: ReaderName,
    },
    /// A card was inserted.
    CardInserted {
        /// Reader name.
        reader: ReaderName,
        /// ATR in hex.
        atr: String,
    },
    /// A card was removed (or pcscd stopped while it was in: a restarted pcscd
    /// powers every card up again, so it is reported inserted once pcscd is back).
    CardRemoved {
        /// Reader name.
        reader: ReaderName,
    },
    /// pcscd stopped or cannot be reached; the watcher keeps trying.
    ServiceLost,
    /// pcscd is reachable again.
    ServiceBack,
}

impl Event {
    /// The event's name in JSON (`card_inserted`, `service_lost`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Event::ReaderAdded { .. } => "reader_added",
            Event::ReaderRemoved { .. } => "reader_removed",
            Event::CardInserted { .. } => "card_inserted",
            Event::CardRemoved { .. } => "card_removed",
            Event::ServiceLost => "service_lost",
            Event::ServiceBack => "service_back",
        }
    }

    /// The reader the event is about (none for the service events).
    pub fn reader(&self) -> Option<&ReaderName> {
        match self {
            Event::ReaderAdded { reader }
            | Event::ReaderRemoved { reader }
            | Event::CardInserted { reader, .. }
            | Event::CardRemoved { reader } => Some(reader),
            Event::ServiceLost | Event::ServiceBack => None,
        }
    }
}

/// What `sscard` says when pcscd goes away while it waits.
pub const SERVICE_LOST_TEXT: &str =
    "pcscd stopped or cannot be reached; waiting for it to come back";
/// What `sscard` says when pcscd is back.
pub const SERVICE_BACK_TEXT: &str = "pcscd is back; watching the readers again";

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("event", self.kind())?;
        if let Some(r) = self.reader() {
            m.serialize_entry("reader", &r.utf8_escaped())?;
            m.serialize_entry("reader_hex", &r.hex())?;
            if let Some(g) = r.gbk() {
                m.serialize_entry("reader_gbk", &g)?;
            }
        }
        match self {
            Event::CardInserted { atr, .. } => m.serialize_entry("atr", atr)?,
            Event::ServiceLost => m.serialize_entry("message", SERVICE_LOST_TEXT)?,
            Event::ServiceBack => m.serialize_entry("message", SERVICE_BACK_TEXT)?,
            _ => {}
        }
        m.end()
    }
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
    /// pcscd is gone (reported with [`Event::ServiceLost`], not yet back).
    lost: bool,
    /// When pcscd was found gone.
    lost_since: Option<Instant>,
    /// An unexpected error dropped the context; one fresh context is tried before
    /// the error is believed.
    recovering: bool,
}

/// How often to retry reaching a stopped pcscd.
const SERVICE_RETRY: Duration = Duration::from_millis(250);

fn name_of(s: &ReaderState) -> ReaderName {
    ReaderName::from(s.name())
}

fn is_service(e: &TransportError) -> bool {
    matches!(e, TransportError::NoService(_))
}

impl Watcher {
    /// Starts watching; the current readers and cards are the starting point (see
    /// [`Watcher::snapshot`]), not events.
    ///
    /// # Errors
    /// [`TransportError::NoService`] when pcscd is not reachable, or another mapped
    /// PC/SC error from listing the readers.
    pub fn new() -> Result<Self, TransportError> {
        let ctx = Context::establish(Scope::User).map_err(|e| map(e, ""))?;
        let mut w = Watcher {
            ctx: Some(ctx),
            states: vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)],
            known: Vec::new(),
            lost: false,
            lost_since: None,
            recovering: false,
        };
        w.relist(&mut Vec::new(), false)?;
        Ok(w)
    }

    /// Like [`Watcher::new`], but starts even while pcscd is down: the watcher is then
    /// in the lost state ([`Watcher::service_up`] is false) and the first
    /// [`Watcher::next_events`] after pcscd comes up reports [`Event::ServiceBack`]
    /// and the readers and cards found.
    ///
    /// # Errors
    /// A PC/SC error other than pcscd being unreachable.
    pub fn new_patient() -> Result<Self, TransportError> {
        match Watcher::new() {
            Err(e) if is_service(&e) => Ok(Watcher {
                ctx: None,
                states: vec![ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)],
                known: Vec::new(),
                lost: true,
                lost_since: Some(Instant::now()),
                recovering: false,
            }),
            other => other,
        }
    }

    /// Whether pcscd was reachable at the last call (false between
    /// [`Event::ServiceLost`] and [`Event::ServiceBack`]).
    pub fn service_up(&self) -> bool {
        !self.lost && self.ctx.is_some()
    }

    /// The error to give up with while pcscd is down: exit code 3 (pcscd), never a
    /// card error.
    fn service_down_error(&self) -> TransportError {
        let since = self.lost_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        TransportError::NoService(format!(
            "pcscd has been unreachable for {since:.1} s and did not come back in time"
        ))
    }

    /// Drops the dead context and, the first time, reports the loss: every card
    /// known present is reported removed, then [`Event::ServiceLost`].
    fn go_lost(&mut self, events: &mut Vec<Event>) {
        self.ctx = None;
        if self.lost {
            return;
        }
        self.lost = true;
        self.lost_since = Some(Instant::now());
        let n = self.states.len() - 1;
        for (s, k) in self.states[..n].iter().zip(self.known.iter_mut()) {
            if k.present {
                events.push(Event::CardRemoved { reader: name_of(s) });
                k.present = false;
            }
        }
        events.push(Event::ServiceLost);
    }

    /// A context handle that another thread may use to `cancel()` a blocked wait.
    pub fn context(&self) -> Option<Context> {
        self.ctx.clone()
    }

    fn readers(&self) -> &[ReaderState] {
        &self.states[..self.states.len() - 1]
    }

    /// Readers and cards as the watcher last saw them: (reader, ATR hex if a card).
    pub fn snapshot(&self) -> Vec<(ReaderName, Option<String>)> {
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
                            reader: ReaderName::from(name.as_c_str()),
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
    ///
    /// pcscd stopping is not an error here: it is reported once as
    /// [`Event::ServiceLost`], then the watcher retries every 250 ms to establish a new
    /// context (the old one is dead, even once pcscd is back) and reports
    /// [`Event::ServiceBack`] followed by the readers and cards the new pcscd has.
    ///
    /// # Errors
    /// A PC/SC failure other than pcscd being unreachable.
    pub fn next_events(&mut self, timeout: Option<Duration>) -> Result<Vec<Event>, TransportError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut events = Vec::new();
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if self.ctx.is_none() {
                match Context::establish(Scope::User) {
                    Ok(ctx) => {
                        self.ctx = Some(ctx);
                        // A new daemon knows nothing of our states: start from UNAWARE.
                        self.states = self
                            .states
                            .iter()
                            .map(|s| ReaderState::new(s.name().to_owned(), State::UNAWARE))
                            .collect();
                        let mut found = Vec::new();
                        match self.relist(&mut found, true) {
                            Ok(()) => {
                                if self.lost {
                                    self.lost = false;
                                    self.lost_since = None;
                                    events.push(Event::ServiceBack);
                                }
                                events.extend(found);
                                if !events.is_empty() || left == Some(Duration::ZERO) {
                                    return Ok(events);
                                }
                                // A quiet recovery (pcscd never went away): wait on.
                                continue;
                            }
                            Err(e) if is_service(&e) || self.lost => {
                                self.go_lost(&mut events);
                                self.ctx = None;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    Err(_) => {
                        if !self.lost {
                            // The context died under us and pcscd does not answer.
                            self.go_lost(&mut events);
                            return Ok(events);
                        }
                    }
                }
                if left == Some(Duration::ZERO) || (!events.is_empty() && self.lost) {
                    return Ok(events);
                }
                std::thread::sleep(left.map_or(SERVICE_RETRY, |l| l.min(SERVICE_RETRY)));
                continue;
            }
            match self.poll(left, &mut events, true) {
                Ok(pnp_changed) => {
                    self.recovering = false;
                    if pnp_changed {
                        match self.relist(&mut events, true) {
                            Ok(()) => {}
                            Err(e) if is_service(&e) => self.go_lost(&mut events),
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) if is_service(&e) => self.go_lost(&mut events),
                // Anything else from a blocked status-change call (seen while pcscd
                // shuts down): drop the context and try a fresh one once; if pcscd does
                // not answer that is a loss, if it fails again the error is real.
                Err(e) if !self.recovering && !matches!(e, TransportError::UnknownReader(_)) => {
                    log::debug!("watcher: {e}; trying a fresh context");
                    self.recovering = true;
                    self.ctx = None;
                    continue;
                }
                Err(TransportError::UnknownReader(_)) => match self.relist(&mut events, true) {
                    Ok(()) => {}
                    Err(e) if is_service(&e) => self.go_lost(&mut events),
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
            if !events.is_empty() || left == Some(Duration::ZERO) {
                return Ok(events);
            }
        }
    }

    /// Waits until a card is in `reader`; returns its ATR, or `None` at the timeout.
    /// Rides out pcscd restarts, saying so on stderr (see [`Watcher::wait_card_with`]).
    ///
    /// # Errors
    /// [`TransportError::NoService`] when the timeout passes while pcscd is down
    /// (never a card error), or another PC/SC failure.
    pub fn wait_card(
        &mut self,
        reader: &ReaderName,
        timeout: Duration,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        self.wait_for(reader, timeout, true, &mut stderr_notice)
    }

    /// [`Watcher::wait_card`], telling `notice` about [`Event::ServiceLost`] and
    /// [`Event::ServiceBack`] (a desk shows them; the CLI prints them on stderr).
    ///
    /// # Errors
    /// As [`Watcher::wait_card`].
    pub fn wait_card_with(
        &mut self,
        reader: &ReaderName,
        timeout: Duration,
        notice: &mut dyn FnMut(&Event),
    ) -> Result<Option<Vec<u8>>, TransportError> {
        self.wait_for(reader, timeout, true, notice)
    }

    /// Waits until `reader` is empty; `false` at the timeout. A card counts as
    /// removed only when a running pcscd says so, never because pcscd stopped.
    ///
    /// # Errors
    /// As [`Watcher::wait_card`].
    pub fn wait_removal(
        &mut self,
        reader: &ReaderName,
        timeout: Duration,
    ) -> Result<bool, TransportError> {
        Ok(self
            .wait_for(reader, timeout, false, &mut stderr_notice)?
            .is_some())
    }

    /// [`Watcher::wait_removal`] with a `notice` for the service events.
    ///
    /// # Errors
    /// As [`Watcher::wait_card`].
    pub fn wait_removal_with(
        &mut self,
        reader: &ReaderName,
        timeout: Duration,
        notice: &mut dyn FnMut(&Event),
    ) -> Result<bool, TransportError> {
        Ok(self.wait_for(reader, timeout, false, notice)?.is_some())
    }

    fn wait_for(
        &mut self,
        reader: &ReaderName,
        timeout: Duration,
        card: bool,
        notice: &mut dyn FnMut(&Event),
    ) -> Result<Option<Vec<u8>>, TransportError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.service_up() {
                let found = self
                    .readers()
                    .iter()
                    .zip(&self.known)
                    .find(|(s, _)| s.name() == reader.as_c_str());
                match found {
                    Some((s, k)) if k.present == card => {
                        return Ok(Some(if card { s.atr().to_vec() } else { Vec::new() }))
                    }
                    None if !card => return Ok(Some(Vec::new())),
                    _ => {}
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // A probe (zero timeout) while pcscd is down just finds nothing; a
                // real wait that ends with pcscd down is a pcscd failure.
                if !self.service_up() && !timeout.is_zero() {
                    return Err(self.service_down_error());
                }
                return Ok(None);
            }
            for e in self.next_events(Some(left))? {
                if matches!(e, Event::ServiceLost | Event::ServiceBack) {
                    notice(&e);
                }
            }
        }
    }
}

/// The default notice: one plain line on stderr.
pub fn stderr_notice(e: &Event) {
    match e {
        Event::ServiceLost => eprintln!("sscard: {SERVICE_LOST_TEXT}"),
        Event::ServiceBack => eprintln!("sscard: {SERVICE_BACK_TEXT}"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_exact_reader_bytes() {
        let (gbk, _, _) = encoding_rs::GBK.encode("德卡 读卡器 00 00");
        let e = Event::CardInserted {
            reader: ReaderName::from_bytes(&gbk),
            atr: "3B00".into(),
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["event"], "card_inserted");
        assert_eq!(v["reader_hex"], hex::encode_upper(&gbk));
        assert_eq!(v["reader_gbk"], "德卡 读卡器 00 00");
        assert_eq!(v["atr"], "3B00");
        assert!(v["reader"].as_str().unwrap().contains("\\x"), "{v}");
        let v = serde_json::to_value(Event::ServiceLost).unwrap();
        assert_eq!(v["event"], "service_lost");
        assert_eq!(v["message"], SERVICE_LOST_TEXT);
        assert!(v.get("reader").is_none());
        let v = serde_json::to_value(Event::CardRemoved {
            reader: "Virtual PCD 00 00".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "event": "card_removed",
                "reader": "Virtual PCD 00 00",
                "reader_hex": hex::encode_upper("Virtual PCD 00 00"),
            })
        );
    }
}
