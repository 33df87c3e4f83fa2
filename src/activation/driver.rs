//! The one driver: runs the sans-IO protocol core ([`super::core`]) against real
//! cards (PC/SC, or in-process virtual cards), the journal and the desk.
//!
//! Why one thin driver: the protocol (what to read, what to refuse, which write in
//! which order, under which journal state) lives once, in the core, where the model
//! checker explores it. This file only *executes* the core's actions:
//! - a card operation by profile role through a [`Session`] (the profile says where a
//!   role lives; the driver never holds a tag);
//! - a journal write, made durable (`synchronous = FULL`) before the core gets the
//!   [`Announced`](super::core::Announced) proof a card write needs;
//! - a desk message or question.
//!
//! It also holds the PINs (the core never sees one) and the one recovery policy of
//! the desk ([`recovery`]): which failures a desk may retry and how.

use super::core::{
    self, Action, AuthOutcome, CardFault, CardOp, CityRole, CityStatus, Core, End, Env, FieldValue,
    Fields, Input, JournalEntry, JournalWrite, KeyRole, LogHead, PinEntry, PinOutcome, PinSource,
    Prompt, Readers, Role, SscRole, SscStatus, Start, TransferData, TransferId, Which, WriteOp,
};
use super::desk::{Ask, Desk, Msg, Step, Want};
use super::error::ActivationError;
use super::journal::{Entry, Flow, Journal, JournalError};
use super::log_record::LogRecord;
use super::receipt::{mask_id, yuan, Receipt};
use super::session::Session;
use super::slots::{Opened, Slots};
use crate::apdu::{catalogue, Status, TransportError};
use crate::card::fields::{read_role, Fields as CardFields};
use crate::card::nav::alg_from_fci;
use crate::card::ssc::diversifier_of;
use crate::card::{auth, CardError, Nav};
use crate::crypto::Algorithm;
use crate::profile::{Date, Profile, Profiles, Value};
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

/// How a flow ended well.
// Returned once per flow: boxing the receipt would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Activated or transferred: the receipt.
    Done(Receipt),
    /// The cancel completed: the old card is active again.
    Cancelled {
        /// The transfer.
        id: String,
        /// The old card.
        old_card: String,
    },
}

/// One card of a flow, opened.
struct Card<'p> {
    session: Session<'p>,
    /// The SSC generation (for the holder file's read key).
    generation: Option<String>,
    /// INTERNAL AUTHENTICATE, done while SSSE was current during the read.
    genuine: Option<bool>,
}

/// The driver's state for one run of the core.
struct Run<'p> {
    old: Option<Card<'p>>,
    new: Option<Card<'p>>,
    /// The old card's PIN the holder typed and the old card verified.
    old_pin: Option<Pin>,
    /// The new card's PIN verified in this run (window), for CHANGE PIN.
    new_card_pin: Option<Pin>,
    /// A PIN typed twice (`PinForNewCard`) or chosen (`ChooseNewPin`).
    typed_pin: Option<Pin>,
    chosen_pin: Option<Pin>,
    /// The error behind the last fault or journal failure, reported as the cause.
    cause: Option<ActivationError>,
    /// Whether the core's last step shown was `Done`-worthy (for the desk).
    ids_touched: Vec<String>,
}

fn want(which: Which) -> Want {
    match which {
        Which::Old => Want::OldCard,
        Which::New => Want::NewCard,
    }
}

fn fault_of(e: &ActivationError) -> CardFault {
    fn transport(t: &TransportError) -> CardFault {
        match t {
            TransportError::CardRemoved | TransportError::CardReset => CardFault::Removed,
            TransportError::ShortResponse(0) => CardFault::Removed,
            TransportError::NoCard(_) => CardFault::Absent,
            TransportError::Busy => CardFault::ReaderInUse,
            _ => CardFault::Reader,
        }
    }
    match e {
        ActivationError::Card(CardError::Transport(t)) => transport(t),
        ActivationError::Card(CardError::Status { status, .. }) => CardFault::Status(status.code()),
        ActivationError::Card(CardError::AuthRefused { status, .. }) => {
            CardFault::Status(status.code())
        }
        ActivationError::Timeout(_) => CardFault::Absent,
        _ => CardFault::Reader,
    }
}

