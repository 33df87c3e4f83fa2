//! The terminal's PSAM in a reader (spec/cards.md §3).
//!
//! INIT FOR DESCRYPT makes the PSAM derive the card key from its master key; DES CRYPT
//! then encrypts the challenge under it. The master key never leaves the PSAM, and the
//! cryptogram it returns is redacted by the trace layer like every other.

use super::{KeyApp, Sam, SamError};
use crate::apdu::{catalogue, Channel, Status};
use crate::crypto::Algorithm;

/// A PSAM reached through a channel.
pub struct Psam<'a> {
    channel: Channel<'a>,
    terminal: String,
}

impl<'a> Psam<'a> {
    /// Selects the PSAM application and reads the terminal number.
    pub fn open(mut channel: Channel<'a>) -> Result<Self, SamError> {
        let r = channel.send(&catalogue::psam_select())?;
        if !r.is_success() {
            return Err(SamError::PsamStatus {
                step: "SELECT",
                status: r.status,
            });
        }
        let r = channel.send(&catalogue::psam_read_terminal_number())?;
        if !r.is_success() {
            return Err(SamError::PsamStatus {
                step: "READ BINARY (terminal number)",
                status: r.status,
            });
        }
        let terminal = (r.data.len() == 6)
            .then(|| crate::bcd::decode(&r.data, crate::bcd::Pad::None))
            .flatten()
            .ok_or_else(|| {
                SamError::PsamData(format!(
                    "terminal number is not 6 BCD bytes: {}",
                    hex::encode_upper(&r.data)
                ))
            })?;
        Ok(Psam { channel, terminal })
    }

    /// Connects to the PSAM in the reader `selector` names and opens it.
    pub fn open_in_reader(
        selector: &crate::reader::ReaderSelector,
    ) -> Result<Psam<'static>, SamError> {
        let card =
            crate::reader::PcscCard::connect(selector, crate::reader::ConnectOptions::default())?;
        Psam::open(Channel::new(Box::new(card)))
    }

    /// APDUs sent to the PSAM so far.
    pub fn apdu_count(&self) -> u64 {
        self.channel.apdu_count()
    }
}

impl Sam for Psam<'_> {
    fn cryptogram(
        &mut self,
        app: KeyApp,
        key_id: u8,
        alg: Algorithm,
        diversifier: &[u8; 8],
        challenge: &[u8; 8],
    ) -> Result<Vec<u8>, SamError> {
        let init = catalogue::psam_init_for_descrypt(app.id(), key_id, alg.id(), diversifier);
        let r = self.channel.send(&init)?;
        match r.status {
            Status::Success => {}
            Status::ReferencedDataNotFound => {
                return Err(SamError::UnknownKey {
                    app: app.name(),
                    key_id,
                    alg,
                })
            }
            status => {
                return Err(SamError::PsamStatus {
                    step: "INIT FOR DESCRYPT",
                    status,
                })
            }
        }
        let mut block = vec![0u8; alg.block_len()];
        block[..8].copy_from_slice(challenge);
        let r = self.channel.send(&catalogue::psam_des_crypt(&block))?;
        if !r.is_success() {
            return Err(SamError::PsamStatus {
                step: "DES CRYPT",
                status: r.status,
            });
        }
        if r.data.len() != alg.cryptogram_len() {
            return Err(SamError::PsamData(format!(
                "DES CRYPT returned {} bytes, {} expected",
                r.data.len(),
                alg.cryptogram_len()
            )));
        }
        Ok(r.data.clone())
    }

    fn terminal_number(&self) -> Option<String> {
        Some(self.terminal.clone())
    }

    fn describe(&self) -> String {
        format!("PSAM in {}", crate::apdu::Transport::name(&self.channel))
    }
}
