//! The APDU trace: every physical exchange logged once, with secrets redacted.
//!
//! This is the only place that logs APDU bytes, so redaction ([`super::redact`]) is
//! applied in one spot and cannot be forgotten by a caller: the rule by instruction,
//! and every value the command registered in its [`KnownSecrets`] (a script's
//! var-file PIN in any command). Logging is at `debug` level
//! on target `sscard::apdu` (`-v` or `RUST_LOG=sscard::apdu=debug`); when disabled the
//! layer costs a counter increment and one level check per APDU.

use super::redact::{self, KnownSecrets, Redactor};
use super::transport::{Transport, TransportError};
use std::time::Instant;

/// The log target of the APDU trace.
pub const TARGET: &str = "sscard::apdu";

/// Logs and counts exchanges passing through it.
pub struct TraceLayer<T> {
    /// The transport below.
    pub inner: T,
    redactor: Redactor,
    known: KnownSecrets,
    /// Physical APDUs sent so far.
    pub apdus: u64,
    /// Bytes sent and received so far (commands + responses).
    pub bytes: u64,
}

impl<T: Transport> TraceLayer<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        Self::with_known(inner, KnownSecrets::default())
    }

    /// Wraps `inner`, hiding the values of `known` as well.
    pub fn with_known(inner: T, known: KnownSecrets) -> Self {
        TraceLayer {
            inner,
            redactor: Redactor::default(),
            known,
            apdus: 0,
            bytes: 0,
        }
    }
}

impl<T: Transport> Transport for TraceLayer<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let secrets = self.redactor.classify(command);
        let enabled = log::log_enabled!(target: TARGET, log::Level::Debug);
        if enabled {
            log::debug!(
                target: TARGET,
                "> {}",
                redact::command_hex_known(command, secrets, &self.known)
            );
        }
        let start = enabled.then(Instant::now);
        let result = self.inner.transmit(command);
        self.apdus += 1;
        match &result {
            Ok(resp) => {
                self.bytes += (command.len() + resp.len()) as u64;
                self.redactor.observe(secrets, resp);
                if let Some(start) = start {
                    log::debug!(
                        target: TARGET,
                        "< {}  ({} us)",
                        redact::response_hex_known(resp, secrets, &self.known),
                        start.elapsed().as_micros()
                    );
                }
            }
            Err(e) => {
                self.redactor = Redactor::default();
                log::debug!(target: TARGET, "< error: {e}");
            }
        }
        result
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.redactor = Redactor::default();
        let atr = self.inner.reset();
        if let Ok(atr) = &atr {
            log::debug!(target: TARGET, "reset, ATR {}", redact::spaced_hex(atr));
        }
        atr
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.inner.atr()
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}
