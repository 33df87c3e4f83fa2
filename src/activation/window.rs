//! Bureau-window and first-use activation: the new card only (spec/activation.md).
//!
//! The operator types the holder's citizen ID from the identity document; it must pass
//! its check digit and equal the card's. The medical area gets the activation date and
//! terminal, then the status `active` last, and a log record of type `02`. A card
//! already active is reported, not written again.

use super::desk::{Msg, Step, Want};
use super::error::ActivationError;
use super::journal::{Flow, State};
use super::log_record;
use super::new_card;
use super::pharmacy::{append_log, check_new, Context, Transfer};
use super::receipt::{mask_id, Receipt};
use crate::apdu::Status;
use crate::card::checks::{check_citizen_id, Outcome};
use crate::profile::Value;

/// Options of the window and first-use flows.
pub struct WindowOptions {
    /// Window or first use.
    pub flow: Flow,
    /// The citizen ID typed by the operator (asked for when `None`).
    pub citizen_id: Option<String>,
    /// Let the holder verify the card's PIN first.
    pub verify_pin: bool,
}

/// Runs the window or first-use flow.
pub fn run(cx: &mut Context, opts: &WindowOptions) -> Result<Receipt, ActivationError> {
    let typed = match &opts.citizen_id {
        Some(id) => id.trim().to_ascii_uppercase(),
        None => cx
            .desk
            .line("Operator: type the holder's citizen ID from the identity document: ")?
            .to_ascii_uppercase(),
    };
    let check = check_citizen_id(&typed);
    if check.outcome != Outcome::Pass {
        return Err(ActivationError::Refused(format!(
            "the citizen ID typed is not valid: {}",
            check.message
        )));
    }
    let profiles = cx.profiles;
    let opened = cx.slots.open(Want::NewCard, profiles, cx.desk)?;
    cx.desk.show(&Msg::Step(Step::ReadNew));
    let (mut s, card) = new_card::read(opened, cx.sam, &["account", "category", "balance"])?;
    cx.desk.show(&Msg::Holder {
        name: card.name.clone(),
        id_masked: mask_id(&card.citizen_id),
        card: card.card_number.clone(),
    });
    if card.citizen_id != typed {
        return Err(ActivationError::Refused(
            "the citizen ID typed does not match the card".into(),
        ));
    }
    check_new(cx, &card, &typed)?;
    let active = s.code("status", "active")?;
    let not_activated = s.code("status", "not_activated")?;
    if card.status == active {
        return Err(ActivationError::Refused(
            "the card's medical function is already active; nothing to do".into(),
        ));
    }
    if card.status != not_activated {
        return Err(ActivationError::Refused(format!(
            "the card's medical status is {}",
            s.code_name("status", card.status)
        )));
    }
    let account = card.extra.text("account")?;
    let category = card.extra.code("category")?;
    let balance = card.extra.number("balance")?;
    if opts.verify_pin {
        let pin = cx.desk.pin("Holder: enter the card's PIN: ", false)?;
        match s.verify_pin(&pin)? {
            Status::Success => cx.desk.show(&Msg::Step(Step::PinVerified)),
            Status::TriesLeft(n) => {
                return Err(ActivationError::Refused(format!(
                    "wrong PIN; {n} tries left"
                )))
            }
            st => {
                return Err(ActivationError::Refused(format!(
                    "the card refused the PIN: {st}"
                )))
            }
        }
    }
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| ActivationError::Inconsistent(format!("no random numbers: {e}")))?;
    let t = Transfer {
        id,
        citizen_id: card.citizen_id.clone(),
        holder_name: card.name.clone(),
        old_card: String::new(),
        account,
        category,
        balance_fen: balance,
    };
    let mut entry = t.entry(opts.flow, State::Crediting, cx);
    entry.new_card = Some(card.card_number.clone());
    let _ = cx.journal
        .begin(&entry, "activating the card (identity document checked)")?;
    cx.desk.show(&Msg::Step(Step::Credit));
    s.write("activation_date", &Value::Date(Some(cx.today)), cx.sam)?;
    s.write(
        "activation_terminal",
        &Value::Digits(cx.terminal.clone()),
        cx.sam,
    )?;
    s.write("status", &Value::Code(active), cx.sam)?;
    // The log record carries no transfer: its id prefix is zero (this activation's id
    // lives in the journal).
    append_log(
        cx,
        &mut s,
        log_record::TYPE_ACTIVATION,
        0,
        balance,
        &[0; 16],
        false,
    )?;
    if s.read("status")? != Value::Code(active) {
        return Err(ActivationError::Inconsistent(
            "the card does not read back as active".into(),
        ));
    }
    let id_hex = t.hex_id();
    cx.advance(&id_hex, State::Credited, "card activated")?;
    cx.advance(&id_hex, State::Complete, "")?;
    cx.desk.show(&Msg::Step(Step::Done));
    let mut r = cx.receipt(opts.flow, &t, &card.card_number, false);
    r.amount_fen = 0;
    r.amount_yuan = "0.00".into();
    Ok(r)
}
