//! Window and first use (spec/activation.md: Window and first-use flows): the new
//! card only.

use super::*;

/// Window and first use (spec: Window and first-use flows).
pub(super) fn window(io: &mut Io<'_>, flow: Flow, typed: Option<&str>, verify_pin: bool) -> R<End> {
    let valid = |s: &str| {
        crate::card::checks::check_citizen_id(s).outcome == crate::card::checks::Outcome::Pass
    };
    let mut typed: Option<String> = typed.map(|s| s.trim().to_ascii_uppercase());
    if flow == Flow::Window {
        loop {
            match &typed {
                Some(s) if valid(s) => break,
                Some(_) => {
                    io.note(Note::CitizenIdInvalid);
                    if !io.env.interactive {
                        return refuse(Refusal::CitizenIdTyped);
                    }
                }
                None => {}
            }
            match io.ask_line(Prompt::CitizenId)? {
                Some(l) => typed = Some(l.trim().to_ascii_uppercase()),
                None => return refuse(Refusal::NoInput),
            }
        }
    }
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Activate, NEW_ROLES)?;
    let genuine = io.genuine(Which::New)?;
    let card = NewCard::parse(f, genuine)?;
    if let Some(h) = card.holder() {
        io.note(h);
    }
    if flow == Flow::Window {
        while typed.as_deref() != Some(card.citizen_id()?) {
            io.note(Note::CitizenIdMismatch);
            if !io.env.interactive {
                return refuse(Refusal::CitizenIdTyped);
            }
            match io.ask_line(Prompt::CitizenId)? {
                Some(l) => typed = Some(l.trim().to_ascii_uppercase()),
                None => return refuse(Refusal::NoInput),
            }
        }
    }
    if !card.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    let ignore_balance = io
        .env
        .rules
        .broken(Mutation::CreditIdLastWindowIgnoresBalance);
    check_fresh(io, &card, ignore_balance)?;
    let mut change_pin = false;
    if verify_pin {
        match io.verify_pin(Which::New, Prompt::NewCardPin, true)? {
            PinOutcome::Ok { initial } => {
                io.step_msg(Step::PinVerified);
                if initial {
                    io.note(Note::ChoosePinBecauseInitial);
                    choose_pin(io, Prompt::ChooseNewPin)?;
                    change_pin = true;
                }
            }
            PinOutcome::Wrong { left } => return refuse(Refusal::PinWrong { left }),
            PinOutcome::Blocked => return refuse(Refusal::PinBlocked),
            PinOutcome::LastTryWithheld => return refuse(Refusal::PinLastTry),
            PinOutcome::CardRefuses => return refuse(Refusal::PinBlocked),
            PinOutcome::NoInput => return refuse(Refusal::NoInput),
        }
    }
    let id = TransferId::new(0, io.env.random);
    let data = TransferData {
        old_card: None,
        new_card: Some(card.number.clone()),
        citizen_id: card.citizen_id()?.to_string(),
        holder_name: card.name()?,
        account: card.account()?,
        category: card.category()?,
        balance_fen: 0,
    };
    let proof = io.journal(id, flow, JournalState::Crediting, &data)?;
    io.step_msg(Step::Activate);
    io.authenticate(Which::New, KeyRole::Write)?;
    let ssc = Role::Ssc;
    io.set(
        &proof,
        ssc(SscRole::ActivationDate),
        FieldValue::Date(Some(io.env.today)),
    )?;
    io.set(
        &proof,
        ssc(SscRole::ActivationTerminal),
        FieldValue::Digits(io.env.terminal.clone()),
    )?;
    io.set(
        &proof,
        ssc(SscRole::Status),
        FieldValue::SscStatus(SscStatus::Active),
    )?;
    let rec = LogAppend {
        kind: LOG_ACTIVATION,
        amount_fen: 0,
        balance_after_fen: card.balance,
        date: io.env.today,
        terminal: io.env.terminal.clone(),
        transfer: None,
    };
    io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
    if change_pin {
        io.step_msg(Step::SetPin);
        io.write(&proof, Which::New, WriteOp::ChangePin)?;
    }
    let back = io.read(Which::New, Session::Same, NEW_BACK)?;
    if ssc_status(back)? != SscStatus::Active {
        return stop(Stop::ReadBack { which: Which::New });
    }
    io.journal(id, flow, JournalState::Credited, &data)?;
    io.journal(id, flow, JournalState::Complete, &data)?;
    Ok(End::Done(Receipt {
        flow,
        id,
        holder_name: card.name()?,
        citizen_id: card.citizen_id()?.to_string(),
        old_card: None,
        new_card: card.number.clone(),
        amount_fen: 0,
        old_card_finished: false,
        date: io.env.today,
    }))
}
