//! Card data as the core sees it: which roles each step reads (the fewest a rule of
//! spec/activation.md decides on), the parsed old and new card, and the refusals
//! every flow applies to a new card first.

use super::*;

/// A list of the old card's roles by name.
macro_rules! city {
    ($($r:ident),* $(,)?) => {
        &[$(Role::City(CityRole::$r)),*]
    };
}

/// A list of the new card's roles by name.
macro_rules! ssc {
    ($($r:ident),* $(,)?) => {
        &[$(Role::Ssc(SscRole::$r)),*]
    };
}

pub(super) const NEW_ROLES: &[Role] = ssc![
    CardNumber,
    ExpiryDate,
    CitizenId,
    Name,
    Account,
    Category,
    Status,
    Balance,
    TransferId,
    TransferFloor,
    LastLog,
];

/// The new card as a pharmacy reads it (check and credit): what the spec's checks
/// decide on. Account and category are not read (the credit overwrites them with the
/// old card's), nor the name (the holder's name shown, journaled and printed is the
/// old card's, whose citizen ID equals N's); the log head is read only when the card
/// already holds this transfer.
pub(super) const NEW_LEAN: &[Role] = ssc![
    CardNumber,
    ExpiryDate,
    CitizenId,
    Status,
    Balance,
    TransferId,
    TransferFloor,
];

/// N again, re-inserted in the same one-reader run that checked it at step 1: what
/// proves it is N (card number; genuineness by INTERNAL AUTHENTICATE) and what may
/// have changed since (DF04). Its expiry, citizen ID and name belong to the card
/// number and were checked at step 1 of this run.
pub(super) const NEW_AGAIN: &[Role] = ssc![CardNumber, Status, Balance, TransferId, TransferFloor];

/// N for a void: what decides it. N is the card the old card (or the journal) names,
/// so its number and INTERNAL AUTHENTICATE identify it (no expiry, citizen ID or name
/// decides a cancel); status and X decide refuse-or-void, the balance goes into the
/// log record, the floor decides whether to write one. The log head (a torn void
/// leaves its record) is read only when the floor for X is already there: the void
/// writes the floor before its APPEND, so without it no record of this void exists.
pub(super) const NEW_VOID: &[Role] = ssc![CardNumber, Status, Balance, TransferId, TransferFloor];

/// The read-back of a void: the record it wrote, the floor (and balance and X when
/// it cleared a torn credit: [`VOID_BACK_TORN`]). Tag 22 is not written by a void,
/// nor tag 26 when N did not hold X.
pub(super) const VOID_BACK: &[Role] = ssc![TransferFloor];

/// The read-back of a void that cleared a torn credit.
pub(super) const VOID_BACK_TORN: &[Role] = ssc![Balance, TransferId, TransferFloor];

/// The read-back of an unfreeze: the three records it wrote.
pub(super) const UNFREEZE_BACK: &[Role] = city![Status, TransferId, TargetCard];

/// The old card as resume reads it (all that recovery may continue from).
pub(super) const OLD_ROLES: &[Role] = city![
    CardNumber,
    CitizenId,
    Name,
    Account,
    Category,
    Status,
    Balance,
    TransferId,
    TargetCard,
    TransferCounter,
];

/// The old card at pharmacy step 2: what the freeze decides on (number, citizen ID,
/// status, counter) and carries to N (account, category, balance), with the name
/// shown to the operator, journaled and printed. X and N (tags 26, 27) decide only
/// at status `01` or `02` ([`OLD_TRANSFER`], read then).
pub(super) const OLD_FREEZE: &[Role] = city![
    CardNumber,
    CitizenId,
    Name,
    Account,
    Category,
    Status,
    Balance,
    TransferCounter,
];

/// X and N, read from an old card found frozen or migrated.
pub(super) const OLD_TRANSFER: &[Role] = city![TransferId, TargetCard];

/// The old card as a cancel first reads it: whose transfer (number, X), in which
/// state, bound to which N. The counter n is X's first four bytes.
pub(super) const OLD_CANCEL: &[Role] = city![CardNumber, Status, TransferId, TargetCard];

/// The old card re-inserted for the unfreeze: the same card, its state, X.
pub(super) const OLD_UNFREEZE: &[Role] = city![CardNumber, Status, TransferId];

pub(super) const OLD_BACK: &[Role] = city![Status, TransferId, TargetCard, TransferCounter];

/// The read-back of a credit: the three records that decide (status, balance, id).
pub(super) const CREDIT_BACK: &[Role] = ssc![Status, Balance, TransferId];

/// The read-back of step 4 (the old card's status, the one record written).
pub(super) const OLD_STATUS: &[Role] = city![Status];

