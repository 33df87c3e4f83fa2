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
pub mod process;
pub mod readers;
pub mod script;
pub mod send;
pub mod serve;
pub mod testbed;
pub mod vcard;
pub mod wait;

/// The ranges of numbers from the command line, shared with the configuration file
/// (they live below `cli/`, so `config` needs no import from here).
pub use crate::config::bounds;

use crate::error::{Error, ExitCode};
use crate::ui::i18n::Lang;
use clap::{Parser, Subcommand};

/// Smart-card terminal tool for social security cards (社会保障卡).
#[derive(Parser, Debug)]
#[command(name = "sscard", version, about, propagate_version = true)]
pub struct Cli {
    /// Show the APDU trace (secrets redacted); repeat for more detail. RUST_LOG also works.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Language for people: the desk's screens and every command's errors [default:
    /// `language` in the desk configuration, else from LC_ALL, LC_MESSAGES or LANG:
    /// zh_* means Chinese]. Machine output (JSON, hex, tables) is the same in both.
    #[arg(long, global = true, value_enum)]
    pub lang: Option<Lang>,

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
    ///
    /// COMMAND runs with this sscard first on PATH, PCSCLITE_CSOCK_NAME naming the
    /// private pcscd, and SSCARD_VPCD_PORT0/SSCARD_VPCD_PORT1 the ports of the two
    /// vpcd slots (plug more cards in with `sscard vcard --port $SSCARD_VPCD_PORT0`).
    /// Exit status: COMMAND's when it is one of sscard's codes (0-17), else 1; 128 + n
    /// when stopped by signal n (forwarded to COMMAND).
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
    /// Serve the card to browser-based desk systems on loopback (HTTP + WebSocket).
    Serve(serve::ServeArgs),
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
    let inner = env_logger::Builder::from_env(env)
        .format_timestamp_micros()
        .build();
    // The PostgreSQL client crates log every statement at debug, and the fleet's role
    // commands send `CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'` (a verifier, which
    // an attacker can brute-force offline): those crates are capped at info whatever
    // -v or RUST_LOG asks. A wrapper rather than `filter_module`, because RUST_LOG's
    // longer directives (`tokio_postgres::simple_query=debug`) win over a shorter one.
    struct Capped(env_logger::Logger);
    const CAPPED: [&str; 5] = [
        "tokio_postgres",
        "postgres",
        "postgres_protocol",
        "postgres_types",
        "postgres_native_tls",
    ];
    impl log::Log for Capped {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            let t = m.target();
            let capped = CAPPED.iter().any(|c| {
                t.strip_prefix(c)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
            });
            (!capped || m.level() <= log::Level::Info) && self.0.enabled(m)
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                self.0.log(r);
            }
        }
        fn flush(&self) {
            self.0.flush();
        }
    }
    let max = inner.filter();
    if log::set_boxed_logger(Box::new(Capped(inner))).is_ok() {
        log::set_max_level(max);
    }
}

/// Runs the command line and returns the process exit code.
pub fn main() -> std::process::ExitCode {
    process::install_panic_hook();
    if let Err(e) = process::default_sigpipe() {
        log::debug!("SIGPIPE keeps Rust's default (ignored): {e}");
    }
    if let Err(e) = process::no_core_dumps() {
        // Refuse to run with secrets that a crash could write to disk.
        eprintln!("sscard: error: cannot turn core dumps off: {e}");
        return std::process::ExitCode::from(ExitCode::Internal as u8);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage(&e),
    };
    init_logging(cli.verbose);
    if let Some(what) = long_running(&cli.command) {
        if let Err(e) = process::exit_on_signal(what) {
            log::warn!("signal handlers not installed ({e}); signals end the process");
        }
    }
    let result = match &cli.command {
        Command::Readers(a) => readers::run(a),
        Command::Atr(a) => atr::run(a),
        Command::Info(a) => info::run(a),
        Command::Send(a) => send::run(a),
        Command::Wait(a) => wait::run(a),
        Command::Activate(a) => activate::run(a, cli.lang),
        Command::Journal(a) => journal::run(a),
        Command::Fleet(a) => fleet::run(a),
        Command::Script(a) => script::run(a),
        Command::Config(a) => config::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Completions(a) => completions::run(a),
        Command::Man(a) => man::run(a),
        Command::Testbed(a) => testbed::run(a),
        Command::Vcard(a) => vcard::run(a)
            .map(|()| ExitCode::Ok)
            .map_err(|e| Error::VirtualCard(e.to_string())),
    };
    match result {
        Ok(code) => std::process::ExitCode::from(code as u8),
        Err(e) => {
            if wants_json(&cli.command) {
                crate::output::print_error(&e);
            }
            report_in(&e, people_lang(cli.lang))
        }
    }
}

