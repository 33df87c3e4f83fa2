//! The pharmacy dual insert (spec/activation.md): freeze the old card, credit the new
//! card, finish the old card.
//!
//! Every card write is announced in the journal first ([`Journal::advance`] returns
//! after the commit is on disk), and the order of single-record writes alone keeps the
//! invariants after a fault at any APDU:
//! - freeze: tag 26 (transfer id) *before* tag 22 = migrating, so a frozen card always
//!   carries its transfer id and recovery never needs this terminal's journal;
//! - credit: account, category, balance, date, terminal, transfer id, and the status
//!   `active` *last*, so the new card can spend only once it holds everything, and only
//!   after the old card was frozen;
//! - a new card already `active` with *this* transfer id is not written again
//!   (applying a transfer twice changes nothing), and the log record is appended only
//!   when record 1 is not already this transfer's.

use super::desk::{Desk, Msg, Step, Want};
use super::error::ActivationError;
use super::journal::{Entry, Flow, Journal, State};
use super::log_record::{self, LogRecord};
use super::new_card::{self, NewCard};
use super::receipt::{mask_id, yuan, Receipt};
use super::session::Session;
use super::slots::{Opened, Slots};
use crate::apdu::Status;
use crate::card::{read_city_with, CityCard};
use crate::profile::{Date, Profiles, Value};
use crate::sam::Sam;
use crate::secret::Pin;

/// Everything a flow needs from the terminal.
pub struct Context<'a> {
    /// Card profiles.
    pub profiles: &'a Profiles,
    /// Where cryptograms come from.
    pub sam: &'a mut dyn Sam,
    /// The journal.
    pub journal: &'a mut Journal,
    /// The desk.
    pub desk: &'a mut dyn Desk,
    /// The readers.
    pub slots: &'a mut Slots,
    /// Terminal number (12 digits).
    pub terminal: String,
    /// Operator name.
    pub operator: String,
    /// Today.
    pub today: Date,
    /// Allow a PIN attempt when only one try is left.
    pub force_last_try: bool,
}

/// What moves from the old card to the new one.
#[derive(Debug, Clone)]
pub struct Transfer {
    /// Transfer id.
    pub id: [u8; 16],
    /// Citizen ID (must equal the new card's).
    pub citizen_id: String,
    /// Holder name.
    pub holder_name: String,
    /// Old card number.
    pub old_card: String,
    /// Medical account number.
    pub account: String,
    /// Insured category.
    pub category: u8,
    /// Balance in fen.
    pub balance_fen: u32,
}

impl Transfer {
    /// The transfer id in hex (the journal key).
    pub fn hex_id(&self) -> String {
        hex::encode_upper(self.id)
    }

    /// From a frozen (or about to be frozen) old card.
    pub fn from_city(city: &CityCard, id: [u8; 16]) -> Transfer {
        Transfer {
            id,
            citizen_id: city.citizen_id.clone(),
            holder_name: city.name.clone(),
            old_card: city.card_number.clone(),
            account: city.account.clone(),
            category: city.category,
            balance_fen: city.balance_fen,
        }
    }

    /// From a journal entry (when the old card is not at hand).
    pub fn from_entry(e: &Entry) -> Result<Transfer, ActivationError> {
        let mut id = [0u8; 16];
        hex::decode_to_slice(&e.id, &mut id).map_err(|_| {
            ActivationError::Inconsistent(format!("journal entry {} has no transfer id", e.id))
        })?;
        let missing = |what: &str| {
            ActivationError::Inconsistent(format!("journal entry {} lacks the {what}", e.id))
        };
        Ok(Transfer {
            id,
            citizen_id: e.citizen_id.clone(),
            holder_name: e.holder_name.clone(),
            old_card: e
                .old_card
                .clone()
                .ok_or_else(|| missing("old card number"))?,
            account: e.account.clone().ok_or_else(|| missing("account"))?,
            category: e.category.ok_or_else(|| missing("category"))?,
            balance_fen: e.balance_fen.ok_or_else(|| missing("balance"))?,
        })
    }

