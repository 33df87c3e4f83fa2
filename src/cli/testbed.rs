//! `sscard testbed [--card SLOT=IMAGE]... -- COMMAND...`: run a command against a
//! private pcscd with virtual cards inserted.
//!
//! For test runs and demos without hardware: a pcscd of its own (in a private mount
//! namespace, so a system pcscd keeps running undisturbed), the vpcd driver's two
//! slots, and the given card images plugged in. The command runs with
//! `PCSCLITE_CSOCK_NAME` pointing at the private daemon, `SSCARD_VPCD_PORT0/1` naming
//! the slots' ports (to plug more cards in with `sscard vcard`), and this `sscard` first
//! on `PATH`. Everything started is stopped when the command ends. Needs root.

use super::CmdResult;
use crate::error::{Error, ExitCode};
use crate::testbed::{Pcscd, VirtualCardProcess};
use std::path::PathBuf;
use std::process::Command;

/// Arguments of `sscard testbed`.
#[derive(clap::Args, Debug)]
pub struct TestbedArgs {
    /// A card image to insert: SLOT=IMAGE (slot 0 or 1). The image file is updated
    /// as the card is written.
    #[arg(long = "card", value_name = "SLOT=IMAGE")]
    pub cards: Vec<String>,
    /// The command to run, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

fn parse_card(spec: &str) -> Result<(u8, PathBuf), Error> {
    let bad = || {
        Error::InvalidData(format!(
            "--card '{spec}': expected SLOT=IMAGE with SLOT 0 or 1"
        ))
    };
    let (slot, image) = spec.split_once('=').ok_or_else(bad)?;
    let slot: u8 = slot.trim().parse().map_err(|_| bad())?;
    if slot > 1 {
        return Err(bad());
    }
    Ok((slot, PathBuf::from(image)))
}

/// Runs `sscard testbed`.
pub fn run(args: &TestbedArgs) -> CmdResult {
    let cards = args
        .cards
        .iter()
        .map(|c| parse_card(c))
        .collect::<Result<Vec<_>, _>>()?;
    let exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "current executable".into(),
        source: e,
    })?;
    let pcscd = Pcscd::start().map_err(|e| Error::Other {
        message: format!("could not start a private pcscd: {e}"),
        code: ExitCode::NoReader,
    })?;
    let (key, sock) = pcscd.env();
    let mut plugged = Vec::new();
    for (slot, image) in &cards {
        let card = VirtualCardProcess::insert(&exe, image, pcscd.port(*slot), &[])
            .map_err(|e| Error::VirtualCard(format!("{}: {e}", image.display())))?;
        plugged.push(card);
        // Wait for pcscd to see the card (an event, not a sleep).
        let status = Command::new(&exe)
            .env(key, &sock)
            .args(["wait", "--reader", &slot.to_string(), "--timeout", "10"])
            .status()
            .map_err(|e| Error::Io {
                path: exe.display().to_string(),
                source: e,
            })?;
        if !status.success() {
            return Err(Error::Timeout(format!(
                "the virtual card {} was not seen in slot {slot}",
                image.display()
            )));
        }
    }
    let path = match (exe.parent(), std::env::var_os("PATH")) {
        (Some(dir), Some(p)) => {
            let mut dirs = vec![dir.to_path_buf()];
            dirs.extend(std::env::split_paths(&p));
            std::env::join_paths(dirs).unwrap_or(p)
        }
        (_, p) => p.unwrap_or_default(),
    };
    let status = Command::new(&args.command[0])
        .args(&args.command[1..])
        .env(key, &sock)
        .env("PATH", path)
        .env("SSCARD_VPCD_PORT0", pcscd.port(0).to_string())
        .env("SSCARD_VPCD_PORT1", pcscd.port(1).to_string())
        .status()
        .map_err(|e| Error::Io {
            path: args.command[0].clone(),
            source: e,
        })?;
    drop(plugged);
    drop(pcscd);
    match status.code() {
        Some(0) => Ok(ExitCode::Ok),
        Some(c) => Err(Error::Other {
            message: format!("the command exited with status {c}"),
            code: exit_code_from(c),
        }),
        None => Err(Error::Other {
            message: "the command was killed by a signal".into(),
            code: ExitCode::Internal,
        }),
    }
}

fn exit_code_from(c: i32) -> ExitCode {
    use ExitCode::*;
    [
        Internal,
        Usage,
        NoReader,
        NoCard,
        CardLost,
        CardStatus,
        InvalidData,
        UnknownCard,
        ScriptMismatch,
        ScriptError,
        Keys,
        Refused,
        Journal,
        Io,
        Timeout,
        VirtualCard,
    ]
    .into_iter()
    .find(|e| *e as i32 == c)
    .unwrap_or(Internal)
}
