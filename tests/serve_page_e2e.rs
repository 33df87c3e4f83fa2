//! End-to-end: the registration-desk page of `sscard serve` (src/serve/page.html) in a
//! real headless Chromium, driven through chromedriver's W3C WebDriver HTTP API, with a
//! private pcscd + vpcd and virtual cards inserted and pulled *after* the page loaded
//! (the live event path): the holder's fields appear on insertion and equal
//! `sscard info --format national`, the Read button reads again, removal clears them,
//! a card refused by the service shows an error, and names carrying HTML/script are
//! shown as text: no element injected, no alert, no Content-Security-Policy violation,
//! no console error. A screenshot of the page with a card read goes to the test's temp
//! dir (and to `$SSCARD_PAGE_SCREENSHOT` when set: docs/img/serve-page.png is made by
//! hand with `SSCARD_PAGE_SCREENSHOT=docs/img/serve-page.png cargo test --release
//! --locked --features pcscd-tests --test serve_page_e2e desk_page`, with a CJK font
//! such as Debian's fonts-wqy-microhei installed so the Chinese labels render).
//!
//! Needs `chromium` and `chromium-driver` (Debian; scripts/setup installs them). On a
//! pcscd-tier run without them the tests fail and say so: never skipped silently.
//! `SSCARD_CHROMIUM` / `SSCARD_CHROMEDRIVER` name other binaries.
//!
//! Why a WebDriver client of our own (≈100 lines over `std::net` and serde_json) and not
//! fantoccini/thirtyfour: the tests use nine endpoints of one local HTTP/1.1 server;
//! those crates bring an async HTTP client stack (hyper-util, a TLS stack, tokio in the
//! test) for that. WebDriver over CDP: it is the W3C standard, so the same client can
//! drive Firefox's geckodriver, and chromedriver owns the browser's life cycle.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use base64::Engine as _;
use common::Bed;
use serde_json::{json, Value};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TODAY: &str = "20260701";
const DEVICE: &str = "VPCD0000";

/// A running `sscard serve` on 127.0.0.1 (a child process: the test process never
/// talks PC/SC, see tests/common).
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
    fn start(bed: &Bed) -> Serve {
        let cfg = bed.dir.path().join("desk.toml");
        std::fs::write(
            &cfg,
            format!("[readers]\ncard = \"{}\"\n", bed.pcscd.reader_name(0)),
        )
        .unwrap();
        let log = bed.dir.path().join("serve.log");
        let mut child = bed
            .cmd()
            .args(["-vv", "serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&cfg)
            .env("SSCARD_DEVICE_ID", DEVICE)
            .env("SSCARD_TODAY", TODAY)
            .env_remove("SSCARD_PIN_FILE")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
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

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// `sscard info --format national` on the card in slot 0: the line the page shows.
fn info_line(bed: &Bed) -> Vec<String> {
    let o = bed
        .cmd()
        .args(["info", "-r", "0", "--format", "national"])
        .env("SSCARD_TODAY", TODAY)
        .env("SSCARD_DEVICE_ID", DEVICE)
        .env("SSCARD_CONFIG", "none")
        .env("LANG", "C.UTF-8")
        .env_remove("LC_ALL")
        .env_remove("LC_CTYPE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8(o.stdout).unwrap();
    line.trim_end().split('|').map(str::to_string).collect()
}

/// The first of `names` on `$PATH` (or the file `$env` names); a clear panic otherwise.
fn tool(env: &str, names: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "${env} = {} is not a file", p.display());
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/lib/chromium")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "the desk-page test needs a headless browser: none of {names:?} found on $PATH \
         (Debian: apt-get install chromium chromium-driver, as scripts/setup does; or set \
         ${env}). This test is part of the pcscd tier and is not skipped."
    )
}

/// One HTTP/1.1 exchange with chromedriver; returns the status and the JSON body.
fn http_json(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("chromedriver on port {port}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    // Read until the body is complete (Content-Length or the last chunk): chromedriver
    // may keep the connection open despite `Connection: close`.
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let (head, payload) = loop {
        let n = s
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("chromedriver {method} {path}: {e}"));
        raw.extend_from_slice(&buf[..n]);
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
        if let Some(split) = split {
            let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
            let body = &raw[split + 4..];
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let done = match length {
                Some(len) => body.len() >= len,
                None if head.contains("transfer-encoding: chunked") => body.ends_with(b"0\r\n\r\n"),
                None => n == 0,
            };
            if done || n == 0 {
                let body = match length {
                    Some(len) => body[..len.min(body.len())].to_vec(),
                    None if head.contains("transfer-encoding: chunked") => dechunk(body),
                    None => body.to_vec(),
                };
                break (head, body);
            }
        } else if n == 0 {
            panic!("{method} {path}: no HTTP header in the answer");
        }
    };
    let status = head.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let v = serde_json::from_slice(&payload).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&payload)
        )
    });
    (status, v)
}

