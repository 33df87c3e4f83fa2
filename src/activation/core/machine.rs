//! The state machine: [`Core`] takes what the driver did and returns what to do next.
//!
//! Why a replayed flow: the flows are written as straight-line code over an [`Io`]
//! that either returns the input already received for an action or suspends with that
//! action. The core's whole state is the flow it runs, its [`Env`] and the inputs it
//! received, so [`Core::step`] replays them through the flow and stops at the first
//! action without an answer. The code reads in the order of spec/activation.md, is
//! deterministic by construction (no I/O, no clock, no randomness: dates and random
//! bytes are in [`Env`]), and a `Core` clones, compares and hashes as plain data,
//! which is what the model checker needs. A flow has at most a few dozen actions,
//! so replaying is cheap next to one APDU.

use super::msg::{CardFault, Msg, Note, Prompt, Purpose, Receipt, Refusal, Step, Stop};
use super::proof::{Announced, CardWrite, JournalWrite, LogAppend, PinSource, WriteOp};
use super::types::{
    CityRole, CityStatus, Date, FieldValue, Fields, Floor, Flow, JournalEntry, JournalState,
    KeyRole, LogHead, Readers, Role, SscRole, SscStatus, TransferData, TransferId, Which,
    LOG_ACTIVATION, LOG_TRANSFER_IN, LOG_VOID,
};

/// Old rules the model checker re-enables one at a time to prove it can find what
/// they broke (issue 10). Only test code can set one ([`Rules::spec`] is the only
/// public constructor), so the product always runs the spec's rules.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rules {
    #[cfg(test)]
    pub(crate) mutation: Option<Mutation>,
}

/// The old rules (see [`Rules`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) enum Mutation {
    /// Cancel with the old card alone while the journal shows no credit.
    CancelWithOldCardAlone,
    /// The freeze binds no new card (tag 27 not written; N taken from the card presented).
    FreezeBindsNothing,
    /// The cancel writes no floor.
    CancelWritesNoFloor,
    /// The credit writes the transfer id last, and window ignores the balance.
    CreditIdLastWindowIgnoresBalance,
}

impl Rules {
    /// The rules of spec/activation.md.
    pub fn spec() -> Rules {
        Rules::default()
    }

    #[inline]
    fn broken(&self, m: Mutation) -> bool {
        #[cfg(test)]
        {
            self.mutation == Some(m)
        }
        #[cfg(not(test))]
        {
            let _ = m;
            false
        }
    }
}

/// What the desk gives a flow at its start. Dates and random bytes come in here:
/// the core reads no clock and draws no randomness.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Env {
    /// The terminal number (12 digits, the PSAM's).
    pub terminal: String,
    /// Today.
    pub today: Date,
    /// 12 random bytes for the transfer id.
    pub random: [u8; 12],
    /// How many readers the desk has.
    pub readers: Readers,
    /// Whether a person answers (a wrong PIN or a typo may be asked again).
    pub interactive: bool,
    /// Whether the operator allowed spending the old card's last PIN try.
    pub force_last_try: bool,
    /// The rules (always [`Rules::spec`] in the product).
    pub rules: Rules,
}

/// Which flow to run.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Start {
    /// The pharmacy flow from the start (new card checked first).
    Pharmacy,
    /// `activate resume`: from the old card when it is present (or no entry is
    /// given), else from the journal entry with N.
    Resume {
        /// The journal entry asked for (`resume ID`).
        entry: Option<JournalEntry>,
        /// Whether an old card is in its reader.
        old_card_present: bool,
    },
    /// `activate cancel ID`.
    Cancel {
        /// The transfer.
        id: TransferId,
        /// This journal's entry for it, if any.
        entry: Option<JournalEntry>,
    },
    /// Bureau window.
    Window {
        /// The citizen ID typed on the command line (asked for when `None`).
        citizen_id: Option<String>,
        /// Let the holder verify the card's PIN.
        verify_pin: bool,
    },
    /// Hospital first use.
    FirstUse {
        /// Let the holder verify the card's PIN.
        verify_pin: bool,
    },
}

/// Whether a card operation continues the card's current session or opens a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Session {
    /// Wait for a card of this kind (in its reader) and open a new session.
    Fresh,
    /// The card read last for this [`Which`], still in its reader; if it left or
    /// was reset since, answer [`CardFault::Removed`].
    Same,
}

/// A card operation by profile role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CardOp {
    /// Read these roles (answer [`Input::Read`]).
    Read {
        /// The card.
        which: Which,
        /// New or current session.
        session: Session,
        /// The roles.
        roles: &'static [Role],
    },
    /// INTERNAL AUTHENTICATE with a fresh random challenge (answer [`Input::Genuine`]).
    CheckGenuine {
        /// The card.
        which: Which,
    },
    /// EXTERNAL AUTHENTICATE with this key (answer [`Input::Auth`]); the driver
    /// selects the key's DF first.
    Authenticate {
        /// The card.
        which: Which,
        /// The key.
        key: KeyRole,
    },
    /// Ask the holder for the PIN (`prompt`) and VERIFY it (answer [`Input::Pin`]).
    /// Without `spend_last_try`, answer [`PinOutcome::LastTryWithheld`] instead of
    /// verifying when the card has one try left.
    VerifyPin {
        /// The card.
        which: Which,
        /// The prompt.
        prompt: Prompt,
        /// Whether the last try may be spent.
        spend_last_try: bool,
    },
    /// A write (answer [`Input::Written`]).
    Write(CardWrite),
}

/// The next thing the driver must do.
#[derive(Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A card operation.
    Card(CardOp),
    /// Make this journal write durable, then answer [`Input::Journaled`] with
    /// [`JournalWrite::announced`] (or [`Input::JournalFailed`]).
    Journal(JournalWrite),
    /// Look up this journal's entry (answer [`Input::Entry`]).
    LookupJournal(TransferId),
    /// Ask the holder for a PIN (typed twice) and keep it (answer [`Input::PinEntered`]).
    AskPin(Prompt),
    /// Ask the operator for a line (answer [`Input::Line`]).
    AskLine(Prompt),
    /// The flow ended.
    End(End),
}

/// How a flow ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum End {
    /// Completed (pharmacy, resume, window, first use).
    Done(Receipt),
    /// The cancel completed: the old card is active again.
    Cancelled {
        /// The transfer.
        id: TransferId,
        /// The old card.
        old_card: String,
        /// N (voided), when known.
        new_card: Option<String>,
    },
    /// Refused; nothing was written for the refused operation.
    Refused(Refusal),
    /// Stopped for safety.
    Stopped(Stop),
}

/// The answer of EXTERNAL AUTHENTICATE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AuthOutcome {
    /// `9000`.
    Ok,
    /// `63Cx`.
    WrongKey {
        /// Tries left.
        tries_left: u8,
    },
    /// `6983`.
    Blocked,
}

/// The answer of a PIN verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinOutcome {
    /// Verified; `initial` when the PIN is `123456`.
    Ok {
        /// The PIN is `123456`.
        initial: bool,
    },
    /// Wrong (`63Cx`).
    Wrong {
        /// Tries left.
        left: u8,
    },
    /// Blocked (`6983`).
    Blocked,
    /// One try left and not allowed to spend it: not verified.
    LastTryWithheld,
    /// The card refuses VERIFY (`6985`: frozen or migrated).
    CardRefuses,
    /// No PIN came (input closed).
    NoInput,
}

