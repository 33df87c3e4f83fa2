//! `sscard activate pharmacy|window|first-use|resume|cancel`.
//!
//! Around the flows (which only talk to a [`Desk`](crate::activation::desk::Desk))
//! this command does three things:
//! - **Settings.** Each one comes from its flag, else the desk configuration file
//!   ([`crate::config`]), else a default; flags always win.
//! - **The desk.** The guided screen on a terminal, plain English lines otherwise
//!   (exactly what scripts and the tests read), in the desk's language ([`crate::ui`]).
//! - **Recovery at the desk.** A pulled card, a reset, a bad contact, a stopped pcscd,
//!   an unplugged reader or a card that did not come in time are not the end of a
//!   transfer: the desk gets one plain instruction and the flow goes on through
//!   `resume`, which continues from the old card or the journal (a run that journaled
//!   nothing starts again). Which failures allow that is decided in one place,
//!   [`driver::recovery`] (typed errors, no matching on text; never after a wrong key).
//!   This is safe because the flows keep the money invariants after a fault at any
//!   APDU and `resume` applies a transfer at most once. Attempts are bounded
//!   (`--retries`, 3 on the guided screen, 0 in plain mode so scripts see the fault);
//!   when they run out, the command exits with the last failure's own code (5 card
//!   lost, 3 pcscd/reader, 15 timeout), so scripts can still tell failures apart.
//! - **Interruptions** (the `interrupt` module). Ctrl-C, a closed window (SIGHUP) or SIGTERM
//!   mid-transfer used to print only `^C`, with the old card possibly frozen. Now the
//!   desk is told where the cards stand (read from the journal, which is written
//!   before every card write), the transfer id, and the exact command that
//!   continues; the terminal's echo is turned back on (a PIN prompt turns it off) and
//!   the exit status is `128 + signal`. A second Ctrl-C exits at once.

use super::CmdResult;
use crate::activation::core::{Start, TransferId};
use crate::activation::driver::{self, Outcome, Recovery};
use crate::activation::error::{ConfigSeen, DeskRefusal, Setup};
use crate::activation::journal::{self, Flow, Journal};
use crate::activation::receipt::Receipt;
use crate::activation::slots::Slots;
use crate::activation::{ActivationError, Context};
use crate::apdu::TransportError;
use crate::config::{self, Config};
use crate::error::{Error, ExitCode};
use crate::pin_input::{PinReader, PinSource};
use crate::profile::Profiles;
use crate::reader::{Event, ReaderSelector, Watcher};
use crate::sam::{Sam, SamError};
use crate::ui::i18n::{Lang, Text};
use crate::ui::steps::Plan;
use crate::ui::{trouble, Failure, Frontend, FrontendSetup, UiMode};
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options shared by every activation subcommand.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// The reader for both cards (one-reader desk): index or part of the name.
    #[arg(long, short, conflicts_with_all = ["old_reader", "new_reader"])]
    pub reader: Option<ReaderSelector>,
    /// Two-reader desk: the reader for the old city card.
    #[arg(long, requires = "new_reader")]
    pub old_reader: Option<ReaderSelector>,
    /// Two-reader desk: the reader for the new social security card.
    #[arg(long, requires = "old_reader")]
    pub new_reader: Option<ReaderSelector>,
    /// Master keys from a key file (labs and tests; must not be readable by others).
    #[arg(long, value_name = "FILE", conflicts_with = "sam_reader")]
    pub keys: Option<PathBuf>,
    /// The reader holding the terminal's PSAM.
    #[arg(long, value_name = "READER")]
    pub sam_reader: Option<ReaderSelector>,
    /// The journal (default: $SSCARD_JOURNAL, else `journal` in the configuration,
    /// else /var/lib/sscard/journal.sqlite as root, else
    /// ~/.local/state/sscard/journal.sqlite).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Who operates the desk (recorded in the journal).
    #[arg(long, env = "SSCARD_OPERATOR")]
    pub operator: Option<String>,
    /// The terminal number (12 digits) when the SAM has none.
    #[arg(long, value_name = "DIGITS")]
    pub terminal: Option<String>,
    /// Read PINs from a file (one per line, in the order asked), or `-` for stdin.
    /// Without it, PINs are asked on the terminal with echo off. Never on the command line.
    #[arg(long, value_name = "FILE")]
    pub pin_file: Option<PathBuf>,
    /// Allow a PIN attempt when only one try is left.
    #[arg(long)]
    pub force_last_try: bool,
    /// Seconds to wait for a card to be inserted or removed [default: `timeout` in
    /// the configuration, else 120].
    #[arg(long, value_name = "SECS", value_parser = super::bounds::seconds)]
    pub timeout: Option<f64>,
    /// Output format: the receipt as text, or as one versioned JSON document on stdout
    /// (errors too are then a JSON document).
    #[arg(long = "format", alias = "receipt", value_enum, default_value_t = ReceiptFormat::Text)]
    pub receipt: ReceiptFormat,
    /// Another card profile file (another city's old card).
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<PathBuf>,
    /// Record a transcript of every card exchange (PINs and cryptograms redacted).
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// The desk configuration file (`none`: no file) [default: /etc/sscard/sscard.toml].
    #[arg(long, env = "SSCARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Desk language [default: `language` in the configuration, else from LC_ALL,
    /// LC_MESSAGES or LANG: zh_* means Chinese].
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Screen: `guided` (one instruction at a time, for staff), `plain` (one English
    /// line per message, for scripts), or `auto`: guided when stderr is a terminal.
    #[arg(long, value_enum)]
    pub ui: Option<UiMode>,
    /// How often to recover from a pulled card, a reset, a stopped pcscd or a timeout
    /// before giving up [default: `retries` in the configuration, else 3 guided, 0 plain].
    #[arg(long, value_name = "N", value_parser = super::bounds::retries)]
    pub retries: Option<u32>,
}

