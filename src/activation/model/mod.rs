//! An exhaustive model checker of the activation protocol (issue 10, Build 4).
//!
//! Why: the invariants of spec/activation.md must hold under every interleaving of
//! desks, cards and faults, which no example-based test can cover. This explores the
//! *real* [`Core`] — the same code the desk driver runs —
//! against in-memory cards and journals:
//!
//! - cards at the record level: one old card, two genuine new cards of the same
//!   holder; every record update is atomic (spec/cards.md §1.3), so a torn write
//!   leaves the record with its old or its new value, and the flow stops;
//! - desks with one or two readers, each with its own journal; at any step the holder
//!   may take any card out of any reader, or put a card from the hand into a reader
//!   whose desk is waiting for one (a card put in earlier is the same: no other desk
//!   can reach it meanwhile); a card leaving its reader ends the session (the next
//!   operation on it fails), and a desk may time out waiting for a card;
//! - any desk may crash (its process is gone) and keep or lose its journal;
//! - idle desks start pharmacy, resume (from the old card or any unfinished entry),
//!   cancel (any unfinished entry, or the id the old card shows) and window.
//!
//! The search is a depth-first search with a set of 64-bit state fingerprints;
//! the path on the stack is the counterexample trace. Reduction: between two
//! durable steps (a card write, a journal write), a desk's reads, checks, questions
//! and lookups run in one transition — they touch only its own cards (in its readers,
//! so no other desk can reach them) and its own journal; a card moved away in between
//! makes the next durable step fail, as it would on a desk.
//!
//! Bounds ([`Config`]): flow starts per desk and in total, torn writes and crashes
//! in total; holder moves are unbounded. [`Config::small`] (the `cargo test` bound)
//! and [`Config::full`] (`cargo run --release --example model_check`) are documented
//! with their figures in BENCHMARKS.md. PINs are always right and keys always match
//! here (the `63Cx` rule is covered by the core's own tests): the model is about
//! where the money is.
//!
//! Checked in every state ([`Violation`]): the balance is spendable on at most one
//! card and never lost; a transfer is credited at most once and only to the card its
//! freeze bound (the N the freezing desk's journal names); a cancelled transfer is
//! never credited; the same transfer is never logged twice on a card (applying it
//! twice changes nothing); a new card at status `00` holds no balance unless tag 26
//! names a transfer.

// The checker is a verification harness built into the library so that the example
// (examples/model_check.rs) and the unit tests run the same code; an `expect` here
// states a model invariant (a running desk has a core, a fixed date is valid), and
// its panic, with the message, is the checker reporting its own bug.
#![allow(clippy::expect_used)]

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Instant;

use super::core::{
    Action, AuthOutcome, CardFault, CardOp, CityRole, CityStatus, Core, Date, End, Env, FieldValue,
    Fields, Floor, Flow, Input, JournalEntry, LogHead, Next, PinEntry, PinOutcome, Readers, Role,
    Rules, Session, SscRole, SscStatus, Start, TransferId, Which, WriteOp, LOG_TRANSFER_IN,
};

#[cfg(test)]
mod tests;

/// The balance on the old card, in fen.
pub const BALANCE: u32 = 123_456;
const OLD_NUMBER: &str = "6399000123";
const NEW_NUMBERS: [&str; 2] = ["X00000019", "X00000027"];
const CITIZEN: &str = "111111198101011110";
const LOG_KEEP: usize = 10;

/// What to explore.
#[derive(Clone, Debug)]
pub struct Config {
    /// The desks, by reader count.
    pub desks: Vec<Readers>,
    /// Flows each desk may start.
    pub starts_per_desk: u8,
    /// Flows all desks together may start.
    pub starts_total: u8,
    /// Torn card writes, in total.
    pub tears: u8,
    /// Desk crashes (process gone; journal kept or lost), in total.
    pub crashes: u8,
    /// Card moves by the holder, in total (`u8::MAX`: unbounded).
    pub moves: u8,
    /// Stop after this many states (a safety net for the test bound).
    pub max_states: u64,
    /// The rules the desks run (mutations only in tests).
    pub rules: Rules,
    /// Invariants not checked (to let a mutation run reach a later violation).
    pub skip: Vec<Violation>,
    /// Breadth first (shortest traces, more memory) instead of depth first.
    pub bfs: bool,
    /// The flows each desk may start (by desk; a desk not listed, or an empty
    /// list: every flow).
    pub flows: Vec<Vec<Kind>>,
}

/// A flow a desk may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `activate pharmacy`.
    Pharmacy,
    /// `activate resume` (from the old card, or any unfinished entry).
    Resume,
    /// `activate cancel ID` (any unfinished entry, or the id the old card shows).
    Cancel,
    /// `activate window`.
    Window,
}

