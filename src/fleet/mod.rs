//! The fleet centre: every desk's journal gathered in PostgreSQL (issue 13).
//!
//! Why a centre at all: one desk's journal cannot say which old cards are frozen with
//! no credit seen anywhere, or which transfer one desk finished while another still
//! shows it open. The cards stay the truth (spec/activation.md); the centre is the
//! shared memory of the desks, and nothing a desk does waits for it.
//!
//! Why PostgreSQL and the `postgres` crate: the centre runs on a well-known server
//! with replication, roles and row-level security rather than on something of our
//! own; `postgres` (rust-postgres) is the maintained *synchronous* client, so a desk
//! needs no async runtime of its own, and it links cleanly beside rusqlite's bundled
//! SQLite (it has no C database library of its own). TLS goes through
//! `postgres-native-tls` (OpenSSL on Linux, the system's roots and certificate checks).
//!
//! One concern per file: [`migrate`] (the schema, versioned SQL in
//! `migrations/fleet/`), [`push`] (the desk's journal as outbox, with a durable
//! watermark), [`query`] (one transfer as every desk saw it), [`report`] (the back
//! office's reports).
//!
//! Credentials: the URL names host, database and role but never a password (one in the
//! URL is refused: URLs end up in argv, shell history and configuration files); the
//! password comes from a file readable by its owner only, refused otherwise, as the
//! key file is (src/sam/keyfile.rs).

pub mod hook;
pub mod migrate;
pub mod push;
pub mod query;
pub mod report;

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// The `[fleet]` section of the desk configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The centre: a `postgresql://role@host:port/db` URL or libpq key=value string,
    /// without a password.
    pub db: String,
    /// The file holding the role's password (mode 600).
    pub password_file: Option<PathBuf>,
    /// TLS mode.
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signed the centre's certificate (`verify-full`).
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the centre is protected: libpq's `sslmode` values, minus
/// `allow` and `prefer` (they fall back to plain text without a word).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP (a private network or a loopback test only).
    #[default]
    Disable,
    /// Encrypted; the certificate is not checked (protects against listening, not
    /// against an impostor) unless a CA file is given, then as `verify-ca` (libpq's
    /// rule for `require` with a root certificate).
    Require,
    /// Encrypted, certificate chain checked against the CA; host name not checked.
    VerifyCa,
    /// Encrypted, certificate chain and host name checked (what a fleet should use).
    VerifyFull,
}

