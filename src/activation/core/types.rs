//! The data the core works on: card fields by profile role, typed values, the
//! transfer id, the floor, and the core's view of a journal entry.
//!
//! Why typed values and not the profile's bytes: the core decides on statuses,
//! transfer ids and floors, so it sees them as what they mean (an enum, a
//! [`TransferId`], a [`Floor`]); the driver maps them to and from the profile's codes
//! by role and code *name* (profiles/*.json), so another city's layout needs no change
//! here.

use std::fmt;

/// A calendar date (the driver's "today", expiry and activation dates).
pub type Date = chrono::NaiveDate;

/// The transfer id X (spec/cards.md §2): the old card's transfer counter after the
/// freeze (4 bytes, big-endian) followed by 12 random bytes. Window and first-use
/// journal ids use counter 0 and 12 random bytes (they move no money).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransferId(pub [u8; 16]);

impl TransferId {
    /// X for the freeze that raises the old card's counter to `counter`, with the 12
    /// random bytes the driver supplied.
    pub fn new(counter: u32, random: [u8; 12]) -> TransferId {
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&counter.to_be_bytes());
        b[4..].copy_from_slice(&random);
        TransferId(b)
    }

    /// The counter `n` this transfer was frozen with (first 4 bytes, big-endian).
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// The first 8 bytes, as the log record carries them (spec/cards.md §1.2 EF08).
    pub fn prefix(&self) -> [u8; 8] {
        let mut p = [0u8; 8];
        p.copy_from_slice(&self.0[..8]);
        p
    }

    /// Uppercase hex (the journal key, the receipt, `activate cancel ID`).
    pub fn hex(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// Parses 32 hex digits.
    ///
    /// # Errors
    /// `None` when `s` is not 32 hex digits.
    pub fn parse(s: &str) -> Option<TransferId> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(s.trim(), &mut b).ok()?;
        Some(TransferId(b))
    }
}

impl fmt::Debug for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "X[{}:{}]",
            self.counter(),
            hex::encode_upper(&self.0[4..6])
        )
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// SSC DF04 tag 27 (spec/cards.md §1.2): no transfer from `old_card` with a counter at
/// or below `counter` may ever be credited to this card. Written by a cancel.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Floor {
    /// The CITY card number (10 ASCII digits).
    pub old_card: String,
    /// The highest cancelled counter.
    pub counter: u32,
}

/// CITY tag 22 (spec/cards.md §2), by the profile's code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CityStatus {
    /// `00` active: the card can pay.
    Active,
    /// `01` migrating: frozen, a transfer under way.
    Migrating,
    /// `02` migrated.
    Migrated,
    /// `03` blocked.
    Blocked,
    /// A code the profile does not name.
    Other(u8),
}

impl CityStatus {
    /// The profile's code name (`profiles/city-reference.json`, role `status`).
    pub fn name(self) -> &'static str {
        match self {
            CityStatus::Active => "active",
            CityStatus::Migrating => "migrating",
            CityStatus::Migrated => "migrated",
            CityStatus::Blocked => "blocked",
            CityStatus::Other(_) => "unknown",
        }
    }

    /// From a profile code name; `code` is kept for names the core does not know.
    pub fn from_name(name: &str, code: u8) -> CityStatus {
        match name {
            "active" => CityStatus::Active,
            "migrating" => CityStatus::Migrating,
            "migrated" => CityStatus::Migrated,
            "blocked" => CityStatus::Blocked,
            _ => CityStatus::Other(code),
        }
    }
}

/// SSC DF04 tag 22 (spec/cards.md §1.2), by the profile's code names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SscStatus {
    /// `00` not activated.
    NotActivated,
    /// `01` active.
    Active,
    /// `02` blocked.
    Blocked,
    /// A code the profile does not name.
    Other(u8),
}

