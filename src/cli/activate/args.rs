//! The options of `sscard activate` (clap derive): shared by every flow ([`Common`])
//! and the window/first-use extras ([`WindowArgs`]). The desk's language is the
//! global `--lang` ([`crate::cli::Cli::lang`]).

use crate::reader::ReaderSelector;
use crate::ui::UiMode;
use std::path::PathBuf;

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
    #[arg(long, value_name = "SECS", value_parser = crate::config::bounds::seconds)]
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
    /// Screen: `guided` (one instruction at a time, for staff), `plain` (one English
    /// line per message, for scripts), or `auto`: guided when stderr is a terminal.
    #[arg(long, value_enum)]
    pub ui: Option<UiMode>,
    /// How often to recover from a pulled card, a reset, a stopped pcscd or a timeout
    /// before giving up [default: `retries` in the configuration, else 3 guided, 0 plain].
    #[arg(long, value_name = "N", value_parser = crate::config::bounds::retries)]
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
