//! The roles each card kind needs from its profile, and the encodings they may have.
//!
//! This table is the contract between profile data and the code in [`crate::card`]:
//! the reader turns a role into a typed field (`balance` into a `u32` of fen), so a
//! profile that gave `balance` as text would otherwise fail only when a card is read.
//! Checking it at load time makes a wrong profile file an error before any card is
//! touched.

use super::model::{Encoding, Kind};

/// One role a kind of card uses.
#[derive(Debug, Clone, Copy)]
pub struct RoleSpec {
    /// Role name.
    pub role: &'static str,
    /// Whether every profile of the kind must define it.
    pub required: bool,
    /// Encodings the code can handle for it.
    pub encodings: &'static [Encoding],
    /// Exact length the code relies on, if any.
    pub len: Option<usize>,
}

const fn r(role: &'static str, encodings: &'static [Encoding], len: Option<usize>) -> RoleSpec {
    RoleSpec {
        role,
        required: true,
        encodings,
        len,
    }
}

const fn opt(role: &'static str, encodings: &'static [Encoding], len: Option<usize>) -> RoleSpec {
    RoleSpec {
        role,
        required: false,
        encodings,
        len,
    }
}

use Encoding::*;

const TEXT: &[Encoding] = &[Ascii, Gbk];
const ASCII: &[Encoding] = &[Ascii];
const RAW_TEXT: &[Encoding] = &[Ascii, AsciiOrHex, Binary];
const DATE: &[Encoding] = &[BcdDate];
const CODE: &[Encoding] = &[Code];
const NUMBER: &[Encoding] = &[U32be];
const BINARY: &[Encoding] = &[Binary];
const DIGITS: &[Encoding] = &[Bcd, Ascii];

/// Roles of an SSC profile.
pub const SSC: &[RoleSpec] = &[
    r("card_id", BINARY, Some(16)),
    r("card_type", RAW_TEXT, None),
    r("spec_version", ASCII, None),
    r("issuer", RAW_TEXT, None),
    r("issue_date", DATE, Some(4)),
    r("expiry_date", DATE, Some(4)),
    r("card_number", ASCII, None),
    r("citizen_id", ASCII, None),
    r("name", TEXT, None),
    opt("name_ext", TEXT, None),
    r("sex", ASCII, None),
    r("ethnicity", CODE, Some(1)),
    r("birthplace", DIGITS, None),
    r("birth_date", DATE, Some(4)),
    r("account", ASCII, None),
    r("category", CODE, Some(1)),
    r("status", CODE, Some(1)),
    r("balance", NUMBER, None),
    r("activation_date", DATE, Some(4)),
    r("activation_terminal", DIGITS, None),
    r("transfer_id", BINARY, Some(16)),
    opt("transfer_floor", BINARY, Some(14)),
];

/// Roles of a CITY profile.
pub const CITY: &[RoleSpec] = &[
    r("card_number", ASCII, None),
    r("citizen_id", ASCII, None),
    r("name", TEXT, None),
    r("account", ASCII, None),
    r("category", CODE, Some(1)),
    r("status", CODE, Some(1)),
    r("balance", NUMBER, None),
    r("transfer_id", BINARY, Some(16)),
    opt("target_card", ASCII, Some(9)),
    opt("transfer_counter", NUMBER, Some(4)),
];

/// Roles the activation protocol (spec/activation.md) needs beyond [`roles`], with
/// the reason a profile or card without them is refused. They are optional at load
/// time so that `sscard info` still reads cards of the layout before the transfer
/// protocol; every activation flow checks them first ([`activation_gap`]).
pub const ACTIVATION: &[(Kind, &str, &str)] = &[
    (
        Kind::City,
        "target_card",
        "the freeze binds the transfer to one new card by writing its number there \
         (CITY tag 27), so no other new card can ever receive it",
    ),
    (
        Kind::City,
        "transfer_counter",
        "every freeze raises the old card's transfer counter (CITY tag 28), which orders \
         its transfers so that a cancelled one can be barred for good",
    ),
    (
        Kind::Ssc,
        "transfer_floor",
        "a cancel writes the transfer floor (DF04 EF05 tag 27) on the new card so that \
         the cancelled transfer can never be credited to it later",
    ),
];

/// The first activation role `kind` needs that `has` says is missing, with why it is
/// needed (spec/activation.md); `None` when nothing is missing. `has` answers whether
/// the profile (or the card read with it) holds the role.
pub fn activation_gap(
    kind: Kind,
    mut has: impl FnMut(&str) -> bool,
) -> Option<(&'static str, &'static str)> {
    ACTIVATION
        .iter()
        .find(|(k, role, _)| *k == kind && !has(role))
        .map(|(_, role, why)| (*role, *why))
}

/// Roles of a PSAM profile.
pub const PSAM: &[RoleSpec] = &[r("terminal", DIGITS, None)];

/// Code names the activation flow relies on, per kind: (role, names).
pub const CODE_NAMES: &[(Kind, &str, &[&str])] = &[
    (Kind::Ssc, "status", &["not_activated", "active", "blocked"]),
    (
        Kind::City,
        "status",
        &["active", "migrating", "migrated", "blocked"],
    ),
];

/// The roles of a kind.
pub fn roles(kind: Kind) -> &'static [RoleSpec] {
    match kind {
        Kind::Ssc => SSC,
        Kind::City => CITY,
        Kind::Psam => PSAM,
    }
}
