//! Transcripts: a text dump of a session that replays as a card in tests.
//!
//! The format (apdu4j-style, one exchange per line pair, redacted like the trace):
//! ```text
//! # sscard transcript 1
//! # reader: Virtual PCD 00 00
//! # atr: 3B 6D 00 00 ...
//! > 00 A4 04 00 0F 73 78 ...
//! < 61 1E
//! ! reset
//! < 3B 6D 00 00 ...
//! ```
//! `> ` lines are commands, `< ` their responses, `! reset` a card reset followed by the
//! ATR. A redacted byte is written `..`: on replay it matches any command byte and is
//! answered as `00`, so a transcript never holds a PIN or cryptogram yet still replays.
//! Lines starting with `#` are comments; a trailing `# ...` on a line is ignored.
//!
//! The file is owner-only (0600): created so, and tightened to 0600 when an existing
//! regular file is overwritten or appended to ([`crate::secret::create_private`]).
//! Redaction is the trace's: the rule by instruction plus the command's
//! [`KnownSecrets`].

use super::redact::{self, KnownSecrets, Redactor};
use super::transport::{Transport, TransportError};
use std::fs::File;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

/// Records every exchange of the transport below it to a transcript file.
pub struct Recorder<T> {
    inner: T,
    out: BufWriter<File>,
    redactor: Redactor,
    known: KnownSecrets,
}

impl<T: Transport> Recorder<T> {
    /// Starts a transcript at `path` (created or truncated) for `inner`.
    pub fn create(inner: T, path: &Path) -> Result<Self, TransportError> {
        Self::create_with(inner, path, KnownSecrets::default())
    }

    /// [`Recorder::create`], hiding the values of `known` as well.
    pub fn create_with(inner: T, path: &Path, known: KnownSecrets) -> Result<Self, TransportError> {
        Self::start(inner, crate::secret::create_private(path, false)?, known)
    }

    /// [`Recorder::append`], hiding the values of `known` as well.
    pub fn append_with(inner: T, path: &Path, known: KnownSecrets) -> Result<Self, TransportError> {
        Self::start(inner, crate::secret::create_private(path, true)?, known)
    }

    /// Adds a session for `inner` to the transcript at `path` (a flow that opens
    /// several cards records them one after the other in one file).
    pub fn append(inner: T, path: &Path) -> Result<Self, TransportError> {
        Self::append_with(inner, path, KnownSecrets::default())
    }

    fn start(inner: T, file: File, known: KnownSecrets) -> Result<Self, TransportError> {
        let mut out = BufWriter::new(file);
        writeln!(out, "# sscard transcript 1")?;
        writeln!(out, "# reader: {}", inner.name())?;
        if let Some(atr) = inner.atr() {
            writeln!(out, "# atr: {}", redact::spaced_hex(&atr))?;
        }
        out.flush()?;
        Ok(Recorder {
            inner,
            out,
            redactor: Redactor::default(),
            known,
        })
    }
}

impl<T: Transport> Transport for Recorder<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let secrets = self.redactor.classify(command);
        writeln!(
            self.out,
            "> {}",
            redact::command_hex_known(command, secrets, &self.known)
        )?;
        let result = self.inner.transmit(command);
        match &result {
            Ok(resp) => {
                self.redactor.observe(secrets, resp);
                writeln!(
                    self.out,
                    "< {}",
                    redact::response_hex_known(resp, secrets, &self.known)
                )?;
            }
            Err(e) => writeln!(self.out, "# error: {e}")?,
        }
        // Flushed per exchange so a killed process still leaves a usable dump.
        self.out.flush()?;
        result
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        let atr = self.inner.reset()?;
        self.redactor = Redactor::default();
        writeln!(self.out, "! reset\n< {}", redact::spaced_hex(&atr))?;
        self.out.flush()?;
        Ok(atr)
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.inner.atr()
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

/// One byte of a transcript line: a value, or `..` (redacted / any).
type Pattern = Vec<Option<u8>>;

#[derive(Debug, Clone)]
enum Step {
    Exchange { command: Pattern, response: Pattern },
    Reset { atr: Pattern },
}

/// Plays a transcript back as a card: each command must match the next recorded one.
#[derive(Debug, Clone)]
pub struct Replay {
    steps: Vec<Step>,
    next: usize,
    reader: String,
    atr: Option<Vec<u8>>,
}

fn parse_pattern(text: &str, line: usize) -> Result<Pattern, TransportError> {
    let text = text.split('#').next().unwrap_or("");
    let mut out = Vec::new();
    for tok in text.split_whitespace() {
        if tok == ".." {
            out.push(None);
            continue;
        }
        let bytes = super::hex_input::decode(tok)
            .map_err(|e| TransportError::Replay(format!("line {line}: bad hex: {e} of '{tok}'")))?;
        out.extend(bytes.into_iter().map(Some));
    }
    Ok(out)
}

fn fill(p: &Pattern) -> Vec<u8> {
    p.iter().map(|b| b.unwrap_or(0)).collect()
}

/// The largest transcript `--replay` reads: 64 MiB, some hundred thousand
/// exchanges of the largest short APDUs (a `--dump` of one session is far smaller).
pub const MAX_TRANSCRIPT_BYTES: u64 = 64 << 20;

