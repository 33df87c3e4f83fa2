//! Prints the model checker's figures (issue 10): desks, cards, states explored,
//! max depth, seconds.
//!
//! `cargo run --release --example model_check [small|full|three] [starts per desk] [tears] [crashes] [starts in total]`
//! - `small`: two one-reader desks (the bound `cargo test` runs);
//! - `full` (default): a one-reader and a two-reader desk;
//! - `three`: three one-reader desks.

// A benchmark's or example's unwrap/expect stops the run with the message: there is
// nothing to recover (clippy.toml allows them in tests; these targets need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::activation::core::Readers;
use sscard::activation::model::{check, Config};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = match args.first().map(String::as_str) {
        Some("small") => Config::small(),
        Some("three") => {
            let mut c = Config::full();
            c.desks = vec![Readers::One, Readers::One, Readers::One];
            c
        }
        None | Some("full") => Config::full(),
        Some(other) => {
            eprintln!("unknown bound '{other}': small, full or three");
            std::process::exit(2);
        }
    };
    let num = |i: usize, what: &str| -> Option<u8> {
        args.get(i).map(|s| {
            s.parse().unwrap_or_else(|_| {
                eprintln!("{what} must be a number 0-255, not '{s}'");
                std::process::exit(2)
            })
        })
    };
    if let Some(n) = num(1, "starts") {
        cfg.starts_per_desk = n;
    }
    if let Some(n) = num(4, "total starts") {
        cfg.starts_total = n;
    }
    if let Some(n) = num(2, "tears") {
        cfg.tears = n;
    }
    if let Some(n) = num(3, "crashes") {
        cfg.crashes = n;
    }
    println!(
        "desks: {} ({:?}); cards: 1 old + 2 genuine new cards of the same holder; \
         flow starts per desk: {}, in total: {}; torn writes: {}; crashes: {}; holder moves: unbounded",
        cfg.desks.len(),
        cfg.desks,
        cfg.starts_per_desk,
        cfg.starts_total,
        cfg.tears,
        cfg.crashes
    );
    let r = check(&cfg);
    print!("{r}");
    if r.violation.is_some() || r.truncated {
        std::process::exit(1);
    }
}
