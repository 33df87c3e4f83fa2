//! The tool's top-level error and its exit codes.
//!
//! Each kind of failure a desk worker or a script must tell apart has its own exit
//! code, so `sscard` can be scripted without parsing messages. The codes are part of
//! the interface: documented in the README and never reused.

use crate::apdu::TransportError;

/// Exit codes of `sscard`: the one list every table of codes is made from.
///
/// Each variant's `message` is its row in the README's "Exit codes" table and in the
/// manual page's EXIT STATUS section (both generated from or tested against
/// [`ExitCode::table`]); its snake-case name (`no_reader`, [`ExitCode::name`]) is the stable
/// machine-readable one. Codes are never reused: a new failure kind gets the next number.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    strum::EnumIter,
    strum::FromRepr,
    strum::EnumMessage,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
#[repr(u8)]
pub enum ExitCode {
    /// Success.
    #[strum(message = "success")]
    Ok = 0,
    /// An unexpected internal failure.
    #[strum(message = "internal error")]
    Internal = 1,
    /// Bad command-line usage (clap's own code).
    #[strum(message = "bad command-line usage")]
    Usage = 2,
    /// pcscd not running, no readers, or no such reader.
    #[strum(message = "pcscd not running, no reader, or no such reader")]
    NoReader = 3,
    /// The reader is empty.
    #[strum(message = "no card in the reader")]
    NoCard = 4,
    /// The card was removed, reset or stopped answering during an exchange.
    #[strum(message = "card removed, reset or silent during an exchange")]
    CardLost = 5,
    /// The card answered with a status word other than the expected one.
    #[strum(message = "the card answered an unexpected status word")]
    CardStatus = 6,
    /// Malformed data: an ATR, TLV, response or input that does not parse.
    #[strum(message = "malformed data (ATR, TLV, response, input, configuration)")]
    InvalidData = 7,
    /// The card is not one of the known profiles.
    #[strum(message = "unknown card")]
    UnknownCard = 8,
    /// An APDU script's expectation was not met.
    #[strum(message = "APDU script expectation not met")]
    ScriptMismatch = 9,
    /// An APDU script has a syntax error.
    #[strum(message = "APDU script syntax error")]
    ScriptError = 10,
    /// Keys: SAM or key file missing, unreadable or refused.
    #[strum(message = "keys: SAM or key file missing, unreadable or refused")]
    Keys = 11,
    /// A business rule refused the operation (activation refusals).
    #[strum(message = "refused by an activation rule")]
    Refused = 12,
    /// The activation journal could not be read or written.
    #[strum(message = "journal error")]
    Journal = 13,
    /// An I/O failure on a local file.
    #[strum(message = "local file I/O error")]
    Io = 14,
    /// Waiting for a card or event timed out.
    #[strum(message = "timed out waiting for a card")]
    Timeout = 15,
    /// A virtual card failed (image, vpcd connection).
    #[strum(message = "virtual card failure")]
    VirtualCard = 16,
    /// The fleet centre (PostgreSQL) is unreachable, refused or failed (src/fleet).
    #[strum(message = "fleet centre (PostgreSQL) unreachable, refused or failed (docs/fleet.md)")]
    Fleet = 17,
}

impl ExitCode {
    /// The code as the process returns it (0 to 17).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The exit code numbered `code`, if `sscard` has one (`None` for 18 and above).
    pub fn from_code(code: i32) -> Option<ExitCode> {
        u8::try_from(code).ok().and_then(ExitCode::from_repr)
    }

    /// The stable snake-case name (`no_reader`, `card_lost`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What the code means, one line of English: the README's and the manual page's
    /// wording.
    pub fn meaning(self) -> &'static str {
        strum::EnumMessage::get_message(&self).unwrap_or("")
    }

    /// Every exit code with its meaning, in numeric order: the table the README, the
    /// manual page and the `testbed` status mapping are made from.
    pub fn table() -> impl Iterator<Item = (u8, &'static str)> {
        <ExitCode as strum::IntoEnumIterator>::iter().map(|c| (c.code(), c.meaning()))
    }
}

