//! BER-TLV: the iterative pre-scan that checks depth, object count, lengths and
//! padding before `iso7816-tlv` sees the bytes, the minimal re-encoding of lengths,
//! and the lookups and the encoder built on the crate's objects.
//!
//! Why apart: this is the defensive core described in the parent module's docs; the
//! SIMPLE-TLV records do not need it.

use super::*;

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

pub(super) fn push_len(out: &mut Vec<u8>, n: usize) {
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

pub(super) fn len_of_len(n: usize) -> usize {
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
