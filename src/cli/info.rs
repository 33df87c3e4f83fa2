//! `sscard info`: detect the card, read everything readable, show it with its checks.
//!
//! The reading is done by [`crate::card`] inside one PC/SC transaction (so no other
//! application can select another file between two of our APDUs), the presentation by
//! [`crate::card::report`]. This file only wires the command line to them: choosing
//! the readers (the card's, and the PSAM's with `--sam-reader`), opening the SAM,
//! and turning the outcome into output and an exit code:
//!
//! - 0: the card was read and its data passes its checks (an expired card or a passed
//!   activation deadline is shown as a warning, not an error: the data is right);
//! - 7 (invalid data): the card was read but a data check failed (check digit, sex
//!   digit, birth date in the ID) or it failed `--verify-card`; the report is still
//!   printed in full first;
//! - 3, 4, 5, 6, 7, 8, 11: no reader, no card, card lost, status word, malformed
//!   data, unknown card, keys (see [`crate::error::ExitCode`]).

use super::CmdResult;
use crate::apdu::{Channel, Transport};
use crate::card::report::{self, national, Body, Report};
use crate::card::{self, clock, CardError, CardKind, SscReadOptions};
use crate::error::{Error, ExitCode};
use crate::reader::{
    establish, list_readers, ConnectOptions, PcscCard, ReaderName, ReaderSelector, Watcher,
};
use crate::sam::Sam;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people, with the checks beside the data.
    Text,
    /// Versioned JSON (`schema_version`).
    Json,
    /// The national interface's `|`-separated line (spec/cards.md §4).
    National,
}

/// Arguments of `sscard info`.
#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// The card's reader (index or part of the name); default: the first reader with a
    /// card, other than the SAM's.
    #[arg(long, short)]
    pub reader: Option<ReaderSelector>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Master keys from a key file (labs and tests; must be mode 600).
    #[arg(long, value_name = "FILE", conflicts_with = "sam_reader")]
    pub keys: Option<PathBuf>,
    /// The reader holding the terminal's PSAM.
    #[arg(long, value_name = "READER")]
    pub sam_reader: Option<ReaderSelector>,
    /// Prove the card genuine by INTERNAL AUTHENTICATE (key 01), checked by the SAM.
    #[arg(long)]
    pub verify_card: bool,
    /// Another card profile (JSON, see profiles/README.md), tried before the built-in
    /// ones; may be repeated.
    #[arg(long, value_name = "FILE")]
    pub profile: Vec<PathBuf>,
    /// Wait up to SECS for a card to be inserted.
    #[arg(long, value_name = "SECS", value_parser = super::bounds::seconds)]
    pub wait: Option<f64>,
    /// The terminal device id in the national format.
    #[arg(
        long,
        value_name = "ID",
        env = "SSCARD_DEVICE_ID",
        default_value = "00000000"
    )]
    pub device_id: String,
    /// Print the number of APDUs exchanged to stderr.
    #[arg(long)]
    pub stats: bool,
    /// The desk configuration file (`none`: no file) [default: /etc/sscard/sscard.toml];
    /// read only by `--format national`, for its terminal number when the SAM gives
    /// none (`terminal`), as the national interface library does.
    #[arg(long, value_name = "PATH", env = "SSCARD_CONFIG")]
    pub config: Option<PathBuf>,
}

/// The terminal number of the national line: the SAM's, else the configuration's
/// `terminal`, else none ([`national_line`](national::national_line) writes
/// `000000000000`). The same order as the national interface library's
/// `iReadCardBas` (src/national/desk.rs), so `sscard info --format national` and
/// libsscard print the same line on one desk.
///
/// # Errors
/// The configuration cannot be read or is invalid (exit 14 or 7), only when the SAM
/// gives no number.
fn national_terminal(sam: Option<String>, config: Option<&Path>) -> Result<Option<String>, Error> {
    match sam {
        Some(t) => Ok(Some(t)),
        None => Ok(crate::config::load(config)?.and_then(|l| l.config.terminal)),
    }
}

/// Picks the card's reader and the SAM's, by name.
fn pick_readers(args: &InfoArgs) -> Result<(ReaderName, Option<ReaderName>), Error> {
    let ctx = establish()?;
    let readers = list_readers(&ctx)?;
    let sam = match &args.sam_reader {
        Some(sel) => Some(sel.pick(&readers)?.name.clone()),
        None => None,
    };
    let card = match &args.reader {
        Some(sel) => sel.pick(&readers)?.name.clone(),
        None => {
            let others: Vec<_> = readers
                .iter()
                .filter(|r| Some(&r.name) != sam.as_ref())
                .cloned()
                .collect();
            ReaderSelector::Auto.pick(&others)?.name.clone()
        }
    };
    if sam.as_ref() == Some(&card) {
        return Err(Error::Other {
            message: format!("the card and the SAM cannot both be in '{card}'"),
            code: ExitCode::Usage,
        });
    }
    Ok((card, sam))
}

