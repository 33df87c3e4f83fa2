//! Reading a social security card: EF05 (card data), EF06 (holder), DF04 (medical).
//!
//! Order matters for APDU count and for security state: the card file first (its
//! generation decides the holder layout and its identifier gives the diversification
//! data), then the holder file in the same DF (after EXTERNAL AUTHENTICATE on a 3.00
//! card, which a SELECT would undo), the optional INTERNAL AUTHENTICATE while that DF
//! is current, and the medical area last. A 2.00 card read after detection costs
//! exactly: SELECT SSSE + GET RESPONSE, one READ RECORD per field, one SELECT of DF04.
//!
//! Everything the code needs comes from the profile by role; the only SSC knowledge
//! here is which roles make up a card, a holder and a medical area.

use super::auth;
use super::error::CardError;
use super::fields::{read_file, read_role, Fields};
use super::nav::{alg_from_fci, Nav, Selection};
use crate::apdu::Channel;
use crate::crypto::Algorithm;
use crate::profile::model::DiversifierBytes;
use crate::profile::{Date, Kind, Profile};
use crate::sam::Sam;

/// The holder data (EF06).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Social security number = citizen ID (18 characters).
    pub citizen_id: String,
    /// The full name: name (tag 09) followed by its extension (tag 4E).
    pub name: String,
    /// Tag 09 alone.
    pub name_base: String,
    /// Tag 4E alone (empty on 1.00 cards or when unused).
    pub name_ext: String,
    /// Sex as stored (`1` male, `2` female).
    pub sex: String,
    /// Ethnicity code (GB 3304, `01` Han).
    pub ethnicity: u8,
    /// Birthplace region code (digits).
    pub birthplace: String,
    /// Birth date (`None` when the card stores zeros).
    pub birth_date: Option<Date>,
}

/// The medical area (DF04 EF05).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medical {
    /// Medical account number.
    pub account: String,
    /// Insured category code.
    pub category: u8,
    /// Medical status code (`00` not activated, `01` active, `02` blocked).
    pub status: u8,
    /// Balance in fen (0.01 yuan).
    pub balance_fen: u32,
    /// Activation date; `None` before activation.
    pub activation_date: Option<Date>,
    /// Activation terminal number (12 digits).
    pub terminal: String,
    /// Transfer id; all zero when none.
    pub transfer_id: [u8; 16],
    /// The transfer floor (DF04 EF05 tag 27): `None` when the card has no such record
    /// (the layout before the transfer protocol), `Some(None)` when it holds none.
    pub transfer_floor: Option<Option<super::transfer::Floor>>,
}

impl Medical {
    /// The transfer id, or `None` when it is all zero.
    pub fn transfer(&self) -> Option<[u8; 16]> {
        self.transfer_id
            .iter()
            .any(|b| *b != 0)
            .then_some(self.transfer_id)
    }
}

/// What was read from a social security card.
#[derive(Debug, Clone)]
pub struct SscCard {
    /// Name of the profile used.
    pub profile: String,
    /// The card's ATR.
    pub atr: Vec<u8>,
    /// Algorithm of the card keys (from the FCI; else from the generation).
    pub alg: Algorithm,
    /// Card identifier: region (3 B BCD) + `D156000005` + 8 chip bytes.
    pub card_id: [u8; 16],
    /// Card type, as stored (ASCII, or hex when not printable).
    pub card_type: String,
    /// Spec version (`1.00`, `2.00`, `3.00`): the generation.
    pub spec_version: String,
    /// Initialising organisation (digits, or hex when not printable).
    pub issuer: String,
    /// Issue date.
    pub issue_date: Date,
    /// Expiry date.
    pub expiry_date: Date,
    /// Card number (8 characters + check character).
    pub card_number: String,
    /// Holder data; `None` when it could not be read (3.00 card without a SAM).
    pub holder: Option<Holder>,
    /// Medical area.
    pub medical: Option<Medical>,
    /// The INTERNAL AUTHENTICATE result, when it was asked for.
    pub genuine: Option<bool>,
    /// The key the holder data needs, when it was not read for lack of a SAM.
    pub holder_key: Option<u8>,
    /// Remarks for the user (what could not be read and why).
    pub notes: Vec<String>,
    /// Every field read, by role (for generic display and JSON).
    pub fields: Fields,
    /// The DF left current on the card (profile DF id).
    pub current_df: Option<String>,
}

impl SscCard {
    /// The diversification data D: the last 8 bytes of the card identifier.
    pub fn diversifier(&self) -> [u8; 8] {
        let mut d = [0u8; 8];
        d.copy_from_slice(&self.card_id[8..]);
        d
    }

