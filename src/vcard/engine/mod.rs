//! Command processing: the [`Card`] that turns C-APDUs into R-APDUs.
//!
//! Why it is built this way:
//! - **Bytes in, bytes out, never a panic.** [`Card::process`] is the only entry for
//!   commands and accepts any byte string; every problem becomes a status word. That
//!   is what lets the same card run in-process in unit tests, behind vpcd, and under
//!   a fuzzing loop.
//! - **T=0 as the profiles require.** Commands that return data after sending data
//!   (SELECT with FCI, INTERNAL AUTHENTICATE, DES CRYPT) answer `61 xx` and keep the
//!   data for GET RESPONSE; commands that only return data answer `6C xx` to a wrong
//!   Le. Whatever command follows discards the pending data and the challenge, so a
//!   stale response or challenge can never be used twice.
//! - **Volatile vs persistent.** Current DF/EF, security state, challenge, pending
//!   response and PSAM session are volatile and cleared by power-on, reset,
//!   power-off and (except the current EF) a SELECT of another DF. Records, PINs and
//!   try counters are persistent: a command that changes them raises a flag
//!   ([`Card::take_changed`]) so the connector saves the image before answering.
//! - **Behaviour comes from the image.** Access rules, keys, PIN rules, FCI and the
//!   supported instruction set are data, so a new card profile is a new image file.
//!
//! GET RESPONSE with nothing pending answers `6985` (conditions of use not
//! satisfied). It is accepted in class `00` and in class `80` (the class of the
//! proprietary command whose data it fetches, as terminals send it).

use std::path::Path;

use zeroize::Zeroizing;

use super::capdu::{sw, Command};
use super::fs::{EfBody, FileSystem, Found};
use super::image::{self, CardImage, ImageFault};
use super::psam;
use super::security::{bcd_to_digits, tries_sw, SecurityState};
use super::VcardError;
use crate::crypto::{self, Algorithm};

mod auth;
mod files;

/// A handler's answer: response data and status word; `Err(sw)` for a bare error SW.
type Outcome = Result<(Vec<u8>, u16), u16>;

const fn ok() -> (Vec<u8>, u16) {
    (Vec::new(), sw::OK)
}

/// A virtual card: its file system, secrets and volatile state.
pub struct Card {
    description: Option<String>,
    atr: Vec<u8>,
    alg: Algorithm,
    ins: Option<Vec<u8>>,
    fs: FileSystem,
    cur_df: usize,
    cur_ef: Option<(usize, usize)>,
    sec: SecurityState,
    pending: Option<Vec<u8>>,
    session: Option<psam::Session>,
    changed: bool,
    powered: bool,
}

/// Shows the card's state without data that may be secret (a pending response can be
/// a cryptogram).
impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card")
            .field("atr", &hex::encode_upper(&self.atr))
            .field("alg", &self.alg)
            .field("cur_df", &self.cur_df)
            .field("cur_ef", &self.cur_ef)
            .field("security", &self.sec)
            .field("pending_len", &self.pending.as_ref().map(Vec::len))
            .field("psam_session", &self.session.is_some())
            .field("powered", &self.powered)
            .finish_non_exhaustive()
    }
}

/// Instructions of the engine, with the class each belongs to.
const ISO_INS: [u8; 10] = [0xA4, 0xB2, 0xB0, 0xDC, 0xE2, 0x84, 0x82, 0x88, 0x20, 0xC0];
pub(crate) const PROPRIETARY_INS: [u8; 3] = [0x5E, 0x1A, 0xFA];

impl Card {
    /// Builds a card from an image, checking it (errors name the field; the file is
    /// given as `<memory>`, see [`Card::load`] for files).
    pub fn from_image(image: CardImage) -> Result<Card, VcardError> {
        Self::build(image).map_err(|f| VcardError::InvalidImage {
            file: "<memory>".into(),
            field: f.field,
            reason: f.reason,
        })
    }

