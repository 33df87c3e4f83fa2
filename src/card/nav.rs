//! Moving between the DFs of a profile with as few SELECTs as the card allows.
//!
//! Every SELECT is an APDU (two, when the card answers `61xx` with an FCI), and a
//! SELECT of another DF also wipes the card's security state. So the reader keeps
//! track of which DF is current and selects only on a change, using the profile's
//! preferred form: by FID when the target is a child of the current DF (one APDU), by
//! AID otherwise (from anywhere). [`Nav`] is that bookkeeping, shared by detection,
//! reading and the activation flow, which needs to know that DF04 is already current
//! before it authenticates there.

use super::error::CardError;
use crate::apdu::tlv;
use crate::apdu::{catalogue, Channel, Status};
use crate::crypto::Algorithm;
use crate::profile::{DfSpec, Profile, SelectBy};
use std::collections::BTreeMap;

/// A DF that has just been selected, and its FCI (empty when the card gave none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Profile DF id.
    pub df: String,
    /// The SELECT response data (the FCI), after GET RESPONSE.
    pub fci: Vec<u8>,
}

/// Which DF of a profile is current on the card.
#[derive(Debug, Clone)]
pub struct Nav<'p> {
    profile: &'p Profile,
    current: Option<String>,
    fcis: BTreeMap<String, Vec<u8>>,
}

impl<'p> Nav<'p> {
    /// Nothing known about the card's current DF (the next move selects by AID).
    pub fn new(profile: &'p Profile) -> Self {
        Nav {
            profile,
            current: None,
            fcis: BTreeMap::new(),
        }
    }

    /// Continues after a SELECT done elsewhere (detection).
    pub fn after(profile: &'p Profile, selection: &Selection) -> Self {
        let mut n = Nav::new(profile);
        n.current = Some(selection.df.clone());
        n.fcis.insert(selection.df.clone(), selection.fci.clone());
        n
    }

    /// The current DF id, if known.
    pub fn current(&self) -> Option<&str> {
        self.current.as_deref()
    }

    /// The FCI the card gave when `df` was selected, if it was selected by this
    /// navigator and answered one.
    pub fn fci(&self, df: &str) -> Option<&[u8]> {
        self.fcis
            .get(df)
            .map(Vec::as_slice)
            .filter(|f| !f.is_empty())
    }

    /// Forgets the current DF (after a reset, or when another party may have moved).
    pub fn forget(&mut self) {
        self.current = None;
    }

    /// Makes `df` current; no APDU when it already is.
    pub fn enter(&mut self, ch: &mut Channel<'_>, df: &str) -> Result<(), CardError> {
        if self.current.as_deref() == Some(df) {
            return Ok(());
        }
        let spec = self.profile.df(df)?;
        let by_fid = spec.select == SelectBy::Fid
            && spec.fid.is_some()
            && (spec.parent.is_none() || spec.parent.as_deref() == self.current.as_deref());
        // An FCI this navigator already holds is not fetched again: the SELECT is sent
        // below the T=0 layer and its `61xx` left unanswered (the card discards the
        // pending data at the next command, spec/cards.md §1.1). Saves the GET
        // RESPONSE of a DF re-entered in the same session (SSSE for RELOAD PIN).
        let known = self.fci(df).is_some();
        let fci = if by_fid {
            select(ch, spec, SelectBy::Fid, known)?
        } else if spec.aid.is_some() {
            select(ch, spec, SelectBy::Aid, known)?
        } else {
            // Only FIDs: walk down from the MF.
            let r = ch.send(&catalogue::select_mf())?;
            if !r.is_success() {
                return Err(CardError::status("selecting the MF", r.status));
            }
            let mut last = Vec::new();
            for d in self.profile.df_path(df)? {
                last = select(ch, d, SelectBy::Fid, false)?;
            }
            last
        };
        self.current = Some(df.to_string());
        if !known {
            self.fcis.insert(df.to_string(), fci);
        }
        Ok(())
    }
}

/// The SELECT command of a DF in the given form.
pub fn select_command(spec: &DfSpec, by: SelectBy) -> Option<crate::apdu::Command> {
    match by {
        SelectBy::Aid => spec.aid.as_deref().map(catalogue::select_aid),
        SelectBy::Fid => spec.fid.map(catalogue::select_fid),
    }
}

