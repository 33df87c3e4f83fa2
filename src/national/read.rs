//! The card side of the national functions: exactly the records their lines need.
//!
//! Why not [`crate::card::read_ssc_with`]: `sscard info` reads every field (24 APDUs
//! on a 2.00 card, the medical area included), while the basic line needs 8 of the
//! card's records. This module drives the same card layer ([`card::identify`],
//! [`Nav`], [`read_field`], [`auth`]) field by field, so the bytes are
//! checked exactly as `info` checks them, and sends only:
//!
//! - SELECT SSSE (+ GET RESPONSE under T=0: the FCI gives the algorithm, which a 3.00
//!   card's key needs and which cannot be known before the spec version is read);
//! - EF05 by SFI and tag: spec version, card identifier, issue date, expiry date,
//!   card number (5 READ RECORDs);
//! - where the generation puts the holder file behind a key (3.00: key 0A), GET
//!   CHALLENGE + EXTERNAL AUTHENTICATE with the SAM's cryptogram;
//! - EF06 by SFI and tag: social security number, name, name extension (2.00/3.00).
//!
//! That is 10 APDUs on a 2.00 card, 9 on a 1.00 card and 12 on a 3.00 card with a
//! local SAM (BENCHMARKS.md, "National interface", derives the minimum).

use super::error::{Failure, NationalError};
use super::line::{region_of, BasicInfo, Step1Info};
use crate::apdu::{catalogue, Channel, Transport};
use crate::card::fields::{enter_file, read_field, Fields};
use crate::card::nav::{alg_from_fci, Nav};
use crate::card::{self, auth, CardError, CardKind};
use crate::crypto::Algorithm;
use crate::profile::{Date, Profile, Profiles};
use crate::sam::{KeyApp, Sam};

/// Roles of the card file (EF05) the lines need, after the generation role.
pub const CARD_ROLES: [&str; 4] = ["card_id", "issue_date", "expiry_date", "card_number"];
/// Roles of the holder file (EF06) the basic line needs.
pub const HOLDER_ROLES: [&str; 3] = ["citizen_id", "name", "name_ext"];

/// The card file's part of the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPart {
    /// Spec version (the generation).
    pub spec_version: String,
    /// The card's algorithm (from the FCI, else from the generation).
    pub alg: Algorithm,
    /// Card identifier.
    pub card_id: [u8; 16],
    /// Issue date.
    pub issue_date: Date,
    /// Expiry date.
    pub expiry_date: Date,
    /// Card number.
    pub card_number: String,
    /// Diversification data D of the card keys.
    pub diversifier: [u8; 8],
    /// The ATR's historical bytes.
    pub historical: Vec<u8>,
}

/// The holder file's part of the basic line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HolderPart {
    /// Social security number.
    pub citizen_id: String,
    /// Name with its extension.
    pub name: String,
}

impl CardPart {
    /// The basic line's fields, with the holder's and the desk's.
    pub fn basic(&self, holder: HolderPart, terminal: &str, device_id: &str) -> BasicInfo {
        BasicInfo {
            region: region_of(&self.card_id),
            citizen_id: holder.citizen_id,
            card_number: self.card_number.clone(),
            card_id: self.card_id,
            name: holder.name,
            historical: self.historical.clone(),
            spec_version: self.spec_version.clone(),
            issue_date: self.issue_date,
            expiry_date: self.expiry_date,
            terminal: terminal.to_string(),
            device_id: device_id.to_string(),
        }
    }
}