    /// Why the activation protocol cannot work with this card, or `None` when it can:
    /// the card (or its profile) lacks a record the protocol needs, as data naming the
    /// record (spec/activation.md; the desk renders it, `ui::messages`).
    pub fn activation_gap(&self) -> Option<crate::activation::error::OldLayout> {
        use crate::activation::error::{LayoutRecord, OldLayout};
        let has_floor = self
            .medical
            .as_ref()
            .is_some_and(|m| m.transfer_floor.is_some());
        let record = LayoutRecord::missing(Kind::Ssc, |r| match r {
            "transfer_floor" => has_floor,
            _ => self.fields.get(r).is_some(),
        })?;
        Some(OldLayout {
            which: crate::activation::core::Which::New,
            card: Some(self.card_number.clone()),
            profile: self.profile.clone(),
            record,
        })
    }

    /// The region code: the first 3 bytes of the card identifier, BCD.
    pub fn region(&self) -> String {
        crate::profile::codec::decode_bcd(&self.card_id[..3])
            .unwrap_or_else(|| hex::encode_upper(&self.card_id[..3]))
    }
}

/// Options of [`read_ssc_with`].
#[derive(Debug, Clone, Default)]
pub struct SscReadOptions {
    /// The detection SELECT already made the card's first DF current.
    pub selected: Option<Selection>,
    /// Prove the card genuine by INTERNAL AUTHENTICATE (needs a SAM).
    pub verify_card: bool,
}

/// Reads an SSC (selecting its DFs itself). See [`read_ssc_with`].
pub fn read_ssc(
    ch: &mut Channel<'_>,
    profile: &Profile,
    sam: Option<&mut dyn Sam>,
) -> Result<SscCard, CardError> {
    read_ssc_with(ch, profile, sam, &SscReadOptions::default())
}

/// The 8 diversification bytes from a field's raw value, as the profile says.
pub fn diversifier_of(profile: &Profile, fields: &Fields) -> Result<[u8; 8], CardError> {
    let spec = profile.diversifier.as_ref().ok_or_else(|| {
        CardError::invalid(format!("profile {}", profile.name), "no `diversifier`")
    })?;
    let raw = fields.raw(&spec.role)?;
    let part = match spec.bytes {
        DiversifierBytes::Last8 => raw.get(raw.len().saturating_sub(8)..),
        DiversifierBytes::First8 => raw.get(..8),
    };
    part.and_then(|p| p.try_into().ok()).ok_or_else(|| {
        CardError::invalid(
            format!("field '{}'", spec.role),
            "fewer than 8 bytes to diversify with",
        )
    })
}

fn need_date(fields: &Fields, profile: &Profile, role: &str) -> Result<Date, CardError> {
    fields.date(role)?.ok_or_else(|| {
        let context = match profile.field(role) {
            Ok(f) => profile.file(&f.file).map_or_else(
                |_| f.label.clone(),
                |file| super::fields::field_context(file, f),
            ),
            Err(_) => role.to_string(),
        };
        CardError::invalid(context, "the card stores no date (00000000)")
    })
}

