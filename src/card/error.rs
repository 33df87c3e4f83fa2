//! Why reading or authenticating a card failed, sorted by what the user must do.
//!
//! Each variant maps to one exit code of [`crate::error::ExitCode`]: a lost card is not
//! a lying card, and a missing key is neither. Messages name the file and field in the
//! profile's words ("EF05 card data, card number (tag 07)") so a desk worker can
//! report them and a technician can find the record.

use crate::apdu::{Status, TransportError};
use crate::error::{transport_exit_code, Error, ExitCode};
use crate::profile::{FieldError, ProfileError};
use crate::sam::SamError;

/// A failure of the card layer.
#[derive(Debug, thiserror::Error)]
pub enum CardError {
    /// The exchange with the card (or reader) failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// The card answered a status word other than success.
    #[error("{context}: the card answered {status}")]
    Status {
        /// What was being done.
        context: String,
        /// The status word.
        status: Status,
    },
    /// The card's data is malformed or contradicts the profile (cards lie about
    /// lengths).
    #[error("{context}: {reason}")]
    InvalidData {
        /// Where.
        context: String,
        /// What is wrong.
        reason: String,
    },
    /// No profile's SELECT succeeded.
    #[error("unknown card: {0}")]
    Unknown(String),
    /// The card refused the terminal's cryptogram (EXTERNAL AUTHENTICATE).
    #[error("{context}: the card refused the cryptogram for key {key_id:02X}: {status}")]
    AuthRefused {
        /// What the authentication was for.
        context: String,
        /// Key id.
        key_id: u8,
        /// The card's answer (`63Cx` tries left, `6983` blocked).
        status: Status,
    },
    /// The SAM could not give a cryptogram.
    #[error("{sam}: {source}")]
    Sam {
        /// Which SAM.
        sam: String,
        /// Why.
        source: SamError,
    },
    /// An operation needs a key and no SAM was given.
    #[error("{0}")]
    NeedsKey(String),
    /// The profile does not fit what was asked of it.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

impl CardError {
    /// A status-word failure.
    pub fn status(context: impl Into<String>, status: Status) -> Self {
        CardError::Status {
            context: context.into(),
            status,
        }
    }

    /// A data failure.
    pub fn invalid(context: impl Into<String>, reason: impl Into<String>) -> Self {
        CardError::InvalidData {
            context: context.into(),
            reason: reason.into(),
        }
    }

    /// A field that failed to decode, in the context of its file.
    pub fn field(context: impl Into<String>, e: FieldError) -> Self {
        CardError::invalid(context, e.to_string())
    }

    /// The exit code this failure ends `sscard` with.
    pub fn exit_code(&self) -> ExitCode {
        code_of(self)
    }
}

fn code_of(e: &CardError) -> ExitCode {
    match e {
        CardError::Transport(t) => transport_exit_code(t),
        CardError::Status { .. } | CardError::AuthRefused { .. } => ExitCode::CardStatus,
        CardError::InvalidData { .. } => ExitCode::InvalidData,
        CardError::Unknown(_) => ExitCode::UnknownCard,
        CardError::Sam {
            source: SamError::Transport(t),
            ..
        } => transport_exit_code(t),
        CardError::Sam { .. } | CardError::NeedsKey(_) => ExitCode::Keys,
        CardError::Profile(ProfileError::Read { .. }) => ExitCode::Io,
        CardError::Profile(_) => ExitCode::InvalidData,
    }
}

impl From<CardError> for Error {
    fn from(e: CardError) -> Error {
        let code = e.exit_code();
        match e {
            CardError::Transport(t) => Error::Transport(t),
            CardError::Status { context, status } => Error::CardStatus { context, status },
            CardError::AuthRefused {
                context,
                key_id,
                status,
            } => Error::CardStatus {
                context: format!("{context}: EXTERNAL AUTHENTICATE with key {key_id:02X}"),
                status,
            },
            CardError::InvalidData { context, reason } => {
                Error::InvalidData(format!("{context}: {reason}"))
            }
            CardError::Unknown(m) => Error::UnknownCard(m),
            CardError::Sam {
                source: SamError::Transport(t),
                ..
            } => Error::Transport(t),
            other => Error::Other {
                message: other.to_string(),
                code,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let cases: Vec<(CardError, ExitCode)> = vec![
            (TransportError::NoCard("r".into()).into(), ExitCode::NoCard),
            (
                TransportError::NoService("x".into()).into(),
                ExitCode::NoReader,
            ),
            (TransportError::CardRemoved.into(), ExitCode::CardLost),
            (
                CardError::status("read", Status::RecordNotFound),
                ExitCode::CardStatus,
            ),
            (CardError::invalid("EF05", "bad"), ExitCode::InvalidData),
            (CardError::Unknown("x".into()), ExitCode::UnknownCard),
            (CardError::NeedsKey("key 0A".into()), ExitCode::Keys),
            (
                CardError::Sam {
                    sam: "key file".into(),
                    source: SamError::PsamData("x".into()),
                },
                ExitCode::Keys,
            ),
            (
                CardError::Sam {
                    sam: "PSAM".into(),
                    source: SamError::Transport(TransportError::CardRemoved),
                },
                ExitCode::CardLost,
            ),
            (
                CardError::AuthRefused {
                    context: "x".into(),
                    key_id: 0x0A,
                    status: Status::TriesLeft(4),
                },
                ExitCode::CardStatus,
            ),
        ];
        for (e, code) in cases {
            assert_eq!(e.exit_code(), code, "{e}");
            let msg = e.to_string();
            let top: Error = e.into();
            assert_eq!(top.exit_code(), code, "{msg}");
        }
    }
}
