//! The profile types: a faithful picture of a profile file, plus accessors by role.
//!
//! Byte values are hex strings in the file (`"0C"`, `"EF05"`, `"D15600000503"`) so
//! they read exactly as in the card specification. Unknown keys are refused
//! (`deny_unknown_fields`): a typo in a profile must be an error, not a silently
//! ignored setting that makes the reader look in the wrong place.
//! Consistency checks that serde cannot express live in [`super::load`].

use super::codec::{self, Value};
use super::error::{FieldError, ProfileError};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// The profile format version this code reads.
pub const FORMAT: u32 = 1;

/// What kind of card a profile describes; decides which roles it must provide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Kind {
    /// Social security card.
    Ssc,
    /// Old city medical insurance card.
    City,
    /// Terminal secure access module.
    Psam,
}

impl Kind {
    /// Lower-case name (`ssc`, `city`, `psam`).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A whole card profile.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Must be [`FORMAT`].
    pub format: u32,
    /// Unique name (`ssc`, `city-reference`).
    pub name: String,
    /// Card kind.
    pub kind: Kind,
    /// Human title.
    pub title: String,
    /// Where the layout comes from (a spec section, a city's documentation).
    #[serde(default)]
    pub source: Option<String>,
    /// ATR prefixes (hex) that make this profile the first one tried at detection. A
    /// hint only: the SELECT of [`Profile::detect_df`] decides.
    #[serde(default, deserialize_with = "de_hex_list")]
    pub atr_prefixes: Vec<Vec<u8>>,
    /// Which key family the SAM uses for this card (`ssc` or `city`).
    #[serde(default)]
    pub key_app: Option<crate::sam::KeyApp>,
    /// Fixed algorithm id (`01` 3DES, `03` SM4) when neither the FCI nor the
    /// generation says.
    #[serde(default, deserialize_with = "de_opt_hex_byte")]
    pub alg: Option<u8>,
    /// The DF whose SELECT proves the card is of this profile.
    pub detect_df: String,
    /// DFs, parents before children.
    pub dfs: Vec<DfSpec>,
    /// EFs.
    pub files: Vec<FileSpec>,
    /// Card keys by role.
    #[serde(default)]
    pub keys: Vec<KeySpec>,
    /// Where the key diversification bytes D come from.
    #[serde(default)]
    pub diversifier: Option<DiversifierSpec>,
    /// The role holding the generation (spec version), when the layout varies by it.
    #[serde(default)]
    pub generation_role: Option<String>,
    /// Known generations.
    #[serde(default)]
    pub generations: Vec<Generation>,
    /// Fields, in reading order.
    pub fields: Vec<Field>,
}

/// How a DF is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SelectBy {
    /// By AID (`00 A4 04 00`), from anywhere on the card.
    #[default]
    Aid,
    /// By FID (`00 A4 00 00`), relative to the current DF (its parent must be
    /// current): one APDU where the AID form may answer `61xx` and cost two.
    Fid,
}

/// A DF (application or sub-directory).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DfSpec {
    /// Id used by files and keys.
    pub id: String,
    /// Human label.
    #[serde(default)]
    pub label: Option<String>,
    /// Parent DF id (none = below the MF).
    #[serde(default)]
    pub parent: Option<String>,
    /// Application identifier.
    #[serde(default, deserialize_with = "de_opt_hex")]
    pub aid: Option<Vec<u8>>,
    /// File identifier.
    #[serde(default, deserialize_with = "de_opt_hex_u16")]
    pub fid: Option<u16>,
    /// Which form of SELECT to use.
    #[serde(default)]
    pub select: SelectBy,
    /// Path of tags (hex) in the FCI to the algorithm id byte. A primitive object on
    /// the path is parsed again as BER-TLV (the SSC's `9F0C` holds `86 01 <alg>`).
    #[serde(default, deserialize_with = "de_tag_path")]
    pub alg_in_fci: Vec<u32>,
}

impl DfSpec {
    /// The label, or the id.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

/// EF structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Structure {
    /// Linear records, each one `tag len value` TLV.
    Linear,
    /// Cyclic fixed-size records.
    Cyclic,
    /// Transparent (READ BINARY).
    Transparent,
}

/// How records of a linear EF are addressed when reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadBy {
    /// By tag (P2 bits 3..1 = 000): independent of record numbers.
    #[default]
    Tag,
    /// By record number of the card's generation.
    Number,
}

