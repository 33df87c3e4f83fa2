//! Which bytes of an exchange are secret: the one rule every trace and transcript uses.
//!
//! Redaction is decided from the command bytes as they go to the card, not by the code
//! that built them, so a PIN typed into `sscard send` or a script is hidden just like
//! one sent by the activation flow. Secret: the data of VERIFY, CHANGE/RESET RETRY
//! COUNTER, the proprietary CHANGE/RELOAD PIN (`80 5E`) and EXTERNAL AUTHENTICATE
//! (PINs and cryptograms); the response of INTERNAL AUTHENTICATE and of the PSAM's DES
//! CRYPT (cryptograms), and of the GET RESPONSE that fetches one of those.
//!
//! The second source is [`KnownSecrets`]: byte strings the command knows to be secret
//! whatever command carries them (a script's var-file PIN put in an UPDATE BINARY, a
//! cryptogram in an odd command). The runner that fills them in registers them; the
//! trace, the transcript and the script's own report all hide every occurrence of
//! them, in commands and responses alike. One byte hidden too many (a one-byte secret
//! hides every equal byte) is the safe side of that trade.

use std::sync::{Arc, Mutex};
use zeroize::Zeroizing;

/// What to hide of one exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Secrets {
    /// Hide the command data (the header and Lc stay visible).
    pub command_data: bool,
    /// Hide the response data (the status word stays visible).
    pub response_data: bool,
}

/// Tracks the one piece of state redaction needs: whether the card still holds a
/// secret response that the next GET RESPONSE fetches.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secret_pending: bool,
    /// INS of the command last classified.
    last_ins: u8,
}

const INS_VERIFY: u8 = 0x20;
const INS_CHANGE_REFERENCE: u8 = 0x24;
const INS_RESET_RETRY: u8 = 0x2C;
const INS_PROPRIETARY_PIN: u8 = 0x5E;
const INS_EXTERNAL_AUTH: u8 = 0x82;
const INS_GENERAL_AUTH: u8 = 0x86;
const INS_INTERNAL_AUTH: u8 = 0x88;
const INS_DES_CRYPT: u8 = 0xFA;
const INS_GET_RESPONSE: u8 = 0xC0;

impl Redactor {
    /// Classifies a command before it is sent.
    pub fn classify(&mut self, command: &[u8]) -> Secrets {
        let ins = command.get(1).copied().unwrap_or(0);
        self.last_ins = ins;
        let command_data = matches!(
            ins,
            INS_VERIFY
                | INS_CHANGE_REFERENCE
                | INS_RESET_RETRY
                | INS_PROPRIETARY_PIN
                | INS_EXTERNAL_AUTH
                | INS_GENERAL_AUTH
        );
        let response_data = match ins {
            INS_INTERNAL_AUTH | INS_DES_CRYPT | INS_GENERAL_AUTH => true,
            INS_GET_RESPONSE => self.secret_pending,
            _ => false,
        };
        Secrets {
            command_data,
            response_data,
        }
    }

    /// Notes the status of the response, so a GET RESPONSE after `61xx` of a secret
    /// response stays secret. A GET RESPONSE of a secret that the card refuses without
    /// handing out the data (`6Cxx` wrong length, `6E00`/`6D00` wrong class, which the
    /// T=0 layer answers with another GET RESPONSE) leaves the data secret too.
    pub fn observe(&mut self, secrets: Secrets, response: &[u8]) {
        let sw1 = response.len().checked_sub(2).map(|i| response[i]);
        let more = sw1 == Some(0x61)
            || (self.last_ins == INS_GET_RESPONSE && matches!(sw1, Some(0x6C..=0x6E)));
        self.secret_pending = secrets.response_data && more;
    }
}

/// Secret byte strings known to one command, shared by every layer that shows or stores
/// bytes (a cheap handle: clones share one set). Values are wiped when the last handle
/// is dropped.
#[derive(Clone, Default)]
pub struct KnownSecrets(Arc<Mutex<Vec<Zeroizing<Vec<u8>>>>>);

