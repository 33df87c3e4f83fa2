//! Which kind of card is in the reader: SELECT decides, the ATR only orders the tries.
//!
//! ATRs are a weak signal (the PSAM's looks like the SSC's, a city may reuse a chip),
//! so detection sends each profile's identifying SELECT until one succeeds. The ATR
//! puts the likely profile first, so a known card costs one SELECT (plus GET RESPONSE
//! when it answers an FCI). The successful SELECT is also the first step of reading:
//! [`Detected::selection`] hands it on so the reader does not select again.

use super::error::CardError;
use super::nav::{select_command, Selection};
use crate::apdu::{Channel, Transport};
use crate::profile::{Kind, Profile, Profiles, SelectBy};
use std::fmt;

/// The kind of card found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardKind {
    /// Social security card.
    Ssc,
    /// Old city medical card.
    City,
    /// Terminal SAM.
    Psam,
    /// None of the profiles.
    Unknown,
}

impl CardKind {
    /// Lower-case name (`ssc`, `city`, `psam`, `unknown`).
    pub fn name(self) -> &'static str {
        match self {
            CardKind::Ssc => "ssc",
            CardKind::City => "city",
            CardKind::Psam => "psam",
            CardKind::Unknown => "unknown",
        }
    }
}

impl fmt::Display for CardKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CardKind::Ssc => "social security card (SSC)",
            CardKind::City => "city medical card",
            CardKind::Psam => "PSAM",
            CardKind::Unknown => "unknown card",
        })
    }
}

impl From<Kind> for CardKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Ssc => CardKind::Ssc,
            Kind::City => CardKind::City,
            Kind::Psam => CardKind::Psam,
        }
    }
}

/// The outcome of detection.
#[derive(Debug, Clone)]
pub struct Detected<'p> {
    /// The kind.
    pub kind: CardKind,
    /// The matching profile (`None` for an unknown card).
    pub profile: Option<&'p Profile>,
    /// The DF the detection SELECT left current, and its FCI.
    pub selection: Option<Selection>,
    /// The SELECT commands tried, in order, with the status of each (for messages).
    pub tried: Vec<(String, u16)>,
}

/// Detects the card kind and keeps the successful SELECT (see [`Detected`]).
pub fn identify<'p>(
    ch: &mut Channel<'_>,
    profiles: &'p Profiles,
) -> Result<Detected<'p>, CardError> {
    let atr = ch.atr();
    let mut tried: Vec<(String, u16)> = Vec::new();
    for profile in profiles.detection_order(atr.as_deref()) {
        let df = profile.detect_df()?;
        let by = if df.aid.is_some() {
            SelectBy::Aid
        } else {
            SelectBy::Fid
        };
        let Some(cmd) = select_command(df, by) else {
            continue;
        };
        let bytes = cmd.to_bytes().map_err(crate::apdu::TransportError::from)?;
        let text = hex::encode_upper(&bytes);
        // Profiles sharing an application (two cities, one AID) cost one SELECT.
        if tried.iter().any(|(t, _)| *t == text) {
            continue;
        }
        let r = ch.send(&cmd)?;
        tried.push((text, r.sw()));
        if r.is_success() {
            return Ok(Detected {
                kind: profile.kind.into(),
                profile: Some(profile),
                selection: Some(Selection {
                    df: df.id.clone(),
                    fci: r.data,
                }),
                tried,
            });
        }
    }
    Ok(Detected {
        kind: CardKind::Unknown,
        profile: None,
        selection: None,
        tried,
    })
}

/// The card kind, by as few SELECTs as the ATR allows.
pub fn detect(ch: &mut Channel<'_>, profiles: &Profiles) -> Result<CardKind, CardError> {
    identify(ch, profiles).map(|d| d.kind)
}

impl Detected<'_> {
    /// "no profile matched: 00A404000F... → 6A82, ..." for an unknown card.
    pub fn unknown_message(&self, atr: Option<&[u8]>) -> String {
        let tries: Vec<String> = self
            .tried
            .iter()
            .map(|(cmd, sw)| format!("SELECT {} → {sw:04X}", cmd.get(10..).unwrap_or(cmd)))
            .collect();
        format!(
            "no card profile matches (ATR {}; {})",
            atr.map_or_else(|| "unknown".into(), hex::encode_upper),
            if tries.is_empty() {
                "nothing tried".into()
            } else {
                tries.join(", ")
            }
        )
    }
}
