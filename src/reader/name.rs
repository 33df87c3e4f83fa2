//! Reader names as the bytes PC/SC gives, and how to show and match them.
//!
//! Why bytes: `SCardListReaders` returns NUL-terminated byte strings in whatever
//! encoding the driver's `Info.plist` or `reader.conf` used. Chinese reader vendors
//! ship GBK names (`DECARD 德卡 T10 读卡器` is `44 45 43 41 52 44 20 B5 C2 BF A8 ...`).
//! Turning such a name into a Rust `String` loses bytes (the replacement character),
//! and the lossy text no longer names any reader when handed back to `SCardConnect`.
//! So a [`ReaderName`] keeps the exact bytes (a `CString`) from the listing to the
//! connect call, and text is made only for people:
//!
//! - **Display** ([`fmt::Display`]) decodes in the locale's character set (GBK for
//!   `zh_CN.GBK`/`GB2312`/`GB18030` locales, read from `LC_ALL`, `LC_CTYPE`, `LANG`, in
//!   that order; UTF-8 otherwise). Bytes that do not decode are shown as `\xNN`, so
//!   nothing is hidden and no two different names look alike for lack of a byte. A
//!   name is never passed to the terminal raw: control bytes are escaped too.
//! - **JSON** carries `name` (the UTF-8 reading with `\xNN` escapes, the same on every
//!   locale), `name_hex` (the exact bytes) and, when the bytes are not UTF-8 but read
//!   cleanly as GBK, `name_gbk`.
//! - **Matching** a `--reader TEXT` ([`ReaderName::matches`]) compares, ignoring case,
//!   against the raw bytes, the UTF-8 reading, the GBK reading and what is displayed,
//!   so a technician can type what they see, or the Chinese part in either encoding.

use encoding_rs::{Encoding, GBK, UTF_8};
use std::ffi::{CStr, CString};
use std::fmt;

/// A reader name exactly as PC/SC reports it (bytes, no NUL inside).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReaderName(CString);

/// The character set used to show names to people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8 (the default).
    Utf8,
    /// GBK (GB18030 decoder), for Chinese GBK locales.
    Gbk,
}

impl Charset {
    /// The character set of the current locale, from `LC_ALL`, `LC_CTYPE`, `LANG`
    /// (the first one set and not empty), as the C library would choose it.
    pub fn from_locale() -> Charset {
        let value = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .filter_map(|k| std::env::var(k).ok())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        Charset::of_locale(&value)
    }

    /// The character set a locale name (`zh_CN.GBK`, `zh_CN.UTF-8`, `C`) means.
    pub fn of_locale(locale: &str) -> Charset {
        let without_modifier = locale.split('@').next().unwrap_or("");
        let (lang, codeset) = match without_modifier.split_once('.') {
            Some((l, c)) => (l, Some(c)),
            None => (without_modifier, None),
        };
        let gbk = match codeset {
            Some(c) => {
                let c: String = c
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric())
                    .collect::<String>()
                    .to_ascii_lowercase();
                matches!(c.as_str(), "gbk" | "gb2312" | "gb18030" | "euccn" | "cp936")
            }
            // glibc: a bare zh_CN / zh_SG locale is GB2312.
            None => matches!(lang, "zh_CN" | "zh_SG"),
        };
        if gbk {
            Charset::Gbk
        } else {
            Charset::Utf8
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            Charset::Utf8 => UTF_8,
            Charset::Gbk => GBK,
        }
    }
}

/// Decodes `bytes` with `enc`, showing every byte that does not decode, and every
/// control character, as `\xNN`.
fn decode_escaped(bytes: &[u8], enc: &'static Encoding) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut rest = bytes;
    let mut buf = String::with_capacity(bytes.len() * 4 + 16);
    loop {
        buf.clear();
        let (result, read) = decoder.decode_to_string_without_replacement(rest, &mut buf, true);
        push_visible(&mut out, &buf);
        match result {
            encoding_rs::DecoderResult::InputEmpty => break,
            encoding_rs::DecoderResult::OutputFull => {
                rest = &rest[read..];
                buf.reserve(rest.len() * 4 + 16);
            }
            encoding_rs::DecoderResult::Malformed(bad, pending) => {
                // The bad bytes end `pending` bytes before `read`.
                let end = read - usize::from(pending);
                let start = end.saturating_sub(usize::from(bad));
                for b in &rest[start..end] {
                    out.push_str(&format!("\\x{b:02X}"));
                }
                // The `pending` bytes after the bad ones were consumed but not
                // decoded yet: decode them again from a fresh state.
                rest = &rest[end..];
                decoder = enc.new_decoder_without_bom_handling();
            }
        }
    }
    out
}