impl std::fmt::Debug for KnownSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KnownSecrets({} values, REDACTED)", self.len())
    }
}

impl KnownSecrets {
    /// Adds a secret value (an empty one is ignored; a repeated one is kept once).
    pub fn add(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !v.iter().any(|s| s.as_slice() == bytes) {
            v.push(Zeroizing::new(bytes.to_vec()));
        }
    }

    /// How many values are known.
    pub fn len(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Whether no value is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Which positions of `bytes` lie inside an occurrence of a known secret.
    pub fn mask(&self, bytes: &[u8]) -> Vec<bool> {
        let mut hide = vec![false; bytes.len()];
        let v = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for s in v.iter() {
            let n = s.len();
            if n == 0 || n > bytes.len() {
                continue;
            }
            for start in 0..=bytes.len() - n {
                if bytes[start..start + n] == s[..] {
                    hide[start..start + n].iter_mut().for_each(|h| *h = true);
                }
            }
        }
        hide
    }
}

/// Bytes as spaced hex with the positions `hide` marks written `..`.
pub fn masked_hex(bytes: &[u8], hide: &[bool]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if hide.get(i).copied().unwrap_or(false) {
            out.push_str("..");
        } else {
            out.push_str(&format!("{b:02X}"));
        }
    }
    out
}

/// The positions of a command to hide: its data when the rule says so, and every
/// occurrence of a known secret.
pub fn command_mask(command: &[u8], secrets: Secrets, known: &KnownSecrets) -> Vec<bool> {
    let mut hide = known.mask(command);
    if secrets.command_data && command.len() > 5 {
        hide[5..].iter_mut().for_each(|h| *h = true);
    }
    hide
}

/// The positions of a response to hide: its data when the rule says so, and every
/// occurrence of a known secret in the data (the status word always stays visible).
pub fn response_mask(response: &[u8], secrets: Secrets, known: &KnownSecrets) -> Vec<bool> {
    let n = response.len().saturating_sub(2);
    let mut hide = known.mask(&response[..n]);
    if secrets.response_data {
        hide.iter_mut().for_each(|h| *h = true);
    }
    hide.resize(response.len(), false);
    hide
}

/// [`command_hex`] with the known secrets hidden too.
pub fn command_hex_known(command: &[u8], secrets: Secrets, known: &KnownSecrets) -> String {
    masked_hex(command, &command_mask(command, secrets, known))
}

/// [`response_hex`] with the known secrets hidden too.
pub fn response_hex_known(response: &[u8], secrets: Secrets, known: &KnownSecrets) -> String {
    masked_hex(response, &response_mask(response, secrets, known))
}

/// The command as hex with its data replaced by `..` per byte when secret.
pub fn command_hex(command: &[u8], secrets: Secrets) -> String {
    if !secrets.command_data || command.len() <= 5 {
        return spaced_hex(command);
    }
    let mut out = spaced_hex(&command[..5]);
    for _ in 5..command.len() {
        out.push_str(" ..");
    }
    out
}

/// The response as hex with its data replaced by `..` per byte when secret.
pub fn response_hex(response: &[u8], secrets: Secrets) -> String {
    if !secrets.response_data || response.len() <= 2 {
        return spaced_hex(response);
    }
    let n = response.len() - 2;
    let mut out = String::with_capacity(response.len() * 3);
    for _ in 0..n {
        out.push_str(".. ");
    }
    out.push_str(&spaced_hex(&response[n..]));
    out
}

