//! Why an activation stopped, sorted by what the desk must do next.

use super::journal::JournalError;
use crate::card::CardError;
use crate::error::{Error, ExitCode};

/// An activation that did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// A card or reader failed (card pulled, pcscd stopped, lying data). The journal
    /// says where the transfer stands; `sscard activate resume` continues it.
    #[error(transparent)]
    Card(#[from] CardError),
    /// The journal could not be written: nothing further is written to a card.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// A rule refused the operation; nothing was written for it.
    #[error("refused: {0}")]
    Refused(String),
    /// No card came (or left) in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Input from the desk failed (PIN entry, terminal).
    #[error(transparent)]
    Desk(#[from] Error),
    /// A card answered something the flow cannot continue from safely.
    #[error("stopped for safety: {0}")]
    Inconsistent(String),
    /// The protocol refused (spec/activation.md); nothing was written for it.
    #[error(
        "refused: {}",
        crate::ui::messages::refusal(crate::ui::messages::Lang::En, .0)
    )]
    Refusal(super::core::Refusal),
    /// The protocol stopped for safety.
    #[error(
        "stopped for safety: {}",
        crate::ui::messages::stop(crate::ui::messages::Lang::En, .0)
    )]
    Stop(super::core::Stop),
}

impl From<ActivationError> for Error {
    fn from(e: ActivationError) -> Error {
        match e {
            ActivationError::Card(c) => c.into(),
            ActivationError::Journal(j) => Error::Other {
                message: j.to_string(),
                code: ExitCode::Journal,
            },
            ActivationError::Refused(m) => Error::Other {
                message: format!("refused: {m}"),
                code: ExitCode::Refused,
            },
            ActivationError::Timeout(m) => Error::Timeout(m),
            ActivationError::Desk(e) => e,
            ActivationError::Inconsistent(m) => Error::Other {
                message: format!("stopped for safety: {m}"),
                code: ExitCode::CardStatus,
            },
            e @ ActivationError::Refusal(_) => Error::Other {
                message: e.to_string(),
                code: ExitCode::Refused,
            },
            ActivationError::Stop(s) => {
                let code = match &s {
                    super::core::Stop::WrongKey { .. } | super::core::Stop::KeyBlocked { .. } => {
                        ExitCode::Keys
                    }
                    super::core::Stop::JournalFailed => ExitCode::Journal,
                    _ => ExitCode::CardStatus,
                };
                Error::Other {
                    message: format!(
                        "stopped for safety: {}",
                        crate::ui::messages::stop(crate::ui::messages::Lang::En, &s)
                    ),
                    code,
                }
            }
        }
    }
}

impl From<crate::apdu::TransportError> for ActivationError {
    fn from(e: crate::apdu::TransportError) -> Self {
        ActivationError::Card(CardError::Transport(e))
    }
}

impl From<crate::profile::ProfileError> for ActivationError {
    fn from(e: crate::profile::ProfileError) -> Self {
        ActivationError::Card(e.into())
    }
}
