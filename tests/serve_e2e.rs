//! End-to-end: `sscard serve` through a private pcscd + vpcd, driven by real WebSocket
//! clients (tungstenite) and raw HTTP/1.1: every national function with and without a
//! card (the basic line checked against `sscard info --format national`), the HSM two
//! steps with the lab HSM's answer, the PIN rule (the desk's PIN source; a PIN from the
//! page refused, never echoed, never logged), the typed API (hello, readers, card),
//! a foreign `Origin` and a non-loopback `Host` refused, several clients at once all
//! answered and none corrupted, and the insert/remove events pushed to subscribers.
//!
//! The service is a child process (the test process never talks PC/SC: see
//! tests/common); it listens on 127.0.0.1:0 and prints its address on stdout.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::Bed;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const TODAY: &str = "20260701";
const DEVICE: &str = "VPCD0000";

/// A running `sscard serve`.
struct Serve {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// Starts the service with the configuration file `cfg` and extra environment.
    fn start(bed: &Bed, cfg: &Path, env: &[(&str, &str)]) -> Serve {
        let log = bed.dir.path().join(format!(
            "serve-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut c = bed.cmd();
        c.args(["-vv", "serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(cfg)
            .env("SSCARD_DEVICE_ID", DEVICE)
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_PIN_FILE")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            c.env(k, v);
        }
        let mut child = c.spawn().unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let port = line
            .split("http://127.0.0.1:")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "no address in {line:?}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            });
        Serve { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// A WebSocket client with this `Origin` (none: no header).
    fn ws(&self, origin: Option<&str>) -> Result<Client, tungstenite::Error> {
        let mut req = format!("ws://127.0.0.1:{}/ws", self.port)
            .into_client_request()
            .unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("Origin", o.parse().unwrap());
        }
        let (ws, _) = tungstenite::connect(req)?;
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        }
        Ok(Client { ws })
    }

    /// A raw HTTP/1.1 request; returns the status and the body.
    fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let resp = self.http_raw(method, path, headers, body);
        let status = resp[9..12].parse().unwrap();
        let body = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
        (status, body.to_string())
    }

    /// A raw HTTP/1.1 request; returns the whole response.
    fn http_raw(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: 127.0.0.1:{}\r\n", self.port));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
        s.write_all(req.as_bytes()).unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        resp
    }

    fn national_http(&self, req: Value) -> Value {
        let (status, body) = self.http("POST", "/national", &[], &req.to_string());
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

/// A WebSocket client.
struct Client {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
}

impl Client {
    fn next(&mut self) -> Value {
        loop {
            match self.ws.read().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Sends a request and returns its answer (events received meanwhile are kept).
    fn ask(&mut self, req: Value, events: &mut Vec<Value>) -> Value {
        self.ws.send(Message::Text(req.to_string().into())).unwrap();
        loop {
            let v = self.next();
            if v["schema"] == "sscard-reader-event" {
                events.push(v);
            } else {
                return v;
            }
        }
    }

    fn call(&mut self, req: Value) -> Value {
        let mut ev = Vec::new();
        self.ask(req, &mut ev)
    }

    /// Waits for an event of `kind` (skipping others) within `secs`.
    fn event(&mut self, kind: &str, secs: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            let v = self.next();
            if v["schema"] == "sscard-reader-event" && v["event"] == kind {
                return v;
            }
        }
        panic!("no {kind} event within {secs} s");
    }
}

/// The desk configuration: the card in slot 0, keys when asked, extra `[serve]` lines.
fn config(bed: &Bed, name: &str, keys: Option<&Path>, serve: &str) -> PathBuf {
    let path = bed.dir.path().join(name);
    let mut text = String::new();
    if let Some(k) = keys {
        text.push_str(&format!("keys = \"{}\"\n", k.display()));
    }
    text.push_str(&format!(
        "[readers]\ncard = \"{}\"\n",
        bed.pcscd.reader_name(0)
    ));
    if !serve.is_empty() {
        text.push_str(&format!("[serve]\n{serve}\n"));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// A private copy of the test keys, mode 600.
fn key_file(bed: &Bed) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = bed.dir.path().join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &path).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// Writes the desk's PIN file (mode 600).
fn pins(path: &Path, lines: &[&str]) {
    use std::os::unix::fs::PermissionsExt;
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `sscard info --format national` on the card in slot 0.
fn info_line(bed: &Bed, keys: Option<&Path>) -> String {
    let mut c = bed.cmd();
    c.args(["info", "-r", "0", "--format", "national"])
        .env("SSCARD_TODAY", TODAY)
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_CONFIG", "none");
    if let Some(k) = keys {
        c.arg("--keys").arg(k);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim_end().to_string()
}

/// The lab encryption machine's `pKey` for a Step1 line (as `sscard-lab-hsm`).
fn lab_hsm(keys: &Path, step1: &str) -> String {
    let s = sscard::national::Step1Info::parse(step1).unwrap();
    let mut sam = sscard::sam::keyfile::KeyFile::load(keys).unwrap();
    let profiles = sscard::profile::Profiles::builtin().unwrap();
    let profile = profiles.first_of(sscard::profile::Kind::Ssc).unwrap();
    let key = sscard::national::read::lab_hsm_answer(&s, profile, &mut sam).unwrap();
    key.to_pkey().as_str().to_string()
}

fn insert(bed: &mut Bed, image: &str) {
    let img = bed.image(image);
    bed.insert(0, &img, &["--no-save"]);
}

fn ret(v: &Value) -> i64 {
    v["ret"].as_i64().unwrap_or_else(|| panic!("no ret: {v}"))
}

#[test]
fn national_functions_with_and_without_a_card() {
    let mut bed = Bed::start();
    let keys = key_file(&bed);
    let cfg = config(&bed, "desk.toml", None, "");
    let pin_file = bed.dir.path().join("pins");
    pins(&pin_file, &["123456"]);
    let svc = Serve::start(
        &bed,
        &cfg,
        &[("SSCARD_PIN_FILE", pin_file.to_str().unwrap())],
    );
    let mut c = svc
        .ws(Some(&format!("http://127.0.0.1:{}", svc.port)))
        .unwrap();

    // No card: -2 for each function, the message in pOutInfo; Step2 alone: -14.
    for f in [
        "iReadCardBas",
        "iReadCardBas_HSM_Step1",
        "iVerifyPIN",
        "iChangePIN",
    ] {
        let a = c.call(json!({"function": f, "iType": 3}));
        assert_eq!(a["functionName"], f, "{a}");
        assert_eq!(a["success"], false, "{a}");
        assert_eq!(ret(&a), -2, "{f}: {a}");
        assert!(a["pOutInfo"].as_str().unwrap().contains("未插卡"), "{a}");
    }
    let a = c.call(json!({"function": "iReadCardBas_HSM_Step2", "pKey": "00|00|"}));
    assert_eq!(ret(&a), -14, "{a}");
    let a = c.call(json!({"function": "iReadCardBas_HSM_Step2"}));
    assert_eq!(ret(&a), -14, "{a}");

    // A 2.00 card: the same line as `sscard info --format national`.
    insert(&mut bed, "ssc-2.00.json");
    let want = info_line(&bed, None);
    assert!(want.contains("|张三|"), "{want}");
    for it in [json!(3), json!(1), json!("4")] {
        let a = c.call(json!({"function": "iReadCardBas", "iType": it, "id": "r1"}));
        assert_eq!(a["success"], true, "{a}");
        assert_eq!(ret(&a), 0);
        assert_eq!(a["pOutInfo"], want.as_str(), "iType {it}");
        assert_eq!(a["id"], "r1");
    }
    assert_eq!(
        ret(&c.call(json!({"function": "iReadCardBas", "iType": 2}))),
        -1
    );
    for bad in [json!(0), json!(9), json!("x"), Value::Null] {
        let a = c.call(json!({"function": "iReadCardBas", "iType": bad}));
        assert_eq!(ret(&a), -14, "iType {bad}: {a}");
    }
    assert_eq!(ret(&c.call(json!({"function": "iReadCardBas"}))), -14);
    // Over plain HTTP too.
    let a = svc.national_http(json!({"function": "iReadCardBas", "iType": 3}));
    assert_eq!(a["pOutInfo"], want.as_str());
    // A 2.00 card needs no HSM.
    assert_eq!(
        ret(&c.call(json!({"function": "iReadCardBas_HSM_Step1", "iType": 3}))),
        -2204
    );
    // Functions not served, and garbage: clear answers, no crash.
    let a = c.call(json!({"function": "iReloadPIN", "iType": 3}));
    assert_eq!(ret(&a), -13, "{a}");
    let a = c.call(json!({"nothing": 1}));
    assert_eq!(a["schema"], "sscard-error");
    c.ws.send(Message::Text("{not json".into())).unwrap();
    assert_eq!(c.next()["error"]["exit_code"], 2);

    // PINs: from the desk's PIN file. The reference card is on its initial PIN: -35.
    let a = c.call(json!({"function": "iVerifyPIN", "iType": 3}));
    assert_eq!(ret(&a), -35, "{a}");
    pins(&pin_file, &["000000"]);
    let a = c.call(json!({"function": "iVerifyPIN", "iType": 3}));
    assert_eq!(ret(&a), -51, "{a}");
    pins(&pin_file, &["123456", "654321", "654321"]);
    let a = c.call(json!({"function": "iChangePIN", "iType": 3}));
    assert_eq!(ret(&a), 0, "{a}");
    assert_eq!(a["pOutInfo"], "");
    pins(&pin_file, &["654321"]);
    assert_eq!(
        ret(&c.call(json!({"function": "iVerifyPIN", "iType": 3}))),
        0
    );
    // A PIN sent by the page is refused (-13), never echoed, never logged.
    for req in [
        json!({"function": "iVerifyPIN", "iType": 3, "pin": "654321"}),
        json!({"function": "iChangePIN", "iType": 3, "oldPin": "654321", "newPin": "111111"}),
        json!({"function": "iVerifyPIN", "iType": 3, "PIN": "654321"}),
    ] {
        let a = c.call(req.clone());
        assert_eq!(ret(&a), -13, "{a}");
        assert!(
            a["detail"].as_str().unwrap().contains("pin_from_page"),
            "{a}"
        );
        assert!(!a.to_string().contains("654321"), "{a}");
        let a = svc.national_http(req);
        assert_eq!(ret(&a), -13, "{a}");
    }
    // The card still takes 654321 (the refused requests sent nothing to it).
    assert_eq!(
        ret(&c.call(json!({"function": "iVerifyPIN", "iType": 3}))),
        0
    );
    bed.pull(0);

    // A 3.00 card without a PSAM: -2201; the HSM two steps with the lab HSM.
    insert(&mut bed, "ssc-3.00.json");
    let want = info_line(&bed, Some(&keys)).replace("|639900000001|", "|000000000000|");
    assert_eq!(
        ret(&c.call(json!({"function": "iReadCardBas", "iType": 3}))),
        -2201
    );
    let s1 = c.call(json!({"function": "iReadCardBas_HSM_Step1", "iType": 3}));
    assert_eq!(ret(&s1), 0, "{s1}");
    let step1 = s1["pOutInfo"].as_str().unwrap();
    assert_eq!(step1.split('|').count(), 10, "{step1}");
    let pkey = lab_hsm(&keys, step1);
    let s2 = c.call(json!({"function": "iReadCardBas_HSM_Step2", "pKey": pkey}));
    assert_eq!(ret(&s2), 0, "{s2}");
    assert_eq!(s2["pOutInfo"], want.as_str());
    // Step2 again: the session is over.
    let a = c.call(json!({"function": "iReadCardBas_HSM_Step2", "pKey": pkey}));
    assert_eq!(ret(&a), -14, "{a}");
    // A card read between the steps (typed API) ends the session too.
    let s1 = c.call(json!({"function": "iReadCardBas_HSM_Step1", "iType": 3}));
    assert_eq!(ret(&s1), 0, "{s1}");
    let pkey2 = lab_hsm(&keys, s1["pOutInfo"].as_str().unwrap());
    assert_eq!(c.call(json!({"type": "card"}))["schema"], "sscard-info");
    let a = c.call(json!({"function": "iReadCardBas_HSM_Step2", "pKey": pkey2}));
    assert_eq!(ret(&a), -14, "{a}");
    drop(c);
    let log = svc.log();
    assert!(
        log.contains("POST /national -> 200"),
        "requests are logged: {log}"
    );
    for secret in ["654321", "123456", "111111", pkey.as_str()] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn pins_from_the_page_when_the_desk_allows_it() {
    let mut bed = Bed::start();
    let cfg = config(&bed, "page.toml", None, "pin_from_page = true");
    let svc = Serve::start(&bed, &cfg, &[]);
    insert(&mut bed, "ssc-2.00.json");
    let mut c = svc.ws(None).unwrap();
    assert_eq!(c.call(json!({"type": "hello"}))["pin_from_page"], true);
    let a = c.call(json!({"function": "iVerifyPIN", "iType": 3, "pin": "000000"}));
    assert_eq!(ret(&a), -51, "{a}");
    assert!(!a.to_string().contains("000000"), "{a}");
    let a = c.call(json!({"function": "iVerifyPIN", "iType": 3, "pin": "123456"}));
    assert_eq!(ret(&a), -35, "{a}");
    let a = c.call(json!({"function": "iChangePIN", "iType": 3, "oldPin": "123456"}));
    assert_eq!(ret(&a), -14, "{a}");
    let a = c.call(
        json!({"function": "iChangePIN", "iType": 3, "oldPin": "123456", "newPin": "246810"}),
    );
    assert_eq!(ret(&a), 0, "{a}");
    let a = c.call(json!({"function": "iVerifyPIN", "iType": 3, "pin": "246810"}));
    assert_eq!(ret(&a), 0, "{a}");
    let log = svc.log();
    assert!(log.contains("GET /ws"), "{log}");
    assert!(!log.contains("246810") && !log.contains("000000"), "{log}");
}

#[test]
fn typed_api_readers_card_and_errors() {
    let mut bed = Bed::start();
    let cfg = config(&bed, "desk.toml", None, "");
    let svc = Serve::start(&bed, &cfg, &[]);
    let mut c = svc.ws(None).unwrap();
    let h = c.call(json!({"type": "hello", "id": 1}));
    assert_eq!(h["schema"], "sscard-serve");
    assert_eq!(h["schema_version"], "1.0");
    assert_eq!(h["id"], 1);
    assert_eq!(
        h["functions"].as_array().unwrap().len(),
        6,
        "the five national functions and iActivateCard_FirstUse"
    );
    let r = c.call(json!({"type": "readers"}));
    assert_eq!(r["schema"], "sscard-readers");
    let names: Vec<&str> = r["readers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&bed.pcscd.reader_name(0)), "{r}");
    assert_eq!(r["readers"][0]["card_present"], false);
    // No card: an sscard-error with exit code 4 (no card); 502 over HTTP.
    let e = c.call(json!({"type": "card"}));
    assert_eq!(e["schema"], "sscard-error", "{e}");
    assert_eq!(e["error"]["exit_code"], 4, "{e}");
    let (status, _) = svc.http("GET", "/api/v1/card", &[], "");
    assert_eq!(status, 502);

    insert(&mut bed, "ssc-2.00.json");
    let d = c.call(json!({"type": "card", "id": "c"}));
    assert_eq!(d["schema"], "sscard-info", "{d}");
    assert_eq!(d["schema_version"], "1.1");
    assert_eq!(d["kind"], "ssc");
    assert_eq!(d["id"], "c");
    assert!(d.to_string().contains("张三"), "{d}");
    let (status, body) = svc.http("GET", "/api/v1/card?reader=0", &[], "");
    assert_eq!(status, 200, "{body}");
    let d2: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d2["kind"], "ssc");
    let (status, body) = svc.http("GET", "/api/v1/readers", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("\"card_present\":true"), "{body}");
    let (status, body) = svc.http("GET", "/api/v1", &[], "");
    assert_eq!(status, 200);
    assert!(body.contains("sscard-serve"));
    // The desk page.
    let (status, body) = svc.http("GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(
        body.contains("iReadCardBas") && body.contains("subscribe"),
        "{body}"
    );
    // A reader that does not exist: a clear error.
    let e = c.call(json!({"type": "card", "reader": "no such reader"}));
    assert_eq!(e["schema"], "sscard-error", "{e}");
    assert_eq!(e["error"]["exit_code"], 3, "{e}");
    let e = c.call(json!({"type": "frobnicate"}));
    assert_eq!(e["error"]["exit_code"], 2, "{e}");
}

#[test]
fn foreign_origin_and_non_loopback_host_refused() {
    let bed = Bed::start();
    let cfg = config(
        &bed,
        "desk.toml",
        None,
        "allowed_origins = [\"https://his.hospital.example\"]",
    );
    let svc = Serve::start(&bed, &cfg, &[]);
    // WebSocket: a foreign origin gets 403 at the handshake.
    for bad in [
        "https://evil.example",
        "null",
        "http://127.0.0.1.evil.example",
    ] {
        match svc.ws(Some(bad)) {
            Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403, "{bad}"),
            Err(e) => panic!("{bad}: {e}"),
            Ok(_) => panic!("{bad} accepted"),
        }
    }
    for good in [
        format!("http://127.0.0.1:{}", svc.port),
        format!("http://localhost:{}", svc.port),
        "https://his.hospital.example".to_string(),
    ] {
        let mut c = svc
            .ws(Some(&good))
            .unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(c.call(json!({"type": "hello"}))["schema"], "sscard-serve");
    }
    // HTTP: a foreign origin, a rebinding host, no host at all.
    let (s, body) = svc.http(
        "POST",
        "/national",
        &[("Origin", "https://evil.example")],
        "{\"function\":\"iReadCardBas\",\"iType\":3}",
    );
    assert_eq!(s, 403, "{body}");
    assert!(
        body.contains("sscard-error") && body.contains("Origin"),
        "{body}"
    );
    let host = format!("evil.example:{}", svc.port);
    for path in ["/", "/api/v1", "/api/v1/card", "/ws"] {
        let (s, body) = svc.http("GET", path, &[("Host", &host)], "");
        assert_eq!(s, 403, "{path}: {body}");
        assert!(body.contains("DNS rebinding"), "{body}");
    }
    let (s, _) = svc.http("GET", "/api/v1", &[("Host", "10.1.2.3")], "");
    assert_eq!(s, 403);
    // An <img>/<script> GET from another site: no Origin, but Sec-Fetch-Site says so.
    let (s, body) = svc.http(
        "GET",
        "/api/v1/card",
        &[("Sec-Fetch-Site", "cross-site")],
        "",
    );
    assert_eq!(s, 403, "{body}");
    let (s, _) = svc.http("GET", "/", &[("Sec-Fetch-Site", "none")], "");
    assert_eq!(s, 200);
    // CORS: an allowed origin's preflight (with Private Network Access) is answered and
    // its answers are readable; a foreign origin's preflight is refused.
    let pre = [
        ("Origin", "https://his.hospital.example"),
        ("Access-Control-Request-Method", "POST"),
        ("Access-Control-Request-Private-Network", "true"),
    ];
    let r = svc
        .http_raw("OPTIONS", "/national", &pre, "")
        .to_ascii_lowercase();
    assert!(r.starts_with("http/1.1 204"), "{r}");
    assert!(
        r.contains("access-control-allow-origin: https://his.hospital.example"),
        "{r}"
    );
    assert!(
        r.contains("access-control-allow-private-network: true"),
        "{r}"
    );
    let r = svc
        .http_raw(
            "GET",
            "/api/v1",
            &[("Origin", "https://his.hospital.example")],
            "",
        )
        .to_ascii_lowercase();
    assert!(
        r.contains("access-control-allow-origin: https://his.hospital.example"),
        "{r}"
    );
    let (s, _) = svc.http(
        "OPTIONS",
        "/national",
        &[
            ("Origin", "https://evil.example"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert_eq!(s, 403);
    // A WebSocket handshake with a rebinding Host.
    let mut req = format!("ws://127.0.0.1:{}/ws", svc.port)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("Host", host.parse().unwrap());
    match tungstenite::connect(req) {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), 403),
        other => panic!("rebinding host: {:?}", other.map(|_| ())),
    }
    let (s, _) = svc.http(
        "GET",
        "/api/v1",
        &[("Host", &format!("localhost:{}", svc.port))],
        "",
    );
    assert_eq!(s, 200);
    // A non-loopback listen address, from the flag or the configuration: exit 2.
    for addr in ["0.0.0.0:8990", "192.0.2.1:80", "[::]:8990"] {
        let r = bed.run(&["serve", "--listen", addr, "--config", cfg.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{addr}: {r:?}");
        assert!(r.stderr.contains("loopback only"), "{r:?}");
    }
    let cfg2 = config(&bed, "open.toml", None, "listen = \"0.0.0.0:8990\"");
    let r = bed.run(&["serve", "--config", cfg2.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{r:?}");
}

#[test]
fn several_clients_at_once_all_answered_none_corrupted() {
    let mut bed = Bed::start();
    let cfg = config(&bed, "desk.toml", None, "");
    let svc = Serve::start(&bed, &cfg, &[]);
    insert(&mut bed, "ssc-2.00.json");
    let want = info_line(&bed, None);
    let clients = 8;
    let calls = 6;
    let port = svc.port;
    let threads: Vec<_> = (0..clients)
        .map(|k| {
            let want = want.clone();
            let svc_port = port;
            std::thread::spawn(move || {
                let mut req = format!("ws://127.0.0.1:{svc_port}/ws")
                    .into_client_request()
                    .unwrap();
                req.headers_mut().insert(
                    "Origin",
                    format!("http://127.0.0.1:{svc_port}").parse().unwrap(),
                );
                let (ws, _) = tungstenite::connect(req).unwrap();
                let mut c = Client { ws };
                let mut ok = 0;
                for i in 0..calls {
                    let id = format!("{k}-{i}");
                    let a = if i % 3 == 2 {
                        let d = c.call(json!({"type": "card", "id": id}));
                        assert_eq!(d["schema"], "sscard-info", "{d}");
                        assert!(d.to_string().contains("张三"));
                        d
                    } else {
                        let a = c.call(json!({"function": "iReadCardBas", "iType": 3, "id": id}));
                        assert_eq!(a["pOutInfo"], want.as_str(), "client {k} call {i}: {a}");
                        a
                    };
                    assert_eq!(
                        a["id"],
                        id.as_str(),
                        "answers in order, to their own client"
                    );
                    ok += 1;
                }
                ok
            })
        })
        .collect();
    let answered: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(answered, clients * calls);
}

#[test]
fn events_on_insert_and_remove() {
    let mut bed = Bed::start();
    let cfg = config(&bed, "desk.toml", None, "");
    let svc = Serve::start(&bed, &cfg, &[]);
    let mut c = svc.ws(None).unwrap();
    let mut quiet = svc.ws(None).unwrap();
    let a = c.call(json!({"type": "subscribe", "id": 5}));
    assert_eq!(a["subscribed"], true, "{a}");
    let reader = bed.pcscd.reader_name(0);
    insert(&mut bed, "ssc-2.00.json");
    let e = c.event("card_inserted", 20);
    assert_eq!(e["schema"], "sscard-reader-event");
    assert_eq!(e["reader"], reader);
    assert!(e["atr"].as_str().is_some_and(|a| !a.is_empty()), "{e}");
    // A national call between events still gets its own answer.
    let mut events = Vec::new();
    let a = c.ask(json!({"function": "iReadCardBas", "iType": 3}), &mut events);
    assert_eq!(ret(&a), 0, "{a}");
    bed.pull(0);
    let e = c.event("card_removed", 20);
    assert_eq!(e["reader"], reader);
    // A client that did not subscribe got no event: its next message is its answer.
    let h = quiet.call(json!({"type": "hello"}));
    assert_eq!(h["schema"], "sscard-serve");
    let mut ev = Vec::new();
    quiet.ask(json!({"type": "hello"}), &mut ev);
    assert!(ev.is_empty(), "{ev:?}");
    // Unsubscribed: no more events.
    c.call(json!({"type": "unsubscribe"}));
    insert(&mut bed, "ssc-1.00.json");
    let mut ev = Vec::new();
    let h = c.ask(json!({"type": "hello"}), &mut ev);
    assert_eq!(h["schema"], "sscard-serve");
    assert!(ev.is_empty(), "{ev:?}");
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Figures, not a gate: `cargo test --release --locked --features pcscd-tests --test
/// serve_e2e -- --ignored --nocapture figures`. The service's own cost per call (a
/// `hello` round trip: framing, JSON, checks, no card) and an `iReadCardBas` round
/// trip, median of 200 each; the service's RSS after 300 and after 2,200 reads.
#[test]
#[ignore]
fn figures() {
    let mut bed = Bed::start();
    let cfg = config(&bed, "desk.toml", None, "");
    let svc = Serve::start(&bed, &cfg, &[]);
    insert(&mut bed, "ssc-2.00.json");
    let mut c = svc.ws(None).unwrap();
    let mut timed = |req: Value| {
        let t = Instant::now();
        let a = c.call(req);
        (t.elapsed(), a)
    };
    let hello: Vec<Duration> = (0..200)
        .map(|_| timed(json!({"type": "hello"})).0)
        .collect();
    let read: Vec<Duration> = (0..200)
        .map(|_| {
            let (d, a) = timed(json!({"function": "iReadCardBas", "iType": 3}));
            assert_eq!(ret(&a), 0);
            d
        })
        .collect();
    let pid = svc.child.id();
    for _ in 0..100 {
        timed(json!({"function": "iReadCardBas", "iType": 3}));
    }
    let rss_100 = rss_kib(pid);
    for _ in 0..1_900 {
        timed(json!({"function": "iReadCardBas", "iType": 3}));
    }
    let rss_2000 = rss_kib(pid);
    println!(
        "hello median {:?}; iReadCardBas median {:?}; RSS after 300 reads {rss_100} KiB, after 2,200 reads {rss_2000} KiB",
        median(hello),
        median(read)
    );
}