/// Hex bytes separated by spaces (`00 A4 04 00`).
pub fn spaced_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_pin_is_hidden() {
        let mut r = Redactor::default();
        let cmd = hex::decode("0020000003123456").unwrap();
        let s = r.classify(&cmd);
        assert_eq!(command_hex(&cmd, s), "00 20 00 00 03 .. .. ..");
    }

    #[test]
    fn reload_pin_and_external_auth_are_hidden() {
        let mut r = Redactor::default();
        for h in ["805E000003135790", "008200 0C0833C2C17134EC6D91"] {
            let cmd = hex::decode(h.replace(' ', "")).unwrap();
            let s = r.classify(&cmd);
            let shown = command_hex(&cmd, s);
            assert!(
                !shown.contains("13 57") && !shown.contains("33 C2"),
                "{shown}"
            );
        }
    }

    #[test]
    fn cryptogram_fetched_by_get_response_is_hidden() {
        let mut r = Redactor::default();
        let ia = hex::decode("00880001080102030405060708").unwrap();
        let s = r.classify(&ia);
        assert!(!s.command_data);
        r.observe(s, &[0x61, 0x08]);
        let gr = [0x00, 0xC0, 0x00, 0x00, 0x08];
        let s = r.classify(&gr);
        assert!(s.response_data);
        let resp = hex::decode("1FD71B7483CE1E019000").unwrap();
        assert_eq!(response_hex(&resp, s), ".. .. .. .. .. .. .. .. 90 00");
        r.observe(s, &resp);
        // A later GET RESPONSE of ordinary data is shown.
        let s = r.classify(&[0, 0xA4, 4, 0, 1, 0xAA]);
        r.observe(s, &[0x61, 0x1E]);
        assert!(!r.classify(&gr).response_data);
    }

    #[test]
    fn known_secrets_are_hidden_wherever_they_appear() {
        let known = KnownSecrets::default();
        let none = Secrets::default();
        let update = hex::decode("00D6000003123456").unwrap();
        assert_eq!(
            command_hex_known(&update, none, &known),
            "00 D6 00 00 03 12 34 56"
        );
        known.add(&[0x12, 0x34, 0x56]);
        known.add(&[0x12, 0x34, 0x56]);
        known.add(&[]);
        assert_eq!(known.len(), 1);
        assert_eq!(
            command_hex_known(&update, none, &known),
            "00 D6 00 00 03 .. .. .."
        );
        // Twice, overlapping the header, in a response: all hidden, SW visible.
        let resp = hex::decode("AA1234561234569000").unwrap();
        assert_eq!(
            response_hex_known(&resp, none, &known),
            "AA .. .. .. .. .. .. 90 00"
        );
        // A secret equal to the status word does not hide it.
        known.add(&[0x90, 0x00]);
        assert!(response_hex_known(&resp, none, &known).ends_with("90 00"));
        // The rule and the known values combine.
        let verify = hex::decode("0020000003AABBCC").unwrap();
        let mut r = Redactor::default();
        let s = r.classify(&verify);
        assert_eq!(
            command_hex_known(&verify, s, &known),
            command_hex(&verify, s)
        );
        assert!(!format!("{known:?}").contains("12"));
        // Clones share one set.
        let k2 = known.clone();
        k2.add(&[0x77]);
        assert_eq!(known.len(), 3);
    }

    #[test]
    fn a_refused_get_response_keeps_the_cryptogram_secret() {
        // DES CRYPT in class 80; the GET RESPONSE in class 80 refused (6E00), then a
        // wrong length (6C08), then the fetch: still secret.
        let mut r = Redactor::default();
        let s = r.classify(&hex::decode("80FA0000081122334455667788").unwrap());
        r.observe(s, &[0x61, 0x08]);
        for refusal in [[0x6E, 0x00], [0x6C, 0x08]] {
            let s = r.classify(&[0x80, 0xC0, 0x00, 0x00, 0x10]);
            assert!(s.response_data);
            r.observe(s, &refusal);
        }
        let s = r.classify(&[0x00, 0xC0, 0x00, 0x00, 0x08]);
        assert!(
            s.response_data,
            "the fetch after refusals must stay redacted"
        );
    }

    #[test]
    fn ordinary_commands_are_shown() {
        let mut r = Redactor::default();
        let cmd = hex::decode("00B2012C00").unwrap();
        let s = r.classify(&cmd);
        assert_eq!(s, Secrets::default());
        assert_eq!(command_hex(&cmd, s), "00 B2 01 2C 00");
    }
}
