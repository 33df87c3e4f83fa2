//! Strict TLV helpers over the `iso7816-tlv` crate.
//!
//! Why this wrapper exists: card data is untrusted input, and `iso7816-tlv` 0.4.4 is
//! too trusting to be handed card bytes directly (see `shared/notes/pcsc-vpcd.md`):
//!
//! - `parse_all` stops silently at the first bad object, so corrupt data would look
//!   like *less* data. Here every byte is accounted for or the call fails.
//! - Its BER parser recurses once per nesting level without limit: about 8000 nested
//!   constructed objects (32 KB, one extended response) overflow the stack and abort
//!   the whole process. Here an iterative pre-scan checks the structure first and
//!   rejects more than [`MAX_DEPTH`] levels, more than [`MAX_INPUT`] bytes and more
//!   than [`MAX_OBJECTS`] objects (its constructed-value loop re-sums the children on
//!   every step, so a flat object with many children is quadratic) *before* the crate
//!   sees the data.
//! - It reads indefinite length (`80`) as 0; here that is an explicit error.
//! - It counts a child's size from the *minimal* length encoding, so a child written
//!   with a longer length form (`81 05`, legal BER) desynchronises the parse of its
//!   parent. The pre-scan re-encodes every length minimally before the crate parses.
//! - Its `TlvError` has no offsets and does not implement `std::error::Error`; this
//!   module's [`TlvError`] does and says where the problem is, and for length errors
//!   the declared versus the actual length (cards do lie about lengths).
//! - `find` never returns constructed objects; [`find_ber`] and [`find_ber_any`] do.
//! - Its BER `to_vec` writes a 127-byte value with a two-byte length but counts it as
//!   one byte in the enclosing object's length; [`encode_ber`] encodes correctly.
//!
//! Padding: ISO/IEC 7816-4 allows `00`/`FF` bytes before, between and after BER-TLV
//! objects (erased data). The card records of `spec/cards.md` never contain any, and an
//! erased record reading `FF FF ..` is a fault the user should see, so padding is
//! rejected by default ([`Padding::Reject`]). [`Padding::Skip`] skips it between
//! top-level objects only; inside a constructed object a `00`/`FF` tag byte is always
//! an error, since the crate would not skip it there.
//!
//! The card records of `spec/cards.md` are SIMPLE-TLV with a 1-byte tag and a 1-byte
//! length: [`parse_record`] and [`encode_record`] handle exactly one such record.

use iso7816_tlv::ber::{self, Tag, Value};
use iso7816_tlv::simple;

mod ber_tlv;
mod simple_tlv;

pub use ber_tlv::{
    encode_ber, find_ber, find_ber_any, parse_ber_all, parse_ber_all_with, parse_ber_one,
    primitive_value, tag_number,
};
pub use simple_tlv::{
    encode_record, parse_record, parse_simple_all, parse_simple_all_with, SimpleRecord,
};

#[cfg(test)]
mod tests;

/// Largest input accepted by the parse functions (64 KiB, the largest extended-length
/// response).
pub const MAX_INPUT: usize = 64 * 1024;
/// Deepest nesting accepted in BER-TLV data (a top-level object is at depth 1).
pub const MAX_DEPTH: usize = 16;
/// Most BER-TLV objects (at all levels) accepted in one input.
pub const MAX_OBJECTS: usize = 4096;
/// Longest value of a card record: its length is one byte and `FF` would introduce
/// the 3-byte SIMPLE-TLV length form.
pub const MAX_RECORD_VALUE: usize = 254;

