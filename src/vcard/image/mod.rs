//! Card images: the JSON files a virtual card is loaded from and saved back to.
//!
//! Why JSON with hex strings: an image is read and edited by people (technicians
//! preparing a test card, reviewers checking the reference data of spec/cards.md §7),
//! and it is written back by the card after every persistent change. Every byte-like
//! value is a hex string (`"3F00"`, `"0C"`), so ids read exactly as in the spec, and
//! a record may be written as ASCII when it is text. The format is documented in
//! `cards/README.md`.
//!
//! Two layers: the serde types here are a faithful picture of the file
//! (`deny_unknown_fields`, so a typo is an error, not a silently ignored field), and
//! `build` turns them into the engine's file system, checking everything the serde
//! layer cannot (lengths, duplicates, references) and naming the offending field.
//! `unbuild` goes back, keeping unchanged records exactly as they were written.
//!
//! Saving is atomic (temporary file, fsync, rename, fsync of the directory): a power
//! cut or a kill leaves the old image or the new one, never a mix, which is how the
//! virtual card models "updates are atomic per record".

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::fs::{Df, Ef, EfBody, FileSystem, Record, MF_FID};
use super::security::{valid_pin_digits, Access, CardKey, MasterKey, Pin, PinRefusal};
use super::VcardError;
use crate::crypto::{Algorithm, SecretKey};

mod from_fs;
mod text;
mod to_fs;

pub(crate) use from_fs::unbuild;
pub use text::{AccessText, HexByte, HexBytes, HexU16, InsList, KeyHex, PinText};
pub(crate) use to_fs::{build, ImageFault};

/// The image format version this code reads and writes.
pub const FORMAT: u32 = 1;

/// Deepest DF nesting accepted (the profiles use 3 levels).
const MAX_DEPTH: usize = 8;

/// The largest image file read (16 MiB; real images are a few KiB).
pub const MAX_IMAGE_BYTES: u64 = 16 << 20;

/// A whole card image.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardImage {
    /// Format version; must be [`FORMAT`].
    pub format: u32,
    /// Free text for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Answer to reset, returned on every get-ATR.
    pub atr: HexBytes,
    /// Algorithm id of the card keys: `01` 3DES, `03` SM4.
    pub alg: HexByte,
    /// Instruction bytes the card supports (`"A4 B2 C0"`); absent = every command of
    /// the engine. Others answer `6D00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ins: Option<InsList>,
    /// The master file and everything below it.
    pub mf: DfImage,
}

/// A DF (or the MF).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfImage {
    /// Short label, used in error messages and by people (`SSSE`, `DF04`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// File identifier (4 hex digits); the MF's is `3F00`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<HexU16>,
    /// DF name / application identifier, up to 16 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aid: Option<HexBytes>,
    /// Proprietary FCI template: when present, SELECT by AID answers `61 xx` and GET
    /// RESPONSE gives `6F L 84 l <AID> <fci>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fci: Option<HexBytes>,
    /// Card keys of this DF (diversified keys K).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<KeyImage>,
    /// PSAM master keys of this DF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub master_keys: Vec<MasterKeyImage>,
    /// PINs of this DF (found from this DF and every DF below it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pins: Vec<PinImage>,
    /// EFs of this DF.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub efs: Vec<EfImage>,
    /// DFs below this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dfs: Vec<DfImage>,
}

/// A card key with its try counter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyImage {
    /// Key id (`01`, `06`, `0A`, `0C`).
    pub id: HexByte,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The diversified key K, 32 hex digits.
    pub key: KeyHex,
    /// Tries left; 0 = blocked.
    pub tries: u8,
    /// Tries after a success (1..=15).
    pub max_tries: u8,
}

/// A PSAM master key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MasterKeyImage {
    /// Application: `01` SSC keys, `02` CITY keys.
    pub app: HexByte,
    /// Key id within the application.
    pub id: HexByte,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Master key M, 32 hex digits.
    pub key: KeyHex,
}

