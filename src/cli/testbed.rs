//! `sscard testbed [--card SLOT=IMAGE]... -- COMMAND...`: run a command against a
//! private pcscd with virtual cards inserted.
//!
//! For test runs and demos without hardware: a pcscd of its own (in a private mount
//! namespace, so a system pcscd keeps running undisturbed), the vpcd driver's two
//! slots, and the given card images plugged in. The command runs with
//! `PCSCLITE_CSOCK_NAME` pointing at the private daemon, `SSCARD_VPCD_PORT0/1` naming
//! the slots' ports (to plug more cards in with `sscard vcard`), and this `sscard` first
//! on `PATH`. Everything started is stopped when the command ends. Needs root.
//!
//! Signals: SIGINT, SIGTERM and SIGHUP are forwarded to the command; when it has
//! ended (or been killed after a grace period) the virtual cards and pcscd are
//! stopped, the temporary directory is removed, and the exit status is
//! `128 + signal`. Without this a SIGTERM left pcscd, the cards, the command and the
//! directory behind.

use super::{process, CmdResult};
use crate::error::{Error, ExitCode};
use crate::testbed::{Pcscd, VirtualCardProcess};
use signal_hook::iterator::Signals;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

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

/// How long the command has to end after a forwarded signal before it is killed.
pub const SIGNAL_GRACE: Duration = Duration::from_secs(5);

/// Signals that arrived since the last look (SIGINT, SIGTERM, SIGHUP).
fn arrived(signals: &mut Signals) -> Option<i32> {
    signals.pending().next()
}

