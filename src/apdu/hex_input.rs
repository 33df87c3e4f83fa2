//! Hex typed by people: one decoder whose errors name the offending character and its
//! position as the person sees them.
//!
//! Why not `hex::decode` directly: it works on bytes, so a full-width `３` (three
//! UTF-8 bytes) was reported as "Invalid character 'ï' at position 2" (a byte of the
//! encoding, at a byte offset), or as "Odd number of digits". Here positions count
//! characters from 1 in the text as given, the character is shown as typed with its
//! code point, and separators (white space, `:`) are skipped before pairing digits.
//! For secret input (a var-file value, a key) [`HexError::hidden`] gives the position
//! without the character.

use std::fmt;

/// Why text is not hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// A character that is neither a hex digit nor a separator.
    NotHex {
        /// The character as typed.
        ch: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
    /// An odd number of hex digits: the last byte is half.
    Odd {
        /// How many digits there are.
        digits: usize,
    },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HexError::NotHex { ch, position } => {
                let shown: String = ch.escape_debug().collect();
                if ch.is_ascii_graphic() {
                    write!(f, "character {position}, '{shown}', is not a hex digit")
                } else {
                    write!(
                        f,
                        "character {position}, '{shown}' (U+{:04X}), is not a hex digit",
                        *ch as u32
                    )
                }
            }
            HexError::Odd { digits } => write!(
                f,
                "{digits} hex digits: an odd number, so the last byte is incomplete"
            ),
        }
    }
}

impl HexError {
    /// The error without the offending character, for secret input.
    pub fn hidden(&self) -> String {
        match self {
            HexError::NotHex { position, .. } => {
                format!("character {position} is not a hex digit")
            }
            HexError::Odd { .. } => "an odd number of hex digits".into(),
        }
    }
}

/// Decodes hex, skipping white space and `:` between digits.
///
/// # Errors
/// The first character that is not a hex digit or separator, or an odd digit count.
pub fn decode(text: &str) -> Result<Vec<u8>, HexError> {
    let mut out = Vec::with_capacity(text.len() / 2);
    let mut high: Option<u8> = None;
    let mut digits = 0usize;
    for (i, ch) in text.chars().enumerate() {
        if ch.is_whitespace() || ch == ':' {
            continue;
        }
        let Some(v) = ch.to_digit(16).filter(|_| ch.is_ascii()) else {
            return Err(HexError::NotHex {
                ch,
                position: i + 1,
            });
        };
        digits += 1;
        match high.take() {
            None => high = Some(v as u8),
            Some(h) => out.push((h << 4) | v as u8),
        }
    }
    if high.is_some() {
        return Err(HexError::Odd { digits });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_with_separators() {
        assert_eq!(decode("00 a4:04\t00"), Ok(vec![0, 0xA4, 4, 0]));
        assert_eq!(decode(""), Ok(vec![]));
    }

    #[test]
    fn names_the_character_and_its_position() {
        let cases = [
            ("3B ３0", '３', 4),
            ("３", '３', 1),
            ("00 A4 ３", '３', 7),
            ("0G", 'G', 2),
            ("00\u{00A0}ï1", 'ï', 4),
            ("ＡＢ", 'Ａ', 1),
            ("0x00", 'x', 2),
            ("00-11", '-', 3),
            ("00\u{0}", '\u{0}', 3),
            ("😀00", '😀', 1),
        ];
        for (text, ch, position) in cases {
            let e = decode(text).unwrap_err();
            assert_eq!(e, HexError::NotHex { ch, position }, "{text:?}");
            let shown = e.to_string();
            assert!(shown.contains(&format!("character {position}")), "{shown}");
            if ch.is_ascii_graphic() || !ch.is_control() {
                assert!(shown.contains(ch), "{shown}");
            }
            assert_eq!(
                e.hidden(),
                format!("character {position} is not a hex digit")
            );
        }
        assert!(decode("00 A4 ３")
            .unwrap_err()
            .to_string()
            .contains("U+FF13"));
    }

    #[test]
    fn odd_digits() {
        assert_eq!(decode("00 A"), Err(HexError::Odd { digits: 3 }));
        assert!(decode("ABC").unwrap_err().to_string().contains("odd"));
    }
}