    /// The journal entry for this transfer in `flow`, at `state`.
    pub(crate) fn entry(&self, flow: Flow, state: State, cx: &Context) -> Entry {
        Entry {
            id: self.hex_id(),
            flow,
            state,
            terminal: cx.terminal.clone(),
            operator: cx.operator.clone(),
            citizen_id: self.citizen_id.clone(),
            holder_name: self.holder_name.clone(),
            old_card: (!self.old_card.is_empty()).then(|| self.old_card.clone()),
            new_card: None,
            account: Some(self.account.clone()),
            category: Some(self.category),
            balance_fen: Some(self.balance_fen),
            counter: None,
            legacy: false,
            created_at: String::new(),
            updated_at: String::new(),
        }
    }
}

impl Context<'_> {
    pub(crate) fn advance(
        &mut self,
        id: &str,
        state: State,
        detail: &str,
    ) -> Result<(), ActivationError> {
        let _ = self
            .journal
            .advance(id, state, &self.terminal, &self.operator, detail)?;
        Ok(())
    }

    pub(crate) fn receipt(
        &self,
        flow: Flow,
        t: &Transfer,
        new_card: &str,
        old_finished: bool,
    ) -> Receipt {
        Receipt {
            schema_version: super::receipt::SCHEMA_VERSION,
            flow: flow.as_str().to_string(),
            holder_name: t.holder_name.clone(),
            citizen_id_masked: mask_id(&t.citizen_id),
            old_card: (flow == Flow::Pharmacy).then(|| t.old_card.clone()),
            new_card: new_card.to_string(),
            amount_fen: t.balance_fen,
            amount_yuan: yuan(t.balance_fen),
            transfer_id: t.hex_id(),
            terminal: self.terminal.clone(),
            operator: self.operator.clone(),
            time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
            old_card_finished: old_finished,
        }
    }
}

/// An opened old card, read.
pub struct OldCard<'p> {
    /// The session.
    pub session: Session<'p>,
    /// What it holds.
    pub city: CityCard,
}

/// Reads the old card in `opened`.
pub fn read_old<'p>(
    opened: Opened<'p>,
    desk: &mut dyn Desk,
) -> Result<OldCard<'p>, ActivationError> {
    desk.show(&Msg::Step(Step::ReadOld));
    let Opened {
        profile,
        mut ch,
        selection,
        ..
    } = opened;
    let city = read_city_with(&mut ch, profile, selection.as_ref())?;
    desk.show(&Msg::Holder {
        name: city.name.clone(),
        id_masked: mask_id(&city.citizen_id),
        card: city.card_number.clone(),
    });
    let session = Session::new(
        ch,
        profile,
        city.current_df.as_deref(),
        city.alg,
        city.diversifier,
    );
    Ok(OldCard { session, city })
}

/// Asks the holder for the old card's PIN and verifies it, refusing to spend the last
/// try unless forced.
fn verify_old_pin(cx: &mut Context, old: &mut OldCard) -> Result<Pin, ActivationError> {
    loop {
        let left = old.session.pin_tries_left()?;
        match left {
            Some(0) => return Err(ActivationError::Refused(
                "the old card's PIN is blocked; the holder must have it unblocked at the bureau"
                    .into(),
            )),
            Some(1) if !cx.force_last_try => {
                return Err(ActivationError::Refused(
                    "only one PIN try is left on the old card; a wrong PIN would block it. \
                     Retry with --force-last-try if the holder is sure"
                        .into(),
                ))
            }
            _ => {}
        }
        let prompt = match left {
            Some(n) => format!("Holder: enter the old card's PIN ({n} tries left): "),
            None => "Holder: enter the old card's PIN: ".to_string(),
        };
        let pin = cx.desk.pin(&prompt, false)?;
        match old.session.verify_pin(&pin)? {
            Status::Success => {
                cx.desk.show(&Msg::Step(Step::PinVerified));
                return Ok(pin);
            }
            Status::TriesLeft(n) => {
                cx.desk.show(&Msg::PinWrong { left: n });
                if !cx.desk.interactive() || n == 0 {
                    return Err(ActivationError::Refused(format!(
                        "wrong PIN for the old card; {n} tries left"
                    )));
                }
            }
            Status::AuthBlocked => {
                return Err(ActivationError::Refused(
                    "the old card's PIN is blocked".into(),
                ))
            }
            Status::ConditionsNotSatisfied => {
                return Err(ActivationError::Refused(
                    "the old card refuses PIN verification: it can no longer pay".into(),
                ))
            }
            status => {
                return Err(crate::card::CardError::status("VERIFY (old card)", status).into())
            }
        }
    }
}

