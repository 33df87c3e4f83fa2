//! Robustness: class and instruction errors, the ATR without side effects, power-off
//! clearing state, and no panic on random APDUs (a seeded generator, so failures
//! reproduce).

use super::*;

#[test]
fn class_and_instruction_errors() {
    let mut c = load("ssc-2.00.json");
    assert_eq!(sw(&mut c, "A0A40000023F00"), "6E00");
    assert_eq!(sw(&mut c, "80A40000023F00"), "6E00");
    assert_eq!(sw(&mut c, "0012000000"), "6D00");
    assert_eq!(sw(&mut c, "00B0960006"), "6D00", "SSC has no READ BINARY");
    assert_eq!(sw(&mut c, "00A4"), "6700");
    assert_eq!(sw(&mut c, "00A40000"), "6700", "SELECT without data");
}

#[test]
fn atr_has_no_side_effects_and_power_off_clears_state() {
    let mut c = load("ssc-2.00.json");
    select_ssse(&mut c);
    let atr = c.atr().to_vec();
    assert_eq!(c.atr(), atr.as_slice());
    // The FCI is still pending after reading the ATR.
    assert_eq!(x(&mut c, "00C0000000").len(), 30 * 2 + 4);
    assert_eq!(sw(&mut c, "00A4000002DF04"), "9000");
    let _ = c.atr();
    assert_eq!(sw(&mut c, "00B2012C00"), "9000", "still in DF04");
    c.power_off();
    assert!(!c.is_powered());
    c.power_on();
    assert_eq!(sw(&mut c, "00B2012C00"), "6A82", "back in the MF");
    select_ssse(&mut c);
    c.reset();
    assert_eq!(sw(&mut c, "00C0000000"), "6985", "reset drops pending data");
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn byte(&mut self) -> u8 {
        (self.next() >> 24) as u8
    }
}

#[test]
fn never_panics_on_garbage() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let interesting_ins = [
        0xA4, 0xB2, 0xB0, 0xDC, 0xE2, 0x84, 0x82, 0x88, 0x20, 0xC0, 0x5E, 0x1A, 0xFA,
    ];
    for name in IMAGES {
        let mut c = load(name);
        for i in 0..40_000u32 {
            let len = match rng.next() % 4 {
                0 => (rng.next() % 8) as usize,
                1 => 5 + (rng.next() % 40) as usize,
                2 => (rng.next() % 300) as usize,
                _ => 4 + (rng.next() % 20) as usize,
            };
            let mut apdu: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
            if i % 2 == 0 && apdu.len() >= 5 {
                // Mostly well-formed: a real class and instruction, a matching Lc.
                apdu[0] = if rng.next() % 2 == 0 { 0x00 } else { 0x80 };
                apdu[1] = interesting_ins[(rng.next() % interesting_ins.len() as u64) as usize];
                if rng.next() % 3 != 0 {
                    apdu[4] = (apdu.len() - 5).min(255) as u8;
                    if apdu.len() > 260 {
                        apdu.truncate(260);
                    }
                }
            }
            let r = c.process(&apdu);
            assert!(r.len() >= 2, "{name}: {apdu:02X?}");
            if i % 5000 == 0 {
                c.reset();
            }
            if i % 7919 == 0 {
                let _ = c.to_image();
            }
        }
        // Whatever it went through, the state still saves and reloads.
        let img = c.to_image();
        let back: CardImage = serde_json::from_str(&img.to_json()).unwrap();
        Card::from_image(back).unwrap();
    }
}
