//! Where and how to reach the centre: [`Target`], made from the `[fleet]` section
//! and the command line ([`Target::resolve`]), checked ([`Target::config`],
//! [`Target::tls_settings`]) and connected ([`Target::connect`]).
//!
//! Why the rules here are strict: a desk's login goes wherever the URL points. So a
//! URL never carries the password ([`FleetError::PasswordInUrl`], refused before
//! anything is parsed or sent); a URL typed on the command line is still checked
//! against the fleet's CA from the configuration; and a desk that chose no TLS mode
//! verifies the centre's certificate unless the centre is this machine
//! ([`TlsMode::Auto`]). docs/fleet.md, "Which setting wins" and "TLS".

use super::{describe, read_password_file, split_ssl, FleetConfig, FleetError, TlsMode};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// Where and how to reach the centre.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL or key=value string (no password).
    pub db: String,
    /// The password file, when the role has a password.
    pub password_file: Option<PathBuf>,
    /// TLS mode as configured ([`TlsMode::Auto`]: not chosen;
    /// [`Target::tls_settings`] says what is used).
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
    /// [`FleetError::PasswordInUrl`] (checked before parsing, so a URL that also
    /// fails to parse is still refused for its password, and the password is never
    /// part of a message), [`FleetError::Url`].
    pub fn config(&self) -> Result<postgres::Config, FleetError> {
        if let Some(how) = password_in(&self.db) {
            return Err(FleetError::PasswordInUrl(how));
        }
        let (db, _, _) = split_ssl(&self.db)?;
        let c = postgres::Config::from_str(&db)
            .map_err(|e| FleetError::Url(format!("does not parse: {e}")))?;
        if c.get_password().is_some() {
            return Err(FleetError::PasswordInUrl("a password parameter"));
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
    /// must agree (`tls = "auto"`, the default, yields to the URL). `auto` left after
    /// that becomes `verify-full`, or `disable` when every host is this machine and
    /// no CA file is given ([`TlsMode::Auto`]). Never returns `Auto`.
    ///
    /// # Errors
    /// [`FleetError::Url`] when they disagree or the URL's mode is refused;
    /// [`FleetError::PasswordInUrl`] as [`Target::config`].
    pub fn tls_settings(&self) -> Result<(TlsMode, Option<PathBuf>), FleetError> {
        let (_, url_mode, url_ca) = split_ssl(&self.db)?;
        let mode = match url_mode {
            Some(m) if self.tls != TlsMode::Auto && self.tls != m => {
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
        let mode = match mode {
            TlsMode::Auto if ca.is_none() && only_this_machine(&self.config()?) => TlsMode::Disable,
            TlsMode::Auto => TlsMode::VerifyFull,
            m => m,
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
            // tls_settings never returns Auto; were it to, verifying is the safe side.
            TlsMode::Auto | TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let mode = if mode == TlsMode::Auto {
                    TlsMode::VerifyFull
                } else {
                    mode
                };
                c.ssl_mode(postgres::config::SslMode::Require);
                // Over TLS the password goes only by SCRAM-SHA-256-PLUS, bound to the
                // centre's certificate: a server asking for it in clear text or MD5
                // (or by SCRAM without the binding) is refused before anything is
                // sent, so an impostor behind `tls = require` learns nothing (rev13
                // F2b). Without TLS the crate cannot refuse clear text: docs/fleet.md.
                c.channel_binding(postgres::config::ChannelBinding::Require);
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
                    .map_err(|e| self.explain_default(e))
                    .map_err(unbound_password)
            }
        }
    }

    /// A TLS failure under a mode nobody chose ([`TlsMode::Auto`] became
    /// `verify-full`) says so and what to set: a desk upgraded from an sscard whose
    /// default was plain text meets this first.
    fn explain_default(&self, e: FleetError) -> FleetError {
        let chosen = self.tls != TlsMode::Auto
            || split_ssl(&self.db).map_or(true, |(_, url_mode, _)| url_mode.is_some());
        let tls_failed = match &e {
            FleetError::Tls(_) => true,
            FleetError::Db(d) => d.as_db_error().is_none() && describe(d).contains("TLS"),
            _ => false,
        };
        if chosen || !tls_failed {
            return e;
        }
        let what = match e {
            FleetError::Tls(m) => m,
            other => other.to_string(),
        };
        FleetError::Tls(format!(
            "{what}. No TLS mode is set, so sscard verifies the certificate and host name \
             (verify-full) of a centre on another machine: set ca_file to the CA that signed \
             the centre's certificate, or choose tls (\"require\" encrypts without checking; \
             \"disable\" only on a private network) in the [fleet] section or with --tls"
        ))
    }
}

/// A connection refused because the server did not authenticate by
/// SCRAM-SHA-256-PLUS (it asked for the password in clear text or MD5, by SCRAM
/// without channel binding, or for none) becomes [`FleetError::Tls`] saying the
/// password was not sent and what a real centre needs; anything else is unchanged.
fn unbound_password(e: FleetError) -> FleetError {
    match e {
        FleetError::Db(d)
            if d.as_db_error().is_none() && describe(&d).contains("channel binding") =>
        {
            FleetError::Tls(format!(
                "{}: the server did not authenticate by SCRAM-SHA-256-PLUS (bound to its \
                 certificate), so sscard refused and sent no password; it may not be the \
                 centre. A real centre authenticates desks by scram-sha-256 over TLS \
                 (pg_hba.conf `hostssl ... scram-sha-256`, password_encryption = \
                 scram-sha-256, no connection pooler in between that cannot bind channels)",
                describe(&d)
            ))
        }
        other => other,
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

/// Whether every host the connection may dial is this machine: `localhost`, a
/// loopback address (`127.0.0.0/8`, `::1`) or a Unix socket, and so is every
/// `hostaddr`. A name with a `hostaddr` of this machine is still a name the
/// certificate is checked against, so it does not count as this machine.
fn only_this_machine(c: &postgres::Config) -> bool {
    let loopback = |h: &str| {
        let h = h.trim_start_matches('[').trim_end_matches(']');
        h.eq_ignore_ascii_case("localhost")
            || h.parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback())
    };
    c.get_hosts().iter().all(|h| match h {
        postgres::config::Host::Tcp(name) => loopback(name),
        postgres::config::Host::Unix(_) => true,
    }) && c.get_hostaddrs().iter().all(std::net::IpAddr::is_loopback)
}

/// Where `db` carries a password, looked for before parsing (a URL that fails to
/// parse is still refused for it): the user-info of a `postgres(ql)://` URL with a
/// `:` (`ROLE:PASSWORD@`, even an empty one), a `password` query parameter, or a
/// `password=` pair of a key=value string. `None` when it carries none.
fn password_in(db: &str) -> Option<&'static str> {
    let db = db.trim();
    let rest = db
        .strip_prefix("postgresql://")
        .or_else(|| db.strip_prefix("postgres://"));
    match rest {
        Some(rest) => {
            let (authority, query) = match rest.split_once('?') {
                Some((a, q)) => (a, Some(q)),
                None => (rest, None),
            };
            let authority = authority.split('/').next().unwrap_or("");
            if authority
                .rsplit_once('@')
                .is_some_and(|(user, _)| user.contains(':'))
            {
                return Some("ROLE:PASSWORD@ in the URL");
            }
            if query.is_some_and(|q| {
                q.split('&').any(|p| {
                    p.split('=')
                        .next()
                        .is_some_and(|k| k.eq_ignore_ascii_case("password"))
                })
            }) {
                return Some("a password= parameter");
            }
            None
        }
        None => db
            .split_whitespace()
            .any(|p| {
                p.split('=')
                    .next()
                    .is_some_and(|k| k.trim().eq_ignore_ascii_case("password"))
            })
            .then_some("a password= pair"),
    }
}

/// What the command line says about the centre (`--db`, `--password-file`, `--tls`,
/// `--ca-file`); `None`: not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--db URL`.
    pub db: Option<String>,
    /// `--password-file PATH`.
    pub password_file: Option<PathBuf>,
    /// `--tls MODE`.
    pub tls: Option<TlsMode>,
    /// `--ca-file PATH`.
    pub ca_file: Option<PathBuf>,
}

/// The role a URL or key=value string names, if it parses (for comparing roles
/// only: [`Target::config`] does the checking).
fn role_of(db: &str) -> Option<String> {
    let (rest, _, _) = split_ssl(db).ok()?;
    postgres::Config::from_str(&rest)
        .ok()?
        .get_user()
        .map(str::to_string)
}

impl Target {
    /// The target from the command line and the `[fleet]` section, setting by
    /// setting (docs/fleet.md, "Which setting wins"):
    ///
    /// 1. A flag always wins (`--password-file`, `--tls`, `--ca-file`).
    /// 2. `--db URL` replaces the section's `db`. Its `sslmode`/`sslrootcert`, when
    ///    it has them, replace the section's `tls`/`ca_file` (the command line
    ///    speaks after the file); a flag and the URL must agree
    ///    ([`Target::tls_settings`]).
    /// 3. Everything else comes from the section: `tls` and `ca_file` always, so a
    ///    URL typed on the command line is checked against the fleet's CA as the
    ///    configured one is; `password_file` when `--db` names the section's own
    ///    role (a role's password is not sent when logging in as another role: that
    ///    one needs `--password-file`).
    /// 4. Nothing at all: [`TlsMode::Auto`], no password, no CA.
    ///
    /// # Errors
    /// [`FleetError::Invalid`] when neither names a centre.
    pub fn resolve(cli: &Overrides, config: Option<&FleetConfig>) -> Result<Target, FleetError> {
        let mut t = match (&cli.db, config) {
            (None, Some(c)) => Target::from_config(c),
            (Some(db), c) => {
                let (_, url_mode, url_ca) = split_ssl(db)?;
                let same_role = c.is_some_and(|c| {
                    role_of(db).is_some_and(|r| role_of(&c.db).as_deref() == Some(r.as_str()))
                });
                Target::from_config(&FleetConfig {
                    db: db.clone(),
                    password_file: c
                        .filter(|_| same_role)
                        .and_then(|c| c.password_file.clone()),
                    tls: match c {
                        Some(c) if url_mode.is_none() => c.tls,
                        _ => TlsMode::Auto,
                    },
                    ca_file: c
                        .filter(|_| url_ca.is_none())
                        .and_then(|c| c.ca_file.clone()),
                })
            }
            (None, None) => {
                return Err(FleetError::Invalid(
                    "no fleet centre: give --db URL or a [fleet] section in the configuration"
                        .into(),
                ))
            }
        };
        if let Some(p) = &cli.password_file {
            t.password_file = Some(p.clone());
        }
        if let Some(m) = cli.tls {
            t.tls = m;
        }
        if let Some(c) = &cli.ca_file {
            t.ca_file = Some(c.clone());
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(db: &str) -> Target {
        Target {
            db: db.into(),
            password_file: None,
            tls: TlsMode::Auto,
            ca_file: None,
            connect_timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn url_with_password_refused() {
        for db in [
            "postgresql://desk:secret@localhost/sscard",
            "postgres://desk:@localhost/sscard",
            "postgresql://desk@localhost/sscard?password=secret",
            "postgresql://desk@localhost/sscard?sslmode=disable&PASSWORD=secret",
            "host=localhost user=desk password=secret",
            "host=localhost user=desk password='secret'",
            // Does not parse either (bad port): still refused for the password first,
            // never echoed by a parse error.
            "postgresql://desk:secret@localhost:port/sscard",
        ] {
            let t = target(db);
            let e = t.config().unwrap_err();
            assert!(matches!(e, FleetError::PasswordInUrl(_)), "{db}: {e:?}");
            assert_eq!(e.exit_code(), crate::error::ExitCode::Keys, "{db}");
            assert!(e.to_string().contains("password_file"), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
        // An '@' or ':' elsewhere is not a password.
        for db in [
            "postgresql://desk@centre:5432/sscard",
            "postgresql://desk@centre/sscard?application_name=a:b@c",
            "host=centre user=desk dbname=sscard",
        ] {
            assert_eq!(password_in(db), None, "{db}");
            assert!(target(db).config().is_ok(), "{db}");
        }
    }

    #[test]
    fn tls_unset_verifies_a_remote_centre_and_leaves_loopback_plain() {
        let mode = |db: &str, ca: Option<&str>| {
            let mut t = target(db);
            t.ca_file = ca.map(PathBuf::from);
            t.tls_settings().unwrap().0
        };
        for local in [
            "postgresql://d@localhost/s",
            "postgresql://d@127.0.0.1:6543/s",
            "postgresql://d@127.1.2.3/s",
            "postgresql://d@[::1]:5432/s",
            "postgresql://d@%2Fvar%2Frun%2Fpostgresql/s",
            "host=/var/run/postgresql user=d",
            "postgresql://d@localhost,127.0.0.1/s",
        ] {
            assert_eq!(mode(local, None), TlsMode::Disable, "{local}");
            // A CA file given means: verify.
            assert_eq!(mode(local, Some("/ca.pem")), TlsMode::VerifyFull, "{local}");
        }
        for remote in [
            "postgresql://d@centre.example/s",
            "postgresql://d@10.0.0.5/s",
            "postgresql://d@localhost,10.0.0.5/s",
            // A name dialled at a loopback address is still checked by name.
            "postgresql://d@centre.example/s?hostaddr=127.0.0.1",
            "postgresql://d@localhost/s?hostaddr=10.0.0.5",
        ] {
            assert_eq!(mode(remote, None), TlsMode::VerifyFull, "{remote}");
        }
        // Chosen modes stay as chosen, anywhere.
        let mut t = target("postgresql://d@centre.example/s");
        t.tls = TlsMode::Disable;
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::Disable);
        t.tls = TlsMode::Require;
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::Require);
        let t = target("postgresql://d@localhost/s?sslmode=require");
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::Require);
    }

    #[test]
    fn command_line_url_keeps_the_configured_password_file_tls_and_ca() {
        let cfg = FleetConfig {
            db: "postgresql://desk_1@centre.example/sscard".into(),
            password_file: Some("/etc/sscard/fleet.pw".into()),
            tls: TlsMode::VerifyFull,
            ca_file: Some("/etc/sscard/ca.pem".into()),
        };
        let cli = |db: &str| Overrides {
            db: Some(db.into()),
            ..Overrides::default()
        };
        // Another host, the same role: the section's password, TLS and CA.
        let t = Target::resolve(
            &cli("postgresql://desk_1@standby.example/sscard"),
            Some(&cfg),
        )
        .unwrap();
        assert_eq!(t.db, "postgresql://desk_1@standby.example/sscard");
        assert_eq!(t.password_file, cfg.password_file);
        assert_eq!(
            t.tls_settings().unwrap(),
            (TlsMode::VerifyFull, cfg.ca_file.clone())
        );
        // The same with key=value.
        let t =
            Target::resolve(&cli("host=standby user=desk_1 dbname=sscard"), Some(&cfg)).unwrap();
        assert_eq!(t.password_file, cfg.password_file);
        // Another role: not this role's password (it needs --password-file).
        let t = Target::resolve(
            &cli("postgresql://backoffice@centre.example/sscard"),
            Some(&cfg),
        )
        .unwrap();
        assert_eq!(t.password_file, None);
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::VerifyFull);
        // The URL's own sslmode/sslrootcert speak after the file's.
        let t = Target::resolve(
            &cli("postgresql://desk_1@centre.example/sscard?sslmode=require"),
            Some(&cfg),
        )
        .unwrap();
        assert_eq!(
            t.tls_settings().unwrap(),
            (TlsMode::Require, cfg.ca_file.clone())
        );
        let t = Target::resolve(
            &cli("postgresql://desk_1@centre.example/sscard?sslrootcert=/other.pem"),
            Some(&cfg),
        )
        .unwrap();
        assert_eq!(
            t.tls_settings().unwrap(),
            (TlsMode::VerifyFull, Some(PathBuf::from("/other.pem")))
        );
        // Flags win over both.
        let t = Target::resolve(
            &Overrides {
                db: Some("postgresql://desk_1@centre.example/sscard".into()),
                password_file: Some("/tmp/other.pw".into()),
                tls: Some(TlsMode::VerifyCa),
                ca_file: Some("/tmp/ca.pem".into()),
            },
            Some(&cfg),
        )
        .unwrap();
        assert_eq!(t.password_file, Some(PathBuf::from("/tmp/other.pw")));
        assert_eq!(
            t.tls_settings().unwrap(),
            (TlsMode::VerifyCa, Some(PathBuf::from("/tmp/ca.pem")))
        );
        // No --db: the section as it is, flags on top.
        let t = Target::resolve(&Overrides::default(), Some(&cfg)).unwrap();
        assert_eq!(t.db, cfg.db);
        assert_eq!(t.password_file, cfg.password_file);
        // No section: nothing but the command line, TLS by the host.
        let t = Target::resolve(&cli("postgresql://d@centre.example/s"), None).unwrap();
        assert_eq!((t.password_file.clone(), t.ca_file.clone()), (None, None));
        assert_eq!(t.tls_settings().unwrap().0, TlsMode::VerifyFull);
        assert!(matches!(
            Target::resolve(&Overrides::default(), None),
            Err(FleetError::Invalid(_))
        ));
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
}