    fn build(image: CardImage) -> Result<Card, ImageFault> {
        let built = image::build(&image)?;
        Ok(Card {
            description: image.description,
            atr: built.atr,
            alg: built.alg,
            ins: built.ins,
            fs: built.fs,
            cur_df: 0,
            cur_ef: None,
            sec: SecurityState::default(),
            pending: None,
            session: None,
            changed: false,
            powered: false,
        })
    }

    /// Loads and checks an image file.
    pub fn load(path: &Path) -> Result<Card, VcardError> {
        let image = CardImage::load(path)?;
        Self::build(image).map_err(|f| VcardError::InvalidImage {
            file: path.to_path_buf(),
            field: f.field,
            reason: f.reason,
        })
    }

    /// The current persistent state as an image (volatile state is not part of it).
    pub fn to_image(&self) -> CardImage {
        image::unbuild(
            &self.fs,
            self.alg,
            &self.atr,
            self.ins.as_deref(),
            self.description.clone(),
        )
    }

    /// Saves the persistent state to `path` atomically (see [`CardImage::save`]).
    pub fn save(&self, path: &Path) -> Result<(), VcardError> {
        self.to_image().save(path)
    }

    /// The answer to reset. No side effect: pcscd asks for it at any moment.
    pub fn atr(&self) -> &[u8] {
        &self.atr
    }

    /// The algorithm of the card keys.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Whether the card is powered (between power-on and power-off).
    pub fn is_powered(&self) -> bool {
        self.powered
    }

    /// Power on: a fresh session (MF selected, no security state).
    pub fn power_on(&mut self) {
        self.clear_volatile();
        self.powered = true;
    }

    /// Warm reset: a fresh session, like power-on.
    pub fn reset(&mut self) {
        self.clear_volatile();
        self.powered = true;
    }

    /// Power off (also what a removal means): all volatile state is lost.
    pub fn power_off(&mut self) {
        self.clear_volatile();
        self.powered = false;
    }

    fn clear_volatile(&mut self) {
        self.cur_df = 0;
        self.cur_ef = None;
        self.sec.clear();
        self.pending = None;
        self.session = None;
    }

    /// Returns whether persistent state changed since the last call, and clears the
    /// flag. The connector saves the image when this is true.
    pub fn take_changed(&mut self) -> bool {
        std::mem::take(&mut self.changed)
    }

    /// Processes one C-APDU and returns the R-APDU (data, SW1, SW2). Any input is
    /// accepted; malformed commands get an error status word.
    ///
    /// Only the class, instruction and status word are logged (debug level): never
    /// data, which may hold PINs, keys or cryptograms.
    pub fn process(&mut self, apdu: &[u8]) -> Vec<u8> {
        let challenge = self.sec.challenge.take();
        let pending = self.pending.take();
        let (mut data, status) = match Command::parse(apdu) {
            Ok(cmd) => match self.dispatch(&cmd, challenge, pending) {
                Ok(reply) => reply,
                Err(status) => (Vec::new(), status),
            },
            Err(status) => (Vec::new(), status),
        };
        match apdu {
            [cla, ins, ..] => log::debug!("vcard: CLA {cla:02X} INS {ins:02X} -> SW {status:04X}"),
            _ => log::debug!("vcard: {}-byte command -> SW {status:04X}", apdu.len()),
        }
        data.extend_from_slice(&status.to_be_bytes());
        data
    }