pub(super) const NEW_BACK: &[Role] = ssc![Status, Balance, TransferId, TransferFloor];

pub(super) fn missing<T>(role: Role) -> R<T> {
    stop(Stop::MissingField { role: role.name() })
}

/// A record that must have been read: `Some` when it was, else the flow stops on
/// the missing `role`.
fn known<T>(value: Option<T>, role: Role) -> R<T> {
    match value {
        Some(v) => Ok(v),
        None => missing(role),
    }
}

/// The value of `role` as `pick` takes it; a role not read, or read as another kind
/// of value, is missing. Every reader of one record below is this with its `pick`.
fn field<T>(f: &Fields, role: Role, pick: impl FnOnce(&FieldValue) -> Option<T>) -> R<T> {
    known(f.get(role).and_then(pick), role)
}

pub(super) fn text(f: &Fields, role: Role) -> R<String> {
    field(f, role, |v| match v {
        FieldValue::Text(s) | FieldValue::Digits(s) => Some(s.clone()),
        _ => None,
    })
}

pub(super) fn number(f: &Fields, role: Role) -> R<u32> {
    field(f, role, |v| match v {
        FieldValue::Number(n) => Some(*n),
        _ => None,
    })
}

pub(super) fn transfer(f: &Fields, role: Role) -> R<Option<TransferId>> {
    field(f, role, |v| match v {
        FieldValue::TransferId(t) => Some(t.filter(|t| t.0 != [0; 16])),
        _ => None,
    })
}

/// The old card as the core sees it. Number and status are read in every flow; the
/// other records only where a rule or the transfer needs them (`None`: not read).
#[derive(Clone, Debug)]
pub(super) struct OldCard {
    pub(super) number: String,
    pub(super) status: CityStatus,
    pub(super) citizen_id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) account: Option<String>,
    pub(super) category: Option<u8>,
    pub(super) balance: Option<u32>,
    pub(super) transfer: Option<Option<TransferId>>,
    pub(super) target: Option<Option<String>>,
    pub(super) counter: Option<u32>,
}

/// `Some(parse(f))` when `role` was read, `None` when not.
pub(super) fn opt<T>(
    f: &Fields,
    role: Role,
    parse: impl FnOnce(&Fields, Role) -> R<T>,
) -> R<Option<T>> {
    match f.get(role) {
        None => Ok(None),
        Some(_) => parse(f, role).map(Some),
    }
}

pub(super) fn code(f: &Fields, role: Role) -> R<u8> {
    field(f, role, |v| match v {
        FieldValue::Code(x) => Some(*x),
        _ => None,
    })
}

/// A date that must be set (`00000000` is missing).
fn date(f: &Fields, role: Role) -> R<Date> {
    field(f, role, |v| match v {
        FieldValue::Date(d) => *d,
        _ => None,
    })
}

/// The log head; `None` for a log without records.
fn last_log(f: &Fields, role: Role) -> R<Option<LogHead>> {
    field(f, role, |v| match v {
        FieldValue::LastLog(l) => Some(l.clone()),
        _ => None,
    })
}

pub(super) fn target(f: &Fields, role: Role) -> R<Option<String>> {
    Ok(Some(text(f, role)?).filter(|t| !t.trim().is_empty()))
}

impl OldCard {
    pub(super) fn parse(f: &Fields) -> R<OldCard> {
        let c = Role::City;
        Ok(OldCard {
            number: text(f, c(CityRole::CardNumber))?,
            status: city_status(f)?,
            citizen_id: opt(f, c(CityRole::CitizenId), text)?,
            name: opt(f, c(CityRole::Name), text)?,
            account: opt(f, c(CityRole::Account), text)?,
            category: opt(f, c(CityRole::Category), code)?,
            balance: opt(f, c(CityRole::Balance), number)?,
            transfer: opt(f, c(CityRole::TransferId), transfer)?,
            target: opt(f, c(CityRole::TargetCard), target)?,
            counter: opt(f, c(CityRole::TransferCounter), number)?,
        })
    }

    /// Reads X and N from the card in its reader (status `01` or `02`).
    pub(super) fn read_transfer(&mut self, io: &mut Io<'_>) -> R<()> {
        if self.transfer.is_none() || self.target.is_none() {
            let f = io.read(Which::Old, Session::Same, OLD_TRANSFER)?;
            self.transfer = Some(transfer(f, Role::City(CityRole::TransferId))?);
            self.target = Some(target(f, Role::City(CityRole::TargetCard))?);
        }
        Ok(())
    }

    pub(super) fn transfer(&self) -> R<Option<TransferId>> {
        known(self.transfer, Role::City(CityRole::TransferId))
    }

    pub(super) fn target(&self) -> R<Option<String>> {
        known(self.target.clone(), Role::City(CityRole::TargetCard))
    }