impl Config {
    /// The bounds of the full run (`cargo run --release --example model_check`): a
    /// one-reader and a two-reader desk, 2 flow starts per desk and 3 in total, one
    /// torn write, no crash (crashes: `model_check full 2 1 1 3`, about 3× longer).
    pub fn full() -> Config {
        Config {
            desks: vec![Readers::One, Readers::Two],
            starts_per_desk: 2,
            starts_total: 3,
            tears: 1,
            crashes: 0,
            moves: u8::MAX,
            max_states: u64::MAX,
            rules: Rules::spec(),
            skip: Vec::new(),
            bfs: false,
            flows: Vec::new(),
        }
    }

    /// Smaller bounds for `cargo test`: two one-reader desks, 2 flow starts in total,
    /// one torn write, one crash.
    pub fn small() -> Config {
        Config {
            desks: vec![Readers::One, Readers::One],
            starts_per_desk: 2,
            starts_total: 2,
            tears: 1,
            crashes: 1,
            moves: u8::MAX,
            max_states: 50_000_000,
            rules: Rules::spec(),
            skip: Vec::new(),
            bfs: false,
            flows: Vec::new(),
        }
    }
}

/// An invariant of spec/activation.md that a state broke.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Violation {
    /// The balance is spendable on two cards.
    SpendableTwice,
    /// No card holds the balance spendable and no frozen old card carries X and N.
    Lost,
    /// A transfer was credited to a card its freeze did not bind.
    CreditedNotToN,
    /// A transfer was credited to two cards, or twice to one.
    CreditedTwice,
    /// A cancelled transfer was credited.
    CancelledCredited,
    /// A transfer was logged twice on one card.
    AppliedTwice,
    /// A new card at status `00` holds a balance and no transfer id.
    BalanceWithoutTransfer,
}

/// Where a card is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Loc {
    Hand,
    Slot(u8, u8),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct OldCard {
    status: CityStatus,
    transfer: Option<TransferId>,
    target: String,
    counter: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct NewCard {
    status: SscStatus,
    balance: u32,
    transfer: Option<TransferId>,
    floor: Option<Floor>,
    log: Vec<LogHead>,
}

/// A running flow: the core, shared between states until one of them steps it, with
/// its fingerprint cached (a core holds every input it received).
#[derive(Clone, Debug)]
struct Proc {
    core: Arc<Core>,
    fp: u64,
}

impl Proc {
    fn new(core: Core) -> Proc {
        let fp = hash_of(&core);
        Proc {
            core: Arc::new(core),
            fp,
        }
    }

    fn peek(&self) -> Next {
        self.core.peek()
    }

    fn step(&mut self, input: Option<Input>) -> Next {
        let c = Arc::make_mut(&mut self.core);
        let next = c.step(input);
        self.fp = hash_of(c);
        next
    }
}

impl PartialEq for Proc {
    fn eq(&self, other: &Proc) -> bool {
        self.fp == other.fp && (Arc::ptr_eq(&self.core, &other.core) || self.core == other.core)
    }
}

impl Eq for Proc {}

impl Hash for Proc {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.fp.hash(h);
    }
}

fn hash_of<T: Hash>(t: &T) -> u64 {
    let mut h = DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Desk {
    readers: Readers,
    journal: Arc<Vec<JournalEntry>>,
    core: Option<Proc>,
    /// The card each session (old, new) has open.
    session: [Option<u8>; 2],
    starts_left: u8,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Ghost {
    /// X → the card index its freeze bound (from the freezing desk's journal).
    bound: Vec<(TransferId, Option<u8>)>,
    /// (X, card) credited.
    credits: Vec<(TransferId, u8)>,
    /// Transfers whose old card went back to active.
    cancelled: Vec<TransferId>,
    /// A violation found during a transition.
    seen: Option<Violation>,
}

/// One state of the world.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct World {
    old: OldCard,
    news: [NewCard; 2],
    /// Card 0 = old, 1 and 2 = the new cards.
    loc: [Loc; 3],
    desks: Vec<Desk>,
    starts_left: u8,
    tears_left: u8,
    crashes_left: u8,
    moves_left: u8,
    ghost: Ghost,
}

/// A step of the search, for traces.
#[derive(Clone, Debug)]
enum Label {
    Move { card: u8, to: Loc, then: String },
    Start { desk: u8, start: String },
    Step { desk: u8, what: String },
    Crash { desk: u8, journal_lost: bool },
}

fn card_name(c: u8) -> &'static str {
    match c {
        0 => "old",
        1 => "new A",
        _ => "new B",
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Move { card, to, then } => {
                match to {
                    Loc::Hand => write!(f, "holder takes the {} card out", card_name(*card))?,
                    Loc::Slot(d, s) => write!(
                        f,
                        "holder puts the {} card into desk {d} reader {s}",
                        card_name(*card)
                    )?,
                }
                if then.is_empty() {
                    Ok(())
                } else {
                    write!(f, " → {then}")
                }
            }
            Label::Start { desk, start } => write!(f, "desk {desk}: start {start}"),
            Label::Step { desk, what } => write!(f, "desk {desk}: {what}"),
            Label::Crash { desk, journal_lost } => write!(
                f,
                "desk {desk}: crash ({})",
                if *journal_lost {
                    "journal lost"
                } else {
                    "journal kept"
                }
            ),
        }
    }
}

