//! Matchers for `=>` lines: status-word masks, data patterns, lengths, captures.
//!
//! Why a pattern language rather than exact hex: a technician's script must pass on
//! every card of a profile, not only the one it was written on, so what varies (serial
//! numbers, names, random challenges) is written as wildcards (`xx`, `6x`, `..`, `*`)
//! and what matters (tags, lengths, status) exactly. Captures (`$rnd:8`) take bytes out
//! of a response for later APDUs. Matching is dynamic programming over items × bytes, so even a hostile
//! pattern costs at most that, with no recursion.

use super::ast::{Call, Value};
use super::lexer::CaptureLen;
use std::fmt;

/// Most `*`, captures, variables and calls in one pattern (bounds recursion).
pub const MAX_PATTERN_SPECIALS: usize = 64;

/// A status word with wildcard nibbles: `9000`, `61xx`, `63Cx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwPattern {
    /// The required bits.
    pub value: u16,
    /// Which bits are required (1 = must equal `value`).
    pub mask: u16,
}

impl SwPattern {
    /// Parses 4 characters, each a hex digit or `x`/`X`/`?` (any nibble).
    pub fn parse(text: &str) -> Option<SwPattern> {
        let nibbles = masked_nibbles(text)?;
        if nibbles.len() != 4 {
            return None;
        }
        let (mut value, mut mask) = (0u16, 0u16);
        for (v, m) in nibbles {
            value = (value << 4) | v as u16;
            mask = (mask << 4) | m as u16;
        }
        Some(SwPattern { value, mask })
    }

    /// Whether `sw` matches.
    pub fn matches(self, sw: u16) -> bool {
        sw & self.mask == self.value & self.mask
    }

    /// The status words that pass when no expectation is written: normal processing
    /// (ISO/IEC 7816-4 §5.6): `9000` and `61xx`.
    pub fn normal_processing() -> Vec<SwPattern> {
        vec![
            SwPattern {
                value: 0x9000,
                mask: 0xFFFF,
            },
            SwPattern {
                value: 0x6100,
                mask: 0xFF00,
            },
        ]
    }
}

impl fmt::Display for SwPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for shift in [12u16, 8, 4, 0] {
            if (self.mask >> shift) & 0xF == 0 {
                f.write_str("x")?;
            } else {
                write!(f, "{:X}", (self.value >> shift) & 0xF)?;
            }
        }
        Ok(())
    }
}

/// Hex digits with wildcards → (value, mask) per nibble; `None` if a character is
/// neither.
fn masked_nibbles(text: &str) -> Option<Vec<(u8, u8)>> {
    text.chars()
        .map(|c| match c {
            'x' | 'X' | '?' => Some((0, 0)),
            c => c.to_digit(16).map(|d| (d as u8, 0xF)),
        })
        .collect()
}

/// Parses a hex word with wildcard nibbles into (value, mask) bytes. Errors name the
/// character index of the offending character.
pub fn masked_bytes(text: &str) -> Result<Vec<(u8, u8)>, (usize, String)> {
    if text == ".." {
        return Ok(vec![(0, 0)]);
    }
    let mut nibbles = Vec::new();
    for (i, c) in text.chars().enumerate() {
        match c {
            'x' | 'X' | '?' => nibbles.push((0u8, 0u8)),
            c => match c.to_digit(16) {
                Some(d) => nibbles.push((d as u8, 0xF)),
                None => {
                    return Err((
                        i,
                        format!("'{c}' is neither a hex digit nor a wildcard (x, ?)"),
                    ))
                }
            },
        }
    }
    if nibbles.len() % 2 != 0 {
        return Err((
            0,
            format!("'{text}' has an odd number of hex digits: write whole bytes"),
        ));
    }
    Ok(nibbles
        .chunks(2)
        .map(|p| ((p[0].0 << 4) | p[1].0, (p[0].1 << 4) | p[1].1))
        .collect())
}

/// A length requirement: `len 8` or `len 8..16`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LenRange {
    /// Fewest bytes.
    pub min: usize,
    /// Most bytes.
    pub max: usize,
}

impl LenRange {
    /// Parses `N` or `N..M` (decimal).
    pub fn parse(text: &str) -> Option<LenRange> {
        let num = |s: &str| -> Option<usize> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || s.len() > 6 {
                return None;
            }
            s.parse().ok()
        };
        let (min, max) = match text.split_once("..") {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(text)?;
                (n, n)
            }
        };
        (min <= max).then_some(LenRange { min, max })
    }

    /// Whether `n` is in range.
    pub fn contains(self, n: usize) -> bool {
        (self.min..=self.max).contains(&n)
    }
}

