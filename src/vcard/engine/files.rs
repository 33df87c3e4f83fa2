//! File commands: SELECT (by FID, by AID, by SFI through a record command), READ and
//! UPDATE RECORD, APPEND RECORD, READ BINARY, with the current-DF and current-EF rules
//! of spec/cards.md.
//!
//! Why apart: navigating and writing files is half of the card; the parent keeps the
//! card's life (power, reset, persistence) and the command dispatch.

use super::*;

impl Card {
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
    pub(super) fn select(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn read_record(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn update_record(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn append_record(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn read_binary(&mut self, cmd: &Command<'_>) -> Outcome {
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
