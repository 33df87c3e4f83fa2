//! Runner unit tests over an in-process fake card (the end-to-end tests use the real
//! virtual cards through pcscd: tests/script_e2e.rs).

use super::*;
use crate::apdu::transcript::Replay;
use crate::script::parser::{parse_str, NoIncludes};
use crate::script::report::{JsonReporter, TextReporter};
use std::cell::RefCell;
use std::rc::Rc;

/// A fake SSC-ish card: answers by command prefix; logs what it was sent.
struct Fake {
    log: Rc<RefCell<Vec<String>>>,
    tries: u8,
    challenge_fresh: bool,
    fail_after: Option<usize>,
}

impl Fake {
    fn new() -> (Self, Rc<RefCell<Vec<String>>>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        (
            Fake {
                log: log.clone(),
                tries: 6,
                challenge_fresh: false,
                fail_after: None,
            },
            log,
        )
    }
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s.replace(' ', "")).unwrap()
}

impl Transport for Fake {
    fn transmit(&mut self, cmd: &[u8]) -> Result<Vec<u8>, TransportError> {
        let x = hex::encode_upper(cmd);
        self.log.borrow_mut().push(x.clone());
        if let Some(n) = self.fail_after {
            if self.log.borrow().len() > n {
                return Err(TransportError::CardRemoved);
            }
        }
        let fresh = std::mem::take(&mut self.challenge_fresh);
        Ok(match x.as_str() {
            "00A40000023F00" => h("9000"),
            "00A4040002AABB" => h("6104"),
            "00C0000004" => h("6F02AA01 9000"),
            "00B2012C00" => h("0110 639900D15600000500BF7C7A48FB4966 9000"),
            "0084000008" => {
                self.challenge_fresh = true;
                h("0102030405060708 9000")
            }
            _ if x.starts_with("0082000C08") => {
                if fresh && x == "0082000C0833C2C17134EC6D91" {
                    h("9000")
                } else {
                    h("63C4")
                }
            }
            "00200000" => vec![0x63, 0xC0 | self.tries],
            _ if x.starts_with("0020000003") => {
                if x == "0020000003123456" {
                    h("9000")
                } else {
                    self.tries -= 1;
                    vec![0x63, 0xC0 | self.tries]
                }
            }
            _ => h("6A82"),
        })
    }
    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        Ok(h("3B6D00000081544C968684639948FB4966"))
    }
    fn atr(&self) -> Option<Vec<u8>> {
        Some(h("3B6D00000081544C968684639948FB4966"))
    }
}

struct Out {
    result: RunResult,
    text: String,
    sent: Vec<String>,
}

fn run_text(script: &str, vars: Vars, keep_going: bool, sam: Option<&mut dyn Sam>) -> Out {
    run_with(script, vars, keep_going, sam, |_| {})
}

fn run_with(
    script: &str,
    vars: Vars,
    keep_going: bool,
    sam: Option<&mut dyn Sam>,
    tweak: impl FnOnce(&mut Fake),
) -> Out {
    let names: Vec<String> = vars.names().map(str::to_string).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let parsed = parse_str("t.apdu", script, &mut NoIncludes, &names).unwrap();
    let (mut fake, log) = Fake::new();
    tweak(&mut fake);
    let mut channel = Channel::new(Box::new(fake));
    let mut events = Immediate::default();
    let mut ctx = Context {
        channel: &mut channel,
        events: &mut events,
        sam: sam.map(|s| s as &mut dyn Sam),
        vars,
        options: Options {
            keep_going,
            ..Options::default()
        },
    };
    let mut rep = TextReporter::new(Vec::new());
    let result = run(&parsed, &mut ctx, &mut rep);
    let text = String::from_utf8(rep.into_inner()).unwrap();
    let sent = log.borrow().clone();
    Out { result, text, sent }
}