impl SscStatus {
    /// The profile's code name (`profiles/ssc.json`, role `status`).
    pub fn name(self) -> &'static str {
        match self {
            SscStatus::NotActivated => "not_activated",
            SscStatus::Active => "active",
            SscStatus::Blocked => "blocked",
            SscStatus::Other(_) => "unknown",
        }
    }

    /// From a profile code name; `code` is kept for names the core does not know.
    pub fn from_name(name: &str, code: u8) -> SscStatus {
        match name {
            "not_activated" => SscStatus::NotActivated,
            "active" => SscStatus::Active,
            "blocked" => SscStatus::Blocked,
            _ => SscStatus::Other(code),
        }
    }
}

/// Which card of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Which {
    /// The old city medical card (CITY profile).
    Old,
    /// The new social security card (SSC profile).
    New,
}

/// Fields of the CITY profile the core reads or writes (profile role names in
/// [`CityRole::name`]; contract: /work/signals/I10-CONTRACT.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CityRole {
    /// Tag 07, 10 ASCII digits.
    CardNumber,
    /// Tag 08.
    CitizenId,
    /// Tag 09.
    Name,
    /// Tag 20.
    Account,
    /// Tag 21.
    Category,
    /// Tag 22.
    Status,
    /// Tag 23, fen.
    Balance,
    /// Tag 26.
    TransferId,
    /// Tag 27: N, the one new card the transfer is bound to.
    TargetCard,
    /// Tag 28: raised by one at every freeze.
    TransferCounter,
}

impl CityRole {
    /// The profile role name.
    pub fn name(self) -> &'static str {
        match self {
            CityRole::CardNumber => "card_number",
            CityRole::CitizenId => "citizen_id",
            CityRole::Name => "name",
            CityRole::Account => "account",
            CityRole::Category => "category",
            CityRole::Status => "status",
            CityRole::Balance => "balance",
            CityRole::TransferId => "transfer_id",
            CityRole::TargetCard => "target_card",
            CityRole::TransferCounter => "transfer_counter",
        }
    }
}

/// Fields of the SSC profile the core reads or writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SscRole {
    /// EF05 tag 07.
    CardNumber,
    /// EF05 tag 06.
    ExpiryDate,
    /// EF06 tag 08.
    CitizenId,
    /// EF06 tag 09 (+ 4E).
    Name,
    /// DF04 tag 20.
    Account,
    /// DF04 tag 21.
    Category,
    /// DF04 tag 22.
    Status,
    /// DF04 tag 23, fen.
    Balance,
    /// DF04 tag 24.
    ActivationDate,
    /// DF04 tag 25.
    ActivationTerminal,
    /// DF04 tag 26.
    TransferId,
    /// DF04 tag 27.
    TransferFloor,
    /// DF04 EF08 record 1 (the newest log record), decoded to a [`LogHead`].
    LastLog,
}

impl SscRole {
    /// The profile role name (`medical_log` for the log file's newest record).
    pub fn name(self) -> &'static str {
        match self {
            SscRole::CardNumber => "card_number",
            SscRole::ExpiryDate => "expiry_date",
            SscRole::CitizenId => "citizen_id",
            SscRole::Name => "name",
            SscRole::Account => "account",
            SscRole::Category => "category",
            SscRole::Status => "status",
            SscRole::Balance => "balance",
            SscRole::ActivationDate => "activation_date",
            SscRole::ActivationTerminal => "activation_terminal",
            SscRole::TransferId => "transfer_id",
            SscRole::TransferFloor => "transfer_floor",
            SscRole::LastLog => "medical_log",
        }
    }
}

/// A field by profile role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Of the old card.
    City(CityRole),
    /// Of the new card.
    Ssc(SscRole),
}

impl Role {
    /// The profile role name.
    pub fn name(self) -> &'static str {
        match self {
            Role::City(r) => r.name(),
            Role::Ssc(r) => r.name(),
        }
    }

    /// The card the role belongs to.
    pub fn card(self) -> Which {
        match self {
            Role::City(_) => Which::Old,
            Role::Ssc(_) => Which::New,
        }
    }
}

