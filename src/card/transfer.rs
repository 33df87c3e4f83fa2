//! The transfer records of spec/cards.md: the transfer id layout and the SSC's
//! transfer floor.
//!
//! Why they have their own types: the cancel rule of spec/activation.md compares a
//! transfer's counter with a floor ("no transfer from that old card with a counter at
//! or below it may ever be credited"), so the counter inside a transfer id and the two
//! halves of a floor must be read the same way everywhere: in the driver, in the
//! model checker and in the tests that inspect card images.

use crate::card::CardError;

/// Length of a transfer id (CITY tag 26, SSC DF04 tag 26).
pub const TRANSFER_ID_LEN: usize = 16;
/// Length of the SSC transfer floor (DF04 EF05 tag 27).
pub const FLOOR_LEN: usize = 14;
/// Length of the CITY card number inside a floor (ASCII digits).
pub const FLOOR_CARD_LEN: usize = 10;

/// A transfer id X: the old card's transfer counter after the freeze (u32
/// big-endian) followed by 12 random bytes (spec/cards.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransferId(pub [u8; TRANSFER_ID_LEN]);

impl TransferId {
    /// A new id for the freeze that raises the counter to `counter`, with 12 bytes
    /// from the operating system's random source.
    ///
    /// # Errors
    /// [`CardError::InvalidData`] when no random bytes can be had.
    pub fn generate(counter: u32) -> Result<TransferId, CardError> {
        let mut tail = [0u8; 12];
        getrandom::fill(&mut tail)
            .map_err(|e| CardError::invalid("transfer id", format!("no random numbers: {e}")))?;
        Ok(TransferId::from_parts(counter, tail))
    }

    /// The id made of `counter` and `random` (tests and the model checker).
    pub fn from_parts(counter: u32, random: [u8; 12]) -> TransferId {
        let mut id = [0u8; TRANSFER_ID_LEN];
        id[..4].copy_from_slice(&counter.to_be_bytes());
        id[4..].copy_from_slice(&random);
        TransferId(id)
    }

    /// The counter it was made with (its first 4 bytes, big-endian).
    pub fn counter(&self) -> u32 {
        u32::from_be_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// Whether the id is all zero (no transfer).
    pub fn is_none(&self) -> bool {
        self.0.iter().all(|b| *b == 0)
    }

    /// The id as stored on a card, or `None` when all zero.
    pub fn from_card(raw: [u8; TRANSFER_ID_LEN]) -> Option<TransferId> {
        let id = TransferId(raw);
        (!id.is_none()).then_some(id)
    }

    /// Upper-case hex (the journal key and what the desk shows).
    pub fn hex(&self) -> String {
        hex::encode_upper(self.0)
    }

    /// Parses 32 hex digits.
    ///
    /// # Errors
    /// [`CardError::InvalidData`] when `s` is not 32 hex digits.
    pub fn parse_hex(s: &str) -> Result<TransferId, CardError> {
        let mut id = [0u8; TRANSFER_ID_LEN];
        hex::decode_to_slice(s.trim(), &mut id).map_err(|_| {
            CardError::invalid("transfer id", format!("'{s}' is not 32 hex digits"))
        })?;
        Ok(TransferId(id))
    }
}

/// The transfer floor on an SSC (DF04 EF05 tag 27): the CITY card number and the
/// counter up to which that old card's transfers are barred from this card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Floor {
    /// The old card's number (10 ASCII digits).
    pub old_card: String,
    /// The highest barred counter.
    pub counter: u32,
}

impl Floor {
    /// Decodes the 14 stored bytes; `Ok(None)` when all zero (no floor).
    ///
    /// # Errors
    /// [`CardError::InvalidData`] when the length is not 14 or the card number is
    /// not ASCII digits.
    pub fn decode(raw: &[u8]) -> Result<Option<Floor>, CardError> {
        if raw.len() != FLOOR_LEN {
            return Err(CardError::invalid(
                "transfer floor (tag 27)",
                format!("{} bytes; the layout says {FLOOR_LEN}", raw.len()),
            ));
        }
        if raw.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let (card, counter) = raw.split_at(FLOOR_CARD_LEN);
        if !card.iter().all(u8::is_ascii_digit) {
            return Err(CardError::invalid(
                "transfer floor (tag 27)",
                format!(
                    "the old card number {} is not 10 ASCII digits",
                    hex::encode_upper(card)
                ),
            ));
        }
        Ok(Some(Floor {
            old_card: String::from_utf8_lossy(card).into_owned(),
            counter: u32::from_be_bytes([counter[0], counter[1], counter[2], counter[3]]),
        }))
    }

    /// The 14 bytes to store.
    ///
    /// # Errors
    /// [`CardError::InvalidData`] when the old card number is not 10 ASCII digits.
    pub fn encode(&self) -> Result<[u8; FLOOR_LEN], CardError> {
        let card = self.old_card.as_bytes();
        if card.len() != FLOOR_CARD_LEN || !card.iter().all(u8::is_ascii_digit) {
            return Err(CardError::invalid(
                "transfer floor (tag 27)",
                format!("old card number '{}' is not 10 digits", self.old_card),
            ));
        }
        let mut out = [0u8; FLOOR_LEN];
        out[..FLOOR_CARD_LEN].copy_from_slice(card);
        out[FLOOR_CARD_LEN..].copy_from_slice(&self.counter.to_be_bytes());
        Ok(out)
    }

    /// Whether this floor bars the transfer `id` of the old card `old_card`: it names
    /// another old card (the bureau resolves that), or this one with a counter at or
    /// above the transfer's (spec/activation.md, pharmacy step 3).
    pub fn bars(&self, old_card: &str, id: &TransferId) -> bool {
        self.old_card != old_card || self.counter >= id.counter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_layout_is_counter_then_random() {
        let id = TransferId::from_parts(7, [0xAB; 12]);
        assert_eq!(&id.0[..4], &[0, 0, 0, 7]);
        assert_eq!(id.counter(), 7);
        assert_eq!(&id.0[4..], &[0xAB; 12]);
        let g = TransferId::generate(0x0102_0304).unwrap();
        assert_eq!(g.counter(), 0x0102_0304);
        assert_ne!(g, TransferId::generate(0x0102_0304).unwrap(), "random tail");
        assert_eq!(TransferId::parse_hex(&g.hex()).unwrap(), g);
        assert!(TransferId::parse_hex("12").is_err());
        assert_eq!(TransferId::from_card([0; 16]), None);
    }

    #[test]
    fn floor_round_trips_and_bars() {
        assert_eq!(Floor::decode(&[0; 14]).unwrap(), None);
        let f = Floor {
            old_card: "6399000123".into(),
            counter: 3,
        };
        let raw = f.encode().unwrap();
        assert_eq!(&raw[..10], b"6399000123");
        assert_eq!(&raw[10..], &[0, 0, 0, 3]);
        assert_eq!(Floor::decode(&raw).unwrap(), Some(f.clone()));
        assert!(f.bars("6399000123", &TransferId::from_parts(3, [1; 12])));
        assert!(f.bars("6399000123", &TransferId::from_parts(1, [1; 12])));
        assert!(!f.bars("6399000123", &TransferId::from_parts(4, [1; 12])));
        assert!(f.bars("6399000999", &TransferId::from_parts(9, [1; 12])));
        assert!(Floor::decode(&[1; 13]).is_err());
        assert!(Floor::decode(b"63990001ZZ\0\0\0\x01").is_err());
        assert!(Floor {
            old_card: "123".into(),
            counter: 1
        }
        .encode()
        .is_err());
    }
}
