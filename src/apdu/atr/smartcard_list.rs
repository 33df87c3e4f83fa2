//! Card identification from pcsc-tools' `smartcard_list.txt`, offline.
//!
//! Why: pcsc-tools' `ATR_analysis` identifies a card by downloading this list; the
//! Debian package already installs it (`/usr/share/pcsc/smartcard_list.txt`), so
//! `sscard atr` reads the installed copy and never needs the network.
//!
//! The file format (read from the file itself and from how `ATR_analysis` uses it):
//! `#` starts a comment line; a line that does not start with white space is an ATR
//! *pattern*: hex bytes separated by single spaces, written as a regular expression
//! over that text (`..` any byte, `3[1,3]` a set, `.*` anything, `0[1-5]` a range);
//! the lines after it that start with a tab describe the card. A pattern matches when
//! it matches the whole upper-case, space-separated ATR (`3B 6D 00 ...`), case
//! ignored. A pattern made of hex bytes only is "fully specified" (one exact ATR).

use regex::Regex;
use std::path::{Path, PathBuf};

/// Where pcsc-tools puts the list: the package's copy, a local install, and the copy
/// `pcsc_scan`/`ATR_analysis` download into the user's cache.
pub fn default_paths() -> Vec<PathBuf> {
    let mut v = vec![
        PathBuf::from("/usr/share/pcsc/smartcard_list.txt"),
        PathBuf::from("/usr/local/share/pcsc/smartcard_list.txt"),
    ];
    if let Some(home) = std::env::var_os("HOME") {
        v.push(Path::new(&home).join(".cache/smartcard_list.txt"));
    }
    v
}

/// One ATR pattern and what the list says about it.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The pattern as written in the list.
    pub pattern: String,
    /// 1-based line of the pattern in the file.
    pub line: usize,
    /// The description lines (tab removed).
    pub descriptions: Vec<String>,
    regex: Option<Regex>,
    exact: Option<Vec<u8>>,
}

impl Entry {
    /// The ATR bytes when the pattern is fully specified (hex bytes only).
    pub fn exact(&self) -> Option<&[u8]> {
        self.exact.as_deref()
    }

    /// Whether the pattern matches `atr`.
    pub fn matches(&self, atr: &[u8], text: &str) -> bool {
        match (&self.exact, &self.regex) {
            (Some(e), _) => e == atr,
            (None, Some(r)) => r.is_match(text),
            (None, None) => false,
        }
    }
}

/// The parsed list.
#[derive(Debug, Clone, Default)]
pub struct CardList {
    /// Every entry, in file order.
    pub entries: Vec<Entry>,
    /// Patterns that are not valid regular expressions (line, pattern): skipped.
    pub bad_patterns: Vec<(usize, String)>,
}

fn parse_exact(pattern: &str) -> Option<Vec<u8>> {
    let parts: Vec<&str> = pattern.split(' ').collect();
    if parts
        .iter()
        .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        hex::decode(parts.concat()).ok()
    } else {
        None
    }
}

impl CardList {
    /// Parses the list's text (see the module docs for the format).
    pub fn parse(text: &str) -> CardList {
        let mut list = CardList::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if raw.starts_with('\t') || raw.starts_with(' ') {
                if let Some(e) = list.entries.last_mut() {
                    e.descriptions.push(line.trim_start().to_string());
                }
                continue;
            }
            let pattern = line.to_string();
            let exact = parse_exact(&pattern);
            let regex = if exact.is_some() {
                None
            } else {
                match Regex::new(&format!("(?i)^(?:{pattern})$")) {
                    Ok(r) => Some(r),
                    Err(_) => {
                        list.bad_patterns.push((i + 1, pattern));
                        continue;
                    }
                }
            };
            list.entries.push(Entry {
                pattern,
                line: i + 1,
                descriptions: Vec::new(),
                regex,
                exact,
            });
        }
        list
    }

    /// Reads and parses the list at `path` (bytes that are not UTF-8 are replaced).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn load(path: &Path) -> std::io::Result<CardList> {
        let bytes = std::fs::read(path)?;
        Ok(CardList::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// The first list found at [`default_paths`], with its path.
    pub fn load_default() -> Option<(PathBuf, CardList)> {
        default_paths()
            .into_iter()
            .find(|p| p.is_file())
            .and_then(|p| CardList::load(&p).ok().map(|l| (p, l)))
    }

    /// The entries whose pattern matches `atr`, in file order.
    pub fn identify(&self, atr: &[u8]) -> Vec<&Entry> {
        let text = atr
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.entries
            .iter()
            .filter(|e| e.matches(atr, &text))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "# comment\n\
3B 65 00 00 9C 1[01] 01 01 03\n\
\tSome card (wildcard set)\n\
\thttp://example\n\
3B 6D 00 00 00 81 54 4C 96 86 84 63 99 48 FB 49 66\n\
\tA social security card\n\
\n\
3B 6D 00 00 .. .. .. .. .. .. .. .. .. .. .. .. ..\n\
\tAny 3B 6D 00 00 card\n\
3B EF 00 FF 81 31 42 45 .* 38\n\
\tDot-star\n\
3B ((\n\
\tbroken\n";

    #[test]
    fn parses_patterns_descriptions_and_bad_regexes() {
        let l = CardList::parse(SAMPLE);
        assert_eq!(l.entries.len(), 4);
        assert_eq!(l.bad_patterns, vec![(12, "3B ((".to_string())]);
        assert_eq!(l.entries[0].descriptions.len(), 2);
        assert_eq!(l.entries[0].line, 2);
        assert!(l.entries[0].exact().is_none());
        assert_eq!(l.entries[1].exact().map(<[u8]>::len), Some(17));
    }

    #[test]
    fn identifies_exact_wildcard_set_and_dot_star() {
        let l = CardList::parse(SAMPLE);
        let ssc = hex::decode("3B6D00000081544C968684639948FB4966").unwrap();
        let hits: Vec<_> = l.identify(&ssc).iter().map(|e| e.line).collect();
        assert_eq!(hits, vec![5, 8]);
        let set = hex::decode("3B6500009C11010103").unwrap();
        assert_eq!(l.identify(&set).len(), 1);
        let not_in_set = hex::decode("3B6500009C12010103").unwrap();
        assert!(l.identify(&not_in_set).is_empty());
        let dot_star = hex::decode("3BEF00FF813142450102030438").unwrap();
        assert_eq!(l.identify(&dot_star)[0].descriptions[0], "Dot-star");
        // A prefix is not a match: patterns match the whole ATR.
        assert!(l.identify(&ssc[..16]).is_empty());
    }
}
