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
    /// N: the one SSC card number this card's transfer is bound to (CITY tag 27,
    /// written at the freeze); `None` when blank or when the card has no such record.
    pub target_card: Option<String>,
    /// The transfer counter (CITY tag 28), raised by one at every freeze; `None` when
    /// the card has no such record (the layout before the transfer protocol).
    pub transfer_counter: Option<u32>,
    /// Whether the card carries the target record (tag 27) at all.
    pub has_target_record: bool,
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

    /// The transfer id with its layout (counter || random), or `None` when none.
    pub fn transfer_id(&self) -> Option<super::transfer::TransferId> {
        super::transfer::TransferId::from_card(self.transfer_id)
    }

    /// Why the activation protocol cannot work with this card, or `None` when it can:
    /// the card (or its profile) lacks a record the protocol needs, as data naming the
    /// record (spec/activation.md; the desk renders it, `ui::messages`).
    pub fn activation_gap(&self) -> Option<crate::activation::error::OldLayout> {
        use crate::activation::error::{LayoutRecord, OldLayout};
        let record = LayoutRecord::missing(Kind::City, |r| match r {
            "target_card" => self.has_target_record,
            "transfer_counter" => self.transfer_counter.is_some(),
            _ => self.fields.get(r).is_some(),
        })?;
        Some(OldLayout {
            which: crate::activation::core::Which::Old,
            card: Some(self.card_number.clone()),
            profile: self.profile.clone(),
            record,
        })
    }
}

/// Reads a city card, selecting its DF itself.
pub fn read_city(ch: &mut Channel<'_>, profile: &Profile) -> Result<CityCard, CardError> {
    read_city_with(ch, profile, None)
}

/// Reads a city card; `selected` is the detection SELECT, if it already made the
/// card's DF current.
pub fn read_city_with(
    ch: &mut Channel<'_>,
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
    let has_target_record = fields.get("target_card").is_some();
    let target_card = match fields.get("target_card") {
        Some(_) => Some(fields.text("target_card")?).filter(|t| !t.is_empty()),
        None => None,
    };
    let transfer_counter = match fields.get("transfer_counter") {
        Some(_) => Some(fields.number("transfer_counter")?),
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
        target_card,
        transfer_counter,
        has_target_record,
        diversifier: diversifier_of(profile, &fields)?,
        alg,
        current_df: nav.current().map(str::to_string),
        fields,
    })
}
