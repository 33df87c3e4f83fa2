//! The card's file system: an arena of DFs (the MF first), each holding its EFs.
//!
//! Why an arena with parent indices rather than a tree of boxes: the engine keeps "the
//! current DF" and "the current EF" as plain indices that stay valid while commands
//! mutate records, and SELECT needs to walk to the parent as easily as to the
//! children. The tree shape of the image is rebuilt from the `children` lists when
//! the card is saved, in the original order.
//!
//! File lookup follows ISO 7816-4 as far as the card profiles need it: by FID among
//! the current DF's children, itself and its siblings; by AID anywhere; by SFI among
//! the current DF's EFs. One extension, as data: an EF marked `shared` is found by SFI
//! from every DF below its own (PSAMs keep the terminal number in the MF and many let
//! applications read it by SFI).

use super::image::RecordImage;
use super::security::{Access, CardKey, MasterKey, Pin};

/// File identifier of the MF.
pub(crate) const MF_FID: u16 = 0x3F00;

/// A dedicated file (the MF, an application or a sub-directory).
#[derive(Debug, Clone)]
pub(crate) struct Df {
    pub name: Option<String>,
    pub note: Option<String>,
    pub fid: Option<u16>,
    pub aid: Option<Vec<u8>>,
    /// Proprietary FCI template (`A5 ...`) returned after SELECT by AID.
    pub fci: Option<Vec<u8>>,
    pub parent: Option<usize>,
    pub children: Vec<usize>,
    pub efs: Vec<Ef>,
    pub keys: Vec<CardKey>,
    pub master_keys: Vec<MasterKey>,
    pub pins: Vec<Pin>,
}

impl Df {
    /// The full FCI answered to SELECT by AID: `6F L 84 l <AID> <proprietary>`.
    pub fn fci_bytes(&self) -> Option<Vec<u8>> {
        let prop = self.fci.as_ref()?;
        let aid = self.aid.as_deref().unwrap_or_default();
        let inner_len = 2 + aid.len() + prop.len();
        let mut out = Vec::with_capacity(2 + inner_len);
        out.push(0x6F);
        out.push(u8::try_from(inner_len).ok()?);
        out.push(0x84);
        out.push(u8::try_from(aid.len()).ok()?);
        out.extend_from_slice(aid);
        out.extend_from_slice(prop);
        Some(out)
    }
}

/// An elementary file.
#[derive(Debug, Clone)]
pub(crate) struct Ef {
    pub name: Option<String>,
    pub note: Option<String>,
    pub fid: Option<u16>,
    pub sfi: Option<u8>,
    pub shared: bool,
    pub read: Access,
    pub write: Access,
    pub body: EfBody,
}

/// The structure and contents of an EF.
#[derive(Debug, Clone)]
pub(crate) enum EfBody {
    /// Linear records, each a whole `tag len value` TLV.
    Linear(Vec<Record>),
    /// Cyclic fixed-size records, record 1 newest; APPEND RECORD pushes to the front
    /// and drops the oldest.
    Cyclic { size: usize, records: Vec<Vec<u8>> },
    /// A transparent EF (READ BINARY).
    Transparent(Vec<u8>),
}

/// One linear record, with the image entry it came from so an unchanged record is
/// saved back exactly as it was written (ASCII stays ASCII, notes stay).
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub bytes: Vec<u8>,
    pub source: Option<RecordImage>,
}

impl Ef {
    /// The record with 1-based number `n`, for linear and cyclic EFs.
    pub fn record(&self, n: u8) -> Option<&[u8]> {
        let idx = usize::from(n).checked_sub(1)?;
        match &self.body {
            EfBody::Linear(recs) => recs.get(idx).map(|r| r.bytes.as_slice()),
            EfBody::Cyclic { records, .. } => records.get(idx).map(Vec::as_slice),
            EfBody::Transparent(_) => None,
        }
    }

    /// 1-based number of the first linear record whose tag is `tag`.
    pub fn record_number_by_tag(&self, tag: u8) -> Option<u8> {
        match &self.body {
            EfBody::Linear(recs) => {
                let idx = recs.iter().position(|r| r.bytes.first() == Some(&tag))?;
                u8::try_from(idx + 1).ok()
            }
            _ => None,
        }
    }

