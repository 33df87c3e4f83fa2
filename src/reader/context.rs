//! Establishing a PC/SC context and listing readers with their cards.

use super::error::map;
use super::name::ReaderName;
use crate::apdu::TransportError;
use pcsc::{Context, ReaderState, Scope, State};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::time::Duration;

/// Establishes a user-scope context; `NoService` when pcscd is not reachable.
pub fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(|e| map(e, ""))
}

/// One reader and what is in it.
///
/// JSON (`sscard readers --format json`, [`crate::output::Doc::Readers`]): `index`, `name` (UTF-8 reading, bytes
/// that are not UTF-8 as `\xNN`), `name_hex` (the exact bytes), `name_gbk` (only when
/// the bytes are not UTF-8 but valid GBK), `card_present`, `exclusive`, `atr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Position in the list (what `--reader N` selects).
    pub index: usize,
    /// The reader name exactly as pcscd reports it.
    pub name: ReaderName,
    /// Whether a card is present.
    pub card_present: bool,
    /// The card is used exclusively by another application.
    pub exclusive: bool,
    /// The card's ATR in hex, when a card is present.
    pub atr: Option<String>,
}

impl Serialize for ReaderInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("index", &self.index)?;
        m.serialize_entry("name", &self.name.utf8_escaped())?;
        m.serialize_entry("name_hex", &self.name.hex())?;
        if let Some(g) = self.name.gbk() {
            m.serialize_entry("name_gbk", &g)?;
        }
        m.serialize_entry("card_present", &self.card_present)?;
        m.serialize_entry("exclusive", &self.exclusive)?;
        m.serialize_entry("atr", &self.atr)?;
        m.end()
    }
}

/// Lists readers and the state of each, in one status call.
pub fn list_readers(ctx: &Context) -> Result<Vec<ReaderInfo>, TransportError> {
    let names = match ctx.list_readers_owned() {
        Ok(n) => n,
        Err(pcsc::Error::NoReadersAvailable) => return Ok(Vec::new()),
        Err(e) => return Err(map(e, "")),
    };
    let mut states: Vec<ReaderState> = names
        .iter()
        .map(|n| ReaderState::new(n.clone(), State::UNAWARE))
        .collect();
    if !states.is_empty() {
        ctx.get_status_change(Some(Duration::from_millis(0)), &mut states)
            .or_else(|e| match e {
                pcsc::Error::Timeout => Ok(()),
                e => Err(map(e, "")),
            })?;
    }
    Ok(states
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let st = s.event_state();
            let present = st.contains(State::PRESENT) && !st.contains(State::MUTE);
            ReaderInfo {
                index,
                name: ReaderName::from(s.name()),
                card_present: present,
                exclusive: st.contains(State::EXCLUSIVE),
                atr: (present && !s.atr().is_empty()).then(|| hex::encode_upper(s.atr())),
            }
        })
        .collect())
}
