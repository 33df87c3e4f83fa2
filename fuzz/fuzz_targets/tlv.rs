//! Fuzz target: the strict TLV helpers (card records, SIMPLE-TLV, bounded BER-TLV).
//! The invariants live in `sscard::apdu::tlv::fuzz_check`, which the main crate's
//! proptests also run, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sscard::apdu::tlv::fuzz_check(data);
});
