//! A private PostgreSQL cluster for the fleet tests and benchmark: Debian's
//! `postgresql` (installed with apt-get when missing; we run as root), `initdb` into a
//! temporary directory as the `postgres` OS user (initdb refuses root), its own
//! loopback port and socket directory, SCRAM passwords over TCP, stopped on drop.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The cluster's owner role (superuser) and its password.
pub const ADMIN: &str = "sscard_admin";
const ADMIN_PW: &str = "admin-test-password";

/// A running private cluster.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    /// The admin's password file (mode 600, owned by root).
    pub admin_pw: PathBuf,
}

fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

/// The PostgreSQL binaries, installing Debian's `postgresql` when missing. Panics
/// (never skips) when that fails.
pub fn ensure_installed() -> PathBuf {
    if let Some(b) = bin_dir() {
        return b;
    }
    let st = Command::new("apt-get")
        .args(["install", "-y", "--no-install-recommends", "postgresql"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .status()
        .expect("apt-get");
    if !st.success() {
        let _ = Command::new("apt-get").arg("update").status();
        let st = Command::new("apt-get")
            .args(["install", "-y", "--no-install-recommends", "postgresql"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .expect("apt-get");
        assert!(st.success(), "apt-get install postgresql failed");
    }
    bin_dir().expect("postgresql installed but no initdb under /usr/lib/postgresql/*/bin")
}

fn run_as_postgres(cmd: &mut Command) -> Output {
    cmd.output().expect("runuser")
}

fn postgres_uid() -> (u32, u32) {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id")
            .args([flag, "postgres"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// initdb + start, and a database `sscard` owned by [`ADMIN`].
    pub fn start() -> Cluster {
        Cluster::start_with(&[])
    }

    /// As [`Cluster::start`] with extra `-c name=value` server settings.
    pub fn start_with(settings: &[&str]) -> Cluster {
        let bin = ensure_installed();
        let dir = tempfile::Builder::new()
            .prefix("sscard-pg-")
            .tempdir()
            .unwrap();
        let (uid, gid) = postgres_uid();
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        // initdb's copy of the password, readable by postgres only.
        let init_pw = dir.path().join("init.pw");
        std::fs::write(&init_pw, format!("{ADMIN_PW}\n")).unwrap();
        std::fs::set_permissions(&init_pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&init_pw, Some(uid), Some(gid)).unwrap();
        let admin_dir = tempfile::Builder::new()
            .prefix("sscard-pgadm-")
            .tempdir()
            .unwrap();
        let admin_pw = admin_dir.keep().join("admin.pw");
        std::fs::write(&admin_pw, format!("{ADMIN_PW}\n")).unwrap();
        std::fs::set_permissions(&admin_pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        let data = dir.path().join("data");
        let out = run_as_postgres(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args(["-U", ADMIN, "-E", "UTF8", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", init_pw.display())),
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&init_pw).unwrap();
        let mut conf = String::from("listen_addresses = '127.0.0.1'\nmax_connections = 300\n");
        conf += &format!("unix_socket_directories = '{}'\n", dir.path().display());
        for s in settings {
            conf += s;
            conf += "\n";
        }
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .unwrap();
        std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
        let c = Cluster {
            dir,
            port: 0,
            bin,
            admin_pw,
        };
        let mut c = c;
        c.port = free_port();
        c.pg_start();
        let mut admin = c.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE sscard OWNER {ADMIN}"))
            .unwrap();
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the server (again) on the same port.
    pub fn pg_start(&self) {
        let out = run_as_postgres(
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.dir.path().join("server.log"))
                .args(["-w", "-t", "60", "-o"])
                .arg(format!("-p {}", self.port))
                .arg("start"),
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server; `immediate` is a crash (no checkpoint, clients cut).
    pub fn pg_stop(&self, mode: &str) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-m", mode, "stop"])
            .output();
    }

    /// A URL for `role` on the `sscard` database (no password).
    pub fn url(&self, role: &str) -> String {
        format!("postgresql://{role}@127.0.0.1:{}/sscard", self.port)
    }

    /// A client as the admin, on `sscard` (on `postgres` before `sscard` exists, while
    /// [`Cluster::start_with`] creates it).
    pub fn admin(&self) -> postgres::Client {
        let mut last = None;
        for dbname in ["sscard", "postgres"] {
            match postgres::Config::new()
                .host("127.0.0.1")
                .port(self.port)
                .user(ADMIN)
                .password(ADMIN_PW)
                .dbname(dbname)
                .connect(postgres::NoTls)
            {
                Ok(c) => return c,
                Err(e) => last = Some(e),
            }
        }
        panic!("connect as {ADMIN}: {last:?}")
    }

    /// A client as `role` with password `pw` on `sscard`.
    pub fn connect(&self, role: &str, pw: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(role)
            .password(pw)
            .dbname("sscard")
            .connect(postgres::NoTls)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.pg_stop("fast");
        if let Some(d) = self.admin_pw.parent() {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

/// Writes `secret` to a new file of mode 600 in `dir`.
pub fn secret_file(dir: &Path, name: &str, secret: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("{secret}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// A test CA, a server certificate it signed for [`TLS_HOST`], and a second CA that
/// signed nothing of the centre's: made with the `openssl` command line.
pub struct TlsFiles {
    /// The directory (owned by `postgres`, so the server reads its key).
    pub dir: tempfile::TempDir,
    /// The CA that signed the server certificate (PEM).
    pub ca: PathBuf,
    /// Another CA (PEM).
    pub rogue_ca: PathBuf,
    /// The server certificate and key (PEM; key mode 600, owned by `postgres`).
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The host name in the test server certificate (a name, not an address, so that
/// connecting by address shows the host-name check).
pub const TLS_HOST: &str = "centre.sscard.test";

fn openssl(args: &[&str], dir: &Path) {
    let o = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        o.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

impl TlsFiles {
    /// Generates the files (P-256 keys, valid two days).
    pub fn generate() -> TlsFiles {
        let dir = tempfile::Builder::new()
            .prefix("sscard-pgtls-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for (name, cn) in [("ca", "sscard test CA"), ("rogue", "someone else's CA")] {
            openssl(
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
                d,
            );
        }
        openssl(
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                &format!("/CN={TLS_HOST}"),
            ],
            d,
        );
        std::fs::write(
            d.join("ext.cnf"),
            format!(
                "subjectAltName=DNS:{TLS_HOST}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        )
        .unwrap();
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
            d,
        );
        let (uid, gid) = postgres_uid();
        std::os::unix::fs::chown(d, Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in ["server.pem", "server.key"] {
            std::os::unix::fs::chown(d.join(f), Some(uid), Some(gid)).unwrap();
        }
        std::fs::set_permissions(d.join("server.key"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        TlsFiles {
            ca: d.join("ca.pem"),
            rogue_ca: d.join("rogue.pem"),
            cert: d.join("server.pem"),
            key: d.join("server.key"),
            dir,
        }
    }
}

impl Cluster {
    /// A cluster with `ssl = on` and the certificate of `tls` (clients may still
    /// connect without TLS, so the harness's own admin connection is unchanged).
    pub fn start_tls(tls: &TlsFiles) -> Cluster {
        Cluster::start_with(&[
            "ssl = on",
            &format!("ssl_cert_file = '{}'", tls.cert.display()),
            &format!("ssl_key_file = '{}'", tls.key.display()),
        ])
    }
}
