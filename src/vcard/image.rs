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
//! [`build`] turns them into the engine's file system, checking everything the serde
//! layer cannot (lengths, duplicates, references) and naming the offending field.
//! [`unbuild`] goes back, keeping unchanged records exactly as they were written.
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
use super::security::{
    parse_hex_byte, valid_pin_digits, Access, CardKey, MasterKey, Pin, PinRefusal,
};
use super::VcardError;
use crate::crypto::{Algorithm, SecretKey};

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

/// Bytes written as a hex string (spaces allowed on input, upper case on output).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexBytes(pub Vec<u8>);

impl TryFrom<String> for HexBytes {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        crate::apdu::hex_input::decode(&s)
            .map(HexBytes)
            .map_err(|e| format!("expected hex bytes, got {s:?}: {e}"))
    }
}

impl From<HexBytes> for String {
    fn from(h: HexBytes) -> String {
        hex::encode_upper(h.0)
    }
}

impl std::fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", hex::encode_upper(&self.0))
    }
}

/// One byte written as two hex digits (`"0C"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexByte(pub u8);

impl TryFrom<String> for HexByte {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_hex_byte(&s)
            .map(HexByte)
            .ok_or_else(|| format!("expected one byte as 2 hex digits, got {s:?}"))
    }
}

impl From<HexByte> for String {
    fn from(h: HexByte) -> String {
        format!("{:02X}", h.0)
    }
}

/// A list of instruction bytes written as space-separated hex (`"A4 B2 C0"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InsList(pub Vec<u8>);

impl TryFrom<String> for InsList {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.split_whitespace()
            .map(parse_hex_byte)
            .collect::<Option<Vec<u8>>>()
            .map(InsList)
            .ok_or_else(|| format!("expected instruction bytes like \"A4 B2 C0\", got {s:?}"))
    }
}

