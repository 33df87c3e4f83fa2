//! The two languages the service speaks, one JSON object per request.
//!
//! **National style** (national-interface.md §4), for HIS code written against vendor
//! services: `{"function":"iReadCardBas","iType":3}` is answered
//! `{"functionName":"iReadCardBas","success":true,"ret":0,"pOutInfo":"639900|…|"}`.
//! `success` is a JSON boolean and `ret` the national return code (0, or the negative
//! codes of §3), because clients differ on which they test. `pOutInfo` is the national
//! module's output as a UTF-8 string: the basic line, the Step1 factors, `""` after a
//! PIN function, or on failure the code's message in Chinese and English
//! (`未插卡 / no card`); `detail` adds what happened, for the technician (never a
//! secret). Functions: `iReadCardBas` and `iReadCardBas_HSM_Step1` (`iType`),
//! `iReadCardBas_HSM_Step2` (`pKey`), `iVerifyPIN` and `iChangePIN` (`iType`; the PIN
//! comes from the desk's PIN device, see below), and sscard's own
//! `iActivateCard_FirstUse` (`iType`, optional `iVerifyHolder` 0/1: first use driven
//! by the HIS, `pOutInfo` the basic line after activation; codes as libsscard's, see
//! [`crate::national::first_use`]). An `id` (number or short string) is echoed, so a
//! client may match answers to requests.
//!
//! **The service's own API**, typed and versioned (every answer a document with
//! `schema` and `schema_version`, see [`super::doc`]): `{"type":"hello"}` (the
//! `sscard-serve` document), `{"type":"readers"}` (`sscard-readers`),
//! `{"type":"card","reader":"0"}` (`sscard-info`; `reader` optional, a reader selector
//! as `--reader`), `{"type":"first-use","reader":"0","verify_holder":false}` (first
//! use driven by the HIS: the `sscard-receipt` document of `sscard activate first-use
//! --receipt json`, with the journal's `transfer_id` and the card's `basic_line`; see
//! [`first_use_doc`]), `{"type":"subscribe"}` / `{"type":"unsubscribe"}` (over
//! WebSocket: card and reader events, `sscard-reader-event` documents, pushed from
//! then on). Failures are `sscard-error` documents carrying the exit code `sscard`
//! would end with.
//!
//! **First use and the journal**: both forms run the desk's activation core
//! ([`crate::national::first_use`]) and write the desk's journal, resolved as `sscard
//! activate` resolves it (`$SSCARD_JOURNAL`, else `journal` in the configuration, else
//! the default path; the `sscard-serve` document names it), so `sscard journal list`
//! and the desk's recovery see what the HIS did. A first use that outlives the
//! service's timeout is answered "timed out" but runs to its end on the reader's
//! thread (a card write is never abandoned half-way by the service); one torn by a
//! pulled card is in the journal, and `sscard activate first-use` at the desk
//! finishes the card or refuses it as already active.
//!
//! **PINs**: the national PIN functions take no PIN argument; the service asks the
//! desk's PIN source (the terminal it runs on, or `$SSCARD_PIN_FILE`), so a web page
//! never sees or carries the holder's PIN. A request that carries a PIN (any member
//! whose name contains `pin`, any case) is refused with −13 unless the configuration
//! says `[serve] pin_from_page = true`; then `pin` (`iVerifyPIN`) or `oldPin` and
//! `newPin` (`iChangePIN`) are used and wiped. Requests are never logged with their
//! bodies, and no answer repeats a request's members other than `id`.

use super::card::{self, PinCall};
use super::doc::{self, Doc};
use super::worker::{NoAnswer, Workers};
use crate::error::{Error, ExitCode};
use crate::national::{Failure, NationalError};
use serde_json::{json, Map, Value};
use std::time::Duration;
use zeroize::Zeroizing;

/// The national functions this service answers.
pub const FUNCTIONS: [&str; 6] = [
    "iReadCardBas",
    "iReadCardBas_HSM_Step1",
    "iReadCardBas_HSM_Step2",
    "iVerifyPIN",
    "iChangePIN",
    "iActivateCard_FirstUse",
];

