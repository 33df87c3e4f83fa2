//! The core's card operations, executed: reads by role, INTERNAL and EXTERNAL
//! AUTHENTICATE (a wrong key never retried), PIN verification and the writes, each
//! under the journal proof the core holds.

use super::*;

pub(super) fn card_op<'p>(cx: &mut Context<'p>, run: &mut Run<'p>, op: CardOp) -> Input {
    let which = match &op {
        CardOp::Read { which, .. }
        | CardOp::CheckGenuine { which }
        | CardOp::Authenticate { which, .. }
        | CardOp::VerifyPin { which, .. } => *which,
        CardOp::Write(w) => w.which(),
    };
    match card_op_inner(cx, run, op) {
        Ok(i) => i,
        Err(e) => {
            let fault = fault_of(&e);
            // A dead connection is not kept: the next open waits for the card.
            match which {
                Which::Old => run.old = None,
                Which::New => run.new = None,
            }
            run.cause = Some(e);
            Input::Fault(fault)
        }
    }
}

pub(super) fn card_op_inner<'p>(
    cx: &mut Context<'p>,
    run: &mut Run<'p>,
    op: CardOp,
) -> Result<Input, ActivationError> {
    match op {
        CardOp::Read {
            which,
            session,
            roles,
        } => {
            if session == core::Session::Fresh {
                open(cx, run, which, roles)?;
            }
            let card = slot(run, which)?;
            let mut out = Vec::with_capacity(roles.len());
            for role in roles {
                out.push((*role, read_value(cx, card, *role)?));
            }
            Ok(Input::Read(Fields(out)))
        }
        CardOp::CheckGenuine { which } => {
            let card = slot(run, which)?;
            if let Some(g) = card.genuine {
                return Ok(Input::Genuine(g));
            }
            let g = internal_auth(cx, &mut card.session)?;
            card.genuine = Some(g);
            Ok(Input::Genuine(g))
        }
        CardOp::Authenticate { which, key } => {
            let card = slot(run, which)?;
            let role = match key {
                KeyRole::Write => "write",
                KeyRole::PinReload => "pin_reload",
            };
            match card.session.authenticate(role, cx.sam) {
                Ok(()) => Ok(Input::Auth(AuthOutcome::Ok)),
                Err(ActivationError::Card(CardError::AuthRefused { status, .. }))
                    if matches!(status, Status::TriesLeft(_) | Status::AuthBlocked) =>
                {
                    // No retry, ever: each wrong try spends one of the card's five.
                    let e = ActivationError::Card(CardError::AuthRefused {
                        context: format!("the desk's {role} key on the {}", card_name(which)),
                        key_id: card.session.profile.key(role)?.id,
                        status,
                    });
                    run_cause(run, e);
                    Ok(Input::Auth(match status {
                        Status::TriesLeft(n) => AuthOutcome::WrongKey { tries_left: n },
                        _ => AuthOutcome::Blocked,
                    }))
                }
                Err(e) => Err(e),
            }
        }
        CardOp::VerifyPin {
            which,
            prompt,
            spend_last_try,
        } => verify_pin(cx, run, which, prompt, spend_last_try),
        CardOp::Write(w) => {
            let which = w.which();
            let pin = match w.op() {
                WriteOp::ReloadPin(src) => Some(match src {
                    PinSource::OldCardVerified => run.old_pin.clone(),
                    PinSource::TypedTwice => run.typed_pin.clone(),
                    PinSource::Chosen => run.chosen_pin.clone(),
                }),
                _ => None,
            };
            let change = match w.op() {
                WriteOp::ChangePin => Some((run.new_card_pin.clone(), run.chosen_pin.clone())),
                _ => None,
            };
            let card = slot(run, which)?;
            let s = &mut card.session;
            match w.op() {
                WriteOp::Field { role, value } => {
                    let v = to_profile_value(s.profile, *role, value)?;
                    s.write_exact(role.name(), &v)?;
                }
                WriteOp::AppendLog(rec) => {
                    let now = chrono::Local::now();
                    let mut prefix = [0u8; 8];
                    if let Some(t) = rec.transfer {
                        prefix = t.prefix();
                    }
                    let bytes = LogRecord {
                        kind: rec.kind,
                        amount: rec.amount_fen,
                        balance_after: rec.balance_after_fen,
                        date: rec.date.format("%Y%m%d").to_string(),
                        time: now.format("%H%M%S").to_string(),
                        terminal: rec.terminal.clone(),
                        transfer_prefix: prefix,
                    }
                    .encode()
                    .map_err(|e| {
                        ActivationError::Inconsistent(Internal::LogRecord(e.to_string()))
                    })?;
                    s.append_exact("medical_log", &bytes)?;
                }
                WriteOp::ReloadPin(_) => {
                    let pin = pin
                        .flatten()
                        .ok_or_else(|| ActivationError::Inconsistent(Internal::PinMissing))?;
                    let r = s.ch.send(&catalogue::reload_pin(&pin))?;
                    if !r.is_success() {
                        return Err(CardError::status("RELOAD PIN", r.status).into());
                    }
                }
                WriteOp::ChangePin => {
                    let (Some(old), Some(new)) = change.unwrap_or((None, None)) else {
                        return Err(ActivationError::Inconsistent(Internal::ChangePinsMissing));
                    };
                    let r = s.ch.send(&catalogue::change_pin(&old, &new))?;
                    if !r.is_success() {
                        return Err(CardError::status("CHANGE PIN", r.status).into());
                    }
                }
            }
            Ok(Input::Written)
        }
    }
}

