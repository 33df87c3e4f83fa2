//! The card side of an APDU: parsing a C-APDU and naming the status words we answer.
//!
//! The terminal side has its own typed commands in `crate::apdu`; the card keeps a
//! separate, deliberately small parser because its job is the opposite one: accept
//! *any* bytes from the reader, never panic, and turn every malformed command into
//! the status word a real card would give (`6700`), rather than an error value.
//!
//! Only short APDUs exist on these cards (T=0). A case-4 command may arrive with or
//! without its trailing Le: through T=0 the reader strips it, through other paths it
//! may not; the card treats both the same.

/// A parsed short C-APDU, borrowing the command bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (empty for cases 1 and 2).
    pub data: &'a [u8],
    /// Le when present (`Some(0)` = "all", 256 in short form).
    pub le: Option<u8>,
}

impl<'a> Command<'a> {
    /// Parses `apdu` as a short C-APDU (cases 1–4).
    ///
    /// Returns `Err(WRONG_LENGTH)` when the bytes cannot be a short APDU: fewer than
    /// four bytes, an Lc of `00` followed by more bytes (extended length, unsupported),
    /// or an Lc that disagrees with the number of bytes that follow.
    pub fn parse(apdu: &'a [u8]) -> Result<Self, u16> {
        let (header, body) = match apdu.split_first_chunk::<4>() {
            Some(split) => split,
            None => return Err(sw::WRONG_LENGTH),
        };
        let [cla, ins, p1, p2] = *header;
        let (data, le): (&[u8], Option<u8>) = match body {
            [] => (&[], None),
            [le] => (&[], Some(*le)),
            [lc, rest @ ..] => {
                let lc = usize::from(*lc);
                if lc == 0 {
                    return Err(sw::WRONG_LENGTH);
                }
                if rest.len() == lc {
                    (rest, None)
                } else if rest.len() == lc + 1 {
                    (&rest[..lc], rest.last().copied())
                } else {
                    return Err(sw::WRONG_LENGTH);
                }
            }
        };
        Ok(Self {
            cla,
            ins,
            p1,
            p2,
            data,
            le,
        })
    }

    /// P1 and P2 as one big-endian number (for "P1 P2 = 00 00" checks).
    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.p1, self.p2])
    }
}

/// Status words of ISO 7816-4 as the card profiles use them.
pub mod sw {
    /// Success.
    pub const OK: u16 = 0x9000;
    /// `61xx`: `xx` bytes wait for GET RESPONSE (add the count to this base).
    pub const BYTES_AVAILABLE: u16 = 0x6100;
    /// `63Cx`: verification failed, `x` tries left (add the count).
    pub const TRIES_LEFT: u16 = 0x63C0;
    /// Wrong length (Lc, or data not matching the record).
    pub const WRONG_LENGTH: u16 = 0x6700;
    /// Command incompatible with the file structure.
    pub const INCOMPATIBLE_FILE: u16 = 0x6981;
    /// Security status not satisfied.
    pub const SECURITY: u16 = 0x6982;
    /// Authentication method (key or PIN) blocked.
    pub const BLOCKED: u16 = 0x6983;
    /// Reference data not usable: here, no fresh challenge for EXTERNAL AUTHENTICATE.
    pub const NO_CHALLENGE: u16 = 0x6984;
    /// Conditions of use not satisfied (no pending response, PIN refused by rule,
    /// DES CRYPT without INIT FOR DESCRYPT).
    pub const CONDITIONS: u16 = 0x6985;
    /// Command not allowed: no current EF.
    pub const NO_CURRENT_EF: u16 = 0x6986;
    /// Incorrect data field.
    pub const WRONG_DATA: u16 = 0x6A80;
    /// File or application not found.
    pub const FILE_NOT_FOUND: u16 = 0x6A82;
    /// Record not found.
    pub const RECORD_NOT_FOUND: u16 = 0x6A83;
    /// Incorrect P1 or P2.
    pub const WRONG_P1P2: u16 = 0x6A86;
    /// Referenced data (key, PIN) not found.
    pub const REF_NOT_FOUND: u16 = 0x6A88;
    /// Offset outside the EF (READ BINARY).
    pub const WRONG_OFFSET: u16 = 0x6B00;
    /// `6Cxx`: wrong Le, `xx` is the right one (add the count).
    pub const WRONG_LE: u16 = 0x6C00;
    /// Instruction not supported.
    pub const INS_NOT_SUPPORTED: u16 = 0x6D00;
    /// Class not supported.
    pub const CLA_NOT_SUPPORTED: u16 = 0x6E00;
    /// No precise diagnosis (internal failure, e.g. no random numbers).
    pub const UNKNOWN: u16 = 0x6F00;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_four_cases() {
        let c = Command::parse(&[0x00, 0xA4, 0x00, 0x00]).unwrap();
        assert_eq!((c.data, c.le), (&[][..], None));
        let c = Command::parse(&[0x00, 0xB2, 0x01, 0x2C, 0x00]).unwrap();
        assert_eq!((c.ins, c.data, c.le), (0xB2, &[][..], Some(0)));
        let c = Command::parse(&[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00]).unwrap();
        assert_eq!((c.data, c.le), (&[0x3F, 0x00][..], None));
        let c = Command::parse(&[0x00, 0x88, 0x00, 0x01, 0x01, 0xAA, 0x08]).unwrap();
        assert_eq!((c.data, c.le), (&[0xAA][..], Some(8)));
        assert_eq!(c.p1p2(), 0x0001);
    }

    #[test]
    fn rejects_malformed_lengths() {
        for bad in [
            &[][..],
            &[0x00],
            &[0x00, 0xA4, 0x00],
            &[0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F],
            &[0x00, 0xA4, 0x00, 0x00, 0x01, 0x3F, 0x00, 0x00],
            &[0x00, 0xA4, 0x00, 0x00, 0x00, 0x00, 0x02, 0x3F, 0x00],
        ] {
            assert_eq!(Command::parse(bad), Err(sw::WRONG_LENGTH), "{bad:02X?}");
        }
    }
}