/// Runs `start` to its end.
///
/// # Errors
/// [`ActivationError`]: a refusal ([`ActivationError::Refusal`]), a safety stop
/// ([`ActivationError::Stop`]), or the card, reader, journal or desk failure that
/// stopped the flow (so the desk can tell a pulled card from a refusal).
pub fn run(cx: &mut Context, start: Start) -> Result<Outcome, ActivationError> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random)
        .map_err(|e| ActivationError::Inconsistent(format!("no random numbers: {e}")))?;
    let env = Env {
        terminal: cx.terminal.clone(),
        today: cx.today,
        random,
        readers: if cx.slots.one_reader() {
            Readers::One
        } else {
            Readers::Two
        },
        interactive: cx.desk.interactive(),
        force_last_try: cx.force_last_try,
        rules: core::Rules::spec(),
    };
    let flow = match &start {
        Start::Window { .. } => Flow::Window,
        Start::FirstUse { .. } => Flow::FirstUse,
        _ => Flow::Pharmacy,
    };
    let mut core = Core::new(env, start);
    let mut run = Run {
        old: None,
        new: None,
        old_pin: None,
        new_card_pin: None,
        typed_pin: None,
        chosen_pin: None,
        cause: None,
        ids_touched: Vec::new(),
    };
    let mut input = None;
    loop {
        let next = core.step(input.take());
        for m in &next.show {
            show(cx, m);
        }
        match next.action {
            Action::End(end) => return finish(cx, &mut run, flow, end),
            Action::Card(op) => input = Some(card_op(cx, &mut run, op)),
            Action::Journal(w) => input = Some(journal_write(cx, &mut run, w)),
            Action::LookupJournal(id) => {
                let e = cx.journal.get(&id.hex())?;
                input = Some(Input::Entry(e.as_ref().and_then(journal_entry)));
            }
            Action::AskPin(prompt) => input = Some(ask_pin(cx, &mut run, prompt)),
            Action::AskLine(prompt) => {
                let l = cx.desk.line(prompt).ok();
                input = Some(Input::Line(l));
            }
        }
    }
}

/// The core's view of a journal row; `None` when the row cannot be one (an id that
/// is not 32 hex digits, from an older journal).
pub fn journal_entry(e: &Entry) -> Option<JournalEntry> {
    let id = TransferId::parse(&e.id)?;
    Some(JournalEntry {
        id,
        flow: match e.flow {
            Flow::Pharmacy => core::Flow::Pharmacy,
            Flow::Window => core::Flow::Window,
            Flow::FirstUse => core::Flow::FirstUse,
        },
        state: e.state,
        data: TransferData {
            old_card: e.old_card.clone(),
            // A legacy entry's card number is no binding: the cancel reads the old card.
            new_card: e.bound_card().map(str::to_string),
            citizen_id: e.citizen_id.clone(),
            holder_name: e.holder_name.clone(),
            account: e.account.clone().unwrap_or_default(),
            category: e.category.unwrap_or_default(),
            balance_fen: e.balance_fen.unwrap_or_default(),
        },
    })
}

fn finish(
    cx: &mut Context,
    run: &mut Run,
    flow: Flow,
    end: End,
) -> Result<Outcome, ActivationError> {
    match end {
        End::Done(r) => {
            cx.desk.show(&Msg::Step(Step::Done));
            Ok(Outcome::Done(Receipt {
                schema_version: super::receipt::SCHEMA_VERSION,
                flow: flow.as_str().to_string(),
                holder_name: r.holder_name.clone(),
                citizen_id_masked: mask_id(&r.citizen_id),
                old_card: r.old_card.clone(),
                new_card: r.new_card.clone(),
                amount_fen: r.amount_fen,
                amount_yuan: yuan(r.amount_fen),
                transfer_id: r.id.hex(),
                terminal: cx.terminal.clone(),
                operator: cx.operator.clone(),
                time: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                old_card_finished: r.old_card_finished,
            }))
        }
        End::Cancelled { id, old_card, .. } => {
            cx.desk.show(&Msg::Step(Step::Done));
            Ok(Outcome::Cancelled {
                id: id.hex(),
                old_card,
            })
        }
        End::Refused(r) => Err(ActivationError::Refusal(r)),
        End::Stopped(s) => {
            // A fault or a journal failure: report the cause itself (its exit code and
            // whether the desk may recover depend on it), not only the stop.
            match (&s, run.cause.take()) {
                (
                    core::Stop::CardFault { .. }
                    | core::Stop::JournalFailed
                    | core::Stop::WrongKey { .. }
                    | core::Stop::KeyBlocked { .. },
                    Some(cause),
                ) => Err(cause),
                _ => Err(ActivationError::Stop(s)),
            }
        }
    }
}