/// The types of the service's own API.
pub const TYPES: [&str; 6] = [
    "hello",
    "readers",
    "card",
    "first-use",
    "subscribe",
    "unsubscribe",
];

/// What the handlers share.
pub struct Service {
    /// The card workers, one per reader.
    pub workers: Workers,
    /// Whether pages may send PINs (`[serve] pin_from_page`).
    pub pin_from_page: bool,
    /// Origins allowed besides loopback ones (`[serve] allowed_origins`).
    pub allowed_origins: Vec<String>,
    /// Where the service listens (`http://ADDR`).
    pub listen: String,
}

/// What a request asks of the connection besides its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing.
    None,
    /// Push events from now on.
    Subscribe,
    /// Stop pushing events.
    Unsubscribe,
}

/// An answer and its HTTP status.
pub struct Answer {
    /// The JSON sent back.
    pub body: Value,
    /// 200, or 400/502/504 for a failed typed request (national answers are 200).
    pub status: u16,
    /// What the connection should do.
    pub effect: Effect,
}

impl Answer {
    fn ok(body: Value) -> Answer {
        Answer {
            body,
            status: 200,
            effect: Effect::None,
        }
    }

    fn error(e: &Error) -> Answer {
        let code = e.exit_code();
        let status = match code {
            ExitCode::Usage => 400,
            ExitCode::Timeout => 504,
            _ => 502,
        };
        Answer {
            body: doc::error(code as u8, &e.to_string(), e.hint()),
            status,
            effect: Effect::None,
        }
    }
}

/// The `id` to echo: a number, or a string of at most 64 bytes.
fn id_of(req: &Map<String, Value>) -> Option<Value> {
    match req.get("id") {
        Some(Value::Number(n)) => Some(Value::Number(n.clone())),
        Some(Value::String(s)) if s.len() <= 64 => Some(Value::String(s.clone())),
        _ => None,
    }
}

fn with_id(mut v: Value, id: Option<Value>) -> Value {
    if let (Some(id), Value::Object(m)) = (id, &mut v) {
        m.insert("id".into(), id);
    }
    v
}

/// Answers one request (the text of a WebSocket message or an HTTP body).
pub async fn handle(svc: &Service, text: &str) -> Answer {
    let req = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return usage("a request is one JSON object", None),
        Err(e) => return usage(&format!("not JSON: {e}"), None),
    };
    let id = id_of(&req);
    if req.contains_key("function") || req.contains_key("functionName") {
        let mut a = Answer::ok(national(svc, &req).await);
        a.body = with_id(a.body, id);
        return a;
    }
    let mut a = match req.get("type").and_then(Value::as_str) {
        Some("hello") => Answer::ok(hello(svc)),
        Some("readers") => readers().await,
        Some("card") => match req.get("reader") {
            None | Some(Value::Null) => card_doc(svc, String::new()).await,
            Some(Value::String(r)) if !r.is_empty() && r.len() <= 256 => {
                card_doc(svc, r.clone()).await
            }
            Some(_) => usage("reader: a non-empty string (a reader selector)", None),
        },
        Some("first-use") => first_use_doc(svc, &req).await,
        Some("subscribe") => Answer {
            effect: Effect::Subscribe,
            ..Answer::ok(doc::document(Doc::Serve, json!({"subscribed": true})))
        },
        Some("unsubscribe") => Answer {
            effect: Effect::Unsubscribe,
            ..Answer::ok(doc::document(Doc::Serve, json!({"subscribed": false})))
        },
        Some(other) => usage(
            &format!("unknown type {:?}: {}", truncate(other), TYPES.join(", ")),
            None,
        ),
        None => usage(
            &format!(
                "a request has \"function\" (national style) or \"type\" ({})",
                TYPES.join(", ")
            ),
            None,
        ),
    };
    a.body = with_id(a.body, id);
    a
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

fn usage(message: &str, hint: Option<&str>) -> Answer {
    Answer {
        body: doc::error(ExitCode::Usage as u8, message, hint),
        status: 400,
        effect: Effect::None,
    }
}