/// Receipt formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptFormat {
    /// For the printer.
    Text,
    /// For systems.
    Json,
}

/// The activation subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum ActivateCommand {
    /// Pharmacy dual insert: old city card, then new social security card.
    Pharmacy(Common),
    /// Bureau window: the new card only, identity document checked by the operator.
    Window(WindowArgs),
    /// Hospital first use: the new card only.
    FirstUse(WindowArgs),
    /// Continue an unfinished transfer (old card, or new card with a journal ID).
    Resume {
        /// The transfer id (from `sscard journal list`), when only the new card is at hand.
        id: Option<String>,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
    /// Cancel a transfer: the old card back to active, where the rules allow.
    Cancel {
        /// The transfer id.
        id: String,
        /// Shared options.
        #[command(flatten)]
        common: Common,
    },
}

/// Arguments of the window and first-use flows.
#[derive(clap::Args, Debug)]
pub struct WindowArgs {
    /// The holder's citizen ID from the identity document (asked when absent).
    #[arg(long, value_name = "ID")]
    pub citizen_id: Option<String>,
    /// Let the holder verify the card's PIN first.
    #[arg(long)]
    pub verify_pin: bool,
    /// Shared options.
    #[command(flatten)]
    pub common: Common,
}

/// Arguments of `sscard activate`.
#[derive(clap::Args, Debug)]
pub struct ActivateArgs {
    /// The flow.
    #[command(subcommand)]
    pub command: ActivateCommand,
}

/// Opens the SAM the options name.
///
/// # Errors
/// [`ActivationError::Setup`]: no keys configured (`config` says what the
/// configuration looked like), the key file refused, or the PSAM missing or not one.
pub fn open_sam(
    keys: Option<&PathBuf>,
    sam_reader: Option<&ReaderSelector>,
    config: ConfigSeen,
) -> Result<Box<dyn Sam>, ActivationError> {
    let setup = ActivationError::Setup;
    let keys = keys.map(PathBuf::as_path);
    match crate::sam::open(keys, sam_reader) {
        Ok(Some(sam)) => Ok(sam),
        Ok(None) => Err(setup(Setup::NoKeys(config))),
        Err(error) if keys.is_some() => Err(setup(Setup::KeyFile(error))),
        Err(error) => {
            let reader = match (&error, sam_reader) {
                (SamError::Transport(TransportError::NoCard(r)), _) => r.clone(),
                (_, Some(sel)) => reader_name(sel),
                (_, None) => String::new(),
            };
            Err(setup(Setup::Psam { reader, error }))
        }
    }
}

/// The name of the reader `sel` picks, as pcscd lists it; as typed when it picks none.
fn reader_name(sel: &ReaderSelector) -> String {
    let listed = crate::reader::establish()
        .and_then(|ctx| crate::reader::list_readers(&ctx))
        .ok()
        .and_then(|readers| sel.pick(&readers).ok().map(|r| r.name.to_string()));
    listed.unwrap_or_else(|| match sel {
        ReaderSelector::Name(n) => n.clone(),
        ReaderSelector::NameBytes(b) => String::from_utf8_lossy(b).into_owned(),
        ReaderSelector::Exact(n) => n.to_string(),
        ReaderSelector::Index(i) => format!("#{i}"),
        ReaderSelector::Auto => "auto".into(),
    })
}

/// What the command was asked to do.
enum Job {
    Pharmacy,
    Window {
        flow: Flow,
        citizen_id: Option<String>,
        verify_pin: bool,
    },
    Resume(Option<String>),
    Cancel(String),
}

/// One run of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Attempt {
    Pharmacy,
    Window {
        flow: Flow,
        citizen_id: Option<String>,
        verify_pin: bool,
    },
    Resume(Option<String>),
    Cancel(String),
}

impl Job {
    fn first(&self) -> Attempt {
        match self {
            Job::Pharmacy => Attempt::Pharmacy,
            Job::Window {
                flow,
                citizen_id,
                verify_pin,
            } => Attempt::Window {
                flow: *flow,
                citizen_id: citizen_id.clone(),
                verify_pin: *verify_pin,
            },
            Job::Resume(id) => Attempt::Resume(id.clone()),
            Job::Cancel(id) => Attempt::Cancel(id.clone()),
        }
    }

    fn title(&self) -> Text {
        match self {
            Job::Pharmacy => Text::FlowPharmacy,
            Job::Window {
                flow: Flow::FirstUse,
                ..
            } => Text::FlowFirstUse,
            Job::Window { .. } => Text::FlowWindow,
            Job::Resume(_) => Text::FlowResume,
            Job::Cancel(_) => Text::FlowCancel,
        }
    }

    fn plan(&self, one_reader: bool) -> Plan {
        match self {
            Job::Pharmacy | Job::Resume(_) if one_reader => Plan::PharmacyOneReader,
            Job::Pharmacy | Job::Resume(_) => Plan::PharmacyTwoReaders,
            Job::Window {
                citizen_id,
                verify_pin,
                ..
            } => Plan::NewCardOnly {
                type_id: citizen_id.is_none(),
                verify_pin: *verify_pin,
            },
            Job::Cancel(_) => Plan::Cancel,
        }
    }

