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

/// One object found by the BER pre-scan, in pre-order.
struct Node {
    /// Offset of the tag in the input.
    start: usize,
    /// Tag bytes range.
    tag_end: usize,
    /// Value range in the input (for primitive objects; for constructed ones the
    /// children follow as separate nodes).
    value_start: usize,
    value_end: usize,
    constructed: bool,
    parent: Option<usize>,
}

/// Reads a BER tag and length at `pos`, without reading past `limit`.
/// Returns (tag_end, constructed, value_start, declared length).
fn read_ber_header(
    bytes: &[u8],
    pos: usize,
    limit: usize,
) -> Result<(usize, bool, usize, usize), TlvError> {
    let at = |i: usize, field: &'static str| -> Result<u8, TlvError> {
        if i >= limit {
            return Err(TlvError::Truncated { offset: i, field });
        }
        bytes
            .get(i)
            .copied()
            .ok_or(TlvError::Truncated { offset: i, field })
    };
    let b0 = at(pos, "tag")?;
    if b0 == 0x00 || b0 == 0xFF {
        return Err(TlvError::Padding {
            offset: pos,
            byte: b0,
        });
    }
    let mut i = pos + 1;
    if b0 & 0x1F == 0x1F {
        // Subsequent tag bytes: bit 8 set means another byte follows. ISO/IEC 7816
        // allows tags of up to 3 bytes; the crate rejects longer ones as RFU.
        loop {
            let b = at(i, "tag")?;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
            if i - pos == 3 {
                return Err(TlvError::InvalidTag {
                    offset: pos,
                    tag: hex::encode_upper(&bytes[pos..i]),
                    reason: "tags longer than 3 bytes are reserved for future use",
                });
            }
        }
    }
    let tag_end = i;
    let l0 = at(i, "length")?;
    i += 1;
    let declared = match l0 {
        0x00..=0x7F => usize::from(l0),
        0x80 => return Err(TlvError::IndefiniteLength { offset: i - 1 }),
        0x81..=0x84 => {
            let mut n = 0usize;
            for _ in 0..(l0 & 0x7F) {
                n = (n << 8) | usize::from(at(i, "length")?);
                i += 1;
            }
            n
        }
        _ => {
            return Err(TlvError::BadLength {
                offset: i - 1,
                byte: l0,
            })
        }
    };
    Ok((tag_end, b0 & 0x20 != 0, i, declared))
}

/// Iterative structural check of BER-TLV data: every object's tag and length, depth,
/// count, and that children exactly fill their parents. Returns the objects in
/// pre-order. Never recurses, so no input can exhaust the stack.
fn prescan_ber(bytes: &[u8], padding: Padding) -> Result<Vec<Node>, TlvError> {
    check_size(bytes)?;
    let mut nodes: Vec<Node> = Vec::new();
    // Open constructed objects: (node index, end of its value).
    let mut open: Vec<(usize, usize)> = Vec::new();
    let mut pos = 0;
    loop {
        while let Some(&(_, end)) = open.last() {
            if pos == end {
                open.pop();
            } else {
                break;
            }
        }
        let parent = open.last().copied();
        if parent.is_none() {
            match bytes.get(pos) {
                None => break,
                Some(0x00 | 0xFF) if padding == Padding::Skip => {
                    pos += 1;
                    continue;
                }
                Some(_) => {}
            }
        }
        let limit = parent.map_or(bytes.len(), |(_, end)| end);
        let (tag_end, constructed, value_start, declared) = read_ber_header(bytes, pos, limit)?;
        let depth = open.len() + 1;
        if depth > MAX_DEPTH {
            return Err(TlvError::TooDeep {
                offset: pos,
                depth,
                max: MAX_DEPTH,
            });
        }
        if nodes.len() >= MAX_OBJECTS {
            return Err(TlvError::TooManyObjects {
                offset: pos,
                max: MAX_OBJECTS,
            });
        }
        let available = limit - value_start;
        if declared > available {
            let tag = hex::encode_upper(&bytes[pos..tag_end]);
            return Err(match parent {
                None => TlvError::ValueTruncated {
                    offset: pos,
                    tag,
                    declared,
                    available,
                },
                Some((p, _)) => TlvError::ValueOverrun {
                    offset: pos,
                    tag,
                    declared,
                    available,
                    parent_offset: nodes[p].start,
                },
            });
        }
        let value_end = value_start + declared;
        nodes.push(Node {
            start: pos,
            tag_end,
            value_start,
            value_end,
            constructed,
            parent: parent.map(|(p, _)| p),
        });
        if constructed {
            open.push((nodes.len() - 1, value_end));
            pos = value_start;
        } else {
            pos = value_end;
        }
    }
    Ok(nodes)
}