/// A key by profile key role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyRole {
    /// `write` (0C): CITY EF01 updates in DF YB.CITY; SSC DF04 updates and appends.
    Write,
    /// `pin_reload` (06 in SSSE): RELOAD PIN.
    PinReload,
}

impl KeyRole {
    /// The profile key role name.
    pub fn name(self) -> &'static str {
        match self {
            KeyRole::Write => "write",
            KeyRole::PinReload => "pin_reload",
        }
    }
}

/// The newest medical log record, as far as the core cares (spec/cards.md §1.2 EF08).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogHead {
    /// Record type: [`LOG_TRANSFER_IN`], [`LOG_ACTIVATION`], [`LOG_VOID`].
    pub kind: u8,
    /// The first 8 bytes of the transfer id (zeros when none).
    pub prefix: [u8; 8],
}

/// Log type `01`: activation with a transfer in.
pub const LOG_TRANSFER_IN: u8 = 0x01;
/// Log type `02`: activation without a transfer (window, first use).
pub const LOG_ACTIVATION: u8 = 0x02;
/// Log type `03`: a transfer voided by a cancel.
pub const LOG_VOID: u8 = 0x03;

/// A typed field value. The driver converts to and from the profile's encoding:
/// statuses by code name, [`FieldValue::TransferId`] `None` = all `00`,
/// [`FieldValue::Floor`] `None` = all `00`, an empty `Text` for CITY tag 27 = all `20`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldValue {
    /// ASCII or GBK text, trimmed (card numbers, citizen ID, name, account).
    Text(String),
    /// BCD digits (activation terminal).
    Digits(String),
    /// An unsigned number (balance in fen, transfer counter).
    Number(u32),
    /// A date; `None` for `00000000`.
    Date(Option<Date>),
    /// A one-byte code without a status meaning (insured category).
    Code(u8),
    /// CITY tag 22.
    CityStatus(CityStatus),
    /// SSC DF04 tag 22.
    SscStatus(SscStatus),
    /// Tag 26.
    TransferId(Option<TransferId>),
    /// SSC DF04 tag 27.
    Floor(Option<Floor>),
    /// SSC DF04 EF08 record 1; `None` when the log is empty.
    LastLog(Option<LogHead>),
}

/// What a read returned: values by role, in any order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Fields(pub Vec<(Role, FieldValue)>);

impl Fields {
    /// The value of `role`, if it was read.
    pub fn get(&self, role: Role) -> Option<&FieldValue> {
        self.0.iter().find(|(r, _)| *r == role).map(|(_, v)| v)
    }
}

/// How many readers the desk has (spec/activation.md, pharmacy flow).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Readers {
    /// One reader: new card (checked), old card (frozen), new card again (credited).
    One,
    /// Two readers: both cards in at once.
    Two,
}

/// Which flow a journal entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "kebab-case")]
pub enum Flow {
    /// Pharmacy dual insert (and its resume and cancel).
    Pharmacy,
    /// Bureau window.
    Window,
    /// Hospital first use.
    FirstUse,
}

impl Flow {
    /// The name stored in the journal.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Journal states (spec/activation.md). A transfer moves forward along
/// `FREEZING → FROZEN → CREDITING → CREDITED → COMPLETE`, or leaves it for
/// `VOIDING → VOIDED → CANCELLING → CANCELLED`; `COMPLETE` and `CANCELLED` are final.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum JournalState {
    /// About to freeze the old card (announces the freeze writes).
    Freezing,
    /// The old card reads back frozen, bound to N.
    Frozen,
    /// About to credit N (announces the credit writes, the log record, the PIN).
    Crediting,
    /// N reads back credited (announces the old card's `02`).
    Credited,
    /// Done. Final.
    Complete,
    /// About to void the transfer on N (announces the floor, the torn-credit clean-up, log `03`).
    Voiding,
    /// N reads back with the floor.
    Voided,
    /// About to return the old card to active (announces its writes).
    Cancelling,
    /// The old card is active again. Final.
    Cancelled,
}