    /// What to run after a recoverable failure, or `None` when going on is not safe.
    /// `touched` are the unfinished journal entries this command created or changed.
    fn next(&self, touched: &[journal::Entry]) -> Option<Attempt> {
        match self {
            Job::Pharmacy | Job::Resume(None) => Some(match touched {
                // The transfer of this run, past the freeze: continue it (from the old
                // card if it is in its reader, else with the new card).
                [one] if one.state >= journal::State::Frozen => {
                    Attempt::Resume(Some(one.id.clone()))
                }
                // Nothing journaled by this run: nothing was written to a card (the
                // freeze is announced before its first write), so start again.
                [] if matches!(self, Job::Pharmacy) => Attempt::Pharmacy,
                // Before the freeze, or unclear: the old card says where it stands.
                _ => Attempt::Resume(None),
            }),
            Job::Resume(Some(id)) => Some(Attempt::Resume(Some(id.clone()))),
            // Window and first use write no money; but once this run journaled an
            // activation, running again would start a second one: stop instead.
            Job::Window { .. } => touched.is_empty().then(|| self.first()),
            Job::Cancel(id) => Some(Attempt::Cancel(id.clone())),
        }
    }
}

/// The settings after flags, configuration and defaults.
struct Settings {
    old: ReaderSelector,
    new: Option<ReaderSelector>,
    keys: Option<PathBuf>,
    sam_reader: Option<ReaderSelector>,
    journal: PathBuf,
    /// `None`: not configured (the journal records `unknown`; the desk says "not set").
    operator: Option<String>,
    terminal: Option<String>,
    timeout: Duration,
    retries: Option<u32>,
    lang: Lang,
    lang_explicit: bool,
    ui: UiMode,
    dump: Option<PathBuf>,
    /// What the configuration looked like (for a desk without keys).
    config: ConfigSeen,
}

fn selector(text: &str) -> ReaderSelector {
    match text.parse() {
        Ok(s) => s,
        Err(e) => match e {},
    }
}

fn settings(c: &Common, cfg: &Config, config: ConfigSeen) -> Settings {
    let (old, new) = match (&c.reader, &c.old_reader, &c.new_reader) {
        (Some(r), _, _) => (r.clone(), None),
        (None, Some(o), Some(n)) => (o.clone(), Some(n.clone())),
        _ => match (&cfg.readers.card, &cfg.readers.old, &cfg.readers.new) {
            (Some(r), _, _) => (selector(r), None),
            (None, Some(o), Some(n)) => (selector(o), Some(selector(n))),
            _ => (ReaderSelector::Index(0), None),
        },
    };
    let (keys, sam_reader) = if c.keys.is_some() || c.sam_reader.is_some() {
        (c.keys.clone(), c.sam_reader.clone())
    } else {
        (cfg.keys.clone(), cfg.readers.psam.as_deref().map(selector))
    };
    let journal = cfg.journal_path(c.journal.as_deref());
    let operator = c
        .operator
        .clone()
        .or_else(|| cfg.operator.clone())
        .or_else(|| std::env::var("USER").ok());
    let lang = c.lang.or(cfg.language);
    Settings {
        old,
        new,
        keys,
        sam_reader,
        journal,
        operator,
        terminal: c.terminal.clone().or_else(|| cfg.terminal.clone()),
        timeout: Duration::from_secs_f64(c.timeout.or(cfg.timeout).unwrap_or(120.0).max(0.0)),
        retries: c.retries.or(cfg.retries),
        lang: lang.unwrap_or_else(Lang::from_env),
        lang_explicit: lang.is_some(),
        ui: c.ui.or(cfg.ui).unwrap_or_default(),
        dump: c.dump.clone(),
        config,
    }
}

/// Why the command stopped.
enum Stopped {
    /// A flow stopped (with the number of recoveries, when they ran out).
    Flow(ActivationError, Option<u32>),
    /// Setup or output failed.
    Setup(Error),
}

impl From<Error> for Stopped {
    fn from(e: Error) -> Stopped {
        Stopped::Setup(e)
    }
}

fn run_flow(common: &Common, job: Job) -> CmdResult {
    let loaded = config::load(common.config.as_deref())?;
    let seen = match (&loaded, config::Source::of(common.config.as_deref())) {
        (Some(_), _) => ConfigSeen::WithoutKeys,
        (None, config::Source::Disabled) => ConfigSeen::Disabled,
        (None, _) => ConfigSeen::Missing,
    };
    let cfg = loaded.map(|l| l.config).unwrap_or_default();
    let s = settings(common, &cfg, seen);
    config::desk::check_activate(&s.old, s.new.as_ref(), s.sam_reader.as_ref())?;
    let asked = match &job {
        Job::Cancel(id) | Job::Resume(Some(id)) => Some(id.as_str()),
        _ => None,
    };
    let _fleet = crate::fleet::hook::Desk::start(
        cfg.fleet.as_ref(),
        common.config.as_deref(),
        &s.journal,
        s.terminal.as_deref(),
        asked,
    );
    let source = match &common.pin_file {
        Some(p) if p.as_os_str() == "-" => PinSource::Stdin,
        Some(p) => PinSource::File(p.clone()),
        None => PinSource::Terminal,
    };
    crate::pin_input::check_source(&source)?;
    let interactive = matches!(source, PinSource::Terminal);
    let run_state = interrupt::RunState::default();
    let mut front = Frontend::choose(FrontendSetup {
        mode: s.ui,
        lang: s.lang,
        lang_explicit: s.lang_explicit,
        pins: PinReader::new(source),
        interactive,
        title: job.title(),
        timeout: s.timeout,
        plan: job.plan(s.new.is_none()),
    });
    let retries = s.retries.unwrap_or(if front.is_guided() { 3 } else { 0 });
    // For the interrupt report's "continue with" line. `args()` panics on an argument
    // that is not UTF-8 (a journal path, say): such bytes are shown lossily there.
    let argv: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let Err(e) = interrupt::watch(interrupt::Watch {
        lang: front.lang(),
        journal: s.journal.clone(),
        state: run_state.clone(),
        commands: interrupt::Commands::new(&argv, &job),
        tty: interrupt::Tty::save(),
    }) {
        log::warn!("signal handlers not installed ({e}); a signal ends the flow silently");
    }
    let outcome = drive(common, &s, &job, &mut front, retries, &run_state).and_then(|receipt| {
        front.finished(receipt.as_ref());
        if let Some(r) = &receipt {
            print_receipt(common.receipt, &front, r)?;
        }
        Ok(())
    });
    interrupt::yield_to_signal();
    match outcome {
        Ok(()) => Ok(ExitCode::Ok),
        Err(Stopped::Flow(e, gave_up)) => {
            if front.failed(Failure::Activation(&e), gave_up) {
                let e = Error::from(e);
                if common.receipt == ReceiptFormat::Json {
                    // Shown on the screen; the caller that asked for JSON gets it too.
                    crate::output::print_error(&e);
                }
                Ok(e.exit_code())
            } else {
                Err(e.into())
            }
        }
        Err(Stopped::Setup(e)) => {
            if front.failed(Failure::Other(&e), None) {
                if common.receipt == ReceiptFormat::Json {
                    crate::output::print_error(&e);
                }
                Ok(e.exit_code())
            } else {
                Err(e)
            }
        }
    }
}

