//! The desk terminal's configuration file.
//!
//! Why a file: a desk is set up once (which reader takes the old card, which the new
//! one, where the PSAM sits, the terminal id, the journal, the staff's language) and
//! then used all day by people who should not type reader names. The command line
//! still wins over the file, key by key, so scripts and technicians can override
//! anything without editing it.
//!
//! Why TOML (the `toml` crate, with serde): the file is written by hand and read by
//! technicians, so it needs comments (the example documents every key in place),
//! quoting for reader names with spaces, a `[readers]` table, and errors that name the
//! line and column. A home-made `key = value` format would need its own quoting,
//! tables and error positions; TOML is the Rust ecosystem's standard for exactly this.
//! Unknown keys are errors (`deny_unknown_fields`), so a typo such as `langauge` is
//! caught by `sscard config check` instead of being silently ignored.
//!
//! Location: `--config PATH`, else `$SSCARD_CONFIG`, else [`DEFAULT_PATH`]; the value
//! `none` means no file. A missing file at the default location is no error (a lab
//! machine needs none); a missing file named explicitly is.

pub mod bounds;
pub mod desk;

use crate::error::{Error, ExitCode};
use crate::ui::i18n::Lang;
use crate::ui::UiMode;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the configuration is looked for when none is named.
pub const DEFAULT_PATH: &str = "/etc/sscard/sscard.toml";

/// The documented example (`sscard config example`).
pub const EXAMPLE: &str = include_str!("sscard.example.toml");

/// The configuration file's contents. Every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Desk language.
    pub language: Option<Lang>,
    /// Guided or plain screen.
    pub ui: Option<UiMode>,
    /// Who works at the desk.
    pub operator: Option<String>,
    /// Terminal device id (12 digits), when the PSAM has none.
    pub terminal: Option<String>,
    /// The journal file.
    pub journal: Option<PathBuf>,
    /// Seconds to wait for a card.
    pub timeout: Option<f64>,
    /// Recovery attempts of the guided desk.
    pub retries: Option<u32>,
    /// Lab key file (instead of a PSAM).
    pub keys: Option<PathBuf>,
    /// The readers.
    #[serde(default)]
    pub readers: Readers,
    /// The fleet centre this desk pushes its journal to (issue 13; src/fleet).
    pub fleet: Option<crate::fleet::FleetConfig>,
    /// The loopback card service, `sscard serve` (issue 12; src/serve).
    pub serve: Option<crate::serve::ServeConfig>,
}

impl Config {
    /// The journal a desk command uses, in one order for all of them (`activate`,
    /// `journal list/show/export/backup/push`): `flag` (`--journal`), else
    /// `$SSCARD_JOURNAL`, else `journal` here, else the built-in default
    /// ([`crate::activation::journal::default_path`]). One function so the back
    /// office reads the journal the desk writes: a desk whose configuration names its
    /// journal must not see "no entries" from `sscard journal list`.
    pub fn journal_path(&self, flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_path_buf)
            .or_else(|| std::env::var_os("SSCARD_JOURNAL").map(PathBuf::from))
            .or_else(|| self.journal.clone())
            .unwrap_or_else(crate::activation::journal::default_path)
    }
}

/// The readers of the desk, by part of their name (or index).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Readers {
    /// One-reader desk: the reader for both cards.
    pub card: Option<String>,
    /// Two-reader desk: the old card's reader.
    pub old: Option<String>,
    /// Two-reader desk: the new card's reader.
    pub new: Option<String>,
    /// The PSAM's reader.
    pub psam: Option<String>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("configuration {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of this format (line and column in the message).
    #[error("configuration {path} does not parse: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// A value is not acceptable.
    #[error("configuration {path}: {key}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// The key (`readers.old`).
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl ConfigError {
    /// The exit code: 14 for a file that cannot be read, 7 for bad contents.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            ConfigError::Read { .. } => ExitCode::Io,
            ConfigError::Parse { .. } | ConfigError::Invalid { .. } => ExitCode::InvalidData,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error::Other {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Named by `--config` or `$SSCARD_CONFIG`: must exist.
    Named(PathBuf),
    /// The default location: may be absent.
    Default(PathBuf),
    /// `none`: no file.
    Disabled,
}

impl Source {
    /// The source for an optional `--config` value (clap fills it from
    /// `$SSCARD_CONFIG` too).
    pub fn of(named: Option<&Path>) -> Source {
        match named {
            Some(p) if p.as_os_str() == "none" => Source::Disabled,
            Some(p) => Source::Named(p.to_path_buf()),
            None => Source::Default(PathBuf::from(DEFAULT_PATH)),
        }
    }
}

/// The shell command that installs the documented example at `path`: creates its
/// directory first (`/etc/sscard` does not exist on a fresh machine, so a bare
/// `sscard config example > /etc/sscard/sscard.toml` fails there), paths single-quoted
/// for `sh`. Run it as root for a path under `/etc`.
pub fn install_hint(path: &Path) -> String {
    fn quote(p: &Path) -> String {
        format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
    }
    let cmd = format!("sscard config example > {}", quote(path));
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => format!("mkdir -p {} && {cmd}", quote(dir)),
        None => cmd,
    }
}

/// A configuration read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Its contents (relative paths already resolved against its directory).
    pub config: Config,
}

