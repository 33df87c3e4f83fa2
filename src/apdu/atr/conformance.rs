//! Conformance of an ATR to ISO/IEC 7816-3:2006, each fault naming its clause.
//!
//! Clauses (third edition, 2006; the standard is not public, the numbering is the
//! edition's):
//! - §8.2.1 structure and length: TS and at most 32 further bytes, nothing after the
//!   last byte the structure accounts for.
//! - §8.2.2 TS: `3B` (direct) or `3F` (inverse) convention.
//! - §8.2.3 T0 and the interface bytes: Yi announces TAi..TDi, TDi names a protocol
//!   T; T=15 is not allowed in TD1 and only qualifies global bytes; protocols in
//!   ascending order; T=2..13 are reserved.
//! - §8.2.4 historical bytes: exactly K of them.
//! - §8.2.5 TCK: absent when only T=0 is indicated, present otherwise (T=15 counts),
//!   XOR of T0..TCK is `00`.
//! - §8.3 global interface bytes: TA1 (Fi/Di, Tables 7 and 8: RFU values), TB1 and
//!   TB2 (VPP, deprecated: a card should not send them), TC1 (N; N=255 means the
//!   minimum guard time), TA2 (specific mode; bits 7 and 6 RFU), TAi/TBi after T=15
//!   (clock stop and class, SPU).
//! - §10.2 T=0: WI in TC2 is not 0. §11.4 T=1: IFSC not `00`/`FF`, BWI ≤ 9, TCi
//!   bits 8..2 RFU.
//!
//! Severity: an **error** breaks a "shall" of the standard (a reader may refuse the
//! card or misread it); a **warning** is deprecated, reserved-for-future or
//! inconsistent but readable. `sscard atr` exits 7 on errors only (see `cli/atr.rs`).

use super::{Atr, AtrError};
use serde::Serialize;
use std::fmt;

/// How bad a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Deprecated, reserved or inconsistent, but the ATR can be used.
    Warning,
    /// A "shall" of ISO/IEC 7816-3 is broken.
    Error,
}

/// Which rule a violation breaks (stable names for JSON and statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// No bytes at all (§8.2.1).
    Empty,
    /// TS is neither 3B nor 3F (§8.2.2).
    Ts,
    /// T0 or an announced interface byte is missing (§8.2.3).
    Truncated,
    /// Fewer historical bytes than K (§8.2.4).
    TruncatedHistorical,
    /// TCK required but absent (§8.2.5).
    MissingTck,
    /// TCK wrong (§8.2.5).
    TckMismatch,
    /// Bytes after the end, e.g. a TCK when only T=0 is indicated (§8.2.1, §8.2.5).
    TrailingBytes,
    /// More than 33 bytes (§8.2.1).
    TooLong,
    /// TD1 names T=15 (§8.2.3).
    Td1T15,
    /// The TDi protocols are not in ascending order (§8.2.3).
    ProtocolOrder,
    /// A reserved protocol T=2..13 (§8.2.3).
    ProtocolRfu,
    /// TA1's FI is a reserved value (§8.3, Table 7).
    FiRfu,
    /// TA1's DI is a reserved value (§8.3, Table 8).
    DiRfu,
    /// TB1 or TB2 present: VPP is deprecated (§8.3).
    VppDeprecated,
    /// TA2's reserved bits 7 and 6 are set (§8.3).
    Ta2Rfu,
    /// TA2's specific-mode protocol is not offered by any TDi (§8.3).
    Ta2Protocol,
    /// The first TAi after T=15 has a reserved class indicator (§8.3, Table 10).
    ClassRfu,
    /// T=0's WI (TC2) is 0 (§10.2).
    T0WiZero,
    /// T=1's IFSC is 00 or FF (§11.4.2).
    T1IfscRfu,
    /// T=1's BWI is above 9 (§11.4.3).
    T1BwiRfu,
    /// T=1's TCi has reserved bits set (§11.4.4).
    T1TcRfu,
}

