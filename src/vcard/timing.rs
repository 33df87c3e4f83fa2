//! A timing model of a real contact card, so benchmarks through vpcd show what a
//! terminal would see on a desk rather than on loopback TCP.
//!
//! Why: through pcscd + vpcd an APDU costs about 0.07 ms, so a tool that sends twice
//! the APDUs it needs looks as fast as one that does not. A real SSC is a T=0 card at
//! 9600 baud, where every byte, every command and every EEPROM write costs
//! milliseconds; a flow's wall time there is decided by how many APDUs and bytes it
//! sends. With `sscard vcard --timing real-card` the virtual card holds each answer
//! back until the modelled time has passed since the command arrived, so the
//! benchmark's wall times follow the same rule.
//!
//! The model, per C-APDU (all three costs are set by [`Timing`]):
//!
//! ```text
//! time = wire_bytes × byte + command + (wrote ? eeprom_write : 0)
//! wire_bytes = 5            header CLA INS P1 P2 P3 (T=0 always sends P3;
//!                           a case-1 command gets P3 = 00, a case-4 command loses Le)
//!            + 1            procedure byte (INS) when data goes either way
//!            + Lc           command data
//!            + Nr           response data
//!            + 2            SW1 SW2
//! ```
//!
//! - `byte` (real card: 1040 µs): one character at 9600 baud (Fi = 372, Di = 1,
//!   f = 3.5712 MHz: 1 etu = 104.2 µs, a character is 10 etu). Real cards add a guard
//!   time of at least 2 etu per character (12 etu ≈ 1.25 ms), so the model is a
//!   little kind to chatty flows, never unkind.
//! - `command` (real card: 2000 µs): the card operating system's dispatch, file
//!   search and response preparation; 1–3 ms for a READ RECORD on the 2000s-era
//!   COS that SSC cards run, more for cryptography, which the model does not single
//!   out.
//! - `eeprom_write` (real card: 8000 µs): a command that changed persistent state
//!   (UPDATE/APPEND RECORD, a PIN or key try counter, RELOAD PIN). One EEPROM page
//!   programme cycle is 3–5 ms, and an atomic update (spec §1.3: "a record holds its
//!   old or its new value, never a mix") writes a backup first: two cycles.
//!
//! The virtual card knows a command wrote from [`super::Card::take_changed`], the
//! same flag that makes it save its image.
//!
//! Presets and overrides on the command line: `--timing none` (default),
//! `--timing real-card`, or either followed by `,key=µs` overrides, e.g.
//! `--timing real-card,write=5000` (keys: `byte`, `command`, `write`).

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::capdu::Command;

/// The costs of the model; [`Timing::NONE`] adds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// Per character on the wire, each way.
    pub byte: Duration,
    /// Per command (card processing).
    pub command: Duration,
    /// Per command that wrote persistent memory.
    pub eeprom_write: Duration,
}

impl Timing {
    /// No delays: the card answers as fast as it can (the default).
    pub const NONE: Timing = Timing {
        byte: Duration::ZERO,
        command: Duration::ZERO,
        eeprom_write: Duration::ZERO,
    };

    /// A contact T=0 card at 9600 baud (see the module documentation).
    pub const REAL_CARD: Timing = Timing {
        byte: Duration::from_micros(1040),
        command: Duration::from_micros(2000),
        eeprom_write: Duration::from_micros(8000),
    };

    /// Whether the model adds no time at all.
    pub fn is_none(&self) -> bool {
        *self == Timing::NONE
    }

    /// Characters a T=0 exchange of this command and answer puts on the wire (see the
    /// module documentation). A command too malformed to parse counts as its bytes
    /// plus the status word.
    pub fn wire_bytes(command: &[u8], answer: &[u8]) -> usize {
        let sw = 2;
        let response_data = answer.len().saturating_sub(sw);
        match Command::parse(command) {
            Ok(cmd) => {
                let ack = usize::from(!cmd.data.is_empty() || response_data > 0);
                5 + ack + cmd.data.len() + response_data + sw
            }
            Err(_) => command.len() + answer.len().max(sw),
        }
    }