impl fmt::Display for LenRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

/// One item of a data pattern, as parsed.
#[derive(Debug, Clone)]
pub enum PatItem {
    /// Bytes with wildcard nibbles (from hex, `..`, or a string).
    Masked(Vec<(u8, u8)>),
    /// `*`: any number of bytes.
    Star,
    /// `$name` or `${call}`: the bytes must equal its value.
    Value(Value),
    /// `$name:N` / `$name:*`: takes bytes into a variable.
    Capture {
        /// The variable.
        name: String,
        /// How many bytes.
        len: CaptureLen,
    },
}

impl PatItem {
    /// Calls inside the item.
    pub fn calls(&self) -> Box<dyn Iterator<Item = &Call> + '_> {
        match self {
            PatItem::Value(v) => v.calls(),
            _ => Box::new(std::iter::empty()),
        }
    }
}

/// A pattern item with variables and calls evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// Bytes with masks; `secret` when they come from a secret value.
    Fixed {
        /// (value, mask) per byte.
        bytes: Vec<(u8, u8)>,
        /// Whether the expected bytes must not be shown.
        secret: bool,
    },
    /// Any run.
    Star,
    /// A capture.
    Capture(String, CaptureLen),
}

/// A capture that matched: variable name and byte range of the data.
pub type Captured = (String, std::ops::Range<usize>);

/// Matches `data` against `items`; on success returns the captures.
///
/// Dynamic programming from the end (`ok[i][p]`: items `i..` match `data[p..]`), so
/// the cost is items × bytes whatever the pattern, without recursion; then a forward
/// walk picks the captures, giving each `*` the longest run that still matches (as
/// regular expressions do).
pub fn match_data(items: &[Resolved], data: &[u8]) -> Option<Vec<Captured>> {
    let n = data.len();
    let width = n + 1;
    let k = items.len();
    let mut ok = vec![false; (k + 1) * width];
    ok[k * width + n] = true;
    for i in (0..k).rev() {
        for p in (0..=n).rev() {
            let here = match &items[i] {
                Resolved::Fixed { bytes, .. } => {
                    let end = p + bytes.len();
                    end <= n
                        && ok[(i + 1) * width + end]
                        && bytes
                            .iter()
                            .zip(&data[p..end])
                            .all(|((v, m), d)| d & m == v & m)
                }
                Resolved::Capture(_, CaptureLen::Fixed(c)) => {
                    p + c <= n && ok[(i + 1) * width + p + c]
                }
                Resolved::Star | Resolved::Capture(_, CaptureLen::Rest) => {
                    ok[(i + 1) * width + p] || (p < n && ok[i * width + p + 1])
                }
            };
            ok[i * width + p] = here;
        }
    }
    if !ok[0] {
        return None;
    }
    let mut caps = Vec::new();
    let mut p = 0;
    for (i, item) in items.iter().enumerate() {
        match item {
            Resolved::Fixed { bytes, .. } => p += bytes.len(),
            Resolved::Capture(name, CaptureLen::Fixed(c)) => {
                caps.push((name.clone(), p..p + c));
                p += c;
            }
            Resolved::Star | Resolved::Capture(_, CaptureLen::Rest) => {
                let end = (p..=n).rev().find(|e| ok[(i + 1) * width + e])?;
                if let Resolved::Capture(name, _) = item {
                    caps.push((name.clone(), p..end));
                }
                p = end;
            }
        }
    }
    Some(caps)
}

/// Why `data` does not match `items`, in words. `data_secret` hides the data's bytes.
pub fn explain_mismatch(items: &[Resolved], data: &[u8], data_secret: bool) -> String {
    let fixed_only = items
        .iter()
        .all(|r| !matches!(r, Resolved::Star | Resolved::Capture(_, CaptureLen::Rest)));
    if !fixed_only {
        return "the data does not match the pattern".into();
    }
    let want: usize = items
        .iter()
        .map(|r| match r {
            Resolved::Fixed { bytes, .. } => bytes.len(),
            Resolved::Capture(_, CaptureLen::Fixed(n)) => *n,
            _ => 0,
        })
        .sum();
    if want != data.len() {
        return format!(
            "the data is {} bytes, the pattern {} bytes",
            data.len(),
            want
        );
    }
    let mut at = 0;
    for r in items {
        match r {
            Resolved::Fixed { bytes, secret } => {
                for (k, (v, m)) in bytes.iter().enumerate() {
                    let d = data.get(at + k).copied().unwrap_or(0);
                    if d & m != v & m {
                        let off = at + k;
                        return if *secret || data_secret {
                            format!("data byte {off} differs (values hidden: secret)")
                        } else {
                            format!(
                                "data byte {off}: expected {}, got {d:02X}",
                                show_masked(*v, *m)
                            )
                        };
                    }
                }
                at += bytes.len();
            }
            Resolved::Capture(_, CaptureLen::Fixed(n)) => at += n,
            _ => {}
        }
    }
    "the data does not match the pattern".into()
}