fn push_len(out: &mut Vec<u8>, n: usize) {
    let be = n.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    let significant = &be[skip..];
    if n < 0x80 {
        out.push(be[be.len() - 1]);
    } else {
        // At most 8 bytes on 64-bit; inputs here are far smaller.
        out.push(0x80 | u8::try_from(significant.len()).unwrap_or(0x7F));
        out.extend(significant);
    }
}

fn len_of_len(n: usize) -> usize {
    let mut v = Vec::with_capacity(9);
    push_len(&mut v, n);
    v.len()
}

/// Re-encodes pre-scanned objects with minimal length fields (the form the crate
/// counts in), returning the buffer and each top-level object's (input offset, range
/// in the buffer).
fn normalise(bytes: &[u8], nodes: &[Node]) -> (Vec<u8>, Vec<(usize, std::ops::Range<usize>)>) {
    // Value lengths after normalisation, computed bottom-up (children follow their
    // parent in pre-order, so walking backwards sees children first).
    let mut value_len: Vec<usize> = nodes
        .iter()
        .map(|n| {
            if n.constructed {
                0
            } else {
                n.value_end - n.value_start
            }
        })
        .collect();
    for i in (0..nodes.len()).rev() {
        if let Some(p) = nodes[i].parent {
            let total =
                (nodes[i].tag_end - nodes[i].start) + len_of_len(value_len[i]) + value_len[i];
            value_len[p] += total;
        }
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut tops = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        if n.parent.is_none() {
            if let Some((_, r)) = tops.last_mut() {
                let r: &mut std::ops::Range<usize> = r;
                r.end = out.len();
            }
            tops.push((n.start, out.len()..out.len()));
        }
        out.extend(&bytes[n.start..n.tag_end]);
        push_len(&mut out, value_len[i]);
        if !n.constructed {
            out.extend(&bytes[n.value_start..n.value_end]);
        }
    }
    if let Some((_, r)) = tops.last_mut() {
        r.end = out.len();
    }
    (out, tops)
}

/// Parses concatenated BER-TLV objects, rejecting padding. See
/// [`parse_ber_all_with`].
///
/// # Errors
/// As [`parse_ber_all_with`].
pub fn parse_ber_all(bytes: &[u8]) -> Result<Vec<ber::Tlv>, TlvError> {
    parse_ber_all_with(bytes, Padding::Reject)
}

/// Parses concatenated BER-TLV objects with bounded size ([`MAX_INPUT`]), depth
/// ([`MAX_DEPTH`]) and object count ([`MAX_OBJECTS`]). The structure is checked
/// iteratively before `iso7816-tlv` builds the objects, so hostile input is an error,
/// never a stack overflow. Empty input gives an empty list.
///
/// # Errors
/// Any [`TlvError`] except the record-specific ones.
pub fn parse_ber_all_with(bytes: &[u8], padding: Padding) -> Result<Vec<ber::Tlv>, TlvError> {
    let nodes = prescan_ber(bytes, padding)?;
    build_ber(bytes, &nodes)
}

/// Hands each pre-scanned, normalised top-level object to the crate.
fn build_ber(bytes: &[u8], nodes: &[Node]) -> Result<Vec<ber::Tlv>, TlvError> {
    let (buf, tops) = normalise(bytes, nodes);
    let mut out = Vec::with_capacity(tops.len());
    for (offset, range) in tops {
        out.push(ber::Tlv::from_bytes(&buf[range]).map_err(crate_err(offset))?);
    }
    Ok(out)
}

