//! Writing one field by role: UPDATE RECORD of the whole `tag len value` record.
//!
//! The activation flow writes fields by role (`status`, `transfer_id`, ...) so that it
//! never holds a tag or an SFI: this turns a role and a value into the record the
//! profile describes ([`Field::encode`](crate::profile::Field::encode) checks and pads
//! it) and sends it by SFI and tag. The caller must have made the file's DF current
//! and authenticated with the file's `write_key` there (see [`super::auth`]); this
//! function sends exactly one APDU and selects nothing, since a SELECT would wipe the
//! security state the write needs.

use super::error::CardError;
use super::fields::field_context;
use crate::apdu::catalogue::{self, EfRef, RecordRef};
use crate::apdu::Channel;
use crate::profile::{Profile, Structure, Value};

/// UPDATE RECORD of the field `role` with `value` (by SFI and tag, or in the current EF
/// when the file has no SFI).
///
/// # Errors
/// [`CardError::InvalidData`] when the value does not fit the field,
/// [`CardError::Status`] when the card refuses (`6982` not authenticated, `6700`
/// wrong length).
pub fn update_field(
    ch: &mut Channel<'_>,
    profile: &Profile,
    role: &str,
    value: &Value,
) -> Result<(), CardError> {
    let field = profile.field(role)?;
    let file = profile.file(&field.file)?;
    let ctx = field_context(file, field);
    if file.structure != Structure::Linear {
        return Err(CardError::invalid(
            ctx,
            "only fields of linear files are written by record",
        ));
    }
    let record = field
        .encode(value)
        .map_err(|e| CardError::field(file.label(), e))?;
    let tag = field
        .tag
        .ok_or_else(|| CardError::invalid(ctx.clone(), "no tag"))?;
    let ef = file.sfi.map_or(EfRef::Current, EfRef::Sfi);
    let r = ch.send(&catalogue::update_record(ef, RecordRef::Tag(tag), &record))?;
    if !r.is_success() {
        return Err(CardError::status(format!("writing {ctx}"), r.status));
    }
    Ok(())
}
