//! Recovery (spec/activation.md): continue an unfinished transfer, or cancel one where
//! the rules allow.
//!
//! The old card carries what recovery needs (transfer id, account, balance) once it is
//! frozen, so any terminal can continue a transfer whose journal it never saw: it
//! opens a journal entry of its own from the card's data. Cancel returns the old card
//! to active only while no credit can have reached a new card: while the journal shows
//! `FROZEN` and no credit was ever announced, or once the new card itself shows it
//! does not hold the transfer.

use super::desk::{Msg, Step, Want};
use super::error::ActivationError;
use super::journal::{Flow, State};
use super::new_card;
use super::pharmacy::{credit, finish_old, finish_transfer, read_old, Context, OldCard, Transfer};
use super::receipt::Receipt;
use crate::profile::Value;
use crate::secret::Pin;

fn transfer_of(old: &OldCard) -> Result<Transfer, ActivationError> {
    let id = old.city.transfer().ok_or_else(|| {
        ActivationError::Inconsistent(
            "the old card is frozen but carries no transfer id; call the bureau".into(),
        )
    })?;
    Ok(Transfer::from_city(&old.city, id))
}

/// The PIN for the new card when the old card can no longer verify it: asked twice.
fn recovery_pin(cx: &mut Context, state: Option<State>) -> Result<Option<Pin>, ActivationError> {
    if state >= Some(State::Credited) {
        return Ok(None);
    }
    cx.desk.show(&Msg::Note(
        "The old card is frozen and cannot check the PIN: the holder enters it twice.".into(),
    ));
    Ok(Some(cx.desk.pin(
        "Holder: enter the old card's PIN for the new card: ",
        true,
    )?))
}

/// Continues the transfer an old card at `migrating` carries (from the pharmacy flow
/// or `resume`).
pub fn continue_from_old(cx: &mut Context, mut old: OldCard) -> Result<Receipt, ActivationError> {
    let t = transfer_of(&old)?;
    let id = t.hex_id();
    let entry = cx.journal.get(&id)?;
    let state = match &entry {
        Some(e) => {
            cx.desk.show(&Msg::Note(format!(
                "Unfinished transfer {id} found in the journal ({}); continuing.",
                e.state.as_str()
            )));
            e.state
        }
        None => {
            cx.desk.show(&Msg::Note(format!(
                "The old card carries transfer {id}, unknown to this terminal; continuing from the card's own data."
            )));
            let e = t.entry(Flow::Pharmacy, State::Frozen, cx);
            let _ = cx.journal
                .begin(&e, "recovered from the old card (no journal record here)")?;
            State::Frozen
        }
    };
    match state {
        State::Cancelled | State::Cancelling => Err(ActivationError::Inconsistent(format!(
            "the journal says transfer {id} was cancelled, yet the old card is still frozen; \
             run `sscard activate cancel {id}` to finish the cancel"
        ))),
        State::Complete => {
            // Credited earlier with one reader; the old card is back: mark it migrated.
            let new_card = entry.and_then(|e| e.new_card).ok_or_else(|| {
                ActivationError::Inconsistent(format!("journal entry {id} has no new card"))
            })?;
            finish_old(cx, &mut old, &new_card)?;
            cx.advance(
                &id,
                State::Complete,
                "old card marked migrated on its return",
            )?;
            cx.desk.show(&Msg::Step(Step::Done));
            Ok(cx.receipt(Flow::Pharmacy, &t, &new_card, true))
        }
        _ => {
            let pin = recovery_pin(cx, Some(state))?;
            finish_transfer(cx, old, &t, pin.as_ref())
        }
    }
}

/// An old card already migrated: every card write was made. A journal entry that a
/// fault left short of COMPLETE is completed; otherwise there is nothing to do.
fn close_migrated(cx: &mut Context, old: &OldCard) -> Result<Receipt, ActivationError> {
    let t = transfer_of(old)?;
    let id = t.hex_id();
    match cx.journal.get(&id)? {
        Some(e) if !e.state.is_final() => {
            let new_card = old.city.target_card.clone().or(e.new_card).unwrap_or_default();
            cx.advance(
                &id,
                State::Complete,
                "old card found migrated: every write was made",
            )?;
            cx.desk.show(&Msg::Step(Step::Done));
            Ok(cx.receipt(Flow::Pharmacy, &t, &new_card, true))
        }
        _ => Err(ActivationError::Refused(format!(
            "the old card is migrated{}: there is nothing to resume on it",
            old.city
                .target_card
                .as_deref()
                .map(|c| format!(" to card {c}"))
                .unwrap_or_default()
        ))),
    }
}

