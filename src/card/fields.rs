//! The generic reader: the fields of one file of a profile, one APDU per field.
//!
//! Records are read by SFI, so no SELECT EF is needed, and by tag (or by the record
//! number of the card's generation, when the profile says so), with Le set to the
//! exact record length the profile expects: a card that agrees answers in one APDU,
//! and one that disagrees is caught by the length check rather than trusted. Each
//! record is checked whole (TLV framing, tag, length) before it is decoded.

use super::error::CardError;
use super::nav::Nav;
use crate::apdu::catalogue::{self, EfRef, RecordRef};
use crate::apdu::{Channel, Status};
use crate::profile::{Date, Field, FileSpec, Profile, Structure, Value};

/// One field as read from the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRead {
    /// Its role.
    pub role: String,
    /// The value bytes exactly as on the card.
    pub raw: Vec<u8>,
    /// The decoded value.
    pub value: Value,
}

/// The fields read from a card, by role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields {
    /// In reading order.
    pub items: Vec<FieldRead>,
}

impl Fields {
    /// Removes the field `role` and returns its value, if it was read.
    pub fn take(&mut self, role: &str) -> Option<Value> {
        let i = self.items.iter().position(|f| f.role == role)?;
        Some(self.items.remove(i).value)
    }

    /// The field with this role, if it was read.
    pub fn get(&self, role: &str) -> Option<&FieldRead> {
        self.items.iter().find(|f| f.role == role)
    }

    /// Appends the fields of another read.
    pub fn extend(&mut self, other: Fields) {
        self.items.extend(other.items);
    }

    fn need(&self, role: &str) -> Result<&FieldRead, CardError> {
        self.get(role).ok_or_else(|| {
            CardError::invalid(format!("field '{role}'"), "was not read from the card")
        })
    }

    fn wrong(role: &str, v: &Value) -> CardError {
        CardError::invalid(
            format!("field '{role}'"),
            format!("unexpected value kind {v:?}"),
        )
    }

    /// A text value (`Text` or `Digits`).
    pub fn text(&self, role: &str) -> Result<String, CardError> {
        let f = self.need(role)?;
        f.value
            .as_text()
            .map(str::to_string)
            .ok_or_else(|| Self::wrong(role, &f.value))
    }

    /// A text value, or the raw bytes in hex when the field is not text.
    pub fn text_or_hex(&self, role: &str) -> Result<String, CardError> {
        Ok(self.need(role)?.value.to_string())
    }

    /// A date (`None` = `00000000`).
    pub fn date(&self, role: &str) -> Result<Option<Date>, CardError> {
        match &self.need(role)?.value {
            Value::Date(d) => Ok(*d),
            v => Err(Self::wrong(role, v)),
        }
    }

    /// A number.
    pub fn number(&self, role: &str) -> Result<u32, CardError> {
        match &self.need(role)?.value {
            Value::Number(n) => Ok(*n),
            v => Err(Self::wrong(role, v)),
        }
    }

    /// A one-byte code.
    pub fn code(&self, role: &str) -> Result<u8, CardError> {
        match &self.need(role)?.value {
            Value::Code(c) => Ok(*c),
            v => Err(Self::wrong(role, v)),
        }
    }

    /// The raw bytes.
    pub fn raw(&self, role: &str) -> Result<&[u8], CardError> {
        Ok(&self.need(role)?.raw)
    }

    /// The raw bytes as a fixed-size array.
    pub fn raw_array<const N: usize>(&self, role: &str) -> Result<[u8; N], CardError> {
        self.raw(role)?
            .try_into()
            .map_err(|_| CardError::invalid(format!("field '{role}'"), format!("is not {N} bytes")))
    }
}

/// "EF05 card data, card number (tag 07)": where a field is, for messages.
pub fn field_context(file: &FileSpec, field: &Field) -> String {
    format!("{}, {} ({})", file.label(), field.label, field.where_text())
}

