//! English text of the core's typed messages, for the plain desk, logs and error
//! messages (what scripts and the end-to-end tests read).
//!
//! Interim: the desk's bilingual rendering of the same types belongs to
//! `ui::messages` (issue 10, point 2); each match here is exhaustive, so a new
//! variant does not compile without its sentence.

use super::core::{
    CardFault, CityStatus, JournalState, KeyRole, Note, Prompt, Purpose, Refusal, SscStatus, Step,
    Stop, Which,
};
use super::receipt::yuan;

fn card(w: Which) -> &'static str {
    match w {
        Which::Old => "the old city medical card",
        Which::New => "the new social security card",
    }
}

fn key(k: KeyRole) -> &'static str {
    match k {
        KeyRole::Write => "medical write key",
        KeyRole::PinReload => "PIN reload key",
    }
}

fn ssc_status(s: SscStatus) -> String {
    match s {
        SscStatus::NotActivated => "not activated".into(),
        SscStatus::Active => "active".into(),
        SscStatus::Blocked => "blocked".into(),
        SscStatus::Other(c) => format!("{c:02X}"),
    }
}

#[allow(dead_code)]
fn city_status(s: CityStatus) -> String {
    match s {
        CityStatus::Other(c) => format!("{c:02X}"),
        s => s.name().into(),
    }
}

/// A progress step.
pub fn step(s: Step) -> String {
    match s {
        Step::CheckNew => "Reading and checking the new card...",
        Step::ProveKey => "Proving the desk's medical write key on the new card...",
        Step::ReadOld => "Reading the old card...",
        Step::PinVerified => "PIN accepted.",
        Step::Freeze => "Freezing the old card's account...",
        Step::Frozen => "The old card is frozen, bound to the new card.",
        Step::Credit => "Moving the medical account to the new card...",
        Step::SetPin => "Setting the new card's PIN...",
        Step::FinishOld => "Marking the old card as migrated...",
        Step::Void => "Voiding the transfer on the new card (writing its floor)...",
        Step::Unfreeze => "Returning the old card to active...",
        Step::Activate => "Activating the new card...",
    }
    .to_string()
}

fn purpose(p: Purpose) -> &'static str {
    match p {
        Purpose::Check => "to be checked (nothing is written yet)",
        Purpose::Freeze => "to be frozen",
        Purpose::Credit => "to be credited",
        Purpose::Identify => "to be read",
        Purpose::Void => "to void the transfer on it",
        Purpose::Unfreeze => "to be returned to active",
        Purpose::Activate => "to be activated",
    }
}

/// A note.
pub fn note(n: &Note) -> String {
    match n {
        Note::Holder {
            name,
            citizen_id,
            card,
        } => format!(
            "Holder: {name}  ID {}  card {card}",
            super::receipt::mask_id(citizen_id)
        ),
        Note::Insert { which, purpose: p } => {
            format!("Next: {} {}.", card(*which), purpose(*p))
        }
        Note::ContinuingFromJournal { id, state } => format!(
            "Unfinished transfer {id} found in the journal ({}); continuing.",
            state.as_str()
        ),
        Note::ContinuingFromOldCard { id } => format!(
            "The old card carries transfer {id}, unknown to this terminal; continuing from the card's own data."
        ),
        Note::AlreadyCredited { id } => {
            format!("The new card already holds transfer {id}; completing what is left.")
        }
        Note::OldCardStaysFrozen { new_card } => format!(
            "The old card stays frozen: it cannot pay and names the new card {new_card}."
        ),
        Note::PinWrong { left } => format!("Wrong PIN: {left} tries left."),
        Note::PinsDiffer => "The two PINs differ; enter them again.".into(),
        Note::PinInitialRefused => "123456 cannot be chosen as a PIN; choose another.".into(),
        Note::ChoosePinBecauseInitial => {
            "The card is on the initial PIN 123456: the holder chooses a new PIN (typed twice)."
                .into()
        }
        Note::CitizenIdInvalid => "That citizen ID fails its check digit; type it again.".into(),
        Note::CitizenIdMismatch => {
            "The citizen ID typed differs from the card's; type it again from the identity document."
                .into()
        }
        Note::FreezeNeverTookEffect { id } => format!(
            "Transfer {id} never froze the old card (it reads active); the journal entry is closed."
        ),
        Note::FloorAlreadyThere => "The new card already carries the floor for this transfer.".into(),
        Note::TornCreditCleared { id } => format!(
            "The new card holds a torn credit of transfer {id}: its balance and transfer id are cleared."
        ),
        Note::NothingToUndo => "The old card is active; nothing to undo.".into(),
    }
}