/// `sscard activate resume [ID]`: continues from whichever card is inserted. The old
/// card (frozen) continues its own transfer; a new card continues the journal entry
/// `id`, or the one unfinished transfer of its holder.
pub fn resume(cx: &mut Context, id: Option<&str>) -> Result<Receipt, ActivationError> {
    let profiles = cx.profiles;
    // Prefer the old card when it is in its reader: it carries the transfer.
    if id.is_none() || cx.slots.present(Want::OldCard)? {
        let opened = cx.slots.open(Want::OldCard, profiles, cx.desk);
        match opened {
            Ok(o) => {
                let old = read_old(o, cx.desk)?;
                let name = old.session.code_name("status", old.city.status);
                if name == "migrated" {
                    return close_migrated(cx, &old);
                }
                if name != "migrating" {
                    return Err(ActivationError::Refused(format!(
                        "the old card is {name}: there is nothing to resume on it"
                    )));
                }
                return continue_from_old(cx, old);
            }
            Err(e) if id.is_none() => return Err(e),
            Err(_) => {}
        }
    }
    let id = id.unwrap_or_default().to_ascii_uppercase();
    let entry = cx
        .journal
        .get(&id)?
        .ok_or_else(|| ActivationError::Refused(format!("no journal entry {id}")))?;
    if entry.state.is_final() {
        return Err(ActivationError::Refused(format!(
            "transfer {id} is already {}",
            entry.state.as_str()
        )));
    }
    if entry.state < State::Frozen {
        return Err(ActivationError::Refused(format!(
            "transfer {id} stopped while freezing the old card: insert the old card to resume"
        )));
    }
    let t = Transfer::from_entry(&entry)?;
    let pin = recovery_pin(cx, Some(entry.state))?;
    let opened = cx.slots.open(Want::NewCard, profiles, cx.desk)?;
    let new_card = credit(cx, opened, &t, pin.as_ref())?;
    cx.advance(
        &id,
        State::Complete,
        "resumed with the new card; old card stays frozen",
    )?;
    cx.desk.show(&Msg::Step(Step::Done));
    Ok(cx.receipt(Flow::Pharmacy, &t, &new_card, false))
}

/// `sscard activate cancel ID`: returns the old card to active, following the cancel
/// rule of spec/activation.md exactly.
pub fn cancel(cx: &mut Context, id: &str) -> Result<(), ActivationError> {
    let profiles = cx.profiles;
    let id = id.to_ascii_uppercase();
    let entry = cx.journal.get(&id)?;
    if let Some(e) = &entry {
        if e.state.is_final() {
            return Err(ActivationError::Refused(format!(
                "transfer {id} is already {}",
                e.state.as_str()
            )));
        }
    }
    let credit_attempted = match &entry {
        Some(_) => cx.journal.credit_attempted(&id)?,
        // No record here: a credit may have been attempted elsewhere.
        None => true,
    };
    if credit_attempted {
        cx.desk.show(&Msg::Note(
            "A credit of the new card may have started: the new card must show it does not hold this transfer."
                .into(),
        ));
        let opened = cx.slots.open(Want::NewCard, profiles, cx.desk)?;
        let (session, card) = new_card::read(opened, cx.sam, &[])?;
        if !card.genuine {
            return Err(ActivationError::Refused(
                "the card presented as the new card failed the genuineness check".into(),
            ));
        }
        if hex::encode_upper(card.transfer_id) == id {
            return Err(ActivationError::Refused(format!(
                "the new card holds transfer {id}: it cannot be cancelled; run `sscard activate resume {id}`"
            )));
        }
        if let Some(e) = &entry {
            if e.citizen_id != card.citizen_id {
                return Err(ActivationError::Refused(
                    "the card presented is not the holder's new card".into(),
                ));
            }
        }
        drop(session);
        if cx.slots.one_reader() {
            cx.slots.wait_removed(Want::NewCard, cx.desk)?;
        }
    } else if entry.as_ref().is_some_and(|e| e.state < State::Frozen) {
        cx.desk.show(&Msg::Note(
            "The freeze did not finish; checking the old card.".into(),
        ));
    }
    let opened = cx.slots.open(Want::OldCard, profiles, cx.desk)?;
    let mut old = read_old(opened, cx.desk)?;
    let card_id = old.city.transfer().map(hex::encode_upper);
    let status = old.session.code_name("status", old.city.status);
    if status == "active" && card_id.as_deref() != Some(id.as_str()) {
        // The freeze never reached the card (or a cancel finished): nothing to undo.
        if entry.is_some() {
            cx.advance(&id, State::Cancelled, "old card was never frozen")?;
        }
        cx.desk.show(&Msg::Note(
            "The old card is active; nothing to undo.".into(),
        ));
        return Ok(());
    }
    if card_id.as_deref() != Some(id.as_str()) {
        return Err(ActivationError::Refused(format!(
            "the old card does not carry transfer {id}"
        )));
    }
    if status != "migrating" && status != "active" {
        return Err(ActivationError::Refused(format!(
            "the old card is {status}: it cannot be returned to active"
        )));
    }
    if entry.is_none() {
        let t = transfer_of(&old)?;
        let e = t.entry(Flow::Pharmacy, State::Cancelling, cx);
        let _ = cx.journal
            .begin(&e, "cancel of a transfer unknown to this terminal")?;
    } else {
        cx.advance(&id, State::Cancelling, "cancelling")?;
    }
    cx.desk.show(&Msg::Step(Step::Unfreeze));
    let s = &mut old.session;
    let active = s.code("status", "active")?;
    // Status first: a card torn between the two writes is active (it can pay, and the
    // transfer never reached a new card) with a stale id that the next transfer
    // overwrites; the other order could leave a frozen card without its id.
    s.write("status", &Value::Code(active), cx.sam)?;
    s.write("transfer_id", &Value::Bytes(vec![0; 16]), cx.sam)?;
    if s.read("status")? != Value::Code(active) {
        return Err(ActivationError::Inconsistent(
            "the old card does not read back as active".into(),
        ));
    }
    cx.advance(&id, State::Cancelled, "old card active again")?;
    cx.desk.show(&Msg::Step(Step::Done));
    Ok(())
}
