//! Script variables: values from `--var`, `--var-file`, `let` and captures, and which
//! of them are secret.
//!
//! Why secrecy is tracked per value: a script handles PINs (from a var file) and
//! cryptograms (from the SAM, or captured from a redacted response), and none of them
//! may reach the screen, a JSON report or an error message. A value is secret when it
//! comes from `--var-file`, from `cryptogram(...)`, from a response the trace redacts,
//! or is computed from a secret value; reports show such a value only as its length.
//! Secret bytes are wiped when dropped.
//!
//! PINs never come from argv (visible in `ps` and shell history): `--var` refuses a
//! name containing `pin`, and the var file is refused when group or others can read
//! or write it, as key files are.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::Path;
use zeroize::Zeroizing;

/// A variable's value.
#[derive(Clone)]
pub struct VarValue {
    /// The bytes (wiped on drop).
    pub bytes: Zeroizing<Vec<u8>>,
    /// Whether the value must never be shown.
    pub secret: bool,
}

impl VarValue {
    /// A value.
    pub fn new(bytes: Vec<u8>, secret: bool) -> Self {
        VarValue {
            bytes: Zeroizing::new(bytes),
            secret,
        }
    }

    /// How the value may be shown: hex, or only its length when secret.
    pub fn shown(&self) -> String {
        if self.secret {
            format!("({} bytes, secret)", self.bytes.len())
        } else if self.bytes.is_empty() {
            "(empty)".into()
        } else {
            crate::apdu::redact::spaced_hex(&self.bytes)
        }
    }
}

impl fmt::Debug for VarValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.secret {
            write!(f, "VarValue(REDACTED, {} bytes)", self.bytes.len())
        } else {
            write!(f, "VarValue({})", hex::encode_upper(&*self.bytes))
        }
    }
}

/// The variables of a run.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    map: BTreeMap<String, VarValue>,
}

/// Whether `name` is a valid variable name (`[A-Za-z_][A-Za-z0-9_]*`).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses a value as given on the command line or in a var file: hex (spaces and
/// colons allowed) or a double-quoted ASCII string. Errors never repeat the value,
/// nor any character of it: a var-file value is secret (see [`parse_value_shown`]).
pub fn parse_value(text: &str) -> Result<Vec<u8>, String> {
    parse_value_as(text, true)
}

/// [`parse_value`] for a value that is not secret (`--var`): an error names the
/// character that is not hex and its position.
pub fn parse_value_shown(text: &str) -> Result<Vec<u8>, String> {
    parse_value_as(text, false)
}

fn parse_value_as(text: &str, secret: bool) -> Result<Vec<u8>, String> {
    let t = text.trim();
    if let Some(inner) = t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if !inner.is_ascii() {
            return Err("a quoted value must be ASCII; give other bytes in hex".into());
        }
        return Ok(inner.as_bytes().to_vec());
    }
    crate::apdu::hex_input::decode(t).map_err(|e| {
        let why = if secret { e.hidden() } else { e.to_string() };
        format!("the value is neither hex (whole bytes) nor a \"quoted\" string: {why}")
    })
}

impl Vars {
    /// Sets a variable.
    pub fn set(&mut self, name: &str, value: VarValue) {
        self.map.insert(name.to_string(), value);
    }

    /// Forgets a variable (a capture whose expectation failed).
    pub fn remove(&mut self, name: &str) {
        self.map.remove(name);
    }

    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<&VarValue> {
        self.map.get(name)
    }

    /// The names defined.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }

    /// Adds `--var NAME=VALUE` (not secret). Refuses PIN-like names: argv leaks.
    pub fn add_arg(&mut self, arg: &str) -> Result<(), String> {
        let (name, value) = arg
            .split_once('=')
            .ok_or_else(|| format!("--var '{arg}': expected NAME=VALUE"))?;
        let name = name.trim();
        if !valid_name(name) {
            return Err(format!(
                "--var: '{name}' is not a variable name (letters, digits, _)"
            ));
        }
        if name.to_ascii_lowercase().contains("pin") {
            return Err(format!(
                "--var {name}=...: a PIN is not taken from the command line (it shows in \
                 `ps` and the shell history); put `{name} = ...` in a file readable only \
                 by you and pass --var-file FILE, or pipe it in with --var-file -"
            ));
        }
        let bytes = parse_value_shown(value).map_err(|e| format!("--var {name}: {e}"))?;
        self.set(name, VarValue::new(bytes, false));
        Ok(())
    }

