//! Today's date, overridable for tests and demos.
//!
//! Expiry and the activation deadline depend on the date, so tests (and a demo on a
//! reference card issued "in the future") set `SSCARD_TODAY=YYYYMMDD` to get the same
//! days-left every run. Without it the local date is used: the cards store local
//! dates without a time zone.

use crate::profile::codec::parse_yyyymmdd;
use crate::profile::Date;

/// The environment variable that overrides today's date.
pub const TODAY_ENV: &str = "SSCARD_TODAY";

/// Today, from `SSCARD_TODAY` when set, else the local date.
///
/// # Errors
/// A message when `SSCARD_TODAY` is set but is not a `YYYYMMDD` date.
pub fn today() -> Result<Date, String> {
    match std::env::var(TODAY_ENV) {
        Ok(v) => parse_yyyymmdd(v.trim())
            .ok_or_else(|| format!("{TODAY_ENV}={v:?} is not a date YYYYMMDD")),
        Err(_) => Ok(chrono::Local::now().date_naive()),
    }
}
