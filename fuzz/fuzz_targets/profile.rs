//! Fuzz target: Profile decoding of card records: every field of every built-in profile.
//! The invariants live in `checks.rs` (`checks::profile`), which `tests/fuzz_corpus.rs`
//! also runs on the kept corpus, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::profile(data);
});