fn today() -> Date {
    Date::from_ymd_opt(2026, 6, 1).expect("valid date")
}

impl World {
    fn initial(cfg: &Config) -> World {
        let fresh = NewCard {
            status: SscStatus::NotActivated,
            balance: 0,
            transfer: None,
            floor: None,
            log: Vec::new(),
        };
        World {
            old: OldCard {
                status: CityStatus::Active,
                transfer: None,
                target: String::new(),
                counter: 0,
            },
            news: [fresh.clone(), fresh],
            loc: [Loc::Hand; 3],
            desks: cfg
                .desks
                .iter()
                .map(|r| Desk {
                    readers: *r,
                    journal: Arc::new(Vec::new()),
                    core: None,
                    session: [None; 2],
                    starts_left: cfg.starts_per_desk,
                })
                .collect(),
            starts_left: cfg.starts_total,
            tears_left: cfg.tears,
            crashes_left: cfg.crashes,
            moves_left: cfg.moves,
            ghost: Ghost::default(),
        }
    }

    fn slot_of(&self, desk: usize, which: Which) -> u8 {
        match (self.desks[desk].readers, which) {
            (Readers::One, _) => 0,
            (Readers::Two, Which::Old) => 0,
            (Readers::Two, Which::New) => 1,
        }
    }

    fn card_in(&self, desk: usize, slot: u8) -> Option<u8> {
        (0..3u8).find(|c| self.loc[*c as usize] == Loc::Slot(desk as u8, slot))
    }

    /// Moving card `c` ends every session on it.
    fn move_card(&mut self, c: u8, to: Loc) {
        self.loc[c as usize] = to;
        for d in &mut self.desks {
            for s in &mut d.session {
                if *s == Some(c) {
                    *s = None;
                }
            }
        }
    }

    fn session_card(&self, desk: usize, which: Which) -> Option<u8> {
        let c = self.desks[desk].session[which as usize]?;
        (self.loc[c as usize] == Loc::Slot(desk as u8, self.slot_of(desk, which))).then_some(c)
    }

    fn read(&self, card: u8, roles: &[Role]) -> Fields {
        let mut out = Vec::with_capacity(roles.len());
        for r in roles {
            let v = match (card, r) {
                (0, Role::City(cr)) => {
                    let o = &self.old;
                    match cr {
                        CityRole::CardNumber => FieldValue::Text(OLD_NUMBER.into()),
                        CityRole::CitizenId => FieldValue::Text(CITIZEN.into()),
                        CityRole::Name => FieldValue::Text("ZS".into()),
                        CityRole::Account => FieldValue::Text("6300001234".into()),
                        CityRole::Category => FieldValue::Code(1),
                        CityRole::Status => FieldValue::CityStatus(o.status),
                        CityRole::Balance => FieldValue::Number(BALANCE),
                        CityRole::TransferId => FieldValue::TransferId(o.transfer),
                        CityRole::TargetCard => FieldValue::Text(o.target.clone()),
                        CityRole::TransferCounter => FieldValue::Number(o.counter),
                    }
                }
                (c @ 1..=2, Role::Ssc(sr)) => {
                    let n = &self.news[c as usize - 1];
                    match sr {
                        SscRole::CardNumber => FieldValue::Text(NEW_NUMBERS[c as usize - 1].into()),
                        SscRole::ExpiryDate => {
                            FieldValue::Date(Some(Date::from_ymd_opt(2036, 6, 1).expect("date")))
                        }
                        SscRole::CitizenId => FieldValue::Text(CITIZEN.into()),
                        SscRole::Name => FieldValue::Text("ZS".into()),
                        SscRole::Account => FieldValue::Text(String::new()),
                        SscRole::Category => FieldValue::Code(0),
                        SscRole::Status => FieldValue::SscStatus(n.status),
                        SscRole::Balance => FieldValue::Number(n.balance),
                        SscRole::ActivationDate => FieldValue::Date(None),
                        SscRole::ActivationTerminal => FieldValue::Digits(String::new()),
                        SscRole::TransferId => FieldValue::TransferId(n.transfer),
                        SscRole::TransferFloor => FieldValue::Floor(n.floor.clone()),
                        SscRole::LastLog => FieldValue::LastLog(n.log.first().cloned()),
                    }
                }
                _ => continue,
            };
            out.push((*r, v));
        }
        Fields(out)
    }

    fn kind_fits(card: u8, which: Which) -> bool {
        (card == 0) == (which == Which::Old)
    }

