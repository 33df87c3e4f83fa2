//! The test tiers (issue 14 point 4), said out loud on every `cargo test`.
//!
//! Plain `cargo test` is the laptop tier: the unit tests, the in-process tier
//! (tests/inproc_tier.rs) and the offline integration tests; no root, no pcscd. The
//! pcscd + vpcd tier (private pcscd instances in mount namespaces, so root; also tmux and
//! PostgreSQL) is the `pcscd-tests` feature: its test targets carry
//! `required-features = ["pcscd-tests"]` in Cargo.toml, and the few pcscd tests inside an
//! otherwise offline file are `#[cfg_attr(not(feature = "pcscd-tests"), ignore = ...)]`.
//! `scripts/test` (CI) turns the feature on.
//!
//! Why a test and not a build-script warning: Cargo leaves a target whose required
//! feature is off unbuilt without a word, and a build script's warning shows only when
//! the script reruns, not on every `cargo test`. An ignored test is reported on every
//! run, with its reason, and counted in the summary (`1 ignored`), so the tier that did
//! not run is never skipped silently. With the feature on, the same test checks the
//! tier's prerequisites, so a missing one fails at once naming what to install instead
//! of as a timeout deep inside an end-to-end test.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The test targets Cargo.toml puts in the pcscd + vpcd tier.
fn gated_targets() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).expect("read Cargo.toml");
    let manifest: toml::Table = toml::from_str(&text).expect("parse Cargo.toml");
    let Some(tests) = manifest.get("test").and_then(|t| t.as_array()) else {
        return Vec::new();
    };
    tests
        .iter()
        .filter(|t| {
            t.get("required-features")
                .and_then(|f| f.as_array())
                .is_some_and(|f| f.iter().any(|x| x.as_str() == Some("pcscd-tests")))
        })
        .filter_map(|t| t.get("name").and_then(|n| n.as_str()).map(String::from))
        .collect()
}

#[test]
fn the_pcscd_tier_is_declared() {
    let gated = gated_targets();
    // The tier exists, and each of its targets is a file (a renamed file would
    // otherwise leave a stale entry that Cargo rejects only when the feature is on).
    assert!(
        gated.len() >= 10,
        "only {} pcscd-tier targets in Cargo.toml: {gated:?}",
        gated.len()
    );
    for name in &gated {
        assert!(
            root().join("tests").join(format!("{name}.rs")).is_file(),
            "Cargo.toml gates tests/{name}.rs, which does not exist"
        );
    }
    println!(
        "pcscd + vpcd tier ({} targets, feature pcscd-tests): {}",
        gated.len(),
        gated.join(", ")
    );
}

#[test]
#[cfg_attr(
    not(feature = "pcscd-tests"),
    ignore = "the pcscd + vpcd tier is OFF (its end-to-end test files are not built): \
              run it as root with `scripts/test`, or \
              `cargo test --release --locked --features pcscd-tests`"
)]
fn pcscd_tier_prerequisites() {
    // /proc/self belongs to the process's effective user.
    use std::os::unix::fs::MetadataExt;
    let euid = std::fs::metadata("/proc/self")
        .expect("stat /proc/self")
        .uid();
    assert!(
        euid == 0,
        "the pcscd + vpcd tier runs private pcscd instances in mount namespaces: run as root"
    );
    let on_path = |bin: &str| {
        std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).is_file()))
    };
    for bin in ["pcscd", "unshare", "tmux"] {
        assert!(
            on_path(bin),
            "`{bin}` is not on PATH: scripts/setup installs the tier's packages"
        );
    }
    assert!(
        Path::new(sscard::testbed::pcscd::VPCD_DRIVER).is_file(),
        "{} is missing: apt-get install vsmartcard-vpcd",
        sscard::testbed::pcscd::VPCD_DRIVER
    );
}
