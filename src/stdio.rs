//! Writing to stdout and stderr without a panic: a failed write is an `io::Error`
//! handled here, never a panic recognised by its text.
//!
//! Why: std's `print!`/`println!` panic when the write fails (`failed printing to
//! stdout: No space left on device`), on a full disk (`> /dev/full`) or a closed pipe
//! while SIGPIPE is ignored. The panic hook used to tell that panic from a bug by
//! matching its message, a string std does not promise. Instead, `print!`,
//! `println!`, `eprint!` and `eprintln!` in this crate are the macros of this module
//! (declared first in `lib.rs` with `#[macro_use]`, they shadow std's in every module
//! of the crate, code added later included). They write through [`std::io::Write`],
//! which returns the error, and flush, so a failure shows at the write that caused it
//! rather than in the buffer's flush at exit, where std drops it:
//! - stdout: [`stdout_failed`] decides. A reader that went away (`sscard ... |
//!   head -c1`, [`std::io::ErrorKind::BrokenPipe`]) ends the process quietly with
//!   [`BROKEN_PIPE_EXIT`], as a filter killed by SIGPIPE ends (the shell's 141); any
//!   other failure (a full disk, an I/O error) prints one line on stderr naming the
//!   error and exits with [`ExitCode::Io`] (14).
//! - stderr: a failed write is ignored. There is nowhere left to say it, and the
//!   command still finishes its work and its exit status still tells.
//!
//! The commands that write whole documents (`output::print`, `man`, `completions`,
//! the receipt) write through [`std::io::Write`] themselves and return the failure
//! as `Error::Io` (exit 14); `output` ends quietly on a closed pipe as here.

use crate::error::ExitCode;
use std::fmt;
use std::io::{self, Write};

/// Exit status when stdout is closed early (`sscard readers | head -1`): the shell's
/// code for a process ended by SIGPIPE (128 + 13).
pub const BROKEN_PIPE_EXIT: i32 = 141;

/// Writes `args` to `w` and flushes it.
///
/// # Errors
/// The writer's error, as it reported it.
pub fn write_flushed(w: &mut impl Write, args: fmt::Arguments<'_>) -> io::Result<()> {
    w.write_fmt(args)?;
    w.flush()
}

/// The exit status for a failed write to stdout, and the line to print on stderr
/// (`None`: end quietly): a closed pipe is [`BROKEN_PIPE_EXIT`] with nothing said;
/// any other error is [`ExitCode::Io`] with the error named.
pub fn stdout_error_exit(e: &io::Error) -> (i32, Option<String>) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        (BROKEN_PIPE_EXIT, None)
    } else {
        (
            ExitCode::Io as i32,
            Some(format!(
                "sscard: error: cannot write the output (stdout): {e}"
            )),
        )
    }
}

/// Ends the process after a failed write to stdout, as [`stdout_error_exit`] says.
pub fn stdout_failed(e: &io::Error) -> ! {
    let (code, line) = stdout_error_exit(e);
    if let Some(line) = line {
        let _ = write_flushed(&mut io::stderr().lock(), format_args!("{line}\n"));
    }
    std::process::exit(code)
}

/// What `print!`/`println!` call: writes to stdout; a failure ends the process
/// ([`stdout_failed`]).
pub fn out(args: fmt::Arguments<'_>) {
    if let Err(e) = write_flushed(&mut io::stdout().lock(), args) {
        stdout_failed(&e);
    }
}

/// What `eprint!`/`eprintln!` call: writes to stderr; a failure is ignored (see the
/// module doc).
pub fn err(args: fmt::Arguments<'_>) {
    let _ = write_flushed(&mut io::stderr().lock(), args);
}

/// `print!` writing through [`out`].
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::stdio::out(format_args!($($arg)*))
    };
}

/// `println!` writing through [`out`].
macro_rules! println {
    () => {
        $crate::stdio::out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdio::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprint!` writing through [`err`] (unused today; here so that a use to come does
/// not reach std's, which panics on a failed write).
#[allow(unused_macros)]
macro_rules! eprint {
    ($($arg:tt)*) => {
        $crate::stdio::err(format_args!($($arg)*))
    };
}

/// `eprintln!` writing through [`err`].
macro_rules! eprintln {
    () => {
        $crate::stdio::err(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::stdio::err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that fails as a full disk or a closed pipe does.
    struct Failing(io::ErrorKind);

    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_is_an_error_value_mapped_to_its_exit() {
        let full =
            write_flushed(&mut Failing(io::ErrorKind::StorageFull), format_args!("x")).unwrap_err();
        let (code, line) = stdout_error_exit(&full);
        assert_eq!(code, 14);
        assert!(line.is_some_and(|l| l.starts_with("sscard: error: cannot write")));
        let pipe =
            write_flushed(&mut Failing(io::ErrorKind::BrokenPipe), format_args!("x")).unwrap_err();
        assert_eq!(stdout_error_exit(&pipe), (BROKEN_PIPE_EXIT, None));
        let mut ok = Vec::new();
        write_flushed(&mut ok, format_args!("{}-{}\n", 1, "a")).unwrap();
        assert_eq!(ok, b"1-a\n");
    }
}
