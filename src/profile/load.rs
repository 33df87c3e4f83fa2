//! The built-in profiles, loading a profile file, and checking a profile.
//!
//! The built-in profiles are the files in `profiles/`, compiled in with
//! `include_str!` so the binary needs no data directory; a test keeps them valid. A
//! profile given with `--profile FILE` goes through exactly the same checks and is
//! tried before the built-in ones, so a city whose card shares an ATR with the
//! reference card still gets its own layout.

use super::error::ProfileError;
use super::model::{Encoding, Kind, Profile, ReadBy, SelectBy, Structure, FORMAT};
use super::roles;
use std::collections::BTreeSet;
use std::path::Path;

/// The built-in profile files: (file name, contents).
pub const BUILTIN: &[(&str, &str)] = &[
    ("ssc.json", include_str!("../../profiles/ssc.json")),
    (
        "city-reference.json",
        include_str!("../../profiles/city-reference.json"),
    ),
    ("psam.json", include_str!("../../profiles/psam.json")),
];

/// A set of profiles, in the order they are tried.
#[derive(Debug, Clone)]
pub struct Profiles {
    list: Vec<Profile>,
}

impl Profiles {
    /// The built-in profiles (SSC, reference CITY, PSAM).
    pub fn builtin() -> Result<Profiles, ProfileError> {
        let list = BUILTIN
            .iter()
            .map(|(name, text)| parse(&format!("built-in {name}"), text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Profiles { list })
    }

    /// Loads a profile file and puts it first (replacing a profile of the same name).
    pub fn add_file(&mut self, path: &Path) -> Result<&Profile, ProfileError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            file: file.clone(),
            source,
        })?;
        let p = parse(&file, &text)?;
        Ok(self.add(p))
    }

    /// Adds a checked profile first (replacing one of the same name).
    pub fn add(&mut self, profile: Profile) -> &Profile {
        self.list.retain(|p| p.name != profile.name);
        self.list.insert(0, profile);
        &self.list[0]
    }

    /// The profile with this name.
    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.list.iter().find(|p| p.name == name)
    }

    /// The first profile of a kind.
    pub fn first_of(&self, kind: Kind) -> Option<&Profile> {
        self.list.iter().find(|p| p.kind == kind)
    }

    /// All profiles in order.
    pub fn iter(&self) -> impl Iterator<Item = &Profile> {
        self.list.iter()
    }

    /// The profiles in detection order for a card with this ATR: those with the
    /// longest matching ATR prefix first, then the rest, each group in list order.
    pub fn detection_order(&self, atr: Option<&[u8]>) -> Vec<&Profile> {
        let score = |p: &Profile| -> usize {
            let atr = atr.unwrap_or_default();
            p.atr_prefixes
                .iter()
                .filter(|pre| atr.starts_with(pre))
                .map(Vec::len)
                .max()
                .unwrap_or(0)
        };
        let mut v: Vec<(usize, usize, &Profile)> = self
            .list
            .iter()
            .enumerate()
            .map(|(i, p)| (score(p), i, p))
            .collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        v.into_iter().map(|(_, _, p)| p).collect()
    }
}

/// Parses and checks one profile.
pub fn parse(file: &str, text: &str) -> Result<Profile, ProfileError> {
    let p: Profile = serde_json::from_str(text).map_err(|source| ProfileError::Parse {
        file: file.to_string(),
        source,
    })?;
    check(&p)?;
    Ok(p)
}

fn unique<'a>(
    p: &Profile,
    what: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), ProfileError> {
    let mut seen = BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(invalid(p, what, format!("'{id}' is defined twice")));
        }
    }
    Ok(())
}

fn invalid(p: &Profile, path: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::Invalid {
        profile: p.name.clone(),
        path: path.into(),
        reason: reason.into(),
    }
}

fn check_alg(p: &Profile, path: &str, alg: Option<u8>) -> Result<(), ProfileError> {
    match alg {
        Some(a) if crate::crypto::Algorithm::from_id(a).is_none() => Err(invalid(
            p,
            path,
            format!("unknown algorithm id {a:02X} (01 = 3DES, 03 = SM4)"),
        )),
        _ => Ok(()),
    }
}

