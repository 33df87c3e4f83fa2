//! Card data as the core sees it: which roles each step reads (the fewest a rule of
//! spec/activation.md decides on), the parsed old and new card, and the refusals
//! every flow applies to a new card first.

use super::*;

pub(super) const NEW_ROLES: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::ExpiryDate),
    Role::Ssc(SscRole::CitizenId),
    Role::Ssc(SscRole::Name),
    Role::Ssc(SscRole::Account),
    Role::Ssc(SscRole::Category),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
    Role::Ssc(SscRole::LastLog),
];

/// The new card as a pharmacy reads it (check and credit): what the spec's checks
/// decide on. Account and category are not read (the credit overwrites them with the
/// old card's), nor the name (the holder's name shown, journaled and printed is the
/// old card's, whose citizen ID equals N's); the log head is read only when the card
/// already holds this transfer.
pub(super) const NEW_LEAN: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::ExpiryDate),
    Role::Ssc(SscRole::CitizenId),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// N again, re-inserted in the same one-reader run that checked it at step 1: what
/// proves it is N (card number; genuineness by INTERNAL AUTHENTICATE) and what may
/// have changed since (DF04). Its expiry, citizen ID and name belong to the card
/// number and were checked at step 1 of this run.
pub(super) const NEW_AGAIN: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// N for a void: what decides it. N is the card the old card (or the journal) names,
/// so its number and INTERNAL AUTHENTICATE identify it (no expiry, citizen ID or name
/// decides a cancel); status and X decide refuse-or-void, the balance goes into the
/// log record, the floor decides whether to write one. The log head (a torn void
/// leaves its record) is read only when the floor for X is already there: the void
/// writes the floor before its APPEND, so without it no record of this void exists.
pub(super) const NEW_VOID: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// The read-back of a void: the record it wrote, the floor (and balance and X when
/// it cleared a torn credit: [`VOID_BACK_TORN`]). Tag 22 is not written by a void,
/// nor tag 26 when N did not hold X.
pub(super) const VOID_BACK: &[Role] = &[Role::Ssc(SscRole::TransferFloor)];

/// The read-back of a void that cleared a torn credit.
pub(super) const VOID_BACK_TORN: &[Role] = &[
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// The read-back of an unfreeze: the three records it wrote.
pub(super) const UNFREEZE_BACK: &[Role] = &[
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card as resume reads it (all that recovery may continue from).
pub(super) const OLD_ROLES: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::CitizenId),
    Role::City(CityRole::Name),
    Role::City(CityRole::Account),
    Role::City(CityRole::Category),
    Role::City(CityRole::Status),
    Role::City(CityRole::Balance),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
    Role::City(CityRole::TransferCounter),
];

/// The old card at pharmacy step 2: what the freeze decides on (number, citizen ID,
/// status, counter) and carries to N (account, category, balance), with the name
/// shown to the operator, journaled and printed. X and N (tags 26, 27) decide only
/// at status `01` or `02` ([`OLD_TRANSFER`], read then).
pub(super) const OLD_FREEZE: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::CitizenId),
    Role::City(CityRole::Name),
    Role::City(CityRole::Account),
    Role::City(CityRole::Category),
    Role::City(CityRole::Status),
    Role::City(CityRole::Balance),
    Role::City(CityRole::TransferCounter),
];

/// X and N, read from an old card found frozen or migrated.
pub(super) const OLD_TRANSFER: &[Role] = &[
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card as a cancel first reads it: whose transfer (number, X), in which
/// state, bound to which N. The counter n is X's first four bytes.
pub(super) const OLD_CANCEL: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card re-inserted for the unfreeze: the same card, its state, X.
pub(super) const OLD_UNFREEZE: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
];

pub(super) const OLD_BACK: &[Role] = &[
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
    Role::City(CityRole::TransferCounter),
];

/// The read-back of a credit: the three records that decide (status, balance, id).
pub(super) const CREDIT_BACK: &[Role] = &[
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
];

/// The read-back of step 4 (the old card's status, the one record written).
pub(super) const OLD_STATUS: &[Role] = &[Role::City(CityRole::Status)];

