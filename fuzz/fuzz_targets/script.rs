//! Fuzz target: the APDU script lexer, parser, plain-subset writer and pattern
//! matcher (`sscard::script::fuzz_parse`), which must never panic on any bytes. The
//! main crate's proptests (tests/script_parse.rs) call the same function, so stable
//! CI checks it on random input too. Seed corpus: the shipped scripts,
//! `cargo +nightly fuzz run script corpus-work/script ../apdu-scripts`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sscard::script::fuzz_parse(data);
});