/// Reads one field of `file` (whose DF must be current). `Ok(None)` when an optional
/// field's record is missing.
pub fn read_field(
    ch: &mut Channel<'_>,
    file: &FileSpec,
    field: &Field,
    generation: Option<&str>,
) -> Result<Option<FieldRead>, CardError> {
    let ctx = || field_context(file, field);
    let le = field.len
        + if file.structure == Structure::Linear {
            2
        } else {
            0
        };
    let cmd = match file.structure {
        Structure::Linear => {
            let ef = file.sfi.map_or(EfRef::Current, EfRef::Sfi);
            let rec = match (file.read_by, field.record_number(generation), field.tag) {
                (crate::profile::model::ReadBy::Number, Some(n), _) => RecordRef::Number(n),
                (_, _, Some(tag)) => RecordRef::Tag(tag),
                _ => {
                    return Err(CardError::invalid(
                        ctx(),
                        "the profile gives no record number or tag",
                    ))
                }
            };
            catalogue::read_record(ef, rec, le)
        }
        Structure::Transparent => {
            let offset = field.offset.unwrap_or(0);
            match file.sfi {
                Some(sfi) => {
                    catalogue::read_binary_sfi(sfi, u8::try_from(offset).unwrap_or(u8::MAX), le)
                }
                None => catalogue::read_binary(offset, le),
            }
        }
        Structure::Cyclic => {
            return Err(CardError::invalid(
                ctx(),
                "fields of cyclic files are not read",
            ))
        }
    };
    let r = ch.send(&cmd)?;
    match r.status {
        Status::Success => {}
        Status::RecordNotFound if field.optional => return Ok(None),
        status => return Err(CardError::status(format!("reading {}", ctx()), status)),
    }
    let (raw, value) = match file.structure {
        Structure::Linear => {
            let raw = field
                .record_value(&r.data)
                .map_err(|e| CardError::field(file.label(), e))?;
            let value = field
                .decode(raw)
                .map_err(|e| CardError::field(file.label(), e))?;
            (raw.to_vec(), value)
        }
        _ => {
            let value = field
                .decode(&r.data)
                .map_err(|e| CardError::field(file.label(), e))?;
            (r.data, value)
        }
    };
    Ok(Some(FieldRead {
        role: field.role.clone(),
        raw,
        value,
    }))
}

/// Makes `file` readable: enters its DF and, when it has no SFI, selects it by FID.
pub fn enter_file(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    file: &FileSpec,
) -> Result<(), CardError> {
    nav.enter(ch, &file.df)?;
    if file.sfi.is_none() {
        let fid = file
            .fid
            .ok_or_else(|| CardError::invalid(file.label(), "the profile gives no SFI or FID"))?;
        let r = ch.send(&catalogue::select_ef(fid))?;
        if !r.is_success() {
            return Err(CardError::status(
                format!("selecting {}", file.label()),
                r.status,
            ));
        }
    }
    Ok(())
}

/// Reads the fields of file `file_id` present in `generation`, except the roles in
/// `skip`, entering the file's DF first. Files without an SFI are selected by FID.
pub fn read_file(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    file_id: &str,
    generation: Option<&str>,
    skip: &[&str],
) -> Result<Fields, CardError> {
    let file = profile.file(file_id)?;
    enter_file(ch, nav, file)?;
    let mut out = Fields::default();
    for field in profile.fields_of(file_id) {
        if skip.contains(&field.role.as_str()) || !field.in_generation(generation) {
            continue;
        }
        if let Some(f) = read_field(ch, file, field, generation)? {
            out.items.push(f);
        }
    }
    Ok(out)
}

/// Reads the one field `role` (before the generation is known: its record number, if
/// used, must not depend on it).
pub fn read_role(
    ch: &mut Channel<'_>,
    nav: &mut Nav<'_>,
    profile: &Profile,
    role: &str,
) -> Result<Fields, CardError> {
    let field = profile.field(role)?;
    let file = profile.file(&field.file)?;
    enter_file(ch, nav, file)?;
    let mut out = Fields::default();
    if let Some(f) = read_field(ch, file, field, None)? {
        out.items.push(f);
    }
    Ok(out)
}