/// The answer to [`Action::AskPin`]. The PIN stays with the driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PinEntry {
    /// Entered twice.
    Entered {
        /// The two entries match.
        confirmed: bool,
        /// The PIN is `123456`.
        initial: bool,
    },
    /// No PIN came.
    NoInput,
}

/// What the driver did.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// Values by role.
    Read(Fields),
    /// INTERNAL AUTHENTICATE verified.
    Genuine(bool),
    /// EXTERNAL AUTHENTICATE answered.
    Auth(AuthOutcome),
    /// The PIN verification's outcome.
    Pin(PinOutcome),
    /// The write succeeded (`9000`).
    Written,
    /// The journal write is durable.
    Journaled(Announced),
    /// The journal write failed.
    JournalFailed,
    /// This journal's entry.
    Entry(Option<JournalEntry>),
    /// A PIN was entered.
    PinEntered(PinEntry),
    /// A typed line; `None` when input is closed.
    Line(Option<String>),
    /// The card operation failed.
    Fault(CardFault),
}

/// One step's output: messages to show, then the action.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Next {
    /// Messages, in order.
    pub show: Vec<Msg>,
    /// The action.
    pub action: Action,
}

/// One run of one flow (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Core {
    env: Env,
    start: Start,
    inputs: Vec<Input>,
    ended: bool,
}

impl Core {
    /// A flow about to start; call [`Core::step`] with `None` first.
    pub fn new(env: Env, start: Start) -> Core {
        Core {
            env,
            start,
            inputs: Vec::new(),
            ended: false,
        }
    }

    /// The flow.
    pub fn start(&self) -> &Start {
        &self.start
    }

    /// The environment.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// How many inputs the flow received.
    pub fn inputs(&self) -> usize {
        self.inputs.len()
    }

    /// Feeds the answer to the last action (`None` on the first call, and to repeat
    /// the last output) and returns what to do next. After [`Action::End`] every
    /// call returns the same end.
    pub fn step(&mut self, input: Option<Input>) -> Next {
        if let Some(i) = input {
            if !self.ended {
                self.inputs.push(i);
            }
        }
        let mut io = Io {
            env: &self.env,
            inputs: &self.inputs,
            pos: 0,
            show: Vec::new(),
            jseq: 0,
            last_proof: None,
            journal: None,
        };
        let exit = match run(&mut io, &self.start) {
            Ok(end) => Exit::End(end),
            Err(e) => *e,
        };
        let action = match exit {
            Exit::Suspend(a) => a,
            Exit::End(e) => {
                self.ended = true;
                Action::End(e)
            }
        };
        Next {
            show: io.show,
            action,
        }
    }

    /// The output of the last step again (what to do now), without feeding anything.
    pub fn peek(&self) -> Next {
        let mut io = Io {
            env: &self.env,
            inputs: &self.inputs,
            pos: 0,
            show: Vec::new(),
            jseq: 0,
            last_proof: None,
            journal: None,
        };
        let action = match run(&mut io, &self.start) {
            Ok(end) => Action::End(end),
            Err(e) => match *e {
                Exit::Suspend(a) => a,
                Exit::End(e) => Action::End(e),
            },
        };
        Next {
            show: io.show,
            action,
        }
    }

    /// Whether the flow ended.
    pub fn ended(&self) -> bool {
        self.ended
    }
}

enum Exit {
    Suspend(Action),
    End(End),
}

type R<T> = Result<T, Box<Exit>>;

fn refuse<T>(r: Refusal) -> R<T> {
    Err(Box::new(Exit::End(End::Refused(r))))
}

fn stop<T>(s: Stop) -> R<T> {
    Err(Box::new(Exit::End(End::Stopped(s))))
}

struct Io<'a> {
    env: &'a Env,
    inputs: &'a [Input],
    pos: usize,
    show: Vec<Msg>,
    jseq: u32,
    last_proof: Option<Announced>,
    journal: Option<(TransferId, JournalState)>,
}

impl<'a> Io<'a> {
    fn live(&self) -> bool {
        self.pos == self.inputs.len()
    }

    fn show(&mut self, m: Msg) {
        if self.live() {
            self.show.push(m);
        }
    }

    fn note(&mut self, n: Note) {
        self.show(Msg::Note(n));
    }

    fn step_msg(&mut self, s: Step) {
        self.show(Msg::Step(s));
    }