/// Whether `pin` is the initial PIN `123456` (spec/activation.md: the PIN rule).
pub(super) fn is_initial(pin: &Pin) -> bool {
    pin.bcd() == [0x12, 0x34, 0x56]
}

pub(super) fn run_cause(run: &mut Run<'_>, e: ActivationError) {
    run.cause = Some(e);
}

pub(super) fn card_name(which: Which) -> &'static str {
    match which {
        Which::Old => "old card",
        Which::New => "new card",
    }
}

pub(super) fn slot<'r, 'p>(
    run: &'r mut Run<'p>,
    which: Which,
) -> Result<&'r mut Card<'p>, ActivationError> {
    let card = match which {
        Which::Old => run.old.as_mut(),
        Which::New => run.new.as_mut(),
    };
    card.ok_or(ActivationError::Card(CardError::Transport(
        TransportError::CardRemoved,
    )))
}

pub(super) fn verify_pin(
    cx: &mut Context<'_>,
    run: &mut Run<'_>,
    which: Which,
    prompt: Prompt,
    spend_last_try: bool,
) -> Result<Input, ActivationError> {
    let card = slot(run, which)?;
    let left = card.session.pin_tries_left()?;
    match left {
        Some(0) => return Ok(Input::Pin(PinOutcome::Blocked)),
        Some(1) if !spend_last_try => return Ok(Input::Pin(PinOutcome::LastTryWithheld)),
        _ => {}
    }
    let prompt = match (prompt, left) {
        (Prompt::OldPin { tries_left: None }, Some(n)) => Prompt::OldPin {
            tries_left: Some(n),
        },
        (p, _) => p,
    };
    let pin = match cx.desk.pin(Ask::Prompt(prompt), false) {
        Ok(p) => p,
        Err(_) => return Ok(Input::Pin(PinOutcome::NoInput)),
    };
    let card = slot(run, which)?;
    let outcome = match card.session.verify_pin(&pin)? {
        Status::Success => PinOutcome::Ok {
            initial: is_initial(&pin),
        },
        Status::TriesLeft(n) => PinOutcome::Wrong { left: n },
        Status::AuthBlocked => PinOutcome::Blocked,
        Status::ConditionsNotSatisfied => PinOutcome::CardRefuses,
        status => return Err(CardError::status("VERIFY", status).into()),
    };
    if let PinOutcome::Ok { .. } = outcome {
        match which {
            Which::Old => run.old_pin = Some(pin),
            Which::New => run.new_card_pin = Some(pin),
        }
    }
    Ok(Input::Pin(outcome))
}
