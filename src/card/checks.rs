//! The checks shown beside the data: check digits, expiry, activation deadline.
//!
//! Each check is a pure function of card values (and today's date), so it is tested
//! without a card, and [`Check`] carries its outcome and a sentence for people. A
//! failed *data* check (a check digit, the sex digit, the birth date in the ID) means
//! the card's data is inconsistent; expiry and the activation deadline are facts about
//! a consistent card, shown as warnings.

use crate::profile::Date;
use serde::Serialize;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// As it should be.
    Pass,
    /// The data is inconsistent.
    Fail,
    /// Consistent, but the user must act (expired, deadline passed).
    Warn,
    /// For information.
    Info,
}

/// One check and its result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier (`citizen_id_check_digit`).
    pub id: &'static str,
    /// Outcome.
    pub outcome: Outcome,
    /// A sentence for people.
    pub message: String,
}

impl Check {
    fn new(id: &'static str, outcome: Outcome, message: impl Into<String>) -> Self {
        Check {
            id,
            outcome,
            message: message.into(),
        }
    }
}

const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The GB 11643-1999 check character for the first 17 digits of a citizen ID;
/// `None` unless they are 17 decimal digits.
pub fn citizen_id_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(ID_WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    ID_CHECK.get((sum % 11) as usize).copied()
}

/// Checks the citizen ID's form and check character (spec/cards.md §5.1).
pub fn check_citizen_id(id: &str) -> Check {
    const ID: &str = "citizen_id_check_digit";
    let Some(first17) = id.get(..17).filter(|_| id.len() == 18) else {
        return Check::new(
            ID,
            Outcome::Fail,
            format!("citizen ID {id:?} is not 18 characters"),
        );
    };
    let Some(want) = citizen_id_check_char(first17) else {
        return Check::new(
            ID,
            Outcome::Fail,
            format!("citizen ID {id:?}: the first 17 characters are not all digits"),
        );
    };
    let have = id.chars().last().unwrap_or(' ');
    if have == want {
        Check::new(
            ID,
            Outcome::Pass,
            format!("citizen ID check character {have} is correct"),
        )
    } else {
        Check::new(
            ID,
            Outcome::Fail,
            format!("citizen ID check character is {have}, it should be {want}"),
        )
    }
}

/// Checks that the 17th digit of the ID (odd male, even female) agrees with the sex
/// field (`1` male, `2` female).
pub fn check_sex(id: &str, sex: &str) -> Check {
    const ID: &str = "sex_digit";
    let Some(d) = id
        .as_bytes()
        .get(16)
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
    else {
        return Check::new(
            ID,
            Outcome::Fail,
            "the citizen ID has no 17th digit to check the sex against",
        );
    };
    let id_sex = if d % 2 == 1 { "1" } else { "2" };
    let name = |s: &str| match s {
        "1" => "male",
        "2" => "female",
        _ => "unknown",
    };
    if sex == id_sex {
        Check::new(
            ID,
            Outcome::Pass,
            format!(
                "sex digit {d} of the citizen ID agrees with sex {sex} ({})",
                name(sex)
            ),
        )
    } else {
        Check::new(
            ID,
            Outcome::Fail,
            format!(
                "sex digit {d} of the citizen ID means {} but the card says sex {sex:?} ({})",
                name(id_sex),
                name(sex)
            ),
        )
    }
}

/// Checks that digits 7..14 of the ID are the birth date.
pub fn check_birth_date(id: &str, birth: Option<Date>) -> Check {
    const ID: &str = "birth_date_in_id";
    let in_id = id.get(6..14).unwrap_or("");
    match birth {
        Some(b) if b.format("%Y%m%d").to_string() == in_id => Check::new(
            ID,
            Outcome::Pass,
            "the birth date agrees with the citizen ID",
        ),
        Some(b) => Check::new(
            ID,
            Outcome::Fail,
            format!(
                "the birth date {} differs from {in_id:?} in the citizen ID",
                b.format("%Y%m%d")
            ),
        ),
        None => Check::new(ID, Outcome::Info, "the card stores no birth date"),
    }
}

const CARD_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of an SSC card number's first 8 characters (§5.2); `None`
/// unless they are 8 characters `0-9`/`A-Z`.
pub fn card_number_check_char(first8: &str) -> Option<char> {
    if first8.len() != 8 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first8.chars().zip(CARD_WEIGHTS) {
        let v = match c {
            '0'..='9' => u32::from(c) - u32::from('0'),
            'A'..='Z' => u32::from(c) - u32::from('A') + 10,
            _ => return None,
        };
        sum += v * w;
    }
    match 11 - sum % 11 {
        10 => Some('X'),
        11 => Some('0'),
        r => char::from_digit(r, 10),
    }
}

/// Checks an SSC card number's form and check character (§5.2).
pub fn check_card_number(number: &str) -> Check {
    const ID: &str = "card_number_check_char";
    let Some(first8) = number.get(..8).filter(|_| number.len() == 9) else {
        return Check::new(
            ID,
            Outcome::Fail,
            format!("card number {number:?} is not 9 characters"),
        );
    };
    let Some(want) = card_number_check_char(first8) else {
        return Check::new(
            ID,
            Outcome::Fail,
            format!("card number {number:?}: the first 8 characters are not 0-9/A-Z"),
        );
    };
    let have = number.chars().last().unwrap_or(' ');
    if have == want {
        Check::new(
            ID,
            Outcome::Pass,
            format!("card number check character {have} is correct"),
        )
    } else {
        Check::new(
            ID,
            Outcome::Fail,
            format!("card number check character is {have}, it should be {want}"),
        )
    }
}