/// Shows a core message on the desk (steps and notes the desk already knows keep
/// their desk form, so every frontend shows them).
fn show(cx: &mut Context, m: &core::Msg) {
    use core::Msg as M;
    let msg = match m {
        M::Step(s) => match s {
            core::Step::CheckNew => Msg::Step(Step::ReadNew),
            core::Step::ProveKey => Msg::Step(Step::ProveKey),
            core::Step::ReadOld => Msg::Step(Step::ReadOld),
            core::Step::PinVerified => Msg::Step(Step::PinVerified),
            core::Step::Freeze => Msg::Step(Step::Freeze),
            core::Step::Frozen => Msg::Step(Step::Frozen),
            core::Step::Credit => Msg::Step(Step::Credit),
            core::Step::Activate => Msg::Step(Step::Activate),
            core::Step::SetPin => Msg::Step(Step::ReloadPin),
            core::Step::FinishOld => Msg::Step(Step::FinishOld),
            core::Step::Unfreeze => Msg::Step(Step::Unfreeze),
            core::Step::Void => Msg::Step(Step::Void),
        },
        M::Note(core::Note::Holder {
            name,
            citizen_id,
            card,
        }) => Msg::Holder {
            name: name.clone(),
            id_masked: mask_id(citizen_id),
            card: card.clone(),
        },
        M::Note(core::Note::PinWrong { left }) => Msg::PinWrong { left: *left },
        M::Note(n) => Msg::Note(n.clone()),
    };
    cx.desk.show(&msg);
}

fn ask_pin(cx: &mut Context, run: &mut Run, prompt: Prompt) -> Input {
    let first = match cx.desk.pin(Ask::Prompt(prompt), false) {
        Ok(p) => p,
        Err(_) => return Input::PinEntered(PinEntry::NoInput),
    };
    let again = match cx.desk.pin(Ask::Again, false) {
        Ok(p) => p,
        Err(_) => return Input::PinEntered(PinEntry::NoInput),
    };
    let confirmed = first == again;
    let initial = is_initial(&first);
    if confirmed && !initial {
        match prompt {
            Prompt::ChooseNewPin => run.chosen_pin = Some(first),
            _ => run.typed_pin = Some(first),
        }
    }
    Input::PinEntered(PinEntry::Entered { confirmed, initial })
}

fn journal_write(cx: &mut Context, run: &mut Run, w: JournalWrite) -> Input {
    let id = w.id().hex();
    let d = w.data();
    let result = (|| -> Result<(), JournalError> {
        match cx.journal.get(&id)? {
            None => {
                let entry = Entry {
                    id: id.clone(),
                    flow: match w.flow() {
                        core::Flow::Pharmacy => Flow::Pharmacy,
                        core::Flow::Window => Flow::Window,
                        core::Flow::FirstUse => Flow::FirstUse,
                    },
                    state: w.state(),
                    terminal: cx.terminal.clone(),
                    operator: cx.operator.clone(),
                    citizen_id: d.citizen_id.clone(),
                    holder_name: d.holder_name.clone(),
                    old_card: d.old_card.clone(),
                    new_card: d.new_card.clone(),
                    account: Some(d.account.clone()),
                    category: Some(d.category),
                    balance_fen: Some(d.balance_fen),
                    counter: (w.flow() == core::Flow::Pharmacy).then(|| w.id().counter()),
                    legacy: false,
                    created_at: String::new(),
                    updated_at: String::new(),
                };
                let _ = cx.journal.begin(&entry, w.state().as_str())?;
            }
            Some(e) => {
                if let Some(n) = &d.new_card {
                    if e.bound_card() != Some(n.as_str()) {
                        cx.journal.set_new_card(&id, n)?;
                    }
                }
                let _ = cx.journal.advance(
                    &id,
                    w.state(),
                    &cx.terminal,
                    &cx.operator,
                    w.state().as_str(),
                )?;
            }
        }
        Ok(())
    })();
    match result {
        Ok(()) => {
            if !run.ids_touched.contains(&id) {
                run.ids_touched.push(id);
            }
            Input::Journaled(w.announced())
        }
        Err(e) => {
            run.cause = Some(ActivationError::Journal(e));
            Input::JournalFailed
        }
    }
}

fn card_op<'p>(cx: &mut Context<'p>, run: &mut Run<'p>, op: CardOp) -> Input {
    let which = match &op {
        CardOp::Read { which, .. }
        | CardOp::CheckGenuine { which }
        | CardOp::Authenticate { which, .. }
        | CardOp::VerifyPin { which, .. } => *which,
        CardOp::Write(w) => w.which(),
    };
    match card_op_inner(cx, run, op) {
        Ok(i) => i,
        Err(e) => {
            let fault = fault_of(&e);
            // A dead connection is not kept: the next open waits for the card.
            match which {
                Which::Old => run.old = None,
                Which::New => run.new = None,
            }
            run.cause = Some(e);
            Input::Fault(fault)
        }
    }
}