/// An EF.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    /// Id used by fields.
    pub id: String,
    /// Human label.
    #[serde(default)]
    pub label: Option<String>,
    /// The DF holding it.
    pub df: String,
    /// Short file identifier (preferred: no SELECT needed).
    #[serde(default, deserialize_with = "de_opt_hex_byte")]
    pub sfi: Option<u8>,
    /// File identifier (SELECT EF when there is no SFI).
    #[serde(default, deserialize_with = "de_opt_hex_u16")]
    pub fid: Option<u16>,
    /// Structure.
    pub structure: Structure,
    /// Linear EFs: how records are addressed.
    #[serde(default)]
    pub read_by: ReadBy,
    /// Role of the key needed to write (EXTERNAL AUTHENTICATE in [`FileSpec::df`]).
    #[serde(default)]
    pub write_key: Option<String>,
    /// Cyclic EFs: bytes per record.
    #[serde(default)]
    pub record_size: Option<usize>,
    /// Cyclic EFs: number of records.
    #[serde(default)]
    pub record_count: Option<usize>,
}

impl FileSpec {
    /// The label, or the id.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.id)
    }
}

/// A card key by role.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    /// Role (`internal_auth`, `pin_reload`, `holder_read`, `write`).
    pub role: String,
    /// Key id (P2 of EXTERNAL/INTERNAL AUTHENTICATE).
    #[serde(deserialize_with = "de_hex_byte")]
    pub id: u8,
    /// The DF that must be current when the key is used.
    pub df: String,
    /// Human label.
    #[serde(default)]
    pub label: Option<String>,
}

/// Which bytes of a field are the diversification data D.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiversifierSpec {
    /// The field's role.
    pub role: String,
    /// `last8`: the last 8 bytes of the raw value.
    pub bytes: DiversifierBytes,
}

/// Which 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiversifierBytes {
    /// The last 8 bytes of the raw value.
    Last8,
    /// The first 8 bytes of the raw value.
    First8,
}

/// One generation of a layout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// The generation field's value (`2.00`).
    pub version: String,
    /// Algorithm id of its keys.
    #[serde(default, deserialize_with = "de_opt_hex_byte")]
    pub alg: Option<u8>,
    /// Files readable only after EXTERNAL AUTHENTICATE: file id → key role.
    #[serde(default)]
    pub read_keys: BTreeMap<String, String>,
}

/// Value encodings of fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Raw bytes, shown in hex.
    Binary,
    /// Printable ASCII; trailing `00`/`20`/`FF` trimmed.
    Ascii,
    /// ASCII where printable, else the bytes in hex (values whose set is not public).
    AsciiOrHex,
    /// GBK text; trailing `00`/`20`/`FF` trimmed.
    Gbk,
    /// BCD digits; trailing `F` nibbles are padding.
    Bcd,
    /// BCD `YYYYMMDD` in 4 bytes; all `00` = no date.
    BcdDate,
    /// Unsigned big-endian integer of up to 4 bytes.
    U32be,
    /// One byte, a code with meanings in [`Field::values`].
    Code,
}

impl Encoding {
    /// The name used in profile files.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Binary => "binary",
            Encoding::Ascii => "ascii",
            Encoding::AsciiOrHex => "ascii_or_hex",
            Encoding::Gbk => "gbk",
            Encoding::Bcd => "bcd",
            Encoding::BcdDate => "bcd_date",
            Encoding::U32be => "u32be",
            Encoding::Code => "code",
        }
    }
}

/// The meaning of one code value.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeValue {
    /// The raw value bytes, hex (`01`; `31` for ASCII `1`).
    #[serde(deserialize_with = "de_hex")]
    pub code: Vec<u8>,
    /// Symbolic name the code may use (`migrating`).
    pub name: String,
    /// Text for people.
    pub text: String,
}

/// A field of a card.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// Role: what the code calls it.
    pub role: String,
    /// Human label.
    pub label: String,
    /// The file holding it.
    pub file: String,
    /// Tag of its record (linear EFs).
    #[serde(default, deserialize_with = "de_opt_hex_byte")]
    pub tag: Option<u8>,
    /// Offset (transparent EFs).
    #[serde(default)]
    pub offset: Option<u16>,
    /// Value length in bytes (exact).
    pub len: usize,
    /// Encoding.
    pub encoding: Encoding,
    /// Pad byte used when encoding text shorter than `len` (default `00`; `F` nibbles
    /// for BCD).
    #[serde(default, deserialize_with = "de_opt_hex_byte")]
    pub pad: Option<u8>,
    /// Record number in every generation (when not given per generation).
    #[serde(default)]
    pub record: Option<u8>,
    /// Record number per generation; a generation not listed does not have the field.
    #[serde(default)]
    pub records: Option<BTreeMap<String, u8>>,
    /// A card may lack the record (`6A83`) without being broken.
    #[serde(default)]
    pub optional: bool,
    /// Code meanings.
    #[serde(default)]
    pub values: Vec<CodeValue>,
}

