//! One desk, one meaning: the readers of a desk must be different readers.
//!
//! Why one function for the file and the command line: `sscard config check` refused
//! `old` and `new` naming the same reader, and a PSAM reader that is also a card
//! reader, while `activate --old-reader 0 --new-reader "PCD 00 00"` silently became a
//! one-reader desk and `--reader 0 --sam-reader 0` was accepted. Both now call
//! [`check_roles`], so the same desk is refused the same way wherever it is written.
//!
//! Two names are the same reader when they pick the same reader from pcscd's list
//! (an index and a part of the name can); without the list (pcscd not running) the
//! selectors themselves are compared (the same index, or the same text), and the
//! command fails on the missing pcscd anyway.

use crate::reader::{ReaderInfo, ReaderSelector};
use std::fmt;

/// What a reader is used for at a desk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Both cards, one after the other (one-reader desk).
    Card,
    /// The old card (two-reader desk).
    Old,
    /// The new card (two-reader desk).
    New,
    /// The PSAM.
    Psam,
}

/// One reader of a desk: its use, how the user wrote it (`--old-reader`,
/// `readers.old`) and the selector.
#[derive(Debug, Clone)]
pub struct Role<'a> {
    /// The use.
    pub role: Use,
    /// Where it was given, for the message (`--old-reader`, `readers.old`).
    pub label: &'a str,
    /// The reader as given.
    pub selector: &'a ReaderSelector,
}

/// Two uses of a desk that name one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The first use's label.
    pub first: String,
    /// The second use's label.
    pub second: String,
    /// Whether one of them is the PSAM.
    pub psam: bool,
    /// The reader both name (its full name when pcscd listed it, else as given).
    pub reader: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.psam {
            write!(
                f,
                "{} '{}' is also a card reader ({}): the PSAM needs its own reader or slot",
                self.second, self.reader, self.first
            )
        } else {
            write!(
                f,
                "{} and {} are the same reader '{}': use one reader for both cards \
                 (`--reader`, or `card` in the configuration), or name two different readers",
                self.first, self.second, self.reader
            )
        }
    }
}

fn same_selector(a: &ReaderSelector, b: &ReaderSelector) -> bool {
    match (a, b) {
        (ReaderSelector::Index(x), ReaderSelector::Index(y)) => x == y,
        (ReaderSelector::Name(x), ReaderSelector::Name(y)) => {
            x.trim().eq_ignore_ascii_case(y.trim())
        }
        (ReaderSelector::NameBytes(x), ReaderSelector::NameBytes(y)) => x == y,
        (ReaderSelector::Exact(x), ReaderSelector::Exact(y)) => x == y,
        (ReaderSelector::Auto, ReaderSelector::Auto) => true,
        _ => false,
    }
}