/// Parses exactly one BER-TLV object (no padding, nothing after it), as in a
/// response whose data is one object (an FCI, say).
///
/// # Errors
/// As [`parse_ber_all`]; [`TlvError::Truncated`] for empty input and
/// [`TlvError::TrailingData`] when anything follows the first object.
pub fn parse_ber_one(bytes: &[u8]) -> Result<ber::Tlv, TlvError> {
    let nodes = prescan_ber(bytes, Padding::Reject)?;
    if let Some(second) = nodes.iter().skip(1).find(|n| n.parent.is_none()) {
        return Err(TlvError::TrailingData {
            offset: second.start,
            count: bytes.len() - second.start,
        });
    }
    build_ber(bytes, &nodes)?
        .into_iter()
        .next()
        .ok_or(TlvError::Truncated {
            offset: 0,
            field: "tag",
        })
}

/// The tag as a number (`5F2D` → `0x5F2D`), for comparisons and display.
pub fn tag_number(tag: &Tag) -> u32 {
    tag.to_bytes()
        .iter()
        .fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
}

/// Follows a path of tags from the top level: `path[0]` among `tlvs`, `path[1]` among
/// the children of that object, and so on. Returns the object at the end of the path,
/// primitive *or constructed* (unlike the crate's `find`). An empty path gives `None`.
///
/// Example: in an FCI, `find_ber(&tlvs, &[0x6F, 0xA5, 0x88])`.
pub fn find_ber<'a>(tlvs: &'a [ber::Tlv], path: &[u32]) -> Option<&'a ber::Tlv> {
    let (first, rest) = path.split_first()?;
    let mut cur = tlvs.iter().find(|t| tag_number(t.tag()) == *first)?;
    for want in rest {
        match cur.value() {
            Value::Constructed(children) => {
                cur = children.iter().find(|t| tag_number(t.tag()) == *want)?;
            }
            Value::Primitive(_) => return None,
        }
    }
    Some(cur)
}

/// The first object with tag `tag` anywhere in `tlvs` (depth-first, in encoding
/// order), primitive or constructed. Iterative, so it is safe on any tree.
pub fn find_ber_any(tlvs: &[ber::Tlv], tag: u32) -> Option<&ber::Tlv> {
    let mut stack: Vec<&ber::Tlv> = tlvs.iter().rev().collect();
    while let Some(t) = stack.pop() {
        if tag_number(t.tag()) == tag {
            return Some(t);
        }
        if let Value::Constructed(children) = t.value() {
            stack.extend(children.iter().rev());
        }
    }
    None
}

/// The value bytes of a primitive object; `None` for a constructed one.
pub fn primitive_value(tlv: &ber::Tlv) -> Option<&[u8]> {
    match tlv.value() {
        Value::Primitive(v) => Some(v),
        Value::Constructed(_) => None,
    }
}