fn push_visible(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            for b in c.to_string().as_bytes() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
}

/// ASCII-case-insensitive byte substring search.
fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

impl ReaderName {
    /// Wraps the name PC/SC gave.
    pub fn new(name: CString) -> Self {
        ReaderName(name)
    }

    /// A name from raw bytes; everything from the first NUL on is dropped (PC/SC
    /// names end there).
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        ReaderName(CString::new(&bytes[..end]).unwrap_or_default())
    }

    /// The name for `SCardConnect` / `SCardGetStatusChange`.
    pub fn as_c_str(&self) -> &CStr {
        &self.0
    }

    /// The exact bytes (without the NUL).
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The exact bytes in upper-case hex.
    pub fn hex(&self) -> String {
        hex::encode_upper(self.as_bytes())
    }

    /// Whether the bytes are valid UTF-8.
    pub fn is_utf8(&self) -> bool {
        std::str::from_utf8(self.as_bytes()).is_ok()
    }

    /// The UTF-8 reading, bytes that are not UTF-8 (and control characters) as `\xNN`.
    pub fn utf8_escaped(&self) -> String {
        decode_escaped(self.as_bytes(), UTF_8)
    }

    /// The GBK reading, when the bytes are not UTF-8 but are entirely valid GBK
    /// (`None` otherwise: a partial GBK reading would be a guess).
    pub fn gbk(&self) -> Option<String> {
        if self.is_utf8() {
            return None;
        }
        GBK.decode_without_bom_handling_and_without_replacement(self.as_bytes())
            .map(|t| {
                let mut s = String::new();
                push_visible(&mut s, &t);
                s
            })
    }

    /// The name as shown on a terminal using `charset` (see the module docs).
    pub fn display_in(&self, charset: Charset) -> String {
        decode_escaped(self.as_bytes(), charset.encoding())
    }

    /// Whether `needle` (as typed: bytes, usually UTF-8) names this reader: a
    /// case-insensitive substring of the raw bytes, of the UTF-8 or GBK reading, or of
    /// the displayed text; or, typed as UTF-8 text, its GBK encoding is in the bytes.
    pub fn matches(&self, needle: &[u8]) -> bool {
        if contains_bytes(self.as_bytes(), needle) {
            return true;
        }
        let Ok(text) = std::str::from_utf8(needle) else {
            return false;
        };
        let text = text.to_lowercase();
        let readings = [
            Some(self.utf8_escaped()),
            self.gbk(),
            Some(self.display_in(Charset::from_locale())),
        ];
        if readings
            .iter()
            .flatten()
            .any(|r| r.to_lowercase().contains(&text))
        {
            return true;
        }
        let (gbk, _, unmappable) = GBK.encode(&text);
        !unmappable && !text.is_ascii() && contains_bytes(self.as_bytes(), &gbk)
    }

    /// Whether `needle` is exactly this name: the bytes, or a reading of them.
    pub fn is_exactly(&self, needle: &[u8]) -> bool {
        if self.as_bytes() == needle {
            return true;
        }
        std::str::from_utf8(needle).is_ok_and(|t| {
            self.utf8_escaped() == t
                || self.gbk().as_deref() == Some(t)
                || self.display_in(Charset::from_locale()) == t
        })
    }
}

impl From<&str> for ReaderName {
    fn from(s: &str) -> Self {
        ReaderName::from_bytes(s.as_bytes())
    }
}

impl From<String> for ReaderName {
    fn from(s: String) -> Self {
        ReaderName::from_bytes(s.as_bytes())
    }
}

impl From<CString> for ReaderName {
    fn from(c: CString) -> Self {
        ReaderName(c)
    }
}