/// Loads the configuration `named` points to (see [`Source::of`]); `None` when there
/// is none.
pub fn load(named: Option<&Path>) -> Result<Option<Loaded>, ConfigError> {
    let path = match Source::of(named) {
        Source::Disabled => return Ok(None),
        Source::Default(p) if !p.exists() => return Ok(None),
        Source::Default(p) | Source::Named(p) => p,
    };
    let text = read_bounded(&path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let config = parse(&path, &text)?;
    Ok(Some(Loaded { path, config }))
}

/// The largest configuration file read (1 MiB; the documented example is 5 KiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads a configuration file as UTF-8, refusing one past [`MAX_CONFIG_BYTES`]
/// without reading further: `--config /dev/zero` (or a pipe, or a `/proc` file,
/// whose size the metadata does not give) must not grow memory without bound.
///
/// # Errors
/// The file cannot be opened or read, is larger than the limit, or is not UTF-8.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|_| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Parses and validates a configuration; relative paths are resolved against the
/// directory of `path`.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let shown = path.display().to_string();
    let mut c: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: shown.clone(),
        message: e.to_string().trim_end().to_string(),
    })?;
    c.validate(&shown)?;
    let dir = path.parent().unwrap_or(Path::new(""));
    let fleet = c
        .fleet
        .as_mut()
        .map(|f| [&mut f.password_file, &mut f.ca_file]);
    for p in [&mut c.journal, &mut c.keys]
        .into_iter()
        .chain(fleet.into_iter().flatten())
        .flatten()
    {
        if p.is_relative() {
            *p = dir.join(&*p);
        }
    }
    Ok(c)
}

