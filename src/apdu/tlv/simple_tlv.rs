//! SIMPLE-TLV: the card records of `spec/cards.md` (1-byte tag, 1-byte length) and
//! runs of them.
//!
//! Why apart: SIMPLE-TLV is flat and shares nothing with the BER pre-scan but the
//! error type and the size limit, which stay in the parent.

use super::*;

/// One SIMPLE-TLV object: a card record `tag len value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimpleRecord {
    /// Tag, `01`..`FE`.
    pub tag: u8,
    /// Value bytes.
    pub value: Vec<u8>,
}

impl SimpleRecord {
    /// SIMPLE-TLV encoding: 1-byte length up to 254, else `FF` and a 2-byte length.
    ///
    /// # Errors
    /// [`TlvError::ValueTooLong`] for a value over 65535 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TlvError> {
        let too_long = || TlvError::ValueTooLong {
            len: self.value.len(),
            max: usize::from(u16::MAX),
        };
        let n = u16::try_from(self.value.len()).map_err(|_| too_long())?;
        let mut out = Vec::with_capacity(self.value.len() + 4);
        out.push(self.tag);
        match u8::try_from(n) {
            Ok(n) if n < 0xFF => out.push(n),
            _ => {
                out.push(0xFF);
                out.extend(n.to_be_bytes());
            }
        }
        out.extend(&self.value);
        Ok(out)
    }
}

/// Parses exactly one card record `tag len value` (1-byte tag, 1-byte length), with
/// nothing before or after it.
///
/// # Errors
/// [`TlvError::Truncated`] for fewer than 2 bytes, [`TlvError::InvalidTag`] for tag
/// `00`/`FF`, [`TlvError::RecordLongLength`] for length byte `FF`,
/// [`TlvError::RecordLength`] when the length byte disagrees with the bytes present.
pub fn parse_record(bytes: &[u8]) -> Result<SimpleRecord, TlvError> {
    check_size(bytes)?;
    let (&tag, rest) = bytes.split_first().ok_or(TlvError::Truncated {
        offset: 0,
        field: "tag",
    })?;
    if tag == 0x00 || tag == 0xFF {
        return Err(TlvError::InvalidTag {
            offset: 0,
            tag: format!("{tag:02X}"),
            reason: "00 and FF are not SIMPLE-TLV tags (erased or padding)",
        });
    }
    let (&len, value) = rest.split_first().ok_or(TlvError::Truncated {
        offset: 1,
        field: "length",
    })?;
    if len == 0xFF {
        return Err(TlvError::RecordLongLength);
    }
    if usize::from(len) != value.len() {
        return Err(TlvError::RecordLength {
            tag,
            declared: usize::from(len),
            actual: value.len(),
        });
    }
    let tlv = simple::Tlv::from_bytes(bytes).map_err(crate_err(0))?;
    Ok(SimpleRecord {
        tag: tlv.tag().into(),
        value: tlv.value().to_vec(),
    })
}

/// Encodes one card record `tag len value`.
///
/// # Errors
/// [`TlvError::InvalidTag`] for tag `00`/`FF`, [`TlvError::ValueTooLong`] for a value
/// over [`MAX_RECORD_VALUE`] bytes.
pub fn encode_record(tag: u8, value: &[u8]) -> Result<Vec<u8>, TlvError> {
    if value.len() > MAX_RECORD_VALUE {
        return Err(TlvError::ValueTooLong {
            len: value.len(),
            max: MAX_RECORD_VALUE,
        });
    }
    let t = simple::Tag::try_from(tag).map_err(|_| TlvError::InvalidTag {
        offset: 0,
        tag: format!("{tag:02X}"),
        reason: "00 and FF are not SIMPLE-TLV tags",
    })?;
    let tlv = simple::Tlv::new(t, value.to_vec()).map_err(crate_err(0))?;
    Ok(tlv.to_vec())
}

/// Parses concatenated SIMPLE-TLV objects, rejecting padding. See
/// [`parse_simple_all_with`].
///
/// # Errors
/// As [`parse_simple_all_with`].
pub fn parse_simple_all(bytes: &[u8]) -> Result<Vec<SimpleRecord>, TlvError> {
    parse_simple_all_with(bytes, Padding::Reject)
}

/// Parses concatenated SIMPLE-TLV objects (1-byte tag; 1-byte length, or `FF` and a
/// 2-byte length). Every byte must belong to an object (or be skipped padding): a
/// corrupt object is an error, never the end of the list. Empty input gives an empty
/// list.
///
/// # Errors
/// [`TlvError::TooLarge`], [`TlvError::Padding`], [`TlvError::Truncated`],
/// [`TlvError::ValueTruncated`].
pub fn parse_simple_all_with(
    bytes: &[u8],
    padding: Padding,
) -> Result<Vec<SimpleRecord>, TlvError> {
    check_size(bytes)?;
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(&tag) = bytes.get(pos) {
        if tag == 0x00 || tag == 0xFF {
            match padding {
                Padding::Skip => {
                    pos += 1;
                    continue;
                }
                Padding::Reject => {
                    return Err(TlvError::Padding {
                        offset: pos,
                        byte: tag,
                    })
                }
            }
        }
        let truncated_len = TlvError::Truncated {
            offset: pos + 1,
            field: "length",
        };
        let (declared, header) = match bytes.get(pos + 1) {
            None => return Err(truncated_len),
            Some(0xFF) => match (bytes.get(pos + 2), bytes.get(pos + 3)) {
                (Some(&hi), Some(&lo)) => (usize::from(u16::from_be_bytes([hi, lo])), 4),
                _ => {
                    return Err(TlvError::Truncated {
                        offset: bytes.len(),
                        field: "length",
                    })
                }
            },
            Some(&n) => (usize::from(n), 2),
        };
        let available = bytes.len() - (pos + header);
        if declared > available {
            return Err(TlvError::ValueTruncated {
                offset: pos,
                tag: format!("{tag:02X}"),
                declared,
                available,
            });
        }
        let end = pos + header + declared;
        // The slice is exactly one object, so from_bytes (which insists on consuming
        // everything) cannot stop early.
        let tlv = simple::Tlv::from_bytes(&bytes[pos..end]).map_err(crate_err(pos))?;
        out.push(SimpleRecord {
            tag: tlv.tag().into(),
            value: tlv.value().to_vec(),
        });
        pos = end;
    }
    Ok(out)
}
