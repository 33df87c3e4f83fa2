//! `sscard readers [--watch] [--json]`: readers, cards, and their events.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::reader::{establish, list_readers, Event, Watcher};
use std::io::Write;
use std::time::{Duration, Instant};

/// Arguments of `sscard readers`.
#[derive(clap::Args, Debug)]
pub struct ReadersArgs {
    /// Keep running and print card/reader events as they happen.
    #[arg(long)]
    pub watch: bool,
    /// JSON output (one object, or one object per event line with --watch).
    #[arg(long)]
    pub json: bool,
    /// With --watch: stop after this many seconds.
    #[arg(long, value_name = "SECS", value_parser = super::bounds::seconds)]
    pub timeout: Option<f64>,
    /// With --watch: stop after this many events.
    #[arg(long, value_name = "N", value_parser = super::bounds::events)]
    pub events: Option<usize>,
}

/// Runs `sscard readers`.
pub fn run(args: &ReadersArgs) -> CmdResult {
    if args.watch {
        return watch(args);
    }
    let ctx = establish()?;
    let readers = list_readers(&ctx)?;
    if args.json {
        let doc = serde_json::json!({ "schema_version": "1.0", "readers": readers });
        println!("{doc}");
    } else if readers.is_empty() {
        println!("no readers");
    } else {
        for r in &readers {
            let what = match (&r.atr, r.card_present) {
                (Some(atr), _) => format!("card  ATR {atr}"),
                (None, true) => "card (no ATR)".into(),
                (None, false) => "empty".into(),
            };
            println!("{}: {}  [{}]", r.index, r.name, what);
        }
    }
    Ok(ExitCode::Ok)
}

fn print_event(e: &Event, json: bool) -> Result<(), Error> {
    let line = if json {
        serde_json::to_string(e).map_err(|e| Error::InvalidData(e.to_string()))?
    } else {
        match e {
            Event::ReaderAdded { reader } => format!("reader added: {reader}"),
            Event::ReaderRemoved { reader } => format!("reader removed: {reader}"),
            Event::CardInserted { reader, atr } => format!("card inserted: {reader}  ATR {atr}"),
            Event::CardRemoved { reader } => format!("card removed: {reader}"),
            Event::ServiceLost => "pcscd stopped; waiting for it to come back".into(),
            Event::ServiceBack => "pcscd is back".into(),
        }
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|_| out.flush())
        .map_err(|e| Error::Io {
            path: "stdout".into(),
            source: e,
        })
}

fn watch(args: &ReadersArgs) -> CmdResult {
    let mut watcher = Watcher::new()?;
    for (reader, atr) in watcher.snapshot() {
        let e = match atr {
            Some(atr) => Event::CardInserted { reader, atr },
            None => Event::ReaderAdded { reader },
        };
        print_event(&e, args.json)?;
    }
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut seen = 0usize;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            return Ok(ExitCode::Ok);
        }
        for e in watcher.next_events(left)? {
            print_event(&e, args.json)?;
            seen += 1;
            if args.events.is_some_and(|n| seen >= n) {
                return Ok(ExitCode::Ok);
            }
        }
    }
}