    pub(super) fn counter(&self) -> R<u32> {
        known(self.counter, Role::City(CityRole::TransferCounter))
    }

    /// What the transfer carries to N: every record of it must have been read.
    pub(super) fn data(&self, new_card: Option<String>) -> R<TransferData> {
        let c = Role::City;
        Ok(TransferData {
            old_card: Some(self.number.clone()),
            new_card,
            citizen_id: known(self.citizen_id.clone(), c(CityRole::CitizenId))?,
            holder_name: known(self.name.clone(), c(CityRole::Name))?,
            account: known(self.account.clone(), c(CityRole::Account))?,
            category: known(self.category, c(CityRole::Category))?,
            balance_fen: known(self.balance, c(CityRole::Balance))?,
        })
    }

    /// The journal's record of a cancel from this card: what was read, the rest
    /// empty (a cancel carries nothing to N; its rules decide on number, status, X
    /// and N only).
    pub(super) fn record(&self, new_card: Option<String>) -> TransferData {
        TransferData {
            old_card: Some(self.number.clone()),
            new_card,
            citizen_id: self.citizen_id.clone().unwrap_or_default(),
            holder_name: self.name.clone().unwrap_or_default(),
            account: self.account.clone().unwrap_or_default(),
            category: self.category.unwrap_or_default(),
            balance_fen: self.balance.unwrap_or_default(),
        }
    }

    /// The holder, when name and citizen ID were read.
    pub(super) fn holder(&self) -> Option<Note> {
        match (&self.name, &self.citizen_id) {
            (Some(name), Some(citizen_id)) => Some(Note::Holder {
                name: name.clone(),
                citizen_id: citizen_id.clone(),
                card: self.number.clone(),
            }),
            _ => None,
        }
    }
}

pub(super) fn city_status(f: &Fields) -> R<CityStatus> {
    field(f, Role::City(CityRole::Status), |v| match v {
        FieldValue::CityStatus(s) => Some(*s),
        _ => None,
    })
}

pub(super) fn ssc_status(f: &Fields) -> R<SscStatus> {
    field(f, Role::Ssc(SscRole::Status), |v| match v {
        FieldValue::SscStatus(s) => Some(*s),
        _ => None,
    })
}

pub(super) fn floor(f: &Fields) -> R<Option<Floor>> {
    field(f, Role::Ssc(SscRole::TransferFloor), |v| match v {
        FieldValue::Floor(x) => Some(x.clone()),
        _ => None,
    })
}

/// The new card as the core sees it.
#[derive(Clone, Debug)]
pub(super) struct NewCard {
    pub(super) number: String,
    /// `None` when not read (a void, N re-inserted).
    pub(super) expiry: Option<Date>,
    /// `None` when not read (a void).
    pub(super) citizen_id: Option<String>,
    /// `None` when not read (pharmacy: the old card's is used).
    pub(super) name: Option<String>,
    /// `None` when not read (a pharmacy's lean read, [`NEW_LEAN`]).
    pub(super) account: Option<String>,
    /// `None` when not read.
    pub(super) category: Option<u8>,
    pub(super) status: SscStatus,
    pub(super) balance: u32,
    pub(super) transfer: Option<TransferId>,
    pub(super) floor: Option<Floor>,
    /// `None` when not read; `Some(None)` for a log without records.
    pub(super) last_log: Option<Option<LogHead>>,
    pub(super) genuine: bool,
}

impl NewCard {
    pub(super) fn parse(f: &Fields, genuine: bool) -> R<NewCard> {
        let s = Role::Ssc;
        Ok(NewCard {
            number: text(f, s(SscRole::CardNumber))?,
            expiry: opt(f, s(SscRole::ExpiryDate), date)?,
            citizen_id: opt(f, s(SscRole::CitizenId), text)?,
            name: opt(f, s(SscRole::Name), text)?,
            account: opt(f, s(SscRole::Account), text)?,
            category: opt(f, s(SscRole::Category), code)?,
            status: ssc_status(f)?,
            balance: number(f, s(SscRole::Balance))?,
            transfer: transfer(f, s(SscRole::TransferId))?,
            floor: floor(f)?,
            last_log: opt(f, s(SscRole::LastLog), last_log)?,
            genuine,
        })
    }

    /// The holder, when the citizen ID was read: the desk shows N's number with it.
    /// The name is empty when not read (pharmacy: the old card's note, read next,
    /// carries it).
    pub(super) fn holder(&self) -> Option<Note> {
        self.citizen_id.as_ref().map(|citizen_id| Note::Holder {
            name: self.name.clone().unwrap_or_default(),
            citizen_id: citizen_id.clone(),
            card: self.number.clone(),
        })
    }

