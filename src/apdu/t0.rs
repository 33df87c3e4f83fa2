//! T=0 response handling: GET RESPONSE on `61xx` and resend on `6Cxx`.
//!
//! Under T=0 the card cannot return data with a case-4 command: it answers `61 xx` and
//! the terminal fetches the data with GET RESPONSE. A case-2 command with the wrong Le
//! gets `6C xx` and must be resent with Le = xx. Neither pcsc-lite nor the vpcd driver
//! does this (notes/pcsc-vpcd.md), so this layer does, once, for every caller. The
//! GET RESPONSE loop is bounded: a card that announces data forever gets an error.

use super::command::Command;
use super::transport::{Transport, TransportError};

/// Most GET RESPONSE rounds for one command (256 × 256 bytes = 64 KiB).
pub const MAX_GET_RESPONSE_ROUNDS: usize = 256;

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

impl<T: Transport> Transport for T0Layer<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut resp = self.inner.transmit(command)?;
        let (sw1, sw2) = sw(&resp)?;
        if sw1 == 0x6C {
            // Wrong Le: resend once with the exact length the card asked for.
            let mut cmd = Command::parse(command)?;
            cmd.le = Some(if sw2 == 0 { 256 } else { sw2 as usize });
            resp = self.inner.transmit(&cmd.to_bytes()?)?;
            sw(&resp)?;
        }
        let (mut sw1, mut sw2) = sw(&resp)?;
        if sw1 != 0x61 {
            return Ok(resp);
        }
        resp.truncate(resp.len() - 2);
        let mut rounds = 0;
        while sw1 == 0x61 {
            rounds += 1;
            if rounds > MAX_GET_RESPONSE_ROUNDS {
                return Err(TransportError::EndlessResponse(rounds - 1));
            }
            let mut part = self.inner.transmit(&[0x00, 0xC0, 0x00, 0x00, sw2])?;
            let (s1, s2) = sw(&part)?;
            if s1 == 0x6C {
                part = self.inner.transmit(&[0x00, 0xC0, 0x00, 0x00, s2])?;
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