/// A prompt.
pub fn prompt(p: Prompt) -> String {
    match p {
        Prompt::OldPin {
            tries_left: Some(n),
        } => {
            format!("Holder: enter the old card's PIN ({n} tries left): ")
        }
        Prompt::OldPin { tries_left: None } => "Holder: enter the old card's PIN: ".into(),
        Prompt::PinForNewCard => "Holder: enter the old card's PIN for the new card: ".into(),
        Prompt::ChooseNewPin => "Holder: choose a new PIN for the new card (not 123456): ".into(),
        Prompt::NewCardPin => "Holder: enter the new card's PIN: ".into(),
        Prompt::CitizenId => {
            "Operator: type the holder's citizen ID from the identity document: ".into()
        }
    }
}

/// The second PIN prompt.
pub fn pin_again() -> String {
    "Enter the PIN again: ".into()
}

/// A refusal.
pub fn refusal(r: &Refusal) -> String {
    match r {
        Refusal::NewExpired { expiry } => format!(
            "the new card expired on {}; the holder must replace it at the bureau",
            expiry.format("%Y-%m-%d")
        ),
        Refusal::NotGenuine { which } => format!(
            "{} failed the genuineness check (INTERNAL AUTHENTICATE)",
            card(*which)
        ),
        Refusal::NewAlreadyActive => "the new card is already active".into(),
        Refusal::NewStatus { status } => {
            format!("the new card's medical status is {}", ssc_status(*status))
        }
        Refusal::UnfinishedTransferOnNew { id } => format!(
            "the new card holds the unfinished transfer {id}: resume or cancel that one first"
        ),
        Refusal::BalanceWithoutTransfer { balance_fen } => format!(
            "the new card is not activated but holds {} yuan with no transfer: the bureau must check it",
            yuan(*balance_fen)
        ),
        Refusal::FloorOtherOldCard { old_card } => format!(
            "the new card's transfer floor names another old card ({old_card}): the bureau resolves it"
        ),
        Refusal::TransferCancelled { id } => {
            format!("transfer {id} was cancelled on this new card (its floor bars it)")
        }
        Refusal::NewActiveWithOtherTransfer => {
            "the new card is already active with another transfer".into()
        }
        Refusal::WrongNewCard { expected, found } => format!(
            "this is new card {found}; the transfer is bound to new card {expected}: insert that one"
        ),
        Refusal::WrongOldCard { expected, found } => format!(
            "this is old card {found}; the transfer belongs to old card {expected}"
        ),
        Refusal::OtherPerson => "the cards belong to different people".into(),
        Refusal::CitizenIdCheckDigit => "the citizen ID on the new card fails its check digit".into(),
        Refusal::CitizenIdTyped => "the citizen ID typed is invalid or is not the card's".into(),
        Refusal::NoInput => "no input came from the desk".into(),
        Refusal::OldMigrated { to } => format!(
            "the old card was already migrated{}",
            to.as_deref()
                .map(|t| format!(" to card {t}"))
                .unwrap_or_default()
        ),
        Refusal::OldNotUsable => "the old card is blocked: it cannot be migrated".into(),
        Refusal::OldBoundToOther { new_card } => format!(
            "the old card's transfer is bound to new card {new_card}: only that card can receive it"
        ),
        Refusal::OldNotCarrying { id } => format!("the old card does not carry transfer {id}"),
        Refusal::NothingToResume => {
            "the old card is active: there is nothing to resume on it".into()
        }
        Refusal::OldRefusesPin => {
            "the old card refuses PIN verification: it can no longer pay".into()
        }
        Refusal::PinWrong { left } => format!("wrong PIN for the card; {left} tries left"),
        Refusal::PinLastTry => "only one PIN try is left on the old card; a wrong PIN would block it. \
             Retry with --force-last-try if the holder is sure"
            .into(),
        Refusal::PinBlocked => {
            "the card's PIN is blocked; the holder must have it unblocked at the bureau".into()
        }
        Refusal::PinNotChosen => "no acceptable PIN was chosen (typed twice, not 123456)".into(),
        Refusal::EntryFinal { id, state } => {
            format!("transfer {id} is already {}", state_name(*state))
        }
        Refusal::BeingCancelled { id } => format!(
            "transfer {id} is being cancelled: run `sscard activate cancel {id}` to finish the cancel"
        ),
        Refusal::FreezeUnfinished { id } => format!(
            "transfer {id} stopped while freezing the old card: insert the old card to resume"
        ),
        Refusal::EntryLacksNewCard { id } => format!(
            "journal entry {id} names no new card: insert the old card, which names it"
        ),
        Refusal::CancelAfterCredit { id, new_card } => format!(
            "new card {new_card} holds transfer {id}: it cannot be cancelled; the transfer was completed instead"
        ),
        Refusal::NothingToCancel { id } => {
            format!("the old card does not carry transfer {id}: nothing to cancel")
        }
    }
}

