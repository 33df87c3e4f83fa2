//! Command APDUs (ISO/IEC 7816-4 §5.1): the four cases, short and extended encoding.
//!
//! A [`Command`] is built by the [`catalogue`](super::catalogue) and encoded once, at the
//! bottom of the stack. Layers that must look inside a command already on the wire
//! (GET RESPONSE handling, redaction, scripts) parse it back with [`Command::parse`],
//! so the encoding rules live in this one file.

use std::fmt;
use zeroize::Zeroize;

/// Largest Nc/Ne of a short APDU (Lc and Le on one byte; Le `00` means 256).
pub const SHORT_MAX_DATA: usize = 255;
/// Largest Ne of a short APDU.
pub const SHORT_MAX_LE: usize = 256;
/// Largest Nc/Ne of an extended APDU.
pub const EXTENDED_MAX: usize = 65535;

/// The ISO 7816-4 command case, from the presence of data and of an expected length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// No data, no response data.
    One,
    /// No data, response data expected.
    Two,
    /// Data, no response data.
    Three,
    /// Data and response data.
    Four,
}

/// A command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (Nc bytes).
    pub data: Vec<u8>,
    /// Expected response length Ne; `Some(256)` is a short `Le = 00`.
    pub le: Option<usize>,
}

/// Why a command cannot be encoded or parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Fewer than the four header bytes.
    #[error("command APDU too short: {0} bytes, at least 4 needed (CLA INS P1 P2)")]
    TooShort(usize),
    /// The length fields do not match the number of bytes.
    #[error("command APDU length fields do not match its {len} bytes: {why}")]
    BadLength {
        /// Total bytes given.
        len: usize,
        /// What did not match.
        why: &'static str,
    },
    /// More data than an extended APDU can carry.
    #[error("command data of {0} bytes is longer than 65535")]
    DataTooLong(usize),
    /// Ne outside 1..=65536.
    #[error("expected length {0} is out of range 1..=65536")]
    LeOutOfRange(usize),
}

impl Command {
    /// A command with no data and no expected response (case 1).
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Self {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Adds command data.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Self {
        self.data = data.into();
        self
    }

    /// Sets the expected response length Ne (256 encodes as short `Le = 00`).
    pub fn with_le(mut self, le: usize) -> Self {
        self.le = Some(le);
        self
    }

    /// The command's case.
    pub fn case(&self) -> Case {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => Case::One,
            (true, true) => Case::Two,
            (false, false) => Case::Three,
            (false, true) => Case::Four,
        }
    }

    /// Whether the short encoding cannot hold this command.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|le| le > SHORT_MAX_LE)
    }

    /// Encodes the command: short when it fits, extended otherwise.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CommandError> {
        self.encode(self.needs_extended())
    }

    /// Encodes the command in the extended form even when the short one would do
    /// (ISO/IEC 7816-4 §5.1): how a command that arrived extended is sent again.
    ///
    /// # Errors
    /// As [`Command::to_bytes`].
    pub fn to_bytes_extended(&self) -> Result<Vec<u8>, CommandError> {
        self.encode(true)
    }

    /// Whether encoded command bytes use the extended length form: a body after the
    /// header that starts with `00` and is longer than one byte (a short Lc is never
    /// `00`; a lone `00` is a short Le of 256).
    pub fn is_extended_encoding(bytes: &[u8]) -> bool {
        bytes.len() > 5 && bytes[4] == 0
    }

    fn encode(&self, extended: bool) -> Result<Vec<u8>, CommandError> {
        if self.data.len() > EXTENDED_MAX {
            return Err(CommandError::DataTooLong(self.data.len()));
        }
        if let Some(le) = self.le {
            if le == 0 || le > EXTENDED_MAX + 1 {
                return Err(CommandError::LeOutOfRange(le));
            }
        }
        let mut out = Vec::with_capacity(4 + 3 + self.data.len() + 3);
        out.extend_from_slice(&[self.cla, self.ins, self.p1, self.p2]);
        if extended && (!self.data.is_empty() || self.le.is_some()) {
            out.push(0);
            if !self.data.is_empty() {
                out.extend_from_slice(&(self.data.len() as u16).to_be_bytes());
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                // Ne = 65536 encodes as 00 00.
                out.extend_from_slice(&((le & 0xFFFF) as u16).to_be_bytes());
            }
        } else {
            if !self.data.is_empty() {
                out.push(self.data.len() as u8);
                out.extend_from_slice(&self.data);
            }
            if let Some(le) = self.le {
                out.push((le & 0xFF) as u8);
            }
        }
        Ok(out)
    }

    /// Parses an encoded command, telling the case from the length fields.
    pub fn parse(bytes: &[u8]) -> Result<Command, CommandError> {
        if bytes.len() < 4 {
            return Err(CommandError::TooShort(bytes.len()));
        }
        let mut cmd = Command::new(bytes[0], bytes[1], bytes[2], bytes[3]);
        let body = &bytes[4..];
        let bad = |why| CommandError::BadLength {
            len: bytes.len(),
            why,
        };
        match body.len() {
            0 => {}
            1 => cmd.le = Some(if body[0] == 0 { 256 } else { body[0] as usize }),
            _ if body[0] != 0 => {
                // Short case 3 or 4.
                let lc = body[0] as usize;
                match body.len() - 1 {
                    n if n == lc => cmd.data = body[1..].to_vec(),
                    n if n == lc + 1 => {
                        cmd.data = body[1..=lc].to_vec();
                        let le = body[lc + 1];
                        cmd.le = Some(if le == 0 { 256 } else { le as usize });
                    }
                    _ => return Err(bad("Lc does not match the data that follows")),
                }
            }
            3 => {
                // Extended case 2: 00 Le1 Le2.
                let le = u16::from_be_bytes([body[1], body[2]]) as usize;
                cmd.le = Some(if le == 0 { 65536 } else { le });
            }
            n if n > 3 => {
                let lc = u16::from_be_bytes([body[1], body[2]]) as usize;
                if lc == 0 {
                    return Err(bad("extended Lc of 0"));
                }
                match n - 3 {
                    m if m == lc => cmd.data = body[3..].to_vec(),
                    m if m == lc + 2 => {
                        cmd.data = body[3..3 + lc].to_vec();
                        let le = u16::from_be_bytes([body[3 + lc], body[4 + lc]]) as usize;
                        cmd.le = Some(if le == 0 { 65536 } else { le });
                    }
                    _ => return Err(bad("extended Lc does not match the data that follows")),
                }
            }
            _ => return Err(bad("a 00 length byte followed by 1 byte")),
        }
        Ok(cmd)
    }
}

