//! What the core says to the desk, as data: progress steps, notes, prompts,
//! refusals, safety stops and the receipt. No sentence lives here; the desk renders
//! each variant in Chinese and English with one exhaustive `match` per language
//! (`ui::messages`), so a variant without a translation does not compile.

use super::types::{Date, Flow, JournalState, KeyRole, SscStatus, TransferId, Which};

/// Why a card needs (re)inserting: the one-reader desk's insertions are guided
/// by purpose (spec/activation.md: new card checked, old card frozen, new card
/// credited; the cancel: new card voided, old card returned to active).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum Purpose {
    /// Pharmacy step 1: the new card is checked, nothing written.
    Check,
    /// Pharmacy step 2: the old card is frozen, bound to the new card.
    Freeze,
    /// Pharmacy step 3: the new card is credited.
    Credit,
    /// Resume or cancel: the old card is read for its transfer.
    Identify,
    /// Cancel: the transfer is voided on the new card.
    Void,
    /// Cancel: the old card is returned to active.
    Unfreeze,
    /// Window or first use: the new card is activated.
    Activate,
}

/// Progress of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::VariantArray)]
pub enum Step {
    /// Reading and checking the new card.
    CheckNew,
    /// Proving this desk's medical write key on the new card.
    ProveKey,
    /// Reading the old card.
    ReadOld,
    /// The holder's PIN was accepted by the old card.
    PinVerified,
    /// Freezing the old card, bound to the new card.
    Freeze,
    /// The old card is frozen.
    Frozen,
    /// Crediting the new card.
    Credit,
    /// Setting the new card's PIN.
    SetPin,
    /// Marking the old card migrated.
    FinishOld,
    /// Voiding the transfer on the new card (the floor).
    Void,
    /// Returning the old card to active.
    Unfreeze,
    /// Activating the new card (window, first use).
    Activate,
}

/// Something worth telling the desk that is neither a step nor a stop.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Note {
    /// Whose cards these are.
    Holder {
        /// Holder name.
        name: String,
        /// Citizen ID (the desk masks it).
        citizen_id: String,
        /// The card's number.
        card: String,
    },
    /// Insert a card (one reader: the three insertions; two readers: the card's reader).
    Insert {
        /// Which card.
        which: Which,
        /// What it is for.
        purpose: Purpose,
    },
    /// A transfer this journal knows is being continued.
    ContinuingFromJournal {
        /// The transfer.
        id: TransferId,
        /// Where the journal stood.
        state: JournalState,
    },
    /// The old card carries a transfer unknown to this journal: continuing from the
    /// card's own data (another desk started it, or the disk was lost).
    ContinuingFromOldCard {
        /// The transfer.
        id: TransferId,
    },
    /// The new card already holds this transfer: only what is left is done.
    AlreadyCredited {
        /// The transfer.
        id: TransferId,
    },
    /// With one reader the old card stays frozen (`01`) naming the new card.
    OldCardStaysFrozen {
        /// N.
        new_card: String,
    },
    /// The PIN was wrong.
    PinWrong {
        /// Tries left.
        left: u8,
    },
    /// The two PIN entries differ: asked again.
    PinsDiffer,
    /// `123456` cannot be the new PIN: asked again.
    PinInitialRefused,
    /// The old card's PIN is `123456`: the holder chooses the new card's PIN.
    ChoosePinBecauseInitial,
    /// The typed citizen ID fails its check digit: asked again.
    CitizenIdInvalid,
    /// The typed citizen ID is not the card's: asked again.
    CitizenIdMismatch,
    /// A freeze recorded here never reached the old card; the entry is closed.
    FreezeNeverTookEffect {
        /// The transfer.
        id: TransferId,
    },
    /// The cancel's floor was already on the new card (a cancel run again).
    FloorAlreadyThere,
    /// A torn credit was found on the new card; its balance is cleared by the void.
    TornCreditCleared {
        /// The transfer.
        id: TransferId,
    },
    /// The old card shows nothing to undo.
    NothingToUndo,
    /// A window or first-use run resumed from `CREDITING`: the card is activated, but
    /// a PIN the holder chose in the torn run was not set (PINs are never journaled;
    /// the card keeps the PIN it has).
    PinNotChangedOnResume {
        /// The entry.
        id: TransferId,
    },
}

