//! `sscard readers [--watch] [--format text|json]`: readers, cards, and their events.
//!
//! Names are shown decoded for the locale with undecodable bytes as `\xNN`; a name
//! that is GBK but not UTF-8 also gets its GBK reading in the text listing, and the
//! JSON carries the exact bytes (`name_hex`). `--watch` rides out pcscd restarts: it
//! says so on stderr and as `service_lost` / `service_back` events, and when its
//! `--timeout` ends while pcscd is down it exits 3 (pcscd), not 0.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::reader::watch::stderr_notice;
use crate::reader::{establish, list_readers, Charset, Event, Watcher};
use std::io::Write;
use std::time::{Duration, Instant};

/// Arguments of `sscard readers`.
#[derive(clap::Args, Debug)]
pub struct ReadersArgs {
    /// Keep running and print card/reader events as they happen.
    #[arg(long)]
    pub watch: bool,
    /// Output format (`json`: one document, or one document per event line with
    /// --watch).
    #[command(flatten)]
    pub output: crate::output::FormatArgs,
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
    if args.output.is_json() {
        // 1.1: name_hex (exact bytes) and name_gbk added.
        crate::output::print(
            crate::output::Doc::Readers,
            &serde_json::json!({ "readers": readers }),
        )?;
    } else if readers.is_empty() {
        println!("no readers");
    } else {
        for r in &readers {
            let what = match (&r.atr, r.card_present) {
                (Some(atr), _) => format!("card  ATR {atr}"),
                (None, true) => "card (no ATR)".into(),
                (None, false) => "empty".into(),
            };
            let shown = r.name.display_in(Charset::from_locale());
            let gbk = match r.name.gbk() {
                Some(g) if g != shown => format!("  (GBK: {g})"),
                _ => String::new(),
            };
            println!("{}: {shown}  [{what}]{gbk}", r.index);
        }
    }
    Ok(ExitCode::Ok)
}

fn print_event(e: &Event, json: bool) -> Result<(), Error> {
    let line = if json {
        crate::output::to_line(crate::output::Doc::ReaderEvent, e)?
    } else {
        match e {
            Event::ReaderAdded { reader } => format!("reader added: {reader}"),
            Event::ReaderRemoved { reader } => format!("reader removed: {reader}"),
            Event::CardInserted { reader, atr } => format!("card inserted: {reader}  ATR {atr}"),
            Event::CardRemoved { reader } => format!("card removed: {reader}"),
            Event::ServiceLost => crate::reader::watch::SERVICE_LOST_TEXT.into(),
            Event::ServiceBack => crate::reader::watch::SERVICE_BACK_TEXT.into(),
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
    let mut watcher = Watcher::new_patient()?;
    if !watcher.service_up() {
        stderr_notice(&Event::ServiceLost);
        print_event(&Event::ServiceLost, args.output.is_json())?;
    }
    for (reader, atr) in watcher.snapshot() {
        let e = match atr {
            Some(atr) => Event::CardInserted { reader, atr },
            None => Event::ReaderAdded { reader },
        };
        print_event(&e, args.output.is_json())?;
    }
    let deadline = args
        .timeout
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut seen = 0usize;
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left == Some(Duration::ZERO) {
            if !watcher.service_up() {
                return Err(Error::Transport(crate::apdu::TransportError::NoService(
                    "pcscd was still down when --timeout ended".into(),
                )));
            }
            return Ok(ExitCode::Ok);
        }
        for e in watcher.next_events(left)? {
            stderr_notice(&e);
            print_event(&e, args.output.is_json())?;
            seen += 1;
            if args.events.is_some_and(|n| seen >= n) {
                return Ok(ExitCode::Ok);
            }
        }
    }
}
