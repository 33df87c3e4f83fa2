//! ISO/IEC 7816-3 Answer-To-Reset decoder and conformance checker.
//!
//! Why a decoder of our own: the ATR is the first thing a technician looks at when a
//! card "does not work", and the usual tools either print only hex, stop at the first
//! malformed byte, or guess silently. Here one decoding ([`Atr::analyse`]) reads the
//! bytes as far as they go and lists every violation of ISO/IEC 7816-3:2006 with its
//! clause ([`conformance`]): a missing interface byte, fewer historical bytes than T0
//! declares, a missing or wrong TCK, a byte after the end, more than 33 bytes,
//! reserved Fi/Di, T=15 in TD1, protocols out of order, deprecated VPP bytes, ... A
//! non-conforming ATR is still shown decoded, violations listed.
//!
//! [`Atr::parse`] is the strict view of the same decoding: the first *structural*
//! fault is an [`AtrError`] naming the byte offset; value rules (reserved Fi, TB1, ...)
//! do not make it fail. [`Atr::parse_lenient`] also accepts a wrong TCK, so that a
//! reader can still show what a card sent.
//!
//! The structure (ISO/IEC 7816-3:2006 §8.2):
//!
//! ```text
//! TS T0 [TA1 TB1 TC1 TD1] [TA2 TB2 TC2 TD2] ... T1..TK [TCK]
//! ```
//!
//! - TS is `3B` (direct convention) or `3F` (inverse convention). PC/SC readers hand
//!   the ATR over already decoded, so TS is the only trace of the convention.
//! - The high nibble of T0 (Y1) says which of TA1..TD1 follow; its low nibble is K,
//!   the number of historical bytes. Each TDi repeats the game for level i+1 (high
//!   nibble) and names a protocol T (low nibble).
//! - Protocols offered: the T numbers of the TD bytes; without TD1 only T=0 is
//!   offered. T=15 is not a protocol (it qualifies global interface bytes) and is not
//!   listed, but it still makes TCK mandatory.
//! - TCK is present when any TD byte names a T other than 0; the XOR of T0..TCK is 0.
//!
//! [`smartcard_list`] identifies the card from pcsc-tools' list of known ATRs, offline.
//!
//! This module knows ISO/IEC 7816-3 only. What a card profile puts in the historical
//! bytes (the SSC's chip/COS information, city code and serial, spec `cards.md` §1.1)
//! is read by the card layer, `card::historical`.

pub mod conformance;
mod display;
mod parse;
pub mod smartcard_list;

pub use conformance::{Analysis, Rule, Severity, Violation};

use serde::{Serialize, Serializer};

/// ISO/IEC 7816-3 limit: TS plus at most 32 further bytes.
pub const MAX_ATR_LEN: usize = 33;

/// Reference clock of most PC/SC readers (3.5712 MHz), at which Fi=372/Di=1 gives
/// exactly 9600 baud. Used for the "typical reader" baud rate.
pub const TYPICAL_READER_CLOCK_HZ: u32 = 3_571_200;

