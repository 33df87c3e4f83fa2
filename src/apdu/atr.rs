//! ISO/IEC 7816-3 Answer-To-Reset decoder.
//!
//! Why a decoder of our own: the ATR is the first thing a technician looks at when a
//! card "does not work", and the usual tools either print only hex or guess silently
//! when the bytes are malformed. This parser is strict on purpose: every structural
//! problem (a missing interface byte, fewer historical bytes than T0 declares, a
//! missing or wrong TCK, junk after the end, more than 33 bytes) is an [`AtrError`]
//! that names the byte offset and what was expected there, so `sscard atr` can say
//! *which* byte is wrong instead of printing a half-decoded structure.
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
//! [`Atr::parse_lenient`] exists because a reader should still *show* an ATR whose
//! checksum is wrong; it is the only relaxation.
//!
//! The SSC profile (spec `cards.md` §1.1) puts chip/COS information, a BCD city code
//! and a serial number into the 13 historical bytes: [`ssc_historical`] splits them.

use std::fmt;

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

    /// The SSC reading of the historical bytes (see [`ssc_historical`]).
    pub fn ssc_historical(&self) -> Option<SscHistorical> {
        ssc_historical(&self.historical)
    }
}

/// Reads byte `pos`, or says which byte was expected there.
fn byte_at(bytes: &[u8], pos: usize, expected: impl FnOnce() -> String) -> Result<u8, AtrError> {
    if pos >= MAX_ATR_LEN {
        return Err(AtrError::TooLong { len: pos + 1 });
    }
    bytes.get(pos).copied().ok_or_else(|| AtrError::Truncated {
        offset: pos,
        expected: expected(),
    })
}

fn parse_inner(bytes: &[u8], strict_tck: bool) -> Result<Atr, AtrError> {
    let first = *bytes.first().ok_or(AtrError::Empty)?;
    let ts = match first {
        0x3B => Convention::Direct,
        0x3F => Convention::Inverse,
        other => return Err(AtrError::BadTs(other)),
    };
    let t0 = byte_at(bytes, 1, || "T0".to_owned())?;
    let mut pos = 2;
    let k = usize::from(t0 & 0x0F);
    let mut y = t0 >> 4;
    let mut interface = Vec::new();
    let mut level: u8 = 1;
    // Each TDi adds at least one byte, and byte_at stops at offset 33, so this loop
    // runs at most 32 times and `level` cannot overflow.
    while y != 0 {
        let mut ib = InterfaceBytes {
            level,
            ..InterfaceBytes::default()
        };
        for (bit, name) in [(0x1, 'A'), (0x2, 'B'), (0x4, 'C'), (0x8, 'D')] {
            if y & bit == 0 {
                continue;
            }
            let b = byte_at(bytes, pos, || format!("T{name}{level}"))?;
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

    let hist_start = pos;
    if hist_start + k > MAX_ATR_LEN {
        return Err(AtrError::TooLong {
            len: hist_start + k,
        });
    }
    let got = bytes.len().saturating_sub(hist_start);
    if got < k {
        return Err(AtrError::TruncatedHistorical {
            offset: hist_start,
            declared: k,
            got,
        });
    }
    let historical = bytes[hist_start..hist_start + k].to_vec();
    let mut end = hist_start + k;

    let indicated: Vec<u8> = interface
        .iter()
        .filter_map(InterfaceBytes::protocol)
        .collect();
    let tck_reason = indicated.iter().copied().find(|&t| t != 0);
    let (tck, tck_ok) = match tck_reason {
        None => (None, None),
        Some(protocol) => {
            let offset = end;
            if offset >= MAX_ATR_LEN {
                return Err(AtrError::TooLong { len: offset + 1 });
            }
            let actual = *bytes
                .get(offset)
                .ok_or(AtrError::MissingTck { offset, protocol })?;
            let expected = bytes[1..offset].iter().fold(0u8, |acc, b| acc ^ b);
            if strict_tck && expected != actual {
                return Err(AtrError::TckMismatch {
                    offset,
                    expected,
                    actual,
                });
            }
            end += 1;
            (Some(actual), Some(expected == actual))
        }
    };
    if bytes.len() > end {
        return Err(AtrError::TrailingBytes {
            offset: end,
            count: bytes.len() - end,
        });
    }

    let mut protocols: Vec<u8> = Vec::new();
    for t in indicated {
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
    Ok(Atr {
        raw: bytes.to_vec(),
        ts,
        t0,
        interface,
        protocols,
        historical,
        tck,
        tck_ok,
        transmission: Transmission::decode(ta1),
    })
}

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
        ('C', 1, _) if b == 0xFF => "extra guard time N=255 (minimum guard time)".to_owned(),
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
        ('A', _, Some(15)) => format!("clock stop X={}, class UI=0x{:02X}", b >> 6, b & 0x3F),
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
        match (self.tck, self.tck_ok) {
            (Some(tck), Some(true)) => write!(f, "TCK: {tck:02X} (correct)"),
            (Some(tck), _) => write!(f, "TCK: {tck:02X} (WRONG)"),
            (None, _) => write!(f, "TCK: absent (not required: only T=0 indicated)"),
        }
    }
}

/// The SSC historical bytes (spec `cards.md` §1.1): 7 bytes of chip/COS information,
/// 2 bytes of BCD city code (the first 4 digits of the region code), 4 serial bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SscHistorical {
    /// Chip and COS information, shown as is (its meaning is vendor specific).
    #[serde(serialize_with = "ser_hex")]
    pub chip_info: [u8; 7],
    /// The city code bytes as stored.
    #[serde(serialize_with = "ser_hex")]
    pub city_code_raw: [u8; 2],
    /// The city code as 4 decimal digits; `None` when the bytes are not valid BCD.
    pub city_code: Option<String>,
    /// Serial bytes.
    #[serde(serialize_with = "ser_hex")]
    pub serial: [u8; 4],
}

