//! Card profiles as data: where each field of a card lives and how it is encoded.
//!
//! Why data and not code: real old city medical cards differ from city to city, and
//! even the national social security card moves its holder records between
//! generations. If tags, lengths, SFIs and record numbers were constants in the reader,
//! every new layout would be a code change and a release. Instead a profile file
//! (`profiles/*.json`, documented in `profiles/README.md`) describes a card, and one
//! generic reader ([`crate::card`]) walks it. Another city's card is a new JSON file
//! given with `--profile FILE`.
//!
//! The contract between the data and the code is the *role* of a field
//! (`card_number`, `status`, `balance`, ...): the code asks for a role and never for a
//! tag. [`roles`] lists, per card kind, which roles must exist and which encodings
//! they may have, so a profile that would make the code misread a card is refused when
//! it is loaded, not when a card is half written.
//!
//! - [`model`]: the profile types (serde) and their accessors.
//! - [`codec`]: decoding record values (BCD dates, GBK with trimming, ASCII, binary,
//!   big-endian numbers, BCD digits) and encoding them back into whole records.
//! - [`load`]: the built-in profiles and loading and validating a profile file.
//! - [`roles`]: what each card kind needs from its profile.

pub mod codec;
pub mod error;
pub mod load;
pub mod model;
pub mod roles;

pub use codec::{Date, Value};
pub use error::{FieldError, ProfileError};
pub use load::Profiles;
pub use model::{
    CodeValue, DfSpec, Encoding, Field, FileSpec, Generation, KeySpec, Kind, Profile, ReadBy,
    SelectBy, Structure,
};
