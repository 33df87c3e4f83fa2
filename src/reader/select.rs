//! Choosing a reader: by index, by a name substring, or the first one with a card.

use super::context::ReaderInfo;
use crate::apdu::TransportError;
use std::str::FromStr;

/// How the user named a reader (`--reader`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderSelector {
    /// The first reader holding a card, else the first reader.
    Auto,
    /// The reader at this index of `sscard readers`.
    Index(usize),
    /// The only reader whose name contains this text (case-insensitive).
    Name(String),
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

impl ReaderSelector {
    /// Picks the reader from the list; a substring naming several readers is refused
    /// unless one name matches it exactly.
    pub fn pick<'r>(&self, readers: &'r [ReaderInfo]) -> Result<&'r ReaderInfo, TransportError> {
        if readers.is_empty() {
            return Err(TransportError::NoReaders);
        }
        match self {
            ReaderSelector::Auto => Ok(readers
                .iter()
                .find(|r| r.card_present)
                .unwrap_or(&readers[0])),
            ReaderSelector::Index(i) => readers
                .get(*i)
                .ok_or_else(|| TransportError::UnknownReader(format!("#{i}"))),
            ReaderSelector::Name(text) => {
                if let Some(r) = readers.iter().find(|r| r.name == *text) {
                    return Ok(r);
                }
                let needle = text.to_lowercase();
                let hits: Vec<_> = readers
                    .iter()
                    .filter(|r| r.name.to_lowercase().contains(&needle))
                    .collect();
                match hits.as_slice() {
                    [one] => Ok(one),
                    [] => Err(TransportError::UnknownReader(text.clone())),
                    _ => Err(TransportError::AmbiguousReader {
                        text: text.clone(),
                        names: hits.iter().map(|r| r.name.clone()).collect(),
                    }),
                }
            }
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
                name: n.to_string(),
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
