//! Fuzz target: Command APDU parsing on the terminal side and the card side, redaction, timing model.
//! The invariants live in `checks.rs` (`checks::command`), which `tests/fuzz_corpus.rs`
//! also runs on the kept corpus, so stable-toolchain CI checks the same properties.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "checks.rs"]
mod checks;

fuzz_target!(|data: &[u8]| {
    checks::command(data);
});