fn show_masked(v: u8, m: u8) -> String {
    let hi = if m >> 4 == 0 {
        "x".to_string()
    } else {
        format!("{:X}", v >> 4)
    };
    let lo = if m & 0xF == 0 {
        "x".to_string()
    } else {
        format!("{:X}", v & 0xF)
    };
    hi + &lo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(s: &str) -> Resolved {
        Resolved::Fixed {
            bytes: masked_bytes(s).unwrap(),
            secret: false,
        }
    }

    #[test]
    fn status_word_masks() {
        let p = SwPattern::parse("63Cx").unwrap();
        assert!(p.matches(0x63C5) && !p.matches(0x6983));
        assert!(SwPattern::parse("61XX").unwrap().matches(0x611E));
        assert!(SwPattern::parse("9000").unwrap().matches(0x9000));
        assert_eq!(SwPattern::parse("6?c?").unwrap().to_string(), "6xCx");
        for bad in ["900", "90000", "9g00", ""] {
            assert!(SwPattern::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn data_patterns_with_wildcards_and_star() {
        let data = hex::decode("6F1C840F7378").unwrap();
        assert!(match_data(&[fixed("6F1C"), Resolved::Star], &data).is_some());
        assert!(match_data(&[fixed("6Fxx840F"), Resolved::Star, fixed("78")], &data).is_some());
        assert!(match_data(&[fixed("6F1C")], &data).is_none());
        assert!(match_data(&[Resolved::Star, fixed("7x78")], &data).is_some());
        assert!(match_data(&[], &[]).is_some());
        assert!(match_data(&[Resolved::Star], &[]).is_some());
    }

    #[test]
    fn captures_take_the_right_bytes() {
        let data = hex::decode("0110AABBCCDD").unwrap();
        let caps = match_data(
            &[
                fixed("0110"),
                Resolved::Capture("a".into(), CaptureLen::Fixed(2)),
                Resolved::Capture("b".into(), CaptureLen::Rest),
            ],
            &data,
        )
        .unwrap();
        assert_eq!(caps, vec![("a".into(), 2..4), ("b".into(), 4..6)]);
        // A failed branch leaves no capture behind.
        let caps = match_data(
            &[
                Resolved::Capture("x".into(), CaptureLen::Rest),
                fixed("CC"),
                Resolved::Star,
            ],
            &data,
        )
        .unwrap();
        assert_eq!(caps, vec![("x".into(), 0..4)]);
    }

    #[test]
    fn many_stars_stay_fast() {
        let mut items = vec![];
        for _ in 0..MAX_PATTERN_SPECIALS {
            items.push(Resolved::Star);
            items.push(fixed("00"));
        }
        items.push(fixed("01"));
        let data = vec![0u8; 4000];
        assert!(match_data(&items, &data).is_none());
    }

    #[test]
    fn mismatches_are_explained() {
        let data = hex::decode("0110AA").unwrap();
        assert_eq!(
            explain_mismatch(&[fixed("0111xx")], &data, false),
            "data byte 1: expected 11, got 10"
        );
        assert!(explain_mismatch(&[fixed("0110")], &data, false).contains("3 bytes"));
        assert!(explain_mismatch(&[fixed("0111xx")], &data, true).contains("hidden"));
    }

    #[test]
    fn lengths() {
        assert_eq!(LenRange::parse("8"), Some(LenRange { min: 8, max: 8 }));
        assert_eq!(LenRange::parse("8..16").unwrap().to_string(), "8..16");
        for bad in ["", "x", "9..8", "-1", "1..", "+3", "99999999"] {
            assert!(LenRange::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn masked_words() {
        assert_eq!(masked_bytes("6x").unwrap(), vec![(0x60, 0xF0)]);
        assert_eq!(masked_bytes("..").unwrap(), vec![(0, 0)]);
        assert_eq!(masked_bytes("0g").unwrap_err().0, 1);
        assert!(masked_bytes("123").is_err());
    }
}