fn card_op_inner<'p>(
    cx: &mut Context<'p>,
    run: &mut Run<'p>,
    op: CardOp,
) -> Result<Input, ActivationError> {
    match op {
        CardOp::Read {
            which,
            session,
            roles,
        } => {
            if session == core::Session::Fresh {
                open(cx, run, which, roles)?;
            }
            let card = slot(run, which)?;
            let mut out = Vec::with_capacity(roles.len());
            for role in roles {
                out.push((*role, read_value(cx, card, *role)?));
            }
            Ok(Input::Read(Fields(out)))
        }
        CardOp::CheckGenuine { which } => {
            let card = slot(run, which)?;
            if let Some(g) = card.genuine {
                return Ok(Input::Genuine(g));
            }
            let g = internal_auth(cx, &mut card.session)?;
            card.genuine = Some(g);
            Ok(Input::Genuine(g))
        }
        CardOp::Authenticate { which, key } => {
            let card = slot(run, which)?;
            let role = match key {
                KeyRole::Write => "write",
                KeyRole::PinReload => "pin_reload",
            };
            match card.session.authenticate(role, cx.sam) {
                Ok(()) => Ok(Input::Auth(AuthOutcome::Ok)),
                Err(ActivationError::Card(CardError::AuthRefused { status, .. }))
                    if matches!(status, Status::TriesLeft(_) | Status::AuthBlocked) =>
                {
                    // No retry, ever: each wrong try spends one of the card's five.
                    let e = ActivationError::Card(CardError::AuthRefused {
                        context: format!("the desk's {role} key on the {}", card_name(which)),
                        key_id: card.session.profile.key(role)?.id,
                        status,
                    });
                    run_cause(run, e);
                    Ok(Input::Auth(match status {
                        Status::TriesLeft(n) => AuthOutcome::WrongKey { tries_left: n },
                        _ => AuthOutcome::Blocked,
                    }))
                }
                Err(e) => Err(e),
            }
        }
        CardOp::VerifyPin {
            which,
            prompt,
            spend_last_try,
        } => verify_pin(cx, run, which, prompt, spend_last_try),
        CardOp::Write(w) => {
            let which = w.which();
            let pin = match w.op() {
                WriteOp::ReloadPin(src) => Some(match src {
                    PinSource::OldCardVerified => run.old_pin.clone(),
                    PinSource::TypedTwice => run.typed_pin.clone(),
                    PinSource::Chosen => run.chosen_pin.clone(),
                }),
                _ => None,
            };
            let change = match w.op() {
                WriteOp::ChangePin => Some((run.new_card_pin.clone(), run.chosen_pin.clone())),
                _ => None,
            };
            let card = slot(run, which)?;
            let s = &mut card.session;
            match w.op() {
                WriteOp::Field { role, value } => {
                    let v = to_profile_value(s.profile, *role, value)?;
                    s.write_exact(role.name(), &v)?;
                }
                WriteOp::AppendLog(rec) => {
                    let now = chrono::Local::now();
                    let mut prefix = [0u8; 8];
                    if let Some(t) = rec.transfer {
                        prefix = t.prefix();
                    }
                    let bytes = LogRecord {
                        kind: rec.kind,
                        amount: rec.amount_fen,
                        balance_after: rec.balance_after_fen,
                        date: rec.date.format("%Y%m%d").to_string(),
                        time: now.format("%H%M%S").to_string(),
                        terminal: rec.terminal.clone(),
                        transfer_prefix: prefix,
                    }
                    .encode()
                    .map_err(|e| ActivationError::Inconsistent(format!("log record: {e}")))?;
                    s.append_exact("medical_log", &bytes)?;
                }
                WriteOp::ReloadPin(_) => {
                    let pin = pin.flatten().ok_or_else(|| {
                        ActivationError::Inconsistent("the PIN for the new card is missing".into())
                    })?;
                    let r = s.ch.send(&catalogue::reload_pin(&pin))?;
                    if !r.is_success() {
                        return Err(CardError::status("RELOAD PIN", r.status).into());
                    }
                }
                WriteOp::ChangePin => {
                    let (Some(old), Some(new)) = change.unwrap_or((None, None)) else {
                        return Err(ActivationError::Inconsistent(
                            "the PINs for CHANGE PIN are missing".into(),
                        ));
                    };
                    let r = s.ch.send(&catalogue::change_pin(&old, &new))?;
                    if !r.is_success() {
                        return Err(CardError::status("CHANGE PIN", r.status).into());
                    }
                }
            }
            Ok(Input::Written)
        }
    }
}

/// Whether `pin` is the initial PIN `123456` (spec/activation.md: the PIN rule).
fn is_initial(pin: &Pin) -> bool {
    pin.bcd() == [0x12, 0x34, 0x56]
}

fn run_cause(run: &mut Run, e: ActivationError) {
    run.cause = Some(e);
}

fn card_name(which: Which) -> &'static str {
    match which {
        Which::Old => "old card",
        Which::New => "new card",
    }
}