#[test]
fn passes_and_captures() {
    let out = run_text(
        "step select MF\n00 A4 00 00 02 3F 00\n=> 9000\nstep read id\n00 B2 01 2C 00\n\
         => 9000 01 10 6399 00 D156000005 $div:8\n=> 9000 len 18\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "{}", out.text);
    assert_eq!(
        &*out.result.vars.get("div").unwrap().bytes,
        &h("00BF7C7A48FB4966")
    );
    assert!(out.text.contains("== read id"), "{}", out.text);
    assert!(out.text.contains("> 00 B2 01 2C 00"), "{}", out.text);
    assert!(
        out.text.contains("$div = 00 BF 7C 7A 48 FB 49 66"),
        "{}",
        out.text
    );
    assert!(out.text.contains("PASS: 2 exchange(s)"), "{}", out.text);
}

#[test]
fn first_mismatch_stops_and_names_step_expected_actual() {
    let out = run_text(
        "step select MF\n00 A4 00 00 02 3F 00\n=> 6A82\n00 B2 01 2C 00\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::ScriptMismatch);
    assert_eq!(out.sent.len(), 1, "stopped at the first mismatch");
    let f = &out.result.summary.failures[0];
    assert_eq!(f.step, "select MF");
    assert_eq!((f.at.line, f.at.column), (3, 1));
    assert_eq!(f.expected, "=> 6A82");
    assert!(f.actual.contains("90 00"), "{}", f.actual);
    assert!(f.reason.contains("9000, not 6A82"), "{}", f.reason);
    assert!(
        out.text
            .contains("MISMATCH in step \"select MF\" at t.apdu:3:1"),
        "{}",
        out.text
    );
    assert!(out.text.contains("expected: => 6A82"), "{}", out.text);
}

#[test]
fn keep_going_runs_on_and_skips_uncaptured_uses() {
    let out = run_text(
        "00 B2 01 2C 00\n=> 9000 02 $x:1 *\n00 A4 00 00 02 $x\n00 A4 00 00 02 3F 00\n",
        Vars::default(),
        true,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::ScriptMismatch);
    assert_eq!(out.result.summary.failures.len(), 2);
    assert!(out.result.summary.failures[1].reason.contains("not run"));
    // The third line ran; the second was not sent.
    assert_eq!(out.sent, vec!["00B2012C00", "00A40000023F00"]);
}

#[test]
fn no_expectation_means_normal_processing() {
    let out = run_text("00 A4 00 00 02 DF 04\n", Vars::default(), false, None);
    assert_eq!(out.result.exit_code(), ExitCode::ScriptMismatch);
    assert!(out.result.summary.failures[0].reason.contains("=> 6A82"));
    let out = run_text("00 A4 04 00 02 AA BB\n", Vars::default(), false, None);
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "61xx is normal");
}

#[test]
fn data_mismatch_says_where() {
    let out = run_text(
        "00 B2 01 2C 00\n=> 9000 01 10 64\n",
        Vars::default(),
        false,
        None,
    );
    let f = &out.result.summary.failures[0];
    assert!(f.reason.contains("18 bytes, the pattern 3"), "{}", f.reason);
    let out = run_text(
        "00 B2 01 2C 00\n=> 9000 01 10 64 *\n",
        Vars::default(),
        false,
        None,
    );
    assert!(out.result.summary.failures[0].reason.contains("pattern"));
    let out = run_text(
        "00 B2 01 2C 00\n=> 9000 0110 6399 1x D1 5600000500BF7C7A48FB49 66\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(
        out.result.summary.failures[0].reason,
        "data byte 4: expected 1x, got 00"
    );
}

#[test]
fn pins_from_var_files_never_show() {
    let mut vars = Vars::default();
    vars.add_text("pins", "pin = 123456\n").unwrap();
    let out = run_text(
        "00 20 00 00 03 $pin\n=> 9000\n00 A4 00 00 03 $pin\n=> xxxx\n00 20 00 00\n=> 63Cx\n",
        vars,
        false,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "{}", out.text);
    assert!(
        out.text.contains("> 00 20 00 00 03 .. .. .."),
        "{}",
        out.text
    );
    // A PIN put into a command the trace would not redact is hidden too.
    assert!(
        out.text.contains("> 00 A4 00 00 03 .. .. .."),
        "{}",
        out.text
    );
    assert!(!out.text.contains("12 34 56"), "{}", out.text);
    assert_eq!(out.sent[0], "0020000003123456");
}

#[test]
fn cryptogram_through_the_sam() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys");
    std::fs::write(&path, include_str!("../../../keys/test-keys.txt")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut kf = crate::sam::keyfile::KeyFile::load(&path).unwrap();
    let mut vars = Vars::default();
    vars.add_arg("alg=01").unwrap();
    let script = "00 B2 01 2C 00\n=> 9000 01 10 * $div:8\n00 84 00 00 08\n=> 9000 $rnd:8\n\
                  let crypt = ${cryptogram(ssc, 0C, $alg, $div, $rnd)}\n\
                  00 82 00 0C ${len($crypt)} $crypt\n=> 9000\n";
    let out = run_text(script, vars, false, Some(&mut kf));
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "{}", out.text);
    assert!(
        out.text.contains("let $crypt = (8 bytes, secret)"),
        "{}",
        out.text
    );
    assert!(!out.text.contains("33 C2"), "{}", out.text);
    assert!(
        out.text
            .contains("> 00 82 00 0C 08 .. .. .. .. .. .. .. .."),
        "{}",
        out.text
    );
    // Without a SAM it is a keys error, not a panic.
    let mut vars = Vars::default();
    vars.add_arg("alg=01").unwrap();
    let out = run_text(script, vars, false, None);
    assert_eq!(out.result.exit_code(), ExitCode::Keys);
    // A wrong-length diversifier is a script error with the position.
    let mut vars = Vars::default();
    vars.add_arg("alg=01").unwrap();
    let out = run_text(
        "let c = ${cryptogram(ssc, 0C, $alg, 0011, 0102030405060708)}\n",
        vars,
        false,
        Some(&mut kf),
    );
    assert_eq!(out.result.exit_code(), ExitCode::ScriptError);
    let e = out.result.summary.error.unwrap();
    assert!(e.contains("t.apdu:1:37") && e.contains("8 bytes"), "{e}");
}