/// What the holder or operator is asked for. PINs never reach the core: the driver
/// keeps them and tells the core only whether the entry was confirmed and whether it
/// was the initial PIN `123456`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Prompt {
    /// Holder: the old card's PIN (verified on the old card).
    OldPin {
        /// Tries left, when the card says.
        tries_left: Option<u8>,
    },
    /// Holder: the old card's PIN for the new card, typed twice (the old card is
    /// frozen and cannot check it).
    PinForNewCard,
    /// Holder: choose the new card's PIN, typed twice, not `123456`.
    ChooseNewPin,
    /// Holder: the new card's current PIN (window and first use, optional).
    NewCardPin,
    /// Operator: the holder's citizen ID from the identity document.
    CitizenId,
}

/// A card operation that was refused; nothing was written for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The new card expired.
    NewExpired {
        /// Its expiry date.
        expiry: Date,
    },
    /// The card failed INTERNAL AUTHENTICATE.
    NotGenuine {
        /// Which card.
        which: Which,
    },
    /// The new card's medical function is already active.
    NewAlreadyActive,
    /// The new card's medical status is blocked (`02`) or unknown.
    NewStatus {
        /// The status.
        status: SscStatus,
    },
    /// The new card carries an unfinished transfer (status `00`, tag 26 set): resume
    /// or cancel that one first.
    UnfinishedTransferOnNew {
        /// The transfer on the card.
        id: TransferId,
    },
    /// The new card holds a balance without a transfer (status `00`).
    BalanceWithoutTransfer {
        /// The balance in fen.
        balance_fen: u32,
    },
    /// The new card's floor names another old card.
    FloorOtherOldCard {
        /// The old card the floor names.
        old_card: String,
    },
    /// The new card's floor says this transfer was cancelled.
    TransferCancelled {
        /// The transfer.
        id: TransferId,
    },
    /// The new card is active with another transfer.
    NewActiveWithOtherTransfer,
    /// The card presented is not N.
    WrongNewCard {
        /// N.
        expected: String,
        /// The card presented.
        found: String,
    },
    /// The old card presented is not this transfer's.
    WrongOldCard {
        /// The transfer's old card.
        expected: String,
        /// The card presented.
        found: String,
    },
    /// The two cards carry different citizen IDs.
    OtherPerson,
    /// The card's citizen ID fails its check digit.
    CitizenIdCheckDigit,
    /// The typed citizen ID is invalid or not the card's (no one to ask again).
    CitizenIdTyped,
    /// No answer from the desk (non-interactive, or input closed).
    NoInput,
    /// The old card was migrated.
    OldMigrated {
        /// The card it names.
        to: Option<String>,
    },
    /// The old card is blocked, or its status is unknown.
    OldNotUsable,
    /// The old card is frozen for a transfer to another new card.
    OldBoundToOther {
        /// The card it names.
        new_card: String,
    },
    /// The old card does not carry this transfer.
    OldNotCarrying {
        /// The transfer asked for.
        id: TransferId,
    },
    /// Nothing to resume on the old card.
    NothingToResume,
    /// The old card refuses PIN verification (frozen or migrated: it can no longer pay).
    OldRefusesPin,
    /// A wrong PIN with no one to try again, or the last tries.
    PinWrong {
        /// Tries left.
        left: u8,
    },
    /// Only one PIN try is left; not spent without the operator's consent.
    PinLastTry,
    /// The PIN is blocked.
    PinBlocked,
    /// No PIN was chosen (typed twice, not `123456`).
    PinNotChosen,
    /// The journal entry is final.
    EntryFinal {
        /// The transfer.
        id: TransferId,
        /// Its state.
        state: JournalState,
    },
    /// The journal entry is being cancelled: run the cancel again.
    BeingCancelled {
        /// The transfer.
        id: TransferId,
    },
    /// The journal entry stopped while freezing: insert the old card.
    FreezeUnfinished {
        /// The transfer.
        id: TransferId,
    },
    /// The journal entry does not know N (a migrated old journal): insert the old card.
    EntryLacksNewCard {
        /// The transfer.
        id: TransferId,
    },
    /// The cancel was refused: N holds the transfer; the transfer was finished instead.
    CancelAfterCredit {
        /// The transfer.
        id: TransferId,
        /// N.
        new_card: String,
    },
    /// Nothing to cancel: the old card does not show this transfer frozen.
    NothingToCancel {
        /// The transfer.
        id: TransferId,
    },
}

