//! What `sscard info` shows: the card read, the checks beside it, in three renderings.
//!
//! [`Report`] gathers a read card, its profile (for the meaning of codes), today's date
//! and the SAM's terminal number, and computes the checks once; [`text`], [`json`] and
//! [`national`] only render it. Keeping the checks out of the renderers means the
//! desk worker's screen, the technician's JSON and the exit code always agree.
//!
//! APDU counts of `sscard info` measured on the reference cards (detection included,
//! `--stats`): SSC 2.00 24, SSC 1.00 23, SSC 3.00 17 without a SAM (EF06 not tried)
//! and 26 with one (GET CHALLENGE, EXTERNAL AUTHENTICATE), CITY 10, PSAM 2.
//! `--verify-card` adds 2 (INTERNAL AUTHENTICATE + GET RESPONSE).

pub mod json;
pub mod national;
pub mod text;

use super::checks::{self, Check, Deadline, Outcome};
use super::city::CityCard;
use super::ssc::SscCard;
use crate::profile::{Date, Profile};

/// The card-specific part of a report.
#[derive(Debug, Clone)]
pub enum Body {
    /// A social security card.
    Ssc(Box<SscCard>),
    /// A city card.
    City(Box<CityCard>),
    /// A PSAM and its terminal number.
    Psam {
        /// 12 digits.
        terminal: String,
    },
}

/// Everything `sscard info` shows.
#[derive(Debug, Clone)]
pub struct Report<'p> {
    /// Reader name.
    pub reader: String,
    /// The card's ATR.
    pub atr: Vec<u8>,
    /// The profile the card was read with.
    pub profile: &'p Profile,
    /// The card data.
    pub body: Body,
    /// Checks, in display order.
    pub checks: Vec<Check>,
    /// The activation deadline of an SSC not yet activated.
    pub deadline: Option<Deadline>,
    /// The date the checks were made on.
    pub today: Date,
    /// The SAM used, if any (`key file PATH`, `PSAM in READER`).
    pub sam: Option<String>,
    /// The SAM's terminal number, if it has one.
    pub terminal: Option<String>,
}

impl<'p> Report<'p> {
    /// Builds the report and its checks.
    pub fn new(
        reader: String,
        atr: Vec<u8>,
        profile: &'p Profile,
        body: Body,
        today: Date,
        sam: Option<String>,
        terminal: Option<String>,
    ) -> Self {
        let mut checks = Vec::new();
        let mut deadline = None;
        match &body {
            Body::Ssc(c) => {
                checks.push(checks::check_expiry(c.expiry_date, today));
                checks.push(checks::check_card_number(&c.card_number));
                if let Some(h) = &c.holder {
                    checks.push(checks::check_citizen_id(&h.citizen_id));
                    checks.push(checks::check_sex(&h.citizen_id, &h.sex));
                    checks.push(checks::check_birth_date(&h.citizen_id, h.birth_date));
                }
                if let Some(m) = &c.medical {
                    let name = profile
                        .field("status")
                        .ok()
                        .and_then(|f| f.code_name(m.status));
                    if name == Some("not_activated") {
                        let (d, check) = checks::check_activation(c.issue_date, today);
                        deadline = d;
                        checks.push(check);
                    }
                }
            }
            Body::City(c) => checks.push(checks::check_citizen_id(&c.citizen_id)),
            Body::Psam { .. } => {}
        }
        Report {
            reader,
            atr,
            profile,
            body,
            checks,
            deadline,
            today,
            sam,
            terminal,
        }
    }

    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// The first failed data check: the card's data is inconsistent.
    pub fn failed(&self) -> Option<&Check> {
        self.checks.iter().find(|c| c.outcome == Outcome::Fail)
    }

    /// The meaning of a code of field `role` (`"not activated"`), if the profile has one.
    pub fn meaning(&self, role: &str, raw: &[u8]) -> Option<String> {
        let f = self.profile.field(role).ok()?;
        f.meaning(raw).map(|v| v.text.clone())
    }

    /// The symbolic name of a one-byte code of field `role`.
    pub fn code_name(&self, role: &str, code: u8) -> Option<String> {
        let f = self.profile.field(role).ok()?;
        f.code_name(code).map(str::to_string)
    }
}

/// Fen as yuan with two decimals (`123456` → `1234.56`).
pub fn yuan(fen: u32) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

#[cfg(test)]
mod tests {
    #[test]
    fn yuan_has_two_decimals() {
        assert_eq!(super::yuan(123456), "1234.56");
        assert_eq!(super::yuan(0), "0.00");
        assert_eq!(super::yuan(5), "0.05");
        assert_eq!(super::yuan(u32::MAX), "42949672.95");
    }
}