    /// Applies a card write to card `c` (desk `d` writing), updating the ghost.
    fn apply(&mut self, d: usize, c: u8, op: &WriteOp) {
        let credited = |w: &World, i: usize| {
            let n = &w.news[i];
            (n.status == SscStatus::Active)
                .then_some(n.transfer)
                .flatten()
        };
        match (c, op) {
            (
                0,
                WriteOp::Field {
                    role: Role::City(r),
                    value,
                },
            ) => {
                let o = &mut self.old;
                match (r, value) {
                    (CityRole::Status, FieldValue::CityStatus(s)) => {
                        if *s == CityStatus::Active && o.status != CityStatus::Active {
                            if let Some(x) = o.transfer {
                                if !self.ghost.cancelled.contains(&x) {
                                    self.ghost.cancelled.push(x);
                                }
                            }
                        }
                        o.status = *s;
                    }
                    (CityRole::TransferId, FieldValue::TransferId(x)) => {
                        o.transfer = *x;
                        if let Some(x) = x {
                            let n = self.desks[d]
                                .journal
                                .iter()
                                .find(|e| e.id == *x)
                                .and_then(|e| e.data.new_card.clone());
                            let idx = n.and_then(|n| {
                                NEW_NUMBERS
                                    .iter()
                                    .position(|m| *m == n)
                                    .map(|i| i as u8 + 1)
                            });
                            self.ghost.bound.push((*x, idx));
                        }
                    }
                    (CityRole::TargetCard, FieldValue::Text(t)) => o.target = t.clone(),
                    (CityRole::TransferCounter, FieldValue::Number(n)) => o.counter = *n,
                    _ => {}
                }
            }
            (c @ 1..=2, op) => {
                let i = c as usize - 1;
                let before = credited(self, i);
                let n = &mut self.news[i];
                match op {
                    WriteOp::Field {
                        role: Role::Ssc(r),
                        value,
                    } => match (r, value) {
                        (SscRole::Status, FieldValue::SscStatus(s)) => n.status = *s,
                        (SscRole::Balance, FieldValue::Number(b)) => n.balance = *b,
                        (SscRole::TransferId, FieldValue::TransferId(x)) => n.transfer = *x,
                        (SscRole::TransferFloor, FieldValue::Floor(f)) => n.floor = f.clone(),
                        _ => {}
                    },
                    WriteOp::AppendLog(rec) => {
                        let head = LogHead {
                            kind: rec.kind,
                            prefix: rec.transfer.map(|t| t.prefix()).unwrap_or([0; 8]),
                        };
                        if rec.kind == LOG_TRANSFER_IN
                            && n.log.contains(&head)
                            && self.ghost.seen.is_none()
                        {
                            self.ghost.seen = Some(Violation::AppliedTwice);
                        }
                        n.log.insert(0, head);
                        n.log.truncate(LOG_KEEP);
                    }
                    _ => {}
                }
                let after = credited(self, i);
                if let (None, Some(x)) | (Some(_), Some(x)) = (before, after) {
                    if before != after {
                        self.credit_event(x, c);
                    }
                }
            }
            _ => {}
        }
    }

    fn credit_event(&mut self, x: TransferId, c: u8) {
        let g = &mut self.ghost;
        let v = if g.credits.iter().any(|(y, _)| *y == x) {
            Some(Violation::CreditedTwice)
        } else if g.cancelled.contains(&x) {
            Some(Violation::CancelledCredited)
        } else if g.bound.iter().find(|(y, _)| *y == x).map(|(_, n)| *n) != Some(Some(c)) {
            Some(Violation::CreditedNotToN)
        } else {
            None
        };
        g.credits.push((x, c));
        if g.seen.is_none() {
            g.seen = v;
        }
    }

    /// The invariants of the state (see the module docs).
    fn check(&self, skip: &[Violation]) -> Option<Violation> {
        let ok = |v: &Violation| !skip.contains(v);
        if let Some(v) = self.ghost.seen.filter(ok) {
            return Some(v);
        }
        let old_spendable = self.old.status == CityStatus::Active;
        let spendable = usize::from(old_spendable)
            + self
                .news
                .iter()
                .filter(|n| n.status == SscStatus::Active && n.balance > 0)
                .count();
        let frozen = self.old.status == CityStatus::Migrating
            && self.old.transfer.is_some()
            && !self.old.target.is_empty();
        let checks = [
            (Violation::SpendableTwice, spendable > 1),
            (Violation::Lost, spendable == 0 && !frozen),
            (
                Violation::CancelledCredited,
                self.news.iter().any(|n| {
                    n.status == SscStatus::Active
                        && n.transfer
                            .is_some_and(|x| self.ghost.cancelled.contains(&x))
                }),
            ),
            (
                Violation::BalanceWithoutTransfer,
                self.news.iter().any(|n| {
                    n.status == SscStatus::NotActivated && n.balance != 0 && n.transfer.is_none()
                }),
            ),
        ];
        checks
            .into_iter()
            .find(|(v, bad)| *bad && ok(v))
            .map(|(v, _)| v)
    }
}

fn env(desk: usize, readers: Readers, start_no: u8, rules: Rules) -> Env {
    let mut random = [0u8; 12];
    random[0] = desk as u8 + 1;
    random[1] = start_no;
    Env {
        terminal: format!("6399000000{:02}", desk + 1),
        today: today(),
        random,
        readers,
        interactive: true,
        force_last_try: false,
        rules,
    }
}

