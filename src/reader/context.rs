//! Establishing a PC/SC context and listing readers with their cards.

use super::error::map;
use crate::apdu::TransportError;
use pcsc::{Context, ReaderState, Scope, State};
use serde::Serialize;
use std::time::Duration;

/// Establishes a user-scope context; `NoService` when pcscd is not reachable.
pub fn establish() -> Result<Context, TransportError> {
    Context::establish(Scope::User).map_err(|e| map(e, ""))
}

/// One reader and what is in it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ReaderInfo {
    /// Position in the list (what `--reader N` selects).
    pub index: usize,
    /// The reader name as pcscd reports it.
    pub name: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The card is used exclusively by another application.
    pub exclusive: bool,
    /// The card's ATR in hex, when a card is present.
    pub atr: Option<String>,
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
                name: s.name().to_string_lossy().into_owned(),
                card_present: present,
                exclusive: st.contains(State::EXCLUSIVE),
                atr: (present && !s.atr().is_empty()).then(|| hex::encode_upper(s.atr())),
            }
        })
        .collect())
}
