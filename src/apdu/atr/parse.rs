//! The structural decoder: reads an ATR as far as its bytes go, recording every
//! structural fault (ISO/IEC 7816-3:2006 §8.2) instead of stopping at the first.
//!
//! Why not stop: a technician looking at a bad card wants to see everything the card
//! sent, decoded where it can be, with each fault named; the strict [`Atr::parse`]
//! is then just "the first structural fault, if any" of this one decoding, so the two
//! can never disagree.

use super::conformance::{Rule, Violation};
use super::{Atr, AtrError, Convention, InterfaceBytes, Transmission, MAX_ATR_LEN};

/// Decodes `bytes`; `None` when there is not even a T0. Structural faults come back in
/// byte order, each carrying its [`AtrError`].
pub(super) fn decode(bytes: &[u8]) -> (Option<Atr>, Vec<Violation>) {
    let mut v = Vec::new();
    let Some(&first) = bytes.first() else {
        v.push(Violation::structural(Rule::Empty, AtrError::Empty));
        return (None, v);
    };
    let ts = match first {
        0x3B => Convention::Direct,
        0x3F => Convention::Inverse,
        other => {
            v.push(Violation::structural(Rule::Ts, AtrError::BadTs(other)));
            Convention::Invalid
        }
    };
    let Some(&t0) = bytes.get(1) else {
        v.push(Violation::structural(
            Rule::Truncated,
            AtrError::Truncated {
                offset: 1,
                expected: "T0".into(),
            },
        ));
        return (None, v);
    };
    // Reports "longer than 33 bytes" once, at the first offset past the limit.
    let mut too_long = false;
    fn note_length(v: &mut Vec<Violation>, too_long: &mut bool, len: usize) {
        if len > MAX_ATR_LEN && !*too_long {
            *too_long = true;
            v.push(Violation::structural(
                Rule::TooLong,
                AtrError::TooLong { len },
            ));
        }
    }

    let mut pos = 2;
    let k = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut interface = Vec::new();
    let mut level: u8 = 1;
    let mut truncated = false;
    'levels: while y != 0 {
        let mut ib = InterfaceBytes {
            level,
            ..InterfaceBytes::default()
        };
        for (bit, name) in [(0x1, 'A'), (0x2, 'B'), (0x4, 'C'), (0x8, 'D')] {
            if y & bit == 0 {
                continue;
            }
            note_length(&mut v, &mut too_long, pos + 1);
            let Some(&b) = bytes.get(pos) else {
                if !too_long {
                    v.push(Violation::structural(
                        Rule::Truncated,
                        AtrError::Truncated {
                            offset: pos,
                            expected: format!("T{name}{level}"),
                        },
                    ));
                }
                truncated = true;
                if ib
                    != (InterfaceBytes {
                        level,
                        ..Default::default()
                    })
                {
                    interface.push(ib);
                }
                break 'levels;
            };
            pos += 1;
            match name {
                'A' => ib.ta = Some(b),
                'B' => ib.tb = Some(b),
                'C' => ib.tc = Some(b),
                _ => ib.td = Some(b),
            }
        }
        interface.push(ib);
        y = ib.td.map_or(0, |td| td >> 4);
        level = level.saturating_add(1);
    }

    let indicated: Vec<u8> = interface
        .iter()
        .filter_map(InterfaceBytes::protocol)
        .collect();
    let mut protocols: Vec<u8> = Vec::new();
    for &t in &indicated {
        if t != 15 && !protocols.contains(&t) {
            protocols.push(t);
        }
    }
    if protocols.is_empty() {
        protocols.push(0);
    }
    let ta1 = interface
        .first()
        .filter(|l| l.level == 1)
        .and_then(|l| l.ta);
    let mut atr = Atr {
        raw: bytes.to_vec(),
        ts,
        t0,
        interface,
        protocols,
        historical: Vec::new(),
        tck: None,
        tck_ok: None,
        trailing: Vec::new(),
        transmission: Transmission::decode(ta1),
    };
    if truncated {
        // Where the historical bytes start is unknown: show nothing more.
        return (Some(atr), v);
    }

    let hist_start = pos;
    note_length(&mut v, &mut too_long, hist_start + k);
    let got = bytes.len().saturating_sub(hist_start);
    if got < k {
        if !too_long {
            v.push(Violation::structural(
                Rule::TruncatedHistorical,
                AtrError::TruncatedHistorical {
                    offset: hist_start,
                    declared: k,
                    got,
                },
            ));
        }
        atr.historical = bytes[hist_start.min(bytes.len())..].to_vec();
        return (Some(atr), v);
    }
    atr.historical = bytes[hist_start..hist_start + k].to_vec();
    let mut end = hist_start + k;

    // §8.2.5: TCK is present unless only T=0 is indicated (T=15 counts as "other").
    if let Some(protocol) = indicated.iter().copied().find(|&t| t != 0) {
        let offset = end;
        note_length(&mut v, &mut too_long, offset + 1);
        match bytes.get(offset) {
            None => {
                if !too_long {
                    v.push(Violation::structural(
                        Rule::MissingTck,
                        AtrError::MissingTck { offset, protocol },
                    ));
                }
            }
            Some(&actual) => {
                let expected = bytes[1..offset].iter().fold(0u8, |acc, b| acc ^ b);
                if expected != actual {
                    v.push(Violation::structural(
                        Rule::TckMismatch,
                        AtrError::TckMismatch {
                            offset,
                            expected,
                            actual,
                        },
                    ));
                }
                atr.tck = Some(actual);
                atr.tck_ok = Some(expected == actual);
                end += 1;
            }
        }
    }
    if bytes.len() > end {
        let count = bytes.len() - end;
        let mut violation = Violation::structural(
            Rule::TrailingBytes,
            AtrError::TrailingBytes { offset: end, count },
        );
        if atr.tck.is_none() && count == 1 {
            let xor = bytes[1..].iter().fold(0u8, |acc, b| acc ^ b);
            violation.message.push_str(&format!(
                "; only T=0 is indicated, so there is no TCK (§8.2.5: TCK shall then be absent){}",
                if xor == 0 {
                    " — the byte is what a TCK would be"
                } else {
                    ""
                }
            ));
        }
        v.push(violation);
        atr.trailing = bytes[end..].to_vec();
    }
    (Some(atr), v)
}
