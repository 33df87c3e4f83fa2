//! The catalogue of card commands: one constructor per command of spec/cards.md.
//!
//! Callers never assemble CLA/INS bytes by hand; each function names the section of
//! the spec it follows. Commands are built in the forms the cards expect under T=0:
//! case-4 commands go without Le and their data comes back by `61xx` + GET RESPONSE
//! (handled by [`super::t0`]).

use super::command::Command;
use crate::secret::Pin;

/// How a record is addressed (READ/UPDATE RECORD P1/P2, spec/cards.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordRef {
    /// Record number (P2 bit 3 set).
    Number(u8),
    /// First record with this tag (P2 bits 3..1 = 000).
    Tag(u8),
}

/// Which EF a record command addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfRef {
    /// The current EF.
    Current,
    /// The EF with this short file identifier in the current DF.
    Sfi(u8),
}

fn record_p1_p2(ef: EfRef, rec: RecordRef) -> (u8, u8) {
    let sfi_bits = match ef {
        EfRef::Current => 0,
        EfRef::Sfi(sfi) => (sfi & 0x1F) << 3,
    };
    match rec {
        RecordRef::Number(n) => (n, sfi_bits | 0x04),
        RecordRef::Tag(t) => (t, sfi_bits),
    }
}

/// SELECT MF `00 A4 00 00 02 3F00` (§1.2).
pub fn select_mf() -> Command {
    select_fid(0x3F00)
}

/// SELECT a DF (or the MF) by file identifier `00 A4 00 00 02 FID` (§1.2).
pub fn select_fid(fid: u16) -> Command {
    Command::new(0x00, 0xA4, 0x00, 0x00).with_data(fid.to_be_bytes().to_vec())
}

/// SELECT an EF in the current DF `00 A4 02 00 02 FID` (§1.2).
pub fn select_ef(fid: u16) -> Command {
    Command::new(0x00, 0xA4, 0x02, 0x00).with_data(fid.to_be_bytes().to_vec())
}

/// SELECT by AID (DF name) `00 A4 04 00 Lc AID`; an FCI comes back by `61xx` (§1.2).
pub fn select_aid(aid: &[u8]) -> Command {
    Command::new(0x00, 0xA4, 0x04, 0x00).with_data(aid.to_vec())
}

/// READ RECORD `00 B2 P1 P2 Le` (§1.3); `le` 256 sends `Le = 00`.
pub fn read_record(ef: EfRef, rec: RecordRef, le: usize) -> Command {
    let (p1, p2) = record_p1_p2(ef, rec);
    Command::new(0x00, 0xB2, p1, p2).with_le(le)
}

/// UPDATE RECORD `00 DC P1 P2 Lc <tag len value>` (§1.3): a whole record.
pub fn update_record(ef: EfRef, rec: RecordRef, record: &[u8]) -> Command {
    let (p1, p2) = record_p1_p2(ef, rec);
    Command::new(0x00, 0xDC, p1, p2).with_data(record.to_vec())
}

/// APPEND RECORD `00 E2 00 (SFI<<3) Lc <record>` (§1.3).
pub fn append_record(sfi: u8, record: &[u8]) -> Command {
    Command::new(0x00, 0xE2, 0x00, (sfi & 0x1F) << 3).with_data(record.to_vec())
}

/// READ BINARY of the current EF `00 B0 offset Le`.
pub fn read_binary(offset: u16, le: usize) -> Command {
    let [p1, p2] = (offset & 0x7FFF).to_be_bytes();
    Command::new(0x00, 0xB0, p1, p2).with_le(le)
}

/// READ BINARY by SFI `00 B0 (80|SFI) offset Le` (PSAM EF16, §3).
pub fn read_binary_sfi(sfi: u8, offset: u8, le: usize) -> Command {
    Command::new(0x00, 0xB0, 0x80 | (sfi & 0x1F), offset).with_le(le)
}

/// GET CHALLENGE `00 84 00 00 08` (§1.3).
pub fn get_challenge() -> Command {
    Command::new(0x00, 0x84, 0x00, 0x00).with_le(8)
}

/// EXTERNAL AUTHENTICATE `00 82 00 KK Lc <cryptogram>` (§1.3, §1.4).
pub fn external_authenticate(key_id: u8, cryptogram: &[u8]) -> Command {
    Command::new(0x00, 0x82, 0x00, key_id).with_data(cryptogram.to_vec())
}

