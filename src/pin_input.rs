//! Reading a PIN: from the terminal with echo off, or from a file or stdin for
//! automation. Never from argv (it would show in `ps` and shell history).
//!
//! Why at the crate root and not under `cli/`: the desk (`activation::desk`) and the
//! screens (`ui`) hold a [`PinReader`], and no lower layer imports from `cli/` (issue
//! 14 point 5); this module needs only [`crate::error`] and [`crate::secret`].

use crate::error::{Error, ExitCode};
use crate::secret::Pin;
use std::io::IsTerminal;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// Where PINs come from.
#[derive(Debug, Clone)]
pub enum PinSource {
    /// Prompt on the terminal, echo off.
    Terminal,
    /// Lines of a file: the first line is the first PIN asked for, and so on.
    File(PathBuf),
    /// Lines of standard input.
    Stdin,
}

/// Hands out PINs in the order asked.
pub struct PinReader {
    source: PinSource,
    lines: Option<Vec<Zeroizing<String>>>,
    next: usize,
}

fn pin_error(message: String) -> Error {
    Error::Other {
        message,
        code: ExitCode::InvalidData,
    }
}

/// Refuses a PIN file that group or others may read or write, as key files and var
/// files are ([`crate::secret::check_private_file`]); standard input and the terminal
/// pass. Called before anything touches a card, and again when the file is read.
///
/// # Errors
/// [`ExitCode::Io`] naming the file and the `chmod` to run.
pub fn check_source(source: &PinSource) -> Result<(), Error> {
    match source {
        PinSource::File(path) => {
            crate::secret::check_private_file(path).map_err(|why| Error::Other {
                message: format!("PIN file {}: {why}", path.display()),
                code: ExitCode::Io,
            })
        }
        PinSource::Terminal | PinSource::Stdin => Ok(()),
    }
}

impl PinReader {
    /// A reader over `source`; `--pin-file -` means stdin.
    pub fn new(source: PinSource) -> Self {
        PinReader {
            source,
            lines: None,
            next: 0,
        }
    }

    fn load(&mut self) -> Result<(), Error> {
        if self.lines.is_some() {
            return Ok(());
        }
        let lines = match &self.source {
            PinSource::Terminal => Vec::new(),
            PinSource::File(path) => {
                check_source(&self.source)?;
                let file = std::fs::File::open(path).map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
                let text = read_bounded(file).map_err(|e| Error::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
                text.lines()
                    .map(|l| Zeroizing::new(l.to_string()))
                    .collect()
            }
            PinSource::Stdin => {
                let text = read_bounded(std::io::stdin().lock()).map_err(|e| Error::Io {
                    path: "stdin".into(),
                    source: e,
                })?;
                text.lines()
                    .map(|l| Zeroizing::new(l.to_string()))
                    .collect()
            }
        };
        self.lines = Some(lines);
        Ok(())
    }

    /// Asks for a PIN with `prompt` (shown only on a terminal).
    pub fn read(&mut self, prompt: &str) -> Result<Pin, Error> {
        if let PinSource::Terminal = self.source {
            if !std::io::stdin().is_terminal() {
                return Err(pin_error(
                    "no terminal to ask for the PIN: use --pin-file FILE or --pin-file - (stdin)"
                        .into(),
                ));
            }
            let text =
                Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| Error::Io {
                    path: "terminal".into(),
                    source: e,
                })?);
            return Pin::parse(&text).map_err(|e| pin_error(e.to_string()));
        }
        self.load()?;
        let line = self
            .lines
            .as_ref()
            .and_then(|l| l.get(self.next))
            .ok_or_else(|| pin_error(format!("the PIN input has no line {}", self.next + 1)))?;
        self.next += 1;
        Pin::parse(line).map_err(|e| pin_error(format!("PIN line {}: {e}", self.next)))
    }
}

/// The most a PIN file (or `--pin-file -`) may hold: 64 KiB, thousands of PIN lines.
pub const MAX_PIN_FILE_BYTES: u64 = 64 << 10;

/// Reads PIN text, refusing more than [`MAX_PIN_FILE_BYTES`] without reading further
/// (`--pin-file - < /dev/zero`, a FIFO: memory must not grow without bound). The
/// buffer is wiped when dropped.
fn read_bounded(source: impl std::io::Read) -> std::io::Result<Zeroizing<String>> {
    use std::io::Read;
    let mut bytes = Zeroizing::new(Vec::with_capacity(256));
    source
        .take(MAX_PIN_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_PIN_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_PIN_FILE_BYTES} bytes"
        )));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })?;
    Ok(Zeroizing::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_pin_source_is_refused_not_read_whole() {
        // `--pin-file - < /dev/zero` used to read lines without end (issue 16 §3).
        let e = read_bounded(std::fs::File::open("/dev/zero").unwrap()).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
        assert_eq!(read_bounded(&b"135790\n"[..]).unwrap().as_str(), "135790\n");
    }
}