/// A PIN.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinImage {
    /// PIN reference (P2 of VERIFY), normally `00`.
    pub id: HexByte,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The PIN digits (4 to 12).
    pub pin: PinText,
    /// Tries left; 0 = blocked.
    pub tries: u8,
    /// Tries after a success or a reload (1..=15).
    pub max_tries: u8,
    /// Who may RELOAD PIN: `"never"` (default), `"key:06"`, ...
    #[serde(default = "never", skip_serializing_if = "is_never")]
    pub reload: AccessText,
    /// A data rule that makes VERIFY answer a fixed status word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refuse_verify: Option<RefusalImage>,
}

/// "Refuse VERIFY with `sw` while record `tag` of EF `sfi` holds one of `values`."
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefusalImage {
    /// SFI of a linear EF in the PIN's DF.
    pub sfi: HexByte,
    /// Tag of the record to look at.
    pub tag: HexByte,
    /// Values (the record's value bytes) that trigger the refusal.
    pub values: Vec<HexBytes>,
    /// Status word answered, e.g. `6985`.
    pub sw: HexU16,
}

/// File structure of an EF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Structure {
    /// Linear records, each a TLV.
    Linear,
    /// Cyclic fixed-size records, newest first.
    Cyclic,
    /// Transparent (binary) file.
    Transparent,
}

/// An EF.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EfImage {
    /// Short label (`EF05`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// File identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fid: Option<HexU16>,
    /// Short file identifier, `01`..`1E`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sfi: Option<HexByte>,
    /// Also reachable by SFI from DFs below this EF's DF.
    #[serde(default, skip_serializing_if = "is_false")]
    pub shared: bool,
    /// Structure.
    pub structure: Structure,
    /// Read rule (default `"always"`).
    #[serde(default = "always")]
    pub read: AccessText,
    /// Write rule (default `"never"`).
    #[serde(default = "never")]
    pub write: AccessText,
    /// Cyclic EFs: bytes per record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_size: Option<usize>,
    /// Cyclic EFs: number of records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_count: Option<usize>,
    /// Linear and cyclic EFs: the records, record 1 first. A cyclic EF may list fewer
    /// than `record_count`: the rest are all `00`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RecordImage>,
    /// Transparent EFs: the contents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<HexBytes>,
}

/// One record. Either raw bytes (`hex` alone) or a TLV built from `tag` and a value
/// given as `ascii` or `hex`, optionally padded with `pad` (default `00`) to `len`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordImage {
    /// TLV tag; absent = `hex` is the whole record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<HexByte>,
    /// What the field is (kept when the value changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Value as ASCII text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ascii: Option<String>,
    /// Value (or whole record without `tag`) as hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hex: Option<HexBytes>,
    /// Value length to pad to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub len: Option<usize>,
    /// Pad byte (default `00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<HexByte>,
}

