//! How an ATR is shown to people: one line per byte with its meaning.

use super::{Analysis, Atr, Convention, Transmission};
use std::fmt;

/// What one interface byte means, as far as ISO/IEC 7816-3 says without guessing.
/// `prev_t` is the protocol named by TD(i-1), which qualifies the bytes of level i≥3.
fn describe(kind: char, level: u8, b: u8, prev_t: Option<u8>) -> String {
    match (kind, level, prev_t) {
        ('A', 1, _) => {
            let t = Transmission::decode(Some(b));
            let fi = t.fi.map_or("RFU".to_owned(), |v| v.to_string());
            let di = t.di.map_or("RFU".to_owned(), |v| v.to_string());
            format!("Fi={fi}, Di={di}")
        }
        ('B', 1, _) | ('B', 2, _) => "programming voltage (deprecated, ignored)".to_owned(),
        ('C', 1, _) if b == 0xFF => {
            "extra guard time N=255: minimum guard time (12 etu under T=0, 11 etu under T=1)"
                .to_owned()
        }
        ('C', 1, _) => format!("extra guard time N={b} etu"),
        ('A', 2, _) => format!(
            "specific mode T={}{}{}",
            b & 0x0F,
            if b & 0x80 != 0 {
                ", cannot change"
            } else {
                ", can change"
            },
            if b & 0x10 != 0 {
                ", implicit parameters"
            } else {
                ""
            }
        ),
        ('C', 2, _) => format!("T=0 waiting time integer WI={b}"),
        ('D', _, _) => {
            let mut next = Vec::new();
            for (bit, n) in [(0x10, "TA"), (0x20, "TB"), (0x40, "TC"), (0x80, "TD")] {
                if b & bit != 0 {
                    next.push(format!("{n}{}", level.saturating_add(1)));
                }
            }
            let next = if next.is_empty() {
                "none".to_owned()
            } else {
                next.join(" ")
            };
            format!("T={}, next: {next}", b & 0x0F)
        }
        ('A', _, Some(1)) => format!("T=1 IFSC={b}"),
        ('B', _, Some(1)) => format!("T=1 BWI={}, CWI={}", b >> 4, b & 0x0F),
        ('C', _, Some(1)) => format!(
            "T=1 error detection {}",
            if b & 1 != 0 { "CRC" } else { "LRC" }
        ),
        ('A', _, Some(15)) => {
            let clock = match b >> 6 {
                0 => "clock stop not supported",
                1 => "clock stop in state L",
                2 => "clock stop in state H",
                _ => "clock stop in either state",
            };
            let class = match b & 0x3F {
                0x01 => "class A (5 V)",
                0x02 => "class B (3 V)",
                0x04 => "class C (1.8 V)",
                0x03 => "classes A and B",
                0x06 => "classes B and C",
                0x07 => "classes A, B and C",
                _ => "class RFU",
            };
            format!("{clock}, {class} (X={}, Y=0x{:02X})", b >> 6, b & 0x3F)
        }
        ('B', _, Some(15)) => "SPU (standard or proprietary use)".to_owned(),
        _ => String::new(),
    }
}

fn hex_spaced(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

impl fmt::Display for Atr {
    /// A multi-line summary for people, as printed by `sscard atr`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "ATR: {}", hex_spaced(&self.raw))?;
        let conv = match self.ts {
            Convention::Direct => "direct convention",
            Convention::Inverse => "inverse convention",
            Convention::Invalid => "INVALID: neither direct (3B) nor inverse (3F) convention",
        };
        let first = self.raw.first().copied().unwrap_or(0);
        writeln!(f, "  TS   {first:02X}  {conv}")?;
        writeln!(
            f,
            "  T0   {:02X}  {}, K={} historical bytes",
            self.t0,
            describe('D', 0, self.t0, None)
                .split_once("next: ")
                .map_or(String::new(), |(_, n)| format!("interface bytes: {n}")),
            self.t0 & 0x0F
        )?;
        let mut prev_t = None;
        for l in &self.interface {
            for (kind, v) in [('A', l.ta), ('B', l.tb), ('C', l.tc), ('D', l.td)] {
                if let Some(b) = v {
                    let what = describe(kind, l.level, b, prev_t);
                    let name = format!("T{kind}{}", l.level);
                    writeln!(f, "  {name:<4} {b:02X}  {what}")?;
                }
            }
            prev_t = l.protocol();
        }
        let protos: Vec<String> = self.protocols.iter().map(|t| format!("T={t}")).collect();
        let implied = if self.level(1).and_then(|l| l.td).is_none() {
            " (implied: no TD1)"
        } else {
            ""
        };
        writeln!(f, "Protocols: {}{implied}", protos.join(", "))?;
        let t = &self.transmission;
        let src = if t.from_ta1 {
            "from TA1"
        } else {
            "defaults, no TA1"
        };
        let opt = |v: Option<u32>| v.map_or("RFU".to_owned(), |v| v.to_string());
        writeln!(
            f,
            "Transmission ({src}): Fi={} Di={}, f(max)={} kHz, {} baud at f(max), {} baud at 3.5712 MHz",
            t.fi.map_or("RFU".to_owned(), |v| v.to_string()),
            t.di.map_or("RFU".to_owned(), |v| v.to_string()),
            opt(t.f_max_khz),
            opt(t.baud_at_f_max),
            opt(t.baud_at_typical_clock),
        )?;
        let ascii: String = self
            .historical
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    char::from(b)
                } else {
                    '.'
                }
            })
            .collect();
        writeln!(
            f,
            "Historical bytes ({}): {}  \"{ascii}\"",
            self.historical.len(),
            hex_spaced(&self.historical)
        )?;
        let tck_required = self
            .interface
            .iter()
            .filter_map(|l| l.protocol())
            .any(|t| t != 0);
        match (self.tck, self.tck_ok) {
            (Some(tck), Some(true)) => write!(f, "TCK: {tck:02X} (correct)")?,
            (Some(tck), _) => write!(f, "TCK: {tck:02X} (WRONG)")?,
            (None, _) if tck_required => write!(f, "TCK: absent (MISSING)")?,
            (None, _) => write!(f, "TCK: absent (not required: only T=0 indicated)")?,
        }
        if !self.trailing.is_empty() {
            write!(
                f,
                "\nAfter the end ({}): {}",
                self.trailing.len(),
                hex_spaced(&self.trailing)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Analysis {
    /// The decoding (as far as it goes), then the conformance verdict and every
    /// violation with its clause.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.atr {
            Some(atr) => writeln!(f, "{atr}")?,
            None => writeln!(f, "ATR: (nothing to decode)")?,
        }
        let errors = self
            .violations
            .iter()
            .filter(|v| v.severity == super::Severity::Error)
            .count();
        let warnings = self.violations.len() - errors;
        if self.violations.is_empty() {
            write!(f, "Conformance (ISO/IEC 7816-3:2006): conforms")
        } else {
            write!(
                f,
                "Conformance (ISO/IEC 7816-3:2006): {} ({errors} error(s), {warnings} warning(s))",
                if errors == 0 {
                    "conforms, with warnings"
                } else {
                    "DOES NOT CONFORM"
                }
            )?;
            for v in &self.violations {
                write!(f, "\n  {v}")?;
            }
            Ok(())
        }
    }
}
