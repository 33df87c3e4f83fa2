//! The pharmacy flow (steps 1–4), the credit shared with recovery and cancel, and
//! resume (spec/activation.md: Pharmacy flow; Recovery).

use super::*;

pub(super) fn run(io: &mut Io<'_>, start: &Start) -> R<End> {
    match start {
        Start::Pharmacy => pharmacy(io),
        Start::Resume {
            entry,
            old_card_present,
        } => resume(io, entry.as_ref(), *old_card_present),
        Start::Cancel { id, entry } => cancel(io, *id, entry.as_ref()),
        Start::Window {
            citizen_id,
            verify_pin,
        } => window(io, Flow::Window, citizen_id.as_deref(), *verify_pin),
        Start::FirstUse { verify_pin } => window(io, Flow::FirstUse, None, *verify_pin),
    }
}

/// A transfer being credited: X, what moves, N.
pub(super) struct Transfer {
    pub(super) id: TransferId,
    pub(super) data: TransferData,
    pub(super) n: String,
}

/// How the new card gets its PIN.
#[derive(Clone, Copy)]
pub(super) enum PinPlan {
    /// Already settled in this run.
    Settled(PinSource),
    /// Ask the holder (typed twice) if the PIN is to be set in this run.
    Ask,
}

pub(super) fn pharmacy(io: &mut Io<'_>) -> R<End> {
    // Step 1: the new card, checked; nothing written.
    let new = read_new(io, Purpose::Check)?;
    check_fresh(io, &new, false)?;
    io.step_msg(Step::ProveKey);
    io.authenticate(Which::New, KeyRole::Write)?;
    // Step 2: the old card, frozen, bound to N.
    let mut old = read_old(io, Purpose::Freeze, Session::Fresh, OLD_FREEZE)?;
    if matches!(old.status, CityStatus::Migrating | CityStatus::Migrated) {
        old.read_transfer(io)?;
    }
    // A floor may only name this old card (known from here on).
    if let Some(f) = &new.floor {
        if f.old_card != old.number {
            return refuse(Refusal::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            });
        }
    }
    match old.status {
        CityStatus::Active => {}
        CityStatus::Migrating => return continue_from_old(io, old, Some(new)),
        CityStatus::Migrated => return refuse(Refusal::OldMigrated { to: old.target()? }),
        CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
    }
    let data = old.data(Some(new.number.clone()))?;
    if data.citizen_id != new.citizen_id()? {
        return refuse(Refusal::OtherPerson);
    }
    let pin = verify_old_pin(io)?;
    let Some(n1) = old.counter()?.checked_add(1) else {
        return stop(Stop::CounterExhausted);
    };
    let x = TransferId::new(n1, io.env.random);
    let t = Transfer {
        id: x,
        data,
        n: new.number.clone(),
    };
    let proof = io.journal(x, Flow::Pharmacy, JournalState::Freezing, &t.data)?;
    io.step_msg(Step::Freeze);
    io.authenticate(Which::Old, KeyRole::Write)?;
    // The counter first (raising it alone is harmless), N, X, the status last.
    io.set(
        &proof,
        Role::City(CityRole::TransferCounter),
        FieldValue::Number(n1),
    )?;
    if !io.env.rules.broken(Mutation::FreezeBindsNothing) {
        io.set(
            &proof,
            Role::City(CityRole::TargetCard),
            FieldValue::Text(t.n.clone()),
        )?;
    }
    io.set(
        &proof,
        Role::City(CityRole::TransferId),
        FieldValue::TransferId(Some(x)),
    )?;
    io.set(
        &proof,
        Role::City(CityRole::Status),
        FieldValue::CityStatus(CityStatus::Migrating),
    )?;
    let back = io.read(Which::Old, Session::Same, OLD_BACK)?;
    let bound = io.env.rules.broken(Mutation::FreezeBindsNothing)
        || text(back, Role::City(CityRole::TargetCard))? == t.n;
    if city_status(back)? != CityStatus::Migrating
        || transfer(back, Role::City(CityRole::TransferId))? != Some(x)
        || number(back, Role::City(CityRole::TransferCounter))? != n1
        || !bound
    {
        return stop(Stop::ReadBack { which: Which::Old });
    }
    io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
    io.step_msg(Step::Frozen);
    // Step 3 (and 4).
    let same = match io.env.readers {
        Readers::Two => new,
        Readers::One => read_new_again(io, new)?,
    };
    credit(
        io,
        &t,
        Some(same),
        PinPlan::Settled(pin),
        Some(JournalState::Frozen),
        io.env.readers == Readers::Two,
    )
}

