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

/// Where the PSAM keeps what [`Psam::open`] reads, from the built-in
/// `profiles/psam.json` (the one description of the PSAM: `sscard info` reads it the
/// same way), rather than constants of its own.
struct Layout {
    /// The PSAM application's AID (`D15600000590`, §3).
    aid: Vec<u8>,
    /// The terminal number's EF by SFI (`16`), offset and length (6 BCD bytes).
    sfi: u8,
    offset: u8,
    len: usize,
}

fn layout() -> Result<&'static Layout, SamError> {
    static LAYOUT: std::sync::OnceLock<Result<Layout, String>> = std::sync::OnceLock::new();
    LAYOUT
        .get_or_init(|| {
            let profiles = crate::profile::Profiles::builtin().map_err(|e| e.to_string())?;
            let p = profiles
                .first_of(crate::profile::Kind::Psam)
                .ok_or("no built-in PSAM profile")?;
            let aid = p
                .detect_df()
                .map_err(|e| e.to_string())?
                .aid
                .clone()
                .ok_or("the PSAM profile's application has no AID")?;
            let field = p.field("terminal").map_err(|e| e.to_string())?;
            let sfi = p
                .file(&field.file)
                .map_err(|e| e.to_string())?
                .sfi
                .ok_or("the PSAM profile's terminal file has no SFI")?;
            let offset = u8::try_from(field.offset.unwrap_or(0))
                .map_err(|_| "the terminal number's offset is over 255".to_string())?;
            Ok(Layout {
                aid,
                sfi,
                offset,
                len: field.len,
            })
        })
        .as_ref()
        .map_err(|e| SamError::PsamData(format!("(built-in profile psam): {e}")))
}

impl<'a> Psam<'a> {
    /// Selects the PSAM application and reads the terminal number, where
    /// `profiles/psam.json` says they are (spec/cards.md §3).
    ///
    /// # Errors
    /// [`SamError::Transport`] when the exchange fails; [`SamError::PsamStatus`]
    /// when SELECT or READ BINARY is refused (not a PSAM, another application);
    /// [`SamError::PsamData`] when the terminal number is not 6 BCD bytes.
    pub fn open(mut channel: Channel<'a>) -> Result<Self, SamError> {
        let layout = layout()?;
        let r = channel.send(&catalogue::select_aid(&layout.aid))?;
        if !r.is_success() {
            return Err(SamError::PsamStatus {
                step: "SELECT",
                status: r.status,
            });
        }
        let read = catalogue::read_binary_sfi(layout.sfi, layout.offset, layout.len);
        let r = channel.send(&read)?;
        if !r.is_success() {
            return Err(SamError::PsamStatus {
                step: "READ BINARY (terminal number)",
                status: r.status,
            });
        }
        let terminal = (r.data.len() == layout.len)
            .then(|| crate::bcd::decode(&r.data, crate::bcd::Pad::None))
            .flatten()
            .ok_or_else(|| {
                SamError::PsamData(format!(
                    "terminal number is not {} BCD bytes: {}",
                    layout.len,
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

    fn apdu_count(&self) -> Option<u64> {
        Some(self.channel.apdu_count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vcard::inproc::SharedCard;
    use std::path::Path;

    fn psam(image: &str) -> Result<Psam<'static>, SamError> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(image);
        let card = SharedCard::load(&path, "psam").unwrap();
        card.insert();
        Psam::open(Channel::new(Box::new(card.connect("PSAM reader").unwrap())))
    }

    #[test]
    fn opens_where_the_profile_says() {
        let l = layout().unwrap();
        assert_eq!(l.aid, [0xD1, 0x56, 0x00, 0x00, 0x05, 0x90]);
        assert_eq!((l.sfi, l.offset, l.len), (0x16, 0, 6));
        let p = psam("cards/psam.json").unwrap();
        assert_eq!(p.terminal_number().unwrap().len(), 12);
        assert_eq!(p.apdu_count(), Some(2), "SELECT and READ BINARY");
    }

    #[test]
    fn a_bad_terminal_number_or_another_card_is_a_clear_error() {
        let e = psam("cards/broken/psam-bad-terminal.json").err().unwrap();
        assert!(
            matches!(&e, SamError::PsamData(m) if m.contains("not 6 BCD bytes")),
            "{e}"
        );
        let e = psam("cards/city.json").err().unwrap();
        assert!(
            matches!(e, SamError::PsamStatus { step: "SELECT", .. }),
            "{e}"
        );
    }
}