/// Encodes BER-TLV objects with minimal length fields. Use this instead of the crate's
/// `Tlv::to_vec`, which miscounts 127-byte values inside constructed objects.
/// Iterative, so it is safe on any tree.
pub fn encode_ber(tlvs: &[ber::Tlv]) -> Vec<u8> {
    // Flatten in pre-order with parent links, then compute sizes bottom-up.
    let mut flat: Vec<(&ber::Tlv, Option<usize>)> = Vec::new();
    let mut stack: Vec<(&ber::Tlv, Option<usize>)> = tlvs.iter().rev().map(|t| (t, None)).collect();
    while let Some((t, parent)) = stack.pop() {
        let idx = flat.len();
        flat.push((t, parent));
        if let Value::Constructed(children) = t.value() {
            stack.extend(children.iter().rev().map(|c| (c, Some(idx))));
        }
    }
    let mut value_len: Vec<usize> = flat
        .iter()
        .map(|(t, _)| primitive_value(t).map_or(0, <[u8]>::len))
        .collect();
    for i in (0..flat.len()).rev() {
        if let (t, Some(p)) = flat[i] {
            value_len[p] += t.tag().len_as_bytes() + len_of_len(value_len[i]) + value_len[i];
        }
    }
    let mut out = Vec::new();
    for (i, (t, _)) in flat.iter().enumerate() {
        out.extend(t.tag().to_bytes());
        push_len(&mut out, value_len[i]);
        if let Some(v) = primitive_value(t) {
            out.extend(v);
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }

    /// `depth` nested constructed objects (tag 21) around `01 00`.
    fn nested(depth: usize) -> Vec<u8> {
        // Build the length prefixes outside-in without recursion.
        let mut sizes = Vec::with_capacity(depth);
        let mut inner = 2usize;
        for _ in 0..depth {
            sizes.push(inner);
            inner += 1 + len_of_len(inner);
        }
        let mut out = Vec::with_capacity(inner);
        for &s in sizes.iter().rev() {
            out.push(0x21);
            push_len(&mut out, s);
        }
        out.extend([0x01, 0x00]);
        out
    }

    #[test]
    fn record_round_trip() {
        let rec = h("07 09 58 30 30 30 30 30 30 31 39");
        let r = parse_record(&rec).expect("record");
        assert_eq!(r.tag, 0x07);
        assert_eq!(r.value, b"X00000019");
        assert_eq!(encode_record(r.tag, &r.value), Ok(rec.clone()));
        assert_eq!(r.to_bytes(), Ok(rec));
        // Empty value.
        assert_eq!(
            parse_record(&[0x26, 0x00]),
            Ok(SimpleRecord {
                tag: 0x26,
                value: vec![]
            })
        );
        // Longest value.
        let v = vec![0x20; MAX_RECORD_VALUE];
        let enc = encode_record(0x09, &v).expect("254 bytes");
        assert_eq!(enc[1], 0xFE);
        assert_eq!(parse_record(&enc).map(|r| r.value), Ok(v));
    }

    #[test]
    fn record_errors() {
        assert_eq!(
            parse_record(&[]),
            Err(TlvError::Truncated {
                offset: 0,
                field: "tag"
            })
        );
        assert_eq!(
            parse_record(&[0x01]),
            Err(TlvError::Truncated {
                offset: 1,
                field: "length"
            })
        );
        assert!(matches!(
            parse_record(&[0xFF, 0xFF, 0xFF]),
            Err(TlvError::InvalidTag { offset: 0, .. })
        ));
        assert!(matches!(
            parse_record(&[0x00, 0x00]),
            Err(TlvError::InvalidTag { offset: 0, .. })
        ));
        assert_eq!(
            parse_record(&h("01 FF 00 01 AA")),
            Err(TlvError::RecordLongLength)
        );
        // The card says 4 bytes but sends 3 (short), or 5 (long).
        let e = parse_record(&h("05 04 20 26 06")).expect_err("must be rejected");
        assert_eq!(
            e,
            TlvError::RecordLength {
                tag: 5,
                declared: 4,
                actual: 3
            }
        );
        assert_eq!(
            e.to_string(),
            "record with tag 05 declares 4 value bytes but has 3"
        );
        assert_eq!(
            parse_record(&h("05 04 20 26 06 01 00")),
            Err(TlvError::RecordLength {
                tag: 5,
                declared: 4,
                actual: 5
            })
        );
        assert!(matches!(
            parse_record(&vec![1u8; MAX_INPUT + 1]),
            Err(TlvError::TooLarge { .. })
        ));
    }

    #[test]
    fn encode_record_errors() {
        assert_eq!(
            encode_record(0x01, &[0; 255]),
            Err(TlvError::ValueTooLong { len: 255, max: 254 })
        );
        assert!(matches!(
            encode_record(0x00, b"x"),
            Err(TlvError::InvalidTag { .. })
        ));
        assert!(matches!(
            encode_record(0xFF, b"x"),
            Err(TlvError::InvalidTag { .. })
        ));
    }

    #[test]
    fn simple_all() {
        let data = h("03 04 32 2E 30 30  05 04 20 26 06 01  26 00  01 FF 01 00");
        let mut data = data;
        data.extend([0xAB; 256]);
        let recs = parse_simple_all(&data).expect("records");
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[0].value, b"2.00");
        assert_eq!(recs[2].value, b"");
        assert_eq!(recs[3].value.len(), 256);
        let again: Vec<u8> = recs
            .iter()
            .map(SimpleRecord::to_bytes)
            .collect::<Result<Vec<_>, _>>()
            .expect("encodable")
            .concat();
        assert_eq!(again, data);
        let huge = SimpleRecord {
            tag: 1,
            value: vec![0; 65_536],
        };
        assert_eq!(
            huge.to_bytes(),
            Err(TlvError::ValueTooLong {
                len: 65_536,
                max: 65_535
            })
        );
        assert_eq!(parse_simple_all(&[]), Ok(vec![]));
    }

    #[test]
    fn simple_all_errors_do_not_truncate_silently() {
        // Second record is corrupt: the crate's parse_all would return one record.
        let data = h("03 04 32 2E 30 30  05 09 20 26");
        assert_eq!(
            simple::Tlv::parse_all(&data).len(),
            1,
            "the crate stops silently"
        );
        assert_eq!(
            parse_simple_all(&data),
            Err(TlvError::ValueTruncated {
                offset: 6,
                tag: "05".into(),
                declared: 9,
                available: 2
            })
        );
        assert_eq!(
            parse_simple_all(&h("03 01 AA 05")),
            Err(TlvError::Truncated {
                offset: 4,
                field: "length"
            })
        );
        assert_eq!(
            parse_simple_all(&h("03 01 AA 05 FF 01")),
            Err(TlvError::Truncated {
                offset: 6,
                field: "length"
            })
        );
    }

    #[test]
    fn simple_padding() {
        let data = h("00 03 01 AA FF FF 04 00 00");
        assert_eq!(
            parse_simple_all(&data),
            Err(TlvError::Padding { offset: 0, byte: 0 })
        );
        let recs = parse_simple_all_with(&data, Padding::Skip).expect("skipped");
        assert_eq!(
            recs,
            vec![
                SimpleRecord {
                    tag: 3,
                    value: vec![0xAA]
                },
                SimpleRecord {
                    tag: 4,
                    value: vec![]
                }
            ]
        );
    }

    /// SSSE FCI from spec/cards.md §1.2 with alg 01.
    const FCI: &str = "6F 1C 84 0F 7378312E73682EC9E7BBE1B1A3D5CF A5 09 88 01 01 9F 0C 03 86 01 01";

    #[test]
    fn ber_fci_and_find() {
        let tlvs = parse_ber_all(&h(FCI)).expect("FCI");
        assert_eq!(tlvs.len(), 1);
        let aid = find_ber(&tlvs, &[0x6F, 0x84]).and_then(primitive_value);
        assert_eq!(aid, Some(&h("7378312E73682EC9E7BBE1B1A3D5CF")[..]));
        // Constructed objects are found too (the crate's find never returns them).
        let a5 = find_ber(&tlvs, &[0x6F, 0xA5]).expect("A5");
        assert!(a5.tag().is_constructed());
        assert!(tlvs[0]
            .find(&Tag::try_from(0xA5u32).expect("tag"))
            .is_none());
        assert_eq!(find_ber_any(&tlvs, 0xA5), Some(a5));
        assert_eq!(
            find_ber(&tlvs, &[0x6F, 0xA5, 0x9F0C]).and_then(primitive_value),
            Some(&[0x86, 0x01, 0x01][..])
        );
        assert_eq!(
            find_ber_any(&tlvs, 0x88).and_then(primitive_value),
            Some(&[0x01][..])
        );
        assert_eq!(find_ber(&tlvs, &[0x6F, 0x84, 0x01]), None);
        assert_eq!(find_ber(&tlvs, &[]), None);
        assert_eq!(find_ber_any(&tlvs, 0x99), None);
        assert_eq!(encode_ber(&tlvs), h(FCI));
        assert_eq!(parse_ber_one(&h(FCI)).as_ref(), Ok(&tlvs[0]));
    }

    #[test]
    fn ber_long_forms_and_multibyte_tags() {
        // 5F2D (2-byte tag, rejected by the crate's iso7816_compliant) and 7F 81 22.
        let data = h("5F2D 02 656E 7F8122 00");
        let tlvs = parse_ber_all(&data).expect("tags");
        assert_eq!(tag_number(tlvs[0].tag()), 0x5F2D);
        assert_eq!(tag_number(tlvs[1].tag()), 0x7F8122);
        // 200-byte primitive (81 C8) and 300-byte (82 01 2C).
        let mut data = vec![0x04, 0x81, 200];
        data.extend([0x11; 200]);
        data.extend([0x04, 0x82, 0x01, 0x2C]);
        data.extend([0x22; 300]);
        let tlvs = parse_ber_all(&data).expect("long lengths");
        assert_eq!(tlvs.len(), 2);
        assert_eq!(encode_ber(&tlvs), data);
    }

    #[test]
    fn ber_non_minimal_length_inside_constructed() {
        // A5 (len 9) holding 01 81 05 <5 bytes> + 02 00: the child length is legal
        // BER in a longer form. The crate alone would misparse this; we normalise.
        let data = h("A5 0A 01 81 05 0102030405 02 00");
        let tlvs = parse_ber_all(&data).expect("non-minimal");
        let c = find_ber(&tlvs, &[0xA5, 0x01]).and_then(primitive_value);
        assert_eq!(c, Some(&[1, 2, 3, 4, 5][..]));
        assert!(find_ber(&tlvs, &[0xA5, 0x02]).is_some());
        assert!(
            ber::Tlv::from_bytes(&data).is_err(),
            "the crate by itself cannot parse this"
        );
    }

    #[test]
    fn crate_to_vec_miscounts_127() {
        // Why encode_ber exists: the crate writes 127 as 81 7F but counts 1 byte.
        let child = ber::Tlv::new(
            Tag::try_from(0x04u8).expect("tag"),
            Value::Primitive(vec![0; 127]),
        )
        .expect("child");
        let parent = ber::Tlv::new(
            Tag::try_from(0x30u8).expect("tag"),
            Value::Constructed(vec![child]),
        )
        .expect("parent");
        let ours = encode_ber(std::slice::from_ref(&parent));
        assert_eq!(parse_ber_one(&ours).as_ref(), Ok(&parent));
        assert!(parse_ber_all(&parent.to_vec()).is_err());
    }

    #[test]
    fn ber_errors() {
        assert_eq!(
            parse_ber_all(&h("6F 80 84 00 00 00")),
            Err(TlvError::IndefiniteLength { offset: 1 })
        );
        assert_eq!(
            parse_ber_all(&h("04 85 00 00 00 00 01 AA")),
            Err(TlvError::BadLength {
                offset: 1,
                byte: 0x85
            })
        );
        assert_eq!(
            parse_ber_all(&h("04 82 01")),
            Err(TlvError::Truncated {
                offset: 3,
                field: "length"
            })
        );
        assert_eq!(
            parse_ber_all(&h("5F")),
            Err(TlvError::Truncated {
                offset: 1,
                field: "tag"
            })
        );
        assert_eq!(
            parse_ber_all(&h("04")),
            Err(TlvError::Truncated {
                offset: 1,
                field: "length"
            })
        );
        assert!(matches!(
            parse_ber_all(&h("5F 81 81 01 00")),
            Err(TlvError::InvalidTag { offset: 0, .. })
        ));
        assert_eq!(
            parse_ber_all(&h("84 05 01 02")),
            Err(TlvError::ValueTruncated {
                offset: 0,
                tag: "84".into(),
                declared: 5,
                available: 2
            })
        );
        // A child longer than its parent (the card lied about one of the lengths).
        let e = parse_ber_all(&h("6F 04 84 05 01 02 03 04 05")).expect_err("must be rejected");
        assert_eq!(
            e,
            TlvError::ValueOverrun {
                offset: 2,
                tag: "84".into(),
                declared: 5,
                available: 2,
                parent_offset: 0
            }
        );
        assert!(e.to_string().starts_with("offset 2: tag 84 declares 5"));
        // A child header cut by the parent's end.
        assert_eq!(
            parse_ber_all(&h("6F 01 84 00")),
            Err(TlvError::Truncated {
                offset: 3,
                field: "length"
            })
        );
        // Corrupt second object: an error, not a shorter list.
        assert!(parse_ber_all(&h("84 01 AA 85 09 00")).is_err());
        assert_eq!(ber::Tlv::parse_all(&h("84 01 AA 85 09 00")).len(), 1);
        // parse_ber_one insists on exactly one object.
        assert_eq!(
            parse_ber_one(&h("84 01 AA 85 00")),
            Err(TlvError::TrailingData {
                offset: 3,
                count: 2
            })
        );
        assert!(parse_ber_one(&[]).is_err());
        assert!(matches!(
            parse_ber_all(&vec![0x04; MAX_INPUT + 1]),
            Err(TlvError::TooLarge { .. })
        ));
    }

    #[test]
    fn ber_padding() {
        let data = h("00 FF 84 01 AA 00 00 85 00 FF");
        assert_eq!(
            parse_ber_all(&data),
            Err(TlvError::Padding { offset: 0, byte: 0 })
        );
        let tlvs = parse_ber_all_with(&data, Padding::Skip).expect("skip");
        assert_eq!(tlvs.len(), 2);
        // Inside a constructed object padding is always an error.
        assert_eq!(
            parse_ber_all_with(&h("A5 03 00 01 00"), Padding::Skip),
            Err(TlvError::Padding { offset: 2, byte: 0 })
        );
    }

    #[test]
    fn depth_limit() {
        assert!(parse_ber_all(&nested(MAX_DEPTH - 1)).is_ok());
        let e = parse_ber_all(&nested(MAX_DEPTH)).expect_err("must be rejected");
        assert!(
            matches!(
                e,
                TlvError::TooDeep {
                    depth: 17,
                    max: 16,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // 8000 levels is about 32 KB: under the size limit, so the depth check stops it.
        let data = nested(8000);
        assert!(data.len() <= MAX_INPUT);
        assert!(matches!(
            parse_ber_all(&data),
            Err(TlvError::TooDeep { depth: 17, .. })
        ));
        assert!(matches!(
            parse_ber_all_with(&data, Padding::Skip),
            Err(TlvError::TooDeep { .. })
        ));
        // 100000 levels is over the size limit.
        let data = nested(100_000);
        assert!(matches!(
            parse_ber_all(&data),
            Err(TlvError::TooLarge { .. })
        ));
        // Constructed headers with no content at all (a truncated deep nest).
        let data: Vec<u8> = [0x21, 0x82, 0xFF, 0xFF].repeat(8000);
        assert!(parse_ber_all(&data).is_err());
    }

    #[test]
    fn object_limit() {
        // A flat constructed object with many children would be quadratic in the crate.
        let n = MAX_OBJECTS; // the parent counts too, so this is one over
        let mut data = vec![0x30, 0x82];
        data.extend(u16::try_from(2 * n).expect("fits").to_be_bytes());
        data.extend([0x01, 0x00].repeat(n));
        assert!(matches!(
            parse_ber_all(&data),
            Err(TlvError::TooManyObjects {
                max: MAX_OBJECTS,
                ..
            })
        ));
        let n = MAX_OBJECTS - 1;
        let mut data = vec![0x30, 0x82];
        data.extend(u16::try_from(2 * n).expect("fits").to_be_bytes());
        data.extend([0x01, 0x00].repeat(n));
        let tlvs = parse_ber_all(&data).expect("at the limit");
        assert_eq!(encode_ber(&tlvs), data);
    }

    #[test]
    fn errors_are_std_errors() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&TlvError::Crate {
            offset: 0,
            kind: iso7816_tlv::TlvError::InvalidInput,
        });
    }

    #[test]
    fn fuzz_check_on_examples() {
        for d in [
            FCI,
            "03 04 32 2E 30 30",
            "A5 0A 01 81 05 0102030405 02 00",
            "",
        ] {
            fuzz_check(&h(d));
        }
    }

    proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            fuzz_check(&data);
        }

        #[test]
        fn never_panics_structured(
            parts in proptest::collection::vec(
                (prop_oneof![Just(0x21u8), Just(0x61), Just(0x04), Just(0x5F), Just(0x00), any::<u8>()],
                 0u8..0x86,
                 proptest::collection::vec(any::<u8>(), 0..6)),
                0..24)
        ) {
            let mut data = Vec::new();
            for (t, l, v) in parts {
                data.push(t);
                data.push(l);
                data.extend(v);
            }
            fuzz_check(&data);
        }

        #[test]
        fn record_round_trips(tag in 1u8..0xFF, value in proptest::collection::vec(any::<u8>(), 0..=254)) {
            let enc = encode_record(tag, &value).expect("valid");
            prop_assert_eq!(parse_record(&enc), Ok(SimpleRecord { tag, value }));
        }
    }
}
