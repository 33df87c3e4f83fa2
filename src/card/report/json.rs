//! The JSON rendering: for technicians and scripts, versioned.
//!
//! `schema_version` follows the project's rule (openpgp-card's): adding a field bumps
//! the minor version, removing or changing one the major. Values are as the card
//! stores them (codes as 2 hex digits, dates as ISO `YYYY-MM-DD`, money in fen with a
//! yuan string beside it), each code with its meaning from the profile, so a script
//! needs neither the profile nor a float.

use super::{yuan, Body, Report};
use crate::card::city::CityCard;
use crate::card::ssc::SscCard;
use crate::profile::Date;
use serde_json::{json, Value};

/// The JSON schema version of `sscard info --format json` (from [`crate::output::Doc`]).
pub const SCHEMA_VERSION: &str = crate::output::Doc::Info.version();

fn date(d: Option<Date>) -> Value {
    d.map_or(Value::Null, |d| {
        Value::String(d.format("%Y-%m-%d").to_string())
    })
}

fn code(r: &Report<'_>, role: &str, c: u8) -> Value {
    json!({
        "code": format!("{c:02X}"),
        "name": r.code_name(role, c),
        "text": r.meaning(role, &[c]),
    })
}

fn transfer(id: Option<[u8; 16]>) -> Value {
    id.map_or(Value::Null, |t| Value::String(hex::encode_upper(t)))
}

fn ssc(r: &Report<'_>, c: &SscCard) -> Value {
    let holder = c.holder.as_ref().map(|h| {
        json!({
            "citizen_id": h.citizen_id,
            "name": h.name,
            "name_base": h.name_base,
            "name_ext": h.name_ext,
            "sex": { "code": h.sex, "text": r.meaning("sex", h.sex.as_bytes()) },
            "ethnicity": code(r, "ethnicity", h.ethnicity),
            "birthplace": h.birthplace,
            "birth_date": date(h.birth_date),
        })
    });
    let medical = c.medical.as_ref().map(|m| {
        json!({
            "account": m.account,
            "category": code(r, "category", m.category),
            "status": code(r, "status", m.status),
            "balance_fen": m.balance_fen,
            "balance_yuan": yuan(m.balance_fen),
            "activation_date": date(m.activation_date),
            "activation_terminal": m.terminal,
            "transfer_id": transfer(m.transfer()),
            "transfer_floor": match &m.transfer_floor {
                None => Value::Null,
                Some(None) => json!({ "old_card": null, "counter": 0 }),
                Some(Some(f)) => json!({ "old_card": f.old_card, "counter": f.counter }),
            },
        })
    });
    json!({
        "card": {
            "card_id": hex::encode_upper(c.card_id),
            "region": c.region(),
            "card_type": c.card_type,
            "spec_version": c.spec_version,
            "algorithm": c.alg.name(),
            "issuer": c.issuer,
            "issue_date": date(Some(c.issue_date)),
            "expiry_date": date(Some(c.expiry_date)),
            "card_number": c.card_number,
        },
        "holder": holder,
        "holder_key_needed": c.holder_key.map(|k| format!("{k:02X}")),
        "medical": medical,
        "genuine": c.genuine,
        "notes": c.notes,
    })
}

fn city(r: &Report<'_>, c: &CityCard) -> Value {
    json!({
        "card_number": c.card_number,
        "citizen_id": c.citizen_id,
        "name": c.name,
        "account": c.account,
        "category": code(r, "category", c.category),
        "status": code(r, "status", c.status),
        "balance_fen": c.balance_fen,
        "balance_yuan": yuan(c.balance_fen),
        "transfer_id": transfer(c.transfer()),
        "target": c.target_card,
        "transfer_counter": c.transfer_counter,
    })
}

/// The whole JSON document.
pub fn render(r: &Report<'_>) -> Value {
    let (kind, body) = match &r.body {
        Body::Ssc(c) => ("ssc", ssc(r, c)),
        Body::City(c) => ("city", json!({ "city": city(r, c) })),
        Body::Psam { terminal } => ("psam", json!({ "psam": { "terminal": terminal } })),
    };
    let mut doc = json!({
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "profile": r.profile.name,
        "reader": r.reader,
        "atr": hex::encode_upper(&r.atr),
        "today": date(Some(r.today)),
        "sam": r.sam,
        "terminal": r.terminal,
        "activation": r.deadline.map(|d| json!({
            "deadline": date(Some(d.deadline)),
            "days_left": d.days_left,
            "overdue": d.days_left < 0,
        })),
        "checks": r.checks,
    });
    if let (Value::Object(m), Value::Object(b)) = (&mut doc, body) {
        m.extend(b);
    }
    doc
}