/// Step 1: freeze the old card for `t` (journal FREEZING before the first write,
/// FROZEN after the read-back).
pub fn freeze(cx: &mut Context, old: &mut OldCard, t: &Transfer) -> Result<(), ActivationError> {
    let entry = t.entry(Flow::Pharmacy, State::Freezing, cx);
    let _ = cx.journal.begin(&entry, "old card read, PIN verified")?;
    cx.desk.show(&Msg::Step(Step::Freeze));
    let s = &mut old.session;
    let migrating = s.code("status", "migrating")?;
    s.write("transfer_id", &Value::Bytes(t.id.to_vec()), cx.sam)?;
    s.write("status", &Value::Code(migrating), cx.sam)?;
    let (status, id) = (s.read("status")?, s.read("transfer_id")?);
    if status != Value::Code(migrating) || id != Value::Bytes(t.id.to_vec()) {
        return Err(ActivationError::Inconsistent(
            "the old card does not read back as frozen with this transfer".into(),
        ));
    }
    cx.advance(&t.hex_id(), State::Frozen, "old card frozen")
}

/// Step 3: mark the old card migrated to `new_card`.
pub fn finish_old(
    cx: &mut Context,
    old: &mut OldCard,
    new_card: &str,
) -> Result<(), ActivationError> {
    cx.desk.show(&Msg::Step(Step::FinishOld));
    let s = &mut old.session;
    let migrated = s.code("status", "migrated")?;
    s.write("target_card", &Value::Text(new_card.to_string()), cx.sam)?;
    s.write("status", &Value::Code(migrated), cx.sam)?;
    if s.read("status")? != Value::Code(migrated) {
        return Err(ActivationError::Inconsistent(
            "the old card does not read back as migrated".into(),
        ));
    }
    Ok(())
}

/// Reads the new card and refuses it, writing nothing, when it cannot take a
/// transfer for `citizen_id`.
fn read_new<'p>(
    cx: &mut Context,
    opened: Opened<'p>,
    citizen_id: &str,
) -> Result<(Session<'p>, NewCard), ActivationError> {
    cx.desk.show(&Msg::Step(Step::ReadNew));
    let (s, card) = new_card::read(opened, cx.sam, &[])?;
    cx.desk.show(&Msg::Holder {
        name: card.name.clone(),
        id_masked: mask_id(&card.citizen_id),
        card: card.card_number.clone(),
    });
    check_new(cx, &card, citizen_id)?;
    Ok((s, card))
}

/// The refusals every flow applies to a new card: another person's card, a bad
/// citizen ID, an expired card, a card that is not genuine.
pub(crate) fn check_new(
    cx: &Context,
    card: &NewCard,
    citizen_id: &str,
) -> Result<(), ActivationError> {
    if card.citizen_id != citizen_id {
        return Err(ActivationError::Refused(format!(
            "the new card belongs to another person (citizen ID {} vs {})",
            mask_id(&card.citizen_id),
            mask_id(citizen_id)
        )));
    }
    if crate::card::checks::check_citizen_id(&card.citizen_id).outcome
        != crate::card::checks::Outcome::Pass
    {
        return Err(ActivationError::Refused(
            "the citizen ID on the new card fails its check digit".into(),
        ));
    }
    if card.expiry < cx.today {
        return Err(ActivationError::Refused(format!(
            "the new card expired on {}; the holder must replace it at the bureau",
            card.expiry.format("%Y-%m-%d")
        )));
    }
    if !card.genuine {
        return Err(ActivationError::Refused(
            "the new card failed the genuineness check (INTERNAL AUTHENTICATE)".into(),
        ));
    }
    Ok(())
}

