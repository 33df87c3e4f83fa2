//! The one bytes-in/bytes-out interface every card exchange goes through.
//!
//! PC/SC readers, recorded transcripts and in-process test cards implement it; GET
//! RESPONSE handling, tracing and recording are layers that wrap another transport.
//! Keeping the interface this small is what lets every layer above be tested without
//! pcscd (openpgp-card's backend split, apdu4j's stacked wrappers).

/// Why an exchange with the card failed (below the level of status words).
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// pcscd is not running or its socket is not where the client looks.
    #[error("the PC/SC service (pcscd) is not running or not reachable ({0})")]
    NoService(String),
    /// No reader matched.
    #[error("no reader matches '{0}'")]
    UnknownReader(String),
    /// A part of a name that several readers share.
    #[error("'{text}' names {} readers ('{}'): give more of the name, or the index from `sscard readers`", .names.len(), .names.join("', '"))]
    AmbiguousReader {
        /// What was given.
        text: String,
        /// The readers whose names contain it.
        names: Vec<String>,
    },
    /// No readers at all.
    #[error("no smart-card readers are connected")]
    NoReaders,
    /// The reader is empty.
    #[error("no card in reader '{0}'")]
    NoCard(String),
    /// The card was removed; the command may or may not have run.
    #[error("the card was removed (or lost power) during the exchange")]
    CardRemoved,
    /// Another application reset the card; the connection can be re-established.
    #[error("the card was reset by another application")]
    CardReset,
    /// The card or driver answered with fewer than the two status bytes.
    #[error("the card answered {0} bytes; a response needs at least the 2 status bytes")]
    ShortResponse(usize),
    /// The card keeps announcing more data (`61xx`) past any sane response size.
    #[error("the card announced more response data {0} times in a row; giving up")]
    EndlessResponse(usize),
    /// A command could not be encoded.
    #[error(transparent)]
    Command(#[from] super::command::CommandError),
    /// The reader is used exclusively by another application.
    #[error("the reader is in use by another application")]
    Busy,
    /// A replayed transcript did not expect this command.
    #[error("replay: {0}")]
    Replay(String),
    /// The transport does not support the operation.
    #[error("{0} is not supported by this transport")]
    Unsupported(&'static str),
    /// Any other PC/SC failure.
    #[error("PC/SC error: {0}")]
    Pcsc(String),
    /// An I/O failure (transcript files).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Sends command APDU bytes and returns the response bytes (data + SW1 SW2).
pub trait Transport {
    /// Exchanges one APDU. The response is not checked here beyond what the lower layer
    /// guarantees; [`super::Channel`] checks it has a status word.
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// Resets the card (warm reset) and returns its ATR.
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        Err(TransportError::Unsupported("reset"))
    }

    /// The ATR of the card, where known.
    fn atr(&self) -> Option<Vec<u8>> {
        None
    }

    /// A name for messages and transcripts (reader name).
    fn name(&self) -> String {
        String::from("card")
    }
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }
    fn atr(&self) -> Option<Vec<u8>> {
        (**self).atr()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transmit(command)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        (**self).reset()
    }
    fn atr(&self) -> Option<Vec<u8>> {
        (**self).atr()
    }
    fn name(&self) -> String {
        (**self).name()
    }
}