fn print_receipt(format: ReceiptFormat, front: &Frontend, r: &Receipt) -> Result<(), Stopped> {
    let text = match format {
        ReceiptFormat::Text if !front.stdout_receipt() => return Ok(()),
        ReceiptFormat::Text => front.receipt_text(r),
        ReceiptFormat::Json => {
            crate::output::mark_printed();
            let mut j = crate::output::to_line(crate::output::Doc::Receipt, r)?;
            j.push('\n');
            j
        }
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| {
            Stopped::Setup(Error::Io {
                path: "stdout".into(),
                source: e,
            })
        })
}

/// Opens the readers; when pcscd or a reader is missing and recovery is allowed,
/// waits for them (up to the card timeout) instead of failing at once.
fn open_slots(front: &mut Frontend, s: &Settings, wait: bool) -> Result<Slots, Error> {
    let opened = |s: &Settings| {
        Slots::new(&s.old, s.new.as_ref(), s.timeout).map(|mut slots| {
            slots.dump = s.dump.clone();
            slots
        })
    };
    let first = match opened(s) {
        Ok(slots) => return Ok(slots),
        Err(e) => Error::from(e),
    };
    if !wait || !trouble::of_error(&first).is_some_and(|t| t.needs_service()) {
        return Err(first);
    }
    front.waiting_for_service(s.timeout);
    let deadline = Instant::now() + s.timeout;
    loop {
        // pcscd cannot wake a client that has no daemon to wait on: poll it.
        std::thread::sleep(Duration::from_millis(400));
        match opened(s) {
            Ok(slots) => {
                front.service_back();
                return Ok(slots);
            }
            Err(e) if Instant::now() >= deadline => return Err(e.into()),
            Err(_) => {}
        }
    }
}

