//! Which bytes of an exchange are secret: the one rule every trace and transcript uses.
//!
//! Redaction is decided from the command bytes as they go to the card, not by the code
//! that built them, so a PIN typed into `sscard send` or a script is hidden just like
//! one sent by the activation flow. Secret: the data of VERIFY, CHANGE/RESET RETRY
//! COUNTER, the proprietary CHANGE/RELOAD PIN (`80 5E`) and EXTERNAL AUTHENTICATE
//! (PINs and cryptograms); the response of INTERNAL AUTHENTICATE and of the PSAM's DES
//! CRYPT (cryptograms), and of the GET RESPONSE that fetches one of those.

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