/// The body of a `Transfer-Encoding: chunked` answer.
fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 4 + size..];
    }
    out
}

/// A chromedriver process with one headless Chromium session.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = http_json(
            self.port,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium whose profile lives in
    /// `dir`.
    fn start(dir: &Path) -> Browser {
        let chromium = tool(
            "SSCARD_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let chromedriver = tool("SSCARD_CHROMEDRIVER", &["chromedriver"]);
        let mut driver = Command::new(&chromedriver)
            .arg("--port=0")
            .arg(format!(
                "--log-path={}",
                dir.join("chromedriver.log").display()
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", chromedriver.display()));
        let mut out = std::io::BufReader::new(driver.stdout.take().unwrap());
        let mut port = None;
        let mut seen = String::new();
        for _ in 0..20 {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            seen.push_str(&line);
            // "ChromeDriver was started successfully on port 45707."
            if let Some(rest) = line.split("successfully on port ").nth(1) {
                port = rest.trim().trim_end_matches('.').parse().ok();
                break;
            }
        }
        let port: u16 = port.unwrap_or_else(|| panic!("chromedriver did not start: {seen}"));
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        let profile = dir.join("chromium-profile");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                    "--window-size=760,700", "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let (status, v) = http_json(port, "POST", "/session", Some(&caps));
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| {
                panic!(
                    "no browser session ({status}): {v}\n--- chromedriver log (tail)\n{}",
                    common::tail(
                        &std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default(),
                        30
                    )
                )
            })
            .to_string();
        Browser {
            driver,
            port,
            session,
        }
    }

    /// A session command; `Err((error, message))` for a WebDriver error.
    fn try_cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let full = format!("/session/{}{path}", self.session);
        let (status, v) = http_json(self.port, method, &full, body.as_ref());
        if status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!(
                "{} ({status}): {}",
                v["value"]["error"].as_str().unwrap_or("?"),
                v["value"]["message"].as_str().unwrap_or("")
            ))
        }
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_cmd(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// Runs `script` (a function body) in the page and returns its value.
    fn js(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The page's state as the test reads it: status, error, fields, table shown.
    fn state(&self) -> Value {
        self.js("const t = (id) => document.getElementById(id).textContent;
             return {status: t('status'), statusClass: document.getElementById('status').className,
                     error: t('error'), name: t('name'), id: t('id'), cardno: t('cardno'),
                     region: t('region'), version: t('version'), valid: t('valid'),
                     shown: !document.getElementById('card').hidden,
                     readDisabled: document.getElementById('read').disabled};")
    }

    /// Polls the page until `ok(state)` holds, for at most `secs`.
    fn wait(&self, what: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.state();
            if ok(&s) {
                return s;
            }
            if Instant::now() > deadline {
                panic!(
                    "the page did not show {what} within {secs} s; it shows {s:#}\n\
                     --- browser console\n{:#?}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn click(&self, css: &str) {
        let e = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        // The W3C element reference key (WebDriver §12.1).
        let id = e["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {e}"))
            .to_string();
        self.cmd("POST", &format!("/element/{id}/click"), Some(json!({})));
    }

    /// The browser console since the last call (chromedriver's log endpoint).
    fn console(&self) -> Vec<Value> {
        self.try_cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }

    /// The text of an open alert/confirm/prompt, if one is open.
    fn alert(&self) -> Option<String> {
        self.try_cmd("GET", "/alert/text", None)
            .ok()
            .map(|v| v.to_string())
    }

    /// A PNG of the viewport, written to `path`; returns its size in bytes.
    fn screenshot(&self, path: &Path) -> usize {
        let b64 = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        std::fs::write(path, &png).unwrap();
        png.len()
    }
}

/// Installs a recorder of Content-Security-Policy violations in the loaded page.
fn record_csp(b: &Browser) {
    b.js("window.__csp = [];
          document.addEventListener('securitypolicyviolation',
            (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
          return true;");
}

/// No CSP violation, no console error, no alert: the page ran clean.
fn assert_clean(b: &Browser, svc: &Serve) {
    assert_eq!(b.alert(), None, "an alert is open");
    let csp = b.js("return window.__csp;");
    assert_eq!(csp, json!([]), "Content-Security-Policy violations");
    let errors: Vec<Value> = b
        .console()
        .into_iter()
        .filter(|e| e["level"] == "SEVERE")
        .collect();
    assert!(
        errors.is_empty(),
        "browser console errors: {errors:#?}\n--- service log\n{}",
        common::tail(&svc.log(), 20)
    );
}

/// The inline script's and style sheet's SHA-256 must be the ones the page's CSP
/// allows, or the browser refuses to run it (checked first for a clear message).
#[test]
fn page_csp_hashes_match_the_inline_script_and_style() {
    use sha2::Digest as _;
    let page = include_str!("../src/serve/page.html");
    let hash = |open: &str, close: &str| {
        let body = page
            .split(open)
            .nth(1)
            .unwrap()
            .split(close)
            .next()
            .unwrap();
        let d = sha2::Sha256::digest(body.as_bytes());
        format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(d)
        )
    };
    for (what, open, close, directive) in [
        ("<script>", "<script>", "</script>", "script-src"),
        ("<style>", "<style>", "</style>", "style-src"),
    ] {
        let h = hash(open, close);
        assert!(
            page.contains(&format!("{directive} {h}")),
            "src/serve/page.html: the CSP's {directive} must be {h} (the SHA-256 of its {what})"
        );
    }
    assert!(!page.contains("unsafe-inline") && !page.contains("innerHTML"));
    for external in [
        "src=\"http",
        "href=\"http",
        "src=\"//",
        "href=\"//",
        "@import",
    ] {
        assert!(!page.contains(external), "external resource: {external}");
    }
}

#[test]
fn desk_page_shows_a_card_inserted_read_and_removed_live() {
    let mut bed = Bed::start();
    let svc = Serve::start(&bed);
    let b = Browser::start(bed.dir.path());
    b.goto(&svc.url());
    record_csp(&b);
    // Loaded, connected, no card: waiting, nothing shown, the button usable.
    let s = b.wait("“waiting for a card”", 30, |s| {
        s["status"].as_str().unwrap().contains("waiting for a card") && s["readDisabled"] == false
    });
    assert_eq!(s["shown"], false, "{s}");
    assert_eq!(s["name"], "", "{s}");
    assert_eq!(s["error"], "", "no card is not an error at start: {s}");

    // Insert after the page loaded: the event path reads the card.
    let img = bed.image("ssc-2.00.json");
    bed.insert(0, &img, &["--no-save"]);
    let f = info_line(&bed);
    assert_eq!(f[4], "张三");
    let s = b.wait("the holder after insertion", 30, |s| s["name"] == "张三");
    assert_eq!(s["shown"], true, "{s}");
    assert_eq!(s["id"], f[1].as_str(), "{s}");
    assert_eq!(s["cardno"], f[2].as_str(), "{s}");
    assert_eq!(s["region"], f[0].as_str(), "{s}");
    assert_eq!(s["version"], f[6].as_str(), "{s}");
    let d = |x: &str| format!("{}-{}-{}", &x[..4], &x[4..6], &x[6..]);
    assert_eq!(s["valid"], format!("{} – {}", d(&f[7]), d(&f[8])), "{s}");
    assert_eq!(s["statusClass"], "in", "{s}");
    assert!(s["status"].as_str().unwrap().contains("已插卡"), "{s}");
    assert_eq!(s["error"], "", "{s}");
    let shot = bed.dir.path().join("serve-page.png");
    let size = b.screenshot(&shot);
    assert!(size > 1000, "screenshot of {size} bytes");
    eprintln!("screenshot: {} ({size} bytes)", shot.display());
    if let Some(dst) = std::env::var_os("SSCARD_PAGE_SCREENSHOT") {
        std::fs::copy(&shot, &dst).unwrap();
        eprintln!("screenshot copied to {}", PathBuf::from(dst).display());
    }

    // The Read button: fields blanked by the test, one click fills them again.
    b.js(
        "for (const id of ['name','id','cardno']) document.getElementById(id).textContent = '';
          return true;",
    );
    b.click("#read");
    let s = b.wait("the holder after Read", 30, |s| s["name"] == "张三");
    assert_eq!(s["id"], f[1].as_str(), "{s}");

    // Removal clears the fields.
    bed.pull(0);
    let s = b.wait("the fields cleared after removal", 30, |s| {
        s["shown"] == false && s["status"].as_str().unwrap().contains("card removed")
    });
    for k in ["name", "id", "cardno", "region", "version", "valid"] {
        assert_eq!(s[k], "", "{k} not cleared: {s}");
    }
    assert_eq!(s["statusClass"], "out");

    // Read with no card: the national code and message, nothing shown.
    b.click("#read");
    let s = b.wait("the no-card error", 30, |s| {
        s["error"].as_str().unwrap().contains("-2")
    });
    assert!(s["error"].as_str().unwrap().contains("未插卡"), "{s}");
    assert_eq!(s["shown"], false, "{s}");

    // A card the service refuses (garbage status words): an error, no stale fields.
    bed.insert(0, &img, &["--no-save", "--malice", "garbage-sw"]);
    let s = b.wait("an error for a broken card", 30, |s| {
        s["error"].as_str().unwrap().contains("读卡失败")
    });
    assert_eq!(s["shown"], false, "{s}");
    assert_eq!(s["name"], "", "{s}");
    bed.pull(0);
    assert_clean(&b, &svc);
    let log = svc.log();
    assert!(
        log.contains("GET /ws -> "),
        "the page used the WebSocket: {log}"
    );
}

/// A copy of the 2.00 reference card whose name (tag 09, 30 bytes) and name extension
/// (tag 4E, 20 bytes) carry these ASCII texts.
fn hostile_card(bed: &Bed, file: &str, name: &str, ext: &str) -> PathBuf {
    assert!(name.len() <= 30 && ext.len() <= 20);
    let src = common::root().join("cards/ssc-2.00.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(src).unwrap()).unwrap();
    let dfs = v["mf"]["dfs"].as_array_mut().unwrap();
    let ssse = dfs.iter_mut().find(|d| d["name"] == "SSSE").unwrap();
    let ef06 = ssse["efs"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|e| e["name"] == "EF06")
        .unwrap();
    for r in ef06["records"].as_array_mut().unwrap() {
        match r["tag"].as_str() {
            Some("09") => r["hex"] = json!(hex::encode_upper(name)),
            Some("4E") => r["hex"] = json!(hex::encode_upper(ext)),
            _ => {}
        }
    }
    let path = bed.dir.path().join(file);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

#[test]
fn hostile_names_are_shown_as_text_never_run() {
    let mut bed = Bed::start();
    let svc = Serve::start(&bed);
    let b = Browser::start(bed.dir.path());
    b.goto(&svc.url());
    record_csp(&b);
    b.wait("“waiting for a card”", 30, |s| {
        s["status"].as_str().unwrap().contains("waiting for a card")
    });
    let cards = [
        (
            "hostile-img.json",
            "<img src=x onerror=alert(1)>",
            "<b id=inj>X</b>",
        ),
        (
            "hostile-script.json",
            "<script>alert(2)</script>",
            "<svg/onload=alert()>",
        ),
        (
            "hostile-quote.json",
            "\"><i id=inj>q</i><!--",
            "'/><u id=inj>",
        ),
    ];
    for (file, name, ext) in cards {
        let img = hostile_card(&bed, file, name, ext);
        bed.insert(0, &img, &["--no-save"]);
        let want = format!("{name}{ext}");
        let line = info_line(&bed);
        assert_eq!(
            line[4], want,
            "the library passes the name through unchanged"
        );
        let s = b.wait("the hostile name as text", 30, |s| {
            s["name"] == want.as_str()
        });
        assert_eq!(s["shown"], true, "{s}");
        let dom = b.js(
            "return {injected: document.querySelectorAll('img, svg, b, i, u, #inj').length,
                     scripts: document.scripts.length,
                     nameChildren: document.getElementById('name').children.length,
                     nameNodes: document.getElementById('name').childNodes.length};",
        );
        assert_eq!(
            dom,
            json!({"injected": 0, "scripts": 1, "nameChildren": 0, "nameNodes": 1}),
            "{file}: the name became markup"
        );
        assert_eq!(b.alert(), None, "{file}: an alert opened");
        bed.pull(0);
        b.wait("the fields cleared", 30, |s| {
            s["shown"] == false && s["name"] == ""
        });
    }
    assert_clean(&b, &svc);
}
