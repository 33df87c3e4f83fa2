//! `sscard send APDU...`: send APDUs and show the responses, with a useful exit code.
//!
//! Unlike `opensc-tool -s`, a status word other than the expected one (`9000` unless
//! `--expect` says otherwise) makes the exit code non-zero.

use super::{parse_hex_arg, CmdResult};
use crate::apdu::redact::{self, Redactor};
use crate::apdu::{Channel, Response, Transport};
use crate::error::{Error, ExitCode};
use crate::reader::{ConnectOptions, PcscCard, ReaderSelector};
use std::path::PathBuf;

/// Arguments of `sscard send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    /// The reader: an index from `sscard readers`, or part of its name.
    #[arg(long, short)]
    pub reader: Option<ReaderSelector>,
    /// Send exactly the given bytes: no GET RESPONSE on 61xx, no resend on 6Cxx.
    #[arg(long)]
    pub raw: bool,
    /// The status word the last APDU must end with (hex; `x` matches any digit, e.g. 61xx).
    #[arg(long, value_name = "SW")]
    pub expect: Option<String>,
    /// Record a transcript of the exchanges (secrets redacted).
    #[arg(long, value_name = "FILE")]
    pub dump: Option<PathBuf>,
    /// Show PIN and cryptogram bytes in the output instead of `..`.
    #[arg(long)]
    pub reveal: bool,
    /// Connect exclusively.
    #[arg(long)]
    pub exclusive: bool,
    /// Send all APDUs inside one PC/SC transaction (no other application can
    /// interleave commands).
    #[arg(long)]
    pub transaction: bool,
    /// The APDUs, in hex (spaces allowed inside quotes).
    #[arg(required = true, value_name = "APDU")]
    pub apdus: Vec<String>,
}

/// Whether `sw` matches a 4-digit hex pattern with `x` wildcards.
pub fn sw_matches(pattern: &str, sw: u16) -> Result<bool, Error> {
    let p: Vec<char> = pattern.chars().filter(|c| !c.is_whitespace()).collect();
    if p.len() != 4 {
        return Err(Error::InvalidData(format!(
            "--expect '{pattern}' is not 4 hex digits (x for any)"
        )));
    }
    let actual = format!("{sw:04X}");
    for (i, (want, got)) in p.iter().zip(actual.chars()).enumerate() {
        if want.eq_ignore_ascii_case(&'x') {
            continue;
        }
        if !want.is_ascii_hexdigit() {
            return Err(Error::InvalidData(format!(
                "--expect '{pattern}': digit {}, '{}', is not hex (x for any)",
                i + 1,
                want.escape_debug()
            )));
        }
        if want.to_ascii_uppercase() != got {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs `sscard send`.
pub fn run(args: &SendArgs) -> CmdResult {
    let commands = args
        .apdus
        .iter()
        .enumerate()
        .map(|(i, a)| {
            parse_hex_arg(a).map_err(|e| match e {
                Error::InvalidData(m) => Error::InvalidData(format!("APDU {}: {m}", i + 1)),
                other => other,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(p) = &args.expect {
        sw_matches(p, 0x9000)?;
    }
    // A command APDU has at least its 4-byte header (ISO/IEC 7816-4 §5.1). Shorter
    // ones are nearly always `sscard send 00 A4 04 00` typed without quotes (one APDU
    // per byte); a 1-byte one hung pcscd's vpcd link for every later client.
    if let Some((i, c)) = commands.iter().enumerate().find(|(_, c)| c.len() < 4) {
        return Err(Error::InvalidData(format!(
            "APDU {}: {} byte(s); a command APDU has at least 4 (CLA INS P1 P2). Bytes \
             written with spaces are one APDU only inside quotes: sscard send '00 A4 04 00 00'",
            i + 1,
            c.len()
        )));
    }
    let selector = args.reader.clone().unwrap_or(ReaderSelector::Auto);
    let options = ConnectOptions {
        exclusive: args.exclusive,
        ..ConnectOptions::default()
    };
    let mut card = PcscCard::connect(&selector, options)?;
    let base: Box<dyn Transport + '_> = if args.transaction {
        Box::new(card.transaction()?)
    } else {
        Box::new(&mut card)
    };
    let mut channel = match &args.dump {
        Some(path) => Channel::recording(base, path)?,
        None => Channel::new(base),
    };
    let mut redactor = Redactor::default();
    let mut last: Option<Response> = None;
    for cmd in &commands {
        let secrets = if args.reveal {
            Default::default()
        } else {
            redactor.classify(cmd)
        };
        println!("> {}", redact::command_hex(cmd, secrets));
        let raw = if args.raw {
            channel.transmit_raw(cmd)?
        } else {
            channel.transmit(cmd)?
        };
        let resp = Response::parse(&raw)
            .map_err(|e| Error::Transport(crate::apdu::TransportError::ShortResponse(e.0)))?;
        redactor.observe(secrets, &raw);
        println!("< {}", redact::response_hex(&raw, secrets));
        println!("  {}", resp.status);
        last = Some(resp);
    }
    let sw = last.map(|r| r.sw()).unwrap_or(0x9000);
    let ok = match &args.expect {
        Some(p) => sw_matches(p, sw)?,
        None => sw == 0x9000,
    };
    if !ok {
        // Without this line exit 6 came with no word on why.
        let wanted = args
            .expect
            .as_deref()
            .unwrap_or("9000 (give --expect SW for another)");
        eprintln!("sscard: the last status word is {sw:04X}, not the expected {wanted}");
    }
    Ok(if ok {
        ExitCode::Ok
    } else {
        ExitCode::CardStatus
    })
}

#[cfg(test)]
mod tests {
    use super::sw_matches;

    #[test]
    fn expectation_patterns() {
        assert!(sw_matches("9000", 0x9000).unwrap());
        assert!(sw_matches("61xx", 0x611E).unwrap());
        assert!(sw_matches("63CX", 0x63C3).unwrap());
        assert!(!sw_matches("61xx", 0x9000).unwrap());
        assert!(sw_matches("61x", 0x6100).is_err());
        assert!(sw_matches("zz00", 0x9000).is_err());
    }
}
