//! Bureau-window and first-use activation: the new card only (spec/activation.md).
//!
//! The operator types the holder's citizen ID from the identity document; it must pass
//! its check digit and equal the card's. The medical area gets the activation date and
//! terminal, then the status `active` last, and a log record of type `02`. A card
//! already active is reported, not written again.

use super::desk::{Msg, Step, Want};
use super::error::ActivationError;
use super::journal::{Entry, Flow, State};
use super::log_record;
use super::pharmacy::{append_log, Context, Transfer};
use super::receipt::{mask_id, Receipt};
use super::session::Session;
use crate::apdu::Status;
use crate::card::checks::{check_citizen_id, Outcome};
use crate::card::{read_ssc_with, SscReadOptions};
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
    let mut ch = opened.ch;
    let ssc = read_ssc_with(
        &mut ch,
        opened.profile,
        Some(&mut *cx.sam),
        &SscReadOptions {
            selected: opened.selection,
            verify_card: true,
        },
    )?;
    let mut s = Session::new(ch, opened.profile, ssc.current_df.as_deref(), ssc.alg, ssc.diversifier());
    let holder = ssc.holder.clone().ok_or_else(|| {
        ActivationError::Refused("the card's holder data could not be read".into())
    })?;
    cx.desk.show(&Msg::Holder {
        name: holder.name.clone(),
        id_masked: mask_id(&holder.citizen_id),
        card: ssc.card_number.clone(),
    });
    if holder.citizen_id != typed {
        return Err(ActivationError::Refused(
            "the citizen ID typed does not match the card".into(),
        ));
    }
    if ssc.expiry_date < cx.today {
        return Err(ActivationError::Refused(format!(
            "the card expired on {}; the holder must replace it at the bureau",
            ssc.expiry_date.format("%Y-%m-%d")
        )));
    }
    if ssc.genuine != Some(true) {
        return Err(ActivationError::Refused(
            "the card failed the genuineness check (INTERNAL AUTHENTICATE)".into(),
        ));
    }
    let medical = ssc
        .medical
        .clone()
        .ok_or_else(|| ActivationError::Refused("the card has no medical area".into()))?;
    let active = s.code("status", "active")?;
    let not_activated = s.code("status", "not_activated")?;
    if medical.status == active {
        return Err(ActivationError::Refused(
            "the card's medical function is already active; nothing to do".into(),
        ));
    }
    if medical.status != not_activated {
        return Err(ActivationError::Refused(format!(
            "the card's medical status is {}",
            s.code_name("status", medical.status)
        )));
    }
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
        citizen_id: holder.citizen_id.clone(),
        holder_name: holder.name.clone(),
        old_card: String::new(),
        account: medical.account.clone(),
        category: medical.category,
        balance_fen: medical.balance_fen,
    };
    cx.journal.begin(
        &Entry {
            id: t.hex_id(),
            flow: opts.flow,
            state: State::Crediting,
            terminal: cx.terminal.clone(),
            operator: cx.operator.clone(),
            citizen_id: t.citizen_id.clone(),
            holder_name: t.holder_name.clone(),
            old_card: None,
            new_card: Some(ssc.card_number.clone()),
            account: Some(t.account.clone()),
            category: Some(t.category),
            balance_fen: Some(t.balance_fen),
            created_at: String::new(),
            updated_at: String::new(),
        },
        "activating the card (identity document checked)",
    )?;
    cx.desk.show(&Msg::Step(Step::Credit));
    s.write("activation_date", &Value::Date(Some(cx.today)), cx.sam)?;
    s.write("activation_terminal", &Value::Digits(cx.terminal.clone()), cx.sam)?;
    s.write("status", &Value::Code(active), cx.sam)?;
    // The log record carries no transfer: its id prefix is zero (this activation's id
    // lives in the journal).
    append_log(
        cx,
        &mut s,
        log_record::TYPE_ACTIVATION,
        0,
        medical.balance_fen,
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
    let mut r = cx.receipt(opts.flow, &t, &ssc.card_number, false);
    r.amount_fen = 0;
    r.amount_yuan = "0.00".into();
    Ok(r)
}