/// Checks everything serde cannot: references, lengths, and the roles of the kind.
pub fn check(p: &Profile) -> Result<(), ProfileError> {
    if p.format != FORMAT {
        return Err(invalid(
            p,
            "format",
            format!("unsupported format {}, expected {FORMAT}", p.format),
        ));
    }
    if p.name.trim().is_empty() {
        return Err(invalid(p, "name", "empty"));
    }
    check_alg(p, "alg", p.alg)?;
    unique(p, "dfs", p.dfs.iter().map(|d| d.id.as_str()))?;
    for (i, d) in p.dfs.iter().enumerate() {
        let path = format!("dfs[{i}] ({})", d.id);
        if let Some(parent) = &d.parent {
            if !p.dfs[..i].iter().any(|o| &o.id == parent) {
                return Err(invalid(
                    p,
                    path,
                    format!("parent '{parent}' must be a DF listed before it"),
                ));
            }
        }
        if let Some(aid) = &d.aid {
            if aid.is_empty() || aid.len() > 16 {
                return Err(invalid(p, path, "an AID has 1 to 16 bytes"));
            }
        }
        match d.select {
            SelectBy::Aid if d.aid.is_none() => {
                return Err(invalid(p, path, "select by aid needs an `aid`"))
            }
            SelectBy::Fid if d.fid.is_none() => {
                return Err(invalid(p, path, "select by fid needs a `fid`"))
            }
            _ => {}
        }
    }
    let det = p
        .df(&p.detect_df)
        .map_err(|_| invalid(p, "detect_df", format!("no DF '{}'", p.detect_df)))?;
    if det.select == SelectBy::Fid && det.parent.is_some() {
        return Err(invalid(
            p,
            "detect_df",
            "the detection DF must be selectable from anywhere (by AID, or by FID below the MF)",
        ));
    }
    unique(p, "files", p.files.iter().map(|f| f.id.as_str()))?;
    unique(p, "keys", p.keys.iter().map(|k| k.role.as_str()))?;
    for (i, k) in p.keys.iter().enumerate() {
        if p.df(&k.df).is_err() {
            return Err(invalid(
                p,
                format!("keys[{i}].df"),
                format!("no DF '{}'", k.df),
            ));
        }
    }
    for (i, f) in p.files.iter().enumerate() {
        let path = format!("files[{i}] ({})", f.id);
        if p.df(&f.df).is_err() {
            return Err(invalid(p, path, format!("no DF '{}'", f.df)));
        }
        if let Some(sfi) = f.sfi {
            if !(1..=30).contains(&sfi) {
                return Err(invalid(p, path, "an SFI is 01 to 1E"));
            }
        }
        if f.sfi.is_none() && f.fid.is_none() {
            return Err(invalid(p, path, "a file needs an `sfi` or a `fid`"));
        }
        if let Some(k) = &f.write_key {
            if p.key(k).is_err() {
                return Err(invalid(
                    p,
                    path,
                    format!("write_key '{k}' is not in `keys`"),
                ));
            }
        }
        if f.structure == Structure::Cyclic
            && (!f.record_size.is_some_and(|s| (1..=255).contains(&s))
                || !f.record_count.is_some_and(|c| (1..=254).contains(&c)))
        {
            return Err(invalid(
                p,
                path,
                "a cyclic file needs record_size 1..255 and record_count 1..254",
            ));
        }
    }
    unique(
        p,
        "generations",
        p.generations.iter().map(|g| g.version.as_str()),
    )?;
    for (i, g) in p.generations.iter().enumerate() {
        let path = format!("generations[{i}] ({})", g.version);
        check_alg(p, &path, g.alg)?;
        for (file, key) in &g.read_keys {
            if p.file(file).is_err() {
                return Err(invalid(p, &path, format!("read_keys: no file '{file}'")));
            }
            if p.key(key).is_err() {
                return Err(invalid(p, &path, format!("read_keys: no key '{key}'")));
            }
        }
    }
    match (&p.generation_role, p.generations.is_empty()) {
        (Some(role), _) if !p.has_field(role) => {
            return Err(invalid(p, "generation_role", format!("no field '{role}'")))
        }
        (None, false) => {
            return Err(invalid(
                p,
                "generations",
                "generations need a `generation_role`",
            ))
        }
        (Some(_), true) => return Err(invalid(p, "generation_role", "needs `generations`")),
        _ => {}
    }
    unique(p, "fields", p.fields.iter().map(|f| f.role.as_str()))?;
    for (i, f) in p.fields.iter().enumerate() {
        let path = format!("fields[{i}] ({})", f.role);
        let file = p
            .file(&f.file)
            .map_err(|_| invalid(p, &path, format!("no file '{}'", f.file)))?;
        match file.structure {
            Structure::Linear => {
                match f.tag {
                    None => {
                        return Err(invalid(p, &path, "a field of a linear file needs a `tag`"))
                    }
                    Some(0x00 | 0xFF) => {
                        return Err(invalid(p, &path, "00 and FF are not record tags"))
                    }
                    Some(_) => {}
                }
                if f.offset.is_some() {
                    return Err(invalid(p, &path, "`offset` is for transparent files"));
                }
                if file.read_by == ReadBy::Number && f.record.is_none() && f.records.is_none() {
                    return Err(invalid(
                        p,
                        &path,
                        "the file is read by number: give `record` or `records`",
                    ));
                }
            }
            Structure::Transparent => {
                if f.tag.is_some() || f.offset.is_none() {
                    return Err(invalid(
                        p,
                        &path,
                        "a field of a transparent file needs an `offset` and no `tag`",
                    ));
                }
                if file.sfi.is_some() && f.offset.is_some_and(|o| o > 255) {
                    return Err(invalid(p, &path, "read by SFI, the offset is at most 255"));
                }
            }
            Structure::Cyclic => {
                return Err(invalid(
                    p,
                    &path,
                    "fields of cyclic files are not supported",
                ))
            }
        }
        if !(1..=253).contains(&f.len) {
            return Err(invalid(p, &path, "len must be 1 to 253"));
        }
        let fits = match f.encoding {
            Encoding::BcdDate => f.len == 4,
            Encoding::U32be => f.len <= 4,
            Encoding::Code => f.len == 1,
            _ => true,
        };
        if !fits {
            return Err(invalid(
                p,
                &path,
                format!("len {} does not fit encoding {}", f.len, f.encoding.name()),
            ));
        }
        if let Some(map) = &f.records {
            if let Some(g) = map.keys().find(|g| p.generation(g).is_none()) {
                return Err(invalid(
                    p,
                    &path,
                    format!("records: unknown generation '{g}'"),
                ));
            }
        }
        unique(
            p,
            &format!("{path}.values (names)"),
            f.values.iter().map(|v| v.name.as_str()),
        )?;
        let codes: Vec<String> = f.values.iter().map(|v| hex::encode(&v.code)).collect();
        unique(
            p,
            &format!("{path}.values (codes)"),
            codes.iter().map(String::as_str),
        )?;
    }
    if let Some(d) = &p.diversifier {
        let f = p
            .field(&d.role)
            .map_err(|_| invalid(p, "diversifier.role", format!("no field '{}'", d.role)))?;
        if f.len < 8 {
            return Err(invalid(
                p,
                "diversifier",
                "the field has fewer than 8 bytes",
            ));
        }
    }
    check_roles(p)
}