impl From<&CStr> for ReaderName {
    fn from(c: &CStr) -> Self {
        ReaderName(c.to_owned())
    }
}

impl PartialEq<str> for ReaderName {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for ReaderName {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Display for ReaderName {
    /// The name in the locale's character set, undecodable bytes as `\xNN`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_in(Charset::from_locale()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `DECARD 德卡 T10 读卡器` in GBK.
    pub(crate) fn decard() -> ReaderName {
        let (bytes, _, bad) = GBK.encode("DECARD 德卡 T10 读卡器");
        assert!(!bad);
        ReaderName::from_bytes(&bytes)
    }

    #[test]
    fn gbk_name_keeps_its_bytes_and_reads_both_ways() {
        let n = decard();
        assert_eq!(n.hex(), "44454341524420B5C2BFA82054313020B6C1BFA8C6F7");
        assert!(!n.is_utf8());
        assert_eq!(n.gbk().as_deref(), Some("DECARD 德卡 T10 读卡器"));
        assert_eq!(n.display_in(Charset::Gbk), "DECARD 德卡 T10 读卡器");
        // C2 BF happens to be valid UTF-8 (U+00BF): it is shown as such, the rest
        // escaped, so the reading is exact and reversible.
        assert_eq!(
            n.utf8_escaped(),
            "DECARD \\xB5¿\\xA8 T10 \\xB6\\xC1\\xBF\\xA8\\xC6\\xF7"
        );
        assert_eq!(n.as_c_str().to_bytes(), n.as_bytes());
    }

    #[test]
    fn utf8_names_are_unchanged() {
        let n = ReaderName::from("Virtual PCD 00 00");
        assert!(n.is_utf8());
        assert_eq!(n.gbk(), None);
        assert_eq!(n.utf8_escaped(), "Virtual PCD 00 00");
        assert_eq!(n.display_in(Charset::Gbk), "Virtual PCD 00 00");
        let n = ReaderName::from("德卡 UTF-8 读卡器");
        assert_eq!(n.utf8_escaped(), "德卡 UTF-8 读卡器");
        assert_eq!(n.gbk(), None);
    }

    #[test]
    fn control_bytes_and_truncation_are_visible() {
        let n = ReaderName::from_bytes(b"A\x1b[2JB\xff");
        assert_eq!(n.utf8_escaped(), "A\\x1B[2JB\\xFF");
        assert_eq!(ReaderName::from_bytes(b"AB\0CD").as_bytes(), b"AB");
        // A lone lead byte at the end of a GBK name.
        let n = ReaderName::from_bytes(b"X\xB5");
        assert_eq!(n.display_in(Charset::Gbk), "X\\xB5");
        assert_eq!(n.gbk(), None);
    }

    #[test]
    fn matching_on_bytes_and_on_text() {
        let n = decard();
        for needle in [
            "decard",
            "T10",
            "德卡",
            "读卡器",
            "DECARD 德卡 T10",
            "\\xB6\\xC1",
            "\\xb6\\xc1",
        ] {
            assert!(n.matches(needle.as_bytes()), "{needle}");
        }
        // The GBK bytes themselves (a GBK terminal's argv).
        let (gbk, _, _) = GBK.encode("德卡");
        assert!(n.matches(&gbk));
        for needle in ["acr39", "德卡 X", "\\xB6\\xC2"] {
            assert!(!n.matches(needle.as_bytes()), "{needle}");
        }
        assert!(n.is_exactly(n.as_bytes()));
        assert!(n.is_exactly("DECARD 德卡 T10 读卡器".as_bytes()));
        assert!(!n.is_exactly(b"DECARD"));
    }

    #[test]
    fn locales() {
        for (l, c) in [
            ("zh_CN.GBK", Charset::Gbk),
            ("zh_CN.gb18030", Charset::Gbk),
            ("zh_CN.GB2312@x", Charset::Gbk),
            ("zh_CN", Charset::Gbk),
            ("zh_CN.UTF-8", Charset::Utf8),
            ("C", Charset::Utf8),
            ("", Charset::Utf8),
            ("en_US.utf8", Charset::Utf8),
        ] {
            assert_eq!(Charset::of_locale(l), c, "{l}");
        }
    }
}