pub(super) const NEW_BACK: &[Role] = &[
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

pub(super) fn missing<T>(role: Role) -> R<T> {
    stop(Stop::MissingField { role: role.name() })
}

pub(super) fn text(f: &Fields, role: Role) -> R<String> {
    match f.get(role) {
        Some(FieldValue::Text(s)) | Some(FieldValue::Digits(s)) => Ok(s.clone()),
        _ => missing(role),
    }
}

pub(super) fn number(f: &Fields, role: Role) -> R<u32> {
    match f.get(role) {
        Some(FieldValue::Number(n)) => Ok(*n),
        _ => missing(role),
    }
}

pub(super) fn transfer(f: &Fields, role: Role) -> R<Option<TransferId>> {
    match f.get(role) {
        Some(FieldValue::TransferId(t)) => Ok(t.filter(|t| t.0 != [0; 16])),
        _ => missing(role),
    }
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
    match f.get(role) {
        Some(FieldValue::Code(x)) => Ok(*x),
        _ => missing(role),
    }
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
        match self.transfer {
            Some(t) => Ok(t),
            None => missing(Role::City(CityRole::TransferId)),
        }
    }

    pub(super) fn target(&self) -> R<Option<String>> {
        match &self.target {
            Some(t) => Ok(t.clone()),
            None => missing(Role::City(CityRole::TargetCard)),
        }
    }

    pub(super) fn counter(&self) -> R<u32> {
        match self.counter {
            Some(n) => Ok(n),
            None => missing(Role::City(CityRole::TransferCounter)),
        }
    }

    /// What the transfer carries to N: every record of it must have been read.
    pub(super) fn data(&self, new_card: Option<String>) -> R<TransferData> {
        let c = Role::City;
        Ok(TransferData {
            old_card: Some(self.number.clone()),
            new_card,
            citizen_id: match &self.citizen_id {
                Some(x) => x.clone(),
                None => return missing(c(CityRole::CitizenId)),
            },
            holder_name: match &self.name {
                Some(x) => x.clone(),
                None => return missing(c(CityRole::Name)),
            },
            account: match &self.account {
                Some(x) => x.clone(),
                None => return missing(c(CityRole::Account)),
            },
            category: match self.category {
                Some(x) => x,
                None => return missing(c(CityRole::Category)),
            },
            balance_fen: match self.balance {
                Some(x) => x,
                None => return missing(c(CityRole::Balance)),
            },
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
    match f.get(Role::City(CityRole::Status)) {
        Some(FieldValue::CityStatus(s)) => Ok(*s),
        _ => missing(Role::City(CityRole::Status)),
    }
}

pub(super) fn ssc_status(f: &Fields) -> R<SscStatus> {
    match f.get(Role::Ssc(SscRole::Status)) {
        Some(FieldValue::SscStatus(s)) => Ok(*s),
        _ => missing(Role::Ssc(SscRole::Status)),
    }
}

pub(super) fn floor(f: &Fields) -> R<Option<Floor>> {
    match f.get(Role::Ssc(SscRole::TransferFloor)) {
        Some(FieldValue::Floor(x)) => Ok(x.clone()),
        _ => missing(Role::Ssc(SscRole::TransferFloor)),
    }
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
            expiry: opt(f, s(SscRole::ExpiryDate), |f, role| match f.get(role) {
                Some(FieldValue::Date(Some(d))) => Ok(*d),
                _ => missing(role),
            })?,
            citizen_id: opt(f, s(SscRole::CitizenId), text)?,
            name: opt(f, s(SscRole::Name), text)?,
            account: match f.get(s(SscRole::Account)) {
                Some(FieldValue::Text(t)) | Some(FieldValue::Digits(t)) => Some(t.clone()),
                None => None,
                _ => return missing(s(SscRole::Account)),
            },
            category: match f.get(s(SscRole::Category)) {
                Some(FieldValue::Code(x)) => Some(*x),
                None => None,
                _ => return missing(s(SscRole::Category)),
            },
            status: ssc_status(f)?,
            balance: number(f, s(SscRole::Balance))?,
            transfer: transfer(f, s(SscRole::TransferId))?,
            floor: floor(f)?,
            last_log: match f.get(s(SscRole::LastLog)) {
                Some(FieldValue::LastLog(l)) => Some(l.clone()),
                None => None,
                _ => return missing(s(SscRole::LastLog)),
            },
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
        match &self.citizen_id {
            Some(c) => Ok(c),
            None => missing(Role::Ssc(SscRole::CitizenId)),
        }
    }

    pub(super) fn expiry(&self) -> R<Date> {
        match self.expiry {
            Some(d) => Ok(d),
            None => missing(Role::Ssc(SscRole::ExpiryDate)),
        }
    }

    pub(super) fn name(&self) -> R<String> {
        match &self.name {
            Some(n) => Ok(n.clone()),
            None => missing(Role::Ssc(SscRole::Name)),
        }
    }

    /// Whether the log head is a record of `kind` for `id` (the log head must have
    /// been read: [`NewCard::read_log`]).
    pub(super) fn logged(&self, kind: u8, id: TransferId) -> R<bool> {
        match &self.last_log {
            Some(l) => Ok(l
                .as_ref()
                .is_some_and(|l| l.kind == kind && l.prefix == id.prefix())),
            None => missing(Role::Ssc(SscRole::LastLog)),
        }
    }

    /// Reads the log head from the card in its reader when the open did not.
    pub(super) fn read_log(&mut self, io: &mut Io<'_>) -> R<()> {
        if self.last_log.is_none() {
            let f = io.read(Which::New, Session::Same, &[Role::Ssc(SscRole::LastLog)])?;
            match f.get(Role::Ssc(SscRole::LastLog)) {
                Some(FieldValue::LastLog(l)) => self.last_log = Some(l.clone()),
                _ => return missing(Role::Ssc(SscRole::LastLog)),
            }
        }
        Ok(())
    }

    pub(super) fn account(&self) -> R<String> {
        match &self.account {
            Some(a) => Ok(a.clone()),
            None => missing(Role::Ssc(SscRole::Account)),
        }
    }

    pub(super) fn category(&self) -> R<u8> {
        match self.category {
            Some(c) => Ok(c),
            None => missing(Role::Ssc(SscRole::Category)),
        }
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
