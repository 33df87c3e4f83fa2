//! The receipt handed to the holder: text for the printer, JSON for systems.
//!
//! The citizen ID is masked except its first 6 and last 4 characters; no PIN, key or
//! cryptogram is ever part of a receipt (the types here have no field that could hold
//! one).

use serde::Serialize;

/// Receipt schema version (JSON), from the one table ([`crate::output::Doc`]).
pub const SCHEMA_VERSION: &str = crate::output::Doc::Receipt.version();

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// JSON schema version.
    pub schema_version: &'static str,
    /// `pharmacy`, `window` or `first-use`.
    pub flow: String,
    /// The holder's name.
    pub holder_name: String,
    /// The citizen ID, masked.
    pub citizen_id_masked: String,
    /// The old card's number (pharmacy).
    pub old_card: Option<String>,
    /// The new card's number.
    pub new_card: String,
    /// Amount moved, in fen.
    pub amount_fen: u32,
    /// Amount moved, as yuan text (`1234.56`).
    pub amount_yuan: String,
    /// The transfer id (hex), or the journal id for window flows.
    pub transfer_id: String,
    /// The terminal number.
    pub terminal: String,
    /// The operator.
    pub operator: String,
    /// Local time of completion (RFC 3339).
    pub time: String,
    /// Whether the old card was marked migrated (`false`: it stays frozen).
    pub old_card_finished: bool,
}

/// Masks a citizen ID: first 6 and last 4 characters kept.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..6].iter().collect();
    out.push_str(&"*".repeat(chars.len() - 10));
    out.extend(&chars[chars.len() - 4..]);
    out
}

/// Formats fen as yuan (`123456` → `1234.56`).
pub fn yuan(fen: u32) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

impl Receipt {
    /// The printed receipt.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        s.push_str("==== sscard activation receipt ====\n");
        s.push_str(&format!("flow:         {}\n", self.flow));
        s.push_str(&format!("holder:       {}\n", self.holder_name));
        s.push_str(&format!("citizen ID:   {}\n", self.citizen_id_masked));
        if let Some(old) = &self.old_card {
            s.push_str(&format!(
                "old card:     {old}{}\n",
                if self.old_card_finished {
                    " (migrated)"
                } else {
                    " (frozen; cannot pay)"
                }
            ));
        }
        s.push_str(&format!("new card:     {}\n", self.new_card));
        s.push_str(&format!("amount moved: {} yuan\n", self.amount_yuan));
        s.push_str(&format!("transfer id:  {}\n", self.transfer_id));
        s.push_str(&format!("terminal:     {}\n", self.terminal));
        s.push_str(&format!("operator:     {}\n", self.operator));
        s.push_str(&format!("time:         {}\n", self.time));
        s.push_str("===================================\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_ids() {
        assert_eq!(mask_id("111111198101011110"), "111111********1110");
        assert_eq!(mask_id("11010519491231002X"), "110105********002X");
        assert_eq!(mask_id("123"), "***");
    }

    #[test]
    fn formats_yuan() {
        assert_eq!(yuan(123456), "1234.56");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(0), "0.00");
    }
}
