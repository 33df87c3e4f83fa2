//! `sscard atr [HEX]`: decode an ATR, given or read from the inserted card.

use super::{parse_hex_arg, CmdResult};
use crate::apdu::atr::Atr;
use crate::apdu::Transport;
use crate::error::{Error, ExitCode};
use crate::reader::{ConnectOptions, PcscCard, ReaderSelector};

/// Arguments of `sscard atr`.
#[derive(clap::Args, Debug)]
pub struct AtrArgs {
    /// The reader to read the ATR from (index or part of the name).
    #[arg(long, short)]
    pub reader: Option<ReaderSelector>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// An ATR in hex to decode instead of the card's.
    #[arg(value_name = "HEX")]
    pub hex: Option<String>,
}

/// Runs `sscard atr`.
pub fn run(args: &AtrArgs) -> CmdResult {
    let bytes = match &args.hex {
        Some(h) => parse_hex_arg(h)?,
        None => {
            let selector = args.reader.clone().unwrap_or(ReaderSelector::Auto);
            let card = PcscCard::connect(&selector, ConnectOptions::default())?;
            let atr = card.atr().unwrap_or_default();
            println!(
                "reader: {}  protocol: {}",
                card.reader(),
                card.protocol_name()
            );
            atr
        }
    };
    let atr = Atr::parse(&bytes).map_err(|e| Error::InvalidData(format!("ATR: {e}")))?;
    if args.json {
        let mut doc = serde_json::to_value(&atr).map_err(|e| Error::InvalidData(e.to_string()))?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert("schema_version".into(), "1.0".into());
        }
        println!("{doc}");
    } else {
        print!("{atr}");
        if !atr.to_string().ends_with('\n') {
            println!();
        }
    }
    Ok(ExitCode::Ok)
}