impl From<InsList> for String {
    fn from(l: InsList) -> String {
        l.0.iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Two bytes written as four hex digits (`"3F00"`, `"6985"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HexU16(pub u16);

impl TryFrom<String> for HexU16 {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let t = s.trim();
        if t.len() != 4 {
            return Err(format!("expected 4 hex digits, got {s:?}"));
        }
        u16::from_str_radix(t, 16)
            .map(HexU16)
            .map_err(|_| format!("expected 4 hex digits, got {s:?}"))
    }
}

impl From<HexU16> for String {
    fn from(h: HexU16) -> String {
        format!("{:04X}", h.0)
    }
}

/// A 16-byte key as 32 hex digits. Errors never repeat the text (it may be a key).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct KeyHex(pub SecretKey);

impl TryFrom<String> for KeyHex {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = Zeroizing::new(s);
        SecretKey::from_hex(&s)
            .map(KeyHex)
            .ok_or_else(|| "expected a 16-byte key as 32 hex digits".to_string())
    }
}

impl From<KeyHex> for String {
    fn from(k: KeyHex) -> String {
        k.0.to_hex()
    }
}

/// PIN digits; zeroized on drop, redacted in `Debug`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PinText(pub Zeroizing<String>);

impl TryFrom<String> for PinText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let s = Zeroizing::new(s);
        if valid_pin_digits(&s) {
            Ok(PinText(s))
        } else {
            Err("expected a PIN of 4 to 12 decimal digits".to_string())
        }
    }
}

impl From<PinText> for String {
    fn from(p: PinText) -> String {
        p.0.as_str().to_owned()
    }
}

impl std::fmt::Debug for PinText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinText(REDACTED)")
    }
}

/// An access rule in its image form (`"always"`, `"never"`, `"key:0C"`, `"pin:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccessText(pub Access);

impl TryFrom<String> for AccessText {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Access::parse(&s).map(AccessText).ok_or_else(|| {
            format!("expected \"always\", \"never\", \"key:KK\" or \"pin:PP\", got {s:?}")
        })
    }
}

impl From<AccessText> for String {
    fn from(a: AccessText) -> String {
        a.0.to_string()
    }
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

/// A problem in an image: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageFault {
    pub field: String,
    pub reason: String,
}

fn fault(field: impl Into<String>, reason: impl Into<String>) -> ImageFault {
    ImageFault {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The checked, engine-ready form of an image.
pub(crate) struct Built {
    pub fs: FileSystem,
    pub alg: Algorithm,
    pub atr: Vec<u8>,
    pub ins: Option<Vec<u8>>,
}

/// Checks an image and builds the engine's file system from it.
pub(crate) fn build(img: &CardImage) -> Result<Built, ImageFault> {
    if img.format != FORMAT {
        return Err(fault(
            "format",
            format!("unsupported format {}, expected {FORMAT}", img.format),
        ));
    }
    if !(2..=33).contains(&img.atr.0.len()) {
        return Err(fault(
            "atr",
            format!("an ATR has 2 to 33 bytes, not {}", img.atr.0.len()),
        ));
    }
    let alg = Algorithm::from_id(img.alg.0).ok_or_else(|| {
        fault(
            "alg",
            format!(
                "unknown algorithm id {:02X} (01 = 3DES, 03 = SM4)",
                img.alg.0
            ),
        )
    })?;
    match img.mf.fid {
        None | Some(HexU16(MF_FID)) => {}
        Some(HexU16(other)) => {
            return Err(fault("mf.fid", format!("the MF is 3F00, not {other:04X}")))
        }
    }
    let mut dfs = Vec::new();
    build_df(&img.mf, None, "mf", 0, &mut dfs)?;
    // DF names are global: SELECT by AID searches the whole card.
    for (i, d) in dfs.iter().enumerate() {
        if let Some(aid) = &d.aid {
            if dfs[..i].iter().any(|o| o.aid.as_ref() == Some(aid)) {
                return Err(fault(
                    format!("DF {}", d.name.as_deref().unwrap_or("?")),
                    format!("AID {} is used twice", hex::encode_upper(aid)),
                ));
            }
        }
    }
    Ok(Built {
        fs: FileSystem { dfs },
        alg,
        atr: img.atr.0.clone(),
        ins: img.ins.as_ref().map(|l| l.0.clone()),
    })
}

fn df_label(img: &DfImage) -> String {
    if let Some(n) = &img.name {
        n.clone()
    } else if let Some(f) = img.fid {
        format!("{:04X}", f.0)
    } else if let Some(a) = &img.aid {
        hex::encode_upper(&a.0)
    } else {
        "?".into()
    }
}

fn ef_label(img: &EfImage, idx: usize) -> String {
    if let Some(n) = &img.name {
        n.clone()
    } else if let Some(f) = img.fid {
        format!("{:04X}", f.0)
    } else {
        format!("efs[{idx}]")
    }
}

fn check_tries(field: &str, tries: u8, max: u8) -> Result<(), ImageFault> {
    if !(1..=15).contains(&max) {
        return Err(fault(format!("{field}.max_tries"), "must be 1 to 15"));
    }
    if tries > max {
        return Err(fault(
            format!("{field}.tries"),
            format!("{tries} is more than max_tries {max}"),
        ));
    }
    Ok(())
}

fn build_df(
    img: &DfImage,
    parent: Option<usize>,
    path: &str,
    depth: usize,
    out: &mut Vec<Df>,
) -> Result<usize, ImageFault> {
    if depth > MAX_DEPTH {
        return Err(fault(path, format!("DFs nested deeper than {MAX_DEPTH}")));
    }
    if let Some(aid) = &img.aid {
        if aid.0.is_empty() || aid.0.len() > 16 {
            return Err(fault(format!("{path}.aid"), "an AID has 1 to 16 bytes"));
        }
    }
    if let Some(fci) = &img.fci {
        if img.aid.is_none() {
            return Err(fault(format!("{path}.fci"), "an FCI needs an `aid`"));
        }
        if fci.0.len() + img.aid.as_ref().map_or(0, |a| a.0.len()) + 2 > 250 {
            return Err(fault(format!("{path}.fci"), "FCI too long"));
        }
    }
    let mut keys = Vec::new();
    for (i, k) in img.keys.iter().enumerate() {
        let field = format!("{path}.keys[{i}]");
        if img.keys[..i].iter().any(|o| o.id == k.id) {
            return Err(fault(field, format!("key id {:02X} is used twice", k.id.0)));
        }
        check_tries(&field, k.tries, k.max_tries)?;
        keys.push(CardKey {
            id: k.id.0,
            key: k.key.0.clone(),
            tries: k.tries,
            max_tries: k.max_tries,
            note: k.note.clone(),
        });
    }
    let mut master_keys = Vec::new();
    for (i, m) in img.master_keys.iter().enumerate() {
        if img.master_keys[..i]
            .iter()
            .any(|o| o.app == m.app && o.id == m.id)
        {
            return Err(fault(
                format!("{path}.master_keys[{i}]"),
                format!("app {:02X} key {:02X} is listed twice", m.app.0, m.id.0),
            ));
        }
        master_keys.push(MasterKey {
            app: m.app.0,
            id: m.id.0,
            key: m.key.0.clone(),
            note: m.note.clone(),
        });
    }
    let mut efs = Vec::new();
    for (i, e) in img.efs.iter().enumerate() {
        let field = format!("{path}/{}", ef_label(e, i));
        if let Some(fid) = e.fid {
            if img.efs[..i].iter().any(|o| o.fid == Some(fid))
                || img.dfs.iter().any(|d| d.fid == Some(fid))
            {
                return Err(fault(
                    format!("{field}.fid"),
                    format!("FID {:04X} is used twice in this DF", fid.0),
                ));
            }
        }
        if let Some(HexByte(sfi)) = e.sfi {
            if !(1..=30).contains(&sfi) {
                return Err(fault(format!("{field}.sfi"), "an SFI is 01 to 1E"));
            }
            if img.efs[..i].iter().any(|o| o.sfi == e.sfi) {
                return Err(fault(
                    format!("{field}.sfi"),
                    format!("SFI {sfi:02X} is used twice in this DF"),
                ));
            }
        }
        efs.push(build_ef(e, &field)?);
    }
    let mut pins = Vec::new();
    for (i, p) in img.pins.iter().enumerate() {
        let field = format!("{path}.pins[{i}]");
        if img.pins[..i].iter().any(|o| o.id == p.id) {
            return Err(fault(field, format!("PIN id {:02X} is used twice", p.id.0)));
        }
        check_tries(&field, p.tries, p.max_tries)?;
        let refuse_verify = match &p.refuse_verify {
            None => None,
            Some(r) => {
                let target = efs.iter().find(|e| e.sfi == Some(r.sfi.0));
                if !matches!(target.map(|e| &e.body), Some(EfBody::Linear(_))) {
                    return Err(fault(
                        format!("{field}.refuse_verify.sfi"),
                        format!("no linear EF with SFI {:02X} in this DF", r.sfi.0),
                    ));
                }
                Some(PinRefusal {
                    sfi: r.sfi.0,
                    tag: r.tag.0,
                    values: r.values.iter().map(|v| v.0.clone()).collect(),
                    sw: r.sw.0,
                })
            }
        };
        pins.push(Pin {
            id: p.id.0,
            digits: p.pin.0.clone(),
            tries: p.tries,
            max_tries: p.max_tries,
            reload: p.reload.0,
            refuse_verify,
            note: p.note.clone(),
        });
    }
    let idx = out.len();
    out.push(Df {
        name: img.name.clone(),
        note: img.note.clone(),
        fid: img.fid.map(|f| f.0),
        aid: img.aid.as_ref().map(|a| a.0.clone()),
        fci: img.fci.as_ref().map(|f| f.0.clone()),
        parent,
        children: Vec::new(),
        efs,
        keys,
        master_keys,
        pins,
    });
    for (i, child) in img.dfs.iter().enumerate() {
        if let Some(fid) = child.fid {
            if fid.0 == MF_FID || img.dfs[..i].iter().any(|o| o.fid == Some(fid)) {
                return Err(fault(
                    format!("{path}/{}.fid", df_label(child)),
                    format!("FID {:04X} is the MF's or used twice in this DF", fid.0),
                ));
            }
        }
        let c = build_df(
            child,
            Some(idx),
            &format!("{path}/{}", df_label(child)),
            depth + 1,
            out,
        )?;
        if let Some(d) = out.get_mut(idx) {
            d.children.push(c);
        }
    }
    Ok(idx)
}

fn build_ef(e: &EfImage, field: &str) -> Result<Ef, ImageFault> {
    let body = match e.structure {
        Structure::Linear => {
            if e.record_size.is_some() || e.record_count.is_some() || e.data.is_some() {
                return Err(fault(
                    field,
                    "a linear EF has `records` only (no record_size, record_count, data)",
                ));
            }
            if e.records.len() > 254 {
                return Err(fault(format!("{field}.records"), "at most 254 records"));
            }
            let mut recs = Vec::new();
            for (i, r) in e.records.iter().enumerate() {
                let rf = format!("{field}.records[{i}]");
                let bytes = r.encode().map_err(|m| fault(&rf, m))?;
                match bytes.as_slice() {
                    [_, len, value @ ..] if usize::from(*len) == value.len() => {}
                    _ => return Err(fault(rf, "a linear record must be one `tag len value` TLV")),
                }
                recs.push(Record {
                    bytes,
                    source: Some(r.clone()),
                });
            }
            EfBody::Linear(recs)
        }
        Structure::Cyclic => {
            if e.data.is_some() {
                return Err(fault(
                    format!("{field}.data"),
                    "a cyclic EF has records, not data",
                ));
            }
            let size = e
                .record_size
                .filter(|s| (1..=255).contains(s))
                .ok_or_else(|| {
                    fault(
                        format!("{field}.record_size"),
                        "a cyclic EF needs record_size 1 to 255",
                    )
                })?;
            let count = e
                .record_count
                .filter(|c| (1..=254).contains(c))
                .ok_or_else(|| {
                    fault(
                        format!("{field}.record_count"),
                        "a cyclic EF needs record_count 1 to 254",
                    )
                })?;
            if e.records.len() > count {
                return Err(fault(
                    format!("{field}.records"),
                    format!("more than record_count {count} records"),
                ));
            }
            let mut records = Vec::with_capacity(count);
            for (i, r) in e.records.iter().enumerate() {
                let rf = format!("{field}.records[{i}]");
                let bytes = r.encode().map_err(|m| fault(&rf, m))?;
                if bytes.len() != size {
                    return Err(fault(
                        rf,
                        format!("{} bytes, record_size is {size}", bytes.len()),
                    ));
                }
                records.push(bytes);
            }
            records.resize(count, vec![0u8; size]);
            EfBody::Cyclic { size, records }
        }
        Structure::Transparent => {
            if e.record_size.is_some() || e.record_count.is_some() || !e.records.is_empty() {
                return Err(fault(field, "a transparent EF has `data` only"));
            }
            let data = e
                .data
                .as_ref()
                .ok_or_else(|| fault(format!("{field}.data"), "a transparent EF needs `data`"))?;
            if data.0.len() > 0x7FFF {
                return Err(fault(format!("{field}.data"), "at most 32767 bytes"));
            }
            EfBody::Transparent(data.0.clone())
        }
    };
    Ok(Ef {
        name: e.name.clone(),
        note: e.note.clone(),
        fid: e.fid.map(|f| f.0),
        sfi: e.sfi.map(|s| s.0),
        shared: e.shared,
        read: e.read.0,
        write: e.write.0,
        body,
    })
}

/// Rebuilds the image of the current card state.
pub(crate) fn unbuild(
    fs: &FileSystem,
    alg: Algorithm,
    atr: &[u8],
    ins: Option<&[u8]>,
    description: Option<String>,
) -> CardImage {
    CardImage {
        format: FORMAT,
        description,
        atr: HexBytes(atr.to_vec()),
        alg: HexByte(alg.id()),
        ins: ins.map(|v| InsList(v.to_vec())),
        mf: unbuild_df(fs, 0, 0),
    }
}

fn unbuild_df(fs: &FileSystem, idx: usize, depth: usize) -> DfImage {
    let d = fs.df(idx);
    DfImage {
        name: d.name.clone(),
        note: d.note.clone(),
        fid: d.fid.map(HexU16),
        aid: d.aid.clone().map(HexBytes),
        fci: d.fci.clone().map(HexBytes),
        keys: d
            .keys
            .iter()
            .map(|k| KeyImage {
                id: HexByte(k.id),
                note: k.note.clone(),
                key: KeyHex(k.key.clone()),
                tries: k.tries,
                max_tries: k.max_tries,
            })
            .collect(),
        master_keys: d
            .master_keys
            .iter()
            .map(|m| MasterKeyImage {
                app: HexByte(m.app),
                id: HexByte(m.id),
                note: m.note.clone(),
                key: KeyHex(m.key.clone()),
            })
            .collect(),
        pins: d
            .pins
            .iter()
            .map(|p| PinImage {
                id: HexByte(p.id),
                note: p.note.clone(),
                pin: PinText(p.digits.clone()),
                tries: p.tries,
                max_tries: p.max_tries,
                reload: AccessText(p.reload),
                refuse_verify: p.refuse_verify.as_ref().map(|r| RefusalImage {
                    sfi: HexByte(r.sfi),
                    tag: HexByte(r.tag),
                    values: r.values.iter().cloned().map(HexBytes).collect(),
                    sw: HexU16(r.sw),
                }),
            })
            .collect(),
        efs: d.efs.iter().map(unbuild_ef).collect(),
        dfs: if depth > MAX_DEPTH {
            Vec::new()
        } else {
            d.children
                .iter()
                .map(|&c| unbuild_df(fs, c, depth + 1))
                .collect()
        },
    }
}

fn unbuild_ef(e: &Ef) -> EfImage {
    let mut img = EfImage {
        name: e.name.clone(),
        note: e.note.clone(),
        fid: e.fid.map(HexU16),
        sfi: e.sfi.map(HexByte),
        shared: e.shared,
        structure: Structure::Linear,
        read: AccessText(e.read),
        write: AccessText(e.write),
        record_size: None,
        record_count: None,
        records: Vec::new(),
        data: None,
    };
    match &e.body {
        EfBody::Linear(recs) => {
            img.records = recs
                .iter()
                .map(|r| match &r.source {
                    Some(src) if src.encode().as_deref() == Ok(r.bytes.as_slice()) => src.clone(),
                    src => RecordImage::for_changed(&r.bytes, src.as_ref()),
                })
                .collect();
        }
        EfBody::Cyclic { size, records } => {
            img.structure = Structure::Cyclic;
            img.record_size = Some(*size);
            img.record_count = Some(records.len());
            // Trailing all-zero records are implied by record_count.
            let used = records
                .iter()
                .rposition(|r| r.iter().any(|b| *b != 0))
                .map_or(0, |p| p + 1);
            img.records = records[..used]
                .iter()
                .map(|r| RecordImage {
                    hex: Some(HexBytes(r.clone())),
                    ..RecordImage::default()
                })
                .collect();
        }
        EfBody::Transparent(data) => {
            img.structure = Structure::Transparent;
            img.data = Some(HexBytes(data.clone()));
        }
    }
    img
}