/// The SAM the options name ([`crate::sam::open`]); a card in `--sam-reader` that
/// is not a PSAM is said so.
fn open_sam(
    args: &InfoArgs,
    sam_reader: Option<&ReaderName>,
) -> Result<Option<Box<dyn Sam>>, Error> {
    let selector = sam_reader.map(|name| ReaderSelector::Exact(name.clone()));
    match crate::sam::open(args.keys.as_deref(), selector.as_ref()) {
        Ok(sam) => Ok(sam),
        Err(e @ (crate::sam::SamError::PsamStatus { .. } | crate::sam::SamError::PsamData(_))) => {
            Err(Error::keys(format!(
                "the card in '{}' is not a usable PSAM: {e}",
                sam_reader.map(ToString::to_string).unwrap_or_default()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

fn write_out(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|_| out.flush())
        .map_err(|source| Error::Io {
            path: "standard output".into(),
            source,
        })
}

/// Runs `sscard info`.
pub fn run(args: &InfoArgs) -> CmdResult {
    let mut profiles = crate::profile::Profiles::builtin().map_err(CardError::from)?;
    for p in &args.profile {
        profiles.add_file(p).map_err(CardError::from)?;
    }
    let today = clock::today().map_err(|message| Error::Other {
        message,
        code: ExitCode::Usage,
    })?;
    let (reader, sam_reader) = pick_readers(args)?;
    if let Some(secs) = args.wait {
        let mut w = Watcher::new()?;
        if w.wait_card(&reader, Duration::from_secs_f64(secs.max(0.0)))?
            .is_none()
        {
            return Err(Error::Other {
                message: format!("no card in reader '{reader}' within {secs} s"),
                code: ExitCode::NoCard,
            });
        }
    }
    let mut sam = open_sam(args, sam_reader.as_ref())?;
    if args.verify_card && sam.is_none() {
        return Err(Error::keys(
            "--verify-card needs a SAM: give --keys FILE or --sam-reader READER",
        ));
    }

    let mut card = PcscCard::connect_with(establish()?, &reader, ConnectOptions::default())?;
    let atr = card.atr().unwrap_or_default();
    let tx = card.transaction()?;
    let mut ch = Channel::new(Box::new(tx));

    let detected = card::identify(&mut ch, &profiles)?;
    let profile = match (detected.kind, detected.profile) {
        (CardKind::Unknown, _) | (_, None) => {
            return Err(Error::UnknownCard(detected.unknown_message(Some(&atr))));
        }
        (_, Some(p)) => p,
    };
    let selection = detected.selection.clone();
    let body = match detected.kind {
        CardKind::Ssc => {
            let opts = SscReadOptions {
                selected: selection,
                verify_card: args.verify_card,
            };
            Body::Ssc(Box::new(card::read_ssc_with(
                &mut ch,
                profile,
                sam.as_mut().map(|s| &mut **s as &mut dyn Sam),
                &opts,
            )?))
        }
        CardKind::City => Body::City(Box::new(card::read_city_with(
            &mut ch,
            profile,
            selection.as_ref(),
        )?)),
        CardKind::Psam => Body::Psam {
            terminal: card::read_psam_terminal(&mut ch, profile, selection.as_ref())?,
        },
        CardKind::Unknown => return Err(Error::UnknownCard(detected.unknown_message(Some(&atr)))),
    };
    let card_apdus = (ch.apdu_count(), ch.byte_count());
    drop(ch);
    drop(card);

    let (sam_name, terminal) = match &sam {
        Some(s) => (Some(s.describe()), s.terminal_number()),
        None => (None, None),
    };
    let report = Report::new(
        reader.to_string(),
        atr,
        profile,
        body,
        today,
        sam_name,
        terminal,
    );
    let charset = national::terminal_charset();
    match args.format {
        Format::Text => write_out(&national::encode(&report::text::render(&report), charset))?,
        Format::Json => {
            crate::output::print(crate::output::Doc::Info, &report::json::render(&report))?
        }
        Format::National => {
            let Body::Ssc(c) = &report.body else {
                return Err(Error::UnknownCard(format!(
                    "the national format describes a social security card; this is a {}",
                    CardKind::from(profile.kind)
                )));
            };
            let terminal = national_terminal(report.terminal.clone(), args.config.as_deref())?;
            let mut line = national::national_line(c, terminal.as_deref(), &args.device_id)?;
            line.push('\n');
            write_out(&national::encode(&line, charset))?;
        }
    }
    if args.stats {
        eprintln!(
            "sscard: {} APDUs ({} bytes) with the {} in '{reader}'",
            card_apdus.0,
            card_apdus.1,
            CardKind::from(profile.kind)
        );
        if let Some(n) = sam.as_ref().and_then(|s| s.apdu_count()) {
            eprintln!("sscard: {n} APDUs with the PSAM");
        }
    }
    if let Some(c) = report.failed() {
        return Err(Error::InvalidData(format!(
            "the card's data fails a check: {}",
            c.message
        )));
    }
    if let Body::Ssc(c) = &report.body {
        if c.genuine == Some(false) {
            return Err(Error::InvalidData(
                "the card is NOT genuine: its INTERNAL AUTHENTICATE proof does not match the SAM's"
                    .into(),
            ));
        }
    }
    Ok(ExitCode::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_terminal_is_the_sams_else_the_configured_one() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("sscard.toml");
        std::fs::write(&cfg, "terminal = \"639900000077\"\n").unwrap();
        assert_eq!(
            national_terminal(None, Some(&cfg)).unwrap().as_deref(),
            Some("639900000077")
        );
        assert_eq!(
            national_terminal(Some("639900000001".into()), Some(&cfg))
                .unwrap()
                .as_deref(),
            Some("639900000001")
        );
        assert_eq!(
            national_terminal(None, Some(Path::new("none"))).unwrap(),
            None
        );
        // A configuration named but missing is an error, not zeros.
        assert!(national_terminal(None, Some(&dir.path().join("nope.toml"))).is_err());
    }
}