impl Field {
    /// The label, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether the field exists in `generation` (always, for profiles without
    /// generations or when `generation` is unknown).
    pub fn in_generation(&self, generation: Option<&str>) -> bool {
        match (&self.records, generation) {
            (Some(map), Some(g)) => map.contains_key(g),
            _ => true,
        }
    }

    /// The record number in `generation`, if known.
    pub fn record_number(&self, generation: Option<&str>) -> Option<u8> {
        match (&self.records, generation) {
            (Some(map), Some(g)) => map.get(g).copied(),
            _ => self.record,
        }
    }

    /// Where the field is, for messages: `tag 07` or `offset 0`.
    pub fn where_text(&self) -> String {
        match (self.tag, self.offset) {
            (Some(t), _) => format!("tag {t:02X}"),
            (None, Some(o)) => format!("offset {o}"),
            (None, None) => "?".into(),
        }
    }

    pub(crate) fn error(&self, reason: impl Into<String>) -> FieldError {
        FieldError {
            label: self.label.clone(),
            tag: self.where_text(),
            reason: reason.into(),
        }
    }

    /// Decodes a value of exactly [`Field::len`] bytes.
    pub fn decode(&self, value: &[u8]) -> Result<Value, FieldError> {
        codec::decode(self, value)
    }

    /// Decodes a whole record `tag len value` read from the card: checks the TLV
    /// framing, the tag and the length against the profile.
    pub fn decode_record(&self, record: &[u8]) -> Result<Value, FieldError> {
        let value = self.record_value(record)?;
        self.decode(value)
    }

    /// The value bytes of a whole record, after the same checks as
    /// [`Field::decode_record`].
    pub fn record_value<'r>(&self, record: &'r [u8]) -> Result<&'r [u8], FieldError> {
        let parsed =
            crate::apdu::tlv::parse_record(record).map_err(|e| self.error(e.to_string()))?;
        if Some(parsed.tag) != self.tag {
            return Err(self.error(format!(
                "the card returned a record with tag {:02X}",
                parsed.tag
            )));
        }
        if parsed.value.len() != self.len {
            return Err(self.error(format!(
                "the record holds {} bytes; the profile says {}",
                parsed.value.len(),
                self.len
            )));
        }
        // parse_record checked that the value is exactly the bytes after the header.
        Ok(record.get(2..).unwrap_or_default())
    }

    /// The whole record `tag len value` for UPDATE RECORD, with the value checked
    /// against the encoding and padded to [`Field::len`].
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, FieldError> {
        let tag = self
            .tag
            .ok_or_else(|| self.error("the field is not in a record (no tag)"))?;
        let bytes = codec::encode(self, value)?;
        crate::apdu::tlv::encode_record(tag, &bytes).map_err(|e| self.error(e.to_string()))
    }

    /// The meaning of raw value bytes, from [`Field::values`].
    pub fn meaning(&self, raw: &[u8]) -> Option<&CodeValue> {
        self.values.iter().find(|v| v.code == raw)
    }

    /// The one-byte code with symbolic name `name` (`"migrating"` → `01`).
    pub fn code(&self, name: &str) -> Result<u8, FieldError> {
        match self.values.iter().find(|v| v.name == name) {
            Some(CodeValue { code, .. }) if code.len() == 1 => Ok(code[0]),
            Some(_) => Err(self.error(format!("code '{name}' is not one byte"))),
            None => Err(self.error(format!("the profile defines no code '{name}'"))),
        }
    }

    /// The symbolic name of a one-byte code (`01` → `"migrating"`).
    pub fn code_name(&self, code: u8) -> Option<&str> {
        self.meaning(&[code]).map(|v| v.name.as_str())
    }
}

impl Profile {
    fn missing(&self, what: &'static str, name: &str) -> ProfileError {
        ProfileError::Missing {
            profile: self.name.clone(),
            what,
            name: name.to_string(),
        }
    }

    /// The field with this role.
    pub fn field(&self, role: &str) -> Result<&Field, ProfileError> {
        self.fields
            .iter()
            .find(|f| f.role == role)
            .ok_or_else(|| self.missing("field", role))
    }