/// What made the core stop for safety. The balance is where the cards say; the desk
/// tells the operator what to do next (resume, cancel, or the bureau).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Stop {
    /// A wrong key (`63Cx`): stopped at once, never retried (each try spends one of
    /// the card's five).
    WrongKey {
        /// Which card.
        which: Which,
        /// Which key.
        key: KeyRole,
        /// Tries left on the card.
        tries_left: u8,
    },
    /// The key is blocked (`6983`).
    KeyBlocked {
        /// Which card.
        which: Which,
        /// Which key.
        key: KeyRole,
    },
    /// A card failed (pulled, reset, reader gone, an unexpected status word).
    CardFault {
        /// Which card.
        which: Which,
        /// What happened.
        fault: CardFault,
        /// The journal state of the transfer, when one was announced in this run.
        journal: Option<(TransferId, JournalState)>,
    },
    /// A card reads back something else than was written.
    ReadBack {
        /// Which card.
        which: Which,
    },
    /// A read lacked a role the flow needs, or the value had the wrong type.
    MissingField {
        /// The role's name.
        role: &'static str,
    },
    /// The old card is frozen but carries no transfer id or no N: the balance stays
    /// frozen on it, not lost; the bureau resolves it.
    FrozenWithoutTransfer,
    /// The new card's floor names another old card: the bureau resolves it.
    FloorOtherOldCard {
        /// The old card the floor names.
        old_card: String,
    },
    /// The cards and the journal disagree in a way no rule covers.
    Inconsistent {
        /// The transfer.
        id: TransferId,
    },
    /// N is lost or broken: the balance stays frozen on the old card; the bureau.
    NewCardUnavailable,
    /// The journal write failed: nothing further is written to a card.
    JournalFailed,
    /// The driver answered with an input that does not answer the last action.
    DriverMisuse,
    /// The old card's transfer counter cannot be raised.
    CounterExhausted,
}

/// Why a card operation failed (the driver classifies it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CardFault {
    /// The card left the reader (or was reset) during the flow.
    Removed,
    /// No card of this kind came in time.
    Absent,
    /// Another process holds the reader ("reader in use" is not "card absent").
    ReaderInUse,
    /// The reader or pcscd failed.
    Reader,
    /// An unexpected status word.
    Status(u16),
}

/// Data for the receipt of a completed flow (the desk formats and masks it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Receipt {
    /// The flow.
    pub flow: Flow,
    /// The transfer (or activation) id.
    pub id: TransferId,
    /// Holder name.
    pub holder_name: String,
    /// Citizen ID (unmasked: the desk masks it).
    pub citizen_id: String,
    /// The old card (pharmacy).
    pub old_card: Option<String>,
    /// The new card.
    pub new_card: String,
    /// The amount moved, in fen.
    pub amount_fen: u32,
    /// Whether the old card was marked migrated (`02`) in this run.
    pub old_card_finished: bool,
    /// The date of the flow.
    pub date: Date,
}

/// A message for the desk.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Msg {
    /// A step started.
    Step(Step),
    /// A note.
    Note(Note),
}
