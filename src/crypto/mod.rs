//! Key diversification and cryptograms (spec/cards.md §1.4).
//!
//! Cards never hold master keys: each card key `K` is derived from a master key `M`
//! (held by the PSAM, or a lab key file) and the card's 8 diversification bytes `D`.
//! The terminal proves it knows `K` by encrypting the card's challenge (EXTERNAL
//! AUTHENTICATE); the card proves it by encrypting the terminal's (INTERNAL
//! AUTHENTICATE). Everything here is plain ECB over whole blocks, which is what the
//! card profiles specify; it is not a general-purpose encryption API.
//!
//! Two algorithms, chosen by the card's algorithm id (`01` / `03` in the SSSE FCI):
//! - 3DES (`01`): two-key EDE, `K = 3DES(M, D) || 3DES(M, !D)`,
//!   cryptogram `3DES(K, R)` (8 bytes).
//! - SM4 (`03`): `K = SM4(M, D || !D)`, cryptogram `SM4(K, R || 00*8)` (16 bytes).
//!
//! Key bytes are wiped when dropped: the cipher instances (RustCrypto `zeroize`
//! feature), the intermediate buffers here, and [`SecretKey`] for keys kept around.

mod key;

pub use key::SecretKey;

use cipher::{Array, Block, BlockCipherEncrypt, KeyInit};
use des::TdesEde2;
use sm4::Sm4;
use zeroize::Zeroize;

/// Block cipher of a card profile, by its algorithm id of spec/cards.md §1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Two-key triple DES (EDE, ECB); algorithm id `01` (SSC 1.00/2.00, CITY).
    Tdes,
    /// SM4 (GB/T 32907-2016, ECB); algorithm id `03` (SSC 3.00).
    Sm4,
}

impl Algorithm {
    /// The algorithm for an id byte as found in the FCI or an INIT FOR DESCRYPT
    /// command: `01` → 3DES, `03` → SM4, anything else → `None`.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0x01 => Some(Self::Tdes),
            0x03 => Some(Self::Sm4),
            _ => None,
        }
    }

    /// The id byte of this algorithm (`01` or `03`).
    pub fn id(self) -> u8 {
        match self {
            Self::Tdes => 0x01,
            Self::Sm4 => 0x03,
        }
    }

    /// Cipher block length in bytes: 8 for 3DES, 16 for SM4.
    pub fn block_len(self) -> usize {
        match self {
            Self::Tdes => 8,
            Self::Sm4 => 16,
        }
    }

    /// Length of an authentication cryptogram: one block (8 or 16 bytes).
    pub fn cryptogram_len(self) -> usize {
        self.block_len()
    }

    /// Short human name, for messages (`3DES`, `SM4`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Tdes => "3DES",
            Self::Sm4 => "SM4",
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors of the raw block operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// ECB needs whole blocks; the card commands never pad.
    #[error("{alg} data of {len} bytes is not a whole number of {block}-byte blocks")]
    NotBlockAligned {
        /// Algorithm asked for.
        alg: Algorithm,
        /// Length of the data given.
        len: usize,
        /// Block length of the algorithm.
        block: usize,
    },
}

/// Derives the card key `K` from master key `master` and the card's diversification
/// bytes `d` (spec/cards.md §1.4).
///
/// 3DES: `K = 3DES(M, D) || 3DES(M, D xor FF..FF)`; SM4: `K = SM4(M, D || D xor FF..FF)`.
/// The caller owns the returned bytes; wrap them in a [`SecretKey`] to keep them.
pub fn diversify(alg: Algorithm, master: &[u8; 16], d: &[u8; 8]) -> [u8; 16] {
    let mut buf = [0u8; 16];
    buf[..8].copy_from_slice(d);
    for (o, i) in buf[8..].iter_mut().zip(d) {
        *o = !i;
    }
    ecb_with(alg, master, &mut buf);
    buf
}

/// The authentication cryptogram of challenge `challenge` under card key `key`:
/// 3DES → `3DES(K, R)` (8 bytes); SM4 → `SM4(K, R || 00*8)` (16 bytes).
pub fn cryptogram(alg: Algorithm, key: &[u8; 16], challenge: &[u8; 8]) -> Vec<u8> {
    let mut block = vec![0u8; alg.block_len()];
    block[..8].copy_from_slice(challenge);
    ecb_with(alg, key, &mut block);
    block
}

/// Encrypts `data` with `key` in ECB mode, block by block (the PSAM's DES CRYPT).
///
/// `data` must be a whole number of blocks (8 bytes for 3DES, 16 for SM4); empty data
/// gives empty output.
pub fn encrypt_blocks(alg: Algorithm, key: &[u8; 16], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let block = alg.block_len();
    if data.len() % block != 0 {
        return Err(CryptoError::NotBlockAligned {
            alg,
            len: data.len(),
            block,
        });
    }
    let mut out = data.to_vec();
    ecb_with(alg, key, &mut out);
    Ok(out)
}

/// ECB in place with a fresh cipher instance (wiped when it drops).
fn ecb_with(alg: Algorithm, key: &[u8; 16], data: &mut [u8]) {
    match alg {
        Algorithm::Tdes => ecb(&TdesEde2::new(&Array::from(*key)), data),
        Algorithm::Sm4 => ecb(&Sm4::new(&Array::from(*key)), data),
    }
}

/// ECB in place over the whole blocks of `data` (callers check alignment first).
fn ecb<C: BlockCipherEncrypt>(cipher: &C, data: &mut [u8]) {
    for chunk in data.chunks_exact_mut(C::block_size()) {
        if let Ok(block) = <&mut Block<C>>::try_from(chunk) {
            cipher.encrypt_block(block);
        }
    }
}