#[test]
fn get_response_modes() {
    let out = run_text(
        "00 A4 04 00 02 AA BB\n=> 6104\n00 C0 00 00 04\n=> 9000 6F 02 $x:1 01\n\
         get-response auto\n00 A4 04 00 02 AA BB\n=> 9000 6F 02 AA 01\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "{}", out.text);
    assert_eq!(out.sent.len(), 4);
}

#[test]
fn atr_protocol_and_reset() {
    let out = run_text(
        "atr => 3B 6D 00 00 $hist:* len 17\nprotocol => T=0\nreset\natr => 3B 6D *\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(out.result.exit_code(), ExitCode::Ok, "{}", out.text);
    assert_eq!(out.result.vars.get("hist").unwrap().bytes.len(), 13);
    assert!(
        out.text.contains("T=0 (first protocol the ATR offers)"),
        "{}",
        out.text
    );
    let out = run_text("protocol => T=1\n", Vars::default(), false, None);
    assert_eq!(out.result.exit_code(), ExitCode::ScriptMismatch);
    let out = run_text("atr => 3B 68 *\n", Vars::default(), false, None);
    assert_eq!(out.result.exit_code(), ExitCode::ScriptMismatch);
}

#[test]
fn reader_errors_end_the_run_with_their_code() {
    let out = run_with(
        "00 A4 00 00 02 3F 00\n00 A4 00 00 02 3F 00\n",
        Vars::default(),
        false,
        None,
        |f| f.fail_after = Some(1),
    );
    assert_eq!(out.result.exit_code(), ExitCode::CardLost);
    assert_eq!(out.result.summary.result, "reader_error");
    assert_eq!(out.result.summary.exchanges, 2);
}

#[test]
fn exit_stops_the_run() {
    let out = run_text(
        "00 A4 00 00 02 3F 00\nexit\n00 A4 00 00 02 3F 00\n",
        Vars::default(),
        false,
        None,
    );
    assert_eq!(out.sent.len(), 1);
    assert_eq!(out.result.exit_code(), ExitCode::Ok);
}

#[test]
fn json_report_is_versioned_and_redacted() {
    let mut vars = Vars::default();
    vars.add_text("p", "pin = 123456").unwrap();
    let parsed = parse_str(
        "t.apdu",
        "step verify\n00 20 00 00 03 $pin\n=> 9000\n00 A4 00 00 02 3F 00\n=> 6A82\n",
        &mut NoIncludes,
        &["pin"],
    )
    .unwrap();
    let (fake, _) = Fake::new();
    let mut channel = Channel::new(Box::new(fake));
    let mut events = Immediate::default();
    let mut ctx = Context {
        channel: &mut channel,
        events: &mut events,
        sam: None,
        vars,
        options: Options::default(),
    };
    let mut rep = JsonReporter::new(Vec::new());
    let result = run(&parsed, &mut ctx, &mut rep);
    assert_eq!(result.exit_code(), ExitCode::ScriptMismatch);
    let text = String::from_utf8(rep.into_inner()).unwrap();
    assert!(!text.contains("12 34 56"), "{text}");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["schema"], "sscard-script");
    assert_eq!(doc["schema_version"], crate::output::Doc::Script.version());
    assert!(doc.get("version").is_none(), "the old key is gone (2.0)");
    assert_eq!(doc["summary"]["result"], "mismatch");
    assert_eq!(doc["summary"]["exit_code"], 9);
    assert_eq!(doc["summary"]["failures"][0]["step"], "verify");
    assert_eq!(doc["events"][1]["type"], "exchange");
    assert_eq!(doc["events"][1]["command"], "00 20 00 00 03 .. .. ..");
}

#[test]
fn replays_a_recorded_dump() {
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("dump.txt");
    let script = "00 A4 00 00 02 3F 00\n=> 9000\n00 20 00 00 03 $pin\n=> 9000\n00 B2 01 2C 00\n=> 9000 01 10 *\n";
    let mut vars = Vars::default();
    vars.add_text("p", "pin = 123456").unwrap();
    let parsed = parse_str("t.apdu", script, &mut NoIncludes, &["pin"]).unwrap();
    {
        let (fake, _) = Fake::new();
        let mut channel = Channel::recording(Box::new(fake), &dump).unwrap();
        let mut events = Immediate::default();
        let mut ctx = Context {
            channel: &mut channel,
            events: &mut events,
            sam: None,
            vars: vars.clone(),
            options: Options::default(),
        };
        let mut rep = TextReporter::new(Vec::new());
        assert_eq!(run(&parsed, &mut ctx, &mut rep).exit_code(), ExitCode::Ok);
    }
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(!text.contains("12 34 56"), "{text}");
    let replay = Replay::open(&dump).unwrap();
    let mut channel = Channel::new(Box::new(replay));
    let mut events = Immediate::default();
    let mut ctx = Context {
        channel: &mut channel,
        events: &mut events,
        sam: None,
        vars,
        options: Options::default(),
    };
    let mut rep = TextReporter::new(Vec::new());
    let r = run(&parsed, &mut ctx, &mut rep);
    assert_eq!(r.exit_code(), ExitCode::Ok);
    // A script that sends something else fails on the replay with a replay error.
    let other = parse_str("o", "00 A4 00 00 02 DF 04\n", &mut NoIncludes, &[]).unwrap();
    let replay = Replay::open(&dump).unwrap();
    let mut channel = Channel::new(Box::new(replay));
    let mut ctx = Context {
        channel: &mut channel,
        events: &mut events,
        sam: None,
        vars: Vars::default(),
        options: Options::default(),
    };
    let r = run(&other, &mut ctx, &mut rep);
    assert_eq!(r.exit_code(), ExitCode::InvalidData);
}
