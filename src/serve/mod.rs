//! `sscard serve`: the desk's card service for browser-based systems, on loopback.
//!
//! Browser HIS and pharmacy systems cannot load a C library; they talk to a service on
//! the desk's own loopback address (national-interface.md §4). This one speaks the
//! national function style those systems already use and a typed, versioned API of its
//! own ([`api`]), over HTTP and WebSocket on one port:
//!
//! | path | what |
//! |---|---|
//! | `GET /` | the registration-desk page (reads the card, shows insert/remove live) |
//! | `GET /ws` | WebSocket: one JSON request per text message, one answer each; events after `subscribe` |
//! | `POST /national` | one national-style request as the body |
//! | `GET /api/v1` | the `sscard-serve` document |
//! | `GET /api/v1/readers` | `sscard-readers` |
//! | `GET /api/v1/card[?reader=SEL]` | `sscard-info` |
//!
//! Why axum on tokio: the mainstream, well-kept Rust HTTP stack (hyper underneath),
//! with WebSocket upgrade on the same port built in (`axum::extract::ws`, tungstenite)
//! and middleware for the checks every request must pass; the national-interface spec
//! names a service of the same family (tw-nhi-icc-service) built the same way. PC/SC is
//! blocking, so card work runs off the runtime on one thread per reader
//! ([`worker`]), which also serialises each reader; events come from the reader
//! watcher ([`crate::reader::Watcher`]) on a thread of its own, fanned out to
//! subscribers through a broadcast channel.
//!
//! Security ([`guard`]): the listen address must be loopback; every request's `Host`
//! must be a loopback name (DNS rebinding) and its `Origin`, when present, loopback or
//! configured; requests are logged by method and path only, never with their bodies;
//! PINs come from the desk (see [`api`]).
//!
//! Configuration (`[serve]` in sscard.toml, [`ServeConfig`]): `listen`,
//! `allowed_origins`, `pin_from_page`, `timeout`. The card's reader, keys, PSAM and
//! terminal are the desk's (`[readers]`, `keys`, `terminal`), read once at start, and
//! so is the activation journal first use writes: the desk's own, resolved as `sscard
//! activate` resolves it (`$SSCARD_JOURNAL`, else `journal`, else the default path),
//! never a file of the service's, so the desk's recovery sees every first use.

pub mod api;
pub mod card;
pub mod doc;
pub mod guard;
pub mod worker;

use api::{Effect, Service};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;

/// The listen address when neither `--listen` nor `[serve] listen` gives one.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8990";

/// The largest WebSocket message or HTTP body taken (bytes).
pub const MAX_REQUEST: usize = 64 * 1024;

/// The `[serve]` table of sscard.toml.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Loopback address and port (`127.0.0.1:8990`, `[::1]:8990`, `localhost:8990`).
    pub listen: Option<String>,
    /// Origins allowed besides loopback ones, e.g. `https://his.hospital.example`.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether a page may send the PIN itself (default false: the desk's PIN source).
    #[serde(default)]
    pub pin_from_page: bool,
    /// Seconds a card operation may wait for its reader and run (default 30).
    pub timeout: Option<f64>,
}

/// Why the service cannot start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenError {
    /// Not `HOST:PORT`.
    Malformed(String),
    /// Not a loopback address.
    NotLoopback(String),
}

impl std::fmt::Display for ListenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenError::Malformed(a) => write!(
                f,
                "listen address {a:?} is not HOST:PORT (e.g. 127.0.0.1:8990)"
            ),
            ListenError::NotLoopback(a) => write!(
                f,
                "refusing to listen on {a}: the card service listens on loopback only \
                 (127.0.0.1, [::1], localhost), so no other machine can read the card"
            ),
        }
    }
}

/// Parses a listen address and checks that it is loopback (`localhost` is 127.0.0.1).
///
/// # Errors
/// [`ListenError`] for a malformed or non-loopback address.
pub fn parse_listen(text: &str) -> Result<SocketAddr, ListenError> {
    let t = text.trim();
    let addr = match t.parse::<SocketAddr>() {
        Ok(a) => a,
        Err(_) => match t.rsplit_once(':') {
            Some((h, p)) if h.eq_ignore_ascii_case("localhost") => p
                .parse::<u16>()
                .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
                .map_err(|_| ListenError::Malformed(t.to_string()))?,
            _ => return Err(ListenError::Malformed(t.to_string())),
        },
    };
    if !addr.ip().is_loopback() {
        return Err(ListenError::NotLoopback(addr.to_string()));
    }
    Ok(addr)
}

type Shared = Arc<Service>;

