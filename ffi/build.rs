//! Generates the C header from ffi/src/lib.rs (cbindgen) and checks that the
//! committed include/sscard.h is that header, so the header C programs compile
//! against can never drift from the library's exports. `SSCARD_BLESS_HEADER=1`
//! rewrites the committed header instead.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let committed = dir.join("../include/sscard.h");
    for f in ["src/lib.rs", "cbindgen.toml", "../include/sscard.h"] {
        println!("cargo:rerun-if-changed={}", dir.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=SSCARD_BLESS_HEADER");
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml"))
        .unwrap_or_else(|e| panic!("ffi/cbindgen.toml: {e}"));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(dir.join("src/lib.rs"))
        .generate()
        .unwrap_or_else(|e| panic!("cbindgen cannot read ffi/src/lib.rs: {e}"));
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("sscard.h");
    std::fs::write(&out, &generated).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    if std::env::var_os("SSCARD_BLESS_HEADER").is_some() {
        std::fs::write(&committed, &generated)
            .unwrap_or_else(|e| panic!("{}: {e}", committed.display()));
        return;
    }
    let current = std::fs::read(&committed).unwrap_or_default();
    if current != generated {
        panic!(
            "include/sscard.h is not the header generated from ffi/src/lib.rs (see {}): \
             run `SSCARD_BLESS_HEADER=1 cargo build --release -p sscard-ffi` and commit it",
            out.display()
        );
    }
}