impl Replay {
    /// Loads a transcript file, at most [`MAX_TRANSCRIPT_BYTES`] long.
    ///
    /// # Errors
    /// The file cannot be read, is longer than the limit (checked while reading, so
    /// `/dev/zero` or an endless pipe is refused instead of filling memory), or is
    /// not a transcript.
    pub fn open(path: &Path) -> Result<Self, TransportError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        File::open(path)?
            .take(MAX_TRANSCRIPT_BYTES + 1)
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_TRANSCRIPT_BYTES {
            return Err(TransportError::Replay(format!(
                "the transcript is larger than {MAX_TRANSCRIPT_BYTES} bytes"
            )));
        }
        Self::from_reader(bytes.as_slice())
    }

    /// Parses a transcript.
    pub fn from_reader(reader: impl BufRead) -> Result<Self, TransportError> {
        let mut steps = Vec::new();
        let mut name = String::from("replay");
        let mut atr = None;
        let mut pending: Option<(Pattern, bool)> = None;
        for (i, line) in reader.lines().enumerate() {
            let line = line?;
            let n = i + 1;
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("# reader:") {
                name = format!("replay of {}", rest.trim());
            } else if let Some(rest) = line.strip_prefix("# atr:") {
                atr = Some(fill(&parse_pattern(rest, n)?));
            } else if line.is_empty() || line.starts_with('#') {
                continue;
            } else if line == "! reset" {
                pending = Some((Vec::new(), true));
            } else if let Some(rest) = line.strip_prefix('>') {
                pending = Some((parse_pattern(rest, n)?, false));
            } else if let Some(rest) = line.strip_prefix('<') {
                let response = parse_pattern(rest, n)?;
                match pending.take() {
                    Some((_, true)) => steps.push(Step::Reset { atr: response }),
                    Some((command, false)) => steps.push(Step::Exchange { command, response }),
                    None => {
                        return Err(TransportError::Replay(format!(
                            "line {n}: a response with no command before it"
                        )))
                    }
                }
            } else {
                return Err(TransportError::Replay(format!(
                    "line {n}: expected '>', '<', '! reset' or '#'"
                )));
            }
        }
        Ok(Replay {
            steps,
            next: 0,
            reader: name,
            atr,
        })
    }

    /// Whether every recorded exchange was played.
    pub fn finished(&self) -> bool {
        self.next == self.steps.len()
    }
}

impl Transport for Replay {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let index = self.next;
        match self.steps.get(index) {
            Some(Step::Exchange {
                command: want,
                response,
            }) => {
                let matches = want.len() == command.len()
                    && want
                        .iter()
                        .zip(command)
                        .all(|(w, c)| w.is_none_or(|w| w == *c));
                if !matches {
                    return Err(TransportError::Replay(format!(
                        "exchange {}: the transcript has a different command",
                        index + 1
                    )));
                }
                self.next += 1;
                Ok(fill(response))
            }
            Some(Step::Reset { .. }) => Err(TransportError::Replay(format!(
                "exchange {}: the transcript has a reset here",
                index + 1
            ))),
            None => Err(TransportError::Replay(
                "the transcript has no more exchanges".into(),
            )),
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        match self.steps.get(self.next) {
            Some(Step::Reset { atr }) => {
                self.next += 1;
                Ok(fill(atr))
            }
            _ => Err(TransportError::Replay(
                "the transcript has no reset here".into(),
            )),
        }
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.atr.clone()
    }
    fn name(&self) -> String {
        self.reader.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_transcript_is_refused_not_read_whole() {
        // /dev/zero never ends and has no newline: `lines()` used to grow one line
        // without bound (issue 16 §3).
        let e = Replay::open(Path::new("/dev/zero")).err().unwrap();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    /// Answers `9000` to everything.
    struct Echo;
    impl Transport for Echo {
        fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0x90, 0x00])
        }
        fn atr(&self) -> Option<Vec<u8>> {
            Some(vec![0x3B, 0x00])
        }
    }

    #[test]
    fn records_and_replays_with_secrets_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let verify = hex::decode("0020000003123456").unwrap();
        let select = hex::decode("00A40000023F00").unwrap();
        {
            let mut rec = Recorder::create(Echo, &path).unwrap();
            rec.transmit(&select).unwrap();
            rec.transmit(&verify).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("12 34 56"), "{text}");
        assert!(text.contains("> 00 20 00 00 03 .. .. .."), "{text}");
        let mut replay = Replay::open(&path).unwrap();
        assert_eq!(replay.atr(), Some(vec![0x3B, 0x00]));
        let r = replay.transmit(&select).unwrap();
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
        // Any PIN matches the redacted bytes.
        replay
            .transmit(&hex::decode("0020000003999999").unwrap())
            .unwrap();
        assert!(replay.finished());
        assert!(replay.transmit(&select).is_err());
    }

    #[test]
    fn replay_rejects_a_different_command() {
        let mut replay =
            Replay::from_reader("> 00 A4 00 00 02 3F 00\n< 90 00\n".as_bytes()).unwrap();
        assert!(matches!(
            replay.transmit(&[0, 0xB2, 1, 4, 0]),
            Err(TransportError::Replay(_))
        ));
    }

    #[test]
    fn malformed_transcripts_are_errors() {
        assert!(Replay::from_reader("< 90 00\n".as_bytes()).is_err());
        assert!(Replay::from_reader("> 0G\n".as_bytes()).is_err());
        assert!(Replay::from_reader("hello\n".as_bytes()).is_err());
    }
}