/// Selects the social security application (the detection SELECT, which the read
/// continues from); any other card is [`NationalError::WrongCard`].
///
/// # Errors
/// Reader failures as [`NationalError::from_transport`]; −1 for another card.
pub fn open_ssc<'p>(
    ch: &mut Channel<'_>,
    profiles: &'p Profiles,
) -> Result<(&'p Profile, Nav<'p>), Failure> {
    let d = card::identify(ch, profiles)?;
    match (d.kind, d.profile, &d.selection) {
        (CardKind::Ssc, Some(p), Some(sel)) => Ok((p, Nav::after(p, sel))),
        (kind, _, _) => {
            let atr = ch.atr();
            Err(Failure::new(
                NationalError::WrongCard,
                match kind {
                    CardKind::Unknown => d.unknown_message(atr.as_deref()),
                    k => format!("this is a {k}, not a social security card"),
                },
            ))
        }
    }
}

/// Reads `roles` (those present in `generation`), entering each field's DF as needed.
fn read_roles(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    generation: Option<&str>,
    roles: &[&str],
) -> Result<Fields, CardError> {
    let mut out = Fields::default();
    for role in roles {
        let field = profile.field(role)?;
        if !field.in_generation(generation) {
            continue;
        }
        let file = profile.file(&field.file)?;
        enter_file(ch, nav, file)?;
        if let Some(f) = read_field(ch, file, field, generation)? {
            out.items.push(f);
        }
    }
    Ok(out)
}

fn need_date(fields: &Fields, role: &str) -> Result<Date, CardError> {
    fields
        .date(role)?
        .ok_or_else(|| CardError::invalid(format!("field '{role}'"), "the card stores no date"))
}

/// Reads the card file's fields (generation first: it decides the layout).
///
/// # Errors
/// Card failures sorted by [`NationalError::from_card`]; an unknown generation or a
/// missing date is −23.
pub fn read_card_part(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
) -> Result<CardPart, Failure> {
    let atr = ch.atr().unwrap_or_default();
    let historical = crate::apdu::atr::Atr::parse_lenient(&atr)
        .map_err(|e| Failure::new(NationalError::InvalidData, format!("ATR: {e}")))?
        .historical;
    let gen_role = profile.generation_role.as_deref().ok_or_else(|| {
        Failure::new(
            NationalError::InvalidData,
            format!("profile {} names no generation field", profile.name),
        )
    })?;
    let g = read_roles(ch, nav, profile, None, &[gen_role])?;
    let version = g.text(gen_role)?;
    let generation = profile.generation(&version).ok_or_else(|| {
        Failure::new(
            NationalError::InvalidData,
            format!(
                "'{version}' is not a generation of profile {}",
                profile.name
            ),
        )
    })?;
    let mut fields = read_roles(ch, nav, profile, Some(&version), &CARD_ROLES)?;
    fields.extend(g);

    let card_file = profile.file_of("card_id")?;
    let df = profile.df(&card_file.df)?;
    let fci_alg = match nav.fci(&card_file.df) {
        Some(fci) => alg_from_fci(df, fci)?,
        None => None,
    };
    let alg = fci_alg
        .or_else(|| generation.alg.or(profile.alg).and_then(Algorithm::from_id))
        .ok_or_else(|| {
            Failure::new(
                NationalError::InvalidData,
                "no algorithm id in the FCI and none in the profile",
            )
        })?;
    Ok(CardPart {
        alg,
        card_id: fields.raw_array("card_id")?,
        issue_date: need_date(&fields, "issue_date")?,
        expiry_date: need_date(&fields, "expiry_date")?,
        card_number: fields.text("card_number")?,
        diversifier: card::ssc::diversifier_of(profile, &fields)?,
        spec_version: version,
        historical,
    })
}