fn check_roles(p: &Profile) -> Result<(), ProfileError> {
    for spec in roles::roles(p.kind) {
        let Ok(f) = p.field(spec.role) else {
            if spec.required {
                return Err(invalid(
                    p,
                    "fields",
                    format!(
                        "a {} profile needs a field with role '{}'",
                        p.kind.name(),
                        spec.role
                    ),
                ));
            }
            continue;
        };
        if !spec.encodings.contains(&f.encoding) {
            let names: Vec<_> = spec.encodings.iter().map(|e| e.name()).collect();
            return Err(invalid(
                p,
                format!("fields ({})", spec.role),
                format!(
                    "encoding {} is not one of {}",
                    f.encoding.name(),
                    names.join(", ")
                ),
            ));
        }
        if spec.len.is_some_and(|l| l != f.len) {
            return Err(invalid(
                p,
                format!("fields ({})", spec.role),
                format!("len must be {}", spec.len.unwrap_or_default()),
            ));
        }
    }
    for (kind, role, names) in roles::CODE_NAMES {
        if *kind != p.kind {
            continue;
        }
        let f = p.field(role)?;
        for n in *names {
            if f.code(n).is_err() {
                return Err(invalid(
                    p,
                    format!("fields ({role}).values"),
                    format!("needs a code named '{n}'"),
                ));
            }
        }
    }
    if matches!(p.kind, Kind::Ssc | Kind::City) {
        if p.key_app.is_none() {
            return Err(invalid(
                p,
                "key_app",
                "an SSC or CITY profile needs `key_app`",
            ));
        }
        if p.diversifier.is_none() {
            return Err(invalid(
                p,
                "diversifier",
                "an SSC or CITY profile needs `diversifier`",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PSAM: &str = include_str!("../../profiles/psam.json");

    /// The psam profile with one value replaced; panics when `from` is not in it.
    fn psam_with(from: &str, to: &str) -> Result<Profile, ProfileError> {
        assert!(PSAM.contains(from), "{from}");
        parse("psam-test.json", &PSAM.replacen(from, to, 1))
    }

    #[test]
    fn profile_hex_parses_in_either_case() {
        for aid in ["D15600000590", "d15600000590"] {
            let p = psam_with("\"D15600000590\"", &format!("{aid:?}")).unwrap();
            let df = p.df("psam").unwrap();
            assert_eq!(df.aid.as_deref(), Some(&[0xD1, 0x56, 0, 0, 0x05, 0x90][..]));
            assert_eq!(p.file("terminal").unwrap().sfi, Some(0x16));
            assert_eq!(p.atr_prefixes[0][..3], [0x3B, 0x6D, 0x00]);
        }
    }

    #[test]
    fn bad_profile_hex_is_a_clear_error() {
        for (from, to, says) in [
            // Not a hex digit: the text, the character and where.
            (
                "\"D15600000590\"",
                "\"D1560000059G\"",
                "expected bytes in hex, got \"D1560000059G\": Invalid character 'G' at position 11",
            ),
            (
                "\"D15600000590\"",
                "\"D156 0000059\"",
                "Invalid character ' ' at position 4",
            ),
            (
                "\"D15600000590\"",
                "\"D1560000059\"",
                "Odd number of digits",
            ),
            // One byte is two digits, no more, no fewer.
            (
                "\"sfi\": \"16\"",
                "\"sfi\": \"0016\"",
                "expected one byte (2 digits) in hex, got \"0016\": Invalid string length",
            ),
            ("\"sfi\": \"16\"", "\"sfi\": \"6\"", "Odd number of digits"),
            (
                "\"sfi\": \"16\"",
                "\"sfi\": 22",
                "invalid type: integer `22`, expected",
            ),
            (
                "\"3B6D00000081544C0086840807230005C0\"",
                "\"3B6D0X\"",
                "got \"3B6D0X\": Invalid character 'X' at position 5",
            ),
        ] {
            let e = psam_with(from, to).unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
            assert!(e.contains("psam-test.json"), "names the file: {e}");
            assert!(e.contains("line "), "names the line: {e}");
        }
    }

    #[test]
    fn builtin_profiles_are_valid() {
        let p = Profiles::builtin().unwrap();
        let names: Vec<_> = p.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["ssc", "city-reference", "psam"]);
        let ssc = p.get("ssc").unwrap();
        // Record numbers per generation, by tag.
        let ext = ssc.field("name_ext").unwrap();
        assert!(!ext.in_generation(Some("1.00")));
        assert_eq!(ext.record_number(Some("2.00")), Some(3));
        assert_eq!(
            ssc.field("sex").unwrap().record_number(Some("1.00")),
            Some(3)
        );
        assert_eq!(
            ssc.field("sex").unwrap().record_number(Some("3.00")),
            Some(4)
        );
        assert_eq!(ssc.read_key("holder", Some("3.00")).unwrap().id, 0x0A);
        assert!(ssc.read_key("holder", Some("2.00")).is_none());
        assert_eq!(ssc.key("write").unwrap().id, 0x0C);
        assert_eq!(ssc.key("write").unwrap().df, "df04");
        let city = p.get("city-reference").unwrap();
        assert_eq!(city.field("status").unwrap().code("migrating").unwrap(), 1);
        assert_eq!(city.field("status").unwrap().code("migrated").unwrap(), 2);
        assert_eq!(city.file_of("target_card").unwrap().sfi, Some(1));
        assert_eq!(city.field("transfer_counter").unwrap().tag, Some(0x28));
        assert_eq!(ssc.field("transfer_floor").unwrap().len, 14);
    }

    #[test]
    fn detection_order_follows_the_atr() {
        let p = Profiles::builtin().unwrap();
        let names = |atr: &str| -> Vec<String> {
            p.detection_order(Some(&hex::decode(atr).unwrap()))
                .iter()
                .map(|p| p.name.clone())
                .collect()
        };
        assert_eq!(
            names(
                "3B6D000000815 44C968684639948FB4966"
                    .replace(' ', "")
                    .as_str()
            )[0],
            "ssc"
        );
        assert_eq!(names("3B6D00000081544C0086840807230005C0")[0], "psam");
        assert_eq!(names("3B68000059422E4349545931")[0], "city-reference");
        assert_eq!(names("3B00")[0], "ssc");
    }

    fn mutate(f: impl Fn(&mut serde_json::Value)) -> Result<Profile, ProfileError> {
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN[1].1).unwrap();
        f(&mut v);
        parse("test", &v.to_string())
    }

    #[test]
    fn bad_profiles_are_refused_with_the_place() {
        let e = mutate(|v| v["fields"][0]["file"] = "nope".into()).unwrap_err();
        assert!(e.to_string().contains("no file 'nope'"), "{e}");
        let e = mutate(|v| v["fields"][6]["encoding"] = "ascii".into()).unwrap_err();
        assert!(e.to_string().contains("balance"), "{e}");
        let e = mutate(|v| v["fields"][5]["values"][1]["name"] = "frozen".into()).unwrap_err();
        assert!(e.to_string().contains("migrating"), "{e}");
        let e = mutate(|v| v["fields"][0]["tga"] = "07".into()).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let e = mutate(|v| v["fields"][1]["role"] = "card_number".into()).unwrap_err();
        assert!(e.to_string().contains("twice"), "{e}");
        let e = mutate(|v| v["files"][0]["sfi"] = "1F".into()).unwrap_err();
        assert!(e.to_string().contains("SFI"), "{e}");
        let e = mutate(|v| v["alg"] = "02".into()).unwrap_err();
        assert!(e.to_string().contains("algorithm"), "{e}");
        let e = mutate(|v| {
            v["fields"].as_array_mut().unwrap().remove(1);
        })
        .unwrap_err();
        assert!(e.to_string().contains("citizen_id"), "{e}");
    }

    #[test]
    fn another_city_is_a_file_not_code() {
        // A city whose card keeps its data by record number in another DF and SFI.
        let mut v: serde_json::Value = serde_json::from_str(BUILTIN[1].1).unwrap();
        v["name"] = "city-other".into();
        v["dfs"][0]["aid"] = "F04F54484552".into();
        v["files"][0]["sfi"] = "03".into();
        v["files"][0]["read_by"] = "number".into();
        for (i, f) in v["fields"].as_array_mut().unwrap().iter_mut().enumerate() {
            f["record"] = (i + 1).into();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.json");
        std::fs::write(&path, v.to_string()).unwrap();
        let mut p = Profiles::builtin().unwrap();
        p.add_file(&path).unwrap();
        assert_eq!(p.iter().next().unwrap().name, "city-other");
        assert_eq!(
            p.get("city-other")
                .unwrap()
                .field("balance")
                .unwrap()
                .record_number(None),
            Some(7)
        );
    }
}