    fn dispatch(
        &mut self,
        cmd: &Command<'_>,
        challenge: Option<[u8; 8]>,
        pending: Option<Vec<u8>>,
    ) -> Outcome {
        if cmd.cla != 0x00 && cmd.cla != 0x80 {
            return Err(sw::CLA_NOT_SUPPORTED);
        }
        let iso = ISO_INS.contains(&cmd.ins);
        let proprietary = PROPRIETARY_INS.contains(&cmd.ins);
        let offered = self.ins.as_ref().is_none_or(|list| list.contains(&cmd.ins));
        if !(iso || proprietary) || !offered {
            return Err(sw::INS_NOT_SUPPORTED);
        }
        // GET RESPONSE comes in the class of the command it answers: `00`, or `80`
        // after DES CRYPT (ISO/IEC 7816-4 §5.4.1; the terminal keeps the caller's class).
        if (cmd.cla == 0x80) != proprietary && cmd.ins != 0xC0 {
            return Err(sw::CLA_NOT_SUPPORTED);
        }
        match cmd.ins {
            0xA4 => self.select(cmd),
            0xB2 => self.read_record(cmd),
            0xB0 => self.read_binary(cmd),
            0xDC => self.update_record(cmd),
            0xE2 => self.append_record(cmd),
            0x84 => self.get_challenge(cmd),
            0x82 => self.external_authenticate(cmd, challenge),
            0x88 => self.internal_authenticate(cmd),
            0x20 => self.verify(cmd),
            0xC0 => self.get_response(cmd, pending),
            0x5E => self.change_or_reload_pin(cmd),
            0x1A => self.init_for_descrypt(cmd),
            0xFA => self.des_crypt(cmd),
            _ => Err(sw::INS_NOT_SUPPORTED),
        }
    }

    /// T=0 case 4: keep the data for GET RESPONSE and announce it with `61 xx`.
    fn case4(&mut self, data: Vec<u8>) -> (Vec<u8>, u16) {
        if data.is_empty() {
            return ok();
        }
        let n = data.len();
        self.pending = Some(data);
        (Vec::new(), sw::BYTES_AVAILABLE | (n & 0xFF) as u16)
    }

    /// T=0 case 2: Le `00` (or absent) or exactly the length gets the data, anything
    /// else `6C xx`.
    fn case2(data: Vec<u8>, le: Option<u8>) -> Outcome {
        let n = data.len();
        match le {
            None | Some(0) => Ok((data, sw::OK)),
            Some(l) if usize::from(l) == n => Ok((data, sw::OK)),
            Some(_) => Err(sw::WRONG_LE | (n & 0xFF) as u16),
        }
    }

    /// GET RESPONSE (`00 C0 00 00 xx`): the data announced by `61 xx`. Le `00` gets
    /// all of it, a smaller Le a part and `61 rest`, a larger one `6C avail`.
    fn get_response(&mut self, cmd: &Command<'_>, pending: Option<Vec<u8>>) -> Outcome {
        if cmd.p1p2() != 0 {
            self.pending = pending;
            return Err(sw::WRONG_P1P2);
        }
        if !cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        let mut data = pending.ok_or(sw::CONDITIONS)?;
        let avail = data.len();
        let le = cmd.le.map_or(0, usize::from);
        if le == 0 || le == avail {
            Ok((data, sw::OK))
        } else if le < avail {
            let rest = data.split_off(le);
            let n = rest.len();
            self.pending = Some(rest);
            Ok((data, sw::BYTES_AVAILABLE | (n & 0xFF) as u16))
        } else {
            self.pending = Some(data);
            Err(sw::WRONG_LE | (avail & 0xFF) as u16)
        }
    }

    /// INIT FOR DESCRYPT (`80 1A app KK 09 alg D`) with the master keys of the current DF.
    fn init_for_descrypt(&mut self, cmd: &Command<'_>) -> Outcome {
        self.session = None;
        let session = psam::init_for_descrypt(&self.fs.df(self.cur_df).master_keys, cmd)?;
        self.session = Some(session);
        Ok(ok())
    }

    /// DES CRYPT (`80 FA 00 00 Lc data`): the cryptogram via `61 xx`.
    fn des_crypt(&mut self, cmd: &Command<'_>) -> Outcome {
        let out = psam::des_crypt(self.session.as_ref(), cmd)?;
        Ok(self.case4(out))
    }
}