/// Opens the holder file where the generation puts it behind a key: EXTERNAL
/// AUTHENTICATE with the SAM's cryptogram. No APDU on a card that needs no key.
///
/// # Errors
/// −2201 when a key is needed and there is no SAM; −22xx for a SAM that lacks the key
/// or algorithm; the card's refusal as its status word.
pub fn open_holder(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    card: &CardPart,
    sam: Option<&mut dyn Sam>,
) -> Result<(), Failure> {
    let holder_file = profile.file_of("citizen_id")?;
    let Some(key) = profile.read_key(&holder_file.id, Some(&card.spec_version)) else {
        return Ok(());
    };
    let Some(sam) = sam else {
        return Err(Failure::new(
            NationalError::NoPsam,
            format!(
                "the holder data of a spec {} card needs key {:02X}: configure a PSAM \
                 (readers.psam) or use iReadCardBas_HSM_Step1/Step2",
                card.spec_version, key.id
            ),
        ));
    };
    nav.enter(ch, &key.df)?;
    auth::external_authenticate(
        ch,
        key_app(profile)?,
        key.id,
        card.alg,
        &card.diversifier,
        sam,
        "opening the holder data",
    )?;
    Ok(())
}

fn key_app(profile: &Profile) -> Result<KeyApp, Failure> {
    profile.key_app().ok_or_else(|| {
        Failure::new(
            NationalError::InvalidData,
            format!("profile {} has no key_app", profile.name),
        )
    })
}

/// Reads the holder fields of the basic line (the holder file must be open).
///
/// # Errors
/// Card failures sorted by [`NationalError::from_card`].
pub fn read_holder(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    card: &CardPart,
) -> Result<HolderPart, Failure> {
    let f = read_roles(ch, nav, profile, Some(&card.spec_version), &HOLDER_ROLES)?;
    let ext = match f.get("name_ext") {
        Some(_) => f.text("name_ext")?,
        None => String::new(),
    };
    Ok(HolderPart {
        citizen_id: f.text("citizen_id")?,
        name: format!("{}{ext}", f.text("name")?),
    })
}

/// What Step1 leaves for Step2: the card's part, the card's own INTERNAL AUTHENTICATE
/// answer (to compare with the HSM's), and where the holder file is. Its `Debug`
/// hides the proof (a cryptogram never reaches a log).
#[derive(Clone)]
pub struct Step1State {
    /// The card file's part.
    pub card: CardPart,
    /// The card's INTERNAL AUTHENTICATE answer.
    pub card_proof: Vec<u8>,
    /// The key Step2 authenticates with (the holder-data key).
    pub external_key: u8,
}

impl std::fmt::Debug for Step1State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step1State")
            .field("card", &self.card)
            .field("card_proof", &"REDACTED")
            .field("external_key", &self.external_key)
            .finish()
    }
}

/// HSM Step1 on an opened SSC: reads the card file, asks the card for its INTERNAL
/// AUTHENTICATE proof of a fresh random number (key `internal_auth`), and ends with
/// GET CHALLENGE, whose answer is valid for the next command only (Step2's EXTERNAL
/// AUTHENTICATE), so nothing may be sent to the card in between.
///
/// # Errors
/// −2204 for a card whose holder data needs no key; −21 when the card refuses or
/// botches INTERNAL AUTHENTICATE; card and reader failures as usual.
pub fn hsm_step1(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    device_id: &str,
) -> Result<(Step1Info, Step1State), Failure> {
    let card = read_card_part(ch, nav, profile)?;
    let holder_file = profile.file_of("citizen_id")?;
    let Some(ext_key) = profile
        .read_key(&holder_file.id, Some(&card.spec_version))
        .cloned()
    else {
        return Err(Failure::new(
            NationalError::NoHsmNeeded,
            format!(
                "a spec {} card's holder data needs no key: use iReadCardBas",
                card.spec_version
            ),
        ));
    };
    let int_key = profile.key("internal_auth")?.clone();
    if int_key.df != ext_key.df {
        return Err(Failure::new(
            NationalError::InvalidData,
            "the profile puts the two keys in different DFs: no single session can use both",
        ));
    }
    nav.enter(ch, &int_key.df)?;
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| {
        Failure::new(
            NationalError::InternalAuth,
            format!("no random numbers: {e}"),
        )
    })?;
    let r = ch.send(&catalogue::internal_authenticate(int_key.id, &rnd))?;
    if !r.is_success() {
        return Err(Failure::new(
            NationalError::InternalAuth,
            format!(
                "INTERNAL AUTHENTICATE with key {:02X}: {}",
                int_key.id, r.status
            ),
        ));
    }
    if r.data.len() != card.alg.cryptogram_len() {
        return Err(Failure::new(
            NationalError::InternalAuth,
            format!(
                "INTERNAL AUTHENTICATE: {} bytes, {} gives {}",
                r.data.len(),
                card.alg,
                card.alg.cryptogram_len()
            ),
        ));
    }
    let card_proof = r.data;
    let r = ch.send(&catalogue::get_challenge())?;
    if !r.is_success() {
        return Err(Failure::new(
            NationalError::from_status(r.status),
            format!("GET CHALLENGE: {}", r.status),
        ));
    }
    let challenge: [u8; 8] = r.data.as_slice().try_into().map_err(|_| {
        Failure::new(
            NationalError::InvalidData,
            format!("GET CHALLENGE returned {} bytes, 8 expected", r.data.len()),
        )
    })?;
    let info = Step1Info {
        region: region_of(&card.card_id),
        historical: card.historical.clone(),
        alg: card.alg,
        card_id: card.card_id,
        internal_factor: card.diversifier,
        internal_random: rnd,
        external_factor: card.diversifier,
        external_random: challenge,
        device_id: device_id.to_string(),
    };
    Ok((
        info,
        Step1State {
            card,
            card_proof,
            external_key: ext_key.id,
        },
    ))
}