fn slot<'r, 'p>(run: &'r mut Run<'p>, which: Which) -> Result<&'r mut Card<'p>, ActivationError> {
    let card = match which {
        Which::Old => run.old.as_mut(),
        Which::New => run.new.as_mut(),
    };
    card.ok_or(ActivationError::Card(CardError::Transport(
        TransportError::CardRemoved,
    )))
}

/// Opens `which` afresh: in a one-reader desk the other card leaves the reader first
/// (the holder is told to take it out), then the wanted card is waited for.
fn open<'p>(
    cx: &mut Context<'p>,
    run: &mut Run<'p>,
    which: Which,
    roles: &[Role],
) -> Result<(), ActivationError> {
    match which {
        Which::Old => run.old = None,
        Which::New => run.new = None,
    }
    if cx.slots.one_reader() {
        let other = match which {
            Which::Old => run.new.take().map(|_| Want::NewCard),
            Which::New => run.old.take().map(|_| Want::OldCard),
        };
        if let Some(w) = other {
            cx.slots.wait_removed(w, cx.desk)?;
        }
    }
    let profiles = cx.profiles;
    let opened = cx.slots.open(want(which), profiles, cx.desk)?;
    let card = match which {
        Which::Old => open_old(opened)?,
        Which::New => open_new(cx, opened, roles)?,
    };
    match which {
        Which::Old => run.old = Some(card),
        Which::New => run.new = Some(card),
    }
    Ok(())
}

/// Refuses a profile (or card) without a record the transfer protocol needs.
fn gap(
    profile: &Profile,
    has: impl FnMut(&str) -> bool,
    what: &str,
) -> Result<(), ActivationError> {
    if let Some((role, why)) = crate::profile::roles::activation_gap(profile.kind, has) {
        return Err(ActivationError::Refused(format!(
            "the {what} (profile {}) has no {role} record: {why}. It follows a layout older \
             than the transfer protocol; the bureau must update the card (or the profile must \
             name the record)",
            profile.name
        )));
    }
    Ok(())
}

