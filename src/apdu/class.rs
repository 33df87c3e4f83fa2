//! The class byte (CLA) of a command APDU: ISO/IEC 7816-4 §5.4.1.
//!
//! Why the T=0 layer needs this: when it issues a command on the caller's behalf
//! (GET RESPONSE after `61xx`, the resend after `6Cxx`), the card relates that command
//! to the one it answers through the class byte. The logical channel and the secure
//! messaging indication live in CLA, so a GET RESPONSE sent as `00 C0 ...` after a
//! command on channel 2, under secure messaging, or in a proprietary class such as
//! `C0` or `80`, asks a different channel (or an unprotected context, or another
//! class) for the data, and the card answers `6E00`, `6881` or `6882` (issue 11 §2).
//! So the rule is: keep the caller's class byte; only the command-chaining bit b5 is
//! cleared, because a GET RESPONSE is never part of a chain.
//!
//! The encodings (b8 … b1):
//!
//! | CLA | structure | b5 | secure messaging | logical channel |
//! |---|---|---|---|---|
//! | `0X`, `1X` | first interindustry | chaining | b4–b3 | b2–b1: 0–3 |
//! | `4X`–`7X` | further interindustry | chaining | b6 | 4 + b4–b1: 4–19 |
//! | `8X`–`BX` | proprietary, structured as the first interindustry class | chaining | b4–b3 | b2–b1 |
//! | `CX`–`FE` | proprietary, structured as the further interindustry class (GlobalPlatform's channels 4–19) | chaining | b6 | 4 + b4–b1 |
//! | `2X`, `3X` | reserved for future use | – | – | – |
//! | `FF` | invalid (PPS) | – | – | – |

/// How a class byte is structured (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassKind {
    /// `0X`/`1X`: channel in b2–b1, secure messaging in b4–b3.
    FirstInterindustry,
    /// `4X`–`7X`: channel 4 + b4–b1, secure messaging in b6.
    FurtherInterindustry,
    /// `8X`–`BX`: proprietary, laid out like [`ClassKind::FirstInterindustry`].
    ProprietaryFirst,
    /// `CX`–`FE`: proprietary, laid out like [`ClassKind::FurtherInterindustry`].
    ProprietaryFurther,
    /// `2X`/`3X`: reserved; nothing can be said about its bits.
    Reserved,
    /// `FF`: not a class (the PPS start byte).
    Invalid,
}

/// A class byte taken apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Class {
    /// The byte itself.
    pub cla: u8,
    /// How it is structured.
    pub kind: ClassKind,
    /// The logical channel (0–19), where the structure has one.
    pub channel: Option<u8>,
    /// The secure messaging indication bits, in place (`cla & mask`): b4–b3 for the
    /// first structure, b6 for the further one; `None` where the structure has none.
    pub secure_messaging: Option<u8>,
    /// Bit b5: "not the last command of a chain", where the structure has it.
    pub chaining: bool,
}

impl Class {
    /// Takes `cla` apart (ISO/IEC 7816-4 §5.4.1).
    pub fn decode(cla: u8) -> Class {
        let kind = match cla {
            0x00..=0x1F => ClassKind::FirstInterindustry,
            0x20..=0x3F => ClassKind::Reserved,
            0x40..=0x7F => ClassKind::FurtherInterindustry,
            0x80..=0xBF => ClassKind::ProprietaryFirst,
            0xC0..=0xFE => ClassKind::ProprietaryFurther,
            0xFF => ClassKind::Invalid,
        };
        let (channel, secure_messaging, chaining) = match kind {
            ClassKind::FirstInterindustry | ClassKind::ProprietaryFirst => {
                (Some(cla & 0x03), Some(cla & 0x0C), cla & 0x10 != 0)
            }
            ClassKind::FurtherInterindustry | ClassKind::ProprietaryFurther => {
                (Some(4 + (cla & 0x0F)), Some(cla & 0x20), cla & 0x10 != 0)
            }
            ClassKind::Reserved | ClassKind::Invalid => (None, None, false),
        };
        Class {
            cla,
            kind,
            channel,
            secure_messaging,
            chaining,
        }
    }

    /// The first or further interindustry class byte for `channel` (0–19), with the
    /// secure messaging bits `sm` (b4–b3 as `0x00`/`0x04`/`0x08`/`0x0C` for channels
    /// 0–3; `0x00` or `0x20` for 4–19) and the chaining bit. `None` for a channel
    /// above 19 or SM bits the structure does not have.
    pub fn interindustry(channel: u8, sm: u8, chaining: bool) -> Option<u8> {
        let chain = if chaining { 0x10 } else { 0x00 };
        match channel {
            0..=3 if sm & !0x0C == 0 => Some(channel | sm | chain),
            4..=19 if sm & !0x20 == 0 => Some(0x40 | (channel - 4) | sm | chain),
            _ => None,
        }
    }
}

/// The class byte of a command the terminal issues on the caller's behalf in answer
/// to a command of class `cla` (GET RESPONSE after `61xx`): the caller's own class,
/// logical channel and secure messaging bits unchanged, with the chaining bit b5
/// cleared where the structure has one. Reserved and invalid classes are kept as
/// they are: nothing better is known, and the card already accepted the command.
pub fn reply_class(cla: u8) -> u8 {
    match Class::decode(cla).kind {
        ClassKind::Reserved | ClassKind::Invalid => cla,
        _ => cla & !0x10,
    }
}

