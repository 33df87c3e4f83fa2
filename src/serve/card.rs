//! What a reader's worker does besides the national functions: the `info` document
//! (as `sscard info --format json`), and the PIN functions with PINs a page sent when
//! the configuration allows it.
//!
//! Both open the card the way [`crate::national::National`] does (the configured card
//! reader, else the first reader with a card other than the PSAM's), inside one PC/SC
//! transaction.

use super::worker::Slot;
use crate::apdu::{Channel, Transport};
use crate::card::report::{self, Body, Report};
use crate::card::{self, clock, CardKind, SscReadOptions};
use crate::error::{Error, ExitCode};
use crate::national::pin::{FilePad, PinPad};
use crate::national::{Failure, NationalError, Settings};
use crate::profile::Profiles;
use crate::reader::{establish, list_readers, ConnectOptions, PcscCard, ReaderSelector};
use crate::sam::keyfile::KeyFile;
use crate::sam::psam::Psam;
use crate::sam::Sam;
use serde_json::Value;
use zeroize::Zeroizing;

/// Connects to the card's reader of `s`.
fn connect(s: &Settings) -> Result<PcscCard, Error> {
    let ctx = establish()?;
    let readers = list_readers(&ctx)?;
    let usage = |what: &str, e: String| Error::Other {
        message: format!("{what}: {e}"),
        code: ExitCode::Usage,
    };
    let name = match &s.reader {
        Some(text) => text
            .parse::<ReaderSelector>()
            .map_err(|e| usage("reader", e.to_string()))?
            .pick(&readers)?
            .name
            .clone(),
        None => {
            let psam = s
                .psam_reader
                .as_ref()
                .and_then(|t| t.parse::<ReaderSelector>().ok())
                .and_then(|sel| sel.pick(&readers).ok().map(|r| r.name.clone()));
            let others: Vec<_> = readers
                .iter()
                .filter(|r| Some(&r.name) != psam.as_ref())
                .cloned()
                .collect();
            ReaderSelector::Auto.pick(&others)?.name.clone()
        }
    };
    Ok(PcscCard::connect_with(
        ctx,
        &name,
        ConnectOptions::default(),
    )?)
}

/// The SAM of the desk: the key file, else the PSAM, else none.
fn open_sam(s: &Settings) -> Result<Option<Box<dyn Sam>>, Error> {
    if let Some(path) = &s.keys {
        return Ok(Some(Box::new(KeyFile::load(path)?)));
    }
    match &s.psam_reader {
        Some(t) => {
            let sel = t.parse::<ReaderSelector>().map_err(|e| Error::Other {
                message: format!("readers.psam: {e}"),
                code: ExitCode::Usage,
            })?;
            Ok(Some(Box::new(Psam::open_in_reader(&sel)?)))
        }
        None => Ok(None),
    }
}

/// The card in the worker's reader as the `info` document (the JSON of `sscard info
/// --format json`, the SAM's checks included when the desk has one).
///
/// # Errors
/// As `sscard info`: no reader, no card, unknown card, card errors, keys.
pub fn read_info(slot: &mut Slot) -> Result<Value, Error> {
    end_hsm_session(slot);
    let today = clock::today().map_err(|message| Error::Other {
        message,
        code: ExitCode::Usage,
    })?;
    let s = &slot.settings;
    let profiles: &Profiles = &slot.profiles;
    let mut card = connect(s)?;
    let mut sam = open_sam(s)?;
    let reader = card.reader().to_string();
    let atr = card.atr().unwrap_or_default();
    let tx = card.transaction()?;
    let mut ch = Channel::new(Box::new(tx));
    let detected = card::identify(&mut ch, profiles)?;
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
                verify_card: false,
            };
            let sam_ref: Option<&mut dyn Sam> = match sam.as_mut() {
                Some(b) => Some(b.as_mut()),
                None => None,
            };
            Body::Ssc(Box::new(card::read_ssc_with(
                &mut ch, profile, sam_ref, &opts,
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
    drop(ch);
    drop(card);
    let (sam_name, terminal) = match sam.as_mut() {
        Some(s) => (Some(s.describe()), s.terminal_number()),
        None => (None, None),
    };
    let report = Report::new(reader, atr, profile, body, today, sam_name, terminal);
    Ok(report::json::render(&report))
}

/// Which PIN function a page called with its own PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCall {
    /// `iVerifyPIN`: one PIN.
    Verify,
    /// `iChangePIN`: the current PIN, then the new one twice.
    Change,
}

/// Runs a PIN function with PINs the page sent (only when `[serve] pin_from_page =
/// true`), in the pad's prompt order. The PINs are wiped when done.
///
/// # Errors
/// The national codes, as [`crate::national::National::verify_pin`].
pub fn pin_from_page(
    slot: &mut Slot,
    call: PinCall,
    pins: &[Zeroizing<String>],
) -> Result<(), Failure> {
    end_hsm_session(slot);
    let lines: Vec<&str> = pins.iter().map(|p| p.as_str()).collect();
    let mut pad = FilePad::from_lines(&lines);
    let mut card = connect(&slot.settings).map_err(failure)?;
    let tx = card.transaction()?;
    let mut ch = Channel::new(Box::new(tx));
    let pad: &mut dyn PinPad = &mut pad;
    match call {
        PinCall::Verify => crate::national::pin::verify_pin(&mut ch, &slot.profiles, pad),
        PinCall::Change => crate::national::pin::change_pin(&mut ch, &slot.profiles, pad),
    }
}

/// Ends an HSM session left by Step1 on this reader (as every national call does):
/// this call moves the card to other files, so a Step2 after it must not trust the
/// card's state. A fresh [`crate::national::National`] drops the old one's connection.
fn end_hsm_session(slot: &mut Slot) {
    if let Ok(n) = crate::national::National::with_settings(slot.settings.clone()) {
        slot.national = n;
    }
}

/// A command-line error as a national failure (the codes of national-interface.md §3).
fn failure(e: Error) -> Failure {
    match e {
        Error::Transport(t) => Failure::from(t),
        other => Failure::new(NationalError::Reader, other.to_string()),
    }
}