/// Asks for the old card's PIN and verifies it (the last try only when allowed);
/// `123456` means the holder chooses the new card's PIN.
pub(super) fn verify_old_pin(io: &mut Io<'_>) -> R<PinSource> {
    let mut tries = None;
    loop {
        let spend = io.env.force_last_try;
        match io.verify_pin(Which::Old, Prompt::OldPin { tries_left: tries }, spend)? {
            PinOutcome::Ok { initial } => {
                io.step_msg(Step::PinVerified);
                if initial {
                    io.note(Note::ChoosePinBecauseInitial);
                    choose_pin(io, Prompt::ChooseNewPin)?;
                    return Ok(PinSource::Chosen);
                }
                return Ok(PinSource::OldCardVerified);
            }
            PinOutcome::Wrong { left } => {
                io.note(Note::PinWrong { left });
                if !io.env.interactive || left == 0 {
                    return refuse(Refusal::PinWrong { left });
                }
                tries = Some(left);
            }
            PinOutcome::Blocked => return refuse(Refusal::PinBlocked),
            PinOutcome::LastTryWithheld => return refuse(Refusal::PinLastTry),
            PinOutcome::CardRefuses => return refuse(Refusal::OldRefusesPin),
            PinOutcome::NoInput => return refuse(Refusal::NoInput),
        }
    }
}

/// The PIN rule: a PIN typed twice, never `123456`; asked again while a person answers.
pub(super) fn choose_pin(io: &mut Io<'_>, prompt: Prompt) -> R<()> {
    for _ in 0..3 {
        match io.ask_pin(prompt)? {
            PinEntry::Entered {
                confirmed: true,
                initial: false,
            } => return Ok(()),
            PinEntry::Entered {
                confirmed: false, ..
            } => io.note(Note::PinsDiffer),
            PinEntry::Entered { initial: true, .. } => io.note(Note::PinInitialRefused),
            PinEntry::NoInput => return refuse(Refusal::NoInput),
        }
        if !io.env.interactive {
            return refuse(Refusal::PinNotChosen);
        }
    }
    refuse(Refusal::PinNotChosen)
}

/// An old card at `01` carrying X and N: continue at step 3 with N (spec: recovery,
/// on any terminal). `checked` is the new card pharmacy step 1 checked, if any.
pub(super) fn continue_from_old(io: &mut Io<'_>, old: OldCard, checked: Option<NewCard>) -> R<End> {
    let (Some(x), target) = (old.transfer()?, old.target()?) else {
        return stop(Stop::FrozenWithoutTransfer);
    };
    let n = match (target, &checked) {
        (Some(n), _) => n,
        (None, Some(c)) if io.env.rules.broken(Mutation::FreezeBindsNothing) => c.number.clone(),
        (None, _) => return stop(Stop::FrozenWithoutTransfer),
    };
    if let Some(c) = &checked {
        if c.number != n {
            return refuse(Refusal::OldBoundToOther { new_card: n });
        }
    }
    let t = Transfer {
        id: x,
        data: old.data(Some(n.clone()))?,
        n,
    };
    let entry = io.lookup(x)?;
    let state = match entry.as_ref().map(|e| e.state) {
        None => {
            io.note(Note::ContinuingFromOldCard { id: x });
            io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
            JournalState::Frozen
        }
        Some(JournalState::Freezing) => {
            // The freeze reached the card (it reads `01` with X): record it.
            io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
            JournalState::Frozen
        }
        Some(s @ (JournalState::Frozen | JournalState::Crediting | JournalState::Credited)) => {
            io.note(Note::ContinuingFromJournal { id: x, state: s });
            s
        }
        Some(JournalState::Voiding | JournalState::Voided | JournalState::Cancelling) => {
            return refuse(Refusal::BeingCancelled { id: x })
        }
        Some(s @ (JournalState::Complete | JournalState::Cancelled)) => {
            return refuse(Refusal::EntryFinal { id: x, state: s })
        }
    };
    // Two readers: the new card checked in this run is still in its reader.
    let same = checked.filter(|_| io.env.readers == Readers::Two);
    credit(
        io,
        &t,
        same,
        PinPlan::Ask,
        Some(state),
        io.env.readers == Readers::Two,
    )
}