fn state_name(s: JournalState) -> &'static str {
    s.as_str()
}

fn fault(f: CardFault) -> String {
    match f {
        CardFault::Removed => "the card was removed".into(),
        CardFault::Absent => "the card is not in its reader".into(),
        CardFault::ReaderInUse => "the reader is in use by another process".into(),
        CardFault::Reader => "the reader failed".into(),
        CardFault::Status(sw) => format!("the card answered {sw:04X}"),
    }
}

/// A safety stop.
pub fn stop(s: &Stop) -> String {
    match s {
        Stop::WrongKey {
            which,
            key: k,
            tries_left,
        } => format!(
            "{} refuses the desk's {} ({tries_left} tries left on the card): the key file or PSAM is wrong; not retried",
            card(*which),
            key(*k)
        ),
        Stop::KeyBlocked { which, key: k } => {
            format!("the {} of {} is blocked", key(*k), card(*which))
        }
        Stop::CardFault {
            which,
            fault: f,
            journal,
        } => format!(
            "{}: {}{}",
            card(*which),
            fault(*f),
            journal
                .map(|(id, st)| format!(" (transfer {id} at {})", st.as_str()))
                .unwrap_or_default()
        ),
        Stop::ReadBack { which } => format!(
            "{} does not read back what was written",
            card(*which)
        ),
        Stop::MissingField { role } => format!("a card field is missing: {role}"),
        Stop::FrozenWithoutTransfer => {
            "the old card is frozen but names no transfer or no new card: the balance stays frozen on it (not lost); the bureau resolves it".into()
        }
        Stop::FloorOtherOldCard { old_card } => format!(
            "the new card's floor names another old card ({old_card}): the bureau resolves it"
        ),
        Stop::Inconsistent { id } => format!(
            "the cards and the journal disagree about transfer {id}: call the bureau"
        ),
        Stop::NewCardUnavailable => {
            "the new card the transfer is bound to is not available: the balance stays frozen on the old card (not lost); the bureau resolves it".into()
        }
        Stop::JournalFailed => "the journal could not be written".into(),
        Stop::DriverMisuse => "internal error: the driver answered the wrong action".into(),
        Stop::CounterExhausted => "the old card's transfer counter is exhausted".into(),
    }
}