/// SELECTs `spec`; with `skip_fci` an FCI announced by `61xx` is not fetched (the
/// caller already holds it) and an empty one is returned.
fn select(
    ch: &mut Channel<'_>,
    spec: &DfSpec,
    by: SelectBy,
    skip_fci: bool,
) -> Result<Vec<u8>, CardError> {
    let cmd = select_command(spec, by).ok_or_else(|| {
        CardError::invalid(
            format!("DF {}", spec.label()),
            "no AID or FID to select it by",
        )
    })?;
    if skip_fci {
        let bytes = cmd.to_bytes().map_err(crate::apdu::TransportError::from)?;
        let raw = ch.transmit_raw(&bytes)?;
        let r = crate::apdu::Response::parse(&raw)
            .map_err(|e| crate::apdu::TransportError::ShortResponse(e.0))?;
        return match r.status {
            Status::Success | Status::BytesAvailable(_) => Ok(Vec::new()),
            status => Err(CardError::status(
                format!("selecting {}", spec.label()),
                status,
            )),
        };
    }
    let r = ch.send(&cmd)?;
    if !r.is_success() {
        return Err(CardError::status(
            format!("selecting {}", spec.label()),
            r.status,
        ));
    }
    Ok(r.data)
}

/// The algorithm id found in an FCI at `path` (see [`DfSpec::alg_in_fci`]); `Ok(None)`
/// when the profile gives no path.
pub fn alg_from_fci(spec: &DfSpec, fci: &[u8]) -> Result<Option<Algorithm>, CardError> {
    if spec.alg_in_fci.is_empty() {
        return Ok(None);
    }
    let ctx = || format!("FCI of {}", spec.label());
    let bad =
        |why: String| CardError::invalid(ctx(), format!("{why} (FCI {})", hex::encode_upper(fci)));
    let mut level = vec![tlv::parse_ber_one(fci).map_err(|e| bad(e.to_string()))?];
    let mut found: Option<Vec<u8>> = None;
    for (i, tag) in spec.alg_in_fci.iter().enumerate() {
        let obj = level
            .iter()
            .find(|t| tlv::tag_number(t.tag()) == *tag)
            .ok_or_else(|| bad(format!("no tag {tag:X}")))?
            .clone();
        let last = i + 1 == spec.alg_in_fci.len();
        match obj.value() {
            iso7816_tlv::ber::Value::Constructed(children) => {
                if last {
                    return Err(bad(format!("tag {tag:X} is constructed")));
                }
                level = children.clone();
            }
            iso7816_tlv::ber::Value::Primitive(v) => {
                if last {
                    found = Some(v.clone());
                } else {
                    // A primitive object holding TLVs (the SSC's 9F0C).
                    level = tlv::parse_ber_all(v)
                        .map_err(|e| bad(format!("inside tag {tag:X}: {e}")))?;
                }
            }
        }
    }
    match found.as_deref() {
        Some([id]) => Algorithm::from_id(*id).map(Some).ok_or_else(|| {
            bad(format!(
                "unknown algorithm id {id:02X} (01 = 3DES, 03 = SM4)"
            ))
        }),
        _ => Err(bad("the algorithm id is not one byte".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;

    #[test]
    fn algorithm_from_the_ssse_fci() {
        let p = Profiles::builtin().unwrap();
        let ssse = p.get("ssc").unwrap().df("ssse").unwrap().clone();
        let fci = |alg: &str| {
            hex::decode(format!(
                "6F1C840F7378312E73682EC9E7BBE1B1A3D5CFA5098801019F0C038601{alg}"
            ))
            .unwrap()
        };
        assert_eq!(
            alg_from_fci(&ssse, &fci("01")).unwrap(),
            Some(Algorithm::Tdes)
        );
        assert_eq!(
            alg_from_fci(&ssse, &fci("03")).unwrap(),
            Some(Algorithm::Sm4)
        );
        assert!(alg_from_fci(&ssse, &fci("02"))
            .unwrap_err()
            .to_string()
            .contains("unknown algorithm"));
        assert!(alg_from_fci(&ssse, &[]).is_err());
        assert!(alg_from_fci(&ssse, &fci("01")[..20]).is_err());
        assert!(alg_from_fci(&ssse, &hex::decode("6F03840100").unwrap()).is_err());
    }
}
