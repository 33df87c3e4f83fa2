//! What sits between vpcd and the card engine, for tests of terminals: a strict class
//! check, scripted answers, and a log of what the card received.
//!
//! Why: a terminal's T=0 layer issues commands the caller never wrote (GET RESPONSE
//! after `61xx`, the resend after `6Cxx`), and a real card relates them to the command
//! they answer through the class byte (ISO/IEC 7816-4 §5.4.1). The reference images
//! only speak classes `00`/`80` on channel 0, so a terminal that always fetched with
//! `00 C0` passed every test and failed on a card in class `C0` (issue 11 §2). And to
//! prove that two tools send the same APDUs for one script (sscard and scriptor,
//! issue 11 §3) the card itself must say what it received.
//!
//! - **Strict class** (`sscard vcard --strict-class`): every structured class is
//!   accepted for every instruction (any logical channel 0–19, any secure messaging
//!   indication, the proprietary classes laid out like them: `80`–`BF`, `C0`–`FE`);
//!   the engine sees the class it knows (`80` for the proprietary instructions, `00`
//!   otherwise). Channels are not separate sessions here: one card state serves all.
//!   Reserved classes (`2X`, `3X`) and `FF` get `6E00`. The check that matters: after
//!   `61xx`, a GET RESPONSE must come in the class of the command it answers with b5
//!   cleared, and after `6Cxx` a command with the same INS P1 P2 (the resend) in the
//!   same class; otherwise `6E00`, the card's state unchanged.
//! - **Scripted answers** (`--answer CMD=RESP`): a command equal to `CMD` is answered
//!   `RESP` without reaching the engine, e.g. `C0A4000002EF05=6114` and
//!   `C0C0000014=<20 bytes>9000` reproduce a card answering a SELECT with `61 14`.
//!   The strict class check runs first, so a wrongly classed GET RESPONSE still gets
//!   `6E00`.
//! - **APDU log** (`--apdu-log FILE`): one line per event, appended: `> ` and the
//!   command, `< ` and the answer, `reset` for a warm reset. Secret bytes are written
//!   as `..` by the same rule as sscard's trace ([`crate::apdu::redact`]); the file is
//!   created readable by its owner only.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::engine::PROPRIETARY_INS;
use super::Card;
use crate::apdu::class::{reply_class, Class, ClassKind};
use crate::apdu::redact::{self, Redactor};

/// `6E00`: class not supported.
const CLA_NOT_SUPPORTED: [u8; 2] = [0x6E, 0x00];

/// One scripted answer: the exact command and the answer (data and status word).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptedAnswer {
    /// The command, byte for byte.
    pub command: Vec<u8>,
    /// The answer, status word included (at least 2 bytes).
    pub answer: Vec<u8>,
}

impl std::str::FromStr for ScriptedAnswer {
    type Err = String;

    /// Parses `CMD=RESP`, both hex (spaces allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (c, r) = s
            .split_once('=')
            .ok_or_else(|| format!("'{s}': expected CMD=RESP in hex"))?;
        let hex = |t: &str, what: &str| {
            hex::decode(t.replace(' ', ""))
                .map_err(|e| format!("'{s}': bad hex in the {what}: {e}"))
        };
        let command = hex(c, "command")?;
        let answer = hex(r, "answer")?;
        if command.len() < 4 {
            return Err(format!("'{s}': a command has at least 4 bytes"));
        }
        if answer.len() < 2 {
            return Err(format!("'{s}': an answer has at least the 2 status bytes"));
        }
        Ok(ScriptedAnswer { command, answer })
    }
}

/// The front of a card: strict class check, scripted answers, APDU log.
#[derive(Debug, Default)]
pub struct Front {
    strict_class: bool,
    answers: Vec<ScriptedAnswer>,
    log: Option<File>,
    redactor: Redactor,
    /// After `61xx`: the class a GET RESPONSE must have.
    reply_cla: Option<u8>,
    /// After `6Cxx`: the header (CLA INS P1 P2) the resend must repeat.
    resend: Option<[u8; 4]>,
}

