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
use super::error::{ActivationError, DeskRefusal, Internal, LayoutRecord, OldLayout};
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

mod card_ops;
mod open;
mod values;

use card_ops::*;
use open::*;
use values::*;

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
pub fn run(cx: &mut Context<'_>, start: Start) -> Result<Outcome, ActivationError> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random)
        .map_err(|e| ActivationError::Inconsistent(Internal::NoRandom(e.to_string())))?;
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
            Action::End(end) => return finish(cx, &mut run, end),
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
        flow: e.flow,
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

fn finish(cx: &mut Context<'_>, run: &mut Run<'_>, end: End) -> Result<Outcome, ActivationError> {
    match end {
        End::Done(r) => {
            cx.desk.show(&Msg::Step(Step::Done));
            Ok(Outcome::Done(Receipt {
                schema_version: super::receipt::SCHEMA_VERSION,
                // The core's: a resume finishes a pharmacy, window or first-use entry.
                flow: r.flow.as_str().to_string(),
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
fn show(cx: &mut Context<'_>, m: &core::Msg) {
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

fn ask_pin(cx: &mut Context<'_>, run: &mut Run<'_>, prompt: Prompt) -> Input {
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

fn journal_write(cx: &mut Context<'_>, run: &mut Run<'_>, w: JournalWrite) -> Input {
    let id = w.id().hex();
    let d = w.data();
    let result = (|| -> Result<(), JournalError> {
        match cx.journal.get(&id)? {
            None => {
                let entry = Entry {
                    id: id.clone(),
                    flow: w.flow(),
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
                    counter: (w.flow() == Flow::Pharmacy).then(|| w.id().counter()),
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