/// Why an ATR was rejected. Each variant names the byte offset (0 = TS) where the
/// problem is, so a technician can point at the byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtrError {
    /// No bytes at all (a card that answered nothing, or an empty argument).
    #[error("empty ATR")]
    Empty,
    /// The hex given on the command line did not decode.
    #[error("ATR is not valid hex: {0}")]
    InvalidHex(String),
    /// TS is neither `3B` nor `3F`.
    #[error("offset 0: TS is {0:02X}; expected 3B (direct convention) or 3F (inverse convention)")]
    BadTs(u8),
    /// The ATR ends where T0 or an interface byte announced by T0/TDi was expected.
    #[error("offset {offset}: the ATR ends where {expected} was expected")]
    Truncated {
        /// Offset where the missing byte should be.
        offset: usize,
        /// Which byte: `T0`, `TA1`, `TD2`, ...
        expected: String,
    },
    /// Fewer historical bytes than T0 declares.
    #[error("offset {offset}: T0 declares {declared} historical bytes but only {got} are present")]
    TruncatedHistorical {
        /// Offset of the first historical byte.
        offset: usize,
        /// K from T0.
        declared: usize,
        /// How many are there.
        got: usize,
    },
    /// TCK is mandatory (a protocol other than T=0 is indicated) but absent.
    #[error("offset {offset}: TCK is missing; it is mandatory because T={protocol} is indicated")]
    MissingTck {
        /// Offset where TCK should be.
        offset: usize,
        /// The first indicated T other than 0 that makes TCK mandatory.
        protocol: u8,
    },
    /// TCK does not make the XOR of T0..TCK zero.
    #[error("offset {offset}: TCK is {actual:02X} but should be {expected:02X} (the XOR of T0..TCK must be 00)")]
    TckMismatch {
        /// Offset of TCK.
        offset: usize,
        /// The TCK value the other bytes require.
        expected: u8,
        /// The TCK value present.
        actual: u8,
    },
    /// Bytes after the last byte the structure accounts for.
    #[error("offset {offset}: {count} trailing byte(s) after the end of the ATR")]
    TrailingBytes {
        /// Offset of the first extra byte.
        offset: usize,
        /// How many extra bytes.
        count: usize,
    },
    /// The structure declares more than 33 bytes.
    #[error("the ATR would be at least {len} bytes long; ISO/IEC 7816-3 allows at most 33")]
    TooLong {
        /// Length implied by the bytes read so far (a lower bound).
        len: usize,
    },
}

/// The transmission convention announced by TS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Convention {
    /// TS = `3B`.
    Direct,
    /// TS = `3F`.
    Inverse,
    /// Any other TS (a violation of §8.2.2; the rest is decoded as if direct).
    Invalid,
}

/// The interface bytes of one level i (TAi, TBi, TCi, TDi).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct InterfaceBytes {
    /// The level i, starting at 1.
    pub level: u8,
    /// TAi.
    #[serde(serialize_with = "ser_opt_hex_u8")]
    pub ta: Option<u8>,
    /// TBi.
    #[serde(serialize_with = "ser_opt_hex_u8")]
    pub tb: Option<u8>,
    /// TCi.
    #[serde(serialize_with = "ser_opt_hex_u8")]
    pub tc: Option<u8>,
    /// TDi.
    #[serde(serialize_with = "ser_opt_hex_u8")]
    pub td: Option<u8>,
}

impl InterfaceBytes {
    /// The protocol T named by TDi, if TDi is present.
    pub fn protocol(&self) -> Option<u8> {
        self.td.map(|td| td & 0x0F)
    }
}

/// Clock-rate conversion and baud-rate information from TA1 (or the defaults when TA1
/// is absent). Values are decoded only; nothing is negotiated here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Transmission {
    /// True when TA1 is present; false when these are the ISO defaults.
    pub from_ta1: bool,
    /// FI, the high nibble of TA1 (default 1).
    pub fi_code: u8,
    /// DI, the low nibble of TA1 (default 1).
    pub di_code: u8,
    /// Clock rate conversion factor Fi; `None` when FI is reserved (RFU).
    pub fi: Option<u16>,
    /// Baud rate adjustment factor Di; `None` when DI is reserved (RFU).
    pub di: Option<u16>,
    /// Maximum clock frequency f(max) in kHz; `None` when FI is RFU.
    pub f_max_khz: Option<u32>,
    /// Baud rate at f(max): f(max) × Di / Fi.
    pub baud_at_f_max: Option<u32>,
    /// Baud rate at the 3.5712 MHz clock most readers use.
    pub baud_at_typical_clock: Option<u32>,
}