/// Opens the old card lazily: the detection's SELECT made its DF current, and only
/// the records the core asks for are read, each as it asks (by SFI and tag, one APDU
/// each). The card number is read first in every case: it is the diversifier of the
/// card's write key.
fn open_old(opened: Opened) -> Result<Card, ActivationError> {
    let Opened {
        profile,
        ch,
        selection,
        ..
    } = opened;
    if profile.kind != crate::profile::Kind::City {
        return Err(CardError::invalid(
            format!("profile {}", profile.name),
            "is not a CITY profile",
        )
        .into());
    }
    gap(profile, |r| profile.field(r).is_ok(), "old card's profile")?;
    let nav = match &selection {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut s = Session::with_nav(ch, profile, nav);
    let main_df = profile.file_of("status")?.df.clone();
    let fci_alg = match s.nav.fci(&main_df) {
        Some(fci) => alg_from_fci(profile.df(&main_df)?, fci)?,
        None => None,
    };
    s.alg = fci_alg
        .or(profile.alg.and_then(Algorithm::from_id))
        .ok_or_else(|| {
            CardError::invalid(format!("profile {}", profile.name), "no algorithm (`alg`)")
        })?;
    let mut f = CardFields::default();
    f.extend(read_role(&mut s.ch, &mut s.nav, profile, "card_number")?);
    s.diversifier = diversifier_of(profile, &f)?;
    s.cache = f;
    Ok(Card {
        session: s,
        generation: None,
        genuine: None,
    })
}

/// One record of the old card; a record of the transfer protocol the card lacks is
/// refused with the reason (spec/activation.md), not reported as a card fault.
fn read_old_role(s: &mut Session, role: &str) -> Result<Value, ActivationError> {
    let profile = s.profile;
    let field = profile.field(role)?.clone();
    let file = profile.file(&field.file)?.clone();
    crate::card::fields::enter_file(&mut s.ch, &mut s.nav, &file)?;
    match crate::card::fields::read_field(&mut s.ch, &file, &field, None)? {
        Some(f) => Ok(f.value),
        None => {
            let number = s
                .cache
                .get("card_number")
                .and_then(|f| f.value.as_text().map(str::to_string))
                .unwrap_or_default();
            match crate::profile::roles::ACTIVATION
                .iter()
                .find(|(k, r, _)| *k == crate::profile::Kind::City && *r == role)
            {
                Some((_, role, why)) => Err(ActivationError::Refused(format!(
                    "the old card {number} (profile {}) has no {role} record: {why}. It \
                     follows a layout older than the transfer protocol; the bureau must \
                     update the card (or the profile must name the record)",
                    profile.name
                ))),
                None => Err(CardError::invalid(field.label.clone(), "record missing").into()),
            }
        }
    }
}

/// Which generation an SSC is, as far as a flow needs it: when the SELECT's FCI
/// gives the key algorithm and every generation of the profile with that algorithm
/// agrees on what the flow takes from the generation (the holder file's read key;
/// the name's records, which need the one generation), the spec version record is
/// not read.
enum Generation {
    /// Settled without a read: the one generation with the FCI's algorithm, or `None`
    /// when several agree on everything asked.
    Implied(Option<String>, Option<crate::profile::KeySpec>),
    /// The spec version record must be read.
    Read,
}

fn implied_generation(
    profile: &Profile,
    fci_alg: Option<Algorithm>,
    holder_file: &str,
    holder: bool,
    name: bool,
) -> Generation {
    let Some(alg) = fci_alg else {
        return Generation::Read;
    };
    let candidates: Vec<&str> = profile
        .generations
        .iter()
        .filter(|g| g.alg == Some(alg.id()))
        .map(|g| g.version.as_str())
        .collect();
    let Some(first) = candidates.first() else {
        return Generation::Read;
    };
    let key = |g: &str| {
        profile
            .read_key(holder_file, Some(g))
            .map(|k| k.role.clone())
    };
    // The name's records depend on the generation: it must be known exactly.
    if name && candidates.len() > 1 {
        return Generation::Read;
    }
    if holder && candidates[1..].iter().any(|g| key(g) != key(first)) {
        return Generation::Read;
    }
    let read_key = if holder {
        profile.read_key(holder_file, Some(first)).cloned()
    } else {
        None
    };
    let unique = (candidates.len() == 1).then(|| first.to_string());
    Generation::Implied(unique, read_key)
}

/// Opens the new card: its identity (identifier, card number, expiry; the spec
/// version only when the FCI's algorithm does not settle what the flow needs from
/// it), the holder file (behind a key on 3.00 cards), INTERNAL AUTHENTICATE while
/// SSSE is current, then the medical area: the fewest SELECTs for what every flow
/// reads. Of the records that not every flow needs (expiry, citizen ID, name,
/// account, category), only those in `roles` (what the core asked for) are read.
fn open_new<'p>(
    cx: &mut Context,
    opened: Opened<'p>,
    roles: &[Role],
) -> Result<Card<'p>, ActivationError> {
    let Opened {
        profile,
        ch,
        selection,
        ..
    } = opened;
    gap(profile, |r| profile.field(r).is_ok(), "new card's profile")?;
    let nav = match &selection {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut s = Session::with_nav(ch, profile, nav);
    let mut f = CardFields::default();
    let wanted = |r: &str| roles.iter().any(|x| x.name() == r);
    let card_df = profile.file_of("card_id")?.df.clone();
    let fci_alg = match s.nav.fci(&card_df) {
        Some(fci) => alg_from_fci(profile.df(&card_df)?, fci)?,
        None => None,
    };
    let holder_file = profile.file_of("citizen_id")?.id.clone();
    let holder = wanted("citizen_id") || wanted("name");
    let gen_role = profile.generation_role.clone();
    let implied = match &gen_role {
        Some(_) => implied_generation(profile, fci_alg, &holder_file, holder, wanted("name")),
        None => Generation::Implied(None, None),
    };
    let (generation, read_key) = match (implied, &gen_role) {
        (Generation::Implied(g, k), _) => (g, k),
        (Generation::Read, Some(role)) => {
            f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
            let g = f.text(role)?;
            let k = profile.read_key(&holder_file, Some(&g)).cloned();
            (Some(g), k)
        }
        (Generation::Read, None) => (None, None),
    };
    for role in ["card_id", "card_number", "expiry_date"] {
        // The expiry only when asked for (a re-inserted N proves itself by number
        // and INTERNAL AUTHENTICATE; its expiry was checked at step 1).
        if role == "expiry_date" && !wanted(role) {
            continue;
        }
        f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
    }
    let gen = generation.as_deref();
    s.alg = fci_alg
        .or_else(|| {
            gen.and_then(|g| profile.generation(g))
                .and_then(|g| g.alg)
                .or(profile.alg)
                .and_then(Algorithm::from_id)
        })
        .ok_or_else(|| CardError::invalid("new card", "no key algorithm (FCI or generation)"))?;
    s.diversifier = diversifier_of(profile, &f)?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid("new card", "no key family in the profile"))?;
    if let Some(key) = read_key.filter(|_| holder) {
        s.enter(&key.df)?;
        auth::external_authenticate(
            &mut s.ch,
            key_app,
            key.id,
            s.alg,
            &s.diversifier,
            cx.sam,
            "opening the holder data",
        )?;
    }
    for role in ["citizen_id", "name", "name_ext"] {
        let asked = wanted(if role == "name_ext" { "name" } else { role });
        let present = asked
            && profile
                .field(role)
                .map(|fl| fl.in_generation(gen))
                .unwrap_or(false);
        if present {
            f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
        }
    }
    let genuine = internal_auth(cx, &mut s)?;
    for role in [
        "account",
        "category",
        "status",
        "balance",
        "transfer_id",
        "transfer_floor",
    ] {
        let optional = matches!(role, "account" | "category");
        if optional && !wanted(role) {
            continue;
        }
        f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
    }
    if f.get("transfer_floor").is_none() {
        let number = f.text("card_number").unwrap_or_default();
        return Err(ActivationError::Refused(format!(
            "the new card {number} (profile {}) has no transfer_floor record: {}. It follows a \
             layout older than the transfer protocol; the bureau must update the card",
            profile.name,
            crate::profile::roles::ACTIVATION
                .iter()
                .find(|(_, r, _)| *r == "transfer_floor")
                .map_or("", |(_, _, w)| *w)
        )));
    }
    s.cache = f;
    Ok(Card {
        session: s,
        generation,
        genuine: Some(genuine),
    })
}

