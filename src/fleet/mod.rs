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
//! One concern per file: [`Target`] (where and how to reach the centre: which
//! setting wins, TLS, the password), [`migrate`] (the schema, versioned SQL in
//! `migrations/fleet/`), [`push`] (the desk's journal as outbox, with a durable
//! watermark), [`query`] (one transfer as every desk saw it), [`report`] (the back
//! office's reports).
//!
//! Credentials: the URL names host, database and role but never a password (one in the
//! URL is refused, exit 11: URLs end up in argv, shell history and configuration files); the
//! password comes from a file readable by its owner only, refused otherwise, as the
//! key file is (src/sam/keyfile.rs).

pub mod hook;
pub mod migrate;
pub mod push;
pub mod query;
pub mod report;
mod target;

pub use target::{Overrides, Target};

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The `[fleet]` section of the desk configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// The centre: a `postgresql://role@host:port/db` URL or libpq key=value string,
    /// without a password.
    pub db: String,
    /// The file holding the role's password (mode 600).
    pub password_file: Option<PathBuf>,
    /// TLS mode [default: `auto`: `verify-full`, or `disable` for a centre on this
    /// machine; [`TlsMode::Auto`]].
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM file of the CA that signed the centre's certificate (`verify-full`).
    pub ca_file: Option<PathBuf>,
}

/// How the connection to the centre is protected: libpq's `sslmode` values, minus
/// `allow` and `prefer` (they fall back to plain text without a word), plus `auto`,
/// what a desk gets when nothing says otherwise ([`Target::tls_settings`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Nothing chosen: `verify-full` unless every host of the URL is this machine
    /// (`localhost`, `127.0.0.0/8`, `::1`, a Unix socket), then `disable`; always
    /// `verify-full` when a CA file is given. Why not libpq's `prefer`: it would
    /// send the password in plain text to whoever answers without TLS. Why not
    /// `require`: it encrypts, but to anyone who answers, so an impostor on the
    /// network still gets the desk's login.
    #[default]
    Auto,
    /// Plain TCP (a private network or a loopback test only).
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
    /// The libpq name (`verify-full`; `auto` is ours).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Auto => "auto",
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
    /// The URL does not parse, names no role, or asks for a refused TLS mode.
    #[error("fleet database URL: {0}")]
    Url(String),
    /// The URL carries a password (as `ROLE:PASSWORD@` or a `password=` parameter).
    /// Refused before anything is sent, and the password is never repeated. Its own
    /// exit code (11, credentials), not bad usage's 2: a script can tell "a secret
    /// was given the wrong way" from a typo.
    #[error(
        "fleet database URL carries a password ({0}): put the password alone in a file \
         of mode 600 and name it with password_file in the [fleet] section or with \
         --password-file; a password in a URL ends up in argv, shell history and \
         configuration files"
    )]
    PasswordInUrl(&'static str),
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
        if db.code() == &postgres::error::SqlState::INSUFFICIENT_PRIVILEGE {
            s += "; this role may not do that: reports need the reporting role \
                  (`fleet reporter-add`), the schema its owner (docs/fleet.md, roles)";
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
    if s.contains("password missing") {
        s += " (the centre asks for a password and none was given: set `password_file` \
              in [fleet] or pass --password-file, never the URL)";
    }
    s
}

impl FleetError {
    /// The exit code: 2 for bad input, 11 for credentials (the password file, a
    /// password in the URL), 13 for the journal, 17 for the centre.
    pub fn exit_code(&self) -> crate::error::ExitCode {
        use crate::error::ExitCode;
        match self {
            FleetError::Url(_) | FleetError::Invalid(_) => ExitCode::Usage,
            FleetError::PasswordFile { .. } | FleetError::PasswordInUrl(_) => ExitCode::Keys,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

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
        let c = crate::config::parse(Path::new("/x.toml"), "[fleet]\ndb = \"x\"\n").unwrap();
        assert_eq!(c.fleet.unwrap().tls, TlsMode::Auto);
        let c = crate::config::parse(
            Path::new("/x.toml"),
            "[fleet]\ndb = \"x\"\ntls = \"auto\"\n",
        )
        .unwrap();
        assert_eq!(c.fleet.unwrap().tls, TlsMode::Auto);
        assert!(crate::config::parse(
            Path::new("/x.toml"),
            "[fleet]\ndb = \"x\"\ntls = \"maybe\"\n"
        )
        .is_err());
        // The documented example shows the section (commented out).
        assert!(crate::config::EXAMPLE.contains("# [fleet]"));
    }
}
