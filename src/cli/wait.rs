//! `sscard wait [--removed]`: block until a card is in (or out of) a reader.
//!
//! For shell scripts and tests: it waits on card events (no polling) and exits 0 when
//! the condition holds, or with the timeout exit code.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::reader::{ReaderSelector, Watcher};
use std::time::Duration;

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
    let mut watcher = Watcher::new()?;
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
    let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
    let done = if args.removed {
        watcher.wait_removal(&name, timeout)?
    } else {
        watcher.wait_card(&name, timeout)?.is_some()
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