/// The `sscard-serve` document.
pub fn hello(svc: &Service) -> Value {
    doc::document(
        Doc::Serve,
        json!({
            "service": "sscard serve",
            "version": env!("CARGO_PKG_VERSION"),
            "api": 1,
            "listen": svc.listen,
            "functions": FUNCTIONS,
            "types": TYPES,
            "journal": svc.workers.journal().display().to_string(),
            "pin_from_page": svc.pin_from_page,
            "timeout_s": svc.workers.timeout().as_secs_f64(),
        }),
    )
}

/// The readers (`sscard-readers`), listed on a blocking thread (no card is touched).
pub async fn readers() -> Answer {
    let listed = tokio::task::spawn_blocking(|| {
        let ctx = crate::reader::establish()?;
        crate::reader::list_readers(&ctx)
    })
    .await;
    match listed {
        Ok(Ok(r)) => Answer::ok(doc::document(Doc::Readers, json!({ "readers": r }))),
        Ok(Err(t)) => Answer::error(&Error::Transport(t)),
        Err(_) => Answer::error(&Error::Other {
            message: "the reader listing failed".into(),
            code: ExitCode::Internal,
        }),
    }
}

/// The card in `reader` (`""`: the desk's) as `sscard-info`.
pub async fn card_doc(svc: &Service, reader: String) -> Answer {
    match svc.workers.run(&reader, card::read_info).await {
        Ok(Ok(v)) => Answer::ok(doc::document(Doc::Info, v)),
        Ok(Err(e)) => Answer::error(&e),
        Err(n) => Answer::error(&no_answer_error(n)),
    }
}

fn no_answer_error(n: NoAnswer) -> Error {
    match n {
        NoAnswer::TimedOut(_) => Error::Timeout(n.to_string()),
        NoAnswer::TooManyReaders => Error::Other {
            message: n.to_string(),
            code: ExitCode::Usage,
        },
        NoAnswer::NoWorker => Error::Other {
            message: n.to_string(),
            code: ExitCode::Internal,
        },
    }
}

/// The national answer object.
fn national_answer(function: &str, r: Result<String, Failure>) -> Value {
    match r {
        Ok(out) => json!({
            "functionName": function, "success": true, "ret": 0, "pOutInfo": out,
        }),
        Err(f) => json!({
            "functionName": function,
            "success": false,
            "ret": f.code(),
            "pOutInfo": f.out_info(),
            "detail": f.detail,
        }),
    }
}

fn bad(detail: impl Into<String>) -> Failure {
    Failure::new(NationalError::BadParameter, detail)
}

/// `iType`: a number or a string of digits.
fn itype(req: &Map<String, Value>) -> Result<i32, Failure> {
    let v = req
        .get("iType")
        .ok_or_else(|| bad("iType missing (1 contact, 2 contactless, 3 or 4 automatic)"))?;
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| bad("iType: an integer 1-4"))
}

/// Members carrying a PIN (name contains `pin`, any case).
fn pin_members(req: &Map<String, Value>) -> Vec<&str> {
    req.keys()
        .filter(|k| k.to_ascii_lowercase().contains("pin"))
        .map(String::as_str)
        .collect()
}

/// A PIN member by any of its names, as a wiped-on-drop string.
fn pin_value(req: &Map<String, Value>, names: &[&str]) -> Option<Zeroizing<String>> {
    req.iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .and_then(|(_, v)| v.as_str())
        .map(|s| Zeroizing::new(s.to_string()))
}

async fn on_desk<F>(svc: &Service, f: F) -> Result<String, Failure>
where
    F: FnOnce(&mut super::worker::Slot) -> Result<String, Failure> + Send + 'static,
{
    match svc.workers.run("", f).await {
        Ok(r) => r,
        Err(n) => Err(Failure::new(NationalError::Reader, n.to_string())),
    }
}