/// Step 2: credit `t` to the new card and give it the PIN. `pin` is the old card's
/// PIN (verified in this session, or entered again on recovery); `pin_done` skips
/// the PIN reload when the journal says it already happened.
pub fn credit(
    cx: &mut Context,
    opened: Opened,
    t: &Transfer,
    pin: Option<&Pin>,
) -> Result<String, ActivationError> {
    let (mut s, card) = read_new(cx, opened, &t.citizen_id)?;
    let id_hex = t.hex_id();
    let state = cx.journal.get(&id_hex)?.map(|e| e.state);
    let active = s.code("status", "active")?;
    let not_activated = s.code("status", "not_activated")?;
    let already = card.status == active && card.transfer_id == t.id;
    if !already {
        if card.status != not_activated {
            let why = if card.status == active {
                "the new card is already active with another transfer".to_string()
            } else {
                format!(
                    "the new card's medical status is {}",
                    s.code_name("status", card.status)
                )
            };
            return Err(ActivationError::Refused(why));
        }
        if state < Some(State::Crediting) {
            cx.advance(&id_hex, State::Crediting, "crediting the new card")?;
        }
        cx.journal.set_new_card(&id_hex, &card.card_number)?;
        cx.desk.show(&Msg::Step(Step::Credit));
        s.write("account", &Value::Text(t.account.clone()), cx.sam)?;
        s.write("category", &Value::Code(t.category), cx.sam)?;
        s.write("balance", &Value::Number(t.balance_fen), cx.sam)?;
        s.write("activation_date", &Value::Date(Some(cx.today)), cx.sam)?;
        s.write(
            "activation_terminal",
            &Value::Digits(cx.terminal.clone()),
            cx.sam,
        )?;
        s.write("transfer_id", &Value::Bytes(t.id.to_vec()), cx.sam)?;
        s.write("status", &Value::Code(active), cx.sam)?;
    } else {
        cx.desk.show(&Msg::Note(
            "The new card already holds this transfer; completing what is left.".into(),
        ));
        if state < Some(State::Crediting) {
            cx.advance(&id_hex, State::Crediting, "new card found credited")?;
        }
        cx.journal.set_new_card(&id_hex, &card.card_number)?;
    }
    // A fresh credit cannot have logged this transfer yet (the append follows the
    // status write); only a card found already credited may hold the record.
    append_log(
        cx,
        &mut s,
        log_record::TYPE_TRANSFER_IN,
        t.balance_fen,
        t.balance_fen,
        &t.id,
        already,
    )?;
    // Read back while DF04 is current (the PIN reload below selects SSSE).
    let (status, id, balance) = (
        s.read("status")?,
        s.read("transfer_id")?,
        s.read("balance")?,
    );
    if status != Value::Code(active)
        || id != Value::Bytes(t.id.to_vec())
        || balance != Value::Number(t.balance_fen)
    {
        return Err(ActivationError::Inconsistent(
            "the new card does not read back with this transfer".into(),
        ));
    }
    if state < Some(State::Credited) {
        let pin = pin.ok_or_else(|| {
            ActivationError::Inconsistent("the PIN for the new card is missing".into())
        })?;
        cx.desk.show(&Msg::Step(Step::ReloadPin));
        s.reload_pin(pin, cx.sam)?;
        cx.advance(&id_hex, State::Credited, "new card credited, PIN set")?;
    }
    Ok(card.card_number)
}