/// Pharmacy step 3 (credit N) and step 4 (finish). `same` is N read in this run and
/// still in its reader; `state` is this journal's state for X; `old_here` whether the
/// old card is in its reader (two readers) for step 4.
pub(super) fn credit(
    io: &mut Io<'_>,
    t: &Transfer,
    same: Option<NewCard>,
    pin: PinPlan,
    state: Option<JournalState>,
    old_here: bool,
) -> R<End> {
    let fresh = same.is_none();
    let mut new = match same {
        Some(c) => c,
        None => read_new(io, Purpose::Credit)?,
    };
    if new.number != t.n {
        return refuse(Refusal::WrongNewCard {
            expected: t.n.clone(),
            found: new.number.clone(),
        });
    }
    // The holder check of step 2, again where both sides were read (a cancel
    // finishing a credit identifies N by its number alone, as step 3 does).
    if let Some(c) = &new.citizen_id {
        if !t.data.citizen_id.is_empty() && *c != t.data.citizen_id {
            return refuse(Refusal::OtherPerson);
        }
    }
    if fresh {
        check_identity(io, &new)?;
    }
    if let Some(f) = &new.floor {
        if Some(&f.old_card) != t.data.old_card.as_ref() {
            return refuse(Refusal::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            });
        }
        if f.counter >= t.id.counter() {
            return refuse(Refusal::TransferCancelled { id: t.id });
        }
    }
    let already = match (new.status, new.transfer) {
        (SscStatus::Active, Some(id)) if id == t.id => true,
        (SscStatus::Active, _) => return refuse(Refusal::NewActiveWithOtherTransfer),
        (SscStatus::NotActivated, Some(id)) if id != t.id => {
            return refuse(Refusal::UnfinishedTransferOnNew { id })
        }
        (SscStatus::NotActivated, None) if new.balance != 0 => {
            return refuse(Refusal::BalanceWithoutTransfer {
                balance_fen: new.balance,
            })
        }
        (SscStatus::NotActivated, _) => false,
        (s, _) => return refuse(Refusal::NewStatus { status: s }),
    };
    let done_here = state >= Some(JournalState::Credited);
    if already {
        // Whether the log record is there decides the APPEND below.
        new.read_log(io)?;
        io.note(Note::AlreadyCredited { id: t.id });
    }
    let mut data = t.data.clone();
    data.new_card = Some(t.n.clone());
    if !(already && done_here) {
        // The PIN: settled in this run, or asked now (typed twice), before anything is
        // written. A card found credited without this journal's CREDITED may have
        // been torn before its RELOAD PIN: the PIN rule (never left on `123456`)
        // makes this desk set it again; the log check below keeps the log single.
        let source = match pin {
            PinPlan::Settled(s) => s,
            PinPlan::Ask => {
                choose_pin(io, Prompt::PinForNewCard)?;
                PinSource::TypedTwice
            }
        };
        let proof = io.journal(t.id, Flow::Pharmacy, JournalState::Crediting, &data)?;
        io.step_msg(Step::Credit);
        io.authenticate(Which::New, KeyRole::Write)?;
        if !already {
            let ssc = Role::Ssc;
            let id_last = io
                .env
                .rules
                .broken(Mutation::CreditIdLastWindowIgnoresBalance);
            // The transfer id first: a torn credit is then always recognisable.
            if !id_last {
                io.set(
                    &proof,
                    ssc(SscRole::TransferId),
                    FieldValue::TransferId(Some(t.id)),
                )?;
            }
            io.set(
                &proof,
                ssc(SscRole::Account),
                FieldValue::Text(t.data.account.clone()),
            )?;
            io.set(
                &proof,
                ssc(SscRole::Category),
                FieldValue::Code(t.data.category),
            )?;
            io.set(
                &proof,
                ssc(SscRole::Balance),
                FieldValue::Number(t.data.balance_fen),
            )?;
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
            if id_last {
                io.set(
                    &proof,
                    ssc(SscRole::TransferId),
                    FieldValue::TransferId(Some(t.id)),
                )?;
            }
            io.set(
                &proof,
                ssc(SscRole::Status),
                FieldValue::SscStatus(SscStatus::Active),
            )?;
        }
        if !already || !new.logged(LOG_TRANSFER_IN, t.id)? {
            let rec = LogAppend {
                kind: LOG_TRANSFER_IN,
                amount_fen: t.data.balance_fen,
                balance_after_fen: t.data.balance_fen,
                date: io.env.today,
                terminal: io.env.terminal.clone(),
                transfer: Some(t.id),
            };
            io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
        }
        // Read back while DF04 is current (the records RELOAD PIN cannot touch;
        // after it SSSE is current and a read-back would cost a SELECT of DF04).
        let back = io.read(Which::New, Session::Same, CREDIT_BACK)?;
        if ssc_status(back)? != SscStatus::Active
            || transfer(back, Role::Ssc(SscRole::TransferId))? != Some(t.id)
            || number(back, Role::Ssc(SscRole::Balance))? != t.data.balance_fen
        {
            return stop(Stop::ReadBack { which: Which::New });
        }
        io.step_msg(Step::SetPin);
        io.authenticate(Which::New, KeyRole::PinReload)?;
        io.write(&proof, Which::New, WriteOp::ReloadPin(source))?;
    }
    let proof = io.journal(t.id, Flow::Pharmacy, JournalState::Credited, &data)?;
    // Step 4: the old card, when it is in its reader.
    let finished = if old_here {
        io.step_msg(Step::FinishOld);
        io.authenticate(Which::Old, KeyRole::Write)?;
        io.set(
            &proof,
            Role::City(CityRole::Status),
            FieldValue::CityStatus(CityStatus::Migrated),
        )?;
        let back = io.read(Which::Old, Session::Same, OLD_STATUS)?;
        if city_status(back)? != CityStatus::Migrated {
            return stop(Stop::ReadBack { which: Which::Old });
        }
        true
    } else {
        io.note(Note::OldCardStaysFrozen {
            new_card: t.n.clone(),
        });
        false
    };
    io.journal(t.id, Flow::Pharmacy, JournalState::Complete, &data)?;
    Ok(End::Done(Receipt {
        flow: Flow::Pharmacy,
        id: t.id,
        holder_name: t.data.holder_name.clone(),
        citizen_id: t.data.citizen_id.clone(),
        old_card: t.data.old_card.clone(),
        new_card: t.n.clone(),
        amount_fen: t.data.balance_fen,
        old_card_finished: finished,
        date: io.env.today,
    }))
}