/// Refuses a desk whose uses name one reader twice. `readers` is pcscd's list when
/// it could be read; a selector that picks no reader is left to the command (it
/// fails with its own "no reader matches" error).
///
/// # Errors
/// The first [`Conflict`], the PSAM's role named second.
pub fn check_roles(roles: &[Role<'_>], readers: Option<&[ReaderInfo]>) -> Result<(), Conflict> {
    let resolved: Vec<Option<crate::reader::ReaderName>> = roles
        .iter()
        .map(|r| readers.and_then(|l| r.selector.pick(l).ok().map(|i| i.name.clone())))
        .collect();
    for i in 0..roles.len() {
        for j in i + 1..roles.len() {
            let (a, b) = (&roles[i], &roles[j]);
            let same = match (&resolved[i], &resolved[j]) {
                (Some(x), Some(y)) => x == y,
                _ => same_selector(a.selector, b.selector),
            };
            if !same {
                continue;
            }
            let (first, second) = if a.role == Use::Psam { (b, a) } else { (a, b) };
            let reader = resolved[i]
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_else(|| match a.selector {
                    ReaderSelector::Index(n) => format!("#{n}"),
                    ReaderSelector::Name(s) => s.clone(),
                    ReaderSelector::NameBytes(b) => {
                        crate::reader::ReaderName::from_bytes(b).to_string()
                    }
                    ReaderSelector::Exact(n) => n.to_string(),
                    ReaderSelector::Auto => "the first reader".into(),
                });
            return Err(Conflict {
                first: first.label.to_string(),
                second: second.label.to_string(),
                psam: first.role == Use::Psam || second.role == Use::Psam,
                reader,
            });
        }
    }
    Ok(())
}

/// [`check_roles`] for the command line of `sscard activate`: the card reader(s) and
/// the PSAM reader as the flow will use them (flags or configuration). Lists the
/// readers itself; when pcscd cannot be reached the selectors are compared as given.
///
/// # Errors
/// A [`crate::error::Error`] with exit code 7, as `config check` gives.
pub fn check_activate(
    old: &ReaderSelector,
    new: Option<&ReaderSelector>,
    psam: Option<&ReaderSelector>,
) -> Result<(), crate::error::Error> {
    let mut roles = Vec::new();
    match new {
        Some(n) => {
            roles.push(Role {
                role: Use::Old,
                label: "the old card's reader (--old-reader, readers.old)",
                selector: old,
            });
            roles.push(Role {
                role: Use::New,
                label: "the new card's reader (--new-reader, readers.new)",
                selector: n,
            });
        }
        None => roles.push(Role {
            role: Use::Card,
            label: "the card reader (--reader, readers.card)",
            selector: old,
        }),
    }
    if let Some(p) = psam {
        roles.push(Role {
            role: Use::Psam,
            label: "the PSAM reader (--sam-reader, readers.psam)",
            selector: p,
        });
    }
    let readers = crate::reader::establish()
        .ok()
        .and_then(|ctx| crate::reader::list_readers(&ctx).ok());
    check_roles(&roles, readers.as_deref()).map_err(|c| crate::error::Error::Other {
        message: c.to_string(),
        code: crate::error::ExitCode::InvalidData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers() -> Vec<ReaderInfo> {
        ["Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR39U PICC"]
            .iter()
            .enumerate()
            .map(|(index, n)| ReaderInfo {
                index,
                name: (*n).into(),
                card_present: false,
                exclusive: false,
                atr: None,
            })
            .collect()
    }

    fn sel(s: &str) -> ReaderSelector {
        match s.parse() {
            Ok(s) => s,
            Err(e) => match e {},
        }
    }

    fn check(pairs: &[(Use, &str)], list: bool) -> Result<(), Conflict> {
        let sels: Vec<ReaderSelector> = pairs.iter().map(|(_, s)| sel(s)).collect();
        let roles: Vec<Role<'_>> = pairs
            .iter()
            .zip(&sels)
            .map(|((u, _), s)| Role {
                role: *u,
                label: match u {
                    Use::Card => "card",
                    Use::Old => "old",
                    Use::New => "new",
                    Use::Psam => "psam",
                },
                selector: s,
            })
            .collect();
        let r = readers();
        check_roles(&roles, list.then_some(r.as_slice()))
    }

    /// Roles, whether pcscd's list is known, whether the desk is refused.
    type Case<'a> = (&'a [(Use, &'a str)], bool, bool);

    #[test]
    fn one_reader_under_two_names_is_refused() {
        use Use::*;
        // (roles, with pcscd's list, refused?)
        let cases: &[Case<'_>] = &[
            (&[(Old, "0"), (New, "PCD 00 00")], true, true),
            (&[(Old, "0"), (New, "Virtual PCD 00 00")], true, true),
            (&[(Old, "0"), (New, "0")], true, true),
            (&[(Old, "0"), (New, "0")], false, true),
            (&[(Old, "00 01"), (New, "1")], true, true),
            (&[(Old, "acr39u"), (New, "2")], true, true),
            (&[(Card, "0"), (Psam, "0")], true, true),
            (&[(Card, "0"), (Psam, "0")], false, true),
            (&[(Card, "PCD 00 01"), (Psam, "1")], true, true),
            (&[(Old, "0"), (New, "1"), (Psam, "00 01")], true, true),
            (&[(Card, "ACR39U"), (Psam, "acr39u")], false, true),
            // Different readers pass.
            (&[(Old, "0"), (New, "1")], true, false),
            (&[(Old, "0"), (New, "1"), (Psam, "ACR39U")], true, false),
            (&[(Card, "0"), (Psam, "PCD 00 01")], true, false),
            // Without the list an index and a name cannot be compared: left to pcscd.
            (&[(Old, "0"), (New, "PCD 00 00")], false, false),
            // A name that picks nothing is the command's own error, not a conflict.
            (&[(Old, "nothing"), (New, "0")], true, false),
        ];
        for (roles, list, refused) in cases {
            let r = check(roles, *list);
            assert_eq!(r.is_err(), *refused, "{roles:?} list={list}: {r:?}");
        }
        assert_eq!(cases.len(), 16);
    }

    #[test]
    fn messages_say_one_thing() {
        let e = check(&[(Use::Old, "0"), (Use::New, "PCD 00 00")], true).unwrap_err();
        assert_eq!(
            e.to_string(),
            "old and new are the same reader 'Virtual PCD 00 00': use one reader for both \
             cards (`--reader`, or `card` in the configuration), or name two different readers"
        );
        let e = check(&[(Use::Psam, "0"), (Use::Card, "0")], true).unwrap_err();
        assert!(e.psam);
        assert_eq!(
            e.to_string(),
            "psam 'Virtual PCD 00 00' is also a card reader (card): the PSAM needs its own \
             reader or slot"
        );
    }
}