    pub(super) fn citizen_id(&self) -> R<&str> {
        known(self.citizen_id.as_deref(), Role::Ssc(SscRole::CitizenId))
    }

    pub(super) fn expiry(&self) -> R<Date> {
        known(self.expiry, Role::Ssc(SscRole::ExpiryDate))
    }

    pub(super) fn name(&self) -> R<String> {
        known(self.name.clone(), Role::Ssc(SscRole::Name))
    }

    /// Whether the log head is a record of `kind` for `id` (the log head must have
    /// been read: [`NewCard::read_log`]).
    pub(super) fn logged(&self, kind: u8, id: TransferId) -> R<bool> {
        let l = known(self.last_log.as_ref(), Role::Ssc(SscRole::LastLog))?;
        Ok(l.as_ref()
            .is_some_and(|l| l.kind == kind && l.prefix == id.prefix()))
    }

    /// Reads the log head from the card in its reader when the open did not.
    pub(super) fn read_log(&mut self, io: &mut Io<'_>) -> R<()> {
        if self.last_log.is_none() {
            let role = Role::Ssc(SscRole::LastLog);
            let f = io.read(Which::New, Session::Same, ssc![LastLog])?;
            self.last_log = Some(last_log(f, role)?);
        }
        Ok(())
    }

    pub(super) fn account(&self) -> R<String> {
        known(self.account.clone(), Role::Ssc(SscRole::Account))
    }

    pub(super) fn category(&self) -> R<u8> {
        known(self.category, Role::Ssc(SscRole::Category))
    }
}

pub(super) fn read_new(io: &mut Io<'_>, purpose: Purpose) -> R<NewCard> {
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, purpose, NEW_LEAN)?;
    let genuine = io.genuine(Which::New)?;
    let card = NewCard::parse(f, genuine)?;
    if let Some(h) = card.holder() {
        io.note(h);
    }
    if !card.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    Ok(card)
}

/// N re-inserted (one reader, step 3): read afresh what proves it is N and what may
/// have changed ([`NEW_AGAIN`]); the rest is `checked`'s, read at step 1 of this run
/// from the card with the same number. Another card number is refused here.
pub(super) fn read_new_again(io: &mut Io<'_>, checked: NewCard) -> R<NewCard> {
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Credit, NEW_AGAIN)?;
    let genuine = io.genuine(Which::New)?;
    let found = text(f, Role::Ssc(SscRole::CardNumber))?;
    if found != checked.number {
        return refuse(Refusal::WrongNewCard {
            expected: checked.number,
            found,
        });
    }
    if !genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    Ok(NewCard {
        status: ssc_status(f)?,
        balance: number(f, Role::Ssc(SscRole::Balance))?,
        transfer: transfer(f, Role::Ssc(SscRole::TransferId))?,
        floor: floor(f)?,
        account: None,
        category: None,
        last_log: None,
        genuine,
        ..checked
    })
}

pub(super) fn read_old(
    io: &mut Io<'_>,
    purpose: Purpose,
    session: Session,
    roles: &'static [Role],
) -> R<OldCard> {
    io.step_msg(Step::ReadOld);
    let f = if session == Session::Fresh {
        io.open(Which::Old, purpose, roles)?
    } else {
        io.read(Which::Old, Session::Same, roles)?
    };
    let old = OldCard::parse(f)?;
    if let Some(h) = old.holder() {
        io.note(h);
    }
    Ok(old)
}

/// The refusals every flow applies to a new card before anything else: expired, a
/// citizen ID failing its check digit.
pub(super) fn check_identity(io: &Io<'_>, card: &NewCard) -> R<()> {
    let expiry = card.expiry()?;
    if expiry < io.env.today {
        return refuse(Refusal::NewExpired { expiry });
    }
    if crate::card::checks::check_citizen_id(card.citizen_id()?).outcome
        != crate::card::checks::Outcome::Pass
    {
        return refuse(Refusal::CitizenIdCheckDigit);
    }
    Ok(())
}

/// Pharmacy step 1 (and window): the status rules of a card about to receive a
/// transfer or be activated.
pub(super) fn check_fresh(io: &Io<'_>, card: &NewCard, ignore_balance: bool) -> R<()> {
    check_identity(io, card)?;
    match card.status {
        SscStatus::NotActivated => {}
        SscStatus::Active => return refuse(Refusal::NewAlreadyActive),
        s => return refuse(Refusal::NewStatus { status: s }),
    }
    if let Some(id) = card.transfer {
        return refuse(Refusal::UnfinishedTransferOnNew { id });
    }
    if card.balance != 0 && !ignore_balance {
        return refuse(Refusal::BalanceWithoutTransfer {
            balance_fen: card.balance,
        });
    }
    Ok(())
}