    /// Adds secret variables from a var file (`-` = standard input, at most
    /// [`MAX_VAR_FILE_BYTES`]): lines
    /// `NAME = VALUE`, `#` comments. A file group or others can read or write is
    /// refused ([`crate::secret::check_private_file`]).
    pub fn add_file(&mut self, path: &Path) -> Result<(), String> {
        let shown = path.display().to_string();
        let text = if shown == "-" {
            read_var_text(std::io::stdin().lock()).map_err(|e| format!("--var-file -: {e}"))?
        } else {
            crate::secret::check_private_file(path)
                .map_err(|why| format!("{shown}: it may hold a PIN and is {why}"))?;
            let file = std::fs::File::open(path).map_err(|e| format!("{shown}: {e}"))?;
            read_var_text(file).map_err(|e| format!("{shown}: {e}"))?
        };
        self.add_text(&shown, &text)
    }

    /// Adds secret variables from var-file text; errors name the line, never a value.
    pub fn add_text(&mut self, source: &str, text: &str) -> Result<(), String> {
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (name, value) = line
                .split_once('=')
                .ok_or_else(|| format!("{source}:{n}: expected NAME = VALUE"))?;
            let name = name.trim();
            if !valid_name(name) {
                return Err(format!(
                    "{source}:{n}: '{name}' is not a variable name (letters, digits, _)"
                ));
            }
            let bytes = parse_value(value).map_err(|e| format!("{source}:{n}: {e}"))?;
            self.set(name, VarValue::new(bytes, true));
        }
        Ok(())
    }
}

/// The largest var file read: 1 MiB (a var file holds a few PINs and values).
pub const MAX_VAR_FILE_BYTES: u64 = 1 << 20;

/// Reads a var file's text, refusing one past [`MAX_VAR_FILE_BYTES`] without reading
/// further (`--var-file -` from an endless pipe, a FIFO, `/dev/zero`). The buffer is
/// wiped when dropped.
fn read_var_text(source: impl Read) -> Result<Zeroizing<String>, String> {
    let mut bytes = Zeroizing::new(Vec::with_capacity(4096));
    source
        .take(MAX_VAR_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > MAX_VAR_FILE_BYTES {
        return Err(format!("larger than {MAX_VAR_FILE_BYTES} bytes"));
    }
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| "stream did not contain valid UTF-8".to_string())?;
    Ok(Zeroizing::new(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_endless_var_file_is_refused_not_read_whole() {
        // What `--var-file -` gets from `< /dev/zero`: no end, no newline (issue 16 §3).
        let e = read_var_text(std::fs::File::open("/dev/zero").unwrap()).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        assert_eq!(
            read_var_text(&b"pin = 123456\n"[..]).unwrap().as_str(),
            "pin = 123456\n"
        );
        assert!(read_var_text(&b"pin = \xff\n"[..])
            .unwrap_err()
            .contains("UTF-8"));
    }

    #[test]
    fn command_line_values() {
        let mut v = Vars::default();
        v.add_arg("alg=01").unwrap();
        v.add_arg("div = 00 BF:7C").unwrap();
        v.add_arg("s=\"2.00\"").unwrap();
        assert_eq!(&*v.get("alg").unwrap().bytes, &[1]);
        assert_eq!(&*v.get("div").unwrap().bytes, &[0, 0xBF, 0x7C]);
        assert_eq!(&*v.get("s").unwrap().bytes, b"2.00");
        assert!(!v.get("alg").unwrap().secret);
        assert!(v.add_arg("x").is_err());
        assert!(v.add_arg("1x=00").is_err());
        assert!(v.add_arg("x=0").is_err());
    }

    #[test]
    fn pins_are_refused_on_argv() {
        let mut v = Vars::default();
        let e = v.add_arg("pin=123456").unwrap_err();
        assert!(e.contains("--var-file"), "{e}");
        assert!(!e.contains("123456"), "{e}");
        assert!(v.add_arg("new_PIN=123456").is_err());
    }

    #[test]
    fn var_files_are_secret_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vars");
        std::fs::write(&path, "# pins\npin = 123456\nold=\"135790\" # c\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(Vars::default()
            .add_file(&path)
            .unwrap_err()
            .contains("chmod 600"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let mut v = Vars::default();
        v.add_file(&path).unwrap();
        let pin = v.get("pin").unwrap();
        assert!(pin.secret);
        assert_eq!(&*pin.bytes, &[0x12, 0x34, 0x56]);
        assert_eq!(pin.shown(), "(3 bytes, secret)");
        assert!(!format!("{pin:?}").contains("12"));
        let e = Vars::default()
            .add_text("f", "ok = 01\npin 123456\n")
            .unwrap_err();
        assert!(e.starts_with("f:2:") && !e.contains("123456"), "{e}");
        let e = Vars::default().add_text("f", "pin = 12345\n").unwrap_err();
        assert!(!e.contains("12345"), "{e}");
    }
}