/// After a card was pulled, gives pcscd the moment it needs to see the removal
/// (it polls vpcd every 400 ms; real readers report within a few ms), so the next
/// attempt starts from the reader's true state instead of a card that is gone.
/// Event-driven: returns at the first removal, or after 700 ms when nothing left.
fn settle_after_pull() {
    let Ok(mut w) = Watcher::new() else { return };
    let deadline = Instant::now() + Duration::from_millis(700);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match w.next_events(Some(left)) {
            Ok(ev) if ev.iter().any(|e| matches!(e, Event::CardRemoved { .. })) => return,
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

/// Unfinished journal entries that differ from `before` (created or advanced since).
fn touched(
    journal: &Journal,
    before: &HashMap<String, (journal::State, String)>,
) -> Vec<journal::Entry> {
    journal
        .unfinished()
        .unwrap_or_default()
        .into_iter()
        .filter(|e| before.get(&e.id) != Some(&(e.state, e.updated_at.clone())))
        .collect()
}

fn attempt(cx: &mut Context<'_>, what: &Attempt) -> Result<Option<Receipt>, ActivationError> {
    let entry = |cx: &Context<'_>, id: &str| -> Result<_, ActivationError> {
        Ok(cx.journal.get(id)?.as_ref().and_then(driver::journal_entry))
    };
    let parse = |id: &str| {
        TransferId::parse(id).ok_or_else(|| {
            ActivationError::Refused(DeskRefusal::NotTransferId {
                text: id.to_string(),
            })
        })
    };
    let start = match what {
        Attempt::Pharmacy => Start::Pharmacy,
        Attempt::Resume(id) => {
            let entry = match id {
                Some(id) => {
                    let x = parse(id)?;
                    // One process per transfer: claim it before touching a card.
                    cx.journal.claim(&x.hex())?;
                    Some(entry(cx, &x.hex())?.ok_or_else(|| {
                        ActivationError::Refused(DeskRefusal::NoJournalEntry { id: x })
                    })?)
                }
                None => None,
            };
            let old_card_present = match id {
                Some(_) => cx
                    .slots
                    .holds(crate::activation::desk::Want::OldCard, cx.profiles)?,
                None => true,
            };
            Start::Resume {
                entry,
                old_card_present,
            }
        }
        Attempt::Cancel(id) => {
            let x = parse(id)?;
            cx.journal.claim(&x.hex())?;
            Start::Cancel {
                id: x,
                entry: entry(cx, &x.hex())?,
            }
        }
        Attempt::Window {
            flow,
            citizen_id,
            verify_pin,
        } => match flow {
            Flow::FirstUse => Start::FirstUse {
                verify_pin: *verify_pin,
            },
            _ => Start::Window {
                citizen_id: citizen_id.clone(),
                verify_pin: *verify_pin,
            },
        },
    };
    match driver::run(cx, start)? {
        Outcome::Done(r) => Ok(Some(r)),
        Outcome::Cancelled { .. } => Ok(None),
    }
}

fn drive(
    common: &Common,
    s: &Settings,
    job: &Job,
    front: &mut Frontend,
    retries: u32,
    run_state: &interrupt::RunState,
) -> Result<Option<Receipt>, Stopped> {
    let mut profiles = Profiles::builtin().map_err(|e| Error::InvalidData(e.to_string()))?;
    for p in &common.profile {
        profiles
            .add_file(p)
            .map_err(|e| Error::InvalidData(e.to_string()))?;
    }
    let mut slots = open_slots(front, s, retries > 0)?;
    let setup = |e| Stopped::Flow(e, None);
    let mut sam = open_sam(s.keys.as_ref(), s.sam_reader.as_ref(), s.config).map_err(setup)?;
    let terminal = match (&s.terminal, sam.terminal_number()) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t,
        (None, None) => return Err(setup(ActivationError::Setup(Setup::NoTerminal))),
    };
    if terminal.len() != 12 || !terminal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(setup(ActivationError::Setup(Setup::BadTerminal(terminal))));
    }
    let mut journal = Journal::open(&s.journal).map_err(|e| Error::Other {
        message: e.to_string(),
        code: ExitCode::Journal,
    })?;
    let before: HashMap<String, (journal::State, String)> = journal
        .unfinished()
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.id, (e.state, e.updated_at)))
        .collect();
    run_state.started(before.clone());
    front.set_context(
        &terminal,
        s.operator.as_deref(),
        job.plan(slots.one_reader()),
    );
    let today = crate::card::clock::today().map_err(Error::InvalidData)?;
    let mut what = job.first();
    let mut recovered = 0u32;
    let mut force_last_try = common.force_last_try;
    let mut asked_last_try = false;
    loop {
        let result = {
            let mut cx = Context {
                profiles: &profiles,
                sam: sam.as_mut(),
                journal: &mut journal,
                desk: front.desk(),
                slots: &mut slots,
                terminal: terminal.clone(),
                operator: s.operator.clone().unwrap_or_else(|| "unknown".into()),
                today,
                force_last_try,
            };
            attempt(&mut cx, &what)
        };
        let e = match result {
            Ok(r) => return Ok(r),
            Err(e) => e,
        };
        // The one recovery policy (activation::driver::recovery).
        match driver::recovery(&e) {
            // A recovery that found the old card still active: this run stopped before
            // the freeze, so the pharmacy flow starts again.
            Recovery::StartAgain
                if matches!(job, Job::Pharmacy) && what == Attempt::Resume(None) =>
            {
                what = Attempt::Pharmacy;
                continue;
            }
            // Only one PIN try left: nothing was written; ask the operator once.
            Recovery::AskLastTry if !force_last_try && !asked_last_try => {
                asked_last_try = true;
                if front.confirm_last_try() {
                    force_last_try = true;
                    continue;
                }
                return Err(Stopped::Flow(e, None));
            }
            Recovery::Resume => {}
            _ => return Err(Stopped::Flow(e, None)),
        }
        let Some(mut t) = trouble::classify(&e) else {
            return Err(Stopped::Flow(e, None));
        };
        // A card exchange fails in many ways when pcscd itself went away: say so.
        if !t.needs_service() && crate::reader::establish().is_err() {
            t = trouble::Trouble::ServiceDown;
        }
        if recovered >= retries {
            return Err(Stopped::Flow(e, (retries > 0).then_some(recovered)));
        }
        let Some(next) = job.next(&touched(&journal, &before)) else {
            return Err(Stopped::Flow(e, None));
        };
        recovered += 1;
        log::info!("recovering from '{e}' ({t:?}), attempt {recovered} of {retries}: {next:?}");
        front.trouble(t, recovered, retries);
        if matches!(
            t,
            trouble::Trouble::CardPulled | trouble::Trouble::BadContact
        ) {
            settle_after_pull();
        }
        // Connections made before the failure may be dead (pcscd restarted, PSAM
        // reset): open them again, waiting for the service when it is gone.
        drop(slots);
        slots = match open_slots(front, s, true) {
            Ok(sl) => sl,
            Err(err) => return Err(Stopped::Setup(err)),
        };
        if s.keys.is_none() {
            sam = open_sam(s.keys.as_ref(), s.sam_reader.as_ref(), s.config)
                .map_err(|e| Stopped::Flow(e, None))?;
        }
        what = next;
    }
}

/// Ctrl-C, a closed window or SIGTERM during an activation (issue 15 §2).
///
/// Why signal-hook (already used by `testbed` and the long-running commands): a
/// signal handler may do almost nothing safely, and signal-hook's iterator turns the
/// signal into an ordinary event on an ordinary thread, where reading the journal,
/// restoring the terminal and printing are allowed. Its
/// `register_conditional_shutdown` is the documented "second Ctrl-C exits at once":
/// armed by the first signal, it ends the process from the handler itself should the
/// first one's report hang (a journal locked by a write in progress waits up to 5 s).
/// `ctrlc` covers SIGINT/SIGTERM only (SIGHUP, the closed window, is the point here).
///
/// Why the journal and not the driver: the journal is written *before* every card
/// write, so the unfinished entries this run created or advanced say where the cards
/// can stand, without the flow's code knowing about signals.
mod interrupt {
    use super::{Attempt, Job};
    use crate::activation::journal::{self, Journal};
    use crate::cli::process;
    use crate::ui::i18n::Lang;
    use crate::ui::messages::{interrupted, Interrupted, StoppedBy};
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    type Before = HashMap<String, (journal::State, String)>;

    /// The unfinished journal entries as they were when this run opened the journal
    /// (`None` before that: nothing can have been written yet).
    #[derive(Clone, Default)]
    pub struct RunState(Arc<Mutex<Option<Before>>>);