/// Whether the command was asked for JSON (`--format json` or an old spelling): its
/// errors are then an `sscard-error` document on stdout as well ([`crate::output`]).
fn wants_json(c: &Command) -> bool {
    use activate::ActivateCommand as A;
    match c {
        Command::Readers(a) => a.output.is_json(),
        Command::Atr(a) => a.output.is_json(),
        Command::Info(a) => a.format == info::Format::Json,
        Command::Script(a) => a.output.is_json(),
        Command::Journal(a) => a.command.wants_json(),
        Command::Fleet(a) => a.command.wants_json(),
        Command::Activate(a) => {
            let common = match &a.command {
                A::Pharmacy(c) => c,
                A::Window(w) | A::FirstUse(w) => &w.common,
                A::Resume { common, .. } | A::Cancel { common, .. } => common,
            };
            common.receipt == activate::ReceiptFormat::Json
        }
        _ => false,
    }
}

/// Exit status when stdout is closed early (`sscard readers | head -1`): the shell's
/// code for a process ended by SIGPIPE, whose default action
/// [`process::default_sigpipe`] gives back (Rust starts with it ignored).
pub const BROKEN_PIPE_EXIT: i32 = process::BROKEN_PIPE_EXIT;

/// The commands that wait on something outside (a card, pcscd, vpcd) and so end on
/// SIGINT/SIGTERM/SIGHUP with `128 + signal` (see [`process`]). `testbed` handles the
/// signals itself; `activate` keeps the default action (the process ends at once):
/// its journal is written before every card write, so `sscard activate resume`
/// continues from any stop.
fn long_running(c: &Command) -> Option<&'static str> {
    match c {
        Command::Wait(_) => Some("wait"),
        Command::Serve(_) => Some("serve"),
        Command::Readers(a) if a.watch => Some("readers --watch"),
        Command::Info(a) if a.wait.is_some() => Some("info --wait"),
        Command::Vcard(_) => Some("vcard"),
        Command::Script(_) => Some("script"),
        _ => None,
    }
}

/// Prints clap's help, version or usage error (what `Cli::parse` would print) and
/// returns its exit status; help or version that cannot be written to stdout ends
/// as any other output does ([`crate::stdio`]: 14, or quietly 141 on a closed pipe)
/// instead of being dropped with status 0.
fn usage(e: &clap::Error) -> std::process::ExitCode {
    if let Err(io) = e.print().and_then(|()| {
        use std::io::Write;
        std::io::stdout().flush()
    }) {
        if !e.use_stderr() {
            crate::stdio::stdout_failed(&io);
        }
    }
    std::process::ExitCode::from(e.exit_code().clamp(0, 255) as u8)
}

/// The language for people when a command did not settle it itself: `--lang`, else
/// `language` in the desk configuration ($SSCARD_CONFIG, else the default file; one
/// that cannot be read is passed over here, its own command reports it), else the
/// locale ([`Lang::from_env`]). `sscard activate` decides the same way, with its
/// `--config`.
pub fn people_lang(flag: Option<Lang>) -> Lang {
    flag.or_else(|| {
        let named = std::env::var_os("SSCARD_CONFIG").map(std::path::PathBuf::from);
        crate::config::load(named.as_deref())
            .ok()
            .flatten()
            .and_then(|l| l.config.language)
    })
    .unwrap_or_else(Lang::from_env)
}

/// Prints an error for people in `lang` and returns its exit code: in English the
/// `sscard: error:` line and its hint ([`report`]); in Chinese the desk's advice
/// (what happened, who acts and how), with the English message kept as the
/// technical line.
pub fn report_in(e: &Error, lang: Lang) -> std::process::ExitCode {
    match lang {
        Lang::En => report(e),
        Lang::Zh => {
            crate::ui::lines::report(lang, &crate::ui::advice::advise(lang, e));
            std::process::ExitCode::from(e.exit_code() as u8)
        }
    }
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
///
/// # Errors
/// [`Error::InvalidData`] naming the first character that is not a hex digit and its
/// position in characters ([`crate::apdu::hex_input`]); the text itself is not
/// repeated (an APDU may carry a PIN, and the position is enough to find the typo).
pub fn parse_hex_arg(text: &str) -> Result<Vec<u8>, Error> {
    crate::apdu::hex_input::decode(text)
        .map_err(|e| Error::InvalidData(format!("the hex given is not hex: {e}")))
}

/// A result type for subcommands: the exit code on success.
pub type CmdResult = Result<ExitCode, Error>;