/// Appends the activation log record; with `check`, only when record 1 is not
/// already this one (a resumed flow must not log a transfer twice).
pub(crate) fn append_log(
    cx: &mut Context,
    s: &mut Session,
    kind: u8,
    amount: u32,
    balance_after: u32,
    id: &[u8; 16],
    check: bool,
) -> Result<(), ActivationError> {
    let mut prefix = [0u8; 8];
    prefix.copy_from_slice(&id[..8]);
    let file = "medical_log";
    if check {
        if let Some(bytes) = s.read_record(file, 1)? {
            if let Ok(Some(rec)) = LogRecord::decode(&bytes) {
                if rec.kind == kind && rec.transfer_prefix == prefix {
                    return Ok(());
                }
            }
        }
    }
    let now = chrono::Local::now();
    let rec = LogRecord {
        kind,
        amount,
        balance_after,
        date: cx.today.format("%Y%m%d").to_string(),
        time: now.format("%H%M%S").to_string(),
        terminal: cx.terminal.clone(),
        transfer_prefix: prefix,
    };
    let bytes = rec
        .encode()
        .map_err(|e| ActivationError::Inconsistent(format!("log record: {e}")))?;
    s.append(file, &bytes, cx.sam)
}

fn random_id() -> Result<[u8; 16], ActivationError> {
    let mut id = [0u8; 16];
    getrandom::fill(&mut id)
        .map_err(|e| ActivationError::Inconsistent(format!("no random numbers: {e}")))?;
    Ok(id)
}

/// Closes journal entries of this old card that stopped while freezing it: the card
/// reads as active, so the freeze never took effect (its status write is the last
/// freeze write) and a new attempt supersedes it.
fn close_abandoned_freezes(cx: &mut Context, city: &CityCard) -> Result<(), ActivationError> {
    let stale: Vec<String> = cx
        .journal
        .unfinished()?
        .into_iter()
        .filter(|e| e.state == State::Freezing && e.old_card.as_deref() == Some(&city.card_number))
        .map(|e| e.id)
        .collect();
    for id in stale {
        cx.advance(
            &id,
            State::Cancelled,
            "freeze never took effect; superseded by a new attempt",
        )?;
    }
    Ok(())
}

/// Runs the pharmacy flow from the start: old card, then new card.
pub fn run(cx: &mut Context) -> Result<Receipt, ActivationError> {
    let profiles = cx.profiles;
    let opened = cx.slots.open(Want::OldCard, profiles, cx.desk)?;
    let mut old = read_old(opened, cx.desk)?;
    let status = old.city.status;
    let name = old.session.code_name("status", status);
    match name.as_str() {
        "active" => {}
        "migrating" => return super::recovery::continue_from_old(cx, old),
        "migrated" => {
            return Err(ActivationError::Refused(format!(
                "the old card was already migrated{}",
                old.city
                    .target_card
                    .as_deref()
                    .map(|t| format!(" to card {t}"))
                    .unwrap_or_default()
            )))
        }
        other => {
            return Err(ActivationError::Refused(format!(
                "the old card's status is {other}: it cannot be migrated"
            )))
        }
    }
    close_abandoned_freezes(cx, &old.city)?;
    let pin = verify_old_pin(cx, &mut old)?;
    let t = Transfer::from_city(&old.city, random_id()?);
    freeze(cx, &mut old, &t)?;
    finish_transfer(cx, old, &t, Some(&pin))
}

/// Steps 2 and 3 for a frozen old card (fresh or recovered).
pub fn finish_transfer(
    cx: &mut Context,
    old: OldCard,
    t: &Transfer,
    pin: Option<&Pin>,
) -> Result<Receipt, ActivationError> {
    let profiles = cx.profiles;
    let one_reader = cx.slots.one_reader();
    let mut old = Some(old);
    if one_reader {
        drop(old.take());
        cx.slots.wait_removed(Want::OldCard, cx.desk)?;
    }
    let opened = cx.slots.open(Want::NewCard, profiles, cx.desk)?;
    let new_card = credit(cx, opened, t, pin)?;
    let finished = match old.as_mut() {
        Some(o) => {
            finish_old(cx, o, &new_card)?;
            true
        }
        None => false,
    };
    let detail = if finished {
        "old card marked migrated"
    } else {
        "old card stays frozen (one reader); the journal records where its account went"
    };
    cx.advance(&t.hex_id(), State::Complete, detail)?;
    cx.desk.show(&Msg::Step(Step::Done));
    Ok(cx.receipt(Flow::Pharmacy, t, &new_card, finished))
}
