//! The `sscard` command line: one file per subcommand.
//!
//! Each subcommand has an `Args` struct (clap derive) and a `run` function returning
//! [`crate::error::Error`]; [`main`] prints the error with its hint and exits with the
//! error's own code, so scripts can tell failures apart without parsing text.

pub mod activate;
pub mod atr;
pub mod completions;
pub mod config;
pub mod fleet;
pub mod info;
pub mod journal;
pub mod man;
pub mod pin_input;
pub mod readers;
pub mod script;
pub mod send;
pub mod testbed;
pub mod vcard;
pub mod wait;

use crate::error::{Error, ExitCode};
use clap::{Parser, Subcommand};

/// Smart-card terminal tool for social security cards (社会保障卡).
#[derive(Parser, Debug)]
#[command(name = "sscard", version, about, propagate_version = true)]
pub struct Cli {
    /// Show the APDU trace (secrets redacted); repeat for more detail. RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The subcommand.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// List readers and cards, or watch insertions and removals.
    Readers(readers::ReadersArgs),
    /// Decode the ATR of the inserted card, or of the given hex.
    Atr(atr::AtrArgs),
    /// Detect the card and show everything readable, with its checks.
    Info(info::InfoArgs),
    /// Send APDUs to the card and show the responses.
    Send(send::SendArgs),
    /// Plug a virtual card (an image file) into the vpcd virtual reader until stopped.
    Vcard(vcard::VcardArgs),
    /// Run a command against a private pcscd with virtual cards inserted (needs root).
    Testbed(testbed::TestbedArgs),
    /// Activate a new card: pharmacy dual insert, window, first use; resume or cancel.
    Activate(activate::ActivateArgs),
    /// Read or export the activation journal, or push it to the fleet centre.
    Journal(journal::JournalArgs),
    /// The fleet centre (PostgreSQL): schema, desk roles, lookups, reports.
    Fleet(fleet::FleetArgs),
    /// Wait until a card is inserted in (or removed from) a reader.
    Wait(wait::WaitArgs),
    /// Run APDU scripts that check every response (scriptor-compatible format).
    Script(script::ScriptArgs),
    /// Check the desk configuration file and the readers it names, or print an example.
    Config(config::ConfigArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Print the manual page, or write all pages into a directory.
    Man(man::ManArgs),
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "warn,sscard::apdu=debug",
        2 => "info,sscard=debug",
        _ => "debug",
    };
    let env = env_logger::Env::default().default_filter_or(default);
    let _ = env_logger::Builder::from_env(env)
        .format_timestamp_micros()
        .try_init();
}

/// Runs the command line and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = match &cli.command {
        Command::Readers(a) => readers::run(a),
        Command::Atr(a) => atr::run(a),
        Command::Info(a) => info::run(a),
        Command::Send(a) => send::run(a),
        Command::Wait(a) => wait::run(a),
        Command::Activate(a) => activate::run(a),
        Command::Journal(a) => journal::run(a),
        Command::Fleet(a) => fleet::run(a),
        Command::Script(a) => script::run(a),
        Command::Config(a) => config::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::Testbed(a) => testbed::run(a),
        Command::Vcard(a) => vcard::run(a)
            .map(|()| ExitCode::Ok)
            .map_err(|e| Error::VirtualCard(e.to_string())),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => report(&e),
    }
}

/// Exit status when stdout is closed early (`sscard readers | head -1`): the shell's
/// code for a process ended by SIGPIPE.
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Rust ignores SIGPIPE, so `println!` to a closed pipe panics. Output cut short by
/// the reader is not an error of ours: end quietly with the shell's SIGPIPE status
/// instead of printing a panic. (Setting SIGPIPE back to default needs `unsafe`.)
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.contains("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default(info);
    }));
}

/// Prints an error and its hint; returns its exit code.
pub fn report(e: &Error) -> std::process::ExitCode {
    eprintln!("sscard: error: {e}");
    if let Some(h) = e.hint() {
        eprintln!("hint: {h}");
    }
    std::process::ExitCode::from(e.exit_code() as u8)
}

/// Parses hex given on the command line (spaces, colons allowed).
pub fn parse_hex_arg(text: &str) -> Result<Vec<u8>, Error> {
    let clean: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    hex::decode(&clean).map_err(|e| Error::InvalidData(format!("'{text}' is not hex: {e}")))
}

/// A result type for subcommands: the exit code on success.
pub type CmdResult = Result<ExitCode, Error>;