/// Compares two byte strings in time independent of where they differ, so a card
/// model does not leak how much of a cryptogram was right.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    diff == 0
}

/// Wipes a temporary key-sized buffer (helper for callers holding plain arrays).
pub fn wipe(buf: &mut [u8]) {
    buf.zeroize();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h16(s: &str) -> [u8; 16] {
        let v = hex::decode(s).unwrap();
        v.try_into().unwrap()
    }
    fn h8(s: &str) -> [u8; 8] {
        let v = hex::decode(s).unwrap();
        v.try_into().unwrap()
    }

    const R: &str = "0102030405060708";
    const D_SSC: &str = "00BF7C7A48FB4966";

    /// One row of spec/cards.md §6: master, alg, D, K, cryptogram.
    fn check(master: &str, alg: Algorithm, d: &str, k: &str, crypt: &str) {
        let kk = diversify(alg, &h16(master), &h8(d));
        assert_eq!(hex::encode_upper(kk), k, "K for master {master} {alg}");
        let c = cryptogram(alg, &kk, &h8(R));
        assert_eq!(
            hex::encode_upper(c),
            crypt,
            "cryptogram for master {master} {alg}"
        );
    }

    #[test]
    fn spec_vector_ssc_0c_3des() {
        check(
            "0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0C0",
            Algorithm::Tdes,
            D_SSC,
            "ED3FDC48C5F05104AED73DE1D91BD1AE",
            "33C2C17134EC6D91",
        );
    }

    #[test]
    fn spec_vector_ssc_0c_sm4() {
        check(
            "0C0C0C0C0C0C0C0CC0C0C0C0C0C0C0C0",
            Algorithm::Sm4,
            D_SSC,
            "C13BB1A9AACC7569FA0BC19734E5371D",
            "78A27CA74A058AD427CFF97C40A00CB4",
        );
    }

    #[test]
    fn spec_vector_ssc_0a_sm4() {
        check(
            "0A0A0A0A0A0A0A0AA0A0A0A0A0A0A0A0",
            Algorithm::Sm4,
            D_SSC,
            "833BFB5D8A5600658E590C20C7450AB4",
            "1E9F187FDDF4064AB2B9A63E0FA2F6A4",
        );
    }

    #[test]
    fn spec_vector_ssc_06_3des() {
        check(
            "06060606060606066060606060606060",
            Algorithm::Tdes,
            D_SSC,
            "5E1236D58957518F6AA9C6D4C9C57587",
            "D1A1B43755A78123",
        );
    }

    #[test]
    fn spec_vector_ssc_01_3des() {
        check(
            "00112233445566778899AABBCCDDEEFF",
            Algorithm::Tdes,
            D_SSC,
            "B6832B79663AFC78EF88BF4E6774EE6B",
            "1FD71B7483CE1E01",
        );
    }

    #[test]
    fn spec_vector_city_0c() {
        // D = last 8 ASCII bytes of card number 6399000123.
        assert_eq!(hex::encode_upper(&b"6399000123"[2..]), "3939303030313233");
        check(
            "1C1C1C1C1C1C1C1CC1C1C1C1C1C1C1C1",
            Algorithm::Tdes,
            "3939303030313233",
            "F38AAF877656CF3A87B8568C22E633AE",
            "92BBCCFA11E7B653",
        );
    }

    #[test]
    fn sm4_standard_vector() {
        let k = h16("0123456789ABCDEFFEDCBA9876543210");
        let out = encrypt_blocks(Algorithm::Sm4, &k, &k).unwrap();
        assert_eq!(hex::encode_upper(out), "681EDF34D206965E86B3E94F536E4246");
    }

    #[test]
    fn encrypt_blocks_is_ecb_and_matches_cryptogram() {
        let k = h16("ED3FDC48C5F05104AED73DE1D91BD1AE");
        let two = encrypt_blocks(
            Algorithm::Tdes,
            &k,
            &hex::decode(format!("{R}{R}")).unwrap(),
        )
        .unwrap();
        assert_eq!(hex::encode_upper(&two), "33C2C17134EC6D9133C2C17134EC6D91");
        let sm = h16("C13BB1A9AACC7569FA0BC19734E5371D");
        let one = encrypt_blocks(
            Algorithm::Sm4,
            &sm,
            &hex::decode(format!("{R}0000000000000000")).unwrap(),
        )
        .unwrap();
        assert_eq!(one, cryptogram(Algorithm::Sm4, &sm, &h8(R)));
        assert!(encrypt_blocks(Algorithm::Tdes, &k, &[]).unwrap().is_empty());
    }

    #[test]
    fn encrypt_blocks_rejects_partial_blocks() {
        let k = [0u8; 16];
        assert_eq!(
            encrypt_blocks(Algorithm::Tdes, &k, &[0; 7]),
            Err(CryptoError::NotBlockAligned {
                alg: Algorithm::Tdes,
                len: 7,
                block: 8
            })
        );
        assert!(encrypt_blocks(Algorithm::Sm4, &k, &[0; 8]).is_err());
        assert!(encrypt_blocks(Algorithm::Sm4, &k, &[0; 32]).is_ok());
    }

    #[test]
    fn algorithm_ids_round_trip() {
        for alg in [Algorithm::Tdes, Algorithm::Sm4] {
            assert_eq!(Algorithm::from_id(alg.id()), Some(alg));
        }
        assert_eq!(Algorithm::from_id(0x02), None);
        assert_eq!(Algorithm::from_id(0x00), None);
        assert_eq!(Algorithm::Tdes.cryptogram_len(), 8);
        assert_eq!(Algorithm::Sm4.cryptogram_len(), 16);
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
        assert!(ct_eq(b"", b""));
    }
}