fn describe_start(s: &Start) -> String {
    match s {
        Start::Pharmacy => "pharmacy".into(),
        Start::Resume {
            entry,
            old_card_present,
        } => match entry {
            Some(e) => format!(
                "resume {:?} (journal {}){}",
                e.id,
                e.state.as_str(),
                if *old_card_present {
                    ", old card present"
                } else {
                    ""
                }
            ),
            None => "resume from the old card".into(),
        },
        Start::Cancel { id, entry } => format!(
            "cancel {id:?} ({})",
            entry
                .as_ref()
                .map_or("not in its journal", |e| e.state.as_str())
        ),
        Start::Window { .. } => "window".into(),
        Start::FirstUse { .. } => "first use".into(),
    }
}

/// Outcome of driving a desk one durable step.
enum Drive {
    /// Nothing can happen (waiting for a card).
    Blocked,
    /// These successor worlds, with what happened.
    Next(Vec<(World, String)>),
}

/// Answers the desk's non-durable actions inline until a durable one (or a block,
/// or the end). Returns the world and a description of the inline part.
fn settle(mut w: World, d: usize, log: &mut Vec<String>) -> World {
    loop {
        let Some(core) = w.desks[d].core.as_mut() else {
            return w;
        };
        let next = core.peek();
        let input = match next.action {
            Action::End(e) => {
                log.push(describe_end(&e));
                w.desks[d].core = None;
                w.desks[d].session = [None; 2];
                return w;
            }
            Action::LookupJournal(id) => {
                Input::Entry(w.desks[d].journal.iter().find(|e| e.id == id).cloned())
            }
            Action::AskPin(_) => Input::PinEntered(PinEntry::Entered {
                confirmed: true,
                initial: false,
            }),
            Action::AskLine(_) => Input::Line(Some(CITIZEN.into())),
            Action::Journal(_) => return w,
            Action::Card(CardOp::Write(_)) => return w,
            Action::Card(CardOp::Read {
                which,
                session,
                roles,
            }) => match session {
                Session::Fresh => {
                    let slot = w.slot_of(d, which);
                    match w.card_in(d, slot) {
                        Some(c) if World::kind_fits(c, which) => {
                            w.desks[d].session[which as usize] = Some(c);
                            log.push(format!("reads the {} card", card_name(c)));
                            Input::Read(w.read(c, roles))
                        }
                        _ => return w,
                    }
                }
                Session::Same => match w.session_card(d, which) {
                    Some(c) => Input::Read(w.read(c, roles)),
                    None => Input::Fault(CardFault::Removed),
                },
            },
            Action::Card(CardOp::CheckGenuine { which }) => match w.session_card(d, which) {
                Some(_) => Input::Genuine(true),
                None => Input::Fault(CardFault::Removed),
            },
            Action::Card(CardOp::Authenticate { which, .. }) => match w.session_card(d, which) {
                Some(_) => Input::Auth(AuthOutcome::Ok),
                None => Input::Fault(CardFault::Removed),
            },
            Action::Card(CardOp::VerifyPin { which, .. }) => match w.session_card(d, which) {
                Some(0) if w.old.status != CityStatus::Active => {
                    Input::Pin(PinOutcome::CardRefuses)
                }
                Some(_) => Input::Pin(PinOutcome::Ok { initial: false }),
                None => Input::Fault(CardFault::Removed),
            },
        };
        let core = w.desks[d].core.as_mut().expect("running");
        core.step(Some(input));
    }
}

fn describe_end(e: &End) -> String {
    match e {
        End::Done(r) => format!("done: {:?} {} fen to {}", r.id, r.amount_fen, r.new_card),
        End::Cancelled { id, .. } => format!("cancelled {id:?}"),
        End::Refused(r) => format!("refused: {r:?}"),
        End::Stopped(s) => format!("stopped: {s:?}"),
    }
}

