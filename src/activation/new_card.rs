//! Reading the new card for a flow: only what the flow checks or writes over.
//!
//! `sscard info` reads every field (24 APDUs on a 2.00 card); a flow needs far fewer:
//! the card number, expiry and identifier (for the keys), the holder's ID and name,
//! the genuineness proof, and the medical status and transfer id. Reading just those,
//! by SFI and tag with the exact Le, cuts the new card's part of the pharmacy flow by
//! a quarter, and every APDU saved is 10-30 ms on a real contact card.

use super::error::ActivationError;
use super::session::Session;
use super::slots::Opened;
use crate::card::auth;
use crate::card::fields::{read_role, Fields};
use crate::card::nav::alg_from_fci;
use crate::card::ssc::diversifier_of;
use crate::card::{CardError, Nav};
use crate::crypto::Algorithm;
use crate::profile::Date;
use crate::sam::Sam;

/// What a flow knows of the new card.
#[derive(Debug, Clone)]
pub struct NewCard {
    /// Card number.
    pub card_number: String,
    /// Expiry date.
    pub expiry: Date,
    /// Holder's citizen ID.
    pub citizen_id: String,
    /// Holder's full name.
    pub name: String,
    /// Medical status code.
    pub status: u8,
    /// Transfer id (zeros when none).
    pub transfer_id: [u8; 16],
    /// Whether INTERNAL AUTHENTICATE proved the card genuine.
    pub genuine: bool,
    /// The extra medical roles asked for.
    pub extra: Fields,
}

fn missing(what: &str) -> ActivationError {
    ActivationError::Card(CardError::invalid("new card", format!("no {what}")))
}

/// Reads the new card in `opened`, plus the medical roles in `extra`.
pub fn read<'p>(
    opened: Opened<'p>,
    sam: &mut dyn Sam,
    extra: &[&str],
) -> Result<(Session<'p>, NewCard), ActivationError> {
    let Opened {
        profile,
        ch,
        selection,
        ..
    } = opened;
    let nav = match &selection {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut s = Session::with_nav(ch, profile, nav);
    let mut f = Fields::default();
    let gen_role = profile.generation_role.clone();
    for role in gen_role
        .iter()
        .map(String::as_str)
        .chain(["card_id", "card_number", "expiry_date"])
    {
        f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
    }
    let generation = match &gen_role {
        Some(role) => Some(f.text(role)?),
        None => None,
    };
    let gen = generation.as_deref();
    // The algorithm: the FCI of the detection SELECT, else the generation's.
    let card_df = profile.file_of("card_id")?.df.clone();
    let fci_alg = match s.nav.fci(&card_df) {
        Some(fci) => alg_from_fci(profile.df(&card_df)?, fci)?,
        None => None,
    };
    let alg = fci_alg
        .or_else(|| {
            gen.and_then(|g| profile.generation(g))
                .and_then(|g| g.alg)
                .or(profile.alg)
                .and_then(Algorithm::from_id)
        })
        .ok_or_else(|| missing("key algorithm (FCI or generation)"))?;
    s.alg = alg;
    s.diversifier = diversifier_of(profile, &f)?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| missing("key family in the profile"))?;

    // Holder: behind a read key on some generations.
    let holder_file = profile.file_of("citizen_id")?.id.clone();
    if let Some(key) = profile.read_key(&holder_file, gen) {
        s.enter(&key.df)?;
        auth::external_authenticate(
            &mut s.ch,
            key_app,
            key.id,
            alg,
            &s.diversifier,
            sam,
            "opening the holder data",
        )?;
    }
    for role in ["citizen_id", "name", "name_ext"] {
        let present = profile
            .field(role)
            .map(|fl| fl.in_generation(gen))
            .unwrap_or(false);
        if present {
            f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
        }
    }
    let name_ext = match f.get("name_ext") {
        Some(_) => f.text("name_ext")?,
        None => String::new(),
    };

    // Genuine: INTERNAL AUTHENTICATE in the key's DF, checked through the SAM.
    let key = profile.key("internal_auth")?;
    s.enter(&key.df)?;
    let genuine =
        auth::internal_authenticate(&mut s.ch, key_app, key.id, alg, &s.diversifier, sam)?;

    // Medical area last: the flow writes there next.
    let mut extra_fields = Fields::default();
    for role in ["status", "transfer_id"].iter().chain(extra) {
        let read = read_role(&mut s.ch, &mut s.nav, profile, role)?;
        if !["status", "transfer_id"].contains(role) {
            extra_fields.extend(read.clone());
        }
        f.extend(read);
    }
    let card = NewCard {
        card_number: f.text("card_number")?,
        expiry: f
            .date("expiry_date")?
            .ok_or_else(|| missing("expiry date"))?,
        citizen_id: f.text("citizen_id")?,
        name: format!("{}{name_ext}", f.text("name")?),
        status: f.code("status")?,
        transfer_id: f.raw_array("transfer_id")?,
        genuine,
        extra: extra_fields,
    };
    Ok((s, card))
}
