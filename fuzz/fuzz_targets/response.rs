//! Fuzz target: Response APDUs and status words, and the T=0 layer and channel answered by a hostile card.
//! The invariants live in `checks.rs` (`checks::response`), which `tests/fuzz_corpus.rs`
//! also runs on the kept corpus, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::response(data);
});