impl TlsMode {
    /// The libpq name (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// libpq's `sslmode` and `sslrootcert` taken out of a URL or key=value string
/// (tokio-postgres parses neither `verify-ca` nor `verify-full` nor `sslrootcert`):
/// the rest of the string, the mode and the CA file.
///
/// # Errors
/// [`FleetError::Url`] for `sslmode=allow|prefer` or an unknown mode.
pub fn split_ssl(db: &str) -> Result<(String, Option<TlsMode>, Option<PathBuf>), FleetError> {
    let mut mode = None;
    let mut root = None;
    let mut take = |k: &str, v: &str| -> Result<bool, FleetError> {
        match k {
            "sslmode" => {
                mode = Some(match v {
                    "disable" => TlsMode::Disable,
                    "require" => TlsMode::Require,
                    "verify-ca" => TlsMode::VerifyCa,
                    "verify-full" => TlsMode::VerifyFull,
                    "allow" | "prefer" => {
                        return Err(FleetError::Url(format!(
                            "sslmode={v} falls back to plain text silently; use verify-full \
                             (or require, verify-ca, disable)"
                        )))
                    }
                    other => return Err(FleetError::Url(format!("unknown sslmode '{other}'"))),
                });
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(PathBuf::from(v));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if db.starts_with("postgres://") || db.starts_with("postgresql://") {
        match db.split_once('?') {
            None => db.to_string(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for p in query.split('&') {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    if !take(k, v)? {
                        kept.push(p);
                    }
                }
                if kept.is_empty() {
                    base.to_string()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for p in db.split_whitespace() {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            if !take(k.trim(), v.trim_matches('\''))? {
                kept.push(p);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

/// Fleet failures. Every one maps to [`crate::error::ExitCode::Fleet`] except bad
/// input (usage or local files).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// The URL does not parse or carries a password.
    #[error("fleet database URL: {0}")]
    Url(String),
    /// The password file is missing, unreadable or readable by others.
    #[error("password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// TLS could not be set up (CA file).
    #[error("fleet TLS: {0}")]
    Tls(String),
    /// PostgreSQL refused or failed (unreachable, authentication, permission).
    #[error("fleet centre: {}", describe(.0))]
    Db(#[from] postgres::Error),
    /// The desk's journal could not be read or the watermark written.
    #[error("journal {path}: {source}")]
    Journal {
        /// The journal file.
        path: String,
        /// The failure.
        source: rusqlite::Error,
    },
    /// The centre's schema is newer than this sscard or not there.
    #[error("fleet schema: {0}")]
    Schema(String),
    /// The centre holds rows under this journal's numbers with other content.
    #[error("fleet push refused: {0}")]
    Collision(String),
    /// The journal cannot be opened or migrated (newer than this sscard, not a
    /// journal, removed).
    #[error("{0}")]
    JournalFile(String),
    /// Any other bad input (a terminal number, a report option).
    #[error("{0}")]
    Invalid(String),
}

/// A PostgreSQL error with the server's message (its `Display` alone says only
/// "db error") or the cause of a connection failure.
pub fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("{} ({})", db.message(), db.code().code());
        if let Some(d) = db.detail() {
            s += &format!("; {d}");
        }
        if let Some(h) = db.hint() {
            s += &format!("; hint: {h}");
        }
        return s;
    }
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        let t = c.to_string();
        if !s.contains(&t) {
            s += &format!(": {t}");
        }
        src = c.source();
    }
    s
}

impl FleetError {
    /// The exit code: 2 for bad input, 13 for the journal, 17 for the centre.
    pub fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            FleetError::Url(_) | FleetError::Invalid(_) => ExitCode::Usage,
            FleetError::PasswordFile { .. } => ExitCode::Keys,
            FleetError::Journal { .. } | FleetError::JournalFile(_) => ExitCode::Journal,
            FleetError::Tls(_)
            | FleetError::Db(_)
            | FleetError::Schema(_)
            | FleetError::Collision(_) => ExitCode::Fleet,
        }
    }
}

impl From<FleetError> for crate::error::Error {
    fn from(e: FleetError) -> Self {
        crate::error::Error::Other {
            code: e.exit_code(),
            message: e.to_string(),
        }
    }
}

/// Reads a password file: the first line, refused when the file is readable or
/// writable by group or others, or empty.
///
/// # Errors
/// [`FleetError::PasswordFile`].
pub fn read_password_file(path: &Path) -> Result<zeroize::Zeroizing<String>, FleetError> {
    use std::os::unix::fs::PermissionsExt;
    let bad = |reason: String| FleetError::PasswordFile {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(bad(format!(
            "readable or writable by group or others (mode {:o}); run `chmod 600 {}`",
            mode & 0o777,
            path.display()
        )));
    }
    let text =
        zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
    let line = zeroize::Zeroizing::new(text.lines().next().unwrap_or("").to_string());
    if line.is_empty() {
        return Err(bad("empty".into()));
    }
    Ok(line)
}

/// Where and how to reach the centre.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL or key=value string (no password).
    pub db: String,
    /// The password file, when the role has a password.
    pub password_file: Option<PathBuf>,
    /// TLS mode.
    pub tls: TlsMode,
    /// CA for `verify-full`.
    pub ca_file: Option<PathBuf>,
    /// Connection timeout.
    pub connect_timeout: Duration,
}

impl Target {
    /// A target from the `[fleet]` section.
    pub fn from_config(c: &FleetConfig) -> Target {
        Target {
            db: c.db.clone(),
            password_file: c.password_file.clone(),
            tls: c.tls,
            ca_file: c.ca_file.clone(),
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// The parsed URL, refused when it carries a password.
    ///
    /// # Errors
    /// [`FleetError::Url`].
    pub fn config(&self) -> Result<postgres::Config, FleetError> {
        let (db, _, _) = split_ssl(&self.db)?;
        let c = postgres::Config::from_str(&db)
            .map_err(|e| FleetError::Url(format!("does not parse: {e}")))?;
        if c.get_password().is_some() {
            return Err(FleetError::Url(
                "carries a password; put it in a password file (mode 600) instead".into(),
            ));
        }
        if c.get_user().is_none() {
            return Err(FleetError::Url(
                "names no role (postgresql://ROLE@host/db)".into(),
            ));
        }
        Ok(c)
    }

    /// A short name of the centre without secrets (`role@host:port/db`), the key
    /// of the desk's watermark.
    ///
    /// # Errors
    /// [`FleetError::Url`].
    pub fn identity(&self) -> Result<String, FleetError> {
        let c = self.config()?;
        let host = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(s) => s.clone(),
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect::<Vec<_>>()
            .join(",");
        let port = c
            .get_ports()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        Ok(format!(
            "{}@{}:{}/{}",
            c.get_user().unwrap_or(""),
            host,
            if port.is_empty() { "5432".into() } else { port },
            c.get_dbname().unwrap_or("")
        ))
    }

    /// The TLS mode and CA file in force: the URL's `sslmode`/`sslrootcert` (libpq
    /// style) or `tls`/`ca_file` (configuration, flags); when both name one, they
    /// must agree (`tls = "disable"`, the default, yields to the URL).
    ///
    /// # Errors
    /// [`FleetError::Url`] when they disagree or the URL's mode is refused.
    pub fn tls_settings(&self) -> Result<(TlsMode, Option<PathBuf>), FleetError> {
        let (_, url_mode, url_ca) = split_ssl(&self.db)?;
        let mode = match url_mode {
            Some(m) if self.tls != TlsMode::Disable && self.tls != m => {
                return Err(FleetError::Url(format!(
                    "sslmode={} in the URL contradicts tls = {}",
                    m.as_str(),
                    self.tls.as_str()
                )))
            }
            Some(m) => m,
            None => self.tls,
        };
        let ca = match (&self.ca_file, url_ca) {
            (Some(a), Some(b)) if *a != b => {
                return Err(FleetError::Url(format!(
                    "sslrootcert={} in the URL contradicts ca_file {}",
                    b.display(),
                    a.display()
                )))
            }
            (Some(a), _) => Some(a.clone()),
            (None, b) => b,
        };
        Ok((mode, ca))
    }

    /// Connects (password from the file, TLS as configured).
    ///
    /// # Errors
    /// [`FleetError::Url`], [`FleetError::PasswordFile`], [`FleetError::Tls`] (the
    /// CA file, or the centre's certificate refused: wrong CA, wrong host name),
    /// [`FleetError::Db`] (unreachable, authentication refused).
    pub fn connect(&self) -> Result<postgres::Client, FleetError> {
        let mut c = self.config()?;
        let (mode, ca_file) = self.tls_settings()?;
        if let Some(p) = &self.password_file {
            let pw = read_password_file(p)?;
            c.password(pw.as_bytes());
        }
        c.connect_timeout(self.connect_timeout);
        c.application_name("sscard");
        match mode {
            TlsMode::Disable => {
                c.ssl_mode(postgres::config::SslMode::Disable);
                Ok(c.connect(postgres::NoTls)?)
            }
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => {
                c.ssl_mode(postgres::config::SslMode::Require);
                let mut b = native_tls::TlsConnector::builder();
                if mode == TlsMode::Require && ca_file.is_none() {
                    b.danger_accept_invalid_certs(true)
                        .danger_accept_invalid_hostnames(true);
                }
                if mode != TlsMode::VerifyFull {
                    b.danger_accept_invalid_hostnames(true);
                }
                if let Some(ca) = &ca_file {
                    let pem = std::fs::read(ca)
                        .map_err(|e| FleetError::Tls(format!("CA file {}: {e}", ca.display())))?;
                    let cert = native_tls::Certificate::from_pem(&pem)
                        .map_err(|e| FleetError::Tls(format!("CA file {}: {e}", ca.display())))?;
                    b.add_root_certificate(cert);
                }
                let tls = b.build().map_err(|e| FleetError::Tls(e.to_string()))?;
                c.connect(postgres_native_tls::MakeTlsConnector::new(tls))
                    .map_err(|e| refused_certificate(e, mode, ca_file.as_deref(), &c))
            }
        }
    }
}

/// A connection error: the centre's certificate refused (the TLS handshake failed
/// on verification) becomes [`FleetError::Tls`] saying what to check; anything else
/// stays [`FleetError::Db`].
fn refused_certificate(
    e: postgres::Error,
    mode: TlsMode,
    ca: Option<&Path>,
    c: &postgres::Config,
) -> FleetError {
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        if s.downcast_ref::<native_tls::Error>().is_some() {
            let host = c
                .get_hosts()
                .iter()
                .map(|h| match h {
                    postgres::config::Host::Tcp(s) => s.clone(),
                    postgres::config::Host::Unix(p) => p.display().to_string(),
                })
                .collect::<Vec<_>>()
                .join(",");
            let what = match mode {
                TlsMode::VerifyFull => format!(
                    "it must be signed by the CA in {} and name the host '{host}' the URL gives",
                    ca.map_or("the system's roots".into(), |p| p.display().to_string())
                ),
                _ => format!(
                    "it must be signed by the CA in {}",
                    ca.map_or("the system's roots".into(), |p| p.display().to_string())
                ),
            };
            return FleetError::Tls(format!(
                "the centre's certificate was refused ({}); with tls = {} {what}",
                describe(&e),
                mode.as_str()
            ));
        }
        src = s.source();
    }
    FleetError::Db(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn target(db: &str) -> Target {
        Target {
            db: db.into(),
            password_file: None,
            tls: TlsMode::Disable,
            ca_file: None,
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn url_with_password_refused() {
        let e = target("postgresql://desk:secret@localhost/sscard")
            .config()
            .unwrap_err();
        assert!(matches!(e, FleetError::Url(_)));
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn identity_has_no_secret() {
        let t = target("postgresql://desk_1@10.0.0.5:6543/sscard");
        assert_eq!(t.identity().unwrap(), "desk_1@10.0.0.5:6543/sscard");
    }

    #[test]
    fn libpq_sslmode_in_the_url_is_understood_and_checked() {
        let (rest, mode, ca) = split_ssl(
            "postgresql://d@centre/sscard?hostaddr=10.0.0.5&sslmode=verify-full&sslrootcert=/etc/ca.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgresql://d@centre/sscard?hostaddr=10.0.0.5");
        assert_eq!(mode, Some(TlsMode::VerifyFull));
        assert_eq!(ca, Some(PathBuf::from("/etc/ca.pem")));
        let (rest, mode, _) = split_ssl("host=centre user=d sslmode=verify-ca").unwrap();
        assert_eq!(rest, "host=centre user=d");
        assert_eq!(mode, Some(TlsMode::VerifyCa));
        for bad in ["prefer", "allow", "sometimes"] {
            assert!(matches!(
                split_ssl(&format!("postgresql://d@c/s?sslmode={bad}")),
                Err(FleetError::Url(_))
            ));
        }
        // The URL and the configuration must agree; the default yields to the URL.
        let mut t = target("postgresql://d@c/s?sslmode=verify-full");
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::VerifyFull);
        t.tls = TlsMode::Require;
        assert!(matches!(t.tls_settings(), Err(FleetError::Url(_))));
        t.tls = TlsMode::VerifyFull;
        t.ca_file = Some(PathBuf::from("/a.pem"));
        t.db = "postgresql://d@c/s?sslrootcert=/b.pem".into();
        assert!(matches!(t.tls_settings(), Err(FleetError::Url(_))));
        t.db = "postgresql://d@c/s".into();
        assert_eq!(
            t.tls_settings().unwrap(),
            (TlsMode::VerifyFull, Some(PathBuf::from("/a.pem")))
        );
        assert_eq!(t.identity().unwrap(), "d@c:5432/s");
    }

    #[test]
    fn password_file_mode_checked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, "s3cret\n").unwrap();
        for mode in [0o640, 0o604, 0o620] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            assert!(matches!(
                read_password_file(&p),
                Err(FleetError::PasswordFile { .. })
            ));
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password_file(&p).unwrap().as_str(), "s3cret");
    }

    #[test]
    fn fleet_section_parses_and_paths_follow_the_file() {
        let c = crate::config::parse(
            Path::new("/etc/sscard/sscard.toml"),
            "[fleet]\ndb = \"postgresql://desk_1@centre/sscard\"\npassword_file = \"fleet.pw\"\ntls = \"verify-full\"\n",
        )
        .unwrap();
        let f = c.fleet.unwrap();
        assert_eq!(f.tls, TlsMode::VerifyFull);
        assert_eq!(f.password_file, Some(PathBuf::from("/etc/sscard/fleet.pw")));
        assert!(crate::config::parse(
            Path::new("/x.toml"),
            "[fleet]\ndb = \"x\"\ntls = \"maybe\"\n"
        )
        .is_err());
        // The documented example shows the section (commented out).
        assert!(crate::config::EXAMPLE.contains("# [fleet]"));
    }
}
