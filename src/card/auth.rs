//! Card authentication through a SAM: EXTERNAL AUTHENTICATE (the terminal proves it
//! holds the card key, which opens reads or writes) and INTERNAL AUTHENTICATE (the
//! card proves it holds its key: the card is genuine).
//!
//! Both take the key id, algorithm and diversification data from the caller, who got
//! them from the profile and the card, and the cryptogram from a [`Sam`]: the master
//! key never reaches this layer. The card's security state lives in the current DF,
//! so the caller must have entered the key's DF (see [`super::nav::Nav`]) and must not
//! select another DF before using what the authentication opened.

use super::error::CardError;
use crate::apdu::{catalogue, Channel};
use crate::crypto::{self, Algorithm};
use crate::sam::{KeyApp, Sam};

/// GET CHALLENGE, the SAM's cryptogram of it, EXTERNAL AUTHENTICATE with `key_id`.
///
/// # Errors
/// [`CardError::AuthRefused`] when the card rejects the cryptogram (`63Cx` means the
/// SAM's master key does not match this card; `6983` that the key is blocked),
/// [`CardError::Sam`] when the SAM cannot give one.
pub fn external_authenticate(
    ch: &mut Channel<'_>,
    app: KeyApp,
    key_id: u8,
    alg: Algorithm,
    diversifier: &[u8; 8],
    sam: &mut dyn Sam,
    context: &str,
) -> Result<(), CardError> {
    let r = ch.send(&catalogue::get_challenge())?;
    if !r.is_success() {
        return Err(CardError::status(
            format!("{context}: GET CHALLENGE"),
            r.status,
        ));
    }
    let challenge: [u8; 8] = r.data.as_slice().try_into().map_err(|_| {
        CardError::invalid(
            format!("{context}: GET CHALLENGE"),
            format!("the card returned {} bytes, 8 expected", r.data.len()),
        )
    })?;
    let cryptogram = sam
        .cryptogram(app, key_id, alg, diversifier, &challenge)
        .map_err(|source| CardError::Sam {
            sam: sam.describe(),
            source,
        })?;
    let r = ch.send(&catalogue::external_authenticate(key_id, &cryptogram))?;
    if !r.is_success() {
        return Err(CardError::AuthRefused {
            context: context.to_string(),
            key_id,
            status: r.status,
        });
    }
    Ok(())
}

/// INTERNAL AUTHENTICATE with a fresh random number; `Ok(true)` when the card's proof
/// equals the SAM's cryptogram of the same number (compared in constant time).
///
/// # Errors
/// [`CardError::Status`] when the card refuses the command, [`CardError::InvalidData`]
/// when its proof has the wrong length, [`CardError::Sam`] when the SAM fails.
pub fn internal_authenticate(
    ch: &mut Channel<'_>,
    app: KeyApp,
    key_id: u8,
    alg: Algorithm,
    diversifier: &[u8; 8],
    sam: &mut dyn Sam,
) -> Result<bool, CardError> {
    let mut rnd = [0u8; 8];
    getrandom::fill(&mut rnd).map_err(|e| {
        CardError::invalid("INTERNAL AUTHENTICATE", format!("no random numbers: {e}"))
    })?;
    let r = ch.send(&catalogue::internal_authenticate(key_id, &rnd))?;
    if !r.is_success() {
        return Err(CardError::status(
            format!("INTERNAL AUTHENTICATE with key {key_id:02X}"),
            r.status,
        ));
    }
    if r.data.len() != alg.cryptogram_len() {
        return Err(CardError::invalid(
            format!("INTERNAL AUTHENTICATE with key {key_id:02X}"),
            format!(
                "the card's proof is {} bytes; {alg} gives {}",
                r.data.len(),
                alg.cryptogram_len()
            ),
        ));
    }
    let expected = sam
        .cryptogram(app, key_id, alg, diversifier, &rnd)
        .map_err(|source| CardError::Sam {
            sam: sam.describe(),
            source,
        })?;
    Ok(crypto::ct_eq(&expected, &r.data))
}
