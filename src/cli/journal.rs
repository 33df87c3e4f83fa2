//! `sscard journal list|show ID|export`: the activation journal for supervisors.

use super::CmdResult;
use crate::activation::journal::{self, Entry, Journal};
use crate::error::{Error, ExitCode};
use std::path::PathBuf;

/// Arguments of `sscard journal`.
#[derive(clap::Args, Debug)]
pub struct JournalArgs {
    /// The journal file (default as for `sscard activate`).
    #[arg(long, value_name = "PATH", global = true)]
    pub journal: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: JournalCommand,
}

/// Journal subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum JournalCommand {
    /// One line per entry, newest first.
    List {
        /// Only entries not complete or cancelled.
        #[arg(long)]
        unfinished: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// One entry with its history.
    Show {
        /// The entry id (transfer id).
        id: String,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Send the events the fleet centre has not acknowledged (src/fleet/push.rs).
    Push {
        /// The centre.
        #[command(flatten)]
        conn: super::fleet::ConnArgs,
        /// Events per batch (one transaction each).
        #[arg(long, default_value_t = crate::fleet::push::DEFAULT_BATCH)]
        batch: usize,
        /// Print nothing on success (the desk's background push).
        #[arg(long)]
        quiet: bool,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Every entry, for other systems.
    Export {
        /// Output format.
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
    },
}

/// Export formats.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header line.
    Csv,
}

fn jerr(e: journal::JournalError) -> Error {
    Error::Other {
        message: e.to_string(),
        code: ExitCode::Journal,
    }
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::InvalidData(e.to_string()))
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn csv_row(e: &Entry) -> String {
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        e.id.clone(),
        e.flow.as_str().into(),
        e.state.as_str().into(),
        e.terminal.clone(),
        e.operator.clone(),
        e.citizen_id.clone(),
        e.holder_name.clone(),
        opt(&e.old_card),
        opt(&e.new_card),
        opt(&e.account),
        e.category.map(|c| format!("{c:02}")).unwrap_or_default(),
        e.balance_fen.map(|b| b.to_string()).unwrap_or_default(),
        e.created_at.clone(),
        e.updated_at.clone(),
    ]
    .iter()
    .map(|f| csv_field(f))
    .collect::<Vec<_>>()
    .join(",")
}

/// Runs `sscard journal`.
pub fn run(args: &JournalArgs) -> CmdResult {
    let path = args.journal.clone().unwrap_or_else(journal::default_path);
    if !path.exists() {
        return Err(Error::Other {
            message: format!("no journal at {}", path.display()),
            code: ExitCode::Journal,
        });
    }
    if let JournalCommand::Push {
        conn,
        batch,
        quiet,
        json: as_json,
    } = &args.command
    {
        let target = conn.target()?;
        let out = crate::fleet::push::push_to(&target, &path, *batch)?;
        if *as_json {
            println!("{}", json(&out)?);
        } else if !quiet {
            println!(
                "pushed {} event(s) in {} batch(es), {} new at the centre; acknowledged up to #{}",
                out.sent, out.batches, out.inserted, out.watermark
            );
        }
        return Ok(ExitCode::Ok);
    }
    let j = Journal::open(&path).map_err(jerr)?;
    match &args.command {
        JournalCommand::Push { .. } => unreachable!("handled above"),
        JournalCommand::List {
            unfinished,
            json: as_json,
        } => {
            let entries = if *unfinished {
                j.unfinished()
            } else {
                j.list()
            }
            .map_err(jerr)?;
            if *as_json {
                println!(
                    "{}",
                    json(&serde_json::json!({"schema_version": "1.0", "entries": entries}))?
                );
            } else if entries.is_empty() {
                println!("no entries");
            } else {
                for e in entries {
                    println!(
                        "{}  {:<10} {:<9} {}  {} -> {}  {}",
                        e.id,
                        e.state.as_str(),
                        e.flow.as_str(),
                        e.updated_at,
                        e.old_card.as_deref().unwrap_or("-"),
                        e.new_card.as_deref().unwrap_or("-"),
                        e.holder_name
                    );
                }
            }
        }
        JournalCommand::Show { id, json: as_json } => {
            let e = j
                .get(id)
                .map_err(jerr)?
                .ok_or_else(|| jerr(journal::JournalError::NotFound(id.clone())))?;
            let events = j.events(&e.id).map_err(jerr)?;
            if *as_json {
                println!(
                    "{}",
                    json(
                        &serde_json::json!({"schema_version": "1.0", "entry": e, "events": events})
                    )?
                );
            } else {
                println!("transfer:  {}", e.id);
                println!("flow:      {}", e.flow.as_str());
                println!("state:     {}", e.state.as_str());
                println!("holder:    {} ({})", e.holder_name, e.citizen_id);
                println!("old card:  {}", e.old_card.as_deref().unwrap_or("-"));
                println!("new card:  {}", e.new_card.as_deref().unwrap_or("-"));
                println!("account:   {}", e.account.as_deref().unwrap_or("-"));
                if let Some(b) = e.balance_fen {
                    println!("balance:   {} yuan", crate::activation::receipt::yuan(b));
                }
                println!("history:");
                for ev in events {
                    println!(
                        "  {}  {:<10} terminal {} operator {}  {}",
                        ev.at,
                        ev.state.as_str(),
                        ev.terminal,
                        ev.operator,
                        ev.detail
                    );
                }
            }
        }
        JournalCommand::Export { format } => {
            let entries = j.list().map_err(jerr)?;
            match format {
                ExportFormat::Jsonl => {
                    for e in entries {
                        println!("{}", json(&e)?);
                    }
                }
                ExportFormat::Csv => {
                    println!("id,flow,state,terminal,operator,citizen_id,holder_name,old_card,new_card,account,category,balance_fen,created_at,updated_at");
                    for e in entries {
                        println!("{}", csv_row(&e));
                    }
                }
            }
        }
    }
    Ok(ExitCode::Ok)
}