impl fmt::Debug for Command {
    /// Prints the header and lengths only: data may be a PIN or a cryptogram.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:02X} {:02X} {:02X}, Nc={}, Ne={:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

/// Command data may carry secrets (a PIN in VERIFY, CHANGE PIN and RELOAD PIN, a
/// cryptogram in EXTERNAL AUTHENTICATE): it is wiped when the command is dropped, as
/// [`Pin`](crate::secret::Pin) is, so no copy of it outlives the exchange in our heap.
impl Drop for Command {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl Command {
    /// Overwrites the command data with zeros (what dropping the command does).
    fn wipe(&mut self) {
        self.data.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(cmd: &Command, hex_expected: &str) {
        let bytes = cmd.to_bytes().unwrap();
        assert_eq!(hex::encode_upper(&bytes), hex_expected);
        assert_eq!(&Command::parse(&bytes).unwrap(), cmd);
    }

    #[test]
    fn case_1_short() {
        let c = Command::new(0x00, 0x70, 0x00, 0x00);
        assert_eq!(c.case(), Case::One);
        round_trip(&c, "00700000");
    }

    #[test]
    fn case_2_short_and_le_256() {
        round_trip(&Command::new(0, 0x84, 0, 0).with_le(8), "0084000008");
        let c = Command::new(0, 0xB2, 1, 0x2C).with_le(256);
        assert_eq!(c.case(), Case::Two);
        round_trip(&c, "00B2012C00");
    }

    #[test]
    fn case_3_short() {
        let c = Command::new(0, 0xA4, 0, 0).with_data(vec![0x3F, 0x00]);
        assert_eq!(c.case(), Case::Three);
        round_trip(&c, "00A40000023F00");
    }

    #[test]
    fn case_4_short() {
        let c = Command::new(0, 0x88, 0, 1)
            .with_data(vec![1, 2, 3, 4, 5, 6, 7, 8])
            .with_le(256);
        assert_eq!(c.case(), Case::Four);
        round_trip(&c, "0088000108010203040506070800");
    }

    #[test]
    fn case_2_extended() {
        round_trip(&Command::new(0, 0xB0, 0, 0).with_le(1000), "00B000000003E8");
        round_trip(
            &Command::new(0, 0xB0, 0, 0).with_le(65536),
            "00B00000000000",
        );
    }

    #[test]
    fn case_3_and_4_extended() {
        let data = vec![0xAB; 300];
        let c3 = Command::new(0, 0xD6, 0, 0).with_data(data.clone());
        let enc = c3.to_bytes().unwrap();
        assert_eq!(&enc[4..7], &[0x00, 0x01, 0x2C]);
        assert_eq!(Command::parse(&enc).unwrap(), c3);
        let c4 = c3.clone().with_le(2);
        let enc = c4.to_bytes().unwrap();
        assert_eq!(&enc[enc.len() - 2..], &[0x00, 0x02]);
        assert_eq!(Command::parse(&enc).unwrap(), c4);
    }

    #[test]
    fn bad_encodings_are_errors() {
        assert_eq!(Command::parse(&[0, 0xA4]), Err(CommandError::TooShort(2)));
        assert!(Command::parse(&hex::decode("00A40000033F00").unwrap()).is_err());
        assert!(Command::parse(&hex::decode("00A40000023F0000FF").unwrap()).is_err());
        assert!(Command::parse(&hex::decode("00B000000001").unwrap()).is_err());
        assert!(Command::parse(&hex::decode("00B00000000000AA").unwrap()).is_err());
        assert_eq!(
            Command::new(0, 0, 0, 0).with_le(0).to_bytes(),
            Err(CommandError::LeOutOfRange(0))
        );
        assert_eq!(
            Command::new(0, 0, 0, 0)
                .with_data(vec![0; 70000])
                .to_bytes(),
            Err(CommandError::DataTooLong(70000))
        );
    }

    #[test]
    fn debug_never_shows_data() {
        let c = Command::new(0, 0x20, 0, 0).with_data(vec![0x12, 0x34, 0x56]);
        let s = format!("{c:?}");
        assert!(!s.contains("12") || !s.contains("34"), "{s}");
        assert!(!s.contains("123456"));
    }

    #[test]
    fn dropping_a_command_wipes_its_data() {
        let mut c = Command::new(0x00, 0x20, 0x00, 0x00).with_data(vec![0x12, 0x34, 0x56]);
        c.wipe();
        assert!(c.data.is_empty(), "the data is overwritten and cleared");
    }
}
