//! The plain subset of a script: what pcsc-tools `scriptor` can run.
//!
//! Why: a technician may have to hand a script to someone with only scriptor, and the
//! test suite proves the runner sends what scriptor sends by running both on the same
//! card. The subset keeps APDUs (variables from `--var` and `let` filled in), `reset`
//! and `exit`, and drops expectations and directives. It is written in the narrow form
//! scriptor parses: upper-case bytes separated by single spaces, comments only in
//! column 0 and never containing "exit" or "reset" (scriptor acts on those words
//! anywhere in a line, even in a comment).
//!
//! A script whose APDUs depend on the card (captured `$rnd`, cryptograms, random
//! bytes) or on a secret (a PIN from `--var-file`) has no plain form: that is an error
//! naming the line, not a silently different script.

use super::ast::{Call, Script, StmtKind, Value, ValueKind};
use super::vars::Vars;
use super::ScriptError;
use std::collections::HashMap;

/// A comment scriptor will treat as a comment (see the module docs), or `None`.
fn safe_comment(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("exit") || lower.contains("reset") {
        return None;
    }
    let one_line: String = text.chars().filter(|c| !c.is_control()).collect();
    Some(format!("# {one_line}"))
}

/// Renders the plain subset of `script`; `vars` are the `--var` values.
pub fn render(script: &Script, vars: &Vars) -> Result<String, ScriptError> {
    let mut known: HashMap<String, Option<Vec<u8>>> = HashMap::new();
    for name in vars.names() {
        if let Some(v) = vars.get(name) {
            known.insert(name.to_string(), (!v.secret).then(|| v.bytes.to_vec()));
        }
    }
    let mut out = String::from(
        "# Plain subset written by `sscard script --plain`: APDUs only, no expectations.\n",
    );
    for stmt in &script.stmts {
        match &stmt.kind {
            StmtKind::Exchange(x) => {
                let bytes = literal(&x.apdu, &known)?;
                out.push_str(&crate::apdu::redact::spaced_hex(&bytes));
                out.push('\n');
                for e in &x.expects {
                    for item in e.data.pattern.iter().flatten() {
                        if let super::expect::PatItem::Capture { name, .. } = item {
                            known.insert(name.clone(), None);
                        }
                    }
                }
            }
            StmtKind::Reset => out.push_str("reset\n"),
            StmtKind::Exit => {
                out.push_str("exit\n");
                break;
            }
            StmtKind::Step(name) => {
                if let Some(c) = safe_comment(&format!("step: {name}")) {
                    out.push_str(&c);
                    out.push('\n');
                }
            }
            StmtKind::Echo(text) => {
                if let Some(c) = safe_comment(text) {
                    out.push_str(&c);
                    out.push('\n');
                }
            }
            StmtKind::Let { name, value } => {
                let v = literal(value, &known).ok();
                known.insert(name.clone(), v);
            }
            StmtKind::GetResponse(true) => {
                return Err(ScriptError::new(
                    stmt.pos.clone(),
                    "'get-response auto' has no scriptor equivalent: no plain form",
                ))
            }
            StmtKind::WaitCard(_) | StmtKind::WaitRemove(_) => {
                out.push_str("# (a wait for a card insertion or removal was left out)\n");
            }
            StmtKind::GetResponse(false) | StmtKind::Atr(_) | StmtKind::Protocol(_) => {}
        }
    }
    Ok(out)
}

/// The bytes of values known before the run, or an error naming what is not.
fn literal(
    values: &[Value],
    known: &HashMap<String, Option<Vec<u8>>>,
) -> Result<Vec<u8>, ScriptError> {
    let mut out = Vec::new();
    for v in values {
        match &v.kind {
            ValueKind::Bytes(b) => out.extend_from_slice(b),
            ValueKind::Var(name) => match known.get(name) {
                Some(Some(b)) => out.extend_from_slice(b),
                _ => {
                    return Err(ScriptError::new(
                        v.pos.clone(),
                        format!(
                            "${name} is captured from the card, computed at run time or secret: \
                             this line has no plain form"
                        ),
                    ))
                }
            },
            ValueKind::Call(c) => match c.as_ref() {
                Call::Len(inner) => {
                    let b = literal(std::slice::from_ref(inner), known)?;
                    let n = u8::try_from(b.len()).map_err(|_| {
                        ScriptError::new(v.pos.clone(), "len(): more than 255 bytes")
                    })?;
                    out.push(n);
                }
                Call::Random(_) | Call::Cryptogram { .. } => {
                    return Err(ScriptError::new(
                        v.pos.clone(),
                        "random() and cryptogram() are computed at run time: this line has no plain form",
                    ))
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::parser::{parse_str, NoIncludes};

    #[test]
    fn plain_subset_is_scriptor_safe() {
        let text = "# codes: see README\nstep select (after the restart)\nstep read\n\
                    00a4 0400 02 3F00\n=> 61xx\nlet le = 00\n00 B2 01 2C $le\n=> 9000 *\n\
                    00 B0 00 00 ${len(\"ab\")}\nwait-card\nreset\nexit\n00 00 00 00\n";
        let s = parse_str("t", text, &mut NoIncludes, &[]).unwrap();
        let plain = render(&s, &Vars::default()).unwrap();
        assert_eq!(
            plain,
            "# Plain subset written by `sscard script --plain`: APDUs only, no expectations.\n\
             # step: select (after the restart)\n# step: read\n00 A4 04 00 02 3F 00\n00 B2 01 2C 00\n00 B0 00 00 02\n\
             # (a wait for a card insertion or removal was left out)\nreset\nexit\n"
        );
    }

    #[test]
    fn card_dependent_lines_have_no_plain_form() {
        let s = parse_str(
            "t",
            "00 84 00 00 08\n=> 9000 $rnd:8\n00 82 00 0C 08 $rnd\n",
            &mut NoIncludes,
            &[],
        )
        .unwrap();
        let e = render(&s, &Vars::default()).unwrap_err();
        assert_eq!((e.pos.line, e.pos.col), (3, 16));
        let mut v = Vars::default();
        v.add_text("f", "pin = 123456").unwrap();
        let s = parse_str("t", "00 20 00 00 03 $pin\n", &mut NoIncludes, &["pin"]).unwrap();
        assert!(render(&s, &v).is_err());
    }
}