    impl RunState {
        /// The run opened the journal; `before` is what it held unfinished.
        pub fn started(&self, before: Before) {
            if let Ok(mut g) = self.0.lock() {
                *g = Some(before);
            }
        }

        fn before(&self) -> Option<Before> {
            self.0.lock().ok().and_then(|g| g.clone())
        }
    }

    /// The command lines the desk is given, built from this run's own arguments
    /// (which never hold a PIN: PINs come from the terminal or a file).
    pub struct Commands {
        argv: Vec<String>,
        job_id: Option<String>,
    }

    /// The flows' subcommand names.
    const FLOWS: [&str; 5] = ["pharmacy", "window", "first-use", "resume", "cancel"];

    impl Commands {
        /// From `argv` (program first) of a run of `job`.
        pub fn new(argv: &[String], job: &Job) -> Commands {
            let job_id = match job.first() {
                Attempt::Resume(id) => id,
                Attempt::Cancel(id) => Some(id),
                _ => None,
            };
            Commands {
                argv: argv.to_vec(),
                job_id,
            }
        }

        /// This run's own command, as typed.
        pub fn again(&self) -> String {
            shell_line(&self.argv)
        }

        /// The same options with the flow replaced by `verb ID` (`resume`, `cancel`):
        /// the window-only options, this run's own transfer id, `--force-last-try` and
        /// `--dump FILE` are left out.
        pub fn with(&self, verb: &str, id: &str) -> String {
            let a = &self.argv;
            let Some(at) = a
                .iter()
                .position(|t| t == "activate")
                .and_then(|i| (i + 1..a.len()).find(|&j| FLOWS.contains(&a[j].as_str())))
            else {
                return shell_line(&["sscard".into(), "activate".into(), verb.into(), id.into()]);
            };
            // Not carried over: the last-try override (a safety answer for that run
            // alone) and the transcript file (the next run would overwrite it).
            let once = |t: &str| t == "--force-last-try" || t.starts_with("--dump=");
            let mut out: Vec<String> = Vec::new();
            let mut head = a[..at].iter();
            while let Some(t) = head.next() {
                if t == "--dump" {
                    head.next();
                } else if !once(t) {
                    out.push(t.clone());
                }
            }
            out.push(verb.into());
            out.push(id.into());
            let mut rest = a[at + 1..].iter();
            let mut dropped_id = false;
            while let Some(t) = rest.next() {
                if t == "--citizen-id" || t == "--dump" {
                    rest.next();
                    continue;
                }
                if t.starts_with("--citizen-id=") || t == "--verify-pin" || once(t) {
                    continue;
                }
                if !dropped_id && self.job_id.as_deref() == Some(t.as_str()) {
                    dropped_id = true;
                    continue;
                }
                out.push(t.clone());
            }
            shell_line(&out)
        }
    }