impl fmt::Display for SscHistorical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "chip/COS {}, city code {}, serial {}",
            hex::encode_upper(self.chip_info),
            self.city_code
                .clone()
                .unwrap_or_else(|| format!("{} (not BCD)", hex::encode_upper(self.city_code_raw))),
            hex::encode_upper(self.serial)
        )
    }
}

/// Splits SSC historical bytes. `None` unless there are exactly 13 bytes. Note that
/// the PSAM's ATR has the same layout length, so this does not prove the card is an
/// SSC: it only reads the fields for display.
pub fn ssc_historical(hist: &[u8]) -> Option<SscHistorical> {
    let hist: &[u8; 13] = hist.try_into().ok()?;
    let mut chip_info = [0u8; 7];
    chip_info.copy_from_slice(&hist[..7]);
    let city_code_raw = [hist[7], hist[8]];
    let mut serial = [0u8; 4];
    serial.copy_from_slice(&hist[9..]);
    let is_bcd = city_code_raw.iter().all(|b| b >> 4 <= 9 && b & 0x0F <= 9);
    let city_code = is_bcd.then(|| hex::encode(city_code_raw));
    Some(SscHistorical {
        chip_info,
        city_code_raw,
        city_code,
        serial,
    })
}

fn ser_hex<S: Serializer, B: AsRef<[u8]>>(bytes: &B, s: S) -> Result<S::Ok, S::Error> {
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
        let _ = atr.ssc_historical().map(|h| h.to_string());
    }
    let _ = ssc_historical(data);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).expect("test hex")
    }

    const SSC: &str = "3B 6D 00 00 00 81 54 4C 96 86 84 63 99 48 FB 49 66";
    const CITY: &str = "3B 68 00 00 59 42 2E 43 49 54 59 31";
    const PSAM: &str = "3B 6D 00 00 00 81 54 4C 00 86 84 08 07 23 00 05 C0";
    const YUBIKEY: &str = "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40";
    // NXP JCOP 2.4.1 (J3A081-style) contact interface, T=1.
    const JCOP: &str = "3B F8 13 00 00 81 31 FE 45 4A 43 4F 50 76 32 34 31 B7";

    #[test]
    fn ssc_atr() {
        let atr = Atr::parse(&h(SSC)).expect("SSC ATR");
        assert_eq!(atr.ts, Convention::Direct);
        assert_eq!(atr.t0, 0x6D);
        assert_eq!(atr.interface.len(), 1);
        assert_eq!(atr.tb(1), Some(0x00));
        assert_eq!(atr.tc(1), Some(0x00));
        assert_eq!(atr.ta(1), None);
        assert_eq!(atr.td(1), None);
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.historical, h("00 81 54 4C 96 86 84 63 99 48 FB 49 66"));
        assert_eq!(atr.tck, None);
        assert_eq!(atr.tck_ok, None);
        assert!(!atr.transmission.from_ta1);
        assert_eq!(atr.transmission.fi, Some(372));
        assert_eq!(atr.transmission.baud_at_typical_clock, Some(9600));
        let hist = atr.ssc_historical().expect("13 bytes");
        assert_eq!(hist.chip_info, [0x00, 0x81, 0x54, 0x4C, 0x96, 0x86, 0x84]);
        assert_eq!(hist.city_code.as_deref(), Some("6399"));
        assert_eq!(hist.serial, [0x48, 0xFB, 0x49, 0x66]);
        // The national output format (cards.md §4) prints the historical bytes as hex.
        assert_eq!(
            hex::encode_upper(&atr.historical),
            "0081544C968684639948FB4966"
        );
    }

    #[test]
    fn city_atr() {
        let atr = Atr::parse(&h(CITY)).expect("CITY ATR");
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.historical, b"YB.CITY1");
        assert_eq!(atr.ssc_historical(), None);
        assert!(atr.to_string().contains("\"YB.CITY1\""));
    }

    #[test]
    fn psam_atr() {
        let atr = Atr::parse(&h(PSAM)).expect("PSAM ATR");
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.historical.len(), 13);
        let hist = ssc_historical(&atr.historical).expect("13 bytes");
        assert_eq!(hist.city_code.as_deref(), Some("0807"));
    }

    #[test]
    fn yubikey_t1_with_tck() {
        let bytes = h(YUBIKEY);
        // Check TCK independently: XOR of T0..TCK is zero.
        assert_eq!(bytes[1..].iter().fold(0u8, |a, b| a ^ b), 0);
        let atr = Atr::parse(&bytes).expect("Yubikey ATR");
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.ta(1), Some(0x13));
        assert_eq!(atr.td(1), Some(0x81));
        assert_eq!(atr.td(2), Some(0x31));
        assert_eq!(atr.ta(3), Some(0xFE));
        assert_eq!(atr.tb(3), Some(0x15));
        assert_eq!(atr.tck, Some(0x40));
        assert_eq!(atr.tck_ok, Some(true));
        assert_eq!(&atr.historical[6..], b"YubiKey");
        let t = atr.transmission;
        assert!(t.from_ta1);
        assert_eq!((t.fi, t.di, t.f_max_khz), (Some(372), Some(4), Some(5000)));
        assert_eq!(t.baud_at_typical_clock, Some(38400));
        let text = atr.to_string();
        assert!(text.contains("T=1 IFSC=254"), "{text}");
        assert!(text.contains("TCK: 40 (correct)"), "{text}");
    }

    #[test]
    fn jcop_t1_with_tck() {
        let atr = Atr::parse(&h(JCOP)).expect("JCOP ATR");
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.historical, b"JCOPv241");
        assert_eq!(atr.tck_ok, Some(true));
    }

    #[test]
    fn t0_and_t1_offered_and_t15() {
        // TD1=80 (T=0, TD2 follows), TD2=1F (T=15 -> TA3), TA3=C7, no historical.
        let mut b = h("3B 80 80 1F C7");
        let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
        b.push(tck);
        let atr = Atr::parse(&b).expect("T=0 + T=15");
        assert_eq!(atr.protocols, vec![0]);
        assert_eq!(atr.tck, Some(tck));
        assert!(atr.to_string().contains("clock stop"));

        let mut b = h("3B 80 80 01");
        let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
        b.push(tck);
        let atr = Atr::parse(&b).expect("T=0 and T=1");
        assert_eq!(atr.protocols, vec![0, 1]);
    }

    #[test]
    fn inverse_convention_and_hex_input() {
        let atr = Atr::from_hex("3f:60 00 00").expect("inverse");
        assert_eq!(atr.ts, Convention::Inverse);
        assert_eq!(
            Atr::from_hex("3B 6"),
            Err(AtrError::InvalidHex("Odd number of digits".into()))
        );
    }

    #[test]
    fn json_is_hex_strings() {
        let atr = Atr::parse(&h(SSC)).expect("SSC ATR");
        let v = serde_json::to_value(&atr).expect("json");
        assert_eq!(v["raw"], "3B6D00000081544C968684639948FB4966");
        assert_eq!(v["ts"], "direct");
        assert_eq!(v["t0"], "6D");
        assert_eq!(v["interface"][0]["tb"], "00");
        assert_eq!(v["interface"][0]["ta"], serde_json::Value::Null);
        assert_eq!(v["protocols"], serde_json::json!([0]));
        assert_eq!(v["tck"], serde_json::Value::Null);
    }

    #[test]
    fn display_summary() {
        let text = Atr::parse(&h(SSC)).expect("SSC").to_string();
        assert!(text.starts_with("ATR: 3B 6D 00 00"), "{text}");
        assert!(text.contains("direct convention"), "{text}");
        assert!(text.contains("Protocols: T=0 (implied: no TD1)"), "{text}");
        assert!(text.contains("Historical bytes (13)"), "{text}");
        assert!(text.contains("TCK: absent"), "{text}");
        assert!(text.lines().count() >= 6, "{text}");
    }

    #[test]
    fn error_empty() {
        assert_eq!(Atr::parse(&[]), Err(AtrError::Empty));
    }

    #[test]
    fn error_bad_ts() {
        let e = Atr::parse(&h("3C 00")).expect_err("must be rejected");
        assert_eq!(e, AtrError::BadTs(0x3C));
        assert!(e.to_string().starts_with("offset 0: TS is 3C"));
    }

    #[test]
    fn error_truncated_interface() {
        assert_eq!(
            Atr::parse(&h("3B")),
            Err(AtrError::Truncated {
                offset: 1,
                expected: "T0".into()
            })
        );
        // T0=F0: TA1..TD1 announced, only TA1 TB1 present.
        let e = Atr::parse(&h("3B F0 11 00")).expect_err("must be rejected");
        assert_eq!(
            e,
            AtrError::Truncated {
                offset: 4,
                expected: "TC1".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "offset 4: the ATR ends where TC1 was expected"
        );
        // TD1=81 announces TD2.
        assert_eq!(
            Atr::parse(&h("3B 80 81")),
            Err(AtrError::Truncated {
                offset: 3,
                expected: "TD2".into()
            })
        );
    }

    #[test]
    fn error_truncated_historical() {
        let e = Atr::parse(&h("3B 6D 00 00 00 81 54")).expect_err("must be rejected");
        assert_eq!(
            e,
            AtrError::TruncatedHistorical {
                offset: 4,
                declared: 13,
                got: 3
            }
        );
    }

    #[test]
    fn error_missing_tck() {
        let b = h(YUBIKEY);
        let e = Atr::parse(&b[..b.len() - 1]).expect_err("must be rejected");
        assert_eq!(
            e,
            AtrError::MissingTck {
                offset: 22,
                protocol: 1
            }
        );
    }

    #[test]
    fn error_tck_mismatch_and_lenient() {
        let mut b = h(YUBIKEY);
        let last = b.len() - 1;
        b[last] = 0x41;
        assert_eq!(
            Atr::parse(&b),
            Err(AtrError::TckMismatch {
                offset: 22,
                expected: 0x40,
                actual: 0x41
            })
        );
        let atr = Atr::parse_lenient(&b).expect("lenient accepts a bad TCK");
        assert_eq!(atr.tck_ok, Some(false));
        assert!(atr.to_string().contains("TCK: 41 (WRONG)"));
    }

    #[test]
    fn tck_checked_before_trailing_bytes() {
        // Found by the property test: a wrong TCK followed by junk. The strict parse
        // reports the TCK; the lenient one goes on and reports the junk.
        let b = h("3B 80 01 00 00 00");
        assert_eq!(
            Atr::parse(&b),
            Err(AtrError::TckMismatch {
                offset: 3,
                expected: 0x81,
                actual: 0x00
            })
        );
        assert_eq!(
            Atr::parse_lenient(&b),
            Err(AtrError::TrailingBytes {
                offset: 4,
                count: 2
            })
        );
        fuzz_check(&b);
    }

    #[test]
    fn error_trailing_bytes() {
        // A T=0-only ATR followed by an extra byte (a TCK that must not be there).
        let mut b = h(SSC);
        b.push(0x12);
        assert_eq!(
            Atr::parse(&b),
            Err(AtrError::TrailingBytes {
                offset: 17,
                count: 1
            })
        );
        let mut b = h(YUBIKEY);
        b.extend([0, 0]);
        assert_eq!(
            Atr::parse(&b),
            Err(AtrError::TrailingBytes {
                offset: 23,
                count: 2
            })
        );
    }

    #[test]
    fn error_too_long() {
        // A chain of TDi = 80 (each announcing the next TD) runs past offset 32.
        let mut b = vec![0x3B, 0x80];
        b.extend([0x80u8; 40]);
        assert_eq!(Atr::parse(&b), Err(AtrError::TooLong { len: 34 }));
        // 17 interface bytes fit, but then K=15 historical bytes do not.
        // T0=8F (TD1, K=15); TD1..TD4=F0 (all four bytes of the next level); TD5=00.
        let mut b = vec![0x3B, 0x8F, 0xF0];
        for _ in 0..3 {
            b.extend([0x00, 0x00, 0x00, 0xF0]);
        }
        b.extend([0x00, 0x00, 0x00, 0x00]);
        assert_eq!(b.len(), 19);
        b.extend([0x41; 15]);
        assert_eq!(Atr::parse(&b), Err(AtrError::TooLong { len: 34 }));
        assert!(AtrError::TooLong { len: 34 }
            .to_string()
            .contains("at most 33"));
    }

    #[test]
    fn max_length_boundary() {
        // TS T0=FF | TA1 TB1 TC1 TD1=F1 | TA2 TB2 TC2 TD2=F1 | TA3 TB3 TC3 TD3=71 |
        // TA4 TB4 TC4 | 15 historical bytes | TCK: exactly 33 bytes.
        let mut b = vec![0x3B, 0xFF, 0x11, 0x00, 0x00, 0xF1];
        b.extend([0x00, 0x00, 0x00, 0xF1]);
        b.extend([0xFE, 0x45, 0x00, 0x71]);
        b.extend([0x20, 0x00, 0x00]);
        b.extend([0x41; 15]);
        let tck = b[1..].iter().fold(0u8, |a, x| a ^ x);
        b.push(tck);
        assert_eq!(b.len(), MAX_ATR_LEN);
        let atr = Atr::parse(&b).expect("33-byte ATR");
        assert_eq!(atr.interface.len(), 4);
        assert_eq!(atr.protocols, vec![1]);
        assert_eq!(atr.tck_ok, Some(true));
        // One more interface byte (TD4) pushes TCK to offset 33.
        let mut c = b[..b.len() - 1].to_vec();
        c[13] = 0xF1;
        c.insert(17, 0x01);
        assert_eq!(Atr::parse(&c), Err(AtrError::TooLong { len: 34 }));
    }

    #[test]
    fn ta1_rfu_values() {
        // TA1=7F: FI=7 and DI=F are both RFU.
        let atr = Atr::parse(&h("3B 10 7F")).expect("TA1 only");
        assert_eq!(atr.transmission.fi, None);
        assert_eq!(atr.transmission.di, None);
        assert_eq!(atr.transmission.baud_at_f_max, None);
        assert!(atr.to_string().contains("Fi=RFU, Di=RFU"));
    }

    #[test]
    fn ssc_historical_lengths() {
        assert_eq!(ssc_historical(&[0; 12]), None);
        assert_eq!(ssc_historical(&[0; 14]), None);
        let mut hist = [0u8; 13];
        hist[7] = 0xA1;
        let s = ssc_historical(&hist).expect("13 bytes");
        assert_eq!(s.city_code, None);
        assert!(s.to_string().contains("A100 (not BCD)"));
    }

    #[test]
    fn fuzz_check_on_known_atrs() {
        for a in [SSC, CITY, PSAM, YUBIKEY, JCOP] {
            fuzz_check(&h(a));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(data in proptest::collection::vec(any::<u8>(), 0..64)) {
            fuzz_check(&data);
        }

        #[test]
        fn parse_never_panics_plausible(
            t0 in any::<u8>(),
            rest in proptest::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut data = vec![0x3B, t0];
            data.extend(rest);
            fuzz_check(&data);
        }
    }
}
