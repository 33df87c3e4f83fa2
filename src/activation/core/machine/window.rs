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
    activate(io, flow, id, &data, card.balance, change_pin)
}

/// Journals `CREDITING`, writes tags 24, 25 and 22 (`01`), appends log `02`, changes
/// the PIN when the holder chose one, reads back, journals `CREDITED` and `COMPLETE`
/// (spec: Window and first-use flows). A resume of a torn run calls it again under
/// the same id with `change_pin` false (the chosen PIN was never journaled).
fn activate(
    io: &mut Io<'_>,
    flow: Flow,
    id: TransferId,
    data: &TransferData,
    balance: u32,
    change_pin: bool,
) -> R<End> {
    let proof = io.journal(id, flow, JournalState::Crediting, data)?;
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
        balance_after_fen: balance,
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
    finish(io, flow, id, data, io.env.today)
}

/// Journals `CREDITED` and `COMPLETE`; the receipt.
fn finish(io: &mut Io<'_>, flow: Flow, id: TransferId, data: &TransferData, date: Date) -> R<End> {
    io.journal(id, flow, JournalState::Credited, data)?;
    io.journal(id, flow, JournalState::Complete, data)?;
    Ok(End::Done(Receipt {
        flow,
        id,
        holder_name: data.holder_name.clone(),
        citizen_id: data.citizen_id.clone(),
        old_card: None,
        new_card: data.new_card.clone().unwrap_or_default(),
        amount_fen: 0,
        old_card_finished: false,
        date,
    }))
}

/// What a resume reads from the new card: what [`window`] checks, and tags 24 and 25
/// (the activation a torn run may have written, whose log record is to match).
const NEW_RESUME: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::ExpiryDate),
    Role::Ssc(SscRole::CitizenId),
    Role::Ssc(SscRole::Name),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
    Role::Ssc(SscRole::LastLog),
    Role::Ssc(SscRole::ActivationDate),
    Role::Ssc(SscRole::ActivationTerminal),
];

/// `activate resume ID` of a window or first-use entry left at `CREDITING` or
/// `CREDITED` (spec: Recovery), on any desk holding the entry: the new card named by
/// the entry, and only it.
///
/// - Still not active and fresh: the writes again under the same id (tags 24, 25,
///   22, log `02`), read back, `CREDITED`, `COMPLETE`.
/// - Active without a transfer: log `02` appended when the log head is not one
///   (dated with the card's own tags 24 and 25: the torn run's activation), then
///   `CREDITED`, `COMPLETE`.
/// - Anything else: refused.
///
/// The PIN the holder may have chosen is not set: PINs are never journaled
/// ([`Note::PinNotChangedOnResume`]).
pub(super) fn resume_window(io: &mut Io<'_>, e: &JournalEntry) -> R<End> {
    let Some(n) = e.data.new_card.clone() else {
        return refuse(Refusal::EntryLacksNewCard { id: e.id });
    };
    io.note(Note::ContinuingFromJournal {
        id: e.id,
        state: e.state,
    });
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Activate, NEW_RESUME)?;
    let genuine = io.genuine(Which::New)?;
    let card = NewCard::parse(f, genuine)?;
    if card.number != n {
        return refuse(Refusal::WrongNewCard {
            expected: n,
            found: card.number,
        });
    }
    if let Some(h) = card.holder() {
        io.note(h);
    }
    if !card.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    if card.citizen_id()? != e.data.citizen_id {
        return refuse(Refusal::OtherPerson);
    }
    let mut data = e.data.clone();
    data.new_card = Some(n);
    let torn_before_pin = e.state == JournalState::Crediting;
    let end = match (e.state, card.status) {
        (JournalState::Crediting, SscStatus::NotActivated) => {
            let ignore_balance = io
                .env
                .rules
                .broken(Mutation::CreditIdLastWindowIgnoresBalance);
            check_fresh(io, &card, ignore_balance)?;
            activate(io, e.flow, e.id, &data, card.balance, false)?
        }
        (JournalState::Crediting | JournalState::Credited, SscStatus::Active) => {
            if card.transfer.is_some() {
                return refuse(Refusal::NewActiveWithOtherTransfer);
            }
            let activated = activation_of(f)?;
            if e.state == JournalState::Crediting && !card.logged(LOG_ACTIVATION, NO_TRANSFER)? {
                let proof = io.journal(e.id, e.flow, JournalState::Crediting, &data)?;
                io.step_msg(Step::Activate);
                io.authenticate(Which::New, KeyRole::Write)?;
                let (date, terminal) = activated.clone();
                let rec = LogAppend {
                    kind: LOG_ACTIVATION,
                    amount_fen: 0,
                    balance_after_fen: card.balance,
                    date: date.unwrap_or(io.env.today),
                    terminal,
                    transfer: None,
                };
                io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
                let back = io.read(Which::New, Session::Same, NEW_BACK)?;
                if ssc_status(back)? != SscStatus::Active {
                    return stop(Stop::ReadBack { which: Which::New });
                }
            } else {
                io.note(Note::AlreadyCredited { id: e.id });
            }
            let date = activated.0.unwrap_or(io.env.today);
            if e.state == JournalState::Credited {
                io.journal(e.id, e.flow, JournalState::Complete, &data)?;
                End::Done(Receipt {
                    flow: e.flow,
                    id: e.id,
                    holder_name: data.holder_name.clone(),
                    citizen_id: data.citizen_id.clone(),
                    old_card: None,
                    new_card: data.new_card.clone().unwrap_or_default(),
                    amount_fen: 0,
                    old_card_finished: false,
                    date,
                })
            } else {
                finish(io, e.flow, e.id, &data, date)?
            }
        }
        (JournalState::Credited, SscStatus::NotActivated) => {
            // This journal saw the card read back active.
            return stop(Stop::Inconsistent { id: e.id });
        }
        (_, s) => return refuse(Refusal::NewStatus { status: s }),
    };
    if torn_before_pin {
        io.note(Note::PinNotChangedOnResume { id: e.id });
    }
    Ok(end)
}

/// The zero transfer id: log `02` records carry none.
const NO_TRANSFER: TransferId = TransferId([0; 16]);

/// Tags 24 and 25 as read (date `None` when `00000000`).
fn activation_of(f: &Fields) -> R<(Option<Date>, String)> {
    let date = match f.get(Role::Ssc(SscRole::ActivationDate)) {
        Some(FieldValue::Date(d)) => *d,
        _ => return missing(Role::Ssc(SscRole::ActivationDate)),
    };
    let terminal = text(f, Role::Ssc(SscRole::ActivationTerminal))?;
    Ok((date, terminal))
}