impl Transmission {
    fn decode(ta1: Option<u8>) -> Self {
        let (from_ta1, fi_code, di_code) = match ta1 {
            Some(b) => (true, b >> 4, b & 0x0F),
            None => (false, 1, 1),
        };
        let (fi, f_max_khz) = match fi_code {
            0 => (Some(372), Some(4_000)),
            1 => (Some(372), Some(5_000)),
            2 => (Some(558), Some(6_000)),
            3 => (Some(744), Some(8_000)),
            4 => (Some(1116), Some(12_000)),
            5 => (Some(1488), Some(16_000)),
            6 => (Some(1860), Some(20_000)),
            9 => (Some(512), Some(5_000)),
            10 => (Some(768), Some(7_500)),
            11 => (Some(1024), Some(10_000)),
            12 => (Some(1536), Some(15_000)),
            13 => (Some(2048), Some(20_000)),
            _ => (None, None),
        };
        let di = match di_code {
            1 => Some(1),
            2 => Some(2),
            3 => Some(4),
            4 => Some(8),
            5 => Some(16),
            6 => Some(32),
            7 => Some(64),
            8 => Some(12),
            9 => Some(20),
            _ => None,
        };
        let baud = |clock_hz: u64| -> Option<u32> {
            let (fi, di) = (u64::from(fi?), u64::from(di?));
            u32::try_from(clock_hz * di / fi).ok()
        };
        Transmission {
            from_ta1,
            fi_code,
            di_code,
            fi,
            di,
            f_max_khz,
            baud_at_f_max: f_max_khz.and_then(|k| baud(u64::from(k) * 1000)),
            baud_at_typical_clock: baud(u64::from(TYPICAL_READER_CLOCK_HZ)),
        }
    }
}

/// A decoded ATR. Every field is derived from `raw`, which is kept verbatim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Atr {
    /// The ATR bytes as received.
    #[serde(serialize_with = "ser_hex")]
    pub raw: Vec<u8>,
    /// Convention from TS.
    pub ts: Convention,
    /// The format byte T0 (Y1 in the high nibble, K in the low nibble).
    #[serde(serialize_with = "ser_hex_u8")]
    pub t0: u8,
    /// Interface bytes, one entry per level present (level 1 first). Empty when T0
    /// announces no interface bytes.
    pub interface: Vec<InterfaceBytes>,
    /// Protocols offered (T numbers, in order of appearance, without duplicates and
    /// without T=15). `[0]` when no TD1 is present.
    pub protocols: Vec<u8>,
    /// The K historical bytes.
    #[serde(serialize_with = "ser_hex")]
    pub historical: Vec<u8>,
    /// TCK, when present.
    #[serde(serialize_with = "ser_opt_hex_u8")]
    pub tck: Option<u8>,
    /// Whether TCK is right; `None` when there is no TCK. Always `Some(true)` from
    /// [`Atr::parse`]; [`Atr::parse_lenient`] may give `Some(false)`.
    pub tck_ok: Option<bool>,
    /// Bytes after the end of the structure (always empty from [`Atr::parse`]).
    #[serde(serialize_with = "ser_hex")]
    pub trailing: Vec<u8>,
    /// Fi/Di, clock and baud information from TA1 (or the defaults).
    pub transmission: Transmission,
}

impl Atr {
    /// Parses an ATR strictly: any structural error or a wrong TCK is an error.
    ///
    /// # Errors
    /// An [`AtrError`] naming the offending byte offset.
    pub fn parse(bytes: &[u8]) -> Result<Atr, AtrError> {
        parse_inner(bytes, true)
    }

    /// Decodes as far as the bytes go and checks every rule of ISO/IEC 7816-3:2006
    /// (see [`conformance`]). Never fails: faults are in [`Analysis::violations`].
    pub fn analyse(bytes: &[u8]) -> Analysis {
        let (atr, mut violations) = parse::decode(bytes);
        if let Some(a) = &atr {
            conformance::check_values(a, &mut violations);
        }
        Analysis { atr, violations }
    }

    /// Like [`Atr::parse`] but accepts a wrong TCK (reported as `tck_ok =
    /// Some(false)`), so that a tool can still display what the card sent. Every
    /// other error remains an error.
    ///
    /// # Errors
    /// As [`Atr::parse`], except [`AtrError::TckMismatch`].
    pub fn parse_lenient(bytes: &[u8]) -> Result<Atr, AtrError> {
        parse_inner(bytes, false)
    }