/// HSM Step2 on the card Step1 left (nothing sent in between): compares the HSM's
/// internal-authentication result with the card's proof, sends the HSM's EXTERNAL
/// AUTHENTICATE cryptogram, and reads the holder fields.
///
/// # Errors
/// −25 when the HSM's result differs from the card's proof (nothing is sent then);
/// the card's refusal of the cryptogram as its status word (`63Cx`: −25537…).
pub fn hsm_step2(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    state: &Step1State,
    key: &super::line::HsmKey,
) -> Result<HolderPart, Failure> {
    if !crate::crypto::ct_eq(&key.internal, &state.card_proof) {
        return Err(Failure::new(
            NationalError::HsmMismatch,
            "the HSM's internal authentication result differs from the card's",
        ));
    }
    let r = ch.send(&catalogue::external_authenticate(
        state.external_key,
        &key.external,
    ))?;
    if !r.is_success() {
        return Err(Failure::new(
            NationalError::from_status(r.status),
            format!(
                "EXTERNAL AUTHENTICATE with key {:02X}: {}",
                state.external_key, r.status
            ),
        ));
    }
    read_holder(ch, nav, profile, &state.card)
}

/// The lab's encryption machine: what a back office answers to a Step1 line, computed
/// from master keys (a key file). Internal result = the cryptogram of the internal
/// random under card key `internal_auth`; external = the cryptogram of the card's
/// challenge under the holder-data key, both diversified with the factors.
///
/// # Errors
/// −14 for a malformed line, −2203 when the keys lack one.
pub fn lab_hsm_answer(
    step1: &Step1Info,
    profile: &Profile,
    sam: &mut dyn Sam,
) -> Result<super::line::HsmKey, Failure> {
    let app = key_app(profile)?;
    let int_key = profile.key("internal_auth")?.id;
    let ext_key = profile.key("holder_read")?.id;
    let internal = sam.cryptogram(
        app,
        int_key,
        step1.alg,
        &step1.internal_factor,
        &step1.internal_random,
    )?;
    let external = sam.cryptogram(
        app,
        ext_key,
        step1.alg,
        &step1.external_factor,
        &step1.external_random,
    )?;
    Ok(super::line::HsmKey {
        internal: zeroize::Zeroizing::new(internal),
        external: zeroize::Zeroizing::new(external),
    })
}
