//! `sscard fleet init|desk-add|reporter-add|lookup|report|new-instance`: the centre (src/fleet).
//!
//! The connection comes from the flags and the `[fleet]` section of the desk
//! configuration, setting by setting ([`crate::fleet::Target::resolve`]: a flag
//! wins; `--db URL` replaces the section's `db` but keeps its TLS, CA and, for the
//! same role, its password file). A password on the command line is impossible by
//! construction: `--password-file` names a file, and a URL carrying one is refused
//! (exit 11).

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::fleet::{self, migrate, query, report, FleetError, Target, TlsMode};
use crate::output::csv::Cell;
use crate::output::visible::visible;
use crate::output::TableFormat;
use std::path::PathBuf;

/// How to reach the centre (shared with `sscard journal push`, whose `--config` is
/// `sscard journal`'s own, as it also says where the journal is).
#[derive(clap::Args, Debug, Clone)]
pub struct CentreArgs {
    /// The centre, `postgresql://ROLE@HOST:PORT/DB`, without a password
    /// [default: `db` in the `[fleet]` section of the configuration].
    #[arg(
        long,
        value_name = "URL",
        env = "SSCARD_FLEET_DB",
        hide_env_values = true
    )]
    pub db: Option<String>,
    /// The role's password, alone in a file of mode 600 [default: `password_file`
    /// in the `[fleet]` section, when `--db` names no other role].
    #[arg(long, value_name = "PATH", env = "SSCARD_FLEET_PASSWORD_FILE")]
    pub password_file: Option<PathBuf>,
    /// TLS mode [default: `sslmode` in the URL, else `tls` in the configuration,
    /// else auto: verify-full, or disable for a centre on this machine].
    #[arg(long, value_enum)]
    pub tls: Option<TlsMode>,
    /// CA certificate (PEM) for `--tls verify-full` [default: `sslrootcert` in the
    /// URL, else `ca_file` in the configuration].
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
}

/// How to reach the centre, and the configuration that may name it (`sscard fleet`).
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// The centre.
    #[command(flatten)]
    pub centre: CentreArgs,
    /// The desk configuration file (`none`: no file) [default: /etc/sscard/sscard.toml].
    #[arg(long, value_name = "PATH", env = "SSCARD_CONFIG")]
    pub config: Option<PathBuf>,
}

impl ConnArgs {
    /// The target: the flags over the configuration's `[fleet]` ([`CentreArgs::target`]).
    ///
    /// # Errors
    /// A usage error when neither names a centre; configuration errors.
    pub fn target(&self) -> Result<Target, Error> {
        let cfg = crate::config::load(self.config.as_deref())?.and_then(|l| l.config.fleet);
        self.centre.target(cfg.as_ref())
    }
}

impl CentreArgs {
    /// The target: the flags over `section` (the configuration's `[fleet]`), setting
    /// by setting ([`Target::resolve`]).
    ///
    /// # Errors
    /// A usage error when neither names a centre; a bad setting.
    pub fn target(&self, section: Option<&fleet::FleetConfig>) -> Result<Target, Error> {
        let cli = fleet::Overrides {
            db: self.db.clone(),
            password_file: self.password_file.clone(),
            tls: self.tls,
            ca_file: self.ca_file.clone(),
        };
        Ok(Target::resolve(&cli, section)?)
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
    /// Every desk's view of one transfer, in time order, with each event's terminal
    /// and journal instance (two journals of one terminal are told apart).
    Lookup {
        /// The transfer id.
        id: String,
        /// Output format.
        #[command(flatten)]
        output: crate::output::TableFormatArgs,
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
        /// Old cards frozen longer than this many hours with no credit seen
        /// (0 to 87600, ten years).
        #[arg(long, default_value_t = 24, value_name = "N",
              value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_FROZEN_HOURS)))]
        frozen_hours: u32,
        /// Time zone of "day" (an IANA name such as Asia/Shanghai, as the centre
        /// knows it).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Cards whose activation deadline is at most this many days away, or past
        /// (0 to 3650).
        #[arg(long, default_value_t = 30, value_name = "DAYS",
              value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_DEADLINE_DAYS)))]
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
            let id = id.to_ascii_uppercase();
            match output.get() {
                TableFormat::Json => crate::output::print(
                    crate::output::Doc::FleetLookup,
                    &serde_json::json!({"id": id, "events": seen}),
                )?,
                _ if seen.is_empty() => {
                    return Err(FleetError::Invalid(format!(
                        "the centre knows no transfer {}",
                        visible(&id)
                    ))
                    .into_not_found());
                }
                TableFormat::Csv => crate::output::csv::write(
                    std::io::stdout().lock(),
                    "stdout",
                    &LOOKUP_CSV_HEADER,
                    seen.iter().map(|s| lookup_csv_row(&id, s)),
                )?,
                TableFormat::Text => print!("{}", lookup_text(&id, &seen)),
            }
        }
        FleetCommand::NewInstance { .. } => {} // handled above, without the centre
        FleetCommand::Report {
            format,
            frozen_hours,
            tz,
            deadline_days,
        } => {
            check_tz(&mut client, tz)?;
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

/// The largest `fleet report --frozen-hours` (ten years): past it the centre's
/// interval arithmetic overflows (an exit 17 that reads as a centre fault).
pub const MAX_FROZEN_HOURS: u32 = 87_600;

/// The largest `fleet report --deadline-days` (ten years; the deadline is six
/// months after issue): past `i32::MAX` the value sent to the centre wrapped.
pub const MAX_DEADLINE_DAYS: u32 = 3_650;

/// Refuses a `--tz` the centre does not know, as a usage error (exit 2) naming the
/// option, before the report's queries (which failed with exit 17, "a database
/// error", on the first `AT TIME ZONE`). The centre is asked because its time zone
/// database is the one the report uses (it also takes `UTC+8`-style POSIX names).
///
/// # Errors
/// [`ExitCode::Usage`] for an unknown time zone; the centre's other errors.
fn check_tz(client: &mut postgres::Client, tz: &str) -> Result<(), Error> {
    let unknown = || Error::Other {
        message: format!(
            "--tz '{}' is not a time zone the centre knows: give an IANA name such as \
             Asia/Shanghai or UTC",
            visible(tz)
        ),
        code: ExitCode::Usage,
    };
    if tz.trim().is_empty() {
        return Err(unknown());
    }
    match client.query_one("SELECT now() AT TIME ZONE $1::text", &[&tz]) {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::INVALID_PARAMETER_VALUE) => {
            Err(unknown())
        }
        Err(e) => Err(FleetError::from(e).into()),
    }
}

