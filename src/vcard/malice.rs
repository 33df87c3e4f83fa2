//! A malicious virtual card: answers built to break a terminal's parsers and loops.
//!
//! Why: a terminal at a public desk reads whatever card is put in front of it, and a
//! broken, counterfeit or hostile card must end in a clear error, never a crash or a
//! hang. `sscard vcard --malice MODE` serves a normal card image but rewrites its
//! answers (or its ATR) according to one mode, so end-to-end tests
//! (`tests/malicious_e2e.rs`) can prove every command survives each one.
//!
//! | mode | what the card does | what a terminal must do |
//! |---|---|---|
//! | `lying-length` | a command with Le gets `6C xx` with xx = Le + 1 every time (never satisfied); any other command gets `61 FF`, and the GET RESPONSE delivers 5 bytes, a TLV `07 FF ..` claiming 255 | stop after one resend; reject the TLV |
//! | `endless-61xx` | every answer, GET RESPONSE included, is `61 10` (with 16 bytes `AA` for a GET RESPONSE) | bound the GET RESPONSE loop |
//! | `deep-tlv` | every command gets `61 00`; GET RESPONSE hands out, 256 bytes at a time, a 40 KB FCI of 10 000 nested constructed TLVs | bound TLV depth (an unbounded recursive parser overflows its stack at ~8000 levels, see notes) |
//! | `zero-length` | answers with 0 bytes: the link closes instead of answering, then the card re-inserts | treat a 0-byte response as an error, not an index |
//! | `garbage-sw` | answers `DE AD 12 34`: SW1 `12` is no ISO 7816 status | show the status, fail |
//! | `short-reply` | answers the single byte `90` | a response needs 2 status bytes |
//! | `bad-atr` | answers get-ATR with `3B 6D 00 00`, which announces 13 historical bytes and has none; APDUs are answered normally | report the malformed ATR |
//!
//! **Why `zero-length` closes the link.** A zero-length vpcd frame is the literal
//! form, but vpcd 3.3 then waits for ever and takes the whole reader with it:
//! `SCardTransmit` never returns, and every later `SCardConnect` on that reader blocks
//! until the card process exits (measured, see `shared/notes/pcsc-vpcd.md`). No
//! terminal can survive that, so it tests nothing. Closing the link is how a card
//! "answers nothing" through vpcd without hanging pcscd: `SCardTransmit` succeeds with
//! 0 bytes, the terminal has to reject that, and pcscd sees a removal. The same holds
//! for a card that never answers at all (`--mute-after`): PC/SC has no transmit
//! timeout, so that mode is a test of the caller's own time limit, not of parsing.

use std::fmt;
use std::str::FromStr;

/// The modes of [`Malice`]; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lengths that never match: `6C` that moves on, `61` that over-announces, a TLV
    /// length past the data.
    LyingLength,
    /// `61 10` for ever.
    Endless61xx,
    /// A 40 KB FCI of 10 000 nested TLVs, by GET RESPONSE.
    DeepTlv,
    /// A 0-byte answer (delivered as a closed link).
    ZeroLength,
    /// A status word that is not one.
    GarbageSw,
    /// A 1-byte answer.
    ShortReply,
    /// A truncated ATR.
    BadAtr,
}

impl Mode {
    /// Every mode, in documentation order.
    pub const ALL: [Mode; 7] = [
        Mode::LyingLength,
        Mode::Endless61xx,
        Mode::DeepTlv,
        Mode::ZeroLength,
        Mode::GarbageSw,
        Mode::ShortReply,
        Mode::BadAtr,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::LyingLength => "lying-length",
            Mode::Endless61xx => "endless-61xx",
            Mode::DeepTlv => "deep-tlv",
            Mode::ZeroLength => "zero-length",
            Mode::GarbageSw => "garbage-sw",
            Mode::ShortReply => "short-reply",
            Mode::BadAtr => "bad-atr",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a `--malice` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown malice mode '{0}' (one of: lying-length, endless-61xx, deep-tlv, zero-length, garbage-sw, short-reply, bad-atr)")]
pub struct UnknownMode(pub String);

impl FromStr for Mode {
    type Err = UnknownMode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| UnknownMode(s.to_string()))
    }
}