/// Reads an SSC: card data, holder data (after EXTERNAL AUTHENTICATE where the
/// generation requires it, if a SAM is given), and the medical area.
///
/// Without a SAM, a card whose holder file needs a key is read without it:
/// [`SscCard::holder`] is `None` and [`SscCard::notes`] says which key is needed.
pub fn read_ssc_with(
    ch: &mut Channel<'_>,
    profile: &Profile,
    mut sam: Option<&mut dyn Sam>,
    opts: &SscReadOptions,
) -> Result<SscCard, CardError> {
    if profile.kind != Kind::Ssc {
        return Err(CardError::invalid(
            format!("profile {}", profile.name),
            "is not an SSC profile",
        ));
    }
    let atr = crate::apdu::Transport::atr(ch).unwrap_or_default();
    let mut nav = match &opts.selected {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut notes = Vec::new();

    // 1. The card file, generation field first.
    let card_file = profile.file_of("card_id")?.clone();
    let (generation, mut fields) = match &profile.generation_role {
        Some(role) => {
            let g = read_role(ch, &mut nav, profile, role)?;
            let version = g.text(role)?;
            if profile.generation(&version).is_none() {
                let known: Vec<_> = profile
                    .generations
                    .iter()
                    .map(|g| g.version.as_str())
                    .collect();
                return Err(CardError::invalid(
                    profile
                        .field(role)
                        .map(|f| f.label.clone())
                        .unwrap_or_default(),
                    format!(
                        "'{version}' is not a generation of profile {} ({})",
                        profile.name,
                        known.join(", ")
                    ),
                ));
            }
            (Some(version), g)
        }
        None => (None, Fields::default()),
    };
    let gen = generation.as_deref();
    let skip: Vec<&str> = profile.generation_role.as_deref().into_iter().collect();
    fields.extend(read_file(ch, &mut nav, profile, &card_file.id, gen, &skip)?);

    // Algorithm: the FCI says; the generation says what it should be.
    let gen_alg = gen
        .and_then(|g| profile.generation(g))
        .and_then(|g| g.alg)
        .or(profile.alg)
        .and_then(Algorithm::from_id);
    let df_spec = profile.df(&card_file.df)?;
    let fci_alg = match nav.fci(&card_file.df) {
        Some(fci) => alg_from_fci(df_spec, fci)?,
        None => None,
    };
    let alg = match (fci_alg, gen_alg) {
        (Some(f), Some(g)) if f != g => {
            notes.push(format!(
                "the FCI gives algorithm {f} but spec version {} uses {g}; using {f}",
                gen.unwrap_or("?")
            ));
            f
        }
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => {
            return Err(CardError::invalid(
                format!("{} FCI", df_spec.label()),
                "no algorithm id in the FCI and none in the profile",
            ))
        }
    };
    let diversifier = diversifier_of(profile, &fields)?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid(format!("profile {}", profile.name), "no `key_app`"))?;

    // 2. The holder file, behind a key on some generations.
    let holder_file = profile.file_of("citizen_id")?.clone();
    let mut holder_key = None;
    let holder_fields = match profile.read_key(&holder_file.id, gen) {
        Some(key) => match sam.as_deref_mut() {
            Some(s) => {
                nav.enter(ch, &key.df)?;
                auth::external_authenticate(
                    ch,
                    key_app,
                    key.id,
                    alg,
                    &diversifier,
                    s,
                    &format!("opening {}", holder_file.label()),
                )?;
                Some(read_file(ch, &mut nav, profile, &holder_file.id, gen, &[])?)
            }
            None => {
                holder_key = Some(key.id);
                notes.push(format!(
                    "{} of a spec {} card is readable only after EXTERNAL AUTHENTICATE with key {:02X} ({}): give --keys FILE or --sam-reader READER to read it",
                    holder_file.label(),
                    gen.unwrap_or("?"),
                    key.id,
                    key.label.as_deref().unwrap_or(&key.role)
                ));
                None
            }
        },
        None => Some(read_file(ch, &mut nav, profile, &holder_file.id, gen, &[])?),
    };
    let holder = match holder_fields {
        Some(h) => {
            fields.extend(h);
            let name_base = fields.text("name")?;
            let name_ext = match fields.get("name_ext") {
                Some(_) => fields.text("name_ext")?,
                None => String::new(),
            };
            Some(Holder {
                citizen_id: fields.text("citizen_id")?,
                name: format!("{name_base}{name_ext}"),
                name_base,
                name_ext,
                sex: fields.text("sex")?,
                ethnicity: fields.code("ethnicity")?,
                birthplace: fields.text("birthplace")?,
                birth_date: fields.date("birth_date")?,
            })
        }
        None => None,
    };

    // 3. Genuineness, while the key's DF is (most likely) current.
    let mut genuine = None;
    if opts.verify_card {
        let s = sam.ok_or_else(|| {
            CardError::NeedsKey(
                "--verify-card needs a SAM: give --keys FILE or --sam-reader READER".into(),
            )
        })?;
        let key = profile.key("internal_auth")?;
        nav.enter(ch, &key.df)?;
        genuine = Some(auth::internal_authenticate(
            ch,
            key_app,
            key.id,
            alg,
            &diversifier,
            s,
        )?);
    }

    // 4. The medical area.
    let medical_file = profile.file_of("status")?.clone();
    fields.extend(read_file(
        ch,
        &mut nav,
        profile,
        &medical_file.id,
        gen,
        &[],
    )?);
    let medical = Medical {
        account: fields.text("account")?,
        category: fields.code("category")?,
        status: fields.code("status")?,
        balance_fen: fields.number("balance")?,
        activation_date: fields.date("activation_date")?,
        terminal: fields.text("activation_terminal")?,
        transfer_id: fields.raw_array("transfer_id")?,
        transfer_floor: match fields.get("transfer_floor") {
            Some(_) => Some(super::transfer::Floor::decode(
                fields.raw("transfer_floor")?,
            )?),
            None => None,
        },
    };

    Ok(SscCard {
        profile: profile.name.clone(),
        atr,
        alg,
        card_id: fields.raw_array("card_id")?,
        card_type: fields.text_or_hex("card_type")?,
        spec_version: generation.clone().unwrap_or_default(),
        issuer: fields.text_or_hex("issuer")?,
        issue_date: need_date(&fields, profile, "issue_date")?,
        expiry_date: need_date(&fields, profile, "expiry_date")?,
        card_number: fields.text("card_number")?,
        holder,
        medical: Some(medical),
        genuine,
        holder_key,
        notes,
        fields,
        current_df: nav.current().map(str::to_string),
    })
}

/// Proves the card genuine: INTERNAL AUTHENTICATE with the profile's `internal_auth`
/// key, checked against the SAM. Selects the key's DF first (the card may have been
/// left elsewhere).
pub fn verify_card(
    ch: &mut Channel<'_>,
    profile: &Profile,
    card: &SscCard,
    sam: &mut dyn Sam,
) -> Result<bool, CardError> {
    let key = profile.key("internal_auth")?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid(format!("profile {}", profile.name), "no `key_app`"))?;
    let mut nav = Nav::new(profile);
    nav.enter(ch, &key.df)?;
    auth::internal_authenticate(ch, key_app, key.id, card.alg, &card.diversifier(), sam)
}
