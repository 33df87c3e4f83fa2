//! The channel to one card: the standard transport stack and typed exchanges.
//!
//! Stack, bottom up: the base transport (PC/SC reader, replay, test card), an optional
//! transcript [`Recorder`], the redacting [`TraceLayer`] (which also counts physical
//! APDUs and bytes), and the [`T0Layer`]. Trace and transcript sit *below* the T=0
//! layer so they show what really crossed the wire, GET RESPONSE included.

use super::command::Command;
use super::redact::KnownSecrets;
use super::response::Response;
use super::t0::T0Layer;
use super::trace::TraceLayer;
use super::transcript::Recorder;
use super::transport::{Transport, TransportError};
use std::path::Path;

/// A card connection with the standard layers.
pub struct Channel<'a> {
    stack: T0Layer<TraceLayer<Box<dyn Transport + 'a>>>,
    known: KnownSecrets,
}

impl<'a> Channel<'a> {
    /// Builds the standard stack over `base`.
    pub fn new(base: Box<dyn Transport + 'a>) -> Self {
        Self::with_known(base, KnownSecrets::default())
    }

    fn with_known(base: Box<dyn Transport + 'a>, known: KnownSecrets) -> Self {
        Channel {
            stack: T0Layer::new(TraceLayer::with_known(base, known.clone())),
            known,
        }
    }

    /// The secret values the trace and the transcript of this channel hide wherever
    /// they appear; a caller that handles secrets (a script's var file) adds them here.
    pub fn known_secrets(&self) -> &KnownSecrets {
        &self.known
    }

    /// Builds the standard stack over `base`, recording a transcript at `path`
    /// (owner-only, see [`crate::secret::create_private`]).
    pub fn recording(base: Box<dyn Transport + 'a>, path: &Path) -> Result<Self, TransportError> {
        let known = KnownSecrets::default();
        let recorder: Box<dyn Transport + 'a> =
            Box::new(Recorder::create_with(base, path, known.clone())?);
        Ok(Channel::with_known(recorder, known))
    }

    /// Builds the standard stack over `base`, appending a session to the transcript
    /// at `path`.
    pub fn recording_append(
        base: Box<dyn Transport + 'a>,
        path: &Path,
    ) -> Result<Self, TransportError> {
        let known = KnownSecrets::default();
        let recorder: Box<dyn Transport + 'a> =
            Box::new(Recorder::append_with(base, path, known.clone())?);
        Ok(Channel::with_known(recorder, known))
    }

    /// Sends a typed command and returns the typed response (after T=0 handling).
    pub fn send(&mut self, command: &Command) -> Result<Response, TransportError> {
        // The encoding holds the command data (a PIN, a cryptogram): wiped after use.
        let bytes = zeroize::Zeroizing::new(command.to_bytes()?);
        self.send_bytes(&bytes)
    }

    /// Sends an already encoded command.
    pub fn send_bytes(&mut self, command: &[u8]) -> Result<Response, TransportError> {
        let raw = self.stack.transmit(command)?;
        Response::parse(&raw).map_err(|e| TransportError::ShortResponse(e.0))
    }

    /// Sends bytes below the T=0 layer: no GET RESPONSE, no resend (still traced and
    /// recorded).
    pub fn transmit_raw(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.stack.inner.transmit(command)
    }

    /// Physical APDUs exchanged so far (GET RESPONSE and resends included).
    pub fn apdu_count(&self) -> u64 {
        self.stack.inner.apdus
    }

    /// Bytes exchanged so far, commands and responses.
    pub fn byte_count(&self) -> u64 {
        self.stack.inner.bytes
    }
}

impl Transport for Channel<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.stack.transmit(command)
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.stack.reset()
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.stack.atr()
    }
    fn name(&self) -> String {
        self.stack.name()
    }
}
