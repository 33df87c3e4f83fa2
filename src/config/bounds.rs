//! Numbers from outside the program: one parser per kind, each with a documented range.
//!
//! Why under `config`: the command line's options (`cli/`) and the configuration file
//! take the same numbers, and a lower layer must not import from `cli/`; the command
//! line reaches these as `cli::bounds`.
//!
//! Why one place: a duration typed as `inf`, `1e30`, `NaN` or `-1` used to reach
//! `Duration::from_secs_f64`, which panics on anything it cannot represent. Every
//! option, configuration value and script construct that takes seconds or a count now
//! goes through these functions, so the range is the same everywhere, is written down
//! once (here and in the README), and a value outside it is a clear usage error
//! (exit 2 on the command line, 7 in a configuration file) instead of a panic.
//!
//! Ranges:
//! - seconds: a finite decimal number from 0 to [`MAX_SECONDS`] (one day); `inf`,
//!   `NaN`, exponents that leave the range and negative values are refused. Written
//!   plainly (`30`, `2.5`); a trailing `s` is accepted (`30s`).
//! - counts: a decimal integer in the range each option states (see [`count`]).

use std::time::Duration;

/// The longest wait any option accepts, in seconds (one day).
pub const MAX_SECONDS: f64 = 86_400.0;

/// The most recoveries a desk may attempt (`--retries`, `retries`).
pub const MAX_RETRIES: u64 = 20;

/// The most events `readers --watch --events` waits for.
pub const MAX_EVENTS: u64 = 1_000_000;

/// Checks a number of seconds: finite and within `0..=MAX_SECONDS`.
///
/// # Errors
/// A message naming the range when the value is NaN, infinite, negative or too large.
pub fn check_seconds(value: f64) -> Result<f64, String> {
    if value.is_finite() && (0.0..=MAX_SECONDS).contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "a number of seconds from 0 to {MAX_SECONDS} (one day) is needed"
        ))
    }
}

/// Parses a number of seconds as typed (`30`, `2.5`, `30s`); for clap's `value_parser`.
///
/// # Errors
/// Text that is not a plain decimal number, or one outside `0..=MAX_SECONDS`.
pub fn seconds(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let t = t.strip_suffix('s').unwrap_or(t);
    // Only plain decimals: `f64::from_str` also takes `inf`, `NaN` and `1e30`.
    let plain = !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|b| *b == b'.').count() <= 1
        && t.bytes().any(|b| b.is_ascii_digit());
    if !plain {
        return Err(format!(
            "'{}' is not a number of seconds (write e.g. 30 or 2.5; 0 to {MAX_SECONDS})",
            text.escape_debug()
        ));
    }
    let v: f64 = t
        .parse()
        .map_err(|_| format!("'{}' is not a number of seconds", text.escape_debug()))?;
    check_seconds(v)
}

/// A checked number of seconds as a [`Duration`] (never panics: the range is checked).
///
/// # Errors
/// As [`check_seconds`].
pub fn duration(value: f64) -> Result<Duration, String> {
    check_seconds(value).map(Duration::from_secs_f64)
}

/// Parses a decimal count within `min..=max`.
///
/// # Errors
/// Text that is not a decimal integer, or a value outside the range.
pub fn count(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let t = text.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "'{}' is not a whole number from {min} to {max}",
            text.escape_debug()
        ));
    }
    match t.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("'{t}' is outside {min} to {max}")),
    }
}

/// `--retries N`: 0 to [`MAX_RETRIES`].
///
/// # Errors
/// As [`count`].
pub fn retries(text: &str) -> Result<u32, String> {
    count(text, 0, MAX_RETRIES).map(|n| n as u32)
}

/// `--events N`: 1 to [`MAX_EVENTS`].
///
/// # Errors
/// As [`count`].
pub fn events(text: &str) -> Result<usize, String> {
    count(text, 1, MAX_EVENTS).map(|n| n as usize)
}

/// A count of milliseconds or microseconds for the virtual card's timing options:
/// 0 to one day in that unit.
///
/// # Errors
/// As [`count`].
pub fn millis(text: &str) -> Result<u64, String> {
    count(text, 0, 86_400_000)
}

/// Microseconds: 0 to 10 s (a delay per APDU or byte beyond that only stalls pcscd).
///
/// # Errors
/// As [`count`].
pub fn micros(text: &str) -> Result<u64, String> {
    count(text, 0, 10_000_000)
}

/// Whole seconds: 0 to [`MAX_SECONDS`].
///
/// # Errors
/// As [`count`].
pub fn whole_seconds(text: &str) -> Result<u64, String> {
    count(text, 0, MAX_SECONDS as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every hostile spelling tried; each must be refused without a panic.
    pub const HOSTILE_SECONDS: &[&str] = &[
        "inf",
        "-inf",
        "+inf",
        "infinity",
        "NaN",
        "nan",
        "1e30",
        "1.9e19",
        "-1",
        "-0.5",
        "86400.001",
        "1e5",
        "",
        " ",
        ".",
        "..",
        "1.2.3",
        "0x10",
        "３０",
        "30m",
        "1_000",
        "18446744073709551616",
        "99999999999999999999999999999999",
    ];

    #[test]
    fn hostile_seconds_are_refused() {
        for h in HOSTILE_SECONDS {
            let e = seconds(h).expect_err(h);
            assert!(e.contains("seconds") || e.contains("0 to"), "{h}: {e}");
        }
    }

    #[test]
    fn good_seconds_parse() {
        assert_eq!(seconds("30"), Ok(30.0));
        assert_eq!(seconds("2.5"), Ok(2.5));
        assert_eq!(seconds("0"), Ok(0.0));
        assert_eq!(seconds("86400"), Ok(86_400.0));
        assert_eq!(seconds("10s"), Ok(10.0));
        assert_eq!(seconds(".5"), Ok(0.5));
        assert!(duration(1.5).is_ok());
        for bad in [f64::NAN, f64::INFINITY, -1.0, 1e30, 1.9e19] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn counts_are_bounded() {
        assert_eq!(retries("0"), Ok(0));
        assert_eq!(retries("20"), Ok(20));
        for bad in [
            "21",
            "-1",
            "",
            "1e3",
            "4294967296",
            "99999999999999999999999",
            "３",
            "+1",
        ] {
            assert!(retries(bad).is_err(), "{bad}");
        }
        assert!(events("0").is_err());
        assert_eq!(events("1"), Ok(1));
        assert!(events("1000001").is_err());
        assert!(millis("86400001").is_err());
        assert!(micros("10000001").is_err());
        assert_eq!(whole_seconds("86400"), Ok(86_400));
        assert!(whole_seconds("86401").is_err());
    }
}
