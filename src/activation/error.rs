//! Why an activation stopped, sorted by what the desk must do next.
//!
//! Every reason is data (issue 10 point 2): the refusals, timeouts and internal
//! stops of the driver and the command carry what happened as typed values, and
//! `ui::messages` renders each variant in Chinese and English with one exhaustive
//! `match` per language, so a reason without a translation does not compile. The
//! English rendering is also the `Display` text scripts and `hardware.md` quote.

use super::core::{TransferId, Which};
use super::desk::Want;
use super::journal::JournalError;
use crate::card::CardError;
use crate::error::{Error, ExitCode};
use crate::profile::Kind;
use crate::sam::SamError;
use crate::ui::messages::{self, Lang};

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
    /// The driver or the command refused before the protocol ran; nothing was
    /// written for it.
    #[error("refused: {}", messages::desk_refusal(Lang::En, .0))]
    Refused(DeskRefusal),
    /// No card came (or left) in time.
    #[error("timed out: {}", messages::wait_timeout(Lang::En, .0))]
    Timeout(WaitTimeout),
    /// Input from the desk failed (PIN entry, terminal).
    #[error(transparent)]
    Desk(#[from] Error),
    /// Something the flow cannot continue from safely happened inside this tool.
    #[error("stopped for safety: {}", messages::internal(Lang::En, .0))]
    Inconsistent(Internal),
    /// The protocol refused (spec/activation.md); nothing was written for it.
    #[error("refused: {}", messages::refusal(Lang::En, .0))]
    Refusal(super::core::Refusal),
    /// The protocol stopped for safety.
    #[error("stopped for safety: {}", messages::stop(Lang::En, .0))]
    Stop(super::core::Stop),
    /// The desk has no usable card keys (PSAM or key file) or terminal number:
    /// found before any holder card is touched.
    #[error("{}", setup_en(.0))]
    Setup(Setup),
}

/// A refusal of the driver or the command (the core's own are
/// [`Refusal`](super::core::Refusal)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskRefusal {
    /// A card (or its profile) follows the layout before the transfer protocol.
    OldLayout(OldLayout),
    /// `resume ID` / `cancel ID` was given something that is not a transfer id.
    NotTransferId {
        /// What was given.
        text: String,
    },
    /// This desk's journal has no entry with this id.
    NoJournalEntry {
        /// The transfer asked for.
        id: TransferId,
    },
}

/// A card or profile without a record the transfer protocol needs
/// (spec/activation.md; spec/cards.md CITY tags 27 and 28, SSC DF04 tag 27).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldLayout {
    /// Which card.
    pub which: Which,
    /// Its number, when the card was read (`None`: the profile alone lacks it).
    pub card: Option<String>,
    /// The profile's name.
    pub profile: String,
    /// The missing record.
    pub record: LayoutRecord,
}

/// The records the transfer protocol added to the card layouts
/// (`profile::roles::ACTIVATION`, checked equal by a test).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LayoutRecord {
    /// CITY tag 27: the new card a freeze binds the transfer to.
    TargetCard,
    /// CITY tag 28: the old card's transfer counter.
    TransferCounter,
    /// SSC DF04 EF05 tag 27: the new card's transfer floor.
    TransferFloor,
}

impl LayoutRecord {
    /// Every record, in the order of `profile::roles::ACTIVATION`.
    pub const ALL: [LayoutRecord; 3] = [
        LayoutRecord::TargetCard,
        LayoutRecord::TransferCounter,
        LayoutRecord::TransferFloor,
    ];

    /// The card kind holding it.
    pub fn kind(self) -> Kind {
        match self {
            LayoutRecord::TargetCard | LayoutRecord::TransferCounter => Kind::City,
            LayoutRecord::TransferFloor => Kind::Ssc,
        }
    }

    /// Its profile role name.
    pub fn role(self) -> &'static str {
        match self {
            LayoutRecord::TargetCard => "target_card",
            LayoutRecord::TransferCounter => "transfer_counter",
            LayoutRecord::TransferFloor => "transfer_floor",
        }
    }

    /// The first record of `kind` that `has` says is missing.
    pub fn missing(kind: Kind, mut has: impl FnMut(&str) -> bool) -> Option<LayoutRecord> {
        LayoutRecord::ALL
            .into_iter()
            .find(|r| r.kind() == kind && !has(r.role()))
    }
}