    fn input(&mut self, make: impl FnOnce() -> Action) -> R<&'a Input> {
        match self.inputs.get(self.pos) {
            Some(i) => {
                self.pos += 1;
                Ok(i)
            }
            None => Err(Box::new(Exit::Suspend(make()))),
        }
    }

    fn fault<T>(&self, which: Which, fault: CardFault) -> R<T> {
        stop(Stop::CardFault {
            which,
            fault,
            journal: self.journal,
        })
    }

    fn read(&mut self, which: Which, session: Session, roles: &'static [Role]) -> R<&'a Fields> {
        match self.input(|| {
            Action::Card(CardOp::Read {
                which,
                session,
                roles,
            })
        })? {
            Input::Read(f) => Ok(f),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn genuine(&mut self, which: Which) -> R<bool> {
        match self.input(|| Action::Card(CardOp::CheckGenuine { which }))? {
            Input::Genuine(g) => Ok(*g),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// EXTERNAL AUTHENTICATE: a wrong key stops at once, never retried.
    fn authenticate(&mut self, which: Which, key: KeyRole) -> R<()> {
        match self.input(|| Action::Card(CardOp::Authenticate { which, key }))? {
            Input::Auth(AuthOutcome::Ok) => Ok(()),
            Input::Auth(AuthOutcome::WrongKey { tries_left }) => stop(Stop::WrongKey {
                which,
                key,
                tries_left: *tries_left,
            }),
            Input::Auth(AuthOutcome::Blocked) => stop(Stop::KeyBlocked { which, key }),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn journal(
        &mut self,
        id: TransferId,
        flow: Flow,
        state: JournalState,
        data: &TransferData,
    ) -> R<Announced> {
        let seq = self.jseq;
        self.jseq += 1;
        let data = data.clone();
        match self.input(|| Action::Journal(JournalWrite::new(id, flow, state, data, seq)))? {
            Input::Journaled(p) if p.seq() == seq && p.id() == id && p.state() == state => {
                self.journal = Some((id, state));
                self.last_proof = Some(p.clone());
                Ok(p.clone())
            }
            Input::JournalFailed => stop(Stop::JournalFailed),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn lookup(&mut self, id: TransferId) -> R<Option<JournalEntry>> {
        match self.input(|| Action::LookupJournal(id))? {
            Input::Entry(e) if e.as_ref().is_none_or(|e| e.id == id) => Ok(e.clone()),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// A card write under `proof`, which must be the latest journal write's.
    fn write(&mut self, proof: &Announced, which: Which, op: WriteOp) -> R<()> {
        if self.last_proof.as_ref() != Some(proof) {
            return stop(Stop::Inconsistent { id: proof.id() });
        }
        let Some(w) = CardWrite::new(proof, which, op) else {
            return stop(Stop::Inconsistent { id: proof.id() });
        };
        match self.input(|| Action::Card(CardOp::Write(w)))? {
            Input::Written => Ok(()),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn set(&mut self, proof: &Announced, role: Role, value: FieldValue) -> R<()> {
        self.write(proof, role.card(), WriteOp::Field { role, value })
    }

    fn ask_pin(&mut self, prompt: Prompt) -> R<PinEntry> {
        match self.input(|| Action::AskPin(prompt))? {
            Input::PinEntered(p) => Ok(*p),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn ask_line(&mut self, prompt: Prompt) -> R<Option<String>> {
        match self.input(|| Action::AskLine(prompt))? {
            Input::Line(l) => Ok(l.clone()),
            _ => stop(Stop::DriverMisuse),
        }
    }

    fn verify_pin(&mut self, which: Which, prompt: Prompt, spend_last_try: bool) -> R<PinOutcome> {
        match self.input(|| {
            Action::Card(CardOp::VerifyPin {
                which,
                prompt,
                spend_last_try,
            })
        })? {
            Input::Pin(p) => Ok(*p),
            Input::Fault(f) => self.fault(which, *f),
            _ => stop(Stop::DriverMisuse),
        }
    }

    /// Tells the desk which card to insert (both reader layouts) and opens it.
    fn open(&mut self, which: Which, purpose: Purpose, roles: &'static [Role]) -> R<&'a Fields> {
        self.note(Note::Insert { which, purpose });
        self.read(which, Session::Fresh, roles)
    }
}

// ---------------------------------------------------------------------------
// Card data

const NEW_ROLES: &[Role] = &[
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
const NEW_LEAN: &[Role] = &[
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
const NEW_AGAIN: &[Role] = &[
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
const NEW_VOID: &[Role] = &[
    Role::Ssc(SscRole::CardNumber),
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// The read-back of a void: the record it wrote, the floor (and balance and X when
/// it cleared a torn credit: [`VOID_BACK_TORN`]). Tag 22 is not written by a void,
/// nor tag 26 when N did not hold X.
const VOID_BACK: &[Role] = &[Role::Ssc(SscRole::TransferFloor)];

/// The read-back of a void that cleared a torn credit.
const VOID_BACK_TORN: &[Role] = &[
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

/// The read-back of an unfreeze: the three records it wrote.
const UNFREEZE_BACK: &[Role] = &[
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card as resume reads it (all that recovery may continue from).
const OLD_ROLES: &[Role] = &[
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
const OLD_FREEZE: &[Role] = &[
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
const OLD_TRANSFER: &[Role] = &[
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card as a cancel first reads it: whose transfer (number, X), in which
/// state, bound to which N. The counter n is X's first four bytes.
const OLD_CANCEL: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
];

/// The old card re-inserted for the unfreeze: the same card, its state, X.
const OLD_UNFREEZE: &[Role] = &[
    Role::City(CityRole::CardNumber),
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
];

const OLD_BACK: &[Role] = &[
    Role::City(CityRole::Status),
    Role::City(CityRole::TransferId),
    Role::City(CityRole::TargetCard),
    Role::City(CityRole::TransferCounter),
];

/// The read-back of a credit: the three records that decide (status, balance, id).
const CREDIT_BACK: &[Role] = &[
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
];

/// The read-back of step 4 (the old card's status, the one record written).
const OLD_STATUS: &[Role] = &[Role::City(CityRole::Status)];

const NEW_BACK: &[Role] = &[
    Role::Ssc(SscRole::Status),
    Role::Ssc(SscRole::Balance),
    Role::Ssc(SscRole::TransferId),
    Role::Ssc(SscRole::TransferFloor),
];

fn missing<T>(role: Role) -> R<T> {
    stop(Stop::MissingField { role: role.name() })
}

fn text(f: &Fields, role: Role) -> R<String> {
    match f.get(role) {
        Some(FieldValue::Text(s)) | Some(FieldValue::Digits(s)) => Ok(s.clone()),
        _ => missing(role),
    }
}

fn number(f: &Fields, role: Role) -> R<u32> {
    match f.get(role) {
        Some(FieldValue::Number(n)) => Ok(*n),
        _ => missing(role),
    }
}

fn transfer(f: &Fields, role: Role) -> R<Option<TransferId>> {
    match f.get(role) {
        Some(FieldValue::TransferId(t)) => Ok(t.filter(|t| t.0 != [0; 16])),
        _ => missing(role),
    }
}

/// The old card as the core sees it. Number and status are read in every flow; the
/// other records only where a rule or the transfer needs them (`None`: not read).
#[derive(Clone, Debug)]
struct OldCard {
    number: String,
    status: CityStatus,
    citizen_id: Option<String>,
    name: Option<String>,
    account: Option<String>,
    category: Option<u8>,
    balance: Option<u32>,
    transfer: Option<Option<TransferId>>,
    target: Option<Option<String>>,
    counter: Option<u32>,
}

/// `Some(parse(f))` when `role` was read, `None` when not.
fn opt<T>(f: &Fields, role: Role, parse: impl FnOnce(&Fields, Role) -> R<T>) -> R<Option<T>> {
    match f.get(role) {
        None => Ok(None),
        Some(_) => parse(f, role).map(Some),
    }
}

fn code(f: &Fields, role: Role) -> R<u8> {
    match f.get(role) {
        Some(FieldValue::Code(x)) => Ok(*x),
        _ => missing(role),
    }
}

fn target(f: &Fields, role: Role) -> R<Option<String>> {
    Ok(Some(text(f, role)?).filter(|t| !t.trim().is_empty()))
}

impl OldCard {
    fn parse(f: &Fields) -> R<OldCard> {
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
    fn read_transfer(&mut self, io: &mut Io) -> R<()> {
        if self.transfer.is_none() || self.target.is_none() {
            let f = io.read(Which::Old, Session::Same, OLD_TRANSFER)?;
            self.transfer = Some(transfer(f, Role::City(CityRole::TransferId))?);
            self.target = Some(target(f, Role::City(CityRole::TargetCard))?);
        }
        Ok(())
    }

    fn transfer(&self) -> R<Option<TransferId>> {
        match self.transfer {
            Some(t) => Ok(t),
            None => missing(Role::City(CityRole::TransferId)),
        }
    }

    fn target(&self) -> R<Option<String>> {
        match &self.target {
            Some(t) => Ok(t.clone()),
            None => missing(Role::City(CityRole::TargetCard)),
        }
    }

    fn counter(&self) -> R<u32> {
        match self.counter {
            Some(n) => Ok(n),
            None => missing(Role::City(CityRole::TransferCounter)),
        }
    }

    /// What the transfer carries to N: every record of it must have been read.
    fn data(&self, new_card: Option<String>) -> R<TransferData> {
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
    fn record(&self, new_card: Option<String>) -> TransferData {
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
    fn holder(&self) -> Option<Note> {
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

fn city_status(f: &Fields) -> R<CityStatus> {
    match f.get(Role::City(CityRole::Status)) {
        Some(FieldValue::CityStatus(s)) => Ok(*s),
        _ => missing(Role::City(CityRole::Status)),
    }
}

fn ssc_status(f: &Fields) -> R<SscStatus> {
    match f.get(Role::Ssc(SscRole::Status)) {
        Some(FieldValue::SscStatus(s)) => Ok(*s),
        _ => missing(Role::Ssc(SscRole::Status)),
    }
}

fn floor(f: &Fields) -> R<Option<Floor>> {
    match f.get(Role::Ssc(SscRole::TransferFloor)) {
        Some(FieldValue::Floor(x)) => Ok(x.clone()),
        _ => missing(Role::Ssc(SscRole::TransferFloor)),
    }
}

/// The new card as the core sees it.
#[derive(Clone, Debug)]
struct NewCard {
    number: String,
    /// `None` when not read (a void, N re-inserted).
    expiry: Option<Date>,
    /// `None` when not read (a void).
    citizen_id: Option<String>,
    /// `None` when not read (pharmacy: the old card's is used).
    name: Option<String>,
    /// `None` when not read (a pharmacy's lean read, [`NEW_LEAN`]).
    account: Option<String>,
    /// `None` when not read.
    category: Option<u8>,
    status: SscStatus,
    balance: u32,
    transfer: Option<TransferId>,
    floor: Option<Floor>,
    /// `None` when not read; `Some(None)` for a log without records.
    last_log: Option<Option<LogHead>>,
    genuine: bool,
}

impl NewCard {
    fn parse(f: &Fields, genuine: bool) -> R<NewCard> {
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

    /// The holder, when name and citizen ID were read.
    fn holder(&self) -> Option<Note> {
        match (&self.name, &self.citizen_id) {
            (Some(name), Some(citizen_id)) => Some(Note::Holder {
                name: name.clone(),
                citizen_id: citizen_id.clone(),
                card: self.number.clone(),
            }),
            _ => None,
        }
    }

    fn citizen_id(&self) -> R<&str> {
        match &self.citizen_id {
            Some(c) => Ok(c),
            None => missing(Role::Ssc(SscRole::CitizenId)),
        }
    }

    fn expiry(&self) -> R<Date> {
        match self.expiry {
            Some(d) => Ok(d),
            None => missing(Role::Ssc(SscRole::ExpiryDate)),
        }
    }

    fn name(&self) -> R<String> {
        match &self.name {
            Some(n) => Ok(n.clone()),
            None => missing(Role::Ssc(SscRole::Name)),
        }
    }

    /// Whether the log head is a record of `kind` for `id` (the log head must have
    /// been read: [`NewCard::read_log`]).
    fn logged(&self, kind: u8, id: TransferId) -> R<bool> {
        match &self.last_log {
            Some(l) => Ok(l
                .as_ref()
                .is_some_and(|l| l.kind == kind && l.prefix == id.prefix())),
            None => missing(Role::Ssc(SscRole::LastLog)),
        }
    }

    /// Reads the log head from the card in its reader when the open did not.
    fn read_log(&mut self, io: &mut Io) -> R<()> {
        if self.last_log.is_none() {
            let f = io.read(Which::New, Session::Same, &[Role::Ssc(SscRole::LastLog)])?;
            match f.get(Role::Ssc(SscRole::LastLog)) {
                Some(FieldValue::LastLog(l)) => self.last_log = Some(l.clone()),
                _ => return missing(Role::Ssc(SscRole::LastLog)),
            }
        }
        Ok(())
    }

    fn account(&self) -> R<String> {
        match &self.account {
            Some(a) => Ok(a.clone()),
            None => missing(Role::Ssc(SscRole::Account)),
        }
    }

    fn category(&self) -> R<u8> {
        match self.category {
            Some(c) => Ok(c),
            None => missing(Role::Ssc(SscRole::Category)),
        }
    }
}

fn read_new(io: &mut Io, purpose: Purpose) -> R<NewCard> {
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
fn read_new_again(io: &mut Io, checked: NewCard) -> R<NewCard> {
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

fn read_old(io: &mut Io, purpose: Purpose, session: Session, roles: &'static [Role]) -> R<OldCard> {
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
fn check_identity(io: &Io, card: &NewCard) -> R<()> {
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
fn check_fresh(io: &Io, card: &NewCard, ignore_balance: bool) -> R<()> {
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

// ---------------------------------------------------------------------------
// Flows

fn run(io: &mut Io, start: &Start) -> R<End> {
    match start {
        Start::Pharmacy => pharmacy(io),
        Start::Resume {
            entry,
            old_card_present,
        } => resume(io, entry.as_ref(), *old_card_present),
        Start::Cancel { id, entry } => cancel(io, *id, entry.as_ref()),
        Start::Window {
            citizen_id,
            verify_pin,
        } => window(io, Flow::Window, citizen_id.as_deref(), *verify_pin),
        Start::FirstUse { verify_pin } => window(io, Flow::FirstUse, None, *verify_pin),
    }
}

/// A transfer being credited: X, what moves, N.
struct Transfer {
    id: TransferId,
    data: TransferData,
    n: String,
}

/// How the new card gets its PIN.
#[derive(Clone, Copy)]
enum PinPlan {
    /// Already settled in this run.
    Settled(PinSource),
    /// Ask the holder (typed twice) if the PIN is to be set in this run.
    Ask,
}

fn pharmacy(io: &mut Io) -> R<End> {
    // Step 1: the new card, checked; nothing written.
    let new = read_new(io, Purpose::Check)?;
    check_fresh(io, &new, false)?;
    io.step_msg(Step::ProveKey);
    io.authenticate(Which::New, KeyRole::Write)?;
    // Step 2: the old card, frozen, bound to N.
    let mut old = read_old(io, Purpose::Freeze, Session::Fresh, OLD_FREEZE)?;
    if matches!(old.status, CityStatus::Migrating | CityStatus::Migrated) {
        old.read_transfer(io)?;
    }
    // A floor may only name this old card (known from here on).
    if let Some(f) = &new.floor {
        if f.old_card != old.number {
            return refuse(Refusal::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            });
        }
    }
    match old.status {
        CityStatus::Active => {}
        CityStatus::Migrating => return continue_from_old(io, old, Some(new)),
        CityStatus::Migrated => return refuse(Refusal::OldMigrated { to: old.target()? }),
        CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
    }
    let data = old.data(Some(new.number.clone()))?;
    if data.citizen_id != new.citizen_id()? {
        return refuse(Refusal::OtherPerson);
    }
    let pin = verify_old_pin(io)?;
    let Some(n1) = old.counter()?.checked_add(1) else {
        return stop(Stop::CounterExhausted);
    };
    let x = TransferId::new(n1, io.env.random);
    let t = Transfer {
        id: x,
        data,
        n: new.number.clone(),
    };
    let proof = io.journal(x, Flow::Pharmacy, JournalState::Freezing, &t.data)?;
    io.step_msg(Step::Freeze);
    io.authenticate(Which::Old, KeyRole::Write)?;
    // The counter first (raising it alone is harmless), N, X, the status last.
    io.set(
        &proof,
        Role::City(CityRole::TransferCounter),
        FieldValue::Number(n1),
    )?;
    if !io.env.rules.broken(Mutation::FreezeBindsNothing) {
        io.set(
            &proof,
            Role::City(CityRole::TargetCard),
            FieldValue::Text(t.n.clone()),
        )?;
    }
    io.set(
        &proof,
        Role::City(CityRole::TransferId),
        FieldValue::TransferId(Some(x)),
    )?;
    io.set(
        &proof,
        Role::City(CityRole::Status),
        FieldValue::CityStatus(CityStatus::Migrating),
    )?;
    let back = io.read(Which::Old, Session::Same, OLD_BACK)?;
    let bound = io.env.rules.broken(Mutation::FreezeBindsNothing)
        || text(back, Role::City(CityRole::TargetCard))? == t.n;
    if city_status(back)? != CityStatus::Migrating
        || transfer(back, Role::City(CityRole::TransferId))? != Some(x)
        || number(back, Role::City(CityRole::TransferCounter))? != n1
        || !bound
    {
        return stop(Stop::ReadBack { which: Which::Old });
    }
    io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
    io.step_msg(Step::Frozen);
    // Step 3 (and 4).
    let same = match io.env.readers {
        Readers::Two => new,
        Readers::One => read_new_again(io, new)?,
    };
    credit(
        io,
        &t,
        Some(same),
        PinPlan::Settled(pin),
        Some(JournalState::Frozen),
        io.env.readers == Readers::Two,
    )
}

/// Asks for the old card's PIN and verifies it (the last try only when allowed);
/// `123456` means the holder chooses the new card's PIN.
fn verify_old_pin(io: &mut Io) -> R<PinSource> {
    let mut tries = None;
    loop {
        let spend = io.env.force_last_try;
        match io.verify_pin(Which::Old, Prompt::OldPin { tries_left: tries }, spend)? {
            PinOutcome::Ok { initial } => {
                io.step_msg(Step::PinVerified);
                if initial {
                    io.note(Note::ChoosePinBecauseInitial);
                    choose_pin(io, Prompt::ChooseNewPin)?;
                    return Ok(PinSource::Chosen);
                }
                return Ok(PinSource::OldCardVerified);
            }
            PinOutcome::Wrong { left } => {
                io.note(Note::PinWrong { left });
                if !io.env.interactive || left == 0 {
                    return refuse(Refusal::PinWrong { left });
                }
                tries = Some(left);
            }
            PinOutcome::Blocked => return refuse(Refusal::PinBlocked),
            PinOutcome::LastTryWithheld => return refuse(Refusal::PinLastTry),
            PinOutcome::CardRefuses => return refuse(Refusal::OldRefusesPin),
            PinOutcome::NoInput => return refuse(Refusal::NoInput),
        }
    }
}

/// The PIN rule: a PIN typed twice, never `123456`; asked again while a person answers.
fn choose_pin(io: &mut Io, prompt: Prompt) -> R<()> {
    for _ in 0..3 {
        match io.ask_pin(prompt)? {
            PinEntry::Entered {
                confirmed: true,
                initial: false,
            } => return Ok(()),
            PinEntry::Entered {
                confirmed: false, ..
            } => io.note(Note::PinsDiffer),
            PinEntry::Entered { initial: true, .. } => io.note(Note::PinInitialRefused),
            PinEntry::NoInput => return refuse(Refusal::NoInput),
        }
        if !io.env.interactive {
            return refuse(Refusal::PinNotChosen);
        }
    }
    refuse(Refusal::PinNotChosen)
}

/// An old card at `01` carrying X and N: continue at step 3 with N (spec: recovery,
/// on any terminal). `checked` is the new card pharmacy step 1 checked, if any.
fn continue_from_old(io: &mut Io, old: OldCard, checked: Option<NewCard>) -> R<End> {
    let (Some(x), target) = (old.transfer()?, old.target()?) else {
        return stop(Stop::FrozenWithoutTransfer);
    };
    let n = match (target, &checked) {
        (Some(n), _) => n,
        (None, Some(c)) if io.env.rules.broken(Mutation::FreezeBindsNothing) => c.number.clone(),
        (None, _) => return stop(Stop::FrozenWithoutTransfer),
    };
    if let Some(c) = &checked {
        if c.number != n {
            return refuse(Refusal::OldBoundToOther { new_card: n });
        }
    }
    let t = Transfer {
        id: x,
        data: old.data(Some(n.clone()))?,
        n,
    };
    let entry = io.lookup(x)?;
    let state = match entry.as_ref().map(|e| e.state) {
        None => {
            io.note(Note::ContinuingFromOldCard { id: x });
            io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
            JournalState::Frozen
        }
        Some(JournalState::Freezing) => {
            // The freeze reached the card (it reads `01` with X): record it.
            io.journal(x, Flow::Pharmacy, JournalState::Frozen, &t.data)?;
            JournalState::Frozen
        }
        Some(s @ (JournalState::Frozen | JournalState::Crediting | JournalState::Credited)) => {
            io.note(Note::ContinuingFromJournal { id: x, state: s });
            s
        }
        Some(JournalState::Voiding | JournalState::Voided | JournalState::Cancelling) => {
            return refuse(Refusal::BeingCancelled { id: x })
        }
        Some(s @ (JournalState::Complete | JournalState::Cancelled)) => {
            return refuse(Refusal::EntryFinal { id: x, state: s })
        }
    };
    // Two readers: the new card checked in this run is still in its reader.
    let same = checked.filter(|_| io.env.readers == Readers::Two);
    credit(
        io,
        &t,
        same,
        PinPlan::Ask,
        Some(state),
        io.env.readers == Readers::Two,
    )
}

/// Pharmacy step 3 (credit N) and step 4 (finish). `same` is N read in this run and
/// still in its reader; `state` is this journal's state for X; `old_here` whether the
/// old card is in its reader (two readers) for step 4.
fn credit(
    io: &mut Io,
    t: &Transfer,
    same: Option<NewCard>,
    pin: PinPlan,
    state: Option<JournalState>,
    old_here: bool,
) -> R<End> {
    let fresh = same.is_none();
    let mut new = match same {
        Some(c) => c,
        None => read_new(io, Purpose::Credit)?,
    };
    if new.number != t.n {
        return refuse(Refusal::WrongNewCard {
            expected: t.n.clone(),
            found: new.number.clone(),
        });
    }
    // The holder check of step 2, again where both sides were read (a cancel
    // finishing a credit identifies N by its number alone, as step 3 does).
    if let Some(c) = &new.citizen_id {
        if !t.data.citizen_id.is_empty() && *c != t.data.citizen_id {
            return refuse(Refusal::OtherPerson);
        }
    }
    if fresh {
        check_identity(io, &new)?;
    }
    if let Some(f) = &new.floor {
        if Some(&f.old_card) != t.data.old_card.as_ref() {
            return refuse(Refusal::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            });
        }
        if f.counter >= t.id.counter() {
            return refuse(Refusal::TransferCancelled { id: t.id });
        }
    }
    let already = match (new.status, new.transfer) {
        (SscStatus::Active, Some(id)) if id == t.id => true,
        (SscStatus::Active, _) => return refuse(Refusal::NewActiveWithOtherTransfer),
        (SscStatus::NotActivated, Some(id)) if id != t.id => {
            return refuse(Refusal::UnfinishedTransferOnNew { id })
        }
        (SscStatus::NotActivated, None) if new.balance != 0 => {
            return refuse(Refusal::BalanceWithoutTransfer {
                balance_fen: new.balance,
            })
        }
        (SscStatus::NotActivated, _) => false,
        (s, _) => return refuse(Refusal::NewStatus { status: s }),
    };
    let done_here = state >= Some(JournalState::Credited);
    if already {
        // Whether the log record is there decides the APPEND below.
        new.read_log(io)?;
        io.note(Note::AlreadyCredited { id: t.id });
    }
    let mut data = t.data.clone();
    data.new_card = Some(t.n.clone());
    if !(already && done_here) {
        // The PIN: settled in this run, or asked now (typed twice), before anything is
        // written. A card found credited without this journal's CREDITED may have
        // been torn before its RELOAD PIN: the PIN rule (never left on `123456`)
        // makes this desk set it again; the log check below keeps the log single.
        let source = match pin {
            PinPlan::Settled(s) => s,
            PinPlan::Ask => {
                choose_pin(io, Prompt::PinForNewCard)?;
                PinSource::TypedTwice
            }
        };
        let proof = io.journal(t.id, Flow::Pharmacy, JournalState::Crediting, &data)?;
        io.step_msg(Step::Credit);
        io.authenticate(Which::New, KeyRole::Write)?;
        if !already {
            let ssc = Role::Ssc;
            let id_last = io
                .env
                .rules
                .broken(Mutation::CreditIdLastWindowIgnoresBalance);
            // The transfer id first: a torn credit is then always recognisable.
            if !id_last {
                io.set(
                    &proof,
                    ssc(SscRole::TransferId),
                    FieldValue::TransferId(Some(t.id)),
                )?;
            }
            io.set(
                &proof,
                ssc(SscRole::Account),
                FieldValue::Text(t.data.account.clone()),
            )?;
            io.set(
                &proof,
                ssc(SscRole::Category),
                FieldValue::Code(t.data.category),
            )?;
            io.set(
                &proof,
                ssc(SscRole::Balance),
                FieldValue::Number(t.data.balance_fen),
            )?;
            io.set(
                &proof,
                ssc(SscRole::ActivationDate),
                FieldValue::Date(Some(io.env.today)),
            )?;
            io.set(
                &proof,
                ssc(SscRole::ActivationTerminal),
                FieldValue::Digits(io.env.terminal.clone()),
            )?;
            if id_last {
                io.set(
                    &proof,
                    ssc(SscRole::TransferId),
                    FieldValue::TransferId(Some(t.id)),
                )?;
            }
            io.set(
                &proof,
                ssc(SscRole::Status),
                FieldValue::SscStatus(SscStatus::Active),
            )?;
        }
        if !already || !new.logged(LOG_TRANSFER_IN, t.id)? {
            let rec = LogAppend {
                kind: LOG_TRANSFER_IN,
                amount_fen: t.data.balance_fen,
                balance_after_fen: t.data.balance_fen,
                date: io.env.today,
                terminal: io.env.terminal.clone(),
                transfer: Some(t.id),
            };
            io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
        }
        // Read back while DF04 is current (the records RELOAD PIN cannot touch;
        // after it SSSE is current and a read-back would cost a SELECT of DF04).
        let back = io.read(Which::New, Session::Same, CREDIT_BACK)?;
        if ssc_status(back)? != SscStatus::Active
            || transfer(back, Role::Ssc(SscRole::TransferId))? != Some(t.id)
            || number(back, Role::Ssc(SscRole::Balance))? != t.data.balance_fen
        {
            return stop(Stop::ReadBack { which: Which::New });
        }
        io.step_msg(Step::SetPin);
        io.authenticate(Which::New, KeyRole::PinReload)?;
        io.write(&proof, Which::New, WriteOp::ReloadPin(source))?;
    }
    let proof = io.journal(t.id, Flow::Pharmacy, JournalState::Credited, &data)?;
    // Step 4: the old card, when it is in its reader.
    let finished = if old_here {
        io.step_msg(Step::FinishOld);
        io.authenticate(Which::Old, KeyRole::Write)?;
        io.set(
            &proof,
            Role::City(CityRole::Status),
            FieldValue::CityStatus(CityStatus::Migrated),
        )?;
        let back = io.read(Which::Old, Session::Same, OLD_STATUS)?;
        if city_status(back)? != CityStatus::Migrated {
            return stop(Stop::ReadBack { which: Which::Old });
        }
        true
    } else {
        io.note(Note::OldCardStaysFrozen {
            new_card: t.n.clone(),
        });
        false
    };
    io.journal(t.id, Flow::Pharmacy, JournalState::Complete, &data)?;
    Ok(End::Done(Receipt {
        flow: Flow::Pharmacy,
        id: t.id,
        holder_name: t.data.holder_name.clone(),
        citizen_id: t.data.citizen_id.clone(),
        old_card: t.data.old_card.clone(),
        new_card: t.n.clone(),
        amount_fen: t.data.balance_fen,
        old_card_finished: finished,
        date: io.env.today,
    }))
}

fn resume(io: &mut Io, entry: Option<&JournalEntry>, old_present: bool) -> R<End> {
    if let Some(e) = entry {
        if e.state.is_final() {
            return refuse(Refusal::EntryFinal {
                id: e.id,
                state: e.state,
            });
        }
    }
    if entry.is_none() || old_present {
        let old = read_old(io, Purpose::Identify, Session::Fresh, OLD_ROLES)?;
        if let Some(e) = entry {
            if old.transfer()? != Some(e.id) {
                if e.state == JournalState::Freezing && old.status == CityStatus::Active {
                    return close_unfrozen(io, e);
                }
                return refuse(Refusal::OldNotCarrying { id: e.id });
            }
        }
        return match old.status {
            CityStatus::Migrating => continue_from_old(io, old, None),
            CityStatus::Active => match entry {
                Some(e) if e.state == JournalState::Freezing => close_unfrozen(io, e),
                _ => refuse(Refusal::NothingToResume),
            },
            CityStatus::Migrated => {
                // Every card write was made; a journal entry a fault left short of
                // COMPLETE is completed.
                let Some(x) = old.transfer()? else {
                    return refuse(Refusal::NothingToResume);
                };
                match io.lookup(x)? {
                    Some(e) if !e.state.is_final() && JournalState::Credited >= e.state => {
                        io.journal(x, Flow::Pharmacy, JournalState::Complete, &e.data)?;
                        Ok(End::Done(Receipt {
                            flow: Flow::Pharmacy,
                            id: x,
                            holder_name: e.data.holder_name.clone(),
                            citizen_id: e.data.citizen_id.clone(),
                            old_card: e.data.old_card.clone(),
                            new_card: old.target()?.unwrap_or_default(),
                            amount_fen: e.data.balance_fen,
                            old_card_finished: true,
                            date: io.env.today,
                        }))
                    }
                    _ => refuse(Refusal::OldMigrated { to: old.target()? }),
                }
            }
            CityStatus::Blocked | CityStatus::Other(_) => refuse(Refusal::OldNotUsable),
        };
    }
    let Some(e) = entry else {
        return refuse(Refusal::NothingToResume);
    };
    match e.state {
        JournalState::Freezing => refuse(Refusal::FreezeUnfinished { id: e.id }),
        JournalState::Voiding | JournalState::Voided | JournalState::Cancelling => {
            refuse(Refusal::BeingCancelled { id: e.id })
        }
        JournalState::Complete | JournalState::Cancelled => refuse(Refusal::EntryFinal {
            id: e.id,
            state: e.state,
        }),
        s @ (JournalState::Frozen | JournalState::Crediting | JournalState::Credited) => {
            if e.flow != Flow::Pharmacy {
                return refuse(Refusal::NothingToResume);
            }
            let Some(n) = e.data.new_card.clone() else {
                return refuse(Refusal::EntryLacksNewCard { id: e.id });
            };
            io.note(Note::ContinuingFromJournal { id: e.id, state: s });
            let t = Transfer {
                id: e.id,
                data: e.data.clone(),
                n,
            };
            credit(io, &t, None, PinPlan::Ask, Some(s), false)
        }
    }
}

/// A `FREEZING` entry whose old card reads active without this transfer frozen:
/// the freeze never took effect (its status write is the last); the entry is closed.
fn close_unfrozen(io: &mut Io, e: &JournalEntry) -> R<End> {
    io.note(Note::FreezeNeverTookEffect { id: e.id });
    io.journal(e.id, e.flow, JournalState::Cancelled, &e.data)?;
    refuse(Refusal::NothingToCancel { id: e.id })
}

/// `activate cancel ID` (spec: Recovery, Cancel): void on N first (the floor), then
/// the old card back to active.
fn cancel(io: &mut Io, x: TransferId, entry: Option<&JournalEntry>) -> R<End> {
    if let Some(e) = entry {
        if e.state.is_final() {
            return refuse(Refusal::EntryFinal {
                id: x,
                state: e.state,
            });
        }
    }
    let state = entry.map(|e| e.state);
    // The old rule (mutation 1): with no credit in the journal, the old card alone.
    if io.env.rules.broken(Mutation::CancelWithOldCardAlone)
        && matches!(state, Some(JournalState::Frozen))
    {
        let e = entry.expect("state is Some");
        return unfreeze(io, x, e.data.clone(), None, None);
    }
    // A cancel torn after the void: the floor is on N; finish on the old card.
    if let Some(e) =
        entry.filter(|e| matches!(e.state, JournalState::Voided | JournalState::Cancelling))
    {
        return unfreeze(io, x, e.data.clone(), e.data.new_card.clone(), None);
    }
    // Cancel always needs N: from the journal, else from the old card.
    let mut old_read: Option<OldCard> = None;
    let (data, n) = match entry {
        Some(e) if e.state != JournalState::Freezing && e.data.new_card.is_some() => {
            (e.data.clone(), e.data.new_card.clone().unwrap_or_default())
        }
        _ => {
            let old = read_old(io, Purpose::Identify, Session::Fresh, OLD_CANCEL)?;
            if let Some(e) = entry {
                if e.data.old_card.as_ref().is_some_and(|c| *c != old.number) {
                    return refuse(Refusal::WrongOldCard {
                        expected: e.data.old_card.clone().unwrap_or_default(),
                        found: old.number.clone(),
                    });
                }
            }
            match old.status {
                CityStatus::Migrating if old.transfer()? == Some(x) => {}
                CityStatus::Active => {
                    if old.transfer()? == Some(x) {
                        // Torn freeze (status never written) or torn unfreeze: tidy the
                        // old card; no credit can exist (credits need it at `01`).
                        let data = old.record(old.target()?);
                        return unfreeze(io, x, data, old.target()?, Some(old));
                    }
                    if let Some(e) = entry {
                        if e.state == JournalState::Freezing {
                            return close_unfrozen(io, e);
                        }
                    }
                    return refuse(Refusal::NothingToCancel { id: x });
                }
                CityStatus::Migrating => return refuse(Refusal::OldNotCarrying { id: x }),
                CityStatus::Migrated => return refuse(Refusal::OldMigrated { to: old.target()? }),
                CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
            }
            let Some(n) = old.target()? else {
                return stop(Stop::FrozenWithoutTransfer);
            };
            let data = old.record(Some(n.clone()));
            old_read = Some(old);
            (data, n)
        }
    };
    let old_card = data.old_card.clone().unwrap_or_default();
    // N, and only N.
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Void, NEW_VOID)?;
    let genuine = io.genuine(Which::New)?;
    let mut new = NewCard::parse(f, genuine)?;
    if new.number != n {
        return refuse(Refusal::WrongNewCard {
            expected: n,
            found: new.number,
        });
    }
    if !new.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    // 1. N holds X: refuse the cancel, finish instead.
    if new.status == SscStatus::Active && new.transfer == Some(x) {
        // Finish what a torn credit may have left (log record, PIN), and step 4 when
        // the old card read in this run is still in its reader.
        let mut data = data.clone();
        if old_read.is_some() {
            // The cancel read no balance from the old card: the amount N was credited
            // with is N's balance (a credit whose log record is missing never reached
            // its RELOAD PIN, so N cannot have paid since).
            data.balance_fen = new.balance;
        }
        let t = Transfer {
            id: x,
            data,
            n: n.clone(),
        };
        let old_here = io.env.readers == Readers::Two && old_read.is_some();
        return match credit(io, &t, Some(new), PinPlan::Ask, state, old_here)? {
            End::Done(_) => refuse(Refusal::CancelAfterCredit { id: x, new_card: n }),
            other => Ok(other),
        };
    }
    if state == Some(JournalState::Credited) {
        // This journal saw N credited, yet N does not hold X.
        return stop(Stop::Inconsistent { id: x });
    }
    // 2. Void on N: the floor, the torn credit, log `03`.
    let keep_floor = match &new.floor {
        Some(f) if f.old_card != old_card => {
            return stop(Stop::FloorOtherOldCard {
                old_card: f.old_card.clone(),
            })
        }
        Some(f) => f.counter >= x.counter(),
        None => false,
    };
    let proof = io.journal(x, Flow::Pharmacy, JournalState::Voiding, &data)?;
    io.step_msg(Step::Void);
    io.authenticate(Which::New, KeyRole::Write)?;
    if keep_floor {
        io.note(Note::FloorAlreadyThere);
    } else if !io.env.rules.broken(Mutation::CancelWritesNoFloor) {
        io.set(
            &proof,
            Role::Ssc(SscRole::TransferFloor),
            FieldValue::Floor(Some(Floor {
                old_card: old_card.clone(),
                counter: x.counter(),
            })),
        )?;
    }
    let mut balance_after = new.balance;
    let torn_credit = new.transfer == Some(x);
    if torn_credit {
        io.note(Note::TornCreditCleared { id: x });
        io.set(&proof, Role::Ssc(SscRole::Balance), FieldValue::Number(0))?;
        io.set(
            &proof,
            Role::Ssc(SscRole::TransferId),
            FieldValue::TransferId(None),
        )?;
        balance_after = 0;
    }
    // A record of this void can exist only where its floor is (written before the
    // APPEND, never lowered): read the log head then only.
    let logged = if keep_floor || io.env.rules.broken(Mutation::CancelWritesNoFloor) {
        new.read_log(io)?;
        new.logged(LOG_VOID, x)?
    } else {
        false
    };
    if !logged {
        let rec = LogAppend {
            kind: LOG_VOID,
            amount_fen: 0,
            balance_after_fen: balance_after,
            date: io.env.today,
            terminal: io.env.terminal.clone(),
            transfer: Some(x),
        };
        io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
    }
    let back = io.read(
        Which::New,
        Session::Same,
        if torn_credit {
            VOID_BACK_TORN
        } else {
            VOID_BACK
        },
    )?;
    let floor_ok = io.env.rules.broken(Mutation::CancelWritesNoFloor)
        || floor(back)?.is_some_and(|f| f.old_card == old_card && f.counter >= x.counter());
    let cleared = !torn_credit
        || (transfer(back, Role::Ssc(SscRole::TransferId))?.is_none()
            && number(back, Role::Ssc(SscRole::Balance))? == 0);
    if !floor_ok || !cleared {
        return stop(Stop::ReadBack { which: Which::New });
    }
    io.journal(x, Flow::Pharmacy, JournalState::Voided, &data)?;
    // 3. The old card.
    let old = match (old_read, io.env.readers) {
        (Some(o), Readers::Two) => Some(o),
        _ => None,
    };
    unfreeze(io, x, data, Some(n), old)
}

/// Cancel step 3: the old card back to active (status first, then tags 26 and 27
/// cleared; tag 28 keeps its value). `old` is the old card read in this run and
/// still in its reader.
fn unfreeze(
    io: &mut Io,
    x: TransferId,
    data: TransferData,
    n: Option<String>,
    old: Option<OldCard>,
) -> R<End> {
    let old = match old {
        Some(o) => o,
        None => read_old(io, Purpose::Unfreeze, Session::Fresh, OLD_UNFREEZE)?,
    };
    if let Some(c) = &data.old_card {
        if *c != old.number {
            return refuse(Refusal::WrongOldCard {
                expected: c.clone(),
                found: old.number,
            });
        }
    }
    let needs = match old.status {
        CityStatus::Migrating if old.transfer()? == Some(x) => true,
        CityStatus::Active if old.transfer()? == Some(x) => true,
        CityStatus::Active => false,
        CityStatus::Migrating => return refuse(Refusal::OldNotCarrying { id: x }),
        CityStatus::Migrated => return stop(Stop::Inconsistent { id: x }),
        CityStatus::Blocked | CityStatus::Other(_) => return refuse(Refusal::OldNotUsable),
    };
    if needs {
        let proof = io.journal(x, Flow::Pharmacy, JournalState::Cancelling, &data)?;
        io.step_msg(Step::Unfreeze);
        io.authenticate(Which::Old, KeyRole::Write)?;
        if old.status != CityStatus::Active {
            io.set(
                &proof,
                Role::City(CityRole::Status),
                FieldValue::CityStatus(CityStatus::Active),
            )?;
        }
        io.set(
            &proof,
            Role::City(CityRole::TransferId),
            FieldValue::TransferId(None),
        )?;
        io.set(
            &proof,
            Role::City(CityRole::TargetCard),
            FieldValue::Text(String::new()),
        )?;
        let back = io.read(Which::Old, Session::Same, UNFREEZE_BACK)?;
        if city_status(back)? != CityStatus::Active
            || transfer(back, Role::City(CityRole::TransferId))?.is_some()
            || !text(back, Role::City(CityRole::TargetCard))?
                .trim()
                .is_empty()
        {
            return stop(Stop::ReadBack { which: Which::Old });
        }
    } else {
        io.note(Note::NothingToUndo);
    }
    io.journal(x, Flow::Pharmacy, JournalState::Cancelled, &data)?;
    Ok(End::Cancelled {
        id: x,
        old_card: old.number,
        new_card: n,
    })
}

/// Window and first use (spec: Window and first-use flows).
fn window(io: &mut Io, flow: Flow, typed: Option<&str>, verify_pin: bool) -> R<End> {
    let valid = |s: &str| {
        crate::card::checks::check_citizen_id(s).outcome == crate::card::checks::Outcome::Pass
    };
    let mut typed: Option<String> = typed.map(|s| s.trim().to_ascii_uppercase());
    if flow == Flow::Window {
        loop {
            match &typed {
                Some(s) if valid(s) => break,
                Some(_) => {
                    io.note(Note::CitizenIdInvalid);
                    if !io.env.interactive {
                        return refuse(Refusal::CitizenIdTyped);
                    }
                }
                None => {}
            }
            match io.ask_line(Prompt::CitizenId)? {
                Some(l) => typed = Some(l.trim().to_ascii_uppercase()),
                None => return refuse(Refusal::NoInput),
            }
        }
    }
    io.step_msg(Step::CheckNew);
    let f = io.open(Which::New, Purpose::Activate, NEW_ROLES)?;
    let genuine = io.genuine(Which::New)?;
    let card = NewCard::parse(f, genuine)?;
    if let Some(h) = card.holder() {
        io.note(h);
    }
    if flow == Flow::Window {
        while typed.as_deref() != Some(card.citizen_id()?) {
            io.note(Note::CitizenIdMismatch);
            if !io.env.interactive {
                return refuse(Refusal::CitizenIdTyped);
            }
            match io.ask_line(Prompt::CitizenId)? {
                Some(l) => typed = Some(l.trim().to_ascii_uppercase()),
                None => return refuse(Refusal::NoInput),
            }
        }
    }
    if !card.genuine {
        return refuse(Refusal::NotGenuine { which: Which::New });
    }
    let ignore_balance = io
        .env
        .rules
        .broken(Mutation::CreditIdLastWindowIgnoresBalance);
    check_fresh(io, &card, ignore_balance)?;
    let mut change_pin = false;
    if verify_pin {
        match io.verify_pin(Which::New, Prompt::NewCardPin, true)? {
            PinOutcome::Ok { initial } => {
                io.step_msg(Step::PinVerified);
                if initial {
                    io.note(Note::ChoosePinBecauseInitial);
                    choose_pin(io, Prompt::ChooseNewPin)?;
                    change_pin = true;
                }
            }
            PinOutcome::Wrong { left } => return refuse(Refusal::PinWrong { left }),
            PinOutcome::Blocked => return refuse(Refusal::PinBlocked),
            PinOutcome::LastTryWithheld => return refuse(Refusal::PinLastTry),
            PinOutcome::CardRefuses => return refuse(Refusal::PinBlocked),
            PinOutcome::NoInput => return refuse(Refusal::NoInput),
        }
    }
    let id = TransferId::new(0, io.env.random);
    let data = TransferData {
        old_card: None,
        new_card: Some(card.number.clone()),
        citizen_id: card.citizen_id()?.to_string(),
        holder_name: card.name()?,
        account: card.account()?,
        category: card.category()?,
        balance_fen: 0,
    };
    let proof = io.journal(id, flow, JournalState::Crediting, &data)?;
    io.step_msg(Step::Activate);
    io.authenticate(Which::New, KeyRole::Write)?;
    let ssc = Role::Ssc;
    io.set(
        &proof,
        ssc(SscRole::ActivationDate),
        FieldValue::Date(Some(io.env.today)),
    )?;
    io.set(
        &proof,
        ssc(SscRole::ActivationTerminal),
        FieldValue::Digits(io.env.terminal.clone()),
    )?;
    io.set(
        &proof,
        ssc(SscRole::Status),
        FieldValue::SscStatus(SscStatus::Active),
    )?;
    let rec = LogAppend {
        kind: LOG_ACTIVATION,
        amount_fen: 0,
        balance_after_fen: card.balance,
        date: io.env.today,
        terminal: io.env.terminal.clone(),
        transfer: None,
    };
    io.write(&proof, Which::New, WriteOp::AppendLog(rec))?;
    if change_pin {
        io.step_msg(Step::SetPin);
        io.write(&proof, Which::New, WriteOp::ChangePin)?;
    }
    let back = io.read(Which::New, Session::Same, NEW_BACK)?;
    if ssc_status(back)? != SscStatus::Active {
        return stop(Stop::ReadBack { which: Which::New });
    }
    io.journal(id, flow, JournalState::Credited, &data)?;
    io.journal(id, flow, JournalState::Complete, &data)?;
    Ok(End::Done(Receipt {
        flow,
        id,
        holder_name: card.name()?,
        citizen_id: card.citizen_id()?.to_string(),
        old_card: None,
        new_card: card.number.clone(),
        amount_fen: 0,
        old_card_finished: false,
        date: io.env.today,
    }))
}
