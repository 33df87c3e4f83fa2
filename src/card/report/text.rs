//! The text rendering: what a desk worker reads at a glance.
//!
//! One line per field, the check about that field on the same line (`[ok]`,
//! `[FAIL]`, `[WARN]`), codes with their meaning, money in yuan, and at the end what
//! to do: the activation deadline, and which key is missing when part of the card
//! could not be read.

use super::{yuan, Body, Report};
use crate::card::checks::{Check, Outcome};
use crate::card::city::CityCard;
use crate::card::ssc::SscCard;
use crate::profile::Date;
use std::fmt::Write;

struct Out<'a> {
    text: String,
    report: &'a Report<'a>,
}

fn mark(c: &Check) -> &'static str {
    match c.outcome {
        Outcome::Pass => "[ok]",
        Outcome::Fail => "[FAIL]",
        Outcome::Warn => "[WARN]",
        Outcome::Info => "[info]",
    }
}

impl Out<'_> {
    fn line(&mut self, indent: usize, label: &str, value: &str, check: Option<&str>) {
        let pad = 18usize.saturating_sub(indent);
        let _ = write!(self.text, "{:indent$}{label:<pad$} {value}", "");
        if let Some(c) = check.and_then(|id| self.report.check(id)) {
            let _ = write!(self.text, "  {} {}", mark(c), c.message);
        }
        self.text.push('\n');
    }

    fn code(&self, role: &str, raw: &[u8]) -> String {
        let hex = hex::encode_upper(raw);
        match self.report.meaning(role, raw) {
            Some(m) => format!("{hex} ({m})"),
            None => hex,
        }
    }
}

fn date(d: Option<Date>) -> String {
    d.map_or_else(|| "none".into(), |d| d.format("%Y-%m-%d").to_string())
}

fn transfer(t: Option<[u8; 16]>) -> String {
    t.map_or_else(|| "none".into(), hex::encode_upper)
}

fn ssc(o: &mut Out<'_>, c: &SscCard) {
    let region = c.region();
    o.line(
        0,
        "Card identifier",
        &format!("{} (region {region})", hex::encode_upper(c.card_id)),
        None,
    );
    o.line(0, "Card type", &c.card_type, None);
    o.line(
        0,
        "Spec version",
        &format!("{} ({})", c.spec_version, c.alg),
        None,
    );
    o.line(0, "Issuer", &c.issuer, None);
    o.line(0, "Issue date", &date(Some(c.issue_date)), None);
    o.line(0, "Expiry date", &date(Some(c.expiry_date)), Some("expiry"));
    o.line(
        0,
        "Card number",
        &c.card_number,
        Some("card_number_check_char"),
    );
    o.text.push_str("Holder\n");
    match &c.holder {
        Some(h) => {
            o.line(
                2,
                "Citizen ID",
                &h.citizen_id,
                Some("citizen_id_check_digit"),
            );
            o.line(2, "Name", &h.name, None);
            let sex = match o.report.meaning("sex", h.sex.as_bytes()) {
                Some(m) => format!("{} ({m})", h.sex),
                None => h.sex.clone(),
            };
            o.line(2, "Sex", &sex, Some("sex_digit"));
            let eth = o.code("ethnicity", &[h.ethnicity]);
            o.line(2, "Ethnicity", &eth, None);
            o.line(2, "Birthplace", &h.birthplace, None);
            o.line(
                2,
                "Birth date",
                &date(h.birth_date),
                Some("birth_date_in_id"),
            );
        }
        None => o.line(2, "(not read)", "see the note below", None),
    }
    if let Some(m) = &c.medical {
        o.text.push_str("Medical area\n");
        o.line(2, "Account", &m.account, None);
        let cat = o.code("category", &[m.category]);
        o.line(2, "Category", &cat, None);
        let st = o.code("status", &[m.status]);
        o.line(2, "Status", &st, Some("activation_deadline"));
        o.line(2, "Balance", &format!("{} yuan", yuan(m.balance_fen)), None);
        o.line(2, "Activation date", &date(m.activation_date), None);
        o.line(2, "Activation term.", &m.terminal, None);
        o.line(2, "Transfer id", &transfer(m.transfer()), None);
        let floor = match &m.transfer_floor {
            None => "no record (layout before the transfer protocol)".to_string(),
            Some(None) => "none".to_string(),
            Some(Some(f)) => format!("old card {} up to transfer {}", f.old_card, f.counter),
        };
        o.line(2, "Transfer floor", &floor, None);
    }
    match c.genuine {
        Some(true) => o.line(
            0,
            "Genuine",
            "yes: INTERNAL AUTHENTICATE proof checked by the SAM",
            None,
        ),
        Some(false) => o.line(
            0,
            "Genuine",
            "NO: the card's INTERNAL AUTHENTICATE proof does not match",
            None,
        ),
        None => {}
    }
    for n in &c.notes {
        let _ = writeln!(o.text, "Note: {n}");
    }
}

fn city(o: &mut Out<'_>, c: &CityCard) {
    o.line(0, "Card number", &c.card_number, None);
    o.line(
        0,
        "Citizen ID",
        &c.citizen_id,
        Some("citizen_id_check_digit"),
    );
    o.line(0, "Name", &c.name, None);
    o.line(0, "Account", &c.account, None);
    let cat = o.code("category", &[c.category]);
    o.line(0, "Category", &cat, None);
    let st = o.code("status", &[c.status]);
    o.line(0, "Status", &st, None);
    o.line(0, "Balance", &format!("{} yuan", yuan(c.balance_fen)), None);
    o.line(0, "Transfer id", &transfer(c.transfer()), None);
    let target = if c.has_target_record {
        c.target_card.as_deref().unwrap_or("none")
    } else {
        "no record (layout before the transfer protocol)"
    };
    o.line(0, "Target card", target, None);
    let counter = c.transfer_counter.map_or_else(
        || "no record (layout before the transfer protocol)".to_string(),
        |n| n.to_string(),
    );
    o.line(0, "Transfer counter", &counter, None);
}

/// The text report (UTF-8; the caller converts to the terminal charset).
pub fn render(r: &Report<'_>) -> String {
    let mut o = Out {
        text: String::new(),
        report: r,
    };
    let _ = writeln!(o.text, "{} (profile {})", r.profile.title, r.profile.name);
    o.line(0, "Reader", &r.reader, None);
    o.line(0, "ATR", &hex::encode_upper(&r.atr), None);
    match &r.body {
        Body::Ssc(c) => ssc(&mut o, c),
        Body::City(c) => city(&mut o, c),
        Body::Psam { terminal } => o.line(0, "Terminal number", terminal, None),
    }
    if let Some(s) = &r.sam {
        o.line(0, "SAM", s, None);
    }
    o.text
}
