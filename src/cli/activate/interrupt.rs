//! Ctrl-C, a closed window or SIGTERM during an activation (issue 15 §2).
//!
//! Why signal-hook (already used by `testbed` and the long-running commands): a
//! signal handler may do almost nothing safely, and signal-hook's iterator turns the
//! signal into an ordinary event on an ordinary thread, where reading the journal,
//! restoring the terminal and printing are allowed. Its
//! `register_conditional_shutdown` is the documented "second Ctrl-C exits at once":
//! armed by the first signal, it ends the process from the handler itself should the
//! first one's report hang (a journal locked by a write in progress waits up to 5 s).
//! `ctrlc` covers SIGINT/SIGTERM only (SIGHUP, the closed window, is the point here).
//!
//! Why the journal and not the driver: the journal is written *before* every card
//! write, so the unfinished entries this run created or advanced say where the cards
//! can stand, without the flow's code knowing about signals.

use super::job::{Attempt, Job};
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
        // Window and first use: `resume ID` reads the new card and finishes the
        // activation under the same journal entry (or refuses a card it cannot).
        (journal::Flow::Window | journal::Flow::FirstUse, _) => Interrupted::Activating {
            command: c.with("resume", &id),
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
        crate::cli::activate::job::tests::entry(&format!("ID{at}"), flow, state, at)
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
            Interrupted::Activating { command, .. } if command == "sscard activate resume ID3 --reader 0"
        ));
    }
}
