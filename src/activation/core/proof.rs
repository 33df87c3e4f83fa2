//! Journal before write, enforced by types.
//!
//! The core hands the driver a [`JournalWrite`]; only consuming it with
//! [`JournalWrite::announced`] — which the journal does after its commit is on disk —
//! yields an [`Announced`]. A [`CardWrite`] has no public constructor: the core builds
//! one only from the [`Announced`] of the journal write that announces it, and only
//! for the writes that journal state announces ([`announces`]). So no card write can
//! leave the core before the journal has recorded it, and a write cannot borrow the
//! proof of another state (a credit cannot ride on a `FREEZING` entry).

use super::types::{
    CityRole, Date, FieldValue, Flow, JournalState, Role, SscRole, TransferData, TransferId, Which,
};

/// A journal write the core asks for: create the entry `id` or move it to `state`,
/// with `data`. The journal must make it durable (written and flushed) and only then
/// call [`JournalWrite::announced`] and hand the proof back to the core.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JournalWrite {
    id: TransferId,
    flow: Flow,
    state: JournalState,
    data: TransferData,
    seq: u32,
}

impl JournalWrite {
    pub(super) fn new(
        id: TransferId,
        flow: Flow,
        state: JournalState,
        data: TransferData,
        seq: u32,
    ) -> JournalWrite {
        JournalWrite {
            id,
            flow,
            state,
            data,
            seq,
        }
    }

    /// The transfer id (the entry's key).
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// The flow.
    pub fn flow(&self) -> Flow {
        self.flow
    }

    /// The state to record.
    pub fn state(&self) -> JournalState {
        self.state
    }

    /// The data to record with it (N included from `FREEZING` on).
    pub fn data(&self) -> &TransferData {
        &self.data
    }

    /// The proof that this write is durable. Call it only after the journal's commit
    /// returned (spec/activation.md: "the journal is written and flushed to disk
    /// before each card write it announces").
    pub fn announced(self) -> Announced {
        Announced {
            id: self.id,
            state: self.state,
            seq: self.seq,
        }
    }
}

/// Proof that a journal write is on disk (see the module docs). Cloning a proof does
/// not make a new announcement: it still names the one journal write it came from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Announced {
    id: TransferId,
    state: JournalState,
    seq: u32,
}

impl Announced {
    /// The transfer announced.
    pub fn id(&self) -> TransferId {
        self.id
    }

    /// The state announced.
    pub fn state(&self) -> JournalState {
        self.state
    }

    pub(super) fn seq(&self) -> u32 {
        self.seq
    }
}

/// Where the PIN for RELOAD PIN / CHANGE PIN comes from (the driver holds it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinSource {
    /// The old card's PIN the holder typed and the old card verified.
    OldCardVerified,
    /// The old card's PIN typed twice (the old card is frozen and cannot check it).
    TypedTwice,
    /// A PIN the holder chose, typed twice (never `123456`).
    Chosen,
}

/// A log record to append to SSC DF04 EF08 (the driver adds the time and encodes it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogAppend {
    /// Record type (`01`, `02`, `03`).
    pub kind: u8,
    /// Amount in fen.
    pub amount_fen: u32,
    /// Balance after, in fen.
    pub balance_after_fen: u32,
    /// The date.
    pub date: Date,
    /// The terminal number (12 digits).
    pub terminal: String,
    /// The transfer (its first 8 bytes are recorded); `None` for zeros.
    pub transfer: Option<TransferId>,
}

/// The write itself.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum WriteOp {
    /// UPDATE RECORD of the role's record with the value.
    Field {
        /// The role.
        role: Role,
        /// The value.
        value: FieldValue,
    },
    /// APPEND RECORD to the SSC medical log.
    AppendLog(LogAppend),
    /// RELOAD PIN on the new card (after EXTERNAL AUTHENTICATE with `pin_reload`).
    ReloadPin(PinSource),
    /// CHANGE PIN on the new card from `123456` to a PIN the holder chose.
    ChangePin,
}

/// A card write, only constructible with the proof of the journal write announcing
/// it (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CardWrite {
    which: Which,
    op: WriteOp,
    under: JournalState,
}

impl CardWrite {
    /// Builds the write under `proof`.
    ///
    /// # Errors
    /// `None` when `proof`'s state does not announce this write ([`announces`]).
    pub(super) fn new(proof: &Announced, which: Which, op: WriteOp) -> Option<CardWrite> {
        announces(proof.state, which, &op).then_some(CardWrite {
            which,
            op,
            under: proof.state,
        })
    }

    /// The card.
    pub fn which(&self) -> Which {
        self.which
    }

    /// The write.
    pub fn op(&self) -> &WriteOp {
        &self.op
    }

    /// The journal state that announced it.
    pub fn under(&self) -> JournalState {
        self.under
    }
}

/// Whether a journal `state` announces `op` on `which` (spec/activation.md):
/// `FREEZING` the old card's tags 28, 27, 26 and 22; `CREDITING` the new card's
/// tags 20–26 and 22, the log record and the PIN; `CREDITED` the old card's tag 22
/// (`02`); `VOIDING` the new card's floor, tags 23 and 26 and the log record `03`;
/// `CANCELLING` the old card's tags 22, 26 and 27.
pub fn announces(state: JournalState, which: Which, op: &WriteOp) -> bool {
    use JournalState as J;
    match (state, which, op) {
        (
            J::Freezing,
            Which::Old,
            WriteOp::Field {
                role: Role::City(r),
                ..
            },
        ) => matches!(
            r,
            CityRole::TransferCounter
                | CityRole::TargetCard
                | CityRole::TransferId
                | CityRole::Status
        ),
        (
            J::Crediting,
            Which::New,
            WriteOp::Field {
                role: Role::Ssc(r), ..
            },
        ) => matches!(
            r,
            SscRole::TransferId
                | SscRole::Account
                | SscRole::Category
                | SscRole::Balance
                | SscRole::ActivationDate
                | SscRole::ActivationTerminal
                | SscRole::Status
        ),
        (
            J::Crediting,
            Which::New,
            WriteOp::AppendLog(_) | WriteOp::ReloadPin(_) | WriteOp::ChangePin,
        ) => true,
        (
            J::Credited,
            Which::Old,
            WriteOp::Field {
                role: Role::City(CityRole::Status),
                ..
            },
        ) => true,
        (
            J::Voiding,
            Which::New,
            WriteOp::Field {
                role: Role::Ssc(r), ..
            },
        ) => matches!(
            r,
            SscRole::TransferFloor | SscRole::Balance | SscRole::TransferId
        ),
        (J::Voiding, Which::New, WriteOp::AppendLog(_)) => true,
        (
            J::Cancelling,
            Which::Old,
            WriteOp::Field {
                role: Role::City(r),
                ..
            },
        ) => matches!(
            r,
            CityRole::Status | CityRole::TransferId | CityRole::TargetCard
        ),
        _ => false,
    }
}
