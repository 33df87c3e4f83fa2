//! Reading an old city medical card: one file of account data.
//!
//! The layout is the city's, so everything comes from the profile by role; the
//! roles are what the activation flow needs to move the account to a new card.

use super::error::CardError;
use super::fields::read_file;
use super::nav::{alg_from_fci, Nav, Selection};
use super::ssc::diversifier_of;
use crate::apdu::Channel;
use crate::crypto::Algorithm;
use crate::profile::{Kind, Profile};

/// What was read from a city card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CityCard {
    /// Name of the profile used.
    pub profile: String,
    /// City card number.
    pub card_number: String,
    /// Citizen ID.
    pub citizen_id: String,
    /// Holder name.
    pub name: String,
    /// Medical account number.
    pub account: String,
    /// Insured category code.
    pub category: u8,
    /// Card status code (reference layout: `00` active, `01` migrating, `02`
    /// migrated, `03` blocked; see the profile's `status` values).
    pub status: u8,
    /// Balance in fen.
    pub balance_fen: u32,
    /// Transfer id; all zero when none.
    pub transfer_id: [u8; 16],
    /// The SSC card number the account went to, when the card holds one.
    pub target: Option<String>,
    /// Key diversification data D (reference layout: last 8 bytes of the card number).
    pub diversifier: [u8; 8],
    /// Algorithm of the card keys.
    pub alg: Algorithm,
    /// Every field read, by role.
    pub fields: super::fields::Fields,
    /// The DF left current on the card (profile DF id).
    pub current_df: Option<String>,
}

impl CityCard {
    /// The transfer id, or `None` when it is all zero.
    pub fn transfer(&self) -> Option<[u8; 16]> {
        self.transfer_id
            .iter()
            .any(|b| *b != 0)
            .then_some(self.transfer_id)
    }
}

/// Reads a city card, selecting its DF itself.
pub fn read_city(ch: &mut Channel, profile: &Profile) -> Result<CityCard, CardError> {
    read_city_with(ch, profile, None)
}

/// Reads a city card; `selected` is the detection SELECT, if it already made the
/// card's DF current.
pub fn read_city_with(
    ch: &mut Channel,
    profile: &Profile,
    selected: Option<&Selection>,
) -> Result<CityCard, CardError> {
    if profile.kind != Kind::City {
        return Err(CardError::invalid(
            format!("profile {}", profile.name),
            "is not a CITY profile",
        ));
    }
    let mut nav = match selected {
        Some(s) => Nav::after(profile, s),
        None => Nav::new(profile),
    };
    let mut fields = super::fields::Fields::default();
    // Every file holding a field, in profile order.
    let mut files: Vec<&str> = Vec::new();
    for f in &profile.fields {
        if !files.contains(&f.file.as_str()) {
            files.push(&f.file);
        }
    }
    for file in files {
        fields.extend(read_file(ch, &mut nav, profile, file, None, &[])?);
    }
    let main_df = &profile.file_of("status")?.df;
    let fci_alg = match nav.fci(main_df) {
        Some(fci) => alg_from_fci(profile.df(main_df)?, fci)?,
        None => None,
    };
    let alg = fci_alg
        .or(profile.alg.and_then(Algorithm::from_id))
        .ok_or_else(|| {
            CardError::invalid(format!("profile {}", profile.name), "no algorithm (`alg`)")
        })?;
    let target = match fields.get("target") {
        Some(_) => Some(fields.text("target")?).filter(|t| !t.is_empty()),
        None => None,
    };
    Ok(CityCard {
        profile: profile.name.clone(),
        card_number: fields.text("card_number")?,
        citizen_id: fields.text("citizen_id")?,
        name: fields.text("name")?,
        account: fields.text("account")?,
        category: fields.code("category")?,
        status: fields.code("status")?,
        balance_fen: fields.number("balance")?,
        transfer_id: fields.raw_array("transfer_id")?,
        target,
        diversifier: diversifier_of(profile, &fields)?,
        alg,
        current_df: nav.current().map(str::to_string),
        fields,
    })
}