/// The interindustry class with the same logical channel and secure messaging bits
/// as the proprietary class `cla` (b5 cleared): `8X`–`BX` → `0X` (b4–b1 kept),
/// `CX`–`FE` → `4X`–`6X` (b8 cleared). `None` for a class that is not proprietary.
/// The T=0 layer's fallback for cards that know GET RESPONSE only in the
/// interindustry class ([`super::t0`]).
pub fn interindustry_counterpart(cla: u8) -> Option<u8> {
    match Class::decode(cla).kind {
        ClassKind::ProprietaryFirst => Some(cla & 0x0F),
        ClassKind::ProprietaryFurther => Some(cla & 0x6F),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_both_interindustry_encodings() {
        let c = Class::decode(0x0D);
        assert_eq!(c.kind, ClassKind::FirstInterindustry);
        assert_eq!(
            (c.channel, c.secure_messaging, c.chaining),
            (Some(1), Some(0x0C), false)
        );
        let c = Class::decode(0x13);
        assert_eq!(
            (c.channel, c.secure_messaging, c.chaining),
            (Some(3), Some(0), true)
        );
        let c = Class::decode(0x6F);
        assert_eq!(c.kind, ClassKind::FurtherInterindustry);
        assert_eq!(
            (c.channel, c.secure_messaging, c.chaining),
            (Some(19), Some(0x20), false)
        );
        let c = Class::decode(0x50);
        assert_eq!(
            (c.channel, c.secure_messaging, c.chaining),
            (Some(4), Some(0), true)
        );
        assert_eq!(Class::decode(0x84).kind, ClassKind::ProprietaryFirst);
        assert_eq!(Class::decode(0xC0).kind, ClassKind::ProprietaryFurther);
        assert_eq!(Class::decode(0xC0).channel, Some(4));
        assert_eq!(Class::decode(0x25).kind, ClassKind::Reserved);
        assert_eq!(Class::decode(0xFF).kind, ClassKind::Invalid);
    }

    #[test]
    fn builds_every_channel_and_sm_combination() {
        for channel in 0..=19u8 {
            let sms: &[u8] = if channel < 4 {
                &[0x00, 0x04, 0x08, 0x0C]
            } else {
                &[0x00, 0x20]
            };
            for &sm in sms {
                for chaining in [false, true] {
                    let cla = Class::interindustry(channel, sm, chaining).unwrap();
                    let c = Class::decode(cla);
                    assert_eq!(c.channel, Some(channel), "CLA {cla:02X}");
                    assert_eq!(c.secure_messaging, Some(sm), "CLA {cla:02X}");
                    assert_eq!(c.chaining, chaining, "CLA {cla:02X}");
                }
            }
        }
        assert_eq!(Class::interindustry(20, 0, false), None);
        assert_eq!(Class::interindustry(2, 0x20, false), None);
        assert_eq!(Class::interindustry(5, 0x04, false), None);
    }

    #[test]
    fn reply_class_keeps_channel_and_sm_and_clears_chaining() {
        for cla in 0..=0xFFu8 {
            let r = reply_class(cla);
            let (c, d) = (Class::decode(cla), Class::decode(r));
            match c.kind {
                ClassKind::Reserved | ClassKind::Invalid => assert_eq!(r, cla),
                _ => {
                    assert_eq!(d.kind, c.kind, "CLA {cla:02X} -> {r:02X}");
                    assert_eq!(d.channel, c.channel, "CLA {cla:02X} -> {r:02X}");
                    assert_eq!(d.secure_messaging, c.secure_messaging, "CLA {cla:02X}");
                    assert!(!d.chaining, "CLA {cla:02X} -> {r:02X}");
                    assert_eq!(r | (cla & 0x10), cla, "only b5 may change");
                }
            }
        }
        assert_eq!(reply_class(0xC0), 0xC0);
        assert_eq!(reply_class(0x80), 0x80);
        assert_eq!(reply_class(0x00), 0x00);
        assert_eq!(reply_class(0x1F), 0x0F);
    }

    #[test]
    fn interindustry_counterparts_keep_channel_and_sm() {
        for cla in 0x80..=0xFEu8 {
            let alt = interindustry_counterpart(cla).unwrap();
            let (c, a) = (Class::decode(cla), Class::decode(alt));
            assert!(
                matches!(
                    a.kind,
                    ClassKind::FirstInterindustry | ClassKind::FurtherInterindustry
                ),
                "{cla:02X} -> {alt:02X}"
            );
            assert_eq!(a.channel, c.channel, "{cla:02X} -> {alt:02X}");
            assert_eq!(
                a.secure_messaging, c.secure_messaging,
                "{cla:02X} -> {alt:02X}"
            );
            assert!(!a.chaining);
        }
        for cla in (0x00..=0x7Fu8).chain([0xFF]) {
            assert_eq!(interindustry_counterpart(cla), None);
        }
        assert_eq!(interindustry_counterpart(0x80), Some(0x00));
        assert_eq!(interindustry_counterpart(0xC0), Some(0x40));
    }
}
