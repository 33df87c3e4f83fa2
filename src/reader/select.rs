//! Choosing a reader: by index, by a name substring, or the first one with a card.

use super::context::ReaderInfo;
use super::name::ReaderName;
use crate::apdu::TransportError;
use std::ffi::OsString;
use std::str::FromStr;

/// How the user named a reader (`--reader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSelector {
    /// The first reader holding a card, else the first reader.
    Auto,
    /// The reader at this index of `sscard readers` (always works, whatever the
    /// name's encoding).
    Index(usize),
    /// The only reader whose name contains this text (case-insensitive; see
    /// [`ReaderName::matches`] for the readings compared).
    Name(String),
    /// As `Name`, typed as bytes that are not UTF-8 (a GBK terminal's argv).
    NameBytes(Vec<u8>),
    /// Exactly this reader (as listed by PC/SC).
    Exact(ReaderName),
}

impl FromStr for ReaderSelector {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.parse::<usize>() {
            Ok(i) => ReaderSelector::Index(i),
            Err(_) => ReaderSelector::Name(s.to_string()),
        })
    }
}

/// What clap uses for `--reader` (it prefers `From<OsString>` over `FromStr`), so a
/// name typed in a GBK terminal arrives as its bytes instead of being refused.
impl From<OsString> for ReaderSelector {
    fn from(s: OsString) -> Self {
        match s.into_string() {
            Ok(text) => match text.parse() {
                Ok(sel) => sel,
                Err(e) => match e {},
            },
            Err(raw) => {
                use std::os::unix::ffi::OsStringExt;
                ReaderSelector::NameBytes(raw.into_vec())
            }
        }
    }
}

impl ReaderSelector {
    /// Picks the reader from the list; a substring naming several readers is refused
    /// unless one name matches it exactly.
    ///
    /// # Errors
    /// [`TransportError::NoReaders`] for an empty list,
    /// [`TransportError::UnknownReader`] when nothing (or more than one reader) matches.
    pub fn pick<'r>(&self, readers: &'r [ReaderInfo]) -> Result<&'r ReaderInfo, TransportError> {
        if readers.is_empty() {
            return Err(TransportError::NoReaders);
        }
        let needle: &[u8] = match self {
            ReaderSelector::Auto => {
                return Ok(readers
                    .iter()
                    .find(|r| r.card_present)
                    .unwrap_or(&readers[0]))
            }
            ReaderSelector::Index(i) => {
                return readers
                    .get(*i)
                    .ok_or_else(|| TransportError::UnknownReader(format!("#{i}")))
            }
            ReaderSelector::Exact(name) => {
                return readers
                    .iter()
                    .find(|r| r.name == *name)
                    .ok_or_else(|| TransportError::UnknownReader(name.to_string()))
            }
            ReaderSelector::Name(text) => text.as_bytes(),
            ReaderSelector::NameBytes(b) => b,
        };
        let shown = String::from_utf8(needle.to_vec())
            .unwrap_or_else(|_| ReaderName::from_bytes(needle).to_string());
        if let Some(r) = readers.iter().find(|r| r.name.is_exactly(needle)) {
            return Ok(r);
        }
        let hits: Vec<_> = readers.iter().filter(|r| r.name.matches(needle)).collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(TransportError::UnknownReader(shown)),
            _ => Err(TransportError::AmbiguousReader {
                text: shown,
                names: hits.iter().map(|r| r.name.to_string()).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers() -> Vec<ReaderInfo> {
        ["Virtual PCD 00 00", "Virtual PCD 00 01", "ACS ACR39U 00 00"]
            .iter()
            .enumerate()
            .map(|(index, n)| ReaderInfo {
                index,
                name: ReaderName::from(*n),
                card_present: index == 1,
                exclusive: false,
                atr: None,
            })
            .collect()
    }

    #[test]
    fn picks_by_index_name_and_auto() {
        let r = readers();
        assert_eq!(ReaderSelector::Auto.pick(&r).unwrap().index, 1);
        assert_eq!(
            "2".parse::<ReaderSelector>()
                .unwrap()
                .pick(&r)
                .unwrap()
                .index,
            2
        );
        assert_eq!(
            "acr39"
                .parse::<ReaderSelector>()
                .unwrap()
                .pick(&r)
                .unwrap()
                .index,
            2
        );
        assert_eq!(
            "PCD 00 01"
                .parse::<ReaderSelector>()
                .unwrap()
                .pick(&r)
                .unwrap()
                .index,
            1
        );
    }

    #[test]
    fn a_gbk_named_reader_is_picked_by_index_text_and_bytes() {
        let (gbk, _, _) = encoding_rs::GBK.encode("DECARD 德卡 T10 读卡器");
        let mut r = readers();
        r.push(ReaderInfo {
            index: 3,
            name: ReaderName::from_bytes(&gbk),
            card_present: false,
            exclusive: false,
            atr: None,
        });
        let pick = |s: ReaderSelector| s.pick(&r).map(|i| i.index);
        assert_eq!(pick("3".parse().unwrap()).unwrap(), 3);
        assert_eq!(pick("德卡".parse().unwrap()).unwrap(), 3);
        assert_eq!(pick("decard".parse().unwrap()).unwrap(), 3);
        assert_eq!(pick("\\xB6\\xC1".parse().unwrap()).unwrap(), 3);
        let (part, _, _) = encoding_rs::GBK.encode("读卡器");
        let from_argv = ReaderSelector::from(
            <OsString as std::os::unix::ffi::OsStringExt>::from_vec(part.to_vec()),
        );
        assert_eq!(from_argv, ReaderSelector::NameBytes(part.to_vec()));
        assert_eq!(pick(from_argv).unwrap(), 3);
        assert_eq!(
            pick(ReaderSelector::Exact(ReaderName::from_bytes(&gbk))).unwrap(),
            3
        );
        assert!(pick("读卡器X".parse().unwrap()).is_err());
    }

    #[test]
    fn ambiguous_or_missing_is_an_error() {
        let r = readers();
        assert!(matches!(
            "virtual".parse::<ReaderSelector>().unwrap().pick(&r),
            Err(TransportError::AmbiguousReader { names, .. }) if names.len() == 2
        ));
        assert!("9".parse::<ReaderSelector>().unwrap().pick(&r).is_err());
        assert!(matches!(
            ReaderSelector::Auto.pick(&[]),
            Err(TransportError::NoReaders)
        ));
    }
}
