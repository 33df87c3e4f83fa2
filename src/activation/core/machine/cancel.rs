//! `activate cancel ID` (spec/activation.md: Recovery, Cancel): void on N first (the
//! floor), then the old card back to active.

use super::*;

/// `activate cancel ID` (spec: Recovery, Cancel): void on N first (the floor), then
/// the old card back to active.
pub(super) fn cancel(io: &mut Io<'_>, x: TransferId, entry: Option<&JournalEntry>) -> R<End> {
    if let Some(e) = entry {
        if e.state.is_final() {
            return refuse(Refusal::EntryFinal {
                id: x,
                state: e.state,
            });
        }
    }
    let state = entry.map(|e| e.state);
    // The old rule (mutation 1): with no credit in the journal, the old card alone.
    if io.env.rules.broken(Mutation::CancelWithOldCardAlone) {
        if let Some(e) = entry.filter(|e| matches!(e.state, JournalState::Frozen)) {
            return unfreeze(io, x, e.data.clone(), None, None);
        }
    }
    // A cancel torn after the void: the floor is on N; finish on the old card.
    if let Some(e) =
        entry.filter(|e| matches!(e.state, JournalState::Voided | JournalState::Cancelling))
    {
        return unfreeze(io, x, e.data.clone(), e.data.new_card.clone(), None);
    }
    // Cancel always needs N: from the journal, else from the old card.
    let mut old_read: Option<OldCard> = None;
    let (data, n) = match entry {
        Some(e) if e.state != JournalState::Freezing && e.data.new_card.is_some() => {
            (e.data.clone(), e.data.new_card.clone().unwrap_or_default())
        }
        _ => {
            let old = read_old(io, Purpose::Identify, Session::Fresh, OLD_CANCEL)?;
            if let Some(e) = entry {
                if e.data.old_card.as_ref().is_some_and(|c| *c != old.number) {
                    return refuse(Refusal::WrongOldCard {
                        expected: e.data.old_card.clone().unwrap_or_default(),
                        found: old.number.clone(),
                    });
                }
            }
            match old.status {
                CityStatus::Migrating if old.transfer()? == Some(x) => {}
                CityStatus::Active => {
                    if old.transfer()? == Some(x) {
                        // Torn freeze (status never written) or torn unfreeze: tidy the
                        // old card; no credit can exist (credits need it at `01`).
                        let data = old.record(old.target()?);
                        return unfreeze(io, x, data, old.target()?, Some(old));
                    }
                    if let Some(e) = entry {
                        if e.state == JournalState::Freezing {
                            return close_unfrozen(io, e);
                        }
                    }
                    return refuse(Refusal::NothingToCancel { id: x });
                }
                CityStatus::Migrating => return refuse(Refusal::OldNotCarrying { id: x }),
                CityStatus::Migrated => return refuse(Refusal::OldMigrated { to: old.target()? }),
                CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
            }
            let Some(n) = old.target()? else {
                return stop(Stop::FrozenWithoutTransfer);
            };
            let data = old.record(Some(n.clone()));
            old_read = Some(old);
            (data, n)
        }
    };
    let old_card = data.old_card.clone().unwrap_or_default();
    // N, and only N.
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Void, NEW_VOID)?;
    let genuine = io.genuine(Which::New)?;
    let mut new = NewCard::parse(f, genuine)?;
    if new.number != n {
        return refuse(Refusal::WrongNewCard {
            expected: n,
            found: new.number,
        });
    }
    if !new.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    // 1. N holds X: refuse the cancel, finish instead.
    if new.status == SscStatus::Active && new.transfer == Some(x) {
        // Finish what a torn credit may have left (log record, PIN), and step 4 when
        // the old card read in this run is still in its reader.
        let mut data = data.clone();
        if old_read.is_some() {
            // The cancel read no balance from the old card: the amount N was credited
            // with is N's balance (a credit whose log record is missing never reached
            // its RELOAD PIN, so N cannot have paid since).
            data.balance_fen = new.balance;
        }
        let t = Transfer {
            id: x,
            data,
            n: n.clone(),
        };
        let old_here = io.env.readers == Readers::Two && old_read.is_some();
        return match credit(io, &t, Some(new), PinPlan::Ask, state, old_here)? {
            End::Done(_) => refuse(Refusal::CancelAfterCredit { id: x, new_card: n }),
            other => Ok(other),
        };
    }
    if state == Some(JournalState::Credited) {
        // This journal saw N credited, yet N does not hold X.
        return stop(Stop::Inconsistent { id: x });
    }
    // 2. Void on N: the floor, the torn credit, log `03`.
    let keep_floor = match &new.floor {
        Some(f) if f.old_card != old_card => {
            return stop(Stop::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            })
        }
        Some(f) => f.counter >= x.counter(),
        None => false,
    };
    let proof = io.journal(x, Flow::Pharmacy, JournalState::Voiding, &data)?;
    io.step_msg(Step::Void);
    io.authenticate(Which::New, KeyRole::Write)?;
    if keep_floor {
        io.note(Note::FloorAlreadyThere);
    } else if !io.env.rules.broken(Mutation::CancelWritesNoFloor) {
        io.set(
            &proof,
            Role::Ssc(SscRole::TransferFloor),
            FieldValue::Floor(Some(Floor {
                old_card: old_card.clone(),
                counter: x.counter(),
            })),
        )?;
    }
    let mut balance_after = new.balance;
    let torn_credit = new.transfer == Some(x);
    if torn_credit {
        io.note(Note::TornCreditCleared { id: x });
        io.set(&proof, Role::Ssc(SscRole::Balance), FieldValue::Number(0))?;
        io.set(
            &proof,
            Role::Ssc(SscRole::TransferId),
            FieldValue::TransferId(None),
        )?;
        balance_after = 0;
    }
    // A record of this void can exist only where its floor is (written before the
    // APPEND, never lowered): read the log head then only.
    let logged = if keep_floor || io.env.rules.broken(Mutation::CancelWritesNoFloor) {
        new.read_log(io)?;
        new.logged(LOG_VOID, x)?
    } else {
        false
    };
    if !logged {
        let rec = LogAppend {
            kind: LOG_VOID,
            amount_fen: 0,
            balance_after_fen: balance_after,
            date: io.env.today,
            terminal: io.env.terminal.clone(),
            transfer: Some(x),
        };
        io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
    }
    let back = io.read(
        Which::New,
        Session::Same,
        if torn_credit {
            VOID_BACK_TORN
        } else {
            VOID_BACK
        },
    )?;
    let floor_ok = io.env.rules.broken(Mutation::CancelWritesNoFloor)
        || floor(back)?.is_some_and(|f| f.old_card == old_card && f.counter >= x.counter());
    let cleared = !torn_credit
        || (transfer(back, Role::Ssc(SscRole::TransferId))?.is_none()
            && number(back, Role::Ssc(SscRole::Balance))? == 0);
    if !floor_ok || !cleared {
        return stop(Stop::ReadBack { which: Which::New });
    }
    io.journal(x, Flow::Pharmacy, JournalState::Voided, &data)?;
    // 3. The old card.
    let old = match (old_read, io.env.readers) {
        (Some(o), Readers::Two) => Some(o),
        _ => None,
    };
    unfreeze(io, x, data, Some(n), old)
}

