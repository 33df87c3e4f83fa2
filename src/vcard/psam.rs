//! PSAM commands (spec/cards.md §3): INIT FOR DESCRYPT and DES CRYPT.
//!
//! Why a separate file: these are the only commands where the card computes with a
//! *master* key. INIT FOR DESCRYPT derives a session key K for one card (from the
//! master key named by application and key id, and the card's diversification bytes);
//! DES CRYPT then encrypts the card's challenge under K. The session lives only in
//! RAM: reset, power-off and a SELECT of another DF drop it, like the security state.
//!
//! The PSAM answers DES CRYPT under T=0 with `61 xx`; the engine does the GET
//! RESPONSE part.

use super::capdu::{sw, Command};
use super::security::MasterKey;
use crate::crypto::{self, Algorithm, SecretKey};

/// The key chosen by INIT FOR DESCRYPT.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub alg: Algorithm,
    pub key: SecretKey,
}

/// `80 1A <app> <KK> 09 <alg> <D>`: derives K = diversify(M(app, KK), D) with the
/// given algorithm. Unknown key `6A88`, bad algorithm id `6A80`, Lc not 9 `6700`.
pub(crate) fn init_for_descrypt(masters: &[MasterKey], cmd: &Command<'_>) -> Result<Session, u16> {
    let [alg_id, d @ ..] = cmd.data else {
        return Err(sw::WRONG_LENGTH);
    };
    let d: &[u8; 8] = d.try_into().map_err(|_| sw::WRONG_LENGTH)?;
    let alg = Algorithm::from_id(*alg_id).ok_or(sw::WRONG_DATA)?;
    let master = masters
        .iter()
        .find(|m| m.app == cmd.p1 && m.id == cmd.p2)
        .ok_or(sw::REF_NOT_FOUND)?;
    Ok(Session {
        alg,
        key: master.key.diversify(alg, d),
    })
}

/// `80 FA 00 00 Lc <data>`: ECB encryption of whole blocks under the session key.
/// No session `6985`; data not whole blocks `6700`; P1 P2 not `00 00` `6A86`.
pub(crate) fn des_crypt(session: Option<&Session>, cmd: &Command<'_>) -> Result<Vec<u8>, u16> {
    if cmd.p1p2() != 0 {
        return Err(sw::WRONG_P1P2);
    }
    if cmd.data.is_empty() {
        return Err(sw::WRONG_LENGTH);
    }
    let s = session.ok_or(sw::CONDITIONS)?;
    crypto::encrypt_blocks(s.alg, s.key.bytes(), cmd.data).map_err(|_| sw::WRONG_LENGTH)
}