/// Answers a national-style request.
pub async fn national(svc: &Service, req: &Map<String, Value>) -> Value {
    let function = req
        .get("function")
        .or_else(|| req.get("functionName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let Some(&function) = FUNCTIONS.iter().find(|f| **f == function) else {
        let known = function.chars().take(40).collect::<String>();
        return national_answer(
            &known,
            Err(Failure::new(
                NationalError::Unsupported,
                format!(
                    "function {known:?} is not served here; this service answers {}",
                    FUNCTIONS.join(", ")
                ),
            )),
        );
    };
    let pins = pin_members(req);
    let r = if !pins.is_empty() && !svc.pin_from_page {
        Err(Failure::new(
            NationalError::Unsupported,
            "PINs are entered on the desk's PIN device, never sent by a web page; this \
             request carried one and was refused (a desk may allow it with [serve] \
             pin_from_page = true)",
        ))
    } else {
        call(svc, function, req, !pins.is_empty()).await
    };
    national_answer(function, r)
}

async fn call(
    svc: &Service,
    function: &str,
    req: &Map<String, Value>,
    page_pins: bool,
) -> Result<String, Failure> {
    match function {
        "iReadCardBas" => {
            let it = itype(req)?;
            on_desk(svc, move |s| s.national.read_card_bas(it)).await
        }
        "iReadCardBas_HSM_Step1" => {
            let it = itype(req)?;
            on_desk(svc, move |s| s.national.hsm_step1(it)).await
        }
        "iReadCardBas_HSM_Step2" => {
            let key = req
                .get("pKey")
                .and_then(Value::as_str)
                .map(|k| Zeroizing::new(k.to_string()))
                .ok_or_else(|| bad("pKey missing: the encryption machine's answer to Step1"))?;
            on_desk(svc, move |s| s.national.hsm_step2(&key)).await
        }
        "iVerifyPIN" | "iChangePIN" => {
            let it = itype(req)?;
            crate::national::IType::from_int(it)?;
            let change = function == "iChangePIN";
            if page_pins {
                let pins = if change {
                    let old = pin_value(req, &["oldPin", "pOldPIN"]);
                    let new = pin_value(req, &["newPin", "pNewPIN"]);
                    match (old, new) {
                        (Some(o), Some(n)) => vec![o, n.clone(), n],
                        _ => return Err(bad("iChangePIN from a page: oldPin and newPin")),
                    }
                } else {
                    match pin_value(req, &["pin", "pPIN"]) {
                        Some(p) => vec![p],
                        None => return Err(bad("iVerifyPIN from a page: pin")),
                    }
                };
                let which = if change {
                    PinCall::Change
                } else {
                    PinCall::Verify
                };
                if it == 2 {
                    return Err(Failure::new(
                        NationalError::WrongCard,
                        "this desk has no contactless reader (iType 2)",
                    ));
                }
                on_desk(svc, move |s| {
                    card::pin_from_page(s, which, &pins).map(|()| String::new())
                })
                .await
            } else if change {
                on_desk(svc, move |s| {
                    s.national.change_pin(it).map(|()| String::new())
                })
                .await
            } else {
                on_desk(svc, move |s| {
                    s.national.verify_pin(it).map(|()| String::new())
                })
                .await
            }
        }
        "iActivateCard_FirstUse" => {
            let it = itype(req)?;
            let verify = verify_holder(req, "iVerifyHolder")?;
            if page_pins {
                return Err(Failure::new(
                    NationalError::Unsupported,
                    "first use takes the holder's PIN from the desk's PIN device only",
                ));
            }
            on_desk(svc, move |s| {
                s.national.first_use(it, verify).map(|done| {
                    log::info!("first use: activated, journal {}", done.receipt.transfer_id);
                    done.line
                })
            })
            .await
        }
        _ => Err(bad("unknown function")),
    }
}

/// Whether the holder verifies the PIN first: `name` absent, `0`/`false` no, `1`/`true` yes.
fn verify_holder(req: &Map<String, Value>, name: &str) -> Result<bool, Failure> {
    match req.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(Value::Number(n)) if n.as_i64() == Some(0) => Ok(false),
        Some(Value::Number(n)) if n.as_i64() == Some(1) => Ok(true),
        Some(_) => Err(bad(format!(
            "{name}: 0 or false (no PIN), 1 or true (the holder verifies the PIN on the desk's PIN device)"
        ))),
    }
}

