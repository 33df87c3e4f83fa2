//! The receipt handed to the holder: text for the printer, JSON for systems.
//!
//! The citizen ID is masked except its first 6 and last 4 characters; no PIN, key or
//! cryptogram is ever part of a receipt (the types here have no field that could hold
//! one).
//!
//! For a citizen, not a system (issue 15 §9): the printed time is the desk's local
//! time as `2026-11-22 10:00:00` (the JSON keeps RFC 3339 with its offset, for
//! systems); a window or first-use activation moves no money, so its receipt has no
//! "amount moved" line at all rather than a puzzling `0.00`.

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
    /// Whether money moved: a pharmacy transfer (an old card was emptied into the new
    /// one). A window or first-use activation moves none.
    pub fn moved_money(&self) -> bool {
        self.old_card.is_some()
    }

    /// The completion time for people: local `YYYY-MM-DD HH:MM:SS` (the offset of
    /// [`Receipt::time`] dropped: the desk and the holder share the clock on the
    /// wall). A time that does not parse is shown as it is.
    pub fn readable_time(&self) -> String {
        chrono::DateTime::parse_from_rfc3339(&self.time)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_else(|_| self.time.clone())
    }

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
        if self.moved_money() {
            s.push_str(&format!("amount moved: {} yuan\n", self.amount_yuan));
        }
        s.push_str(&format!("transfer id:  {}\n", self.transfer_id));
        s.push_str(&format!("terminal:     {}\n", self.terminal));
        s.push_str(&format!("operator:     {}\n", self.operator));
        s.push_str(&format!("time:         {}\n", self.readable_time()));
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

    fn receipt(flow: &str, old_card: Option<&str>) -> Receipt {
        Receipt {
            schema_version: SCHEMA_VERSION,
            flow: flow.into(),
            holder_name: "张三".into(),
            citizen_id_masked: "111111********1110".into(),
            old_card: old_card.map(str::to_string),
            new_card: "X00000019".into(),
            amount_fen: if old_card.is_some() { 123456 } else { 0 },
            amount_yuan: yuan(if old_card.is_some() { 123456 } else { 0 }),
            transfer_id: "AB".into(),
            terminal: "639900000001".into(),
            operator: "desk-1".into(),
            time: "2026-11-22T10:00:05+08:00".into(),
            old_card_finished: false,
        }
    }

    #[test]
    fn the_printed_receipt_is_for_a_citizen() {
        let p = receipt("pharmacy", Some("6399000123")).to_text();
        assert!(p.contains("amount moved: 1234.56 yuan\n"), "{p}");
        assert!(p.contains("time:         2026-11-22 10:00:05\n"), "{p}");
        assert!(!p.contains("T10:00"), "{p}");
        let w = receipt("window", None).to_text();
        assert!(
            !w.contains("amount"),
            "a window activation moves no money:\n{w}"
        );
        assert!(!w.contains("0.00"), "{w}");
        assert!(w.contains("time:         2026-11-22 10:00:05\n"), "{w}");
        // The JSON keeps the machine form.
        let j = serde_json::to_value(receipt("window", None)).unwrap();
        assert_eq!(j["time"], "2026-11-22T10:00:05+08:00");
        assert_eq!(j["amount_fen"], 0);
        // Something that is no RFC 3339 time is shown as it is, not dropped.
        let mut odd = receipt("window", None);
        odd.time = "now".into();
        assert_eq!(odd.readable_time(), "now");
    }

    #[test]
    fn formats_yuan() {
        assert_eq!(yuan(123456), "1234.56");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(0), "0.00");
    }
}
