//! Follow-ups of the hostile review (i13post): an impostor centre asking for the
//! password in clear text or MD5 (F2b), and the PostgreSQL client crates' statement
//! log at `-vvv` (F12). A module of tests/fleet_hostile_e2e.rs (its helpers).

use super::*;

/// An impostor centre (rev13's fakepg.py, in Rust): answers TLS with a certificate
/// of its own, then asks for the password by `auth` (3: clear text, 5: MD5) and
/// keeps every byte the client sends after the request. Returns its port and those
/// bytes (per connection).
fn impostor(tls: &pg::TlsFiles, auth: i32) -> (u16, std::sync::mpsc::Receiver<Vec<u8>>) {
    use std::io::{Read, Write};
    let identity = native_tls::Identity::from_pkcs8(
        &std::fs::read(&tls.cert).unwrap(),
        &std::fs::read(&tls.key).unwrap(),
    )
    .unwrap();
    let acceptor = native_tls::TlsAcceptor::new(identity).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let mut s = s.unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut head = [0u8; 8];
            s.read_exact(&mut head).unwrap();
            assert_eq!(
                &head[4..],
                &80_877_103i32.to_be_bytes(),
                "an SSLRequest first"
            );
            s.write_all(b"S").unwrap();
            let Ok(mut t) = acceptor.accept(s) else {
                continue;
            };
            t.read_exact(&mut head).unwrap();
            let len = i32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
            let mut startup = vec![0u8; len - 8];
            t.read_exact(&mut startup).unwrap();
            let mut ask = vec![b'R'];
            if auth == 5 {
                ask.extend(12i32.to_be_bytes());
                ask.extend(5i32.to_be_bytes());
                ask.extend(*b"salt");
            } else {
                ask.extend(8i32.to_be_bytes());
                ask.extend(auth.to_be_bytes());
            }
            t.write_all(&ask).unwrap();
            let mut got = Vec::new();
            let _ = t.read_to_end(&mut got);
            let _ = tx.send(got);
        }
    });
    (port, rx)
}

/// F2b: a fake centre behind `tls = require` (which encrypts to whoever answers)
/// asked for the password in clear text, and the desk sent it. Now, over TLS, the
/// password goes only by SCRAM-SHA-256-PLUS (channel binding required): clear text
/// and MD5 are refused before anything is sent, exit 17, saying why.
#[test]
fn an_impostor_centre_asking_for_the_password_in_clear_gets_nothing() {
    let tls = pg::TlsFiles::generate();
    let dir = tempfile::tempdir().unwrap();
    let j = dir.path().join("j.sqlite");
    journal_with(&j, DESK_A, 1);
    let secret = "pw-not-for-impostors";
    let pw = secret_file(dir.path(), "a.pw", secret);
    for (auth, what) in [(3, "clear text"), (5, "MD5")] {
        let (port, got) = impostor(&tls, auth);
        let url = format!("postgresql://desk_{DESK_A}@127.0.0.1:{port}/sscard");
        let o = Command::new(exe())
            .env("SSCARD_CONFIG", "none")
            .env_remove("SSCARD_FLEET_DB")
            .env_remove("SSCARD_FLEET_PASSWORD_FILE")
            .args(["journal", "--journal"])
            .arg(&j)
            .args(["push", "--tls", "require", "--db", &url, "--password-file"])
            .arg(&pw)
            .output()
            .unwrap();
        let sent = got.recv_timeout(Duration::from_secs(10)).unwrap();
        // What the client would send for MD5 (as the crate computes it).
        let md5 = postgres_protocol::authentication::md5_hash(
            format!("desk_{DESK_A}").as_bytes(),
            secret.as_bytes(),
            *b"salt",
        );
        let sent = String::from_utf8_lossy(&sent);
        assert!(
            !sent.contains(secret) && !sent.contains(&md5),
            "{what}: the impostor got the password: {sent:?}"
        );
        assert_eq!(o.status.code(), Some(17), "{what}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(
            e.contains("channel binding") && e.contains("sent no password"),
            "{what}: {e}"
        );
        assert!(!e.contains(secret), "{e}");
        assert_eq!(watermark(&j), 0);
    }
}

/// F12: at `-vvv` (or `RUST_LOG=debug`) the PostgreSQL client crates logged every
/// statement to stderr, `CREATE ROLE ... PASSWORD 'SCRAM-SHA-256$...'` included (a
/// verifier an attacker can brute-force offline). Now those crates are capped at
/// info whatever -v or RUST_LOG asks, a longer RUST_LOG directive included.
#[test]
fn verbose_role_commands_log_no_password_verifier() {
    let c = Centre::new();
    let url = c.pg.url(ADMIN);
    let admin_pw = c.pg.admin_pw.to_str().unwrap().to_string();
    for (i, rust_log) in [
        None,
        Some("debug"),
        Some("trace,tokio_postgres::simple_query=trace,postgres=trace"),
    ]
    .into_iter()
    .enumerate()
    {
        let terminal = format!("00000000009{i}");
        let secret = format!("pw-verbose-{i}");
        let pw = secret_file(c.dir.path(), &format!("v{i}.pw"), &secret);
        let mut cmd = Command::new(exe());
        cmd.env("SSCARD_CONFIG", "none")
            .env_remove("SSCARD_FLEET_DB")
            .env_remove("SSCARD_FLEET_PASSWORD_FILE")
            .args(["-vvv", "fleet", "--db", &url, "--password-file", &admin_pw])
            .args(["desk-add", &terminal, "--new-password-file"])
            .arg(&pw);
        match rust_log {
            Some(l) => cmd.env("RUST_LOG", l),
            None => cmd.env_remove("RUST_LOG"),
        };
        let o = cmd.output().unwrap();
        ok(&o);
        let e = stderr(&o);
        for bad in ["SCRAM-SHA-256$", "PASSWORD '", &secret] {
            assert!(!e.contains(bad), "{rust_log:?}: {bad:?} in stderr:\n{e}");
        }
        // The role works: the verifier was sent, only not logged.
        let desk = c.pg.url(&format!("desk_{terminal}"));
        let j = c.dir.path().join(format!("v{i}.sqlite"));
        journal_with(&j, &terminal, 1);
        ok(&push_cmd(&desk, &pw, &j).output().unwrap());
    }
}
