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
//!   [`driver::recovery`](crate::activation::driver::recovery) (typed errors, no
//!   matching on text; never after a wrong key). This is safe because the flows
//!   keep the money invariants after a fault at any APDU and `resume` applies a
//!   transfer at most once. Attempts are bounded
//!   (`--retries`, 3 on the guided screen, 0 in plain mode so scripts see the fault);
//!   when they run out, the command exits with the last failure's own code (5 card
//!   lost, 3 pcscd/reader, 15 timeout), so scripts can still tell failures apart.
//! - **Interruptions** (the `interrupt` module). Ctrl-C, a closed window (SIGHUP) or SIGTERM
//!   mid-transfer used to print only `^C`, with the old card possibly frozen. Now the
//!   desk is told where the cards stand (read from the journal, which is written
//!   before every card write), the transfer id, and the exact command that
//!   continues; the terminal's echo is turned back on (a PIN prompt turns it off) and
//!   the exit status is `128 + signal`. A second Ctrl-C exits at once.
//!
//! The files: `args` (the options), `settings` (flags, then the configuration,
//! then defaults; opening the SAM), `job` (what was asked and what runs after a
//! recoverable failure), `run` (the attempt loop and its outcome), `wait`
//! (waiting for pcscd, a reader or a pulled card to settle) and `interrupt`.

mod args;
mod interrupt;
mod job;
mod run;
mod settings;
mod wait;

pub use args::{ActivateArgs, ActivateCommand, Common, ReceiptFormat, WindowArgs};
pub use settings::open_sam;

use super::CmdResult;
use crate::activation::journal::Flow;
use crate::ui::i18n::Lang;
use job::Job;
use run::run_flow;

/// Runs `sscard activate`; `lang` is the global `--lang` (else the configuration's
/// `language`, else the locale).
///
/// # Errors
/// Setup and output failures the desk could not show itself (a flow's own failure
/// is shown at the desk and becomes the exit code).
pub fn run(args: &ActivateArgs, lang: Option<Lang>) -> CmdResult {
    match &args.command {
        ActivateCommand::Pharmacy(c) => run_flow(c, lang, Job::Pharmacy),
        ActivateCommand::Window(w) => window(w, lang, Flow::Window),
        ActivateCommand::FirstUse(w) => window(w, lang, Flow::FirstUse),
        ActivateCommand::Resume { id, common } => run_flow(common, lang, Job::Resume(id.clone())),
        ActivateCommand::Cancel { id, common } => run_flow(common, lang, Job::Cancel(id.clone())),
    }
}

fn window(w: &WindowArgs, lang: Option<Lang>, flow: Flow) -> CmdResult {
    run_flow(
        &w.common,
        lang,
        Job::Window {
            flow,
            citizen_id: w.citizen_id.clone(),
            verify_pin: w.verify_pin,
        },
    )
}