fn internal_auth(cx: &mut Context, s: &mut Session) -> Result<bool, ActivationError> {
    let profile = s.profile;
    let key = profile.key("internal_auth")?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid("new card", "no key family in the profile"))?;
    s.enter(&key.df)?;
    Ok(auth::internal_authenticate(
        &mut s.ch,
        key_app,
        key.id,
        s.alg,
        &s.diversifier,
        cx.sam,
    )?)
}

/// A role's value: from what the open read (first read of a session), else from the
/// card.
fn read_value(
    cx: &mut Context,
    card: &mut Card,
    role: Role,
) -> Result<FieldValue, ActivationError> {
    let _ = cx;
    let s = &mut card.session;
    let profile = s.profile;
    if role == Role::Ssc(SscRole::LastLog) {
        let rec = s.read_record("medical_log", 1)?;
        let head = match rec {
            Some(bytes) => LogRecord::decode(&bytes)
                .map_err(|e| CardError::invalid("medical log record 1", e))?
                .map(|r| LogHead {
                    kind: r.kind,
                    prefix: r.transfer_prefix,
                }),
            None => None,
        };
        return Ok(FieldValue::LastLog(head));
    }
    if role == Role::Ssc(SscRole::Name) {
        let base = take_cached(s, "name")?;
        let ext = if profile
            .field("name_ext")
            .map(|f| f.in_generation(card.generation.as_deref()))
            .unwrap_or(false)
        {
            take_cached(s, "name_ext")?
        } else {
            Value::Text(String::new())
        };
        let t = |v: Value| v.as_text().map(str::to_string).unwrap_or_default();
        return Ok(FieldValue::Text(format!("{}{}", t(base), t(ext))));
    }
    let v = match role {
        Role::City(_) => match s.cache.take(role.name()) {
            Some(v) => v,
            None => read_old_role(s, role.name())?,
        },
        Role::Ssc(_) => take_cached(s, role.name())?,
    };
    from_profile_value(profile, role, v)
}

/// The cached value of `role` from the open (each used once: a later read of the same
/// role goes to the card, e.g. a read-back), else a READ RECORD.
fn take_cached(s: &mut Session, role: &str) -> Result<Value, ActivationError> {
    if let Some(f) = s.cache.take(role) {
        return Ok(f);
    }
    s.read(role)
}

fn from_profile_value(
    profile: &Profile,
    role: Role,
    v: Value,
) -> Result<FieldValue, ActivationError> {
    let bad = || {
        ActivationError::Card(CardError::invalid(
            format!("field '{}'", role.name()),
            "the profile gives it an encoding the flow cannot use",
        ))
    };
    let code_name = |code: u8| {
        profile
            .field("status")
            .ok()
            .and_then(|f| f.code_name(code))
            .unwrap_or("")
            .to_string()
    };
    Ok(match (role, v) {
        (Role::City(CityRole::Status), Value::Code(c)) => {
            FieldValue::CityStatus(CityStatus::from_name(&code_name(c), c))
        }
        (Role::Ssc(SscRole::Status), Value::Code(c)) => {
            FieldValue::SscStatus(SscStatus::from_name(&code_name(c), c))
        }
        (Role::City(CityRole::TransferId) | Role::Ssc(SscRole::TransferId), Value::Bytes(b)) => {
            let raw: [u8; 16] = b.as_slice().try_into().map_err(|_| bad())?;
            FieldValue::TransferId(crate::card::TransferId::from_card(raw).map(|t| TransferId(t.0)))
        }
        (Role::Ssc(SscRole::TransferFloor), Value::Bytes(b)) => {
            FieldValue::Floor(crate::card::Floor::decode(&b)?.map(|f| core::Floor {
                old_card: f.old_card,
                counter: f.counter,
            }))
        }
        (_, Value::Text(t)) => FieldValue::Text(t),
        (_, Value::Digits(t)) => FieldValue::Digits(t),
        (_, Value::Number(n)) => FieldValue::Number(n),
        (_, Value::Date(d)) => FieldValue::Date(d),
        (_, Value::Code(c)) => FieldValue::Code(c),
        (_, Value::Bytes(_)) => return Err(bad()),
    })
}

