//! Finds the English sentences the activation code puts in front of a desk worker:
//! refusal reasons, safety stops, timeouts, notes, prompts and setup errors, read
//! straight from the sources so that a sentence added there without a translation
//! (tests/i18n_coverage.rs) or without a row in hardware.md (tests/hardware_doc.rs)
//! fails a test instead of reaching a desk unexplained.
#![allow(dead_code)]

use std::path::PathBuf;

/// One sentence found in the sources.
#[derive(Debug, Clone)]
pub struct Sentence {
    /// `src/activation/pharmacy.rs:189`.
    pub place: String,
    /// What kind of text it is.
    pub kind: Kind,
    /// The text, each `format!` placeholder written `{}`.
    pub pattern: String,
}

/// Kinds of desk sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ActivationError::Refused` (exit 12).
    Refused,
    /// `ActivationError::Inconsistent` (exit 6).
    Stopped,
    /// `ActivationError::Timeout` (exit 15).
    Timeout,
    /// An `Error::Other` / `keys_error` / `pin_error` / `InvalidData` message.
    Setup,
    /// `Msg::Note`.
    Note,
    /// A PIN or line prompt.
    Prompt,
}

const FILES: &[&str] = &[
    "src/activation/pharmacy.rs",
    "src/activation/recovery.rs",
    "src/activation/window.rs",
    "src/activation/slots.rs",
    "src/activation/session.rs",
    "src/activation/desk.rs",
    "src/cli/activate.rs",
    "src/pin_input.rs",
];

const MARKERS: &[(&str, Kind)] = &[
    ("Refused(", Kind::Refused),
    ("Inconsistent(", Kind::Stopped),
    ("Timeout(", Kind::Timeout),
    ("keys_error(", Kind::Setup),
    ("pin_error(", Kind::Setup),
    ("InvalidData(", Kind::Setup),
    ("message: ", Kind::Setup),
    ("Msg::Note(", Kind::Note),
    (".pin(", Kind::Prompt),
    (".line(", Kind::Prompt),
    ("pins.read(", Kind::Prompt),
    // Prompts built with `format!` before being handed to the desk start with the
    // role that must act.
    ("format!(\"Holder: ", Kind::Prompt),
    ("format!(\"Operator: ", Kind::Prompt),
];

/// Reads a Rust string literal starting at `s[0] == '"'`; `None` if it is not one.
fn literal(s: &str) -> Option<String> {
    let mut chars = s.chars().peekable();
    if chars.next()? != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                '\\' => out.push('\\'),
                '"' => out.push('"'),
                '\'' => out.push('\''),
                '\n' => {
                    while chars.peek().is_some_and(|c| c.is_whitespace()) {
                        chars.next();
                    }
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            c => out.push(c),
        }
    }
    None
}

/// `{name}`, `{:02X}`, `{}` become `{}`; `{{` and `}}` become braces.
fn placeholders(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                for d in chars.by_ref() {
                    if d == '}' {
                        break;
                    }
                }
                out.push_str("{}");
            }
            c => out.push(c),
        }
    }
    out
}

/// Every desk sentence of the activation code.
pub fn desk_sentences() -> Vec<Sentence> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for file in FILES {
        let Ok(text) = std::fs::read_to_string(root.join(file)) else {
            continue;
        };
        for (marker, kind) in MARKERS {
            if marker.starts_with("format!(\"") && file.ends_with("desk.rs") {
                // desk.rs formats the Holder message itself (translated as data).
                continue;
            }
            for (at, _) in text.match_indices(marker) {
                let skip = if marker.starts_with("format!(") {
                    "format!(".len()
                } else {
                    marker.len()
                };
                let mut rest = text[at + skip..].trim_start();
                if let Some(r) = rest.strip_prefix("format!(") {
                    rest = r.trim_start();
                }
                if let Some(s) = literal(rest) {
                    let line = text[..at].matches('\n').count() + 1;
                    found.push(Sentence {
                        place: format!("{file}:{line}"),
                        kind: *kind,
                        pattern: placeholders(&s),
                    });
                }
            }
        }
    }
    found
}

/// The longest run of fixed text of a pattern, without the punctuation around it:
/// what a reader can search for.
pub fn stem(pattern: &str) -> String {
    pattern
        .split("{}")
        .map(|s| s.trim_matches(|c: char| c.is_whitespace() || ":;,()'\".`".contains(c)))
        .max_by_key(|s| s.chars().count())
        .unwrap_or("")
        .to_string()
}

#[test]
fn the_scanner_reads_literals_and_placeholders() {
    assert_eq!(literal("\"a \\\n     b\"").as_deref(), Some("a b"));
    assert_eq!(literal("x"), None);
    assert_eq!(placeholders("x {n} y {:02X} {{z}}"), "x {} y {} {z}");
    assert_eq!(stem("transfer {} is already {}"), "is already");
    assert_eq!(
        stem("no card was inserted into '{}'"),
        "no card was inserted into"
    );
    // Activation's refusals, stops and notes are typed now (ui::messages renders
    // them); what the scanner still finds are the driver's few remaining literals.
    let all = desk_sentences();
    assert!(all.len() >= 5, "{all:?}");
    assert!(all
        .iter()
        .any(|s| s.kind == Kind::Timeout && s.pattern == "no card was inserted into '{}'"));
}
