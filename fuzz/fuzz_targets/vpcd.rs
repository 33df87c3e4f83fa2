//! Fuzz target: The vpcd framing as the virtual card reads it, each frame dispatched to a reference card.
//! The invariants live in `checks.rs` (`checks::vpcd`), which `tests/fuzz_corpus.rs`
//! also runs on the kept corpus, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::vpcd(data);
});