/// The durable step a running desk is at: journal write, or a card write (done,
/// torn before, torn after).
fn drive(w: &World, d: usize) -> Drive {
    let next = w.desks[d].core.as_ref().expect("running").peek();
    match next.action {
        Action::Journal(jw) => {
            let mut w2 = w.clone();
            let desk = &mut w2.desks[d];
            let pos = desk.journal.iter().position(|e| e.id == jw.id());
            let ok = pos.is_none_or(|p| desk.journal[p].state.may_become(jw.state()));
            let what = format!("journal {:?} {}", jw.id(), jw.state().as_str());
            let input = if ok {
                let entry = JournalEntry {
                    id: jw.id(),
                    flow: jw.flow(),
                    state: jw.state(),
                    data: jw.data().clone(),
                };
                match pos {
                    Some(p) => Arc::make_mut(&mut desk.journal)[p] = entry,
                    None => {
                        let j = Arc::make_mut(&mut desk.journal);
                        j.push(entry);
                        j.sort_by_key(|e| e.id);
                    }
                }
                Input::Journaled(jw.announced())
            } else {
                Input::JournalFailed
            };
            w2.desks[d]
                .core
                .as_mut()
                .expect("running")
                .step(Some(input));
            let mut log = vec![what];
            let w2 = settle(w2, d, &mut log);
            Drive::Next(vec![(w2, log.join("; "))])
        }
        Action::Card(CardOp::Write(cw)) => {
            let which = cw.which();
            let Some(c) = w.session_card(d, which) else {
                let mut w2 = w.clone();
                w2.desks[d]
                    .core
                    .as_mut()
                    .expect("running")
                    .step(Some(Input::Fault(CardFault::Removed)));
                let mut log = vec!["write fails: card gone".to_string()];
                let w2 = settle(w2, d, &mut log);
                return Drive::Next(vec![(w2, log.join("; "))]);
            };
            let what = describe_write(c, cw.op());
            let mut out = Vec::new();
            // Done.
            let mut ok = w.clone();
            ok.apply(d, c, cw.op());
            ok.desks[d]
                .core
                .as_mut()
                .expect("running")
                .step(Some(Input::Written));
            let mut log = vec![what.clone()];
            let ok = settle(ok, d, &mut log);
            out.push((ok, log.join("; ")));
            if w.tears_left > 0 {
                for applied in [false, true] {
                    let mut t = w.clone();
                    t.tears_left -= 1;
                    if applied {
                        t.apply(d, c, cw.op());
                    }
                    // The card was pulled or lost power: every session on it ends.
                    let here = t.loc[c as usize];
                    t.move_card(c, here);
                    t.desks[d]
                        .core
                        .as_mut()
                        .expect("running")
                        .step(Some(Input::Fault(CardFault::Removed)));
                    let mut log = vec![format!(
                        "{what} TORN ({})",
                        if applied {
                            "record holds the new value"
                        } else {
                            "record keeps the old value"
                        }
                    )];
                    let t = settle(t, d, &mut log);
                    out.push((t, log.join("; ")));
                }
            }
            Drive::Next(out)
        }
        _ => {
            // A read waiting for a card: try settling (a card may have arrived).
            let mut log = Vec::new();
            let w2 = settle(w.clone(), d, &mut log);
            if w2 == *w {
                Drive::Blocked
            } else {
                Drive::Next(vec![(w2, log.join("; "))])
            }
        }
    }
}

fn describe_write(c: u8, op: &WriteOp) -> String {
    let what = match op {
        WriteOp::Field { role, value } => format!("{} = {}", role.name(), show_value(value)),
        WriteOp::AppendLog(r) => format!("append log {:02X} {:?}", r.kind, r.transfer),
        WriteOp::ReloadPin(_) => "RELOAD PIN".into(),
        WriteOp::ChangePin => "CHANGE PIN".into(),
    };
    format!("writes {} card: {what}", card_name(c))
}