/// What the connector sends in place of the card's own answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// These bytes, as one frame (never empty).
    Send(Vec<u8>),
    /// Nothing: close the link (the card's way of answering 0 bytes through vpcd).
    Close,
}

/// Nesting depth of the `deep-tlv` FCI: above the ~8000 levels that overflow an
/// unbounded recursive parser on a 2 MiB stack.
pub const DEEP_TLV_LEVELS: usize = 10_000;

/// The truncated ATR of `bad-atr`.
pub const BAD_ATR: [u8; 4] = [0x3B, 0x6D, 0x00, 0x00];

/// A malicious card's state: the mode and the data left for GET RESPONSE.
#[derive(Debug, Clone)]
pub struct Malice {
    mode: Mode,
    pending: Vec<u8>,
}

impl Malice {
    /// A card misbehaving in `mode`.
    pub fn new(mode: Mode) -> Self {
        Malice {
            mode,
            pending: Vec::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The ATR to answer to get-ATR, given the card's own.
    pub fn atr<'a>(&self, own: &'a [u8]) -> &'a [u8] {
        match self.mode {
            Mode::BadAtr => &BAD_ATR,
            _ => own,
        }
    }

    /// Forgets pending data (power off, reset, removal).
    pub fn reset(&mut self) {
        self.pending.clear();
    }

    /// What to answer to `command`, given the card's own `answer`.
    pub fn reply(&mut self, command: &[u8], answer: Vec<u8>) -> Reply {
        let is_get_response = command.len() >= 4 && command[1] == 0xC0;
        // Le of a short case-2 command (5 bytes) or of a case-4 command whose Lc
        // matches; absent otherwise.
        let le = match command {
            [_, _, _, _, le] => Some(*le),
            [_, _, _, _, lc, rest @ ..] if rest.len() == usize::from(*lc) + 1 => {
                rest.last().copied()
            }
            _ => None,
        };
        match self.mode {
            Mode::BadAtr => Reply::Send(answer),
            Mode::ZeroLength => Reply::Close,
            Mode::GarbageSw => Reply::Send(vec![0xDE, 0xAD, 0x12, 0x34]),
            Mode::ShortReply => Reply::Send(vec![0x90]),
            Mode::Endless61xx => {
                let mut r = if is_get_response {
                    vec![0xAA; 16]
                } else {
                    Vec::new()
                };
                r.extend_from_slice(&[0x61, 0x10]);
                Reply::Send(r)
            }
            Mode::LyingLength => {
                if is_get_response {
                    Reply::Send(vec![0x07, 0xFF, 0x58, 0x30, 0x30, 0x90, 0x00])
                } else if let Some(le) = le {
                    let claim = if le == 0xFF { 0x01 } else { le.wrapping_add(1) };
                    Reply::Send(vec![0x6C, claim])
                } else {
                    Reply::Send(vec![0x61, 0xFF])
                }
            }
            Mode::DeepTlv => {
                if !is_get_response || self.pending.is_empty() {
                    self.pending = deep_fci(DEEP_TLV_LEVELS);
                    return Reply::Send(vec![0x61, 0x00]);
                }
                let want = match le {
                    Some(0) | None => 256,
                    Some(n) => usize::from(n),
                };
                let n = want.min(self.pending.len());
                let mut r: Vec<u8> = self.pending.drain(..n).collect();
                match self.pending.len() {
                    0 => r.extend_from_slice(&[0x90, 0x00]),
                    left => r.extend_from_slice(&[0x61, u8::try_from(left).unwrap_or(0)]),
                }
                Reply::Send(r)
            }
        }
    }
}

