//! A connection to the card in one reader, as a [`Transport`].

use super::context::{establish, list_readers};
use super::error::map;
use super::name::ReaderName;
use super::select::ReaderSelector;
use crate::apdu::{Transport, TransportError};
use pcsc::{Card, Context, Disposition, Protocols, ShareMode, MAX_BUFFER_SIZE_EXTENDED};

/// How to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Exclusive access (no other application may use the card meanwhile).
    pub exclusive: bool,
    /// Protocols to accept.
    pub protocols: Protocols,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            exclusive: false,
            protocols: Protocols::T0 | Protocols::T1,
        }
    }
}

impl ConnectOptions {
    fn share_mode(&self) -> ShareMode {
        if self.exclusive {
            ShareMode::Exclusive
        } else {
            ShareMode::Shared
        }
    }
}

/// A connected card. Dropping it disconnects with `LeaveCard`, so the card keeps its
/// power and security state for the next command or application.
pub struct PcscCard {
    // Declared before the context so it is dropped first.
    card: Option<Card>,
    _ctx: Context,
    reader: ReaderName,
    /// `reader` as shown to people (error messages, transcripts).
    shown: String,
    options: ConnectOptions,
    recv: Vec<u8>,
    atr: Vec<u8>,
    protocol: Option<pcsc::Protocol>,
}

impl PcscCard {
    /// Connects to the reader chosen by `selector`.
    pub fn connect(
        selector: &ReaderSelector,
        options: ConnectOptions,
    ) -> Result<Self, TransportError> {
        let ctx = establish()?;
        let readers = list_readers(&ctx)?;
        let info = selector.pick(&readers)?;
        Self::connect_with(ctx, &info.name, options)
    }

    /// Connects to the reader named exactly `reader` (its bytes, as PC/SC listed
    /// them) on context `ctx`.
    ///
    /// # Errors
    /// The mapped PC/SC error (unknown reader, no card, no service, busy...).
    pub fn connect_with(
        ctx: Context,
        reader: &ReaderName,
        options: ConnectOptions,
    ) -> Result<Self, TransportError> {
        let shown = reader.to_string();
        let card = ctx
            .connect(reader.as_c_str(), options.share_mode(), options.protocols)
            .map_err(|e| map(e, &shown))?;
        let mut me = PcscCard {
            card: Some(card),
            _ctx: ctx,
            reader: reader.clone(),
            shown,
            options,
            recv: vec![0; MAX_BUFFER_SIZE_EXTENDED],
            atr: Vec::new(),
            protocol: None,
        };
        me.refresh_status()?;
        Ok(me)
    }

    fn card(&self) -> Result<&Card, TransportError> {
        self.card.as_ref().ok_or(TransportError::CardRemoved)
    }

    fn refresh_status(&mut self) -> Result<(), TransportError> {
        let status = self
            .card()?
            .status2_owned()
            .map_err(|e| map(e, &self.shown))?;
        self.atr = status.atr().to_vec();
        self.protocol = status.protocol2();
        Ok(())
    }

    /// The reader name (its exact bytes; `Display` decodes it for people).
    pub fn reader(&self) -> &ReaderName {
        &self.reader
    }

    /// The active protocol, as `T=0` or `T=1`.
    pub fn protocol_name(&self) -> &'static str {
        match self.protocol {
            Some(pcsc::Protocol::T0) => "T=0",
            Some(pcsc::Protocol::T1) => "T=1",
            Some(pcsc::Protocol::RAW) => "raw",
            None => "none",
        }
    }

    /// Re-establishes the connection after another application reset the card,
    /// leaving the card as it is.
    pub fn reconnect(&mut self) -> Result<(), TransportError> {
        let (share, protocols) = (self.options.share_mode(), self.options.protocols);
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        card.reconnect(share, protocols, Disposition::LeaveCard)
            .map_err(|e| map(e, &self.shown))?;
        self.refresh_status()
    }

    /// Starts a PC/SC transaction: no other application can interleave commands until
    /// the returned guard is dropped.
    pub fn transaction(&mut self) -> Result<PcscTransaction<'_>, TransportError> {
        let reader = self.shown.clone();
        let atr = Some(self.atr.clone());
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        let tx = card.transaction().map_err(|e| map(e, &reader))?;
        Ok(PcscTransaction {
            tx: Some(tx),
            reader,
            atr,
            recv: vec![0; MAX_BUFFER_SIZE_EXTENDED],
        })
    }

    /// Disconnects, leaving the card powered and as it is.
    pub fn disconnect(mut self) -> Result<(), TransportError> {
        self.disconnect_inner()
    }

    fn disconnect_inner(&mut self) -> Result<(), TransportError> {
        if let Some(card) = self.card.take() {
            card.disconnect(Disposition::LeaveCard)
                .map_err(|(_, e)| map(e, &self.shown))?;
        }
        Ok(())
    }
}

impl Drop for PcscCard {
    fn drop(&mut self) {
        let _ = self.disconnect_inner();
    }
}

fn transmit_on(
    card: &Card,
    reader: &str,
    command: &[u8],
    recv: &mut [u8],
) -> Result<Vec<u8>, TransportError> {
    if command.is_empty() {
        return Err(TransportError::Command(
            crate::apdu::command::CommandError::TooShort(0),
        ));
    }
    let resp = card.transmit(command, recv).map_err(|e| map(e, reader))?;
    if resp.len() < 2 {
        // A card that closes its link instead of answering: SCardTransmit "succeeds".
        return Err(TransportError::ShortResponse(resp.len()));
    }
    Ok(resp.to_vec())
}

impl Transport for PcscCard {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let card = self.card.as_ref().ok_or(TransportError::CardRemoved)?;
        match transmit_on(card, &self.shown, command, &mut self.recv) {
            Err(TransportError::CardReset) => {
                // Make the handle usable again, but tell the caller: the card lost its
                // security state and current file, so the flow must start over.
                let _ = self.reconnect();
                Err(TransportError::CardReset)
            }
            other => other,
        }
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        let (share, protocols) = (self.options.share_mode(), self.options.protocols);
        let card = self.card.as_mut().ok_or(TransportError::CardRemoved)?;
        card.reconnect(share, protocols, Disposition::ResetCard)
            .map_err(|e| map(e, &self.shown))?;
        self.refresh_status()?;
        Ok(self.atr.clone())
    }

    fn atr(&self) -> Option<Vec<u8>> {
        Some(self.atr.clone())
    }

    fn name(&self) -> String {
        self.shown.clone()
    }
}

/// A card inside a PC/SC transaction; ends the transaction (leaving the card) on drop.
pub struct PcscTransaction<'c> {
    tx: Option<pcsc::Transaction<'c>>,
    reader: String,
    /// The card's ATR when the transaction began (what [`Transport::atr`] answers).
    atr: Option<Vec<u8>>,
    recv: Vec<u8>,
}

impl Drop for PcscTransaction<'_> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.end(Disposition::LeaveCard);
        }
    }
}

impl Transport for PcscTransaction<'_> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let tx = self.tx.as_ref().ok_or(TransportError::CardRemoved)?;
        transmit_on(tx, &self.reader, command, &mut self.recv)
    }

    fn atr(&self) -> Option<Vec<u8>> {
        self.atr.clone()
    }

    fn name(&self) -> String {
        self.reader.clone()
    }
}