/// INTERNAL AUTHENTICATE `00 88 00 KK 08 <rnd>` (§1.3); the proof comes by `61xx`.
pub fn internal_authenticate(key_id: u8, rnd: &[u8; 8]) -> Command {
    Command::new(0x00, 0x88, 0x00, key_id).with_data(rnd.to_vec())
}

/// VERIFY `00 20 00 00 03 <PIN BCD>` (§1.3).
pub fn verify(pin: &Pin) -> Command {
    Command::new(0x00, 0x20, 0x00, 0x00).with_data(pin.bcd().to_vec())
}

/// CHANGE PIN `80 5E 01 00 07 <old> FF <new>` (§1.3).
pub fn change_pin(old: &Pin, new: &Pin) -> Command {
    let mut data = old.bcd().to_vec();
    data.push(0xFF);
    data.extend_from_slice(&new.bcd());
    Command::new(0x80, 0x5E, 0x01, 0x00).with_data(data)
}

/// RELOAD PIN `80 5E 00 00 03 <new>` (§1.3), after EXTERNAL AUTHENTICATE key 06.
pub fn reload_pin(new: &Pin) -> Command {
    Command::new(0x80, 0x5E, 0x00, 0x00).with_data(new.bcd().to_vec())
}

/// GET RESPONSE `00 C0 00 00 xx` (§1.3), for a command of class `00`. The T=0 layer
/// builds its own in the class of the command it answers ([`super::t0::get_response`]).
pub fn get_response(len: u8) -> Command {
    Command::new(0x00, 0xC0, 0x00, 0x00).with_le(if len == 0 { 256 } else { len as usize })
}

/// INIT FOR DESCRYPT `80 1A <app> <KK> 09 <alg> <D>` (§3).
pub fn psam_init_for_descrypt(app: u8, key_id: u8, alg: u8, diversifier: &[u8; 8]) -> Command {
    let mut data = vec![alg];
    data.extend_from_slice(diversifier);
    Command::new(0x80, 0x1A, app, key_id).with_data(data)
}

/// DES CRYPT `80 FA 00 00 Lc <data>` (§3): the cryptogram comes by `61xx`.
pub fn psam_des_crypt(data: &[u8]) -> Command {
    Command::new(0x80, 0xFA, 0x00, 0x00).with_data(data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_of(c: &Command) -> String {
        hex::encode_upper(c.to_bytes().unwrap())
    }

    #[test]
    fn spec_forms() {
        assert_eq!(hex_of(&select_mf()), "00A40000023F00");
        assert_eq!(
            hex_of(&select_aid(
                &hex::decode("7378312E73682EC9E7BBE1B1A3D5CF").unwrap()
            )),
            "00A404000F7378312E73682EC9E7BBE1B1A3D5CF"
        );
        assert_eq!(hex_of(&select_ef(0xEF05)), "00A4020002EF05");
        // By SFI 06 and tag 08, Le 00.
        assert_eq!(
            hex_of(&read_record(EfRef::Sfi(6), RecordRef::Tag(8), 256)),
            "00B2083000"
        );
        // By SFI 05 and number 1.
        assert_eq!(
            hex_of(&read_record(EfRef::Sfi(5), RecordRef::Number(1), 256)),
            "00B2012C00"
        );
        assert_eq!(
            hex_of(&read_record(EfRef::Current, RecordRef::Number(3), 6)),
            "00B2030406"
        );
        assert_eq!(hex_of(&append_record(8, &[0; 2])), "00E20040020000");
        assert_eq!(hex_of(&get_challenge()), "0084000008");
        // The PSAM's terminal number, EF16 (profiles/psam.json).
        assert_eq!(hex_of(&read_binary_sfi(0x16, 0, 6)), "00B0960006");
        assert_eq!(
            hex_of(&psam_init_for_descrypt(
                1,
                0x0C,
                1,
                &[0, 0xBF, 0x7C, 0x7A, 0x48, 0xFB, 0x49, 0x66]
            )),
            "801A010C090100BF7C7A48FB4966"
        );
        let pin = Pin::parse("123456").unwrap();
        assert_eq!(hex_of(&verify(&pin)), "0020000003123456");
        let new = Pin::parse("135790").unwrap();
        assert_eq!(hex_of(&change_pin(&pin, &new)), "805E010007123456FF135790");
        assert_eq!(hex_of(&reload_pin(&new)), "805E000003135790");
        assert_eq!(hex_of(&get_response(0x1E)), "00C000001E");
    }
}
