//! Reading a PSAM as a card: its terminal number.
//!
//! `sscard info` on a PSAM shows which terminal it belongs to. Using the PSAM as a
//! key source is the SAM layer's job ([`crate::sam::psam`]); this only reads.

use super::error::CardError;
use super::fields::read_role;
use super::nav::{Nav, Selection};
use crate::apdu::Channel;
use crate::profile::{Kind, Profile};

/// Reads the PSAM's terminal number (12 digits); `selected` is the detection SELECT.
pub fn read_psam_terminal(
    ch: &mut Channel<'_>,
    profile: &Profile,
    selected: Option<&Selection>,
) -> Result<String, CardError> {
    if profile.kind != Kind::Psam {
        return Err(CardError::invalid(
            format!("profile {}", profile.name),
            "is not a PSAM profile",
        ));
    }
    let mut nav = match selected {
        Some(s) => Nav::after(profile, s),
        None => Nav::new(profile),
    };
    let fields = read_role(ch, &mut nav, profile, "terminal")?;
    let t = fields.text("terminal")?;
    let field = profile.field("terminal")?;
    if t.len() != field.len * 2 {
        return Err(CardError::invalid(
            field.label.clone(),
            format!("{t:?} is not {} digits", field.len * 2),
        ));
    }
    Ok(t)
}
