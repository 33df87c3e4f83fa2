//! Security commands: GET CHALLENGE, EXTERNAL and INTERNAL AUTHENTICATE, VERIFY,
//! CHANGE and RELOAD PIN, with the card's retry counters and security state.
//!
//! Why apart: these are the commands whose cryptograms and counters the activation
//! flows depend on; reviewing them should not mean reading the file commands.

use super::*;

impl Card {
    /// GET CHALLENGE (`00 84 00 00 08`): 8 random bytes, valid for the next command.
    pub(super) fn get_challenge(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn external_authenticate(
        &mut self,
        cmd: &Command<'_>,
        challenge: Option<[u8; 8]>,
    ) -> Outcome {
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
    pub(super) fn internal_authenticate(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn verify(&mut self, cmd: &Command<'_>) -> Outcome {
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
    pub(super) fn change_or_reload_pin(&mut self, cmd: &Command<'_>) -> Outcome {
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
}
