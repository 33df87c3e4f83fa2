//! Waiting at the desk: for pcscd or a reader that is gone (up to the card timeout),
//! and for pcscd to see a pulled card before the next attempt.

use super::settings::Settings;
use crate::activation::slots::Slots;
use crate::error::Error;
use crate::reader::{Event, Watcher};
use crate::ui::{trouble, Frontend};
use std::time::{Duration, Instant};

/// Opens the readers; when pcscd or a reader is missing and recovery is allowed,
/// waits for them (up to the card timeout) instead of failing at once.
pub(super) fn open_slots(front: &mut Frontend, s: &Settings, wait: bool) -> Result<Slots, Error> {
    let opened = |s: &Settings| {
        Slots::new(&s.old, s.new.as_ref(), s.timeout).map(|mut slots| {
            slots.dump = s.dump.clone();
            slots
        })
    };
    let first = match opened(s) {
        Ok(slots) => return Ok(slots),
        Err(e) => Error::from(e),
    };
    if !wait || !trouble::of_error(&first).is_some_and(|t| t.needs_service()) {
        return Err(first);
    }
    front.waiting_for_service(s.timeout);
    let deadline = Instant::now() + s.timeout;
    loop {
        // pcscd cannot wake a client that has no daemon to wait on: poll it.
        std::thread::sleep(Duration::from_millis(400));
        match opened(s) {
            Ok(slots) => {
                front.service_back();
                return Ok(slots);
            }
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(_) => {}
        }
    }
}

/// After a card was pulled, gives pcscd the moment it needs to see the removal
/// (it polls vpcd every 400 ms; real readers report within a few ms), so the next
/// attempt starts from the reader's true state instead of a card that is gone.
/// Event-driven: returns at the first removal, or after 700 ms when nothing left.
pub(super) fn settle_after_pull() {
    let Ok(mut w) = Watcher::new() else { return };
    let deadline = Instant::now() + Duration::from_millis(700);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match w.next_events(Some(left)) {
            Ok(ev) if ev.iter().any(|e| matches!(e, Event::CardRemoved { .. })) => return,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}
