//! Card to image: the current state of the virtual card's file system written back as
//! a [`CardImage`] (after every write the card is saved this way).
//!
//! Why apart: the inverse of [`to_fs`](super::to_fs), kept next to it but out of the
//! parent so each direction reads on its own.

use super::*;

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
