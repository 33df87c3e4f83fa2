//! Fuzz target: `Atr::parse` / `parse_lenient` and the SSC historical-byte split.
//! The invariants live in `sscard::apdu::atr::fuzz_check`, which the main crate's
//! proptests also run, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sscard::apdu::atr::fuzz_check(data);
});