/// Days from `a` to `b` (negative when `b` is earlier).
pub fn days_between(a: Date, b: Date) -> i64 {
    (b - a).num_days()
}

/// Checks the expiry date: the card is valid up to and including it.
pub fn check_expiry(expiry: Date, today: Date) -> Check {
    const ID: &str = "expiry";
    let left = days_between(today, expiry);
    if left >= 0 {
        Check::new(
            ID,
            Outcome::Pass,
            format!("valid until {expiry} ({left} days left)"),
        )
    } else {
        Check::new(
            ID,
            Outcome::Warn,
            format!(
                "EXPIRED on {expiry} ({} days ago): replace the card at the bureau",
                -left
            ),
        )
    }
}

/// The activation deadline: issue date + 6 months (activation.md). `None` only past
/// the end of the calendar.
pub fn activation_deadline(issue: Date) -> Option<Date> {
    issue.checked_add_months(chrono::Months::new(6))
}

/// Where a card stands with its activation deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Deadline {
    /// Issue date + 6 months.
    pub deadline: Date,
    /// Days from today to the deadline; negative when overdue.
    pub days_left: i64,
}

/// The deadline of a card not yet activated, and the check describing it.
pub fn check_activation(issue: Date, today: Date) -> (Option<Deadline>, Check) {
    const ID: &str = "activation_deadline";
    let Some(deadline) = activation_deadline(issue) else {
        return (
            None,
            Check::new(
                ID,
                Outcome::Fail,
                format!("issue date {issue} has no deadline"),
            ),
        );
    };
    let days_left = days_between(today, deadline);
    let d = Deadline {
        deadline,
        days_left,
    };
    let check = if days_left >= 0 {
        Check::new(
            ID,
            Outcome::Info,
            format!("not activated: activate by {deadline} ({days_left} days left)"),
        )
    } else {
        Check::new(
            ID,
            Outcome::Warn,
            format!(
                "not activated: the deadline {deadline} passed {} days ago (overdue); the old medical card is restricted",
                -days_left
            ),
        )
    };
    (Some(d), check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        crate::profile::codec::parse_yyyymmdd(s).unwrap()
    }

    #[test]
    fn citizen_ids_of_the_spec() {
        assert_eq!(
            check_citizen_id("111111198101011110").outcome,
            Outcome::Pass
        );
        assert_eq!(
            check_citizen_id("11010519491231002X").outcome,
            Outcome::Pass
        );
        let bad = check_citizen_id("111111198101011111");
        assert_eq!(bad.outcome, Outcome::Fail);
        assert!(bad.message.contains("should be 0"), "{}", bad.message);
        assert_eq!(check_citizen_id("1111").outcome, Outcome::Fail);
        assert_eq!(
            check_citizen_id("11111119810101111A").outcome,
            Outcome::Fail
        );
        assert_eq!(
            check_citizen_id("1111111981010111\u{00e9}").outcome,
            Outcome::Fail
        );
        assert_eq!(check_citizen_id("").outcome, Outcome::Fail);
    }

    #[test]
    fn sex_digit() {
        assert_eq!(check_sex("111111198101011110", "1").outcome, Outcome::Pass);
        assert_eq!(check_sex("111111198101011110", "2").outcome, Outcome::Fail);
        assert_eq!(check_sex("11010519491231002X", "2").outcome, Outcome::Pass);
        assert_eq!(check_sex("short", "1").outcome, Outcome::Fail);
    }

    #[test]
    fn card_numbers() {
        assert_eq!(card_number_check_char("X0000001"), Some('9'));
        assert_eq!(check_card_number("X00000019").outcome, Outcome::Pass);
        assert_eq!(check_card_number("X00000018").outcome, Outcome::Fail);
        assert_eq!(check_card_number("x00000019").outcome, Outcome::Fail);
        assert_eq!(check_card_number("X0000001").outcome, Outcome::Fail);
        // r = 10 and r = 11 cases.
        let all: Vec<String> = (0..200).map(|i| format!("A{i:07}")).collect();
        assert!(all.iter().any(|n| card_number_check_char(n) == Some('X')));
        assert!(all.iter().any(|n| card_number_check_char(n) == Some('0')));
    }

    #[test]
    fn expiry_and_deadline() {
        assert_eq!(
            check_expiry(d("20360601"), d("20360601")).outcome,
            Outcome::Pass
        );
        let e = check_expiry(d("20360601"), d("20360602"));
        assert_eq!(e.outcome, Outcome::Warn);
        assert!(e.message.contains("EXPIRED"));
        assert_eq!(activation_deadline(d("20260601")), Some(d("20261201")));
        assert_eq!(activation_deadline(d("20260831")), Some(d("20270228")));
        let (dl, c) = check_activation(d("20260601"), d("20261101"));
        assert_eq!(dl.unwrap().days_left, 30);
        assert_eq!(c.outcome, Outcome::Info);
        let (dl, c) = check_activation(d("20260601"), d("20261211"));
        assert_eq!(dl.unwrap().days_left, -10);
        assert_eq!(c.outcome, Outcome::Warn);
        assert!(c.message.contains("10 days ago"));
    }

    #[test]
    fn birth_date() {
        assert_eq!(
            check_birth_date("111111198101011110", Some(d("19810101"))).outcome,
            Outcome::Pass
        );
        assert_eq!(
            check_birth_date("111111198101011110", Some(d("19810102"))).outcome,
            Outcome::Fail
        );
        assert_eq!(
            check_birth_date("x", Some(d("19810102"))).outcome,
            Outcome::Fail
        );
    }
}
