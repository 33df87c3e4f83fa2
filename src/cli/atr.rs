//! `sscard atr [HEX]`: decode an ATR, given or read from the inserted card, check it
//! against ISO/IEC 7816-3:2006 and identify the card from pcsc-tools' list.
//!
//! Exit code: 0 when the ATR conforms (warnings, such as the deprecated TB1 most
//! cards still send, do not count); 7 (invalid data) when it breaks a "shall" of the
//! standard. Either way the whole decoding, every violation with its clause and the
//! matching list entries are printed first: a technician sees everything, and a
//! script can still tell a conforming ATR from one a strict reader may refuse.
//! Why not 0 with warnings: `sscard atr HEX` is also the tool to check an ATR, and
//! every other bad input of sscard gets a non-zero code; 7 is the code sscard already
//! gave malformed ATRs, so scripts that test it keep working.

use super::{parse_hex_arg, CmdResult};
use crate::apdu::atr::smartcard_list::CardList;
use crate::apdu::atr::{Atr, Severity};
use crate::apdu::Transport;
use crate::error::{Error, ExitCode};
use crate::reader::{ConnectOptions, PcscCard, ReaderSelector};
use std::path::PathBuf;

/// Arguments of `sscard atr`.
#[derive(clap::Args, Debug)]
pub struct AtrArgs {
    /// The reader to read the ATR from (index or part of the name).
    #[arg(long, short)]
    pub reader: Option<ReaderSelector>,
    /// Output format (`json`: one versioned document on stdout, nothing else).
    #[command(flatten)]
    pub output: crate::output::FormatArgs,
    /// pcsc-tools' list of known ATRs to identify the card with (default: the
    /// installed /usr/share/pcsc/smartcard_list.txt, if any).
    #[arg(long, value_name = "FILE")]
    pub card_list: Option<PathBuf>,
    /// An ATR in hex to decode instead of the card's.
    #[arg(value_name = "HEX")]
    pub hex: Option<String>,
}

/// Runs `sscard atr`.
pub fn run(args: &AtrArgs) -> CmdResult {
    let json = args.output.is_json();
    // Where the ATR came from (a card): a text line, or fields of the JSON document
    // (stdout holds the document alone).
    let mut source = None;
    let bytes = match &args.hex {
        Some(h) => parse_hex_arg(h)?,
        None => {
            let selector = args.reader.clone().unwrap_or(ReaderSelector::Auto);
            let card = PcscCard::connect(&selector, ConnectOptions::default())?;
            let atr = card.atr().unwrap_or_default();
            if json {
                source = Some((card.reader().to_string(), card.protocol_name().to_string()));
            } else {
                println!(
                    "reader: {}  protocol: {}",
                    card.reader(),
                    card.protocol_name()
                );
            }
            atr
        }
    };
    let analysis = Atr::analyse(&bytes);
    let (list_path, list) = match &args.card_list {
        Some(p) => (
            Some(p.clone()),
            Some(CardList::load(p).map_err(|source| Error::Io {
                path: p.display().to_string(),
                source,
            })?),
        ),
        None => match CardList::load_default() {
            Some((p, l)) => (Some(p), Some(l)),
            None => (None, None),
        },
    };
    let hits = list
        .as_ref()
        .map(|l| l.identify(&bytes))
        .unwrap_or_default();
    if json {
        let mut doc = match &analysis.atr {
            Some(atr) => {
                serde_json::to_value(atr).map_err(|e| Error::InvalidData(e.to_string()))?
            }
            None => serde_json::json!({ "raw": hex::encode_upper(&bytes) }),
        };
        if let Some(obj) = doc.as_object_mut() {
            // 1.1: trailing, conforms, violations, card_list and identified added.
            // 1.2: reader and protocol (when read from a card); schema.
            if let Some((reader, protocol)) = &source {
                obj.insert("reader".into(), reader.clone().into());
                obj.insert("protocol".into(), protocol.clone().into());
            }
            obj.insert("conforms".into(), analysis.conforms().into());
            obj.insert(
                "violations".into(),
                serde_json::to_value(&analysis.violations)
                    .map_err(|e| Error::InvalidData(e.to_string()))?,
            );
            obj.insert(
                "card_list".into(),
                list_path.as_ref().map(|p| p.display().to_string()).into(),
            );
            obj.insert(
                "identified".into(),
                hits.iter()
                    .map(|e| {
                        serde_json::json!({
                            "pattern": e.pattern,
                            "line": e.line,
                            "descriptions": e.descriptions,
                        })
                    })
                    .collect::<Vec<_>>()
                    .into(),
            );
        }
        crate::output::print(crate::output::Doc::Atr, &doc)?;
    } else {
        println!("{analysis}");
        match &list_path {
            None => {
                println!("Card: not identified (pcsc-tools' smartcard_list.txt is not installed)")
            }
            Some(p) if hits.is_empty() => {
                println!("Card: no entry in {} matches this ATR", p.display())
            }
            Some(p) => {
                println!(
                    "Card: {} matching entr{} in {}",
                    hits.len(),
                    if hits.len() == 1 { "y" } else { "ies" },
                    p.display()
                );
                for e in &hits {
                    println!("  {}  (line {})", e.pattern, e.line);
                    for d in &e.descriptions {
                        println!("    {d}");
                    }
                }
            }
        }
    }
    match analysis
        .violations
        .iter()
        .find(|v| v.severity == Severity::Error)
    {
        None => Ok(ExitCode::Ok),
        Some(first) => {
            let n = analysis
                .violations
                .iter()
                .filter(|v| v.severity == Severity::Error)
                .count();
            Err(Error::InvalidData(format!(
                "ATR: does not conform to ISO/IEC 7816-3:2006 ({n} error(s), listed above); first: {first}"
            )))
        }
    }
}