    /// Words joined for `sh`, quoted where needed.
    fn shell_line(words: &[String]) -> String {
        words
            .iter()
            .map(|w| {
                let plain = !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_./:=@%+,-".contains(&b));
                if plain {
                    w.clone()
                } else {
                    format!("'{}'", w.replace('\'', "'\\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The controlling terminal's settings before any PIN prompt turned echo off.
    pub struct Tty(Option<(std::fs::File, nix::sys::termios::Termios)>);

    impl Tty {
        /// Saves the settings of `/dev/tty`, when there is one.
        pub fn save() -> Tty {
            let saved = std::fs::File::open("/dev/tty").ok().and_then(|f| {
                let t = nix::sys::termios::tcgetattr(&f).ok()?;
                Some((f, t))
            });
            Tty(saved)
        }

        /// Puts them back (echo on again).
        fn restore(&self) {
            if let Some((f, t)) = &self.0 {
                let _ = nix::sys::termios::tcsetattr(f, nix::sys::termios::SetArg::TCSANOW, t);
            }
        }
    }

    /// What the watcher needs.
    pub struct Watch {
        /// The desk's language.
        pub lang: Lang,
        /// The journal this run writes.
        pub journal: PathBuf,
        /// What it held before.
        pub state: RunState,
        /// The command lines to give.
        pub commands: Commands,
        /// The terminal to restore.
        pub tty: Tty,
    }

    /// Where the cards stand, from the unfinished entries this run created or
    /// advanced (`touched`).
    pub fn where_cards_stand(touched: &[journal::Entry], c: &Commands) -> Interrupted {
        use journal::State as S;
        let Some(e) = touched.iter().max_by_key(|e| &e.updated_at) else {
            return Interrupted::NothingWritten { command: c.again() };
        };
        let id = e.id.clone();
        match (e.flow, e.state) {
            (journal::Flow::Pharmacy, S::Freezing) => Interrupted::Freezing {
                command: c.with("resume", &id),
                id,
            },
            (journal::Flow::Pharmacy, S::Frozen | S::Crediting) => Interrupted::Frozen {
                command: c.with("resume", &id),
                id,
            },
            (journal::Flow::Pharmacy, S::Credited | S::Complete) => Interrupted::Credited {
                command: c.with("resume", &id),
                id,
            },
            (journal::Flow::Pharmacy, S::Voiding | S::Voided | S::Cancelling | S::Cancelled) => {
                Interrupted::Cancelling {
                    command: c.with("cancel", &id),
                    id,
                }
            }
            // Window and first use: a journaled activation cannot be resumed; the
            // same command again reads the card's status and finishes or refuses.
            (journal::Flow::Window | journal::Flow::FirstUse, _) => Interrupted::Activating {
                command: c.again(),
                id,
            },
        }
    }

    fn report(w: &Watch, sig: i32) -> String {
        let touched: Vec<journal::Entry> = match w.state.before() {
            None => Vec::new(),
            Some(before) => Journal::open(&w.journal)
                .and_then(|j| j.unfinished())
                .unwrap_or_default()
                .into_iter()
                .filter(|e| before.get(&e.id) != Some(&(e.state, e.updated_at.clone())))
                .collect(),
        };
        let by = match sig {
            signal_hook::consts::SIGINT => StoppedBy::CtrlC,
            signal_hook::consts::SIGHUP => StoppedBy::WindowClosed,
            _ => StoppedBy::Terminated,
        };
        interrupted(w.lang, by, &where_cards_stand(&touched, &w.commands))
    }

    /// Set from the signal handler itself (async-signal-safe), before the watcher
    /// thread wakes.
    static CAUGHT: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

    /// Called by the flow's thread before it reports an outcome: when a stop signal
    /// came, the watcher is reporting it and ends the process, so the flow's own
    /// failure (a PIN prompt cut short by Ctrl-C reads as "no input") must not win
    /// the race and print or exit first. Waits at most 10 s (a journal locked by
    /// another process waits 5 s), then lets the flow go on.
    pub fn yield_to_signal() {
        let Some(caught) = CAUGHT.get() else { return };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while caught.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Installs the handlers and the watcher thread.
    ///
    /// # Errors
    /// The handlers could not be installed.
    pub fn watch(w: Watch) -> std::io::Result<()> {
        let caught = Arc::clone(CAUGHT.get_or_init(|| Arc::new(AtomicBool::new(false))));
        for sig in process::STOP_SIGNALS {
            signal_hook::flag::register(sig, Arc::clone(&caught))?;
        }
        let armed = Arc::new(AtomicBool::new(false));
        for sig in process::STOP_SIGNALS {
            signal_hook::flag::register_conditional_shutdown(
                sig,
                process::signal_exit(sig),
                Arc::clone(&armed),
            )?;
        }
        let mut signals = signal_hook::iterator::Signals::new(process::STOP_SIGNALS)?;
        std::thread::Builder::new()
            .name("interrupt".into())
            .spawn(move || {
                if let Some(sig) = signals.forever().next() {
                    armed.store(true, Ordering::SeqCst);
                    w.tty.restore();
                    let text = report(&w, sig);
                    log::warn!("activation interrupted by {}", process::signal_name(sig));
                    // The terminal may be gone (SIGHUP): nothing to do about that.
                    use std::io::Write;
                    let mut err = std::io::stderr().lock();
                    let _ = writeln!(err, "\n{text}");
                    let _ = err.flush();
                    std::process::exit(process::signal_exit(sig));
                }
            })?;
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::activation::journal::{Entry, Flow, State};

        fn entry(flow: Flow, state: State, at: &str) -> Entry {
            Entry {
                id: format!("ID{at}"),
                flow,
                state,
                terminal: String::new(),
                operator: String::new(),
                citizen_id: String::new(),
                holder_name: String::new(),
                old_card: None,
                new_card: None,
                account: None,
                category: None,
                balance_fen: None,
                counter: None,
                legacy: false,
                created_at: String::new(),
                updated_at: at.into(),
            }
        }

        fn argv(s: &str) -> Vec<String> {
            s.split(' ').map(str::to_string).collect()
        }

        #[test]
        fn the_continuing_command_keeps_the_options_and_names_the_transfer() {
            let c = Commands::new(
                &argv("/usr/bin/sscard -v activate pharmacy --reader 0 --keys /k --journal /j"),
                &Job::Pharmacy,
            );
            assert_eq!(
                c.with("resume", "AB"),
                "/usr/bin/sscard -v activate resume AB --reader 0 --keys /k --journal /j"
            );
            assert_eq!(
                c.again(),
                "/usr/bin/sscard -v activate pharmacy --reader 0 --keys /k --journal /j"
            );
            let c = Commands::new(
                &argv("sscard activate resume CD --reader=Virtual"),
                &Job::Resume(Some("CD".into())),
            );
            assert_eq!(
                c.with("resume", "CD"),
                "sscard activate resume CD --reader=Virtual"
            );
            let c = Commands::new(
                &argv("sscard activate window --citizen-id 11 --verify-pin --reader 0"),
                &Job::Window {
                    flow: Flow::Window,
                    citizen_id: Some("11".into()),
                    verify_pin: true,
                },
            );
            assert_eq!(
                c.with("cancel", "EF"),
                "sscard activate cancel EF --reader 0"
            );
            // The last-try override and the transcript are this run's alone.
            let c = Commands::new(
                &argv("sscard activate pharmacy --force-last-try --dump /t --reader 0 --dump=/u"),
                &Job::Pharmacy,
            );
            assert_eq!(
                c.with("resume", "AB"),
                "sscard activate resume AB --reader 0"
            );
            // Quoting for sh.
            let c = Commands::new(
                &[
                    "sscard".into(),
                    "activate".into(),
                    "pharmacy".into(),
                    "--reader".into(),
                    "Reader 00 it's".into(),
                ],
                &Job::Pharmacy,
            );
            assert_eq!(
                c.with("resume", "AB"),
                "sscard activate resume AB --reader 'Reader 00 it'\\''s'"
            );
        }

        #[test]
        fn the_state_comes_from_what_this_run_journaled() {
            let c = Commands::new(&argv("sscard activate pharmacy --reader 0"), &Job::Pharmacy);
            assert_eq!(
                where_cards_stand(&[], &c),
                Interrupted::NothingWritten {
                    command: "sscard activate pharmacy --reader 0".into()
                }
            );
            let resume = |id: &str| format!("sscard activate resume {id} --reader 0");
            for (state, want) in [
                (State::Freezing, "Freezing"),
                (State::Frozen, "Frozen"),
                (State::Crediting, "Frozen"),
                (State::Credited, "Credited"),
                (State::Voiding, "Cancelling"),
                (State::Cancelling, "Cancelling"),
            ] {
                let got = where_cards_stand(&[entry(Flow::Pharmacy, state, "1")], &c);
                assert!(format!("{got:?}").starts_with(want), "{state:?}: {got:?}");
                let cmd = match &got {
                    Interrupted::Freezing { command, .. }
                    | Interrupted::Frozen { command, .. }
                    | Interrupted::Credited { command, .. }
                    | Interrupted::Cancelling { command, .. } => command.clone(),
                    other => panic!("{other:?}"),
                };
                let verb = if want == "Cancelling" {
                    "cancel"
                } else {
                    "resume"
                };
                assert_eq!(cmd, resume("ID1").replace("resume", verb));
            }
            // The newest of several entries this run touched.
            let got = where_cards_stand(
                &[
                    entry(Flow::Pharmacy, State::Frozen, "2"),
                    entry(Flow::Pharmacy, State::Freezing, "1"),
                ],
                &c,
            );
            assert_eq!(
                got,
                Interrupted::Frozen {
                    id: "ID2".into(),
                    command: resume("ID2")
                }
            );
            let w = Commands::new(&argv("sscard activate window --reader 0"), &Job::Pharmacy);
            assert!(matches!(
                where_cards_stand(&[entry(Flow::Window, State::Crediting, "3")], &w),
                Interrupted::Activating { command, .. } if command == "sscard activate window --reader 0"
            ));
        }
    }
}

/// Runs `sscard activate`.
pub fn run(args: &ActivateArgs) -> CmdResult {
    match &args.command {
        ActivateCommand::Pharmacy(c) => run_flow(c, Job::Pharmacy),
        ActivateCommand::Window(w) => window(w, Flow::Window),
        ActivateCommand::FirstUse(w) => window(w, Flow::FirstUse),
        ActivateCommand::Resume { id, common } => run_flow(common, Job::Resume(id.clone())),
        ActivateCommand::Cancel { id, common } => run_flow(common, Job::Cancel(id.clone())),
    }
}

fn window(w: &WindowArgs, flow: Flow) -> CmdResult {
    run_flow(
        &w.common,
        Job::Window {
            flow,
            citizen_id: w.citizen_id.clone(),
            verify_pin: w.verify_pin,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn common(args: &[&str]) -> Common {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            c: Common,
        }
        let mut v = vec!["t"];
        v.extend(args);
        T::parse_from(v).c
    }

    #[test]
    fn flags_win_over_the_configuration() {
        let cfg = config::parse(
            std::path::Path::new("/etc/sscard/sscard.toml"),
            "language = \"zh\"\noperator = \"desk-1\"\nterminal = \"639900000009\"\ntimeout = 30\n\
             journal = \"/var/j.sqlite\"\n[readers]\nold = \"A\"\nnew = \"B\"\npsam = \"SAM\"",
        )
        .unwrap();
        let s = settings(
            &common(&["--config", "none"]),
            &cfg,
            ConfigSeen::WithoutKeys,
        );
        assert_eq!(s.old, ReaderSelector::Name("A".into()));
        assert_eq!(s.new, Some(ReaderSelector::Name("B".into())));
        assert_eq!(s.sam_reader, Some(ReaderSelector::Name("SAM".into())));
        assert_eq!(s.operator.as_deref(), Some("desk-1"));
        assert_eq!(s.terminal.as_deref(), Some("639900000009"));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!((s.lang, s.lang_explicit), (Lang::Zh, true));
        let s = settings(
            &common(&[
                "--reader",
                "0",
                "--keys",
                "k",
                "--operator",
                "me",
                "--terminal",
                "639900000001",
                "--timeout",
                "5",
                "--lang",
                "en",
                "--ui",
                "plain",
                "--journal",
                "/j",
            ]),
            &cfg,
            ConfigSeen::WithoutKeys,
        );
        assert_eq!((s.old, s.new), (ReaderSelector::Index(0), None));
        assert_eq!((s.keys, s.sam_reader), (Some(PathBuf::from("k")), None));
        assert_eq!(s.operator.as_deref(), Some("me"));
        assert_eq!(s.terminal.as_deref(), Some("639900000001"));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!((s.lang, s.ui), (Lang::En, UiMode::Plain));
        assert_eq!(s.journal, PathBuf::from("/j"));
    }

    #[test]
    fn recovery_goes_on_only_where_it_is_safe() {
        let entry = |state| journal::Entry {
            id: "AA".into(),
            flow: Flow::Pharmacy,
            state,
            terminal: String::new(),
            operator: String::new(),
            citizen_id: String::new(),
            holder_name: String::new(),
            old_card: None,
            new_card: None,
            account: None,
            category: None,
            balance_fen: None,
            counter: None,
            legacy: false,
            created_at: String::new(),
            updated_at: String::new(),
        };
        use journal::State;
        assert_eq!(Job::Pharmacy.next(&[]), Some(Attempt::Pharmacy));
        assert_eq!(Job::Resume(None).next(&[]), Some(Attempt::Resume(None)));
        assert_eq!(
            Job::Pharmacy.next(&[entry(State::Freezing)]),
            Some(Attempt::Resume(None))
        );
        assert_eq!(
            Job::Pharmacy.next(&[entry(State::Crediting)]),
            Some(Attempt::Resume(Some("AA".into())))
        );
        let w = Job::Window {
            flow: Flow::Window,
            citizen_id: None,
            verify_pin: false,
        };
        assert!(matches!(w.next(&[]), Some(Attempt::Window { .. })));
        assert_eq!(w.next(&[entry(State::Crediting)]), None);
        assert_eq!(
            Job::Cancel("AA".into()).next(&[entry(State::Frozen)]),
            Some(Attempt::Cancel("AA".into()))
        );
    }
}