impl Config {
    /// Checks the values serde cannot: digits, ranges, reader combinations.
    pub fn validate(&self, path: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, reason: &str| ConfigError::Invalid {
            path: path.to_string(),
            key: key.to_string(),
            reason: reason.to_string(),
        };
        if let Some(t) = &self.terminal {
            if t.len() != 12 || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("terminal", &format!("'{t}' is not 12 digits")));
            }
        }
        if let Some(t) = self.timeout {
            // The same range as `--timeout` ([`bounds`]), and above 0: a desk
            // that never waits for a card cannot work.
            if let Err(why) = bounds::check_seconds(t) {
                return Err(bad("timeout", &why));
            }
            if t <= 0.0 {
                return Err(bad("timeout", "must be a number of seconds above 0"));
            }
        }
        if self
            .retries
            .is_some_and(|r| u64::from(r) > bounds::MAX_RETRIES)
        {
            return Err(bad(
                "retries",
                &format!("at most {} (as --retries)", bounds::MAX_RETRIES),
            ));
        }
        if self
            .operator
            .as_deref()
            .is_some_and(|o| o.trim().is_empty())
        {
            return Err(bad("operator", "is empty"));
        }
        let r = &self.readers;
        for (key, v) in [
            ("readers.card", &r.card),
            ("readers.old", &r.old),
            ("readers.new", &r.new),
            ("readers.psam", &r.psam),
        ] {
            if v.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return Err(bad(key, "is empty"));
            }
        }
        if r.card.is_some() && (r.old.is_some() || r.new.is_some()) {
            return Err(bad(
                "readers",
                "give `card` (one-reader desk) or `old` and `new` (two readers), not both",
            ));
        }
        if r.old.is_some() != r.new.is_some() {
            return Err(bad(
                "readers",
                "a two-reader desk needs both `old` and `new`",
            ));
        }
        if self.keys.is_some() && r.psam.is_some() {
            return Err(bad(
                "keys",
                "give `readers.psam` (production) or `keys` (labs), not both",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Config, ConfigError> {
        parse(Path::new("/etc/sscard/sscard.toml"), text)
    }

    #[test]
    fn an_endless_configuration_file_is_refused_not_read_whole() {
        // /dev/zero's metadata says 0 bytes and it never ends (issue 16 §3).
        let e = load(Some(Path::new("/dev/zero"))).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }), "{e:?}");
        assert!(e.to_string().contains("larger than"), "{e}");
        assert_eq!(e.exit_code(), ExitCode::Io);
    }

    #[test]
    fn the_example_is_valid_and_documents_every_key() {
        let c = p(EXAMPLE).expect("example parses");
        assert_eq!(c.language, Some(Lang::Zh));
        assert_eq!(c.readers.card.as_deref(), Some("ACR39U"));
        // Issue 15 §6: a terminal number in the file wins over the PSAM's, so the
        // example must not set one (it is documented, commented out).
        assert_eq!(c.terminal, None);
        assert!(EXAMPLE.contains("# terminal = \"639900000001\""));
        // Uncommenting every `# key = value` line of the main part still parses.
        for line in EXAMPLE.lines().take_while(|l| !l.starts_with("[readers]")) {
            if let Some(kv) = line.strip_prefix("# ").filter(|l| l.contains(" = ")) {
                let key = kv.split(' ').next().unwrap_or_default();
                if key == "terminal" {
                    assert_eq!(p(kv).unwrap().terminal.as_deref(), Some("639900000001"));
                }
            }
        }
        for key in [
            "language",
            "ui",
            "operator",
            "terminal",
            "journal",
            "timeout",
            "retries",
            "keys",
            "[readers]",
            "card",
            "old",
            "new",
            "psam",
        ] {
            assert!(EXAMPLE.contains(key), "{key}");
        }
    }

    #[test]
    fn empty_file_is_all_defaults_and_relative_paths_follow_the_file() {
        assert_eq!(p("").unwrap(), Config::default());
        let c = p("journal = \"j.sqlite\"\nkeys = \"/k\"").unwrap();
        assert_eq!(c.journal, Some(PathBuf::from("/etc/sscard/j.sqlite")));
        assert_eq!(c.keys, Some(PathBuf::from("/k")));
    }

    #[test]
    fn mistakes_are_named() {
        let e = p("langauge = \"zh\"").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("langauge"), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
        assert_eq!(e.exit_code(), ExitCode::InvalidData);
        let e = p("language = \"fr\"").unwrap_err();
        assert!(e.to_string().contains("fr"), "{e}");
        let e = p("terminal = \"12345\"").unwrap_err();
        assert!(
            e.to_string().contains("terminal: '12345' is not 12 digits"),
            "{e}"
        );
        let e = p("[readers]\ncard = \"A\"\nold = \"B\"\nnew = \"C\"").unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        let e = p("[readers]\nold = \"B\"").unwrap_err();
        assert!(e.to_string().contains("needs both"), "{e}");
        let e = p("keys = \"k\"\n[readers]\npsam = \"S\"").unwrap_err();
        assert!(e.to_string().contains("not both"), "{e}");
        // Every number from the file has the command line's range (config::bounds).
        let mut tried = 0;
        for bad in [
            "timeout = -1",
            "timeout = 0",
            "timeout = inf",
            "timeout = -inf",
            "timeout = nan",
            "timeout = 1e30",
            "timeout = 1.9e19",
            "timeout = 86400.5",
            "timeout = \"30\"",
            "retries = 21",
            "retries = -1",
            "retries = 4294967296",
            "retries = 1e30",
            "retries = 2.5",
        ] {
            let e = p(bad).unwrap_err();
            let key = bad.split(' ').next().unwrap();
            assert!(e.to_string().contains(key), "{bad}: {e}");
            assert_eq!(e.exit_code(), ExitCode::InvalidData, "{bad}");
            tried += 1;
        }
        assert_eq!(tried, 14);
        assert_eq!(
            p("timeout = 86400\nretries = 20").unwrap().retries,
            Some(20)
        );
    }

    #[test]
    fn sources() {
        assert_eq!(Source::of(Some(Path::new("none"))), Source::Disabled);
        assert_eq!(
            Source::of(None),
            Source::Default(PathBuf::from(DEFAULT_PATH))
        );
        assert!(load(Some(Path::new("none"))).unwrap().is_none());
        let e = load(Some(Path::new("/nonexistent/sscard.toml"))).unwrap_err();
        assert_eq!(e.exit_code(), ExitCode::Io);
    }

    #[test]
    fn the_install_hint_creates_the_directory_first() {
        let h = install_hint(Path::new("/etc/sscard/sscard.toml"));
        assert_eq!(
            h,
            "mkdir -p '/etc/sscard' && sscard config example > '/etc/sscard/sscard.toml'"
        );
        // Quoting survives a space and a quote in the path.
        let h = install_hint(Path::new("/tmp/a b/it's.toml"));
        assert_eq!(
            h,
            "mkdir -p '/tmp/a b' && sscard config example > '/tmp/a b/it'\\''s.toml'"
        );
    }
}
