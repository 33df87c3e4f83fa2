//! `sscard activate pharmacy|window|first-use|resume|cancel`.

use super::pin_input::{PinReader, PinSource};
use super::CmdResult;
use crate::activation::desk::PlainDesk;
use crate::activation::journal::{self, Flow, Journal};
use crate::activation::slots::Slots;
use crate::activation::window::WindowOptions;
use crate::activation::{pharmacy, recovery, Context};
use crate::apdu::Channel;
use crate::error::{Error, ExitCode};
use crate::profile::Profiles;
use crate::reader::{ConnectOptions, PcscCard, ReaderSelector};
use crate::sam::keyfile::KeyFile;
use crate::sam::psam::Psam;
use crate::sam::Sam;
use std::path::PathBuf;
use std::time::Duration;

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
    /// The journal (default: $SSCARD_JOURNAL, else /var/lib/sscard/journal.sqlite as
    /// root, else ~/.local/state/sscard/journal.sqlite).
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
    /// Seconds to wait for a card to be inserted or removed.
    #[arg(long, default_value_t = 120.0, value_name = "SECS")]
    pub timeout: f64,
    /// Receipt format.
    #[arg(long, value_enum, default_value_t = ReceiptFormat::Text)]
    pub receipt: ReceiptFormat,
    /// Another card profile file (another city's old card).
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<PathBuf>,
    /// Record a transcript of every card exchange (PINs and cryptograms redacted).
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
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

fn keys_error(message: String) -> Error {
    Error::Other {
        message,
        code: ExitCode::Keys,
    }
}

/// Opens the SAM the options name.
pub fn open_sam(keys: Option<&PathBuf>, sam_reader: Option<&ReaderSelector>) -> Result<Box<dyn Sam>, Error> {
    match (keys, sam_reader) {
        (Some(path), _) => Ok(Box::new(
            KeyFile::load(path).map_err(|e| keys_error(e.to_string()))?,
        )),
        (None, Some(sel)) => {
            let card = PcscCard::connect(sel, ConnectOptions::default())?;
            let psam = Psam::open(Channel::new(Box::new(card))).map_err(|e| keys_error(e.to_string()))?;
            Ok(Box::new(psam))
        }
        (None, None) => Err(keys_error(
            "activation needs card keys: give --sam-reader READER (the PSAM) or --keys FILE".into(),
        )),
    }
}

fn run_flow(common: &Common, f: impl FnOnce(&mut Context) -> Result<Option<crate::activation::receipt::Receipt>, crate::activation::ActivationError>) -> CmdResult {
    let mut profiles = Profiles::builtin().map_err(|e| Error::InvalidData(e.to_string()))?;
    for p in &common.profile {
        profiles
            .add_file(p)
            .map_err(|e| Error::InvalidData(e.to_string()))?;
    }
    let mut sam = open_sam(common.keys.as_ref(), common.sam_reader.as_ref())?;
    let terminal = match (&common.terminal, sam.terminal_number()) {
        (Some(t), _) => t.clone(),
        (None, Some(t)) => t,
        (None, None) => {
            return Err(keys_error(
                "no terminal number: the SAM has none; give --terminal DIGITS".into(),
            ))
        }
    };
    if terminal.len() != 12 || !terminal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidData(format!(
            "terminal number '{terminal}' is not 12 digits"
        )));
    }
    let operator = common
        .operator
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let path = common.journal.clone().unwrap_or_else(journal::default_path);
    let mut journal = Journal::open(&path).map_err(|e| Error::Other {
        message: e.to_string(),
        code: ExitCode::Journal,
    })?;
    let (old, new) = match (&common.reader, &common.old_reader, &common.new_reader) {
        (Some(r), _, _) => (r.clone(), None),
        (None, Some(o), Some(n)) => (o.clone(), Some(n.clone())),
        _ => (ReaderSelector::Index(0), None),
    };
    let mut slots = Slots::new(&old, new.as_ref(), Duration::from_secs_f64(common.timeout.max(0.0)))?;
    slots.dump = common.dump.clone();
    let source = match &common.pin_file {
        Some(p) if p.as_os_str() == "-" => PinSource::Stdin,
        Some(p) => PinSource::File(p.clone()),
        None => PinSource::Terminal,
    };
    let interactive = matches!(source, PinSource::Terminal);
    let mut desk = PlainDesk {
        pins: PinReader::new(source),
        interactive,
    };
    let today = crate::card::clock::today().map_err(Error::InvalidData)?;
    let mut cx = Context {
        profiles: &profiles,
        sam: sam.as_mut(),
        journal: &mut journal,
        desk: &mut desk,
        slots: &mut slots,
        terminal,
        operator,
        today,
        force_last_try: common.force_last_try,
    };
    if let Some(receipt) = f(&mut cx)? {
        match common.receipt {
            ReceiptFormat::Text => print!("{}", receipt.to_text()),
            ReceiptFormat::Json => println!(
                "{}",
                serde_json::to_string(&receipt).map_err(|e| Error::InvalidData(e.to_string()))?
            ),
        }
    }
    Ok(ExitCode::Ok)
}

/// Runs `sscard activate`.
pub fn run(args: &ActivateArgs) -> CmdResult {
    match &args.command {
        ActivateCommand::Pharmacy(c) => run_flow(c, |cx| pharmacy::run(cx).map(Some)),
        ActivateCommand::Window(w) => window(w, Flow::Window),
        ActivateCommand::FirstUse(w) => window(w, Flow::FirstUse),
        ActivateCommand::Resume { id, common } => {
            run_flow(common, |cx| recovery::resume(cx, id.as_deref()).map(Some))
        }
        ActivateCommand::Cancel { id, common } => {
            run_flow(common, |cx| recovery::cancel(cx, id).map(|()| None))
        }
    }
}

fn window(w: &WindowArgs, flow: Flow) -> CmdResult {
    let opts = WindowOptions {
        flow,
        citizen_id: w.citizen_id.clone(),
        verify_pin: w.verify_pin,
    };
    run_flow(&w.common, |cx| {
        crate::activation::window::run(cx, &opts).map(Some)
    })
}
