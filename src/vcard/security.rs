//! Security objects of a virtual card: keys, PINs, their try counters, access rules
//! and the volatile security state.
//!
//! Why it is shaped this way: spec/cards.md clears *every* security state on a SELECT
//! of another DF, a reset and a power-off. So the volatile state never needs to say in
//! which DF a key was authenticated: whatever is in it belongs to the current DF. The
//! persistent part (try counters, PIN values) lives in the key and PIN objects, which
//! the image stores, so a blocked key stays blocked across runs like a real chip.
//!
//! Nothing here prints secrets: keys are [`SecretKey`]s, PINs are zeroized strings,
//! and `Debug` shows neither.

use std::fmt;

use zeroize::Zeroizing;

use crate::crypto::{self, SecretKey};

/// Who may perform an operation on a file, or a RELOAD PIN.
///
/// Written in images as `"always"`, `"never"`, `"key:0C"` (after EXTERNAL
/// AUTHENTICATE with key `0C` in the current DF) or `"pin:00"` (after VERIFY of PIN
/// `00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No condition.
    Always,
    /// Never allowed.
    Never,
    /// After a successful EXTERNAL AUTHENTICATE with this key id in the current DF.
    Key(u8),
    /// After a successful VERIFY of this PIN id since the last DF change.
    Pin(u8),
}

impl Access {
    /// Parses the image form; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "always" => Some(Self::Always),
            "never" => Some(Self::Never),
            t => {
                let (kind, id) = t.split_once(':')?;
                let id = parse_hex_byte(id)?;
                match kind {
                    "key" => Some(Self::Key(id)),
                    "pin" => Some(Self::Pin(id)),
                    _ => None,
                }
            }
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Always => f.write_str("always"),
            Self::Never => f.write_str("never"),
            Self::Key(id) => write!(f, "key:{id:02X}"),
            Self::Pin(id) => write!(f, "pin:{id:02X}"),
        }
    }
}

/// Parses exactly two hex digits (the `hex` crate's `FromHex` for one byte).
pub(crate) fn parse_hex_byte(text: &str) -> Option<u8> {
    <[u8; 1] as hex::FromHex>::from_hex(text.trim())
        .ok()
        .map(|[b]| b)
}

/// A card key (already diversified) with its try counter.
#[derive(Debug, Clone)]
pub(crate) struct CardKey {
    pub id: u8,
    pub key: SecretKey,
    pub tries: u8,
    pub max_tries: u8,
    pub note: Option<String>,
}

/// A PSAM master key, addressed by application and key id (INIT FOR DESCRYPT).
#[derive(Debug, Clone)]
pub(crate) struct MasterKey {
    pub app: u8,
    pub id: u8,
    pub key: SecretKey,
    pub note: Option<String>,
}

/// "VERIFY of this PIN is refused with `sw` while record `tag` of the EF with SFI
/// `sfi` (in the PIN's DF) holds one of `values`." This is how the CITY card refuses
/// a PIN once its account is migrating or gone, kept as data so another card profile
/// needs no code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PinRefusal {
    pub sfi: u8,
    pub tag: u8,
    pub values: Vec<Vec<u8>>,
    pub sw: u16,
}

/// A PIN: its digits, try counter and rules.
#[derive(Clone)]
pub(crate) struct Pin {
    pub id: u8,
    pub digits: Zeroizing<String>,
    pub tries: u8,
    pub max_tries: u8,
    /// Who may RELOAD PIN (set it without the old value).
    pub reload: Access,
    pub refuse_verify: Option<PinRefusal>,
    pub note: Option<String>,
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pin")
            .field("id", &self.id)
            .field("digits", &"REDACTED")
            .field("tries", &self.tries)
            .field("max_tries", &self.max_tries)
            .field("reload", &self.reload)
            .finish()
    }
}

impl Pin {
    /// The PIN as the card compares it: BCD, `F`-padded to whole bytes.
    pub fn bcd(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(digits_to_bcd(&self.digits))
    }

    /// Whether `candidate` (BCD from a VERIFY) is this PIN, in constant time.
    pub fn matches(&self, candidate: &[u8]) -> bool {
        crypto::ct_eq(&self.bcd(), candidate)
    }
}