impl Rule {
    /// The clause of ISO/IEC 7816-3:2006 the rule comes from.
    pub fn clause(self) -> &'static str {
        match self {
            Rule::Empty | Rule::TooLong | Rule::TrailingBytes => "8.2.1",
            Rule::Ts => "8.2.2",
            Rule::Truncated | Rule::Td1T15 | Rule::ProtocolOrder | Rule::ProtocolRfu => "8.2.3",
            Rule::TruncatedHistorical => "8.2.4",
            Rule::MissingTck | Rule::TckMismatch => "8.2.5",
            Rule::FiRfu
            | Rule::DiRfu
            | Rule::VppDeprecated
            | Rule::Ta2Rfu
            | Rule::Ta2Protocol
            | Rule::ClassRfu => "8.3",
            Rule::T0WiZero => "10.2",
            Rule::T1IfscRfu => "11.4.2",
            Rule::T1BwiRfu => "11.4.3",
            Rule::T1TcRfu => "11.4.4",
        }
    }

    /// How bad breaking it is.
    pub fn severity(self) -> Severity {
        match self {
            Rule::VppDeprecated | Rule::ProtocolRfu | Rule::Ta2Protocol => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

/// One fault found in an ATR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// `ISO/IEC 7816-3:2006 §x.y`.
    pub clause: String,
    /// Error or warning.
    pub severity: Severity,
    /// Byte offset (0 = TS) where the fault is, when it is at one byte.
    pub offset: Option<usize>,
    /// What is wrong, for people.
    pub message: String,
    /// The structural error this is, for [`Atr::parse`]; `None` for the other rules.
    #[serde(skip)]
    pub structural: Option<AtrError>,
}

impl Violation {
    fn new(rule: Rule, offset: Option<usize>, message: String) -> Self {
        Violation {
            rule,
            clause: format!("ISO/IEC 7816-3:2006 §{}", rule.clause()),
            severity: rule.severity(),
            offset,
            message,
            structural: None,
        }
    }

    pub(super) fn structural(rule: Rule, err: AtrError) -> Self {
        let offset = match &err {
            AtrError::Empty | AtrError::InvalidHex(_) | AtrError::TooLong { .. } => None,
            AtrError::BadTs(_) => Some(0),
            AtrError::Truncated { offset, .. }
            | AtrError::TruncatedHistorical { offset, .. }
            | AtrError::MissingTck { offset, .. }
            | AtrError::TckMismatch { offset, .. }
            | AtrError::TrailingBytes { offset, .. } => Some(*offset),
        };
        let mut v = Violation::new(rule, offset, err.to_string());
        v.structural = Some(err);
        v
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev} ({}): {}", self.clause, self.message)
    }
}

/// An ATR decoded as far as it goes, with every violation found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// The decoding; `None` when there is not even a T0.
    pub atr: Option<Atr>,
    /// Every fault, structural ones first in byte order, then the value rules.
    pub violations: Vec<Violation>,
}

impl Analysis {
    /// Whether no rule of severity error is broken (warnings allowed).
    pub fn conforms(&self) -> bool {
        !self
            .violations
            .iter()
            .any(|v| v.severity == Severity::Error)
    }
}

/// Offset of each interface byte of `atr`, by (level, kind): TS and T0 come first.
fn offsets(atr: &Atr) -> Vec<(u8, char, usize, u8)> {
    let mut out = Vec::new();
    let mut pos = 2;
    for l in &atr.interface {
        for (kind, b) in [('A', l.ta), ('B', l.tb), ('C', l.tc), ('D', l.td)] {
            if let Some(b) = b {
                out.push((l.level, kind, pos, b));
                pos += 1;
            }
        }
    }
    out
}