pub(super) fn resume(io: &mut Io<'_>, entry: Option<&JournalEntry>, old_present: bool) -> R<End> {
    if let Some(e) = entry {
        if e.state.is_final() {
            return refuse(Refusal::EntryFinal {
                id: e.id,
                state: e.state,
            });
        }
        if e.flow != Flow::Pharmacy {
            // Window and first use: the new card only, whatever is in the old reader.
            return resume_window(io, e);
        }
    }
    if entry.is_none() || old_present {
        let old = read_old(io, Purpose::Identify, Session::Fresh, OLD_ROLES)?;
        if let Some(e) = entry {
            if old.transfer()? != Some(e.id) {
                if e.state == JournalState::Freezing && old.status == CityStatus::Active {
                    return close_unfrozen(io, e);
                }
                return refuse(Refusal::OldNotCarrying { id: e.id });
            }
        }
        return match old.status {
            CityStatus::Migrating => continue_from_old(io, old, None),
            CityStatus::Active => match entry {
                Some(e) if e.state == JournalState::Freezing => close_unfrozen(io, e),
                _ => refuse(Refusal::NothingToResume),
            },
            CityStatus::Migrated => {
                // Every card write was made; a journal entry a fault left short of
                // COMPLETE is completed.
                let Some(x) = old.transfer()? else {
                    return refuse(Refusal::NothingToResume);
                };
                match io.lookup(x)? {
                    Some(e) if !e.state.is_final() && JournalState::Credited >= e.state => {
                        io.journal(x, Flow::Pharmacy, JournalState::Complete, &e.data)?;
                        Ok(End::Done(Receipt {
                            flow: Flow::Pharmacy,
                            id: x,
                            holder_name: e.data.holder_name.clone(),
                            citizen_id: e.data.citizen_id.clone(),
                            old_card: e.data.old_card.clone(),
                            new_card: old.target()?.unwrap_or_default(),
                            amount_fen: e.data.balance_fen,
                            old_card_finished: true,
                            date: io.env.today,
                        }))
                    }
                    _ => refuse(Refusal::OldMigrated { to: old.target()? }),
                }
            }
            CityStatus::Blocked | CityStatus::Other(_) => refuse(Refusal::OldNotUsable),
        };
    }
    let Some(e) = entry else {
        return refuse(Refusal::NothingToResume);
    };
    match e.state {
        JournalState::Freezing => refuse(Refusal::FreezeUnfinished { id: e.id }),
        JournalState::Voiding | JournalState::Voided | JournalState::Cancelling => {
            refuse(Refusal::BeingCancelled { id: e.id })
        }
        JournalState::Complete | JournalState::Cancelled => refuse(Refusal::EntryFinal {
            id: e.id,
            state: e.state,
        }),
        s @ (JournalState::Frozen | JournalState::Crediting | JournalState::Credited) => {
            if e.flow != Flow::Pharmacy {
                return refuse(Refusal::NothingToResume);
            }
            let Some(n) = e.data.new_card.clone() else {
                return refuse(Refusal::EntryLacksNewCard { id: e.id });
            };
            io.note(Note::ContinuingFromJournal { id: e.id, state: s });
            let t = Transfer {
                id: e.id,
                data: e.data.clone(),
                n,
            };
            credit(io, &t, None, PinPlan::Ask, Some(s), false)
        }
    }
}

/// A `FREEZING` entry whose old card reads active without this transfer frozen:
/// the freeze never took effect (its status write is the last); the entry is closed.
pub(super) fn close_unfrozen(io: &mut Io<'_>, e: &JournalEntry) -> R<End> {
    io.note(Note::FreezeNeverTookEffect { id: e.id });
    io.journal(e.id, e.flow, JournalState::Cancelled, &e.data)?;
    refuse(Refusal::NothingToCancel { id: e.id })
}