impl RecordImage {
    /// The record bytes this entry stands for.
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        let Some(HexByte(tag)) = self.tag else {
            if self.ascii.is_some() || self.len.is_some() || self.pad.is_some() {
                return Err("`ascii`, `len` and `pad` need a `tag`".into());
            }
            return match &self.hex {
                Some(h) => Ok(h.0.clone()),
                None => Err("a record needs `hex`, or `tag` with `ascii` or `hex`".into()),
            };
        };
        let mut value = match (&self.ascii, &self.hex) {
            (Some(a), None) => {
                if !a.is_ascii() {
                    return Err("`ascii` holds non-ASCII text; write GBK text as `hex`".into());
                }
                a.as_bytes().to_vec()
            }
            (None, Some(h)) => h.0.clone(),
            _ => return Err("a tagged record needs exactly one of `ascii` and `hex`".into()),
        };
        match (self.len, self.pad) {
            (Some(len), _) if len > 253 => {
                return Err(format!(
                    "`len` {len} is more than a record value holds (253)"
                ));
            }
            (Some(len), pad) => {
                if value.len() > len {
                    return Err(format!(
                        "value of {} bytes is longer than `len` {len}",
                        value.len()
                    ));
                }
                value.resize(len, pad.map_or(0x00, |p| p.0));
            }
            (None, Some(_)) => return Err("`pad` needs `len`".into()),
            (None, None) => {}
        }
        let len = u8::try_from(value.len())
            .ok()
            .filter(|l| *l <= 253)
            .ok_or_else(|| format!("value of {} bytes is too long for a record", value.len()))?;
        let mut out = Vec::with_capacity(value.len() + 2);
        out.push(tag);
        out.push(len);
        out.extend_from_slice(&value);
        Ok(out)
    }

    /// The entry to save for a record whose bytes changed: tag and value, as ASCII if
    /// the old entry was ASCII and the new value is printable, else hex; the note
    /// (which describes the field) is kept.
    fn for_changed(bytes: &[u8], old: Option<&RecordImage>) -> RecordImage {
        let note = old.and_then(|o| o.note.clone());
        match bytes {
            [tag, _len, value @ ..] if old.is_some_and(|o| o.tag.is_some()) => {
                let as_ascii = old.is_some_and(|o| o.ascii.is_some())
                    && value.iter().all(|b| (0x20..0x7F).contains(b));
                RecordImage {
                    tag: Some(HexByte(*tag)),
                    note,
                    ascii: as_ascii.then(|| String::from_utf8_lossy(value).into_owned()),
                    hex: (!as_ascii).then(|| HexBytes(value.to_vec())),
                    len: None,
                    pad: None,
                }
            }
            _ => RecordImage {
                note,
                hex: Some(HexBytes(bytes.to_vec())),
                ..RecordImage::default()
            },
        }
    }
}

fn always() -> AccessText {
    AccessText(Access::Always)
}
fn never() -> AccessText {
    AccessText(Access::Never)
}
fn is_never(a: &AccessText) -> bool {
    a.0 == Access::Never
}
fn is_false(b: &bool) -> bool {
    !*b
}

impl CardImage {
    /// Reads and parses an image file (no semantic checks: see
    /// [`super::Card::from_image`]).
    pub fn load(path: &Path) -> Result<CardImage, VcardError> {
        use std::io::Read;
        let read_err = |source| VcardError::ReadImage {
            file: path.to_path_buf(),
            source,
        };
        // Bounded read: an image is a few KiB; a huge file is refused, not loaded.
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|f| f.take(MAX_IMAGE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(read_err)?;
        if bytes.len() as u64 > MAX_IMAGE_BYTES {
            return Err(read_err(std::io::Error::other(format!(
                "larger than {MAX_IMAGE_BYTES} bytes"
            ))));
        }
        serde_json::from_slice(&bytes).map_err(|source| VcardError::ParseImage {
            file: path.to_path_buf(),
            source,
        })
    }

    /// The image as the pretty JSON text written to files (with a final newline).
    pub fn to_json(&self) -> String {
        // Serializing these types cannot fail: all maps have string keys.
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Writes the image atomically: a temporary file in the same directory (with the
    /// old file's permissions, else owner-only since images hold keys), fsync,
    /// rename over `path`, fsync of the directory.
    pub fn save(&self, path: &Path) -> Result<(), VcardError> {
        let err = |source| VcardError::SaveImage {
            file: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into());
        let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            match fs::metadata(path) {
                Ok(meta) => f.set_permissions(meta.permissions())?,
                Err(_) => set_owner_only(&f)?,
            }
            f.write_all(self.to_json().as_bytes())?;
            f.sync_all()?;
            drop(f);
            fs::rename(&tmp, path)?;
            if let Ok(d) = fs::File::open(&dir) {
                // Directory fsync makes the rename durable; not all systems allow it.
                let _ = d.sync_all();
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(err)
    }
}

#[cfg(unix)]
fn set_owner_only(f: &fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_owner_only(_f: &fs::File) -> std::io::Result<()> {
    Ok(())
}