/// `{"type":"first-use"}`: first use on the desk's reader (or `reader`), answered by
/// the `sscard-receipt` document `sscard activate first-use --receipt json` prints
/// (its `transfer_id` is the journal's) with the card's basic line as `basic_line`;
/// on failure an `sscard-error` document whose `error` also carries the national
/// code (`ret`, `pOutInfo`) and, when the call left a journal entry unfinished, its
/// `transfer_id`. `verify_holder: true` has the holder verify the PIN on the desk's
/// PIN device first.
pub async fn first_use_doc(svc: &Service, req: &Map<String, Value>) -> Answer {
    let reader = match req.get("reader") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(r)) if !r.is_empty() && r.len() <= 256 => r.clone(),
        Some(_) => return usage("reader: a non-empty string (a reader selector)", None),
    };
    if !pin_members(req).is_empty() {
        return usage(
            "first use takes the holder's PIN from the desk's PIN device, never from a request",
            None,
        );
    }
    let verify = match verify_holder(req, "verify_holder") {
        Ok(v) => v,
        Err(f) => return usage(&f.detail, None),
    };
    let r = svc
        .workers
        .run(&reader, move |s| s.national.first_use(3, verify))
        .await;
    match r {
        Ok(Ok(done)) => {
            log::info!("first use: activated, journal {}", done.receipt.transfer_id);
            let mut body = serde_json::to_value(&done.receipt).unwrap_or_default();
            if let Value::Object(m) = &mut body {
                m.insert("basic_line".into(), done.line.into());
            }
            Answer::ok(doc::document(Doc::Receipt, body))
        }
        Ok(Err(f)) => {
            let code = crate::national::first_use::exit_code(f.error);
            let mut body = doc::error(code as u8, &f.detail, None);
            if let Some(Value::Object(e)) = body.get_mut("error") {
                e.insert("ret".into(), f.code().into());
                e.insert("pOutInfo".into(), f.out_info().into());
                e.insert("transfer_id".into(), f.transfer.clone().into());
            }
            Answer {
                body,
                status: if code == ExitCode::Usage { 400 } else { 502 },
                effect: Effect::None,
            }
        }
        Err(n) => Answer::error(&no_answer_error(n)),
    }
}

/// How long card operations wait, from the configuration's seconds.
///
/// # Errors
/// A message for a value that is not a positive, finite number of at most a day.
pub fn timeout_of(secs: Option<f64>) -> Result<Duration, String> {
    match secs {
        None => Ok(super::worker::DEFAULT_TIMEOUT),
        Some(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        Some(s) => Err(format!(
            "[serve] timeout = {s}: seconds, more than 0, at most 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn itypes_and_pins() {
        assert_eq!(itype(&obj(json!({"iType": 3}))).unwrap(), 3);
        assert_eq!(itype(&obj(json!({"iType": "1"}))).unwrap(), 1);
        assert_eq!(itype(&obj(json!({}))).unwrap_err().code(), -14);
        assert_eq!(itype(&obj(json!({"iType": 1e20}))).unwrap_err().code(), -14);
        assert_eq!(
            itype(&obj(json!({"iType": 99999999999i64})))
                .unwrap_err()
                .code(),
            -14
        );
        let r = obj(json!({"function": "iVerifyPIN", "pPIN": "123456", "iType": 3}));
        assert_eq!(pin_members(&r), vec!["pPIN"]);
        assert_eq!(pin_value(&r, &["pin", "pPIN"]).unwrap().as_str(), "123456");
        assert!(pin_members(&obj(json!({"function": "iReadCardBas"}))).is_empty());
    }

    #[test]
    fn answers_never_repeat_the_request() {
        let a = national_answer("iVerifyPIN", Err(Failure::new(NationalError::NoCard, "x")));
        assert_eq!(a["ret"], -2);
        assert_eq!(a["success"], false);
        assert_eq!(a["functionName"], "iVerifyPIN");
        let a = with_id(a, id_of(&obj(json!({"id": 7, "pin": "123456"}))));
        assert_eq!(a["id"], 7);
        assert!(!a.to_string().contains("123456"));
        assert_eq!(id_of(&obj(json!({"id": "x".repeat(65)}))), None);
    }

    #[test]
    fn timeouts() {
        assert_eq!(
            timeout_of(None).unwrap(),
            super::super::worker::DEFAULT_TIMEOUT
        );
        assert_eq!(timeout_of(Some(2.5)).unwrap(), Duration::from_millis(2500));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(timeout_of(Some(bad)).is_err(), "{bad}");
        }
    }
}