    /// The value of the first linear record tagged `tag`.
    pub fn value_by_tag(&self, tag: u8) -> Option<&[u8]> {
        let n = self.record_number_by_tag(tag)?;
        self.record(n).and_then(|r| r.get(2..))
    }

    /// Whether this EF holds records (READ/UPDATE RECORD apply).
    pub fn is_record_ef(&self) -> bool {
        !matches!(self.body, EfBody::Transparent(_))
    }
}

/// What a SELECT by FID found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    /// A DF, by arena index.
    Df(usize),
    /// An EF: (DF index, EF index in that DF).
    Ef(usize, usize),
}

/// All DFs of a card; index 0 is the MF.
#[derive(Debug, Clone)]
pub(crate) struct FileSystem {
    pub dfs: Vec<Df>,
}

impl FileSystem {
    /// The DF at `idx`. Indices come from this arena, so they are always valid; a
    /// bad one would be a bug, answered by the MF rather than a panic.
    pub fn df(&self, idx: usize) -> &Df {
        self.dfs.get(idx).unwrap_or(&self.dfs[0])
    }

    /// Mutable DF at `idx` (see [`FileSystem::df`]).
    pub fn df_mut(&mut self, idx: usize) -> Option<&mut Df> {
        self.dfs.get_mut(idx)
    }

    /// The EF at (`df`, `ef`).
    pub fn ef(&self, at: (usize, usize)) -> Option<&Ef> {
        self.dfs.get(at.0)?.efs.get(at.1)
    }

    /// Mutable EF at (`df`, `ef`).
    pub fn ef_mut(&mut self, at: (usize, usize)) -> Option<&mut Ef> {
        self.dfs.get_mut(at.0)?.efs.get_mut(at.1)
    }

    /// SELECT by FID from `cur`: the MF; a child DF or EF of `cur`; `cur` itself; a
    /// sibling DF; the parent DF.
    pub fn find_fid(&self, cur: usize, fid: u16) -> Option<Found> {
        if fid == MF_FID {
            return Some(Found::Df(0));
        }
        let here = self.df(cur);
        if let Some(i) = here.efs.iter().position(|e| e.fid == Some(fid)) {
            return Some(Found::Ef(cur, i));
        }
        if let Some(&d) = here.children.iter().find(|&&d| self.df(d).fid == Some(fid)) {
            return Some(Found::Df(d));
        }
        if here.fid == Some(fid) {
            return Some(Found::Df(cur));
        }
        let parent = here.parent?;
        if let Some(&d) = self
            .df(parent)
            .children
            .iter()
            .find(|&&d| self.df(d).fid == Some(fid))
        {
            return Some(Found::Df(d));
        }
        (self.df(parent).fid == Some(fid)).then_some(Found::Df(parent))
    }

    /// SELECT by FID of an EF in the current DF only (P1 = `02`).
    pub fn find_ef_fid(&self, cur: usize, fid: u16) -> Option<(usize, usize)> {
        let i = self.df(cur).efs.iter().position(|e| e.fid == Some(fid))?;
        Some((cur, i))
    }

    /// SELECT by DF name (AID), anywhere on the card; exact match.
    pub fn find_aid(&self, aid: &[u8]) -> Option<usize> {
        self.dfs.iter().position(|d| d.aid.as_deref() == Some(aid))
    }

    /// An EF by SFI as seen from `cur`: its own EFs first, then `shared` EFs of the
    /// DFs above it.
    pub fn find_sfi(&self, cur: usize, sfi: u8) -> Option<(usize, usize)> {
        if let Some(i) = self.df(cur).efs.iter().position(|e| e.sfi == Some(sfi)) {
            return Some((cur, i));
        }
        let mut up = self.df(cur).parent;
        let mut guard = 0;
        while let Some(d) = up {
            if let Some(i) = self
                .df(d)
                .efs
                .iter()
                .position(|e| e.sfi == Some(sfi) && e.shared)
            {
                return Some((d, i));
            }
            up = self.df(d).parent;
            guard += 1;
            if guard > self.dfs.len() {
                break;
            }
        }
        None
    }

    /// `cur` and its ancestors up to the MF, nearest first (PIN lookup).
    pub fn path_up(&self, cur: usize) -> Vec<usize> {
        let mut out = vec![cur];
        let mut up = self.df(cur).parent;
        while let Some(d) = up {
            if out.contains(&d) {
                break;
            }
            out.push(d);
            up = self.df(d).parent;
        }
        out
    }
}
