//! Fuzz target: `Atr::parse` / `parse_lenient` and the SSC historical-byte split.
//! The invariants live in `sscard::card::historical::fuzz_check` (the generic
//! `sscard::apdu::atr::fuzz_check`, which the main crate's proptests also run, plus the
//! SSC split), so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sscard::card::historical::fuzz_check(data);
});
