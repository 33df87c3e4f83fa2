//! `sscard wait [--removed]`: block until a card is in (or out of) a reader.
//!
//! For shell scripts and tests: it waits on card events (no polling) and exits 0 when
//! the condition holds, or with the timeout exit code. pcscd stopping (or not running
//! yet) does not end the wait: it says so on stderr, reconnects when pcscd is back
//! and goes on waiting; if the timeout ends while pcscd is down it exits 3 (pcscd),
//! never 5 (card).

use super::CmdResult;
use crate::apdu::TransportError;
use crate::error::{Error, ExitCode};
use crate::reader::watch::stderr_notice;
use crate::reader::{Event, ReaderSelector, Watcher};
use std::time::{Duration, Instant};

/// Arguments of `sscard wait`.
#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    /// The reader (index or part of the name); default: the first reader.
    #[arg(long, short)]
    pub reader: Option<ReaderSelector>,
    /// Wait until the reader is empty instead.
    #[arg(long)]
    pub removed: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "SECS", value_parser = super::bounds::seconds)]
    pub timeout: f64,
}

/// Runs `sscard wait`.
pub fn run(args: &WaitArgs) -> CmdResult {
    let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
    let deadline = Instant::now() + timeout;
    let mut watcher = Watcher::new_patient()?;
    if !watcher.service_up() {
        stderr_notice(&Event::ServiceLost);
    }
    // The reader is named by the list pcscd gives, so wait for pcscd first.
    while !watcher.service_up() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Transport(TransportError::NoService(format!(
                "pcscd did not come up within {} s",
                args.timeout
            ))));
        }
        for e in watcher.next_events(Some(left))? {
            stderr_notice(&e);
        }
    }
    let readers: Vec<crate::reader::ReaderInfo> = watcher
        .snapshot()
        .into_iter()
        .enumerate()
        .map(|(index, (name, atr))| crate::reader::ReaderInfo {
            index,
            name,
            card_present: atr.is_some(),
            exclusive: false,
            atr,
        })
        .collect();
    let selector = args.reader.clone().unwrap_or(ReaderSelector::Index(0));
    let name = selector.pick(&readers)?.name.clone();
    let left = deadline.saturating_duration_since(Instant::now());
    let done = if args.removed {
        watcher.wait_removal(&name, left)?
    } else {
        watcher.wait_card(&name, left)?.is_some()
    };
    if done {
        Ok(ExitCode::Ok)
    } else {
        Err(Error::Timeout(format!(
            "no card {} '{name}' within {} s",
            if args.removed { "left" } else { "in" },
            args.timeout
        )))
    }
}