fn show_value(v: &FieldValue) -> String {
    match v {
        FieldValue::TransferId(Some(x)) => format!("{x:?}"),
        FieldValue::TransferId(None) => "none".into(),
        FieldValue::Floor(Some(f)) => format!("floor({}, {})", f.old_card, f.counter),
        FieldValue::Floor(None) => "no floor".into(),
        FieldValue::CityStatus(s) => s.name().into(),
        FieldValue::SscStatus(s) => s.name().into(),
        FieldValue::Text(t) if t.is_empty() => "blank".into(),
        FieldValue::Text(t) | FieldValue::Digits(t) => t.clone(),
        FieldValue::Number(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn starts(w: &World, d: usize) -> Vec<Start> {
    let desk = &w.desks[d];
    let mut out = vec![Start::Pharmacy];
    let old_here = w.card_in(d, w.slot_of(d, Which::Old)) == Some(0);
    out.push(Start::Resume {
        entry: None,
        old_card_present: true,
    });
    let mut ids: Vec<TransferId> = Vec::new();
    for e in desk
        .journal
        .iter()
        .filter(|e| !e.state.is_final() && e.flow == Flow::Pharmacy)
    {
        // With the old card in its reader (left there, or put in before the start),
        // or without.
        for present in [true, false] {
            if present || !old_here {
                out.push(Start::Resume {
                    entry: Some(e.clone()),
                    old_card_present: present,
                });
            }
        }
        ids.push(e.id);
    }
    // The operator may also cancel the id the old card shows (`sscard info`).
    if let Some(x) = w.old.transfer {
        if !ids.contains(&x) {
            ids.push(x);
        }
    }
    for id in ids {
        out.push(Start::Cancel {
            id,
            entry: desk.journal.iter().find(|e| e.id == id).cloned(),
        });
    }
    out.push(Start::Window {
        citizen_id: Some(CITIZEN.into()),
        verify_pin: false,
    });
    out
}

fn allowed(cfg: &Config, d: usize, s: &Start) -> bool {
    let kind = match s {
        Start::Pharmacy => Kind::Pharmacy,
        Start::Resume { .. } => Kind::Resume,
        Start::Cancel { .. } => Kind::Cancel,
        Start::Window { .. } | Start::FirstUse { .. } => Kind::Window,
    };
    cfg.flows
        .get(d)
        .is_none_or(|k| k.is_empty() || k.contains(&kind))
}

fn successors(w: &World, cfg: &Config) -> Vec<(World, Label)> {
    let mut out = Vec::new();
    for d in 0..w.desks.len() {
        let desk = &w.desks[d];
        if desk.core.is_some() {
            match drive(w, d) {
                Drive::Next(v) => {
                    for (w2, what) in v {
                        out.push((
                            w2,
                            Label::Step {
                                desk: d as u8,
                                what,
                            },
                        ));
                    }
                }
                Drive::Blocked => {
                    // No card came in time: the flow stops where it is.
                    let mut w2 = w.clone();
                    w2.desks[d]
                        .core
                        .as_mut()
                        .expect("running")
                        .step(Some(Input::Fault(CardFault::Absent)));
                    let mut log = vec!["times out waiting for a card".to_string()];
                    let w2 = settle(w2, d, &mut log);
                    out.push((
                        w2,
                        Label::Step {
                            desk: d as u8,
                            what: log.join("; "),
                        },
                    ));
                }
            }
        } else if desk.starts_left > 0 && w.starts_left > 0 {
            for s in starts(w, d).into_iter().filter(|s| allowed(cfg, d, s)) {
                let mut w2 = w.clone();
                let desk = &mut w2.desks[d];
                let e = env(d, desk.readers, desk.starts_left, cfg.rules);
                desk.starts_left -= 1;
                w2.starts_left -= 1;
                let label = describe_start(&s);
                desk.core = Some(Proc::new(Core::new(e, s)));
                let mut log = Vec::new();
                let w2 = settle(w2, d, &mut log);
                let start = if log.is_empty() {
                    label
                } else {
                    format!("{label}: {}", log.join("; "))
                };
                out.push((
                    w2,
                    Label::Start {
                        desk: d as u8,
                        start,
                    },
                ));
            }
        }
        if w.crashes_left > 0 {
            let running = w.desks[d].core.is_some();
            for lose in [false, true] {
                if !running && !lose {
                    continue;
                }
                if lose && w.desks[d].journal.is_empty() {
                    continue;
                }
                let mut w2 = w.clone();
                w2.crashes_left -= 1;
                w2.desks[d].core = None;
                w2.desks[d].session = [None; 2];
                if lose {
                    w2.desks[d].journal = Arc::new(Vec::new());
                }
                out.push((
                    w2,
                    Label::Crash {
                        desk: d as u8,
                        journal_lost: lose,
                    },
                ));
            }
        }
    }
    if w.moves_left > 0 {
        // The holder takes a card out of a reader, or puts one from the hand into a
        // reader whose desk is waiting for a card. (A card put into a reader before a
        // desk asks is the same as one put in when it asks: nobody else can reach it
        // meanwhile; a flow that starts with the old card present is started that way.)
        let mut targets = Vec::new();
        for (d, desk) in w.desks.iter().enumerate() {
            let Some(core) = desk.core.as_ref() else {
                continue;
            };
            if let Action::Card(CardOp::Read {
                which,
                session: Session::Fresh,
                ..
            }) = core.peek().action
            {
                let slot = w.slot_of(d, which);
                if w.card_in(d, slot).is_none() {
                    targets.push((Loc::Slot(d as u8, slot), which));
                }
            }
        }
        for c in 0..3u8 {
            let here = w.loc[c as usize];
            let mut moves = Vec::new();
            if here != Loc::Hand {
                moves.push(Loc::Hand);
            } else {
                for (to, which) in &targets {
                    if World::kind_fits(c, *which) {
                        moves.push(*to);
                    }
                }
            }
            for to in moves {
                let mut w2 = w.clone();
                w2.move_card(c, to);
                if w2.moves_left != u8::MAX {
                    w2.moves_left -= 1;
                }
                // A desk waiting for a card takes it at once.
                let mut log = Vec::new();
                for d in 0..w2.desks.len() {
                    if w2.desks[d].core.is_some() {
                        let mut l = Vec::new();
                        w2 = settle(w2, d, &mut l);
                        if !l.is_empty() {
                            log.push(format!("desk {d}: {}", l.join("; ")));
                        }
                    }
                }
                let label = Label::Move {
                    card: c,
                    to,
                    then: log.join(" | "),
                };
                out.push((w2, label));
            }
        }
    }
    out
}

fn fingerprint(w: &World) -> u64 {
    hash_of(w)
}

/// The result of a search.
#[derive(Clone, Debug)]
pub struct Report {
    /// Distinct states explored.
    pub states: u64,
    /// Transitions followed.
    pub transitions: u64,
    /// The deepest path.
    pub max_depth: usize,
    /// Seconds.
    pub seconds: f64,
    /// Whether `max_states` cut the search short.
    pub truncated: bool,
    /// The first violation found, with its trace (steps from the initial state)
    /// and the cards at the end.
    pub violation: Option<(Violation, Vec<String>, String)>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "states explored: {}  transitions: {}  max depth: {}  seconds: {:.1}{}",
            self.states,
            self.transitions,
            self.max_depth,
            self.seconds,
            if self.truncated {
                "  (TRUNCATED at max_states)"
            } else {
                ""
            }
        )?;
        match &self.violation {
            None => writeln!(f, "no invariant violated"),
            Some((v, trace, cards)) => {
                writeln!(f, "VIOLATION: {v:?}; trace ({} steps):", trace.len())?;
                for (i, s) in trace.iter().enumerate() {
                    writeln!(f, "  {:>3}. {s}", i + 1)?;
                }
                writeln!(f, "cards: {cards}")
            }
        }
    }
}

fn cards_summary(w: &World) -> String {
    let n = |i: usize| {
        let c = &w.news[i];
        format!(
            "{}: status {} balance {} tag26 {:?} floor {:?}",
            NEW_NUMBERS[i],
            c.status.name(),
            c.balance,
            c.transfer,
            c.floor.as_ref().map(|f| f.counter)
        )
    };
    format!(
        "old {}: status {} balance {} tag26 {:?} tag27 '{}' tag28 {}; {}; {}",
        OLD_NUMBER,
        w.old.status.name(),
        BALANCE,
        w.old.transfer,
        w.old.target,
        w.old.counter,
        n(0),
        n(1)
    )
}

/// Explores every state reachable within `cfg`'s bounds and stops at the first
/// violated invariant: depth first ([`Config::bfs`] false: little memory, any
/// trace) or breadth first (the shortest trace).
pub fn check(cfg: &Config) -> Report {
    if cfg.bfs {
        bfs(cfg)
    } else {
        dfs(cfg)
    }
}

fn dfs(cfg: &Config) -> Report {
    let t0 = Instant::now();
    let init = World::initial(cfg);
    let mut seen: HashSet<u64> = HashSet::new();
    seen.insert(fingerprint(&init));
    // The stack: successors left to visit, and the label that led to the frame.
    type Frame = (std::vec::IntoIter<(World, Label)>, Option<Label>);
    let mut stack: Vec<Frame> = vec![(successors(&init, cfg).into_iter(), None)];
    let (mut states, mut transitions, mut max_depth) = (1u64, 0u64, 0usize);
    let mut truncated = false;
    let mut violation = None;
    while let Some(top) = stack.last_mut() {
        let Some((w, label)) = top.0.next() else {
            stack.pop();
            continue;
        };
        transitions += 1;
        if !seen.insert(fingerprint(&w)) {
            continue;
        }
        states += 1;
        if let Some(v) = w.check(&cfg.skip) {
            let mut trace: Vec<String> = stack
                .iter()
                .filter_map(|f| f.1.as_ref().map(|l| l.to_string()))
                .collect();
            trace.push(label.to_string());
            violation = Some((v, trace, cards_summary(&w)));
            break;
        }
        if states >= cfg.max_states {
            truncated = true;
            break;
        }
        stack.push((successors(&w, cfg).into_iter(), Some(label)));
        max_depth = max_depth.max(stack.len() - 1);
    }
    Report {
        states,
        transitions,
        max_depth,
        seconds: t0.elapsed().as_secs_f64(),
        truncated,
        violation,
    }
}

fn bfs(cfg: &Config) -> Report {
    use std::collections::{HashMap, VecDeque};
    let t0 = Instant::now();
    let init = World::initial(cfg);
    let root = fingerprint(&init);
    // fingerprint → (parent, index of the successor that led here)
    let mut parent: HashMap<u64, (u64, u32)> = HashMap::new();
    parent.insert(root, (root, u32::MAX));
    let mut queue = VecDeque::from([(init, 0usize)]);
    let (mut states, mut transitions, mut max_depth) = (1u64, 0u64, 0usize);
    let mut truncated = false;
    let mut violation = None;
    'search: while let Some((w, depth)) = queue.pop_front() {
        let fp = fingerprint(&w);
        for (i, (w2, _)) in successors(&w, cfg).into_iter().enumerate() {
            transitions += 1;
            let fp2 = fingerprint(&w2);
            if parent.contains_key(&fp2) {
                continue;
            }
            parent.insert(fp2, (fp, i as u32));
            states += 1;
            max_depth = max_depth.max(depth + 1);
            if let Some(v) = w2.check(&cfg.skip) {
                // Walk back to the root, then replay forward for the labels.
                let mut path = Vec::new();
                let mut at = fp2;
                while at != root {
                    let (p, i) = parent[&at];
                    path.push(i);
                    at = p;
                }
                path.reverse();
                let mut cur = World::initial(cfg);
                let mut trace = Vec::new();
                for i in path {
                    let (next, label) = successors(&cur, cfg)
                        .into_iter()
                        .nth(i as usize)
                        .expect("successors are deterministic");
                    trace.push(label.to_string());
                    cur = next;
                }
                violation = Some((v, trace, cards_summary(&w2)));
                break 'search;
            }
            if states >= cfg.max_states {
                truncated = true;
                break 'search;
            }
            queue.push_back((w2, depth + 1));
        }
    }
    Report {
        states,
        transitions,
        max_depth,
        seconds: t0.elapsed().as_secs_f64(),
        truncated,
        violation,
    }
}
