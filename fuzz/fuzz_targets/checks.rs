//! Invariants of the fuzz targets `response`, `command`, `vpcd` and `profile`, shared
//! with the stable-toolchain corpus test (`tests/fuzz_corpus.rs` includes this file by
//! path), so CI checks every kept corpus input against exactly what libFuzzer checks.
//!
//! Each function takes arbitrary bytes and panics only when an invariant breaks: a
//! panic anywhere below is a bug in sscard, which is the point. The `atr` and `tlv`
//! targets keep their invariants in the main crate (`sscard::apdu::{atr,tlv}::
//! fuzz_check`); these live here because their subjects span several modules.
#![allow(dead_code)]

use sscard::apdu::command::Command;
use sscard::apdu::redact::{self, Redactor};
use sscard::apdu::response::Response;
use sscard::apdu::status::Status;
use sscard::apdu::t0::{T0Layer, MAX_GET_RESPONSE_ROUNDS};
use sscard::apdu::{Channel, Transport, TransportError};
use sscard::vcard::capdu;
use sscard::vcard::malice::{Malice, Mode, Reply};
use sscard::vcard::timing::Timing;
use sscard::vcard::vpcd::{encode_frame, read_frame_from};
use sscard::vcard::{Card, CardImage};
use std::io::Cursor;
use std::sync::OnceLock;

/// A card that answers with the length-prefixed chunks of the fuzz input, one per
/// command (`n` then `n` bytes), and is "removed" when they run out.
struct Scripted<'a> {
    data: &'a [u8],
    calls: usize,
}

impl Transport for Scripted<'_> {
    fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.calls += 1;
        let (&n, rest) = self.data.split_first().ok_or(TransportError::CardRemoved)?;
        let n = usize::from(n).min(rest.len());
        let (answer, rest) = rest.split_at(n);
        self.data = rest;
        Ok(answer.to_vec())
    }
}

/// The most transmissions the T=0 layer may make for one command: the command, one
/// `6Cxx` resend, and per GET RESPONSE round the GET RESPONSE and its own resend.
const MAX_T0_CALLS: usize = 2 + 2 * (MAX_GET_RESPONSE_ROUNDS + 1);

/// Response APDUs, status words, and the T=0 layer and channel fed hostile answers.
///
/// - `Response::parse` accepts exactly the inputs of 2 bytes or more, and
///   `to_bytes` gives them back; the status word round-trips through [`Status`].
/// - The T=0 layer (`61xx` GET RESPONSE loop, `6Cxx` resend) and the whole
///   [`Channel`] stack (with its redacting trace), answered by a card that says
///   whatever the input says, stop within a fixed number of exchanges and return
///   either an error or a response with a status word.
/// - Redacted output of a secret response shows no data byte.
pub fn response(data: &[u8]) {
    match Response::parse(data) {
        Ok(r) => {
            assert!(data.len() >= 2);
            assert_eq!(r.to_bytes(), data);
            let sw = u16::from_be_bytes([data[data.len() - 2], data[data.len() - 1]]);
            assert_eq!(r.sw(), sw);
            assert_eq!(Status::from(sw).code(), sw);
            assert!(!r.status.meaning().is_empty());
            let _ = format!("{} {:?}", r.status, r);
        }
        Err(e) => {
            assert!(data.len() < 2);
            assert_eq!(e.0, data.len());
        }
    }
    let secret = redact::Secrets {
        command_data: false,
        response_data: true,
    };
    let shown = redact::response_hex(data, secret);
    if data.len() > 2 {
        let n = data.len() - 2;
        assert_eq!(shown.matches("..").count(), n, "{shown}");
    }

    for command in [
        &[0x00, 0xB2, 0x07, 0x2C, 0x00][..],
        &[0x00, 0xA4, 0x04, 0x00, 0x02, 0xDF, 0x04],
    ] {
        let mut t0 = T0Layer::new(Scripted { data, calls: 0 });
        let result = t0.transmit(command);
        assert!(
            t0.inner.calls <= MAX_T0_CALLS,
            "{} exchanges",
            t0.inner.calls
        );
        if let Ok(r) = result {
            assert!(r.len() >= 2);
        }
        let mut card = Scripted { data, calls: 0 };
        let mut channel = Channel::new(Box::new(&mut card));
        if let Ok(r) = channel.send_bytes(command) {
            let _ = r.to_bytes();
        }
        assert!(channel.apdu_count() <= MAX_T0_CALLS as u64);
        drop(channel);
        assert!(card.calls <= MAX_T0_CALLS);
    }
}