/// Checks the values of the interface bytes that were decoded (the structure itself
/// was checked while decoding).
pub(super) fn check_values(atr: &Atr, v: &mut Vec<Violation>) {
    let bytes = offsets(atr);
    let at = |level: u8, kind: char| {
        bytes
            .iter()
            .find(|(l, k, _, _)| *l == level && *k == kind)
            .map(|&(_, _, off, b)| (off, b))
    };
    // TA1: Fi and Di (Tables 7 and 8).
    if let Some((off, b)) = at(1, 'A') {
        let t = &atr.transmission;
        if t.fi.is_none() {
            v.push(Violation::new(
                Rule::FiRfu,
                Some(off),
                format!("TA1 = {b:02X}: FI = {} is reserved for future use", b >> 4),
            ));
        }
        if t.di.is_none() {
            v.push(Violation::new(
                Rule::DiRfu,
                Some(off),
                format!(
                    "TA1 = {b:02X}: DI = {} is reserved for future use",
                    b & 0x0F
                ),
            ));
        }
    }
    for level in [1u8, 2] {
        if let Some((off, b)) = at(level, 'B') {
            let what = if b == 0 {
                "no VPP".to_string()
            } else if level == 1 {
                format!("VPP asked for: PI1={}, I={}", b & 0x1F, (b >> 5) & 0x03)
            } else {
                format!("VPP asked for: PI2={b}")
            };
            v.push(Violation::new(
                Rule::VppDeprecated,
                Some(off),
                format!("TB{level} = {b:02X} ({what}): TB1 and TB2 are deprecated; a card should not send them and readers ignore them"),
            ));
        }
    }
    // TDi: T=15 not in TD1, ascending order, reserved protocols.
    let mut prev: Option<u8> = None;
    for &(level, kind, off, b) in &bytes {
        if kind != 'D' {
            continue;
        }
        let t = b & 0x0F;
        if level == 1 && t == 15 {
            v.push(Violation::new(
                Rule::Td1T15,
                Some(off),
                format!("TD1 = {b:02X} names T=15, which is invalid in TD1"),
            ));
        }
        if let Some(p) = prev {
            if t < p {
                v.push(Violation::new(
                    Rule::ProtocolOrder,
                    Some(off),
                    format!("TD{level} = {b:02X} names T={t} after T={p}: protocols shall be in ascending order"),
                ));
            }
        }
        if (2..=13).contains(&t) {
            v.push(Violation::new(
                Rule::ProtocolRfu,
                Some(off),
                format!("TD{level} = {b:02X} names T={t}, reserved for future use"),
            ));
        }
        prev = Some(t);
    }
    // TA2: specific mode.
    if let Some((off, b)) = at(2, 'A') {
        if b & 0x60 != 0 {
            v.push(Violation::new(
                Rule::Ta2Rfu,
                Some(off),
                format!("TA2 = {b:02X}: bits 7 and 6 are reserved and shall be 0"),
            ));
        }
        let t = b & 0x0F;
        if !atr.protocols.contains(&t) {
            v.push(Violation::new(
                Rule::Ta2Protocol,
                Some(off),
                format!(
                    "TA2 = {b:02X}: specific mode T={t}, but the ATR offers {}",
                    atr.protocols
                        .iter()
                        .map(|p| format!("T={p}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    // The first TAi after T=15: clock stop X (bits 8-7) and class Y (bits 6-1), whose
    // defined values are A, B, C and the consecutive sets AB, BC, ABC.
    let mut prev_t = None;
    for l in &atr.interface {
        if l.level >= 3 && prev_t == Some(15) {
            if let Some((off, b)) = at(l.level, 'A') {
                if !matches!(b & 0x3F, 0x01 | 0x02 | 0x04 | 0x03 | 0x06 | 0x07) {
                    v.push(Violation::new(
                        Rule::ClassRfu,
                        Some(off),
                        format!(
                            "TA{} = {b:02X}: class indicator {:06b} is reserved (A, B, C, AB, BC or ABC expected)",
                            l.level,
                            b & 0x3F
                        ),
                    ));
                }
            }
            break;
        }
        prev_t = l.protocol();
    }
    // T=0: WI.
    if let Some((off, 0)) = at(2, 'C') {
        v.push(Violation::new(
            Rule::T0WiZero,
            Some(off),
            "TC2 = 00: the T=0 waiting time integer WI = 0 is reserved".to_string(),
        ));
    }
    // T=1 specific bytes: levels i >= 3 after a TD(i-1) naming T=1.
    let mut prev_t = None;
    for l in &atr.interface {
        if l.level >= 3 && prev_t == Some(1) {
            if let Some((off, b)) = at(l.level, 'A') {
                if b == 0x00 || b == 0xFF {
                    v.push(Violation::new(
                        Rule::T1IfscRfu,
                        Some(off),
                        format!("TA{} = {b:02X}: T=1 IFSC {b} is reserved (01..FE)", l.level),
                    ));
                }
            }
            if let Some((off, b)) = at(l.level, 'B') {
                if b >> 4 > 9 {
                    v.push(Violation::new(
                        Rule::T1BwiRfu,
                        Some(off),
                        format!(
                            "TB{} = {b:02X}: T=1 BWI {} is reserved (0..9)",
                            l.level,
                            b >> 4
                        ),
                    ));
                }
            }
            if let Some((off, b)) = at(l.level, 'C') {
                if b & 0xFE != 0 {
                    v.push(Violation::new(
                        Rule::T1TcRfu,
                        Some(off),
                        format!(
                            "TC{} = {b:02X}: T=1 bits 8..2 are reserved and shall be 0",
                            l.level
                        ),
                    ));
                }
            }
        }
        prev_t = l.protocol();
    }
}