impl Front {
    /// A front with the given rules; `log` opens (appending, mode 0600) the APDU log.
    ///
    /// # Errors
    /// The log file cannot be opened.
    pub fn new(
        strict_class: bool,
        answers: Vec<ScriptedAnswer>,
        log: Option<&Path>,
    ) -> std::io::Result<Front> {
        let log = match log {
            Some(p) => Some(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Front {
            strict_class,
            answers,
            log,
            ..Front::default()
        })
    }

    /// Whether the front changes nothing (no rule, no log).
    pub fn is_transparent(&self) -> bool {
        !self.strict_class && self.answers.is_empty() && self.log.is_none()
    }

    /// Forgets what a GET RESPONSE or a resend must look like (power off, reset,
    /// removal); logs a warm reset.
    pub fn reset(&mut self, warm: bool) {
        self.reply_cla = None;
        self.resend = None;
        self.redactor = Redactor::default();
        if warm {
            self.write("reset");
        }
    }

    /// Answers `apdu`: by the class rule, a scripted answer or the engine.
    pub fn process(&mut self, card: &mut Card, apdu: &[u8]) -> Vec<u8> {
        let secrets = self.redactor.classify(apdu);
        if self.log.is_some() {
            self.write(&format!("> {}", redact::command_hex(apdu, secrets)));
        }
        let answer = self.answer(card, apdu);
        self.redactor.observe(secrets, &answer);
        if self.log.is_some() {
            self.write(&format!("< {}", redact::response_hex(&answer, secrets)));
        }
        answer
    }

    fn answer(&mut self, card: &mut Card, apdu: &[u8]) -> Vec<u8> {
        let [cla, ins, p1, p2, ..] = *apdu else {
            return card.process(apdu);
        };
        if self.strict_class {
            if let Some(sw) = self.class_refusal([cla, ins, p1, p2]) {
                return sw.to_vec();
            }
        }
        let answer = match self.answers.iter().find(|a| a.command == apdu) {
            Some(a) => a.answer.clone(),
            None if self.strict_class => {
                let mut own = apdu.to_vec();
                own[0] = if PROPRIETARY_INS.contains(&ins) {
                    0x80
                } else {
                    0x00
                };
                card.process(&own)
            }
            None => card.process(apdu),
        };
        if self.strict_class {
            self.observe([cla, ins, p1, p2], &answer);
        }
        answer
    }

    /// `Some(6E00)` when the class breaks the rules of the module documentation.
    fn class_refusal(&self, header: [u8; 4]) -> Option<[u8; 2]> {
        let [cla, ins, ..] = header;
        if matches!(
            Class::decode(cla).kind,
            ClassKind::Reserved | ClassKind::Invalid
        ) {
            return Some(CLA_NOT_SUPPORTED);
        }
        if ins == 0xC0 {
            if let Some(want) = self.reply_cla {
                if cla != want {
                    log::info!(
                        "vcard: GET RESPONSE in class {cla:02X}, the command's is {want:02X}: 6E00"
                    );
                    return Some(CLA_NOT_SUPPORTED);
                }
            }
        }
        if let Some(prev) = self.resend {
            if prev[1..] == header[1..] && prev[0] != cla {
                log::info!(
                    "vcard: resend in class {cla:02X}, the command's is {:02X}: 6E00",
                    prev[0]
                );
                return Some(CLA_NOT_SUPPORTED);
            }
        }
        None
    }

    fn observe(&mut self, header: [u8; 4], answer: &[u8]) {
        let sw1 = answer.len().checked_sub(2).map(|i| answer[i]);
        let is_get_response = header[1] == 0xC0;
        match sw1 {
            Some(0x61) => {
                self.reply_cla = Some(reply_class(header[0]));
                self.resend = None;
            }
            Some(0x6C) if is_get_response => {}
            Some(0x6C) => {
                self.reply_cla = None;
                self.resend = Some(header);
            }
            _ => {
                self.reply_cla = None;
                self.resend = None;
            }
        }
    }

    /// Best effort, like the count file: the log is a test aid, never a reason to
    /// stop the card.
    fn write(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            if let Err(e) = writeln!(f, "{line}") {
                log::warn!("vcard: cannot write the APDU log: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    fn card() -> Card {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("cards/ssc-2.00.json");
        let mut c = Card::load(&path).unwrap();
        c.power_on();
        c
    }

    const SELECT_SSSE: &str = "A4 04 00 0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF";

    #[test]
    fn get_response_must_keep_the_class() {
        let mut c = card();
        let mut f = Front::new(true, Vec::new(), None).unwrap();
        for cla in [0x00u8, 0x01, 0x0B, 0x1D, 0x40, 0x5F, 0x6A, 0x84, 0xC0, 0xE7] {
            let mut sel = vec![cla];
            sel.extend(h(SELECT_SSSE));
            assert_eq!(f.process(&mut c, &sel), h("611E"), "CLA {cla:02X}");
            // Class 00 (or any other) is refused unless it is the command's.
            let other = if reply_class(cla) == 0x00 { 0x01 } else { 0x00 };
            assert_eq!(f.process(&mut c, &[other, 0xC0, 0, 0, 0x1E]), h("6E00"));
            let r = f.process(&mut c, &[reply_class(cla), 0xC0, 0, 0, 0x1E]);
            assert_eq!(&r[r.len() - 2..], &[0x90, 0x00], "CLA {cla:02X}");
            assert_eq!(r.len(), 0x1E + 2);
        }
        assert_eq!(f.process(&mut c, &h("25A4000002 3F00")), h("6E00"));
        assert_eq!(f.process(&mut c, &h("FFA4000002 3F00")), h("6E00"));
    }

    #[test]
    fn resend_must_keep_the_class() {
        let mut c = card();
        let mut f = Front::new(true, Vec::new(), None).unwrap();
        // EF05 of the SSSE by SFI: record 7 (card number, 11 bytes).
        let mut sel = vec![0x00];
        sel.extend(h(SELECT_SSSE));
        f.process(&mut c, &sel);
        f.process(&mut c, &h("00C000001E"));
        assert_eq!(f.process(&mut c, &h("C2B2072C05")), h("6C0B"));
        assert_eq!(f.process(&mut c, &h("00B2072C0B")), h("6E00"));
        let r = f.process(&mut c, &h("C2B2072C0B"));
        assert_eq!(&r[r.len() - 2..], &[0x90, 0x00]);
    }

    #[test]
    fn scripted_answers_and_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("apdus.log");
        let answers = vec![
            "C0A4000002EF05=6114".parse().unwrap(),
            "C0C0000014=000102030405060708090A0B0C0D0E0F101112139000"
                .parse()
                .unwrap(),
        ];
        let mut c = card();
        let mut f = Front::new(true, answers, Some(&log)).unwrap();
        assert_eq!(f.process(&mut c, &h("C0A4000002EF05")), h("6114"));
        assert_eq!(f.process(&mut c, &h("00C0000014")), h("6E00"));
        assert_eq!(f.process(&mut c, &h("C0C0000014")).len(), 22);
        f.reset(true);
        f.process(&mut c, &h("0020000003123456"));
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "> C0 A4 00 00 02 EF 05",
                "< 61 14",
                "> 00 C0 00 00 14",
                "< 6E 00",
                "> C0 C0 00 00 14",
                "< 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10 11 12 13 90 00",
                "reset",
                "> 00 20 00 00 03 .. .. ..",
                "< 90 00",
            ]
        );
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the log is private: {mode:o}");
        assert!("C0A4=6114".parse::<ScriptedAnswer>().is_err());
        assert!("C0A40000=61".parse::<ScriptedAnswer>().is_err());
        assert!("C0A40000".parse::<ScriptedAnswer>().is_err());
        assert!("C0A40000=zz".parse::<ScriptedAnswer>().is_err());
    }
}