/// Command APDUs, on both sides of the link.
///
/// - `Command::parse` (terminal side) is canonical: what it accepts encodes, and the
///   encoding parses back to the same command.
/// - The card's parser (`vcard::capdu`) accepts only short APDUs, and whatever it
///   accepts the terminal's parser reads the same way (no command means one thing to
///   the card and another to the trace).
/// - Redaction hides every data byte of a secret command; the timing model counts
///   at least the status word.
pub fn command(data: &[u8]) {
    let parsed = Command::parse(data);
    if let Ok(cmd) = &parsed {
        let bytes = cmd.to_bytes().expect("a parsed command encodes");
        assert_eq!(&Command::parse(&bytes).expect("its encoding parses"), cmd);
        let _ = format!("{cmd:?} {:?}", cmd.case());
    }
    if let Ok(c) = capdu::Command::parse(data) {
        assert!(c.data.len() <= 255);
        let t = parsed
            .as_ref()
            .expect("the terminal parses what the card parses");
        assert_eq!((t.cla, t.ins, t.p1, t.p2), (c.cla, c.ins, c.p1, c.p2));
        assert_eq!(t.data, c.data);
        let le = c.le.map(|l| if l == 0 { 256 } else { usize::from(l) });
        assert_eq!(t.le, le);
    }
    let mut redactor = Redactor::default();
    let secrets = redactor.classify(data);
    let shown = redact::command_hex(data, secrets);
    if secrets.command_data && data.len() > 5 {
        assert_eq!(shown.matches("..").count(), data.len() - 5, "{shown}");
    }
    redactor.observe(secrets, data);
    assert!(Timing::wire_bytes(data, &[0x90, 0x00]) >= 2);
    let _ = Timing::REAL_CARD.cost(data, data, true);
}

fn image() -> &'static CardImage {
    static IMAGE: OnceLock<CardImage> = OnceLock::new();
    IMAGE.get_or_init(|| {
        serde_json::from_str(include_str!("../../cards/ssc-2.00.json"))
            .expect("cards/ssc-2.00.json parses")
    })
}

/// The vpcd link as the card sees it: the input is the byte stream vpcd sends.
///
/// - Frames are read until the stream ends or breaks, each no longer than its
///   16-bit length allows; reading never panics and always makes progress.
/// - Every frame goes to a real card (the reference SSC 2.00 image) the way the
///   connector dispatches it: 1 byte = control, longer = C-APDU. Every APDU answer
///   holds a status word and survives `encode_frame` → `read_frame_from` unchanged.
/// - The malicious card (mode chosen by the first byte) never sends an empty frame.
pub fn vpcd(data: &[u8]) {
    let mut card = match Card::from_image(image().clone()) {
        Ok(c) => c,
        Err(e) => panic!("reference image: {e}"),
    };
    let mode = Mode::ALL[usize::from(data.first().copied().unwrap_or(0)) % Mode::ALL.len()];
    let mut malice = Malice::new(mode);
    let mut stream = Cursor::new(data);
    let mut frames = 0usize;
    loop {
        let before = stream.position();
        let frame = match read_frame_from(&mut stream, |_| {}) {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => break,
        };
        let used = stream.position() - before;
        assert_eq!(
            used,
            frame.len() as u64 + 2,
            "a frame is its length and its body"
        );
        frames += 1;
        assert!(frames <= data.len() / 2 + 1);
        match frame.as_slice() {
            [] => {}
            [0x00] => card.power_off(),
            [0x01] => card.power_on(),
            [0x02] => card.reset(),
            [0x04] => {
                let _ = malice.atr(card.atr());
            }
            [_] => {}
            apdu => {
                let answer = card.process(apdu);
                assert!(answer.len() >= 2, "an answer carries a status word");
                let _ = card.take_changed();
                let encoded = encode_frame(&answer).expect("answers fit a frame");
                let back = read_frame_from(&mut Cursor::new(&encoded), |_| {})
                    .expect("an encoded frame reads")
                    .expect("an encoded frame is not the end");
                assert_eq!(back, answer);
                if let Reply::Send(bytes) = malice.reply(apdu, answer) {
                    assert!(!bytes.is_empty(), "never an empty frame");
                    assert!(bytes.len() <= usize::from(u16::MAX));
                }
            }
        }
    }
}

/// Profile decoding of card records: every field of every built-in profile decodes
/// any record without panicking, and a decoded value that encodes decodes back to
/// itself (what `info` shows is what an update would write).
pub fn profile(data: &[u8]) {
    static PROFILES: OnceLock<sscard::profile::Profiles> = OnceLock::new();
    let profiles = PROFILES
        .get_or_init(|| sscard::profile::Profiles::builtin().expect("the built-in profiles load"));
    for p in profiles.iter() {
        for field in &p.fields {
            let _ = field.decode(data);
            let Ok(value) = field.decode_record(data) else {
                continue;
            };
            let Ok(record) = field.encode(&value) else {
                continue;
            };
            let again = field
                .decode_record(&record)
                .expect("an encoded record decodes");
            assert_eq!(
                again,
                value,
                "field {} of profile {}",
                field.label(),
                p.name
            );
        }
    }
}
