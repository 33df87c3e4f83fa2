//! Image to card: builds the virtual card's file system ([`FileSystem`]) from a
//! [`CardImage`], checking every field (depth, FIDs, tries, record sizes) and naming the
//! field at fault.
//!
//! Why apart: the checks on a hand-edited image are most of the code; loading and
//! saving the JSON stay in the parent.

use super::*;

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
