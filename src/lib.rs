//! sscard: a smart-card terminal tool for activating Chinese social security cards.
//!
//! Layers, bottom up:
//! - [`reader`]: PC/SC readers through pcscd (list, watch, connect, transmit).
//! - [`apdu`]: the bytes-in/bytes-out [`apdu::Transport`] trait and the layers stacked
//!   on it (GET RESPONSE, wrong-length retry, redacting trace, transcript), typed
//!   commands, responses and status words, ATR and TLV parsing.
//! - [`crypto`]: key diversification and cryptograms of the card spec (3DES, SM4).
//! - [`vcard`]: virtual cards that plug into the vsmartcard `vpcd` reader driver.
//! - [`cli`]: the `sscard` command line.
#![forbid(unsafe_code)]

// First: its `print!`/`println!`/`eprint!`/`eprintln!` replace std's in every module
// below, so a failed write is an error value, never a panic (see the module doc).
#[macro_use]
pub mod stdio;

pub mod activation;
pub mod apdu;
pub mod bcd;
pub mod card;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod error;
pub mod fleet;
pub mod national;
pub mod output;
pub mod pin_input;
pub mod profile;
pub mod reader;
pub mod sam;
pub mod script;
pub mod secret;
pub mod serve;
pub mod testbed;
pub mod ui;
pub mod vcard;