/// Waits for `child`, forwarding SIGINT/SIGTERM/SIGHUP to it; kills it when it has
/// not ended [`SIGNAL_GRACE`] after the first. Returns its status and the first
/// signal received, if any.
fn wait_forwarding(
    child: &mut Child,
    signals: &mut Signals,
    mut got: Option<i32>,
) -> std::io::Result<(ExitStatus, Option<i32>)> {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut deadline = got.map(|_| Instant::now() + SIGNAL_GRACE);
    if let Some(sig) = got {
        forward(pid, sig);
    }
    loop {
        if let Some(status) = child.try_wait()? {
            // Ctrl-C on a terminal signals the whole process group: the command may
            // end of its SIGINT before this loop saw ours. It is still a stop by
            // signal (130), not a command failing with status 130 (which mapped to 1).
            for sig in signals.pending() {
                got.get_or_insert(sig);
            }
            return Ok((status, got));
        }
        for sig in signals.pending() {
            forward(pid, sig);
            got.get_or_insert(sig);
            deadline.get_or_insert(Instant::now() + SIGNAL_GRACE);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            return Ok((child.wait()?, got));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn forward(pid: nix::unistd::Pid, sig: i32) {
    if let Ok(s) = nix::sys::signal::Signal::try_from(sig) {
        let _ = nix::sys::signal::kill(pid, s);
    }
}

/// Everything this test bed started: stopped in this order when dropped (virtual
/// cards, then pcscd, whose drop also removes its temporary directory).
struct Started {
    cards: Vec<VirtualCardProcess>,
    pcscd: Option<Pcscd>,
}

impl Drop for Started {
    fn drop(&mut self) {
        self.cards.clear();
        self.pcscd.take();
    }
}

/// Ends the process after a signal, with everything already stopped.
fn stopped_by(sig: i32, started: Started, what: &str) -> ! {
    drop(started);
    eprintln!(
        "sscard: testbed stopped by {} {what}; pcscd and the virtual cards were stopped \
         and the temporary directory removed",
        process::signal_name(sig)
    );
    std::process::exit(process::signal_exit(sig));
}

/// Runs `sscard testbed`.
///
/// SIGINT, SIGTERM and SIGHUP are handled from the start: while the bed is being set
/// up it is torn down at once; while the command runs the signal is forwarded to it
/// (a second one too), it is given [`SIGNAL_GRACE`] to end and then killed. Either
/// way the virtual cards and pcscd are stopped, the temporary directory removed, and
/// the exit status is `128 + signal` (hardware.md, "Signals").
pub fn run(args: &TestbedArgs) -> CmdResult {
    let cards = args
        .cards
        .iter()
        .map(|c| parse_card(c))
        .collect::<Result<Vec<_>, _>>()?;
    // A typo in an image path used to cost a 10 s wait for a card that never came and
    // exit 15 (timeout); a bad image is a virtual card failure (16), said at once.
    for (_, image) in &cards {
        crate::vcard::engine::Card::load(image).map_err(|e| Error::VirtualCard(e.to_string()))?;
    }
    let exe = std::env::current_exe().map_err(|e| Error::Io {
        path: "current executable".into(),
        source: e,
    })?;
    let mut signals = Signals::new(process::STOP_SIGNALS).map_err(|e| Error::Other {
        message: format!("cannot handle signals: {e}"),
        code: ExitCode::Internal,
    })?;
    let pcscd = Pcscd::start().map_err(|e| Error::Other {
        message: format!("could not start a private pcscd: {e}"),
        code: ExitCode::NoReader,
    })?;
    let (key, sock) = pcscd.env();
    let ports = [pcscd.port(0), pcscd.port(1)];
    let mut started = Started {
        cards: Vec::new(),
        pcscd: Some(pcscd),
    };
    if let Some(sig) = arrived(&mut signals) {
        stopped_by(sig, started, "while starting pcscd");
    }
    for (slot, image) in &cards {
        let card = VirtualCardProcess::insert(&exe, image, ports[*slot as usize], &[])
            .map_err(|e| Error::VirtualCard(format!("{}: {e}", image.display())))?;
        started.cards.push(card);
        // Wait for pcscd to see the card (an event, not a sleep).
        let mut wait = Command::new(&exe)
            .env(key, &sock)
            .args(["wait", "--reader", &slot.to_string(), "--timeout", "10"])
            .spawn()
            .map_err(|e| Error::Io {
                path: exe.display().to_string(),
                source: e,
            })?;
        let (status, sig) =
            wait_forwarding(&mut wait, &mut signals, None).map_err(|e| Error::Io {
                path: exe.display().to_string(),
                source: e,
            })?;
        if let Some(sig) = sig {
            stopped_by(sig, started, "while inserting the cards");
        }
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
    let pending = arrived(&mut signals);
    if let Some(sig) = pending {
        stopped_by(sig, started, "before the command started");
    }
    let mut child = Command::new(&args.command[0])
        .args(&args.command[1..])
        .env(key, &sock)
        .env("PATH", path)
        .env("SSCARD_VPCD_PORT0", ports[0].to_string())
        .env("SSCARD_VPCD_PORT1", ports[1].to_string())
        .spawn()
        .map_err(|e| Error::Io {
            path: args.command[0].clone(),
            source: e,
        })?;
    let (status, sig) = wait_forwarding(&mut child, &mut signals, None).map_err(|e| Error::Io {
        path: args.command[0].clone(),
        source: e,
    })?;
    if let Some(sig) = sig {
        stopped_by(sig, started, "(forwarded to the command)");
    }
    drop(started);
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

/// The command's exit status as one of ours: the code itself when `sscard` has it
/// ([`ExitCode::from_code`], so a code added to the enum is passed on without a list
/// here to forget), else [`ExitCode::Internal`].
fn exit_code_from(c: i32) -> ExitCode {
    ExitCode::from_code(c).unwrap_or(ExitCode::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commands_status_is_passed_on_when_it_is_ours() {
        for (code, _) in ExitCode::table() {
            assert_eq!(exit_code_from(i32::from(code)) as u8, code);
        }
        // 17 (the fleet centre) was once missing from a hand-kept list here.
        assert_eq!(exit_code_from(17), ExitCode::Fleet);
        for other in [18, 100, 255, -1, 141] {
            assert_eq!(exit_code_from(other), ExitCode::Internal, "{other}");
        }
    }
}