    /// Whether a field with this role exists.
    pub fn has_field(&self, role: &str) -> bool {
        self.fields.iter().any(|f| f.role == role)
    }

    /// The file with this id.
    pub fn file(&self, id: &str) -> Result<&FileSpec, ProfileError> {
        self.files
            .iter()
            .find(|f| f.id == id)
            .ok_or_else(|| self.missing("file", id))
    }

    /// The file holding the field with this role.
    pub fn file_of(&self, role: &str) -> Result<&FileSpec, ProfileError> {
        self.file(&self.field(role)?.file)
    }

    /// The DF with this id.
    pub fn df(&self, id: &str) -> Result<&DfSpec, ProfileError> {
        self.dfs
            .iter()
            .find(|d| d.id == id)
            .ok_or_else(|| self.missing("DF", id))
    }

    /// The DF selected to detect the card (and read first).
    pub fn detect_df(&self) -> Result<&DfSpec, ProfileError> {
        self.df(&self.detect_df)
    }

    /// The key with this role.
    pub fn key(&self, role: &str) -> Result<&KeySpec, ProfileError> {
        self.keys
            .iter()
            .find(|k| k.role == role)
            .ok_or_else(|| self.missing("key", role))
    }

    /// The fields of one file, in profile order.
    pub fn fields_of<'a>(&'a self, file: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.file == file)
    }

    /// The generation entry for a version string.
    pub fn generation(&self, version: &str) -> Option<&Generation> {
        self.generations.iter().find(|g| g.version == version)
    }

    /// The key role needed to read `file` in `generation`, if any.
    pub fn read_key(&self, file: &str, generation: Option<&str>) -> Option<&KeySpec> {
        let g = self.generation(generation?)?;
        let role = g.read_keys.get(file)?;
        self.keys.iter().find(|k| &k.role == role)
    }

    /// The SAM key family of this card.
    pub fn key_app(&self) -> Option<crate::sam::KeyApp> {
        self.key_app
    }

    /// The DF ids from the top down to `df` (its ancestors first).
    pub fn df_path(&self, df: &str) -> Result<Vec<&DfSpec>, ProfileError> {
        let mut path = Vec::new();
        let mut cur = Some(df.to_string());
        while let Some(id) = cur {
            let d = self.df(&id)?;
            if path.len() > self.dfs.len() {
                return Err(ProfileError::Invalid {
                    profile: self.name.clone(),
                    path: format!("dfs.{id}.parent"),
                    reason: "parents form a loop".into(),
                });
            }
            path.push(d);
            cur = d.parent.clone();
        }
        path.reverse();
        Ok(path)
    }
}

// ---- hex for serde: the `hex` crate's `FromHex`, wrapped for the shapes used ----
//
// The hex crate's `FromHex` (what its `hex::serde` is built on) decodes `Vec<u8>`
// and `[u8; N]`, so the width is checked by the type. These wrappers give it the
// shapes the profile uses (optional, lists, one byte, a big-endian u16) and, unlike
// `hex::serde::deserialize`, name the expected width and the text in the error, so a
// bad profile says which value is wrong (serde_json adds the line and column).

/// `T` from hex, with the expected width and the text in the error.
fn from_hex<T: hex::FromHex, E: serde::de::Error>(text: &str, width: &str) -> Result<T, E>
where
    T::Error: std::fmt::Display,
{
    T::from_hex(text).map_err(|e| E::custom(format!("expected {width} in hex, got {text:?}: {e}")))
}

fn de_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    from_hex(&String::deserialize(d)?, "bytes")
}

fn de_opt_hex<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| from_hex(&s, "bytes"))
        .transpose()
}

fn de_hex_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| from_hex(s, "bytes"))
        .collect()
}

fn de_hex_byte<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    from_hex::<[u8; 1], _>(&String::deserialize(d)?, "one byte (2 digits)").map(|[b]| b)
}

fn de_opt_hex_byte<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| from_hex::<[u8; 1], _>(&s, "one byte (2 digits)").map(|[b]| b))
        .transpose()
}

fn de_opt_hex_u16<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|s| from_hex::<[u8; 2], _>(&s, "two bytes (4 digits)").map(u16::from_be_bytes))
        .transpose()
}

fn de_tag_path<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            let b: Vec<u8> = from_hex(s, "a tag")?;
            if b.is_empty() || b.len() > 3 {
                return Err(serde::de::Error::custom(format!(
                    "a tag is 1 to 3 bytes, got {s:?}"
                )));
            }
            Ok(b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)))
        })
        .collect()
}