    /// The modelled time of one exchange; `wrote` = it changed persistent state.
    pub fn cost(&self, command: &[u8], answer: &[u8], wrote: bool) -> Duration {
        if self.is_none() {
            return Duration::ZERO;
        }
        let bytes = u32::try_from(Self::wire_bytes(command, answer)).unwrap_or(u32::MAX);
        let mut t = self.byte.saturating_mul(bytes).saturating_add(self.command);
        if wrote {
            t = t.saturating_add(self.eeprom_write);
        }
        t
    }
}

/// Sleeps until `deadline` (no-op when it has passed). Sleeping to a deadline taken
/// when the command arrived, rather than for the modelled time after processing,
/// keeps the card's own processing time inside the model instead of on top of it.
pub fn wait_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// Why a `--timing` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad timing '{0}': expected none or real-card, optionally followed by ,byte=US ,command=US ,write=US")]
pub struct TimingParseError(pub String);

impl FromStr for Timing {
    type Err = TimingParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TimingParseError(s.to_string());
        let mut parts = s.split(',').map(str::trim);
        let mut t = match parts.next() {
            Some("none") => Timing::NONE,
            Some("real-card") => Timing::REAL_CARD,
            _ => return Err(bad()),
        };
        for part in parts {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let us: u64 = value.trim().parse().map_err(|_| bad())?;
            let d = Duration::from_micros(us);
            match key.trim() {
                "byte" => t.byte = d,
                "command" => t.command = d,
                "write" => t.eeprom_write = d,
                _ => return Err(bad()),
            }
        }
        Ok(t)
    }
}

impl fmt::Display for Timing {
    /// The canonical form, which [`Timing::from_str`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "none,byte={},command={},write={}",
            self.byte.as_micros(),
            self.command.as_micros(),
            self.eeprom_write.as_micros()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn wire_bytes_follow_t0() {
        // Case 1: header padded with P3 = 00, no procedure byte.
        assert_eq!(Timing::wire_bytes(&h("00A4 0000"), &h("9000")), 7);
        // Case 2: READ RECORD returning 11 bytes: 5 + ACK + 11 + SW.
        assert_eq!(
            Timing::wire_bytes(&h("00B2 072C 00"), &h("0709 5830303030303031 39 9000")),
            19
        );
        // Case 3: SELECT by FID: 5 + ACK + 2 + SW.
        assert_eq!(Timing::wire_bytes(&h("00A4 0000 02 DF04"), &h("9000")), 10);
        // Case 4 with Le: Le is not sent under T=0.
        assert_eq!(
            Timing::wire_bytes(&h("00A4 0400 02 DF04 00"), &h("611E")),
            10
        );
        // Garbage counts as its bytes.
        assert_eq!(Timing::wire_bytes(&h("00"), &h("6700")), 3);
        assert_eq!(Timing::wire_bytes(&[], &[]), 2);
    }

    #[test]
    fn real_card_costs() {
        let t = Timing::REAL_CARD;
        let read = t.cost(&h("00B2072C00"), &h("07095830303030303031399000"), false);
        assert_eq!(read, Duration::from_micros(19 * 1040 + 2000));
        let write = t.cost(&h("00DC0728 0B 07095830303030303031 39"), &h("9000"), true);
        assert_eq!(
            write,
            Duration::from_micros((5 + 1 + 11 + 2) * 1040 + 2000 + 8000)
        );
        assert_eq!(
            Timing::NONE.cost(&h("00B2072C00"), &h("9000"), true),
            Duration::ZERO
        );
    }

    #[test]
    fn parses_presets_and_overrides() {
        assert_eq!("none".parse::<Timing>(), Ok(Timing::NONE));
        assert_eq!("real-card".parse::<Timing>(), Ok(Timing::REAL_CARD));
        let t: Timing = "real-card, write=5000".parse().unwrap();
        assert_eq!(t.eeprom_write, Duration::from_micros(5000));
        assert_eq!(t.byte, Timing::REAL_CARD.byte);
        let t: Timing = "none,byte=1,command=2,write=3".parse().unwrap();
        assert_eq!(t.to_string().parse::<Timing>(), Ok(t));
        for bad in [
            "",
            "fast",
            "real-card,byte",
            "real-card,baud=9600",
            "none,byte=-1",
        ] {
            assert!(bad.parse::<Timing>().is_err(), "{bad}");
        }
    }
}