/// Why TLV data was rejected. Offsets are from the start of the input given.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TlvError {
    /// The input is larger than [`MAX_INPUT`].
    #[error("TLV data is {len} bytes; the limit is {max}")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// BER-TLV nesting deeper than [`MAX_DEPTH`].
    #[error("offset {offset}: object at nesting depth {depth}; the limit is {max}")]
    TooDeep {
        /// Offset of the first object that is too deep.
        offset: usize,
        /// Its depth (top level = 1).
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// More BER-TLV objects than [`MAX_OBJECTS`].
    #[error("offset {offset}: more than {max} TLV objects")]
    TooManyObjects {
        /// Offset of the first object over the limit.
        offset: usize,
        /// The limit.
        max: usize,
    },
    /// A `00` or `FF` byte where a tag was expected (padding or erased data).
    #[error(
        "offset {offset}: byte {byte:02X} where a tag was expected (00/FF are padding, not tags)"
    )]
    Padding {
        /// Offset of the byte.
        offset: usize,
        /// The byte, `00` or `FF`.
        byte: u8,
    },
    /// A tag the encoding does not allow.
    #[error("offset {offset}: invalid tag {tag}: {reason}")]
    InvalidTag {
        /// Offset of the tag.
        offset: usize,
        /// The tag bytes, hex.
        tag: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The data (or the enclosing constructed object) ends inside a tag or length field.
    #[error("offset {offset}: the {field} field runs past the end of the data or of its enclosing object")]
    Truncated {
        /// Offset of the first missing byte.
        offset: usize,
        /// `tag` or `length`.
        field: &'static str,
    },
    /// A value longer than the bytes that follow.
    #[error(
        "offset {offset}: tag {tag} declares {declared} value bytes but only {available} follow"
    )]
    ValueTruncated {
        /// Offset of the object.
        offset: usize,
        /// Its tag, hex.
        tag: String,
        /// Length from the length field.
        declared: usize,
        /// Bytes actually available.
        available: usize,
    },
    /// A child whose value runs past the end of its constructed parent.
    #[error("offset {offset}: tag {tag} declares {declared} value bytes but only {available} remain in the constructed object at offset {parent_offset}")]
    ValueOverrun {
        /// Offset of the child.
        offset: usize,
        /// Its tag, hex.
        tag: String,
        /// Length from the length field.
        declared: usize,
        /// Bytes left in the parent's value.
        available: usize,
        /// Offset of the parent.
        parent_offset: usize,
    },
    /// BER indefinite length (`80`), not allowed in ISO/IEC 7816-4 data objects.
    #[error("offset {offset}: indefinite length (80) is not allowed")]
    IndefiniteLength {
        /// Offset of the length byte.
        offset: usize,
    },
    /// A BER length form this parser does not accept (more than 4 length bytes).
    #[error("offset {offset}: length byte {byte:02X} announces more than 4 length bytes")]
    BadLength {
        /// Offset of the length byte.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A card record whose length byte disagrees with its size.
    #[error("record with tag {tag:02X} declares {declared} value bytes but has {actual}")]
    RecordLength {
        /// The record's tag.
        tag: u8,
        /// Length byte.
        declared: usize,
        /// Bytes after the length byte.
        actual: usize,
    },
    /// Bytes after the one object expected.
    #[error("offset {offset}: {count} byte(s) after the end of the object")]
    TrailingData {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// A card record using the 3-byte SIMPLE-TLV length form (`FF xx xx`).
    #[error("offset 1: length byte FF (3-byte SIMPLE-TLV length) in a card record, which has a 1-byte length")]
    RecordLongLength,
    /// A value too long to encode.
    #[error("value is {len} bytes; at most {max} fit")]
    ValueTooLong {
        /// Value length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// `iso7816-tlv` rejected data the pre-scan accepted (should not happen; kept so
    /// that it would be an error, never a silent truncation).
    #[error("offset {offset}: iso7816-tlv: {kind}")]
    Crate {
        /// Offset of the top-level object being parsed.
        offset: usize,
        /// The crate's error.
        kind: iso7816_tlv::TlvError,
    },
}

/// What to do with `00`/`FF` bytes where a top-level tag is expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Padding {
    /// An error ([`TlvError::Padding`]): the default.
    #[default]
    Reject,
    /// Skip them (ISO/IEC 7816-4 padding between data objects).
    Skip,
}

fn check_size(bytes: &[u8]) -> Result<(), TlvError> {
    if bytes.len() > MAX_INPUT {
        return Err(TlvError::TooLarge {
            len: bytes.len(),
            max: MAX_INPUT,
        });
    }
    Ok(())
}

fn crate_err(offset: usize) -> impl Fn(iso7816_tlv::TlvError) -> TlvError {
    move |kind| TlvError::Crate { offset, kind }
}

/// Checks the parsers' invariants on arbitrary input; shared by the proptests and the
/// cargo-fuzz target `tlv`. Panics (that is the point) when an invariant breaks.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    if let Ok(rec) = parse_record(data) {
        assert_eq!(encode_record(rec.tag, &rec.value).as_deref(), Ok(data));
    }
    for padding in [Padding::Reject, Padding::Skip] {
        if let Ok(recs) = parse_simple_all_with(data, padding) {
            let mut again = Vec::new();
            for r in &recs {
                again.extend(r.to_bytes().unwrap_or_else(|e| panic!("re-encode: {e}")));
            }
            assert_eq!(parse_simple_all(&again).as_ref(), Ok(&recs));
        }
        if let Ok(tlvs) = parse_ber_all_with(data, padding) {
            let enc = encode_ber(&tlvs);
            assert!(enc.len() <= data.len(), "minimal encoding cannot grow");
            assert_eq!(parse_ber_all(&enc).as_ref(), Ok(&tlvs));
            if let Some(first) = tlvs.first() {
                let t = tag_number(first.tag());
                assert!(find_ber_any(&tlvs, t).is_some());
                assert!(find_ber(&tlvs, &[t]).is_some());
            }
        }
    }
}
