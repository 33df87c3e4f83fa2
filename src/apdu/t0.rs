//! T=0 response handling: GET RESPONSE on `61xx` and resend on `6Cxx`.
//!
//! Under T=0 the card cannot return data with a case-4 command: it answers `61 xx` and
//! the terminal fetches the data with GET RESPONSE. A case-2 command with the wrong Le
//! gets `6C xx` and must be resent with Le = xx. Neither pcsc-lite nor the vpcd driver
//! does this (notes/pcsc-vpcd.md), so this layer does, once, for every caller: `send`,
//! `script` (`get-response auto`) and every flow reach the card through
//! [`super::Channel`], whose stack ends in this layer. The GET RESPONSE loop is
//! bounded: a card that announces data forever gets an error.
//!
//! **The class byte is the caller's.** Both commands this layer issues on the caller's
//! behalf keep the class of the command they answer (ISO/IEC 7816-4 §5.4.1, see
//! [`super::class`]): the resend after `6C xx` is the very same command, class and
//! encoding (short or extended) included, with only Le changed; GET RESPONSE is sent
//! in the caller's class with the chaining bit b5 cleared, so its logical channel,
//! secure messaging indication and proprietary class (`80`, `C0`, …) are those of the
//! command. A card relates the two through CLA: a GET RESPONSE in class `00` after a
//! command in class `C0` gets `6E00` (issue 11 §2), one on another channel asks
//! another channel. One fallback, for cards whose GET RESPONSE exists only in the
//! interindustry class (many PSAMs document `00 C0` after their `80` commands): when
//! the GET RESPONSE in a proprietary class is answered `6E00` or `6D00`, it is asked
//! once more in the interindustry class with the same channel and SM bits
//! ([`interindustry_counterpart`]), and the rest of that response is fetched there.

use super::class::{interindustry_counterpart, reply_class};
use super::command::Command;
use super::transport::{Transport, TransportError};

/// Most GET RESPONSE rounds for one command (256 × 256 bytes = 64 KiB).
pub const MAX_GET_RESPONSE_ROUNDS: usize = 256;

/// INS of GET RESPONSE (ISO/IEC 7816-4 §11.5.2 (2013), §7.6.1 (2005)).
pub const INS_GET_RESPONSE: u8 = 0xC0;

/// Wraps a transport with T=0 `61xx`/`6Cxx` handling.
pub struct T0Layer<T> {
    /// The transport below.
    pub inner: T,
}

impl<T: Transport> T0Layer<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        T0Layer { inner }
    }
}

fn sw(resp: &[u8]) -> Result<(u8, u8), TransportError> {
    match resp.len() {
        n if n >= 2 => Ok((resp[n - 2], resp[n - 1])),
        n => Err(TransportError::ShortResponse(n)),
    }
}

/// The GET RESPONSE for `61 xx` (or the resend after `6C xx`) answering a command of
/// class `cla`: `CLA' C0 00 00 xx` with `CLA'` = [`reply_class`]`(cla)`.
pub fn get_response(cla: u8, le: u8) -> [u8; 5] {
    [reply_class(cla), INS_GET_RESPONSE, 0x00, 0x00, le]
}

/// `command` again with Ne = `sw2` (`00` = 256), as the card asked with `6C sw2`: the
/// same bytes otherwise, class included, in the same (short or extended) encoding.
///
/// # Errors
/// [`TransportError::Command`] when `command` is not a well-formed APDU.
pub fn resend_with_le(command: &[u8], sw2: u8) -> Result<Vec<u8>, TransportError> {
    let mut cmd = Command::parse(command)?;
    cmd.le = Some(if sw2 == 0 { 256 } else { usize::from(sw2) });
    Ok(if Command::is_extended_encoding(command) {
        cmd.to_bytes_extended()?
    } else {
        cmd.to_bytes()?
    })
}

