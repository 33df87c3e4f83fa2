//! The national terminal interface's line (`iReadCardBas`, spec/cards.md §4).
//!
//! Integrators parse this line by position, so it is built in one place, field by
//! field, and tested whole against the spec's example. It is text in the terminal's
//! character set: GBK on a GBK locale (what the national interface's consumers
//! expect), UTF-8 otherwise. The same charset choice serves the text rendering.

use crate::apdu::atr::Atr;
use crate::card::error::CardError;
use crate::card::ssc::SscCard;

/// The terminal number used when no SAM gives one.
pub const NO_TERMINAL: &str = crate::national::NO_TERMINAL;

/// The character set text is printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Charset {
    /// UTF-8.
    Utf8,
    /// GBK (zh_CN.GBK, GB2312, CP936).
    Gbk,
    /// GB 18030 (a GBK superset).
    Gb18030,
}

/// The charset named by a locale string (`zh_CN.GBK`, `C.UTF-8`).
pub fn charset_of_locale(locale: &str) -> Charset {
    let codeset = locale
        .split('.')
        .nth(1)
        .unwrap_or("")
        .split('@')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace(['-', '_'], "");
    match codeset.as_str() {
        "gbk" | "gb2312" | "cp936" | "euccn" => Charset::Gbk,
        "gb18030" => Charset::Gb18030,
        _ => Charset::Utf8,
    }
}

/// The terminal's charset from the environment: the first non-empty of `LC_ALL`,
/// `LC_CTYPE`, `LANG` (POSIX precedence).
pub fn terminal_charset() -> Charset {
    ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.is_empty())
        .map_or(Charset::Utf8, |l| charset_of_locale(&l))
}

/// `text` in `charset`; characters without a GBK form become `?` (never for card text,
/// which was decoded from GBK).
pub fn encode(text: &str, charset: Charset) -> Vec<u8> {
    let enc = match charset {
        Charset::Utf8 => return text.as_bytes().to_vec(),
        Charset::Gbk => encoding_rs::GBK,
        Charset::Gb18030 => encoding_rs::GB18030,
    };
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        let s: &str = ch.encode_utf8(&mut buf);
        let (bytes, _, bad) = enc.encode(s);
        if bad {
            out.push(b'?');
        } else {
            out.extend_from_slice(&bytes);
        }
    }
    out
}

/// The national line for an SSC (as text, before charset encoding), with the `|`
/// after every field and no newline.
///
/// # Errors
/// [`CardError::NeedsKey`] when the holder data was not read (3.00 card without a
/// SAM), [`CardError::InvalidData`] when the ATR does not parse.
pub fn national_line(
    card: &SscCard,
    terminal: Option<&str>,
    device_id: &str,
) -> Result<String, CardError> {
    let holder = card.holder.as_ref().ok_or_else(|| {
        CardError::NeedsKey(match card.holder_key {
            Some(k) => format!(
                "the national format needs the holder data, which this spec {} card shows only after EXTERNAL AUTHENTICATE with key {k:02X}: give --keys FILE or --sam-reader READER",
                card.spec_version
            ),
            None => "the national format needs the holder data, which was not read".into(),
        })
    })?;
    let atr =
        Atr::parse_lenient(&card.atr).map_err(|e| CardError::invalid("ATR", e.to_string()))?;
    // One builder for the line, shared with the national interface library.
    Ok(crate::national::BasicInfo {
        region: card.region(),
        citizen_id: holder.citizen_id.clone(),
        card_number: card.card_number.clone(),
        card_id: card.card_id,
        name: holder.name.clone(),
        historical: atr.historical,
        spec_version: card.spec_version.clone(),
        issue_date: card.issue_date,
        expiry_date: card.expiry_date,
        terminal: terminal.unwrap_or(NO_TERMINAL).to_string(),
        device_id: device_id.to_string(),
    }
    .line())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales() {
        assert_eq!(charset_of_locale("zh_CN.GBK"), Charset::Gbk);
        assert_eq!(charset_of_locale("zh_CN.gb2312"), Charset::Gbk);
        assert_eq!(charset_of_locale("zh_CN.GB18030"), Charset::Gb18030);
        assert_eq!(charset_of_locale("zh_CN.UTF-8"), Charset::Utf8);
        assert_eq!(charset_of_locale("C"), Charset::Utf8);
        assert_eq!(charset_of_locale("zh_CN.gbk@euro"), Charset::Gbk);
    }

    #[test]
    fn gbk_encoding() {
        assert_eq!(
            encode("张三|", Charset::Gbk),
            [0xD5, 0xC5, 0xC8, 0xFD, b'|']
        );
        assert_eq!(encode("张三", Charset::Utf8), "张三".as_bytes());
        assert_eq!(encode("a😀", Charset::Gbk), b"a?");
        assert_eq!(encode("😀", Charset::Gb18030).len(), 4);
    }
}
