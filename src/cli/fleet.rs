//! `sscard fleet init|desk-add|reporter-add|lookup|report|new-instance`: the centre (src/fleet).
//!
//! The connection comes from `--db` (a URL without password) with `--password-file`,
//! else from the `[fleet]` section of the desk configuration; a password on the
//! command line is impossible by construction.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::fleet::{self, migrate, query, report, FleetError, Target, TlsMode};
use std::path::PathBuf;

/// How to reach the centre (shared with `sscard journal push`).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// The centre, `postgresql://ROLE@HOST:PORT/DB`, without a password
    /// [default: `db` in the `[fleet]` section of the configuration].
    #[arg(long, value_name = "URL", env = "SSCARD_FLEET_DB")]
    pub db: Option<String>,
    /// The role's password, alone in a file of mode 600.
    #[arg(long, value_name = "PATH", env = "SSCARD_FLEET_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// TLS mode [default: from the configuration, else disable].
    #[arg(long, value_enum)]
    pub tls: Option<TlsMode>,
    /// CA certificate (PEM) for `--tls verify-full`.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// The desk configuration file (`none`: no file) [default: /etc/sscard/sscard.toml].
    #[arg(long, value_name = "PATH", env = "SSCARD_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConnArgs {
    /// The target: flags, else the configuration's `[fleet]`.
    ///
    /// # Errors
    /// A usage error when neither names a centre; configuration errors.
    pub fn target(&self) -> Result<Target, Error> {
        let cfg = crate::config::load(self.config.as_deref())?.and_then(|l| l.config.fleet);
        let base =
            match (&self.db, cfg) {
                (Some(db), c) => fleet::FleetConfig {
                    db: db.clone(),
                    password_file: None,
                    tls: c.as_ref().map(|c| c.tls).unwrap_or_default(),
                    ca_file: None,
                },
                (None, Some(c)) => c,
                (None, None) => return Err(Error::Other {
                    message:
                        "no fleet centre: give --db URL or a [fleet] section in the configuration"
                            .into(),
                    code: ExitCode::Usage,
                }),
            };
        let mut t = Target::from_config(&base);
        if let Some(p) = &self.password_file {
            t.password_file = Some(p.clone());
        }
        if let Some(m) = self.tls {
            t.tls = m;
        }
        if let Some(c) = &self.ca_file {
            t.ca_file = Some(c.clone());
        }
        Ok(t)
    }
}

/// Arguments of `sscard fleet`.
#[derive(clap::Args, Debug)]
pub struct FleetArgs {
    /// The centre.
    #[command(flatten)]
    pub conn: ConnArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// Report formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document.
    Json,
    /// One CSV table with a `section` column.
    Csv,
}

/// Fleet subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum FleetCommand {
    /// Create or upgrade the centre's schema and roles (as the database owner).
    Init,
    /// Create (or re-key) the login role of a desk, allowed to add its own events only.
    DeskAdd {
        /// The desk's terminal number.
        terminal: String,
        /// Give the existing desk a new password (an existing role is otherwise refused).
        #[arg(long)]
        rekey: bool,
        /// The new role's password, alone in a file of mode 600.
        #[arg(long, value_name = "PATH")]
        new_password_file: PathBuf,
    },
    /// Create (or re-key) a reporting login role, allowed to read everything.
    ReporterAdd {
        /// The role name (lower case, digits, _).
        role: String,
        /// Give the existing reporter a new password (an existing role is otherwise refused).
        #[arg(long)]
        rekey: bool,
        /// The new role's password, alone in a file of mode 600.
        #[arg(long, value_name = "PATH")]
        new_password_file: PathBuf,
    },
    /// Every desk's view of one transfer, in time order.
    Lookup {
        /// The transfer id.
        id: String,
        /// Output format.
        #[command(flatten)]
        output: crate::output::FormatArgs,
    },
    /// Give a desk journal a new instance id (after the centre refused a push as a
    /// collision: the file was restored from a backup or copied). Local only.
    NewInstance {
        /// The journal file.
        #[arg(long, value_name = "PATH")]
        journal: PathBuf,
    },
    /// The back office's report.
    Report {
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Old cards frozen longer than this many hours with no credit seen.
        #[arg(long, default_value_t = 24, value_name = "N")]
        frozen_hours: u32,
        /// Time zone of "day" (IANA name).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Cards whose activation deadline is at most this many days away (or past).
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        deadline_days: u32,
    },
}

