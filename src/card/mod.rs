//! Reading cards through their profiles: detection, SSC, CITY and PSAM, checks.
//!
//! This is the one generic reader of the profiles in [`crate::profile`]: it knows
//! which *roles* make up a social security card, a city card or a PSAM, and takes
//! every byte position from the profile. Why it is split as it is:
//!
//! - [`detect`](mod@detect): which profile a card follows. SELECT decides; the ATR only chooses
//!   the first SELECT, so a known card costs one.
//! - [`nav`]: which DF is current, so no SELECT is sent twice (each costs an APDU and
//!   wipes the card's security state).
//! - [`fields`]: one READ RECORD per field, by SFI and tag with the exact Le, each
//!   record checked whole against the profile before it is decoded.
//! - [`auth`]: EXTERNAL and INTERNAL AUTHENTICATE with cryptograms from a
//!   [`Sam`](crate::sam::Sam).
//! - [`ssc`], [`city`], [`psam`]: the typed results the activation flow works with.
//! - [`transfer`]: the transfer id layout (counter || random) and the SSC's floor.
//! - [`write`](mod@write): UPDATE RECORD of a field by role, for the activation flow.
//! - [`checks`], [`clock`]: check digits, expiry and the activation deadline.
//! - [`report`]: `sscard info`'s text, JSON and national-interface renderings.
//!
//! Errors are [`CardError`]s, each mapping to one exit code.
//!
//! For the activation flow, the whole path by role, no tag in code:
//! ```ignore
//! let d = card::identify(&mut ch, &profiles)?;                 // CITY or SSC
//! let ssc = card::read_ssc_with(&mut ch, p, sam, &SscReadOptions { selected: d.selection, ..Default::default() })?;
//! // ssc.current_df == Some("df04"): the medical area is current, no SELECT needed.
//! let key = p.key("write")?;                                     // 0C in DF04
//! card::auth::external_authenticate(&mut ch, p.key_app().unwrap(), key.id, ssc.alg, &ssc.diversifier(), sam, "activation")?;
//! card::update_field(&mut ch, p, "transfer_id", &Value::Bytes(id.to_vec()))?;
//! card::update_field(&mut ch, p, "status", &Value::Code(p.field("status")?.code("active")?))?;
//! ```
//!
//! APDUs for `sscard info` after detection (see [`report`] for the counts measured by
//! the end-to-end tests): an SSC 2.00 costs SELECT SSSE + GET RESPONSE (the FCI gives
//! the algorithm), 7 READ RECORDs of EF05, 7 of EF06, SELECT DF04 by FID, 7 of DF04
//! EF05: 24 in all.

pub mod auth;
pub mod checks;
pub mod city;
pub mod clock;
pub mod detect;
pub mod error;
pub mod fields;
pub mod historical;
pub mod nav;
pub mod psam;
pub mod report;
pub mod ssc;
pub mod transfer;
pub mod write;

pub use city::{read_city, read_city_with, CityCard};
pub use detect::{detect, identify, CardKind, Detected};
pub use error::CardError;
pub use fields::{FieldRead, Fields};
pub use nav::{Nav, Selection};
pub use psam::read_psam_terminal;
pub use ssc::{read_ssc, read_ssc_with, verify_card, Holder, Medical, SscCard, SscReadOptions};
pub use transfer::{Floor, TransferId};
pub use write::update_field;

#[cfg(test)]
mod tests;
