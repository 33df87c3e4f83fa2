//! Response APDUs: data followed by SW1 SW2.
//!
//! A response shorter than two bytes is an error, never an index panic: a card that
//! closes its link instead of answering makes `SCardTransmit` succeed with 0 bytes
//! (notes/pcsc-vpcd.md).

use super::status::Status;
use std::fmt;

/// A response APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data, without the status word.
    pub data: Vec<u8>,
    /// The status word.
    pub status: Status,
}

/// A response too short to carry a status word.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the card answered {0} bytes; a response needs at least the 2 status bytes")]
pub struct ShortResponse(pub usize);

impl Response {
    /// Splits raw response bytes into data and status word.
    pub fn parse(bytes: &[u8]) -> Result<Response, ShortResponse> {
        if bytes.len() < 2 {
            return Err(ShortResponse(bytes.len()));
        }
        let (data, sw) = bytes.split_at(bytes.len() - 2);
        Ok(Response {
            data: data.to_vec(),
            status: Status::from_bytes(sw[0], sw[1]),
        })
    }

    /// The status word as a number.
    pub fn sw(&self) -> u16 {
        self.status.code()
    }

    /// Whether the status is `9000`.
    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// Data and status word, as on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.data.clone();
        v.extend_from_slice(&self.sw().to_be_bytes());
        v
    }
}

impl fmt::Debug for Response {
    /// Prints the length and status only: data may be a cryptogram.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} bytes, {:04X})", self.data.len(), self.sw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_and_status() {
        let r = Response::parse(&[1, 2, 0x90, 0x00]).unwrap();
        assert_eq!(r.data, vec![1, 2]);
        assert!(r.is_success());
        assert_eq!(r.to_bytes(), vec![1, 2, 0x90, 0x00]);
        let r = Response::parse(&[0x6A, 0x82]).unwrap();
        assert_eq!(r.status, Status::FileNotFound);
        assert!(r.data.is_empty());
    }

    #[test]
    fn short_responses_are_errors() {
        assert_eq!(Response::parse(&[]), Err(ShortResponse(0)));
        assert_eq!(Response::parse(&[0x90]), Err(ShortResponse(1)));
    }
}
