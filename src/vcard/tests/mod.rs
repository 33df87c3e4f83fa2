//! Tests of the virtual card against spec/cards.md, using the reference images in
//! `cards/`. They run the card in-process (bytes in, bytes out) and, for the
//! connector, against a fake vpcd on a local socket; no pcscd needed.
//!
//! Set `SSCARD_BLESS_CARDS=1` to rewrite `cards/*.json` in canonical form (the form
//! the card itself saves); the test then checks that nothing else changed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::image::{CardImage, HexByte};
use super::*;
use crate::crypto::{cryptogram, diversify, Algorithm};

mod city;
mod images;
mod psam;
mod robustness;
mod ssc;
mod vpcd;

const SSSE_AID: &str = "7378312E73682EC9E7BBE1B1A3D5CF";
const IMAGES: [&str; 6] = [
    "ssc-1.00.json",
    "ssc-2.00.json",
    "ssc-3.00.json",
    "ssc-3.00-second.json",
    "city.json",
    "psam.json",
];

fn cards_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cards")
}

fn load(name: &str) -> Card {
    let mut c = Card::load(&cards_dir().join(name)).unwrap();
    c.power_on();
    c
}

/// Sends a hex APDU, returns the hex answer (data + SW).
fn x(card: &mut Card, apdu: &str) -> String {
    let bytes = hex::decode(apdu.replace(' ', "")).unwrap();
    hex::encode_upper(card.process(&bytes))
}

/// Sends a hex APDU and returns only the SW.
fn sw(card: &mut Card, apdu: &str) -> String {
    let r = x(card, apdu);
    r[r.len() - 4..].to_string()
}

/// The test master key (app, id) from psam.json.
fn master(app: u8, id: u8) -> [u8; 16] {
    let img = CardImage::load(&cards_dir().join("psam.json")).unwrap();
    let df = &img.mf.dfs[0];
    let m = df
        .master_keys
        .iter()
        .find(|m| m.app == HexByte(app) && m.id == HexByte(id))
        .unwrap();
    *m.key.0.bytes()
}

/// Value of the first record with `tag` in the EF at `path` of an image.
fn image_value(img: &CardImage, dfs: &[usize], ef: usize, tag: u8) -> Vec<u8> {
    let mut df = &img.mf;
    for &i in dfs {
        df = &df.dfs[i];
    }
    df.efs[ef]
        .records
        .iter()
        .find(|r| r.tag == Some(HexByte(tag)))
        .unwrap()
        .encode()
        .unwrap()[2..]
        .to_vec()
}

fn ssc_d(img: &CardImage) -> [u8; 8] {
    let id = image_value(img, &[0], 0, 0x01);
    id[8..16].try_into().unwrap()
}

/// GET CHALLENGE + EXTERNAL AUTHENTICATE with `key`; returns the SW.
fn auth(card: &mut Card, key: &[u8; 16], kid: u8) -> String {
    let r = card.process(&[0x00, 0x84, 0x00, 0x00, 0x08]);
    assert_eq!(&r[8..], &[0x90, 0x00]);
    let ch: [u8; 8] = r[..8].try_into().unwrap();
    let c = cryptogram(card.algorithm(), key, &ch);
    let mut apdu = vec![0x00, 0x82, 0x00, kid, c.len() as u8];
    apdu.extend_from_slice(&c);
    hex::encode_upper(card.process(&apdu))
}

fn ssc_key(name: &str, kid: u8) -> [u8; 16] {
    let img = CardImage::load(&cards_dir().join(name)).unwrap();
    let alg = Algorithm::from_id(img.alg.0).unwrap();
    diversify(alg, &master(0x01, kid), &ssc_d(&img))
}

fn select_ssse(card: &mut Card) {
    assert_eq!(sw(card, &format!("00A404000F{SSSE_AID}")), "611E");
}
