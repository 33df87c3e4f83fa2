//! One run of `sscard activate`: set up the desk, run the flow, and on a recoverable
//! failure tell the desk what to do and run again (bounded by `--retries`); then the
//! receipt, or the failure with its own exit code.

use super::args::{Common, ReceiptFormat};
use super::interrupt;
use super::job::{Attempt, Job};
use super::settings::{open_sam, settings, Settings};
use super::wait::{open_slots, settle_after_pull};
use crate::activation::core::{Start, TransferId};
use crate::activation::driver::{self, Outcome, Recovery};
use crate::activation::error::{ConfigSeen, DeskRefusal, Setup};
use crate::activation::journal::{self, Flow, Journal};
use crate::activation::receipt::Receipt;
use crate::activation::{ActivationError, Context};
use crate::cli::CmdResult;
use crate::config;
use crate::error::{Error, ExitCode};
use crate::pin_input::{PinReader, PinSource};
use crate::profile::Profiles;
use crate::ui::i18n::Lang;
use crate::ui::{trouble, Failure, Frontend, FrontendSetup};
use std::collections::HashMap;
use std::io::Write;

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

pub(super) fn run_flow(common: &Common, lang: Option<Lang>, job: Job) -> CmdResult {
    let loaded = config::load(common.config.as_deref())?;
    let seen = match (&loaded, config::Source::of(common.config.as_deref())) {
        (Some(_), _) => ConfigSeen::WithoutKeys,
        (None, config::Source::Disabled) => ConfigSeen::Disabled,
        (None, _) => ConfigSeen::Missing,
    };
    let cfg = loaded.map(|l| l.config).unwrap_or_default();
    let s = settings(common, lang, &cfg, seen);
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