    /// Parses an ATR given as hex, as typed on a command line: spaces, colons and
    /// dashes between bytes are ignored, case does not matter.
    ///
    /// # Errors
    /// [`AtrError::InvalidHex`] for bad hex, else as [`Atr::parse`].
    pub fn from_hex(text: &str) -> Result<Atr, AtrError> {
        let cleaned: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, ':' | '-'))
            .collect();
        let bytes = hex::decode(&cleaned).map_err(|e| AtrError::InvalidHex(e.to_string()))?;
        Atr::parse(&bytes)
    }

    /// Interface bytes of level `i` (1-based), if that level is present.
    pub fn level(&self, i: u8) -> Option<&InterfaceBytes> {
        self.interface.iter().find(|l| l.level == i)
    }

    /// TA1, TB1, ... by level: convenience accessors.
    pub fn ta(&self, i: u8) -> Option<u8> {
        self.level(i).and_then(|l| l.ta)
    }
    /// TBi.
    pub fn tb(&self, i: u8) -> Option<u8> {
        self.level(i).and_then(|l| l.tb)
    }
    /// TCi.
    pub fn tc(&self, i: u8) -> Option<u8> {
        self.level(i).and_then(|l| l.tc)
    }
    /// TDi.
    pub fn td(&self, i: u8) -> Option<u8> {
        self.level(i).and_then(|l| l.td)
    }
}

fn parse_inner(bytes: &[u8], strict_tck: bool) -> Result<Atr, AtrError> {
    let (atr, violations) = parse::decode(bytes);
    let first = violations
        .into_iter()
        .filter_map(|v| v.structural)
        .find(|e| strict_tck || !matches!(e, AtrError::TckMismatch { .. }));
    match (first, atr) {
        (Some(e), _) => Err(e),
        (None, Some(atr)) => Ok(atr),
        // decode() gives no ATR only together with a structural error.
        (None, None) => Err(AtrError::Empty),
    }
}

pub(crate) fn ser_hex<S: Serializer, B: AsRef<[u8]>>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode_upper(bytes.as_ref()))
}

fn ser_hex_u8<S: Serializer>(b: &u8, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{b:02X}"))
}

fn ser_opt_hex_u8<S: Serializer>(b: &Option<u8>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => ser_hex_u8(b, s),
        None => s.serialize_none(),
    }
}

/// Checks the parser's invariants on arbitrary input; shared by the proptests and the
/// cargo-fuzz target `atr` so both exercise the same properties.
///
/// Panics (that is the point) when an invariant is broken: the parse must not panic,
/// an accepted ATR must be 2..=33 bytes and keep `raw` verbatim, Display and JSON must
/// work, and the lenient parse must agree with the strict one except on TCK.
#[doc(hidden)]
pub fn fuzz_check(data: &[u8]) {
    let strict = Atr::parse(data);
    let lenient = Atr::parse_lenient(data);
    match (&strict, &lenient) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(AtrError::TckMismatch { .. }), Ok(b)) => assert_eq!(b.tck_ok, Some(false)),
        // The lenient parse goes past the bad TCK and may find trailing bytes.
        (Err(AtrError::TckMismatch { .. }), Err(AtrError::TrailingBytes { .. })) => {}
        (Err(e1), Err(e2)) => assert_eq!(e1, e2),
        (s, l) => panic!("strict {s:?} vs lenient {l:?}"),
    }
    if let Ok(atr) = lenient {
        assert!((2..=MAX_ATR_LEN).contains(&atr.raw.len()));
        assert_eq!(atr.raw, data);
        assert_eq!(atr.tck.is_some(), atr.tck_ok.is_some());
        assert!(!atr.protocols.is_empty());
        let _ = atr.to_string();
        let _ = serde_json::to_string(&atr).map_err(|e| panic!("json: {e}"));
        assert!(atr.trailing.is_empty());
    }
    // The full analysis: never panics, shows and serialises, and agrees with the
    // strict parse (which is its first structural fault).
    let analysis = Atr::analyse(data);
    let _ = analysis.to_string();
    let _ = serde_json::to_string(&analysis).map_err(|e| panic!("json: {e}"));
    let first = analysis
        .violations
        .iter()
        .find_map(|v| v.structural.clone());
    match &strict {
        Ok(a) => {
            assert_eq!(first, None);
            assert_eq!(analysis.atr.as_ref(), Some(a));
        }
        Err(e) => assert_eq!(first.as_ref(), Some(e)),
    }
    if let Some(a) = &analysis.atr {
        assert_eq!(a.raw, data);
        assert!(!a.protocols.is_empty());
        let _ = a.to_string();
    }
    for v in &analysis.violations {
        assert!(v.clause.starts_with("ISO/IEC 7816-3:2006 §"), "{v:?}");
        assert!(v.offset.is_none_or(|o| o <= data.len()), "{v:?}");
    }
}

#[cfg(test)]
mod tests;