/// Whether a PIN given in an image or set by a command is acceptable: 4 to 12
/// decimal digits.
pub(crate) fn valid_pin_digits(digits: &str) -> bool {
    (4..=12).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Encodes decimal digits as BCD, padding an odd count with `F` ([`crate::bcd`]);
/// empty (matching no VERIFY) for text that is not digits, which a PIN of an image
/// or a command never is (both are checked by [`valid_pin_digits`]).
pub(crate) fn digits_to_bcd(digits: &str) -> Vec<u8> {
    crate::bcd::encode(digits, crate::bcd::Pad::OddF).unwrap_or_default()
}

/// Decodes a BCD PIN (digits `0`–`9`, an optional final `F` pad nibble) into digits;
/// `None` when a nibble is not a digit or the PIN is not 4–12 digits.
pub(crate) fn bcd_to_digits(bcd: &[u8]) -> Option<Zeroizing<String>> {
    let digits = Zeroizing::new(crate::bcd::decode(bcd, crate::bcd::Pad::OddF)?);
    valid_pin_digits(&digits).then_some(digits)
}

/// The volatile security state: what was proven since the last DF change, reset or
/// power-off, and the challenge of the last GET CHALLENGE.
#[derive(Default)]
pub(crate) struct SecurityState {
    /// Key ids authenticated by EXTERNAL AUTHENTICATE in the current DF.
    keys: Vec<u8>,
    /// PIN ids verified since the last DF change.
    pins: Vec<u8>,
    /// The challenge; taken (and so invalidated) by whatever command comes next.
    pub challenge: Option<[u8; 8]>,
}

impl SecurityState {
    /// Forgets everything (SELECT of another DF, reset, power-off).
    pub fn clear(&mut self) {
        self.keys.clear();
        self.pins.clear();
        self.challenge = None;
    }

    /// Records a successful EXTERNAL AUTHENTICATE.
    pub fn grant_key(&mut self, id: u8) {
        if !self.keys.contains(&id) {
            self.keys.push(id);
        }
    }

    /// Drops a key's authentication (after a wrong cryptogram).
    pub fn revoke_key(&mut self, id: u8) {
        self.keys.retain(|k| *k != id);
    }

    /// Records a successful VERIFY.
    pub fn grant_pin(&mut self, id: u8) {
        if !self.pins.contains(&id) {
            self.pins.push(id);
        }
    }

    /// Drops a PIN's verification (after a wrong PIN).
    pub fn revoke_pin(&mut self, id: u8) {
        self.pins.retain(|p| *p != id);
    }

    /// Whether a PIN is currently verified.
    pub fn pin_verified(&self, id: u8) -> bool {
        self.pins.contains(&id)
    }

    /// Whether `access` is satisfied now.
    pub fn allows(&self, access: Access) -> bool {
        match access {
            Access::Always => true,
            Access::Never => false,
            Access::Key(id) => self.keys.contains(&id),
            Access::Pin(id) => self.pins.contains(&id),
        }
    }
}

impl fmt::Debug for SecurityState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityState")
            .field("keys", &self.keys)
            .field("pins", &self.pins)
            .field("challenge", &self.challenge.map(|_| "REDACTED"))
            .finish()
    }
}

/// Status word for a failed verification with `tries` left (`63Cx`, or `6983` when
/// none are left *before* the attempt: the caller checks that first).
pub(crate) fn tries_sw(tries: u8) -> u16 {
    super::capdu::sw::TRIES_LEFT | u16::from(tries.min(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_round_trip() {
        for a in [
            Access::Always,
            Access::Never,
            Access::Key(0x0C),
            Access::Pin(0x00),
        ] {
            assert_eq!(Access::parse(&a.to_string()), Some(a));
        }
        assert_eq!(Access::parse("key:0a"), Some(Access::Key(0x0A)));
        for bad in ["", "key", "key:", "key:0", "key:GG", "door:01", "Always"] {
            assert_eq!(Access::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn bcd_pins() {
        assert_eq!(digits_to_bcd("123456"), vec![0x12, 0x34, 0x56]);
        assert_eq!(digits_to_bcd("12345"), vec![0x12, 0x34, 0x5F]);
        assert_eq!(
            bcd_to_digits(&[0x12, 0x34, 0x56])
                .as_deref()
                .map(|s| s.as_str()),
            Some("123456")
        );
        assert_eq!(
            bcd_to_digits(&[0x12, 0x34, 0x5F])
                .as_deref()
                .map(|s| s.as_str()),
            Some("12345")
        );
        assert!(bcd_to_digits(&[0x12, 0xF4, 0x56]).is_none());
        assert!(bcd_to_digits(&[0x1A, 0x34, 0x56]).is_none());
        assert!(bcd_to_digits(&[0x12]).is_none());
        assert!(bcd_to_digits(&[]).is_none());
    }

    #[test]
    fn state_clears() {
        let mut s = SecurityState::default();
        s.grant_key(6);
        s.grant_pin(0);
        s.challenge = Some([1; 8]);
        assert!(s.allows(Access::Key(6)) && s.allows(Access::Pin(0)));
        assert!(!s.allows(Access::Key(0x0C)) && !s.allows(Access::Never));
        assert!(!format!("{s:?}").contains("1, 1"));
        s.clear();
        assert!(!s.allows(Access::Key(6)) && s.challenge.is_none());
    }
}