/// An FCI template `6F` holding `levels` nested constructed TLVs (`E1`, three-byte
/// lengths), innermost an empty primitive `80 00`. Every length is true: the data
/// is well-formed, only deep.
pub fn deep_fci(levels: usize) -> Vec<u8> {
    let mut inner = vec![0x80, 0x00];
    for i in 0..levels {
        let tag = if i + 1 == levels { 0x6F } else { 0xE1 };
        let len = u16::try_from(inner.len()).unwrap_or(u16::MAX);
        let mut outer = Vec::with_capacity(inner.len() + 4);
        outer.push(tag);
        outer.push(0x82);
        outer.extend_from_slice(&len.to_be_bytes());
        outer.extend_from_slice(&inner);
        inner = outer;
    }
    inner
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn names_round_trip() {
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>(), Ok(m));
        }
        assert!("nice".parse::<Mode>().is_err());
    }

    #[test]
    fn lying_length_never_satisfies_le() {
        let mut m = Malice::new(Mode::LyingLength);
        assert_eq!(m.reply(&h("00B2072C00"), h("9000")), Reply::Send(h("6C01")));
        assert_eq!(m.reply(&h("00B2072C01"), h("9000")), Reply::Send(h("6C02")));
        assert_eq!(
            m.reply(&h("00A4000002DF04"), h("9000")),
            Reply::Send(h("61FF"))
        );
        assert_eq!(
            m.reply(&h("00C00000FF"), h("6985")),
            Reply::Send(h("07FF5830309000"))
        );
    }

    #[test]
    fn endless_61xx_never_ends() {
        let mut m = Malice::new(Mode::Endless61xx);
        assert_eq!(
            m.reply(&h("00A4000002DF04"), h("9000")),
            Reply::Send(h("6110"))
        );
        for _ in 0..300 {
            match m.reply(&h("00C0000010"), h("6985")) {
                Reply::Send(r) => assert_eq!(&r[16..], &[0x61, 0x10]),
                Reply::Close => panic!("closed"),
            }
        }
    }

    #[test]
    fn deep_tlv_chains_the_whole_fci() {
        let fci = deep_fci(DEEP_TLV_LEVELS);
        assert_eq!(fci.len(), 4 * DEEP_TLV_LEVELS + 2);
        assert_eq!(&fci[..4], &[0x6F, 0x82, 0x9C, 0x3E]);
        let mut m = Malice::new(Mode::DeepTlv);
        let mut got = Vec::new();
        let mut r = match m.reply(&h("00A4040000"), h("9000")) {
            Reply::Send(r) => r,
            Reply::Close => panic!("closed"),
        };
        let mut rounds = 0;
        while r[r.len() - 2] == 0x61 {
            rounds += 1;
            let le = r[r.len() - 1];
            r = match m.reply(&[0x00, 0xC0, 0x00, 0x00, le], h("6985")) {
                Reply::Send(r) => r,
                Reply::Close => panic!("closed"),
            };
            got.extend_from_slice(&r[..r.len() - 2]);
        }
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
        assert_eq!(got, fci);
        assert!(
            rounds < 256,
            "{rounds} rounds: within a terminal's GET RESPONSE bound"
        );
    }

    #[test]
    fn the_simple_modes() {
        let mut m = Malice::new(Mode::ZeroLength);
        assert_eq!(m.reply(&h("00A4000002DF04"), h("9000")), Reply::Close);
        let mut m = Malice::new(Mode::GarbageSw);
        assert_eq!(
            m.reply(&h("00A4000002DF04"), h("9000")),
            Reply::Send(h("DEAD1234"))
        );
        let mut m = Malice::new(Mode::ShortReply);
        assert_eq!(
            m.reply(&h("00A4000002DF04"), h("9000")),
            Reply::Send(h("90"))
        );
        let mut m = Malice::new(Mode::BadAtr);
        assert_eq!(m.atr(&h("3B6D0000008154")), &BAD_ATR);
        assert_eq!(
            m.reply(&h("00A4000002DF04"), h("9000")),
            Reply::Send(h("9000"))
        );
        assert_eq!(Malice::new(Mode::GarbageSw).atr(&h("3B00")), &h("3B00")[..]);
    }
}