/// A wait for a card that ran out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitTimeout {
    /// No card was inserted.
    NotInserted {
        /// The card wanted.
        want: Want,
        /// The reader.
        reader: String,
    },
    /// The card was not taken out.
    NotRemoved {
        /// The card in the reader.
        want: Want,
        /// The reader.
        reader: String,
    },
}

/// A failure inside this tool (not of a card, reader or rule): the flow stops
/// before writing anything further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Internal {
    /// The system gave no random numbers (the transfer id needs them).
    NoRandom(String),
    /// A card log record could not be encoded.
    LogRecord(String),
    /// The new card's PIN was not at hand for RELOAD PIN.
    PinMissing,
    /// The PINs for CHANGE PIN were not at hand.
    ChangePinsMissing,
    /// The core asked to write a value that is not written as a field.
    NotAField(&'static str),
}

/// Why the desk cannot start: its card keys or terminal number. Found before any
/// holder card is touched; each is the technician's to fix (`ui::advice`).
#[derive(Debug)]
pub enum Setup {
    /// Neither a PSAM reader nor a key file is configured.
    NoKeys(ConfigSeen),
    /// The PSAM in `reader` could not be opened or used.
    Psam {
        /// The PSAM reader, as configured.
        reader: String,
        /// What failed (the technical detail).
        error: SamError,
    },
    /// The key file cannot be used.
    KeyFile(SamError),
    /// No terminal number: the SAM has none and none is configured.
    NoTerminal,
    /// The terminal number given is not 12 digits.
    BadTerminal(String),
}

impl Setup {
    /// The technical detail behind it (English), if any.
    pub fn technical(&self) -> Option<String> {
        match self {
            Setup::Psam { error, .. } | Setup::KeyFile(error) => Some(error.to_string()),
            _ => None,
        }
    }
}

/// What the configuration looked like when no card keys were found in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSeen {
    /// No file at the default location ([`crate::config::DEFAULT_PATH`]).
    Missing,
    /// `--config none`: no file asked for.
    Disabled,
    /// A file was read; it names neither `keys` nor `readers.psam`.
    WithoutKeys,
}

impl Setup {
    /// The exit code: a PSAM whose reader or card is missing keeps the reader's code
    /// (3, 4); a bad terminal number is invalid input (7); anything else about keys
    /// is 11.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Setup::Psam {
                error: SamError::Transport(t),
                ..
            } => crate::error::transport_exit_code(t),
            Setup::BadTerminal(_) => ExitCode::InvalidData,
            _ => ExitCode::Keys,
        }
    }
}

/// The English of a setup problem, with its technical detail in parentheses.
fn setup_en(s: &Setup) -> String {
    match s.technical() {
        Some(t) => format!("{} ({t})", messages::setup(Lang::En, s)),
        None => messages::setup(Lang::En, s),
    }
}

impl From<ActivationError> for Error {
    fn from(e: ActivationError) -> Error {
        match e {
            ActivationError::Card(c) => c.into(),
            ActivationError::Journal(j) => Error::Other {
                message: j.to_string(),
                code: ExitCode::Journal,
            },
            e @ (ActivationError::Refused(_) | ActivationError::Refusal(_)) => Error::Other {
                message: e.to_string(),
                code: ExitCode::Refused,
            },
            ActivationError::Timeout(t) => Error::Timeout(messages::wait_timeout(Lang::En, &t)),
            ActivationError::Desk(e) => e,
            e @ ActivationError::Inconsistent(_) => Error::Other {
                message: e.to_string(),
                code: ExitCode::CardStatus,
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
                    message: format!("stopped for safety: {}", messages::stop(Lang::En, &s)),
                    code,
                }
            }
            ActivationError::Setup(s) => {
                let code = s.exit_code();
                Error::Other {
                    message: ActivationError::Setup(s).to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layout_records_are_the_profiles_activation_roles() {
        let ours: Vec<(Kind, &str)> = LayoutRecord::ALL
            .iter()
            .map(|r| (r.kind(), r.role()))
            .collect();
        let table: Vec<(Kind, &str)> = crate::profile::roles::ACTIVATION
            .iter()
            .map(|(k, r, _)| (*k, *r))
            .collect();
        assert_eq!(ours, table);
        assert_eq!(
            LayoutRecord::missing(Kind::City, |r| r != "transfer_counter"),
            Some(LayoutRecord::TransferCounter)
        );
        assert_eq!(LayoutRecord::missing(Kind::Ssc, |_| true), None);
    }
}