/// Refuses requests whose `Host` or `Origin` is not allowed (403 with an
/// `sscard-error` document); answers CORS preflights of allowed origins (with Private
/// Network Access, which browsers ask before a site's page may call loopback) and
/// marks their answers readable; logs method and path (never a body or query).
async fn check(State(svc): State<Shared>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let host = match h.get(header::HOST) {
        Some(v) => v.to_str().ok().map(str::to_string),
        None => req.uri().authority().map(|a| a.to_string()),
    };
    let text = |name: &str| {
        h.get(name)
            .map(|v| v.to_str().unwrap_or("\u{fffd}").to_string())
    };
    let origin = text("origin");
    let site = text("sec-fetch-site");
    let verdict = guard::check_host(host.as_deref())
        .and_then(|()| guard::check_origin(origin.as_deref(), &svc.allowed_origins))
        .and_then(|()| guard::check_fetch_site(origin.as_deref(), site.as_deref()));
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    if let Err(refusal) = verdict {
        log::warn!("refused {method} {path}: {refusal}");
        let body = doc::error(
            crate::error::ExitCode::Refused as u8,
            &refusal.to_string(),
            None,
        );
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    }
    let preflight = method == axum::http::Method::OPTIONS
        && h.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let private_network = text("access-control-request-private-network").as_deref() == Some("true");
    let mut r = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let hm = r.headers_mut();
        hm.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            header::HeaderValue::from_static("GET, POST"),
        );
        hm.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            header::HeaderValue::from_static("content-type"),
        );
        hm.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            header::HeaderValue::from_static("600"),
        );
        if private_network {
            hm.insert(
                "access-control-allow-private-network",
                header::HeaderValue::from_static("true"),
            );
        }
        r
    } else {
        next.run(req).await
    };
    if let Some(o) = origin.and_then(|o| header::HeaderValue::from_str(&o).ok()) {
        r.headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        r.headers_mut()
            .insert(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    log::info!("{method} {path} -> {}", r.status().as_u16());
    r
}

fn json_answer(a: api::Answer) -> Response {
    let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
    (status, axum::Json(a.body)).into_response()
}

/// The page, never framed by another page (`frame-ancestors` works only as a header,
/// not in the page's `<meta>` CSP; `X-Frame-Options` for browsers without it): a
/// framing page could overlay it and steer the operator's clicks; browsers without
/// Fetch Metadata get past the `Sec-Fetch-Site` check ([`guard::check_fetch_site`]).
async fn page() -> impl IntoResponse {
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(include_str!("page.html")),
    )
}

async fn hello(State(svc): State<Shared>) -> Response {
    axum::Json(api::hello(&svc)).into_response()
}

async fn readers() -> Response {
    json_answer(api::readers().await)
}

async fn card(State(svc): State<Shared>, Query(q): Query<HashMap<String, String>>) -> Response {
    let reader = q.get("reader").cloned().unwrap_or_default();
    json_answer(api::card_doc(&svc, reader).await)
}

async fn national_http(State(svc): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let _ = headers;
    json_answer(api::handle(&svc, &body).await)
}

async fn ws(
    State(svc): State<Shared>,
    State(events): State<Events>,
    up: WebSocketUpgrade,
) -> Response {
    up.max_message_size(MAX_REQUEST)
        .max_frame_size(MAX_REQUEST)
        .on_upgrade(move |socket| connection(socket, svc, events))
}

/// The event fan-out (one `sscard-reader-event` document per message).
#[derive(Clone)]
struct Events(broadcast::Sender<Arc<str>>);

#[derive(Clone)]
struct AppState {
    svc: Shared,
    events: Events,
}

impl axum::extract::FromRef<AppState> for Shared {
    fn from_ref(s: &AppState) -> Shared {
        s.svc.clone()
    }
}

impl axum::extract::FromRef<AppState> for Events {
    fn from_ref(s: &AppState) -> Events {
        s.events.clone()
    }
}

async fn next_event(rx: &mut Option<broadcast::Receiver<Arc<str>>>) -> Arc<str> {
    loop {
        match rx {
            None => std::future::pending::<()>().await,
            Some(r) => match r.recv().await {
                Ok(e) => return e,
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    log::warn!("a WebSocket client missed {n} events");
                }
                Err(broadcast::error::RecvError::Closed) => *rx = None,
            },
        }
    }
}

/// One WebSocket client: its requests answered in order, events pushed when
/// subscribed. Card work of other clients goes on meanwhile (their own tasks).
async fn connection(mut socket: WebSocket, svc: Shared, events: Events) {
    let mut sub: Option<broadcast::Receiver<Arc<str>>> = None;
    loop {
        tokio::select! {
            msg = socket.recv() => {
                let answer = match msg {
                    Some(Ok(Message::Text(t))) => api::handle(&svc, t.as_str()).await,
                    Some(Ok(Message::Binary(_))) => api::handle(&svc, "binary").await,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                };
                match answer.effect {
                    Effect::Subscribe => sub = Some(events.0.subscribe()),
                    Effect::Unsubscribe => sub = None,
                    Effect::None => {}
                }
                if socket.send(Message::Text(answer.body.to_string().into())).await.is_err() {
                    break;
                }
            }
            e = next_event(&mut sub) => {
                if socket.send(Message::Text(e.to_string().into())).await.is_err() {
                    break;
                }
            }
        }
    }
}