impl FleetCommand {
    /// Whether JSON was asked for (errors are then JSON documents too).
    pub fn wants_json(&self) -> bool {
        match self {
            FleetCommand::Lookup { output, .. } => output.is_json(),
            FleetCommand::Report { format, .. } => *format == Format::Json,
            _ => false,
        }
    }
}

/// Runs `sscard fleet`.
pub fn run(args: &FleetArgs) -> CmdResult {
    if let FleetCommand::NewInstance { journal } = &args.command {
        if !journal.exists() {
            return Err(Error::Other {
                message: format!("journal {}: no such file", journal.display()),
                code: ExitCode::Journal,
            });
        }
        let jerr = |e: crate::activation::journal::JournalError| Error::Other {
            message: e.to_string(),
            code: ExitCode::Journal,
        };
        let mut j = crate::activation::journal::Journal::open(journal).map_err(jerr)?;
        let before = j.instance().map_err(jerr)?;
        let id = j.renew_instance().map_err(jerr)?;
        println!(
            "journal {}: instance {} (was {}); its next push goes to the centre under the new one",
            journal.display(),
            id,
            if before.is_empty() {
                "'' (legacy)"
            } else {
                &before
            }
        );
        return Ok(ExitCode::Ok);
    }
    let target = args.conn.target()?;
    let mut client = target.connect()?;
    match &args.command {
        FleetCommand::Init => {
            let before = migrate::version(&mut client)?;
            let applied = migrate::migrate(&mut client)?;
            if applied.is_empty() {
                println!("fleet schema up to date (version {before})");
            } else {
                println!(
                    "fleet schema at version {} (applied {:?}, was {before})",
                    migrate::SCHEMA_VERSION,
                    applied
                );
            }
        }
        FleetCommand::DeskAdd {
            terminal,
            rekey,
            new_password_file,
        } => {
            let pw = fleet::read_password_file(new_password_file)?;
            let set = if *rekey {
                migrate::rekey_desk
            } else {
                migrate::add_desk
            };
            let role = set(&mut client, terminal, &pw)?;
            println!("desk {terminal}: role {role}");
        }
        FleetCommand::ReporterAdd {
            role,
            rekey,
            new_password_file,
        } => {
            let pw = fleet::read_password_file(new_password_file)?;
            let set = if *rekey {
                migrate::rekey_reporter
            } else {
                migrate::add_reporter
            };
            set(&mut client, role, &pw)?;
            println!("reporting role {role}");
        }
        FleetCommand::Lookup { id, output } => {
            let seen = query::lookup(&mut client, id)?;
            if output.is_json() {
                crate::output::print(
                    crate::output::Doc::FleetLookup,
                    &serde_json::json!({"id": id.to_ascii_uppercase(), "events": seen}),
                )?;
            } else if seen.is_empty() {
                return Err(
                    FleetError::Invalid(format!("the centre knows no transfer {id}"))
                        .into_not_found(),
                );
            } else {
                println!("transfer {} as every desk saw it:", id.to_ascii_uppercase());
                for s in seen {
                    println!(
                        "  {}  terminal {:<14} #{:<6} {:<10} operator {}  {}",
                        s.at, s.terminal, s.seq, s.state, s.operator, s.detail
                    );
                }
            }
        }
        FleetCommand::NewInstance { .. } => {} // handled above, without the centre
        FleetCommand::Report {
            format,
            frozen_hours,
            tz,
            deadline_days,
        } => {
            let r = report::build(
                &mut client,
                &report::Options {
                    frozen_hours: *frozen_hours,
                    tz: tz.clone(),
                    deadline_days: *deadline_days,
                },
            )?;
            match format {
                Format::Text => print!("{}", report::text(&r)),
                Format::Json => crate::output::print(crate::output::Doc::FleetReport, &r)?,
                Format::Csv => print!("{}", report::csv(&r)?),
            }
        }
    }
    Ok(ExitCode::Ok)
}

trait NotFound {
    fn into_not_found(self) -> Error;
}

impl NotFound for FleetError {
    /// An unknown transfer is a journal-style "not found" (exit 13), not bad usage.
    fn into_not_found(self) -> Error {
        Error::Other {
            message: self.to_string(),
            code: ExitCode::Journal,
        }
    }
}