impl<T: Transport> Transport for T0Layer<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut resp = self.inner.transmit(command)?;
        let (sw1, sw2) = sw(&resp)?;
        if sw1 == 0x6C {
            // Wrong Le: resend once with the exact length the card asked for.
            resp = self.inner.transmit(&resend_with_le(command, sw2)?)?;
            sw(&resp)?;
        }
        let (mut sw1, mut sw2) = sw(&resp)?;
        if sw1 != 0x61 {
            return Ok(resp);
        }
        resp.truncate(resp.len() - 2);
        // The class of the command the data answers (checked to have 4 bytes by
        // Command::parse above when resent; a shorter one cannot get here with data).
        let mut cla = reply_class(command.first().copied().unwrap_or(0));
        let mut fallback = interindustry_counterpart(cla);
        let mut rounds = 0;
        while sw1 == 0x61 {
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS {
                return Err(TransportError::EndlessResponse(rounds - 1));
            }
            let mut part = self.inner.transmit(&get_response(cla, sw2))?;
            let (mut s1, mut s2) = sw(&part)?;
            if let (Some(alt), 0x6E | 0x6D, 0x00) = (fallback, s1, s2) {
                // A card that knows GET RESPONSE only in the interindustry class:
                // ask once more there, same channel and SM bits, and stay there.
                part = self.inner.transmit(&get_response(alt, sw2))?;
                (s1, s2) = sw(&part)?;
                cla = alt;
            }
            fallback = None;
            if s1 == 0x6C {
                part = self.inner.transmit(&get_response(cla, s2))?;
            }
            (sw1, sw2) = sw(&part)?;
            resp.extend_from_slice(&part[..part.len() - 2]);
        }
        resp.push(sw1);
        resp.push(sw2);
        Ok(resp)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.reset()
    }
    fn atr(&self) -> Option<Vec<u8>> {
        self.inner.atr()
    }
    fn name(&self) -> String {
        self.inner.name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted card: checks each command and answers from a queue.
    struct Scripted(VecDeque<(&'static str, &'static str)>);
    impl Transport for Scripted {
        fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
            let (want, answer) = self.0.pop_front().expect("unexpected command");
            assert_eq!(hex::encode_upper(command), want);
            Ok(hex::decode(answer).unwrap())
        }
    }

    #[test]
    fn fetches_announced_data() {
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("00A4040002AABB", "6104"),
            ("00C0000004", "010203046101"),
            ("00C0000001", "059000"),
        ])));
        let r = t.transmit(&hex::decode("00A4040002AABB").unwrap()).unwrap();
        assert_eq!(hex::encode_upper(r), "01020304059000");
    }

    #[test]
    fn resends_with_exact_le() {
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("00B2012C05", "6C03"),
            ("00B2012C03", "0A01319000"),
        ])));
        let r = t.transmit(&hex::decode("00B2012C05").unwrap()).unwrap();
        assert_eq!(hex::encode_upper(r), "0A01319000");
    }

    /// A card that relates GET RESPONSE and the resend to the command they answer by
    /// class, as real cards do: a GET RESPONSE whose CLA is not the command's (b5
    /// cleared) gets `6E00`. Records every command it receives.
    struct ClassStrict {
        expect_cla: Option<u8>,
        got: Vec<Vec<u8>>,
        data: Vec<u8>,
    }
    impl Transport for ClassStrict {
        fn transmit(&mut self, c: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.got.push(c.to_vec());
            if c[1] == 0xC0 {
                return Ok(match self.expect_cla {
                    Some(cla) if cla == c[0] && usize::from(c[4]) == self.data.len() => {
                        let mut r = self.data.clone();
                        r.extend_from_slice(&[0x90, 0x00]);
                        r
                    }
                    Some(cla) if cla == c[0] => vec![0x6C, self.data.len() as u8],
                    _ => vec![0x6E, 0x00],
                });
            }
            self.expect_cla = Some(reply_class(c[0]));
            Ok(vec![0x61, self.data.len() as u8])
        }
    }

    fn strict(data_len: u8) -> ClassStrict {
        ClassStrict {
            expect_cla: None,
            got: Vec::new(),
            data: (0..data_len).collect(),
        }
    }

    #[test]
    fn issue_11_select_in_class_c0_fetches_in_class_c0() {
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("C0A4000002EF05", "6114"),
            ("C0C0000014", "000102030405060708090A0B0C0D0E0F101112139000"),
        ])));
        let r = t.transmit(&hex::decode("C0A4000002EF05").unwrap()).unwrap();
        assert_eq!(r.len(), 22);
        assert_eq!(&r[20..], &[0x90, 0x00]);
    }

    #[test]
    fn get_response_keeps_the_class_of_every_cla() {
        for cla in 0..=0xFFu8 {
            let mut t = T0Layer::new(strict(0x14));
            let r = t
                .transmit(&[cla, 0xA4, 0x00, 0x00, 0x02, 0xEF, 0x05])
                .unwrap();
            assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "CLA {cla:02X}");
            assert_eq!(r.len(), 0x14 + 2, "CLA {cla:02X}");
            assert_eq!(t.inner.got[1], get_response(cla, 0x14), "CLA {cla:02X}");
        }
    }

    #[test]
    fn channels_0_to_19_and_sm_survive_get_response() {
        use crate::apdu::class::Class;
        let mut seen = 0;
        for channel in 0..=19u8 {
            let sms: &[u8] = if channel < 4 {
                &[0x00, 0x04, 0x08, 0x0C]
            } else {
                &[0x00, 0x20]
            };
            for &sm in sms {
                for chaining in [false, true] {
                    for proprietary in [0x00, 0x80] {
                        let cla =
                            Class::interindustry(channel, sm, chaining).unwrap() | proprietary;
                        if cla == 0xFF {
                            continue; // channel 19, SM, chaining, b8: the PPS byte, no class
                        }
                        let mut t = T0Layer::new(strict(3));
                        let r = t.transmit(&[cla, 0xB2, 0x01, 0x0C]).unwrap();
                        assert_eq!(r, vec![0, 1, 2, 0x90, 0x00], "CLA {cla:02X}");
                        let gr = Class::decode(t.inner.got[1][0]);
                        assert_eq!(gr.channel, Some(channel), "CLA {cla:02X}");
                        assert_eq!(gr.secure_messaging, Some(sm), "CLA {cla:02X}");
                        assert!(!gr.chaining, "CLA {cla:02X}");
                        assert_eq!(t.inner.got[1][0] & 0x80, proprietary);
                        seen += 1;
                    }
                }
            }
        }
        assert_eq!(seen, (4 * 4 + 16 * 2) * 2 * 2 - 1);
    }

    #[test]
    fn get_response_answered_6cxx_is_resent_in_the_same_class() {
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("4D88000008AABBCCDDEEFF0011", "6108"),
            ("4DC0000008", "6C04"),
            ("4DC0000004", "010203049000"),
        ])));
        let r = t
            .transmit(&hex::decode("4D88000008AABBCCDDEEFF0011").unwrap())
            .unwrap();
        assert_eq!(hex::encode_upper(r), "010203049000");
    }

    #[test]
    fn resend_is_the_same_command_in_any_class_and_encoding() {
        for cla in [
            0x00u8, 0x01, 0x03, 0x0C, 0x13, 0x40, 0x4F, 0x6F, 0x80, 0x84, 0xC0, 0xE3,
        ] {
            // Short case 2.
            let cmd = [cla, 0xB0, 0x00, 0x00, 0x10];
            let want = [cla, 0xB0, 0x00, 0x00, 0x08];
            assert_eq!(resend_with_le(&cmd, 0x08).unwrap(), want);
            // Extended case 2 stays extended, Le 00 = 256.
            let cmd = [cla, 0xB0, 0x00, 0x00, 0x00, 0x03, 0xE8];
            assert_eq!(
                resend_with_le(&cmd, 0x00).unwrap(),
                [cla, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00]
            );
            // Extended case 4 stays extended.
            let cmd = [
                cla, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x02, 0x5C, 0x00, 0x00, 0x00,
            ];
            assert_eq!(
                resend_with_le(&cmd, 0x20).unwrap(),
                [cla, 0xCB, 0x3F, 0xFF, 0x00, 0x00, 0x02, 0x5C, 0x00, 0x00, 0x20]
            );
        }
        // Through the layer: 6Cxx, resend in class 0x8C (SM, proprietary), then 61xx
        // fetched in the same class.
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("8CB2012C05", "6C03"),
            ("8CB2012C03", "6102"),
            ("8CC0000002", "0A019000"),
        ])));
        let r = t.transmit(&hex::decode("8CB2012C05").unwrap()).unwrap();
        assert_eq!(hex::encode_upper(r), "0A019000");
    }

    #[test]
    fn proprietary_get_response_refused_falls_back_to_interindustry() {
        // A PSAM that knows GET RESPONSE only as 00 C0.
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("80FA0000081122334455667788", "6108"),
            ("80C0000008", "6E00"),
            ("00C0000008", "01020304050607086102"),
            ("00C0000002", "AABB9000"),
        ])));
        let r = t
            .transmit(&hex::decode("80FA0000081122334455667788").unwrap())
            .unwrap();
        assert_eq!(hex::encode_upper(r), "0102030405060708AABB9000");
        // Further-structure proprietary class: C5 (channel 9) falls back to 45.
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("C5CA00FF", "6103"),
            ("C5C0000003", "6D00"),
            ("45C0000003", "0102039000"),
        ])));
        let r = t.transmit(&hex::decode("C5CA00FF").unwrap()).unwrap();
        assert_eq!(hex::encode_upper(r), "0102039000");
        // An interindustry class has no fallback: the card's 6E00 is the answer.
        let mut t = T0Layer::new(Scripted(VecDeque::from(vec![
            ("01CA00FF", "6103"),
            ("01C0000003", "6E00"),
        ])));
        let r = t.transmit(&hex::decode("01CA00FF").unwrap()).unwrap();
        assert_eq!(hex::encode_upper(r), "6E00");
    }

    struct Endless;
    impl Transport for Endless {
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0xAA, 0x61, 0x01])
        }
    }

    #[test]
    fn endless_61xx_is_an_error() {
        let mut t = T0Layer::new(Endless);
        assert!(matches!(
            t.transmit(&[0, 0xA4, 0, 0]),
            Err(TransportError::EndlessResponse(_))
        ));
    }

    struct Mute;
    impl Transport for Mute {
        fn transmit(&mut self, _: &[u8]) -> Result<Vec<u8>, TransportError> {
            Ok(vec![0x90])
        }
    }

    #[test]
    fn short_response_is_an_error() {
        assert!(matches!(
            T0Layer::new(Mute).transmit(&[0, 0xA4, 0, 0]),
            Err(TransportError::ShortResponse(1))
        ));
    }
}
