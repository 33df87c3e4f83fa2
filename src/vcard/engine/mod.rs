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

    fn enter_df(&mut self, idx: usize) {
        if idx != self.cur_df {
            self.sec.clear();
            self.session = None;
        }
        self.cur_df = idx;
        self.cur_ef = None;
    }

    /// SELECT (`00 A4`): P1 `00` by FID, `02` EF by FID in the current DF, `04` by AID;
    /// P2 `00` (FCI if the DF has one) or `0C` (no data).
    fn select(&mut self, cmd: &Command<'_>) -> Outcome {
        if !matches!(cmd.p2, 0x00 | 0x0C) {
            return Err(sw::WRONG_P1P2);
        }
        let found = match cmd.p1 {
            0x00 | 0x02 => {
                let fid: [u8; 2] = cmd.data.try_into().map_err(|_| sw::WRONG_LENGTH)?;
                let fid = u16::from_be_bytes(fid);
                if cmd.p1 == 0x00 {
                    self.fs.find_fid(self.cur_df, fid)
                } else {
                    self.fs
                        .find_ef_fid(self.cur_df, fid)
                        .map(|(d, e)| Found::Ef(d, e))
                }
            }
            0x04 => {
                if cmd.data.is_empty() || cmd.data.len() > 16 {
                    return Err(sw::WRONG_LENGTH);
                }
                self.fs.find_aid(cmd.data).map(Found::Df)
            }
            _ => return Err(sw::WRONG_P1P2),
        };
        match found.ok_or(sw::FILE_NOT_FOUND)? {
            Found::Df(idx) => {
                self.enter_df(idx);
                if cmd.p1 == 0x04 && cmd.p2 == 0x00 {
                    if let Some(fci) = self.fs.df(idx).fci_bytes() {
                        return Ok(self.case4(fci));
                    }
                }
                Ok(ok())
            }
            Found::Ef(d, e) => {
                self.cur_ef = Some((d, e));
                Ok(ok())
            }
        }
    }

    /// The EF a record or binary command addresses: SFI `0` = the current EF.
    /// Addressing by SFI makes that EF current.
    fn target_ef(&mut self, sfi: u8) -> Result<(usize, usize), u16> {
        let at = if sfi == 0 {
            self.cur_ef.ok_or(sw::NO_CURRENT_EF)?
        } else {
            self.fs
                .find_sfi(self.cur_df, sfi)
                .ok_or(sw::FILE_NOT_FOUND)?
        };
        self.cur_ef = Some(at);
        Ok(at)
    }

    /// READ RECORD (`00 B2 P1 P2 Le`), spec/cards.md §1.3.
    fn read_record(&mut self, cmd: &Command<'_>) -> Outcome {
        if !cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        let (by_number, sfi) = record_reference(cmd.p2)?;
        let at = self.target_ef(sfi)?;
        let ef = self.fs.ef(at).ok_or(sw::FILE_NOT_FOUND)?;
        if !ef.is_record_ef() {
            return Err(sw::INCOMPATIBLE_FILE);
        }
        if !self.sec.allows(ef.read) {
            return Err(sw::SECURITY);
        }
        let number = if by_number {
            if cmd.p1 == 0 {
                return Err(sw::WRONG_P1P2);
            }
            cmd.p1
        } else {
            if matches!(ef.body, EfBody::Cyclic { .. }) {
                return Err(sw::INCOMPATIBLE_FILE);
            }
            ef.record_number_by_tag(cmd.p1)
                .ok_or(sw::RECORD_NOT_FOUND)?
        };
        let record = ef.record(number).ok_or(sw::RECORD_NOT_FOUND)?.to_vec();
        Self::case2(record, cmd.le)
    }

    /// UPDATE RECORD (`00 DC P1 P2 Lc data`): the data must be the whole record with
    /// the same tag and length (linear) or the record size (cyclic), else `6700`.
    fn update_record(&mut self, cmd: &Command<'_>) -> Outcome {
        if cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        let (by_number, sfi) = record_reference(cmd.p2)?;
        if by_number && cmd.p1 == 0 {
            return Err(sw::WRONG_P1P2);
        }
        let at = self.target_ef(sfi)?;
        let ef = self.fs.ef_mut(at).ok_or(sw::FILE_NOT_FOUND)?;
        if !ef.is_record_ef() {
            return Err(sw::INCOMPATIBLE_FILE);
        }
        if !self.sec.allows(ef.write) {
            return Err(sw::SECURITY);
        }
        let slot: &mut Vec<u8> = match &mut ef.body {
            EfBody::Linear(records) => {
                let idx = if by_number {
                    usize::from(cmd.p1) - 1
                } else {
                    records
                        .iter()
                        .position(|r| r.bytes.first() == Some(&cmd.p1))
                        .ok_or(sw::RECORD_NOT_FOUND)?
                };
                let rec = records.get_mut(idx).ok_or(sw::RECORD_NOT_FOUND)?;
                let same_shape = cmd.data.len() == rec.bytes.len()
                    && cmd.data.first() == rec.bytes.first()
                    && cmd.data.get(1) == rec.bytes.get(1);
                if !same_shape {
                    return Err(sw::WRONG_LENGTH);
                }
                &mut rec.bytes
            }
            EfBody::Cyclic { size, records } => {
                if !by_number {
                    return Err(sw::INCOMPATIBLE_FILE);
                }
                let size = *size;
                let rec = records
                    .get_mut(usize::from(cmd.p1) - 1)
                    .ok_or(sw::RECORD_NOT_FOUND)?;
                if cmd.data.len() != size {
                    return Err(sw::WRONG_LENGTH);
                }
                rec
            }
            EfBody::Transparent(_) => return Err(sw::INCOMPATIBLE_FILE),
        };
        if slot.as_slice() != cmd.data {
            slot.clear();
            slot.extend_from_slice(cmd.data);
            self.changed = true;
        }
        Ok(ok())
    }

    /// APPEND RECORD (`00 E2 00 (SFI<<3) Lc data`): cyclic EFs only; the new record
    /// becomes record 1 and the oldest is dropped.
    fn append_record(&mut self, cmd: &Command<'_>) -> Outcome {
        if cmd.p1 != 0 || cmd.p2 & 0x07 != 0 || cmd.p2 >> 3 == 31 {
            return Err(sw::WRONG_P1P2);
        }
        if cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        let at = self.target_ef(cmd.p2 >> 3)?;
        let ef = self.fs.ef_mut(at).ok_or(sw::FILE_NOT_FOUND)?;
        let EfBody::Cyclic { size, records } = &mut ef.body else {
            return Err(sw::INCOMPATIBLE_FILE);
        };
        if !self.sec.allows(ef.write) {
            return Err(sw::SECURITY);
        }
        if cmd.data.len() != *size {
            return Err(sw::WRONG_LENGTH);
        }
        records.insert(0, cmd.data.to_vec());
        records.pop();
        self.changed = true;
        Ok(ok())
    }

    /// READ BINARY (`00 B0 P1 P2 Le`): P1 bit 8 set = SFI in P1 bits 5–1 and offset
    /// P2; else a 15-bit offset in the current EF.
    fn read_binary(&mut self, cmd: &Command<'_>) -> Outcome {
        if !cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        let (at, offset) = if cmd.p1 & 0x80 != 0 {
            let sfi = cmd.p1 & 0x1F;
            if cmd.p1 & 0x60 != 0 || sfi == 0 || sfi == 31 {
                return Err(sw::WRONG_P1P2);
            }
            (self.target_ef(sfi)?, usize::from(cmd.p2))
        } else {
            (self.target_ef(0)?, usize::from(cmd.p1p2()))
        };
        let ef = self.fs.ef(at).ok_or(sw::FILE_NOT_FOUND)?;
        let EfBody::Transparent(data) = &ef.body else {
            return Err(sw::INCOMPATIBLE_FILE);
        };
        if !self.sec.allows(ef.read) {
            return Err(sw::SECURITY);
        }
        let rest = data
            .get(offset..)
            .filter(|r| !r.is_empty())
            .ok_or(sw::WRONG_OFFSET)?;
        let avail = rest.len().min(256);
        let n = match cmd.le {
            None | Some(0) => avail,
            Some(l) if usize::from(l) <= avail => usize::from(l),
            Some(_) => return Err(sw::WRONG_LE | (avail & 0xFF) as u16),
        };
        Ok((rest[..n].to_vec(), sw::OK))
    }

    /// GET CHALLENGE (`00 84 00 00 08`): 8 random bytes, valid for the next command.
    fn get_challenge(&mut self, cmd: &Command<'_>) -> Outcome {
        if cmd.p1p2() != 0 {
            return Err(sw::WRONG_P1P2);
        }
        if !cmd.data.is_empty() {
            return Err(sw::WRONG_LENGTH);
        }
        if !matches!(cmd.le, None | Some(0) | Some(8)) {
            return Err(sw::WRONG_LE | 8);
        }
        let mut challenge = [0u8; 8];
        getrandom::fill(&mut challenge).map_err(|_| sw::UNKNOWN)?;
        self.sec.challenge = Some(challenge);
        Ok((challenge.to_vec(), sw::OK))
    }

    /// EXTERNAL AUTHENTICATE (`00 82 00 KK Lc cryptogram`) with key KK of the current
    /// DF against the challenge of the command just before.
    fn external_authenticate(&mut self, cmd: &Command<'_>, challenge: Option<[u8; 8]>) -> Outcome {
        if cmd.p1 != 0 {
            return Err(sw::WRONG_P1P2);
        }
        if cmd.data.len() != self.alg.cryptogram_len() {
            return Err(sw::WRONG_LENGTH);
        }
        let alg = self.alg;
        let df = self.fs.df_mut(self.cur_df).ok_or(sw::REF_NOT_FOUND)?;
        let key = df
            .keys
            .iter_mut()
            .find(|k| k.id == cmd.p2)
            .ok_or(sw::REF_NOT_FOUND)?;
        if key.tries == 0 {
            return Err(sw::BLOCKED);
        }
        let challenge = challenge.ok_or(sw::NO_CHALLENGE)?;
        let expected = Zeroizing::new(key.key.cryptogram(alg, &challenge));
        if crypto::ct_eq(&expected, cmd.data) {
            if key.tries != key.max_tries {
                key.tries = key.max_tries;
                self.changed = true;
            }
            self.sec.grant_key(cmd.p2);
            Ok(ok())
        } else {
            key.tries -= 1;
            self.changed = true;
            self.sec.revoke_key(cmd.p2);
            Err(tries_sw(key.tries))
        }
    }

    /// INTERNAL AUTHENTICATE (`00 88 00 KK 08 rnd`): the cryptogram of rnd under key
    /// KK, via `61 xx`. The key is looked up in the current DF, then the DFs above it,
    /// so the card can prove itself from DF04 too (it changes no security state, so
    /// unlike EXTERNAL AUTHENTICATE it need not be tied to the current DF).
    fn internal_authenticate(&mut self, cmd: &Command<'_>) -> Outcome {
        if cmd.p1 != 0 {
            return Err(sw::WRONG_P1P2);
        }
        let rnd: &[u8; 8] = cmd.data.try_into().map_err(|_| sw::WRONG_LENGTH)?;
        let out = self
            .fs
            .path_up(self.cur_df)
            .into_iter()
            .find_map(|d| self.fs.df(d).keys.iter().find(|k| k.id == cmd.p2))
            .map(|key| key.key.cryptogram(self.alg, rnd))
            .ok_or(sw::REF_NOT_FOUND)?;
        Ok(self.case4(out))
    }

    /// The PIN with id `id` visible from the current DF: (DF, index).
    fn find_pin(&self, id: u8) -> Result<(usize, usize), u16> {
        self.fs
            .path_up(self.cur_df)
            .into_iter()
            .find_map(|d| {
                let i = self.fs.df(d).pins.iter().position(|p| p.id == id)?;
                Some((d, i))
            })
            .ok_or(sw::REF_NOT_FOUND)
    }

    /// VERIFY (`00 20 00 PP Lc PIN-BCD`); without data it reports the tries left.
    fn verify(&mut self, cmd: &Command<'_>) -> Outcome {
        if cmd.p1 != 0 {
            return Err(sw::WRONG_P1P2);
        }
        let (d, i) = self.find_pin(cmd.p2)?;
        let df = self.fs.df(d);
        let pin = df.pins.get(i).ok_or(sw::REF_NOT_FOUND)?;
        if let Some(rule) = &pin.refuse_verify {
            let value = df
                .efs
                .iter()
                .find(|e| e.sfi == Some(rule.sfi))
                .and_then(|e| e.value_by_tag(rule.tag));
            if let Some(v) = value {
                if rule.values.iter().any(|x| x.as_slice() == v) {
                    return Err(rule.sw);
                }
            }
        }
        let verified = self.sec.pin_verified(cmd.p2);
        let pin = self
            .fs
            .df_mut(d)
            .and_then(|df| df.pins.get_mut(i))
            .ok_or(sw::REF_NOT_FOUND)?;
        if cmd.data.is_empty() {
            return match (verified, pin.tries) {
                (true, _) => Ok(ok()),
                (false, 0) => Err(sw::BLOCKED),
                (false, t) => Err(tries_sw(t)),
            };
        }
        if pin.tries == 0 {
            return Err(sw::BLOCKED);
        }
        if pin.matches(cmd.data) {
            if pin.tries != pin.max_tries {
                pin.tries = pin.max_tries;
                self.changed = true;
            }
            self.sec.grant_pin(cmd.p2);
            Ok(ok())
        } else {
            pin.tries -= 1;
            self.changed = true;
            self.sec.revoke_pin(cmd.p2);
            Err(tries_sw(pin.tries))
        }
    }

    /// CHANGE PIN (`80 5E 01 PP Lc old FF new`) and RELOAD PIN (`80 5E 00 PP Lc new`).
    fn change_or_reload_pin(&mut self, cmd: &Command<'_>) -> Outcome {
        if !matches!(cmd.p1, 0x00 | 0x01) {
            return Err(sw::WRONG_P1P2);
        }
        let (d, i) = self.find_pin(cmd.p2)?;
        let pin = self
            .fs
            .df_mut(d)
            .and_then(|df| df.pins.get_mut(i))
            .ok_or(sw::REF_NOT_FOUND)?;
        if cmd.p1 == 0x00 {
            if !self.sec.allows(pin.reload) {
                return Err(sw::SECURITY);
            }
            let new = bcd_to_digits(cmd.data).ok_or(sw::WRONG_DATA)?;
            pin.digits = new;
            pin.tries = pin.max_tries;
            self.changed = true;
            return Ok(ok());
        }
        let old_len = pin.bcd().len();
        if cmd.data.len() != 2 * old_len + 1 {
            return Err(sw::WRONG_LENGTH);
        }
        let (old, rest) = cmd.data.split_at(old_len);
        let [0xFF, new @ ..] = rest else {
            return Err(sw::WRONG_DATA);
        };
        if pin.tries == 0 {
            return Err(sw::BLOCKED);
        }
        let new = bcd_to_digits(new).ok_or(sw::WRONG_DATA)?;
        if !pin.matches(old) {
            pin.tries -= 1;
            self.changed = true;
            self.sec.revoke_pin(cmd.p2);
            return Err(tries_sw(pin.tries));
        }
        pin.digits = new;
        pin.tries = pin.max_tries;
        self.changed = true;
        Ok(ok())
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

/// Decodes P2 of a record command: (by record number?, SFI). `6A86` for the forms the
/// profiles do not use.
fn record_reference(p2: u8) -> Result<(bool, u8), u16> {
    let sfi = p2 >> 3;
    if sfi == 31 {
        return Err(sw::WRONG_P1P2);
    }
    match p2 & 0x07 {
        0x04 => Ok((true, sfi)),
        0x00 => Ok((false, sfi)),
        _ => Err(sw::WRONG_P1P2),
    }
}
