//! The process itself: no core dumps, no raw panics, deliberate signal handling.
//!
//! Why here and not in each command: these are properties of the whole `sscard`
//! process, set once in [`super::main`] before any argument is looked at.
//!
//! - **No core dumps** ([`no_core_dumps`]). PINs, var-file values and master keys sit
//!   in memory while a command runs; a core file (SIGQUIT, a crash) would write them to
//!   disk. Every command, always, makes the process non-dumpable
//!   (`prctl(PR_SET_DUMPABLE, 0)`, which also keeps other users' debuggers out) and
//!   sets its soft `RLIMIT_CORE` to 0, the second because a system with
//!   `fs.suid_dumpable = 2` still dumps non-dumpable processes (root-only). Always,
//!   rather than only for commands that take a secret: it costs nothing, and a list of
//!   "commands that can hold a secret" is one more thing to get wrong (`send` can carry
//!   a VERIFY, `script` a var file, `vcard` an image's PIN). Children that `testbed`
//!   starts get their dumpable flag back from `execve`; their `RLIMIT_CORE` stays 0
//!   unless they raise it (the hard limit is left alone).
//! - **Panics** ([`install_panic_hook`]): a panic is a bug. It prints one short line
//!   asking for a report and exits with [`PANIC_EXIT`] (101, Rust's own code for a
//!   panic, documented in the README), instead of Rust's backtrace banner. Output that
//!   cannot be written (a full disk, `> /dev/full`) is no bug and no panic: the
//!   crate's `print!`/`println!` write through [`crate::stdio`], which exits 14 with
//!   the I/O error (or quietly 141 on a closed pipe), so the hook matches no text.
//! - **A closed pipe** ([`default_sigpipe`]): `sscard readers | head -1` ends with
//!   [`BROKEN_PIPE_EXIT`] (141), what the shell shows for a Unix filter killed by
//!   SIGPIPE. Rust starts programs with SIGPIPE ignored, so a write to a closed pipe
//!   made `println!` panic and the hook had to recognise the panic by its text; now
//!   SIGPIPE itself ends the process, inside the failing write, and should its
//!   handler be missing the write's `BrokenPipe` error ends it the same way
//!   ([`crate::stdio`]): nothing is matched and nothing panics.
//!   Safe for our own sockets: pcsc-lite's client sends with `MSG_NOSIGNAL`, and std's
//!   and socket2's sockets (vpcd, PostgreSQL) do too, so a dead pcscd or vpcd is still
//!   an error value, never a SIGPIPE.
//! - **Signals** ([`exit_on_signal`]): the long-running commands (`wait`,
//!   `readers --watch`, `info --wait`, `vcard`, `script`) end on SIGINT, SIGTERM or
//!   SIGHUP with one line on stderr and exit `128 + signal` (130, 143, 129), the shell's
//!   convention. They hold nothing that needs undoing: pcscd releases a dead client's
//!   card connection, a transcript is flushed after every exchange, a virtual card's
//!   image is replaced atomically. `testbed` forwards the signal to its command and
//!   cleans up instead (see `cli/testbed.rs`).

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Exit status of a panic (a bug): Rust's own code for a panicking process.
pub const PANIC_EXIT: i32 = 101;

/// Exit status when stdout is closed early (`sscard readers | head -1`): the shell's
/// code for a process ended by SIGPIPE.
pub const BROKEN_PIPE_EXIT: i32 = crate::stdio::BROKEN_PIPE_EXIT;

/// The signals a long-running command handles.
pub const STOP_SIGNALS: [i32; 3] = [SIGINT, SIGTERM, SIGHUP];

/// The exit status for a command stopped by `signal`: `128 + signal`.
pub fn signal_exit(signal: i32) -> i32 {
    128 + signal
}

/// A signal's name for messages (`SIGTERM`).
pub fn signal_name(signal: i32) -> String {
    nix::sys::signal::Signal::try_from(signal)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {signal}"))
}

/// Makes the process non-dumpable and its soft core-size limit 0 (see the module doc).
///
/// # Errors
/// The system call's error; the caller reports it and goes on only if it may.
pub fn no_core_dumps() -> Result<(), nix::Error> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    nix::sys::prctl::set_dumpable(false)?;
    let (_, hard) = getrlimit(Resource::RLIMIT_CORE)?;
    setrlimit(Resource::RLIMIT_CORE, 0, hard)
}

/// Whether the process is dumpable now (`prctl(PR_GET_DUMPABLE)`), for tests.
///
/// # Errors
/// The system call's error.
pub fn is_dumpable() -> Result<bool, nix::Error> {
    nix::sys::prctl::get_dumpable()
}

/// Makes a write to a closed pipe end the process at once with [`BROKEN_PIPE_EXIT`],
/// inside the failing write, as a C filter killed by SIGPIPE ends (the shell shows
/// 141 either way); see the module doc for why that is safe here. signal-hook's
/// handler calls `_exit` (async-signal-safe) and needs no `unsafe` of ours.
///
/// # Errors
/// When the handler cannot be installed (the process then keeps Rust's default:
/// SIGPIPE ignored, a closed pipe a failed write, exit 14).
pub fn default_sigpipe() -> std::io::Result<()> {
    let always = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    signal_hook::flag::register_conditional_shutdown(
        signal_hook::consts::SIGPIPE,
        BROKEN_PIPE_EXIT,
        always,
    )
    .map(|_| ())
}

/// Installs the panic hook described in the module doc.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        // Only the source location: a message could carry data from the card.
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "sscard: internal error (a bug){at}. Please report it with the command you ran \
             (leave out PINs and keys) and `sscard --version`; exit {PANIC_EXIT}"
        );
        std::process::exit(PANIC_EXIT);
    }));
}

/// Ends the process with `128 + signal` on SIGINT, SIGTERM or SIGHUP, after printing
/// `sscard: WHAT stopped by SIGNAL` (see the module doc for why that is enough).
///
/// # Errors
/// When the handlers cannot be installed (the signals then keep their default, which
/// also ends the process).
pub fn exit_on_signal(what: &'static str) -> std::io::Result<()> {
    let mut signals = Signals::new(STOP_SIGNALS)?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                eprintln!("sscard: {what} stopped by {}", signal_name(sig));
                std::process::exit(signal_exit(sig));
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_core_dumps_turns_dumping_off() {
        // The test process itself: harmless, and exactly what `sscard` does at start.
        no_core_dumps().unwrap();
        assert!(!is_dumpable().unwrap());
        let (soft, _) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_CORE).unwrap();
        assert_eq!(soft, 0);
    }

    #[test]
    fn exit_statuses_follow_the_shell() {
        assert_eq!(signal_exit(SIGTERM), 143);
        assert_eq!(signal_exit(SIGINT), 130);
        assert_eq!(signal_exit(SIGHUP), 129);
        assert_eq!(signal_name(SIGTERM), "SIGTERM");
    }
}
