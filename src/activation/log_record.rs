//! The DF04 EF08 medical log record (spec/cards.md §1.2): 32 bytes, newest first.
//!
//! `type(1) amount(4) balance_after(4) date(4 BCD) time(3 BCD) terminal(6 BCD)
//! transfer_id_prefix(8) 00 00`. The flows append one per activation (type `01` or
//! `02`) and one per voided transfer (type `03`, written by a cancel on N); recovery
//! reads record 1 to tell whether the append of *this* transfer already happened, so
//! a resumed flow never logs a transfer twice.

/// Length of a log record.
pub const LEN: usize = 32;

/// Activation with a transfer in (pharmacy).
pub const TYPE_TRANSFER_IN: u8 = 0x01;
/// Activation without a transfer (window, first use).
pub const TYPE_ACTIVATION: u8 = 0x02;
/// A transfer voided by a cancel: amount 0, balance after = the card's balance
/// (spec/cards.md §1.2, spec/activation.md "Cancel" step 2).
pub const TYPE_VOID: u8 = 0x03;

/// Whether `kind` is a record type of spec/cards.md §1.2.
pub fn known_type(kind: u8) -> bool {
    matches!(kind, TYPE_TRANSFER_IN | TYPE_ACTIVATION | TYPE_VOID)
}

impl LogRecord {
    /// Whether this record is of `kind` for the transfer whose id is `id`.
    pub fn is_for(&self, kind: u8, id: &[u8; 16]) -> bool {
        self.kind == kind && self.transfer_prefix[..] == id[..8]
    }
}

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Record type.
    pub kind: u8,
    /// Amount in fen.
    pub amount: u32,
    /// Balance after, in fen.
    pub balance_after: u32,
    /// Date `YYYYMMDD`.
    pub date: String,
    /// Time `HHMMSS`.
    pub time: String,
    /// Terminal number, 12 digits.
    pub terminal: String,
    /// First 8 bytes of the transfer id (zeros when none).
    pub transfer_prefix: [u8; 8],
}

impl LogRecord {
    /// The 32 bytes to APPEND.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(LEN);
        out.push(self.kind);
        out.extend_from_slice(&self.amount.to_be_bytes());
        out.extend_from_slice(&self.balance_after.to_be_bytes());
        for (digits, len) in [(&self.date, 8), (&self.time, 6), (&self.terminal, 12)] {
            if digits.len() != len {
                return Err(format!("'{digits}' must have {len} digits"));
            }
            let packed = crate::bcd::encode(digits, crate::bcd::Pad::None)
                .map_err(|e| format!("'{digits}' is not BCD digits: {e}"))?;
            out.extend_from_slice(&packed);
        }
        out.extend_from_slice(&self.transfer_prefix);
        out.extend_from_slice(&[0, 0]);
        debug_assert_eq!(out.len(), LEN);
        Ok(out)
    }

    /// Parses a record; `None` for an empty (all `00`) record.
    pub fn decode(bytes: &[u8]) -> Result<Option<LogRecord>, String> {
        if bytes.len() != LEN {
            return Err(format!("a log record is {LEN} bytes, got {}", bytes.len()));
        }
        if bytes.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let bad = |what: &str| format!("log record: {what} is not BCD");
        let mut prefix = [0u8; 8];
        prefix.copy_from_slice(&bytes[22..30]);
        Ok(Some(LogRecord {
            kind: bytes[0],
            amount: u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]),
            balance_after: u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]),
            date: crate::bcd::decode(&bytes[9..13], crate::bcd::Pad::None)
                .ok_or_else(|| bad("date"))?,
            time: crate::bcd::decode(&bytes[13..16], crate::bcd::Pad::None)
                .ok_or_else(|| bad("time"))?,
            terminal: crate::bcd::decode(&bytes[16..22], crate::bcd::Pad::None)
                .ok_or_else(|| bad("terminal"))?,
            transfer_prefix: prefix,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let r = LogRecord {
            kind: TYPE_TRANSFER_IN,
            amount: 123456,
            balance_after: 123456,
            date: "20261122".into(),
            time: "093015".into(),
            terminal: "639900000001".into(),
            transfer_prefix: [1, 2, 3, 4, 5, 6, 7, 8],
        };
        let bytes = r.encode().unwrap();
        assert_eq!(bytes.len(), 32);
        let want = [
            "01",
            "0001E240",
            "0001E240",
            "20261122",
            "093015",
            "639900000001",
            "0102030405060708",
            "0000",
        ]
        .concat();
        assert_eq!(hex::encode_upper(&bytes), want);
        assert_eq!(LogRecord::decode(&bytes).unwrap(), Some(r));
        assert_eq!(LogRecord::decode(&[0; 32]).unwrap(), None);
        assert!(LogRecord::decode(&[0; 31]).is_err());
    }

    #[test]
    fn rejects_bad_digits() {
        let mut r = LogRecord {
            kind: 2,
            amount: 0,
            balance_after: 0,
            date: "2026112".into(),
            time: "093015".into(),
            terminal: "639900000001".into(),
            transfer_prefix: [0; 8],
        };
        assert!(r.encode().is_err());
        r.date = "2026112A".into();
        assert!(r.encode().is_err());
    }

    #[test]
    fn void_record() {
        let id = [9u8; 16];
        let r = LogRecord {
            kind: TYPE_VOID,
            amount: 0,
            balance_after: 0,
            date: "20261130".into(),
            time: "031500".into(),
            terminal: "639900000001".into(),
            transfer_prefix: [9; 8],
        };
        let bytes = r.encode().unwrap();
        assert_eq!(bytes[0], 0x03);
        let back = LogRecord::decode(&bytes).unwrap().unwrap();
        assert!(back.is_for(TYPE_VOID, &id));
        assert!(!back.is_for(TYPE_TRANSFER_IN, &id));
        assert!(known_type(3) && known_type(1) && known_type(2) && !known_type(4));
    }
}