impl JournalState {
    /// The name stored in the journal (`FREEZING`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<JournalState> {
        s.parse().ok()
    }

    /// Every state, in declaration order.
    pub const ALL: &'static [JournalState] = <JournalState as strum::VariantArray>::VARIANTS;

    /// Whether nothing more may happen to the entry.
    pub fn is_final(self) -> bool {
        matches!(self, JournalState::Complete | JournalState::Cancelled)
    }

    /// Whether the core may write `next` over `self` (the order the journal enforces).
    /// The same non-final state may be written again (a resumed flow announces its
    /// writes again); a final state is final; the completion chain only moves forward
    /// (a card found already credited, or migrated, lets it skip ahead); the cancel
    /// chain may start from any state before `CREDITED` and only moves forward; a
    /// `FREEZING` whose freeze never reached the card may end `CANCELLED` directly.
    pub fn may_become(self, next: JournalState) -> bool {
        use JournalState::*;
        if self.is_final() {
            return false;
        }
        if self == next {
            return true;
        }
        let chain =
            |s: JournalState| matches!(s, Freezing | Frozen | Crediting | Credited | Complete);
        match (chain(self), chain(next)) {
            (true, true) => next > self,
            (true, false) => {
                matches!(next, Voiding | Cancelling) && self <= Crediting
                    || (self == Freezing && next == Cancelled)
            }
            (false, false) => next > self,
            // A void torn before its floor, and N credited meanwhile from the old
            // card: the cancel is refused and the transfer finished instead.
            (false, true) => self == Voiding && matches!(next, Crediting | Credited),
        }
    }
}

/// What a journal entry knows about a transfer (the data it was announced with).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TransferData {
    /// The old card's number (pharmacy).
    pub old_card: Option<String>,
    /// N, the new card's number (pharmacy: known from step 1; `None` in an entry a
    /// journal migrated from before N existed).
    pub new_card: Option<String>,
    /// The holder's citizen ID.
    pub citizen_id: String,
    /// The holder's name.
    pub holder_name: String,
    /// The medical account number.
    pub account: String,
    /// The insured category.
    pub category: u8,
    /// The amount moved, in fen (window flows: 0).
    pub balance_fen: u32,
}

/// The core's view of one journal entry (the driver maps the journal's rows to it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JournalEntry {
    /// The transfer id (the key).
    pub id: TransferId,
    /// The flow.
    pub flow: Flow,
    /// The current state.
    pub state: JournalState,
    /// The data.
    pub data: TransferData,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transfer_id_layout_is_counter_then_random() {
        let x = TransferId::new(0x0102_0304, [9; 12]);
        assert_eq!(&x.0[..4], &[1, 2, 3, 4]);
        assert_eq!(x.counter(), 0x0102_0304);
        assert_eq!(TransferId::parse(&x.hex()), Some(x));
        assert_eq!(TransferId::parse("12"), None);
    }

    #[test]
    fn journal_order() {
        use JournalState::*;
        assert!(Freezing.may_become(Frozen));
        assert!(Frozen.may_become(Complete));
        assert!(Crediting.may_become(Crediting));
        assert!(!Credited.may_become(Frozen));
        assert!(Frozen.may_become(Voiding));
        assert!(Crediting.may_become(Voiding));
        assert!(!Credited.may_become(Voiding));
        assert!(Freezing.may_become(Cancelled));
        assert!(!Frozen.may_become(Cancelled));
        assert!(Voided.may_become(Cancelling));
        assert!(!Voided.may_become(Credited));
        assert!(Voiding.may_become(Credited));
        assert!(Voiding.may_become(Crediting));
        assert!(!Voided.may_become(Crediting));
        for &s in JournalState::ALL {
            assert_eq!(JournalState::parse(s.as_str()), Some(s));
            if s.is_final() {
                assert!(JournalState::ALL.iter().all(|n| !s.may_become(*n)));
            }
        }
    }
}