/// An error that ends the command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A reader or card exchange failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card answered an unexpected status word.
    #[error("{context}: the card answered {status}")]
    CardStatus {
        /// What was being done.
        context: String,
        /// The status word.
        status: crate::apdu::Status,
    },
    /// Malformed data.
    #[error("invalid data: {0}")]
    InvalidData(String),
    /// Not a card this tool knows.
    #[error("unknown card: {0}")]
    UnknownCard(String),
    /// Waiting timed out.
    #[error("timed out: {0}")]
    Timeout(String),
    /// A local file problem.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The failure.
        source: std::io::Error,
    },
    /// A virtual card failure.
    #[error("virtual card: {0}")]
    VirtualCard(String),
    /// Another failure with its own exit code.
    #[error("{message}")]
    Other {
        /// What went wrong.
        message: String,
        /// The exit code to use.
        code: ExitCode,
    },
}

/// The exit code of a reader or card exchange failure.
pub fn transport_exit_code(t: &TransportError) -> ExitCode {
    match t {
        TransportError::NoService(_)
        | TransportError::UnknownReader(_)
        | TransportError::AmbiguousReader { .. }
        | TransportError::NoReaders
        | TransportError::Busy => ExitCode::NoReader,
        TransportError::NoCard(_) => ExitCode::NoCard,
        TransportError::CardRemoved
        | TransportError::CardReset
        | TransportError::ShortResponse(_)
        | TransportError::Pcsc(_) => ExitCode::CardLost,
        // A card that announces data forever is lying, not lost.
        TransportError::EndlessResponse(_)
        | TransportError::Command(_)
        | TransportError::Replay(_) => ExitCode::InvalidData,
        TransportError::Unsupported(_) => ExitCode::Internal,
        TransportError::Io(_) => ExitCode::Io,
    }
}

impl From<crate::sam::SamError> for Error {
    /// A SAM that cannot be reached keeps its reader's exit code; anything else about
    /// keys (file refused, key missing, PSAM refusing) is [`ExitCode::Keys`].
    fn from(e: crate::sam::SamError) -> Error {
        match e {
            crate::sam::SamError::Transport(t) => Error::Transport(t),
            other => Error::keys(other.to_string()),
        }
    }
}

impl Error {
    /// A key or SAM problem ([`ExitCode::Keys`]).
    pub fn keys(message: impl Into<String>) -> Error {
        Error::Other {
            message: message.into(),
            code: ExitCode::Keys,
        }
    }

    /// The exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Transport(t) => transport_exit_code(t),
            Error::CardStatus { .. } => ExitCode::CardStatus,
            Error::InvalidData(_) => ExitCode::InvalidData,
            Error::UnknownCard(_) => ExitCode::UnknownCard,
            Error::Timeout(_) => ExitCode::Timeout,
            Error::Io { .. } => ExitCode::Io,
            Error::VirtualCard(_) => ExitCode::VirtualCard,
            Error::Other { code, .. } => *code,
        }
    }

    /// A hint for the user on what to do next, where there is a useful one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Transport(TransportError::NoService(_)) => {
                Some("start pcscd (`systemctl start pcscd` or `pcscd -f`); see hardware.md")
            }
            Error::Transport(TransportError::NoReaders) => {
                Some("connect a reader and check it with `sscard readers --watch`")
            }
            Error::Transport(
                TransportError::UnknownReader(_) | TransportError::AmbiguousReader { .. },
            ) => Some("list the readers with `sscard readers` and pick one by index or name"),
            Error::Transport(TransportError::NoCard(_)) => Some("insert the card and try again"),
            Error::Transport(TransportError::CardRemoved) => {
                Some("leave the card in the reader until the command has finished")
            }
            _ => None,
        }
    }
}