fn to_profile_value(
    profile: &Profile,
    role: Role,
    v: &FieldValue,
) -> Result<Value, ActivationError> {
    let code = |name: &str| -> Result<Value, ActivationError> {
        Ok(Value::Code(
            profile
                .field("status")?
                .code(name)
                .map_err(|e| CardError::field(profile.name.clone(), e))?,
        ))
    };
    Ok(match v {
        FieldValue::Text(t) => Value::Text(t.clone()),
        FieldValue::Digits(t) => Value::Digits(t.clone()),
        FieldValue::Number(n) => Value::Number(*n),
        FieldValue::Date(d) => Value::Date(*d),
        FieldValue::Code(c) => Value::Code(*c),
        FieldValue::CityStatus(s) => code(s.name())?,
        FieldValue::SscStatus(s) => code(s.name())?,
        FieldValue::TransferId(t) => Value::Bytes(t.map_or(vec![0; 16], |t| t.0.to_vec())),
        FieldValue::Floor(f) => Value::Bytes(match f {
            None => vec![0; crate::card::transfer::FLOOR_LEN],
            Some(f) => crate::card::Floor {
                old_card: f.old_card.clone(),
                counter: f.counter,
            }
            .encode()?
            .to_vec(),
        }),
        FieldValue::LastLog(_) => {
            return Err(ActivationError::Inconsistent(format!(
                "{} is not written as a field",
                role.name()
            )))
        }
    })
}

fn verify_pin(
    cx: &mut Context,
    run: &mut Run,
    which: Which,
    prompt: Prompt,
    spend_last_try: bool,
) -> Result<Input, ActivationError> {
    let card = slot(run, which)?;
    let left = card.session.pin_tries_left()?;
    match left {
        Some(0) => return Ok(Input::Pin(PinOutcome::Blocked)),
        Some(1) if !spend_last_try => return Ok(Input::Pin(PinOutcome::LastTryWithheld)),
        _ => {}
    }
    let prompt = match (prompt, left) {
        (Prompt::OldPin { tries_left: None }, Some(n)) => Prompt::OldPin {
            tries_left: Some(n),
        },
        (p, _) => p,
    };
    let pin = match cx.desk.pin(Ask::Prompt(prompt), false) {
        Ok(p) => p,
        Err(_) => return Ok(Input::Pin(PinOutcome::NoInput)),
    };
    let card = slot(run, which)?;
    let outcome = match card.session.verify_pin(&pin)? {
        Status::Success => PinOutcome::Ok {
            initial: is_initial(&pin),
        },
        Status::TriesLeft(n) => PinOutcome::Wrong { left: n },
        Status::AuthBlocked => PinOutcome::Blocked,
        Status::ConditionsNotSatisfied => PinOutcome::CardRefuses,
        status => return Err(CardError::status("VERIFY", status).into()),
    };
    if let PinOutcome::Ok { .. } = outcome {
        match which {
            Which::Old => run.old_pin = Some(pin),
            Which::New => run.new_card_pin = Some(pin),
        }
    }
    Ok(Input::Pin(outcome))
}

/// The desk's recovery policy, in one place: what a desk may do after `e` stopped
/// a flow (spec/activation.md: the invariants hold after a fault at any APDU, and
/// resume applies a transfer at most once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// A card, reader or service fault, or a card that did not come: run `resume`
    /// (or the flow again where nothing was journaled).
    Resume,
    /// `resume` found the old card active: the run stopped before the freeze; start
    /// the pharmacy flow again.
    StartAgain,
    /// Only one PIN try is left: ask the operator before spending it.
    AskLastTry,
    /// Stop: a refusal, a safety stop, a wrong or blocked key (never retried: each try
    /// spends one of the card's five), a journal failure, another process at work.
    Stop,
}

/// The recovery for `e` (see [`Recovery`]).
pub fn recovery(e: &ActivationError) -> Recovery {
    use core::Refusal as R;
    match e {
        ActivationError::Refusal(R::NothingToResume) => Recovery::StartAgain,
        ActivationError::Refusal(R::PinLastTry) => Recovery::AskLastTry,
        ActivationError::Card(CardError::AuthRefused { .. }) => Recovery::Stop,
        _ if crate::ui::trouble::classify(e).is_some() => Recovery::Resume,
        _ => Recovery::Stop,
    }
}