/// The columns of `fleet lookup --format csv`, one row per event (the spreadsheet
/// CSV of [`crate::output::csv`]: identifiers kept as text, times in UTC as a
/// spreadsheet reads them).
pub const LOOKUP_CSV_HEADER: [&str; 12] = [
    "id",
    "terminal",
    "journal",
    "seq",
    "state",
    "at_utc",
    "operator",
    "detail",
    "old_card",
    "new_card",
    "balance_fen",
    "received_at_utc",
];

/// `2026-11-30T08:00:00.123Z` as `2026-11-30 08:00:00` (as stored when it is not
/// of that shape).
fn sheet_utc(at: &str) -> Cell {
    match chrono::DateTime::parse_from_rfc3339(at) {
        Ok(t) => Cell::Number(t.format("%Y-%m-%d %H:%M:%S").to_string()),
        Err(_) => Cell::Text(at.to_string()),
    }
}

fn lookup_csv_row(id: &str, s: &query::Seen) -> Vec<Cell> {
    vec![
        Cell::Id(id.to_string()),
        Cell::id(Some(&s.terminal)),
        Cell::id(Some(&s.journal)),
        Cell::Number(s.seq.to_string()),
        Cell::Text(s.state.clone()),
        sheet_utc(&s.at),
        Cell::id(Some(&s.operator)),
        Cell::Text(s.detail.clone()),
        Cell::id(s.old_card.as_deref()),
        Cell::id(s.new_card.as_deref()),
        s.balance_fen
            .map_or(Cell::Empty, |b| Cell::Number(b.to_string())),
        sheet_utc(&s.received_at),
    ]
}

/// The text of `fleet lookup`: one line per event, every field from the centre
/// escaped ([`visible`]: the rows come from every desk, and a tampered one must not
/// drive this terminal), the journal instance `-` for events pushed before
/// instances existed.
fn lookup_text(id: &str, seen: &[query::Seen]) -> String {
    let mut out = format!("transfer {} as every desk saw it:\n", visible(id));
    for s in seen {
        out += &format!(
            "  {}  terminal {:<14} journal {:<32} #{:<6} {:<10} operator {}  {}\n",
            visible(&s.at),
            visible(&s.terminal),
            query::journal_label(&s.journal),
            s.seq,
            visible(&s.state),
            visible(&s.operator),
            visible(&s.detail)
        );
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(journal: &str, seq: i64, detail: &str) -> query::Seen {
        query::Seen {
            terminal: "000000000001".into(),
            journal: journal.into(),
            seq,
            state: "FROZEN".into(),
            at: "2026-11-30T08:00:00.123Z".into(),
            operator: "0007".into(),
            detail: detail.into(),
            old_card: Some("6399000123".into()),
            new_card: None,
            balance_fen: Some(12_345),
            received_at: "2026-11-30T08:00:01.000Z".into(),
        }
    }

    #[test]
    fn lookup_text_tells_journals_apart_and_escapes_the_centre_rows() {
        let a = "4F0C1A2B3C4D5E6F708192A3B4C5D6E7";
        let rows = [
            seen(a, 1, "ok"),
            seen("", 1, "before instances"),
            seen("9A", 1, "\u{1b}[1A\u{1b}[2KCOMPLETE"),
        ];
        let t = lookup_text("AB12", &rows);
        assert!(t.contains(&format!("journal {a}")), "{t}");
        assert!(t.contains("journal -"), "{t}");
        assert!(!t.contains('\u{1b}'), "{t:?}");
        assert!(t.contains("\\u{1b}[1A\\u{1b}[2KCOMPLETE"), "{t}");
        assert_eq!(t.lines().count(), 4);
    }

    #[test]
    fn lookup_csv_has_the_journal_column() {
        let row = lookup_csv_row("AB12", &seen("4F0C", 7, "x"));
        assert_eq!(row.len(), LOOKUP_CSV_HEADER.len());
        let col =
            |name: &str| row[LOOKUP_CSV_HEADER.iter().position(|h| *h == name).unwrap()].clone();
        assert_eq!(col("journal"), Cell::Id("4F0C".into()));
        assert_eq!(col("seq"), Cell::Number("7".into()));
        assert_eq!(col("at_utc"), Cell::Number("2026-11-30 08:00:00".into()));
        assert_eq!(lookup_csv_row("AB12", &seen("", 1, "x"))[2], Cell::Empty);
    }
}