/// Watches readers and cards on a thread of its own and publishes each event.
fn watch(tx: broadcast::Sender<Arc<str>>) {
    loop {
        let mut w = match crate::reader::Watcher::new_patient() {
            Ok(w) => w,
            Err(e) => {
                log::warn!("reader watcher: {e}");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            match w.next_events(Some(Duration::from_secs(5))) {
                Ok(evs) => {
                    for e in evs {
                        let v = serde_json::to_value(&e).unwrap_or_default();
                        let d = doc::document(doc::Doc::ReaderEvent, v);
                        let _ = tx.send(Arc::from(d.to_string()));
                    }
                }
                Err(e) => {
                    log::warn!("reader watcher: {e}");
                    std::thread::sleep(Duration::from_secs(1));
                    break;
                }
            }
        }
    }
}

/// What the service needs to start.
pub struct Options {
    /// The loopback address (checked by [`parse_listen`]).
    pub listen: SocketAddr,
    /// The `[serve]` table.
    pub config: ServeConfig,
    /// The desk's settings (reader, keys, PSAM, terminal, device id, PIN source).
    pub settings: crate::national::Settings,
}

/// Binds, prints `sscard serve: listening on http://ADDR/` on stdout, and serves
/// until the process is stopped.
///
/// # Errors
/// [`crate::error::Error::Io`] when the address cannot be bound (in use, not
/// permitted); a usage error for a bad `[serve] timeout`.
pub fn run(opts: Options) -> Result<(), crate::error::Error> {
    use crate::error::{Error, ExitCode};
    if !opts.listen.ip().is_loopback() {
        return Err(Error::Other {
            message: ListenError::NotLoopback(opts.listen.to_string()).to_string(),
            code: ExitCode::Usage,
        });
    }
    let timeout = api::timeout_of(opts.config.timeout).map_err(|message| Error::Other {
        message,
        code: ExitCode::Usage,
    })?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            path: "tokio runtime".into(),
            source,
        })?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(opts.listen)
            .await
            .map_err(|source| Error::Io {
                path: format!("listen {}", opts.listen),
                source,
            })?;
        let local = listener.local_addr().map_err(|source| Error::Io {
            path: "listen".into(),
            source,
        })?;
        let (tx, _) = broadcast::channel(256);
        let watch_tx = tx.clone();
        std::thread::Builder::new()
            .name("sscard-watch".into())
            .spawn(move || watch(watch_tx))
            .map_err(|source| Error::Io {
                path: "watcher thread".into(),
                source,
            })?;
        log::info!("activation journal: {}", opts.settings.journal.display());
        let svc = Arc::new(Service {
            workers: worker::Workers::new(opts.settings, timeout),
            pin_from_page: opts.config.pin_from_page,
            allowed_origins: opts.config.allowed_origins,
            listen: format!("http://{local}"),
        });
        let state = AppState {
            svc: svc.clone(),
            events: Events(tx),
        };
        let app = Router::new()
            .route("/", get(page))
            .route("/ws", get(ws))
            .route("/national", post(national_http))
            .route("/api/v1", get(hello))
            .route("/api/v1/readers", get(readers))
            .route("/api/v1/card", get(card))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST))
            .layer(middleware::from_fn_with_state(svc, check))
            .with_state(state);
        {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "sscard serve: listening on http://{local}/ (WebSocket ws://{local}/ws)"
            );
            let _ = out.flush();
        }
        axum::serve(listener, app)
            .await
            .map_err(|source| Error::Io {
                path: format!("serve {local}"),
                source,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("127.0.0.1:8990").unwrap().port(), 8990);
        assert!(parse_listen("[::1]:1").unwrap().ip().is_loopback());
        assert_eq!(
            parse_listen("localhost:0").unwrap(),
            "127.0.0.1:0".parse().unwrap()
        );
        assert!(parse_listen("127.3.4.5:80").is_ok());
        for bad in [
            "0.0.0.0:8990",
            "192.168.1.2:8990",
            "[::]:8990",
            "8.8.8.8:53",
        ] {
            assert!(
                matches!(parse_listen(bad), Err(ListenError::NotLoopback(_))),
                "{bad}"
            );
        }
        for bad in [
            "127.0.0.1",
            "",
            "localhost:x",
            "evil.example:80",
            "127.0.0.1:99999",
        ] {
            assert!(
                matches!(parse_listen(bad), Err(ListenError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_page_cannot_be_framed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(page()).into_response();
        let h = r.headers();
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], "frame-ancestors 'none'");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn the_serve_table() {
        let c = crate::config::parse(
            std::path::Path::new("/etc/sscard/sscard.toml"),
            "[serve]\nlisten = \"127.0.0.1:9000\"\nallowed_origins = [\"https://his.example\"]\npin_from_page = true\ntimeout = 5\n",
        )
        .unwrap();
        let s = c.serve.unwrap();
        assert_eq!(s.listen.as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(s.allowed_origins, vec!["https://his.example".to_string()]);
        assert!(s.pin_from_page);
        assert_eq!(s.timeout, Some(5.0));
        assert!(crate::config::parse(
            std::path::Path::new("x.toml"),
            "[serve]\npin_form_page = true\n"
        )
        .is_err());
    }
}