/// Cancel step 3: the old card back to active (status first, then tags 26 and 27
/// cleared; tag 28 keeps its value). `old` is the old card read in this run and
/// still in its reader.
pub(super) fn unfreeze(
    io: &mut Io<'_>,
    x: TransferId,
    data: TransferData,
    n: Option<String>,
    old: Option<OldCard>,
) -> R<End> {
    let old = match old {
        Some(o) => o,
        None => read_old(io, Purpose::Unfreeze, Session::Fresh, OLD_UNFREEZE)?,
    };
    if let Some(c) = &data.old_card {
        if *c != old.number {
            return refuse(Refusal::WrongOldCard {
                expected: c.clone(),
                found: old.number,
            });
        }
    }
    let needs = match old.status {
        CityStatus::Migrating if old.transfer()? == Some(x) => true,
        CityStatus::Active if old.transfer()? == Some(x) => true,
        CityStatus::Active => false,
        CityStatus::Migrating => return refuse(Refusal::OldNotCarrying { id: x }),
        CityStatus::Migrated => return stop(Stop::Inconsistent { id: x }),
        CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
    };
    if needs {
        let proof = io.journal(x, Flow::Pharmacy, JournalState::Cancelling, &data)?;
        io.step_msg(Step::Unfreeze);
        io.authenticate(Which::Old, KeyRole::Write)?;
        if old.status != CityStatus::Active {
            io.set(
                &proof,
                Role::City(CityRole::Status),
                FieldValue::CityStatus(CityStatus::Active),
            )?;
        }
        io.set(
            &proof,
            Role::City(CityRole::TransferId),
            FieldValue::TransferId(None),
        )?;
        io.set(
            &proof,
            Role::City(CityRole::TargetCard),
            FieldValue::Text(String::new()),
        )?;
        let back = io.read(Which::Old, Session::Same, UNFREEZE_BACK)?;
        if city_status(back)? != CityStatus::Active
            || transfer(back, Role::City(CityRole::TransferId))?.is_some()
            || !text(back, Role::City(CityRole::TargetCard))?
                .trim()
                .is_empty()
        {
            return stop(Stop::ReadBack { which: Which::Old });
        }
    } else {
        io.note(Note::NothingToUndo);
    }
    io.journal(x, Flow::Pharmacy, JournalState::Cancelled, &data)?;
    Ok(End::Cancelled {
        id: x,
        old_card: old.number,
        new_card: n,
    })
}
