//! Packed BCD: decimal digits two to a byte, high nibble first.
//!
//! Why one module: the cards keep dates, times, terminal numbers, region codes and
//! PINs in BCD (spec/cards.md §1.2 field encodings; JR/T 0025 and the log record of
//! activation.md), and five places once packed and unpacked it each their own way,
//! with their own idea of padding. The padding rules are the only real difference, so
//! they are named here ([`Pad`]) and every caller says which one its data uses.
//!
//! Digits are ASCII (`"0".."9"`) on the text side. Nothing here allocates more than
//! once, so a caller holding a PIN can wrap the result in `Zeroizing` without copies
//! of the digits being left behind in freed memory.

/// How the digits fill the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pad {
    /// Every nibble is a digit (dates `YYYYMMDD`, times, terminal numbers).
    None,
    /// An odd count of digits ends with one `F` nibble (PINs, ISO/IEC 7816-4 VERIFY
    /// data in the social security card's format).
    OddF,
    /// Any number of trailing `F` nibbles fill a fixed-width field (card numbers,
    /// region codes: profile encoding `bcd`).
    TrailingF,
}

/// Why digits could not be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BcdError {
    /// A character is not a decimal digit (its position, counted from 0; the text is
    /// not repeated, it may be a PIN).
    #[error("character {0} is not a decimal digit")]
    NotADigit(usize),
    /// An odd number of digits where the padding allows none.
    #[error("an odd number of digits ({0}) cannot fill whole bytes")]
    Odd(usize),
    /// More digits than the field holds.
    #[error("{digits} digits do not fit in {bytes} bytes")]
    TooLong {
        /// Digits given.
        digits: usize,
        /// Bytes of the field.
        bytes: usize,
    },
}

fn check_digits(digits: &str) -> Result<(), BcdError> {
    match digits.bytes().position(|b| !b.is_ascii_digit()) {
        Some(i) => Err(BcdError::NotADigit(i)),
        None => Ok(()),
    }
}

fn pack(nibbles: impl Iterator<Item = u8>, bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes);
    let mut high = None;
    for n in nibbles {
        match high.take() {
            None => high = Some(n),
            Some(h) => out.push((h << 4) | n),
        }
    }
    out
}

/// Packs `digits`: with [`Pad::None`] an even count, with [`Pad::OddF`] (and
/// [`Pad::TrailingF`]) an odd count ends in an `F` nibble.
///
/// # Errors
/// [`BcdError::NotADigit`] for a character other than `0`–`9`; [`BcdError::Odd`] for
/// an odd count with [`Pad::None`].
pub fn encode(digits: &str, pad: Pad) -> Result<Vec<u8>, BcdError> {
    check_digits(digits)?;
    let n = digits.len();
    if n % 2 == 1 && pad == Pad::None {
        return Err(BcdError::Odd(n));
    }
    let bytes = n.div_ceil(2);
    Ok(pack(
        digits
            .bytes()
            .map(|b| b - b'0')
            .chain((n % 2 == 1).then_some(0x0F)),
        bytes,
    ))
}

/// Packs `digits` into exactly `bytes` bytes, filling the rest with `pad_nibble`
/// (`0xF` for most card fields; the profile's `pad` otherwise).
///
/// # Errors
/// [`BcdError::NotADigit`]; [`BcdError::TooLong`] when more than `2 × bytes` digits.
pub fn encode_fixed(digits: &str, bytes: usize, pad_nibble: u8) -> Result<Vec<u8>, BcdError> {
    check_digits(digits)?;
    if digits.len() > bytes * 2 {
        return Err(BcdError::TooLong {
            digits: digits.len(),
            bytes,
        });
    }
    let fill = bytes * 2 - digits.len();
    Ok(pack(
        digits
            .bytes()
            .map(|b| b - b'0')
            .chain(std::iter::repeat_n(pad_nibble & 0x0F, fill)),
        bytes,
    ))
}

/// The digits of `bytes` under `pad`; `None` when a nibble is neither a digit nor
/// padding the rule allows there (`F` anywhere but the end, `A`–`E` anywhere).
pub fn decode(bytes: &[u8], pad: Pad) -> Option<String> {
    let nibbles = bytes.iter().flat_map(|b| [b >> 4, b & 0x0F]);
    let total = bytes.len() * 2;
    let digits = match pad {
        Pad::None => total,
        Pad::OddF => total - usize::from(bytes.last().is_some_and(|b| b & 0x0F == 0x0F)),
        Pad::TrailingF => {
            let fs = nibbles.clone().rev().take_while(|n| *n == 0x0F).count();
            total - fs
        }
    };
    let mut out = String::with_capacity(total);
    for n in nibbles.take(digits) {
        if n > 9 {
            return None;
        }
        out.push(char::from(b'0' + n));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_under_each_padding() {
        assert_eq!(
            encode("20261130", Pad::None).unwrap(),
            [0x20, 0x26, 0x11, 0x30]
        );
        assert_eq!(
            decode(&[0x20, 0x26, 0x11, 0x30], Pad::None).unwrap(),
            "20261130"
        );
        assert_eq!(encode("12345", Pad::OddF).unwrap(), [0x12, 0x34, 0x5F]);
        assert_eq!(encode("123456", Pad::OddF).unwrap(), [0x12, 0x34, 0x56]);
        assert_eq!(decode(&[0x12, 0x34, 0x5F], Pad::OddF).unwrap(), "12345");
        assert_eq!(encode_fixed("639", 3, 0xF).unwrap(), [0x63, 0x9F, 0xFF]);
        assert_eq!(encode_fixed("639", 3, 0x0).unwrap(), [0x63, 0x90, 0x00]);
        assert_eq!(decode(&[0x63, 0x9F, 0xFF], Pad::TrailingF).unwrap(), "639");
        assert_eq!(
            decode(&[0x63, 0x99, 0x00], Pad::TrailingF).unwrap(),
            "639900"
        );
        assert_eq!(decode(&[], Pad::None).unwrap(), "");
        assert_eq!(encode("", Pad::None).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn padding_is_only_where_the_rule_allows() {
        // F is a digit nowhere, and padding only at the end.
        assert_eq!(decode(&[0x12, 0x3F], Pad::None), None);
        assert_eq!(decode(&[0x12, 0xF4, 0x56], Pad::OddF), None);
        assert_eq!(decode(&[0x12, 0x34, 0xFF], Pad::OddF), None);
        assert_eq!(decode(&[0xF1], Pad::TrailingF), None);
        assert_eq!(decode(&[0x1A], Pad::TrailingF), None);
        assert_eq!(decode(&[0x6A], Pad::None), None);
    }

    #[test]
    fn bad_digits_are_refused_without_echoing_them() {
        assert_eq!(encode("12a4", Pad::None), Err(BcdError::NotADigit(2)));
        assert_eq!(encode("123", Pad::None), Err(BcdError::Odd(3)));
        assert_eq!(
            encode_fixed("1234567", 3, 0xF),
            Err(BcdError::TooLong {
                digits: 7,
                bytes: 3
            })
        );
        assert!(!BcdError::NotADigit(2).to_string().contains("12a4"));
    }
}
