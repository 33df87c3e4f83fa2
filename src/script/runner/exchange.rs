//! One APDU exchange and its checks: send the evaluated command, trace it redacted,
//! match the `=>` lines, capture variables; and the `atr` / `protocol` checks.
//!
//! Why apart: the exchange is the only place the runner talks to the card; the parent
//! holds the run's state and the statement loop.

use super::*;

impl Run<'_, '_, '_> {
    pub(super) fn exchange(&mut self, pos: &Pos, x: &Exchange) -> Result<(), StopReason> {
        self.exchanges += 1;
        let index = self.exchanges;
        let mut cmd = Evaluated::default();
        match self.eval_all(&x.apdu, &mut cmd) {
            Ok(()) => {}
            Err(EvalError::Missing(var)) => {
                self.reporter.event(Event::Exchange(ExchangeReport {
                    index,
                    step: self.step.clone(),
                    at: pos.into(),
                    command: "(not sent)".into(),
                    response: String::new(),
                    sw: None,
                    meaning: None,
                    ok: false,
                    captures: Vec::new(),
                }));
                return self.missing(pos, "the APDU", &var);
            }
            Err(EvalError::Fatal(e)) => return Err(e.into()),
        }
        if cmd.bytes.len() < 4 {
            return Err(ScriptError::new(
                pos.clone(),
                format!(
                    "the APDU is {} bytes once its variables are filled in; at least 4 are needed",
                    cmd.bytes.len()
                ),
            )
            .into());
        }
        // The secret parts of this command, for the trace and transcript below.
        let mut run_start = None;
        for (i, s) in cmd.secret.iter().chain(std::iter::once(&false)).enumerate() {
            match (s, run_start) {
                (true, None) => run_start = Some(i),
                (false, Some(st)) => {
                    self.ctx.channel.known_secrets().add(&cmd.bytes[st..i]);
                    run_start = None;
                }
                _ => {}
            }
        }
        let secrets = self.redactor.classify(&cmd.bytes);
        let command = shown_command(&cmd, secrets, self.ctx.channel.known_secrets());
        let sent = if self.auto_response {
            self.ctx.channel.transmit(&cmd.bytes)
        } else {
            self.ctx.channel.transmit_raw(&cmd.bytes)
        };
        let resp = Zeroizing::new(sent?);
        if resp.len() < 2 {
            return Err(TransportError::ShortResponse(resp.len()).into());
        }
        self.redactor.observe(secrets, &resp);
        let (data, sw_bytes) = resp.split_at(resp.len() - 2);
        let sw = u16::from_be_bytes([sw_bytes[0], sw_bytes[1]]);
        let status = Status::from(sw);
        let hidden = redact::response_mask(&resp, secrets, self.ctx.channel.known_secrets());
        let response = redact::masked_hex(&resp, &hidden);
        // A response holding a known secret is explained without its values.
        let data_secret = secrets.response_data || hidden.iter().any(|h| *h);
        let actual = format!("{response} (SW {status})");

        // Check every expectation (or normal processing when none is written).
        let mut failures = Vec::new();
        let mut captures: Vec<(String, std::ops::Range<usize>)> = Vec::new();
        let mut would_capture: Vec<String> = Vec::new();
        if x.expects.is_empty() {
            let normal = SwPattern::normal_processing();
            if !normal.iter().any(|p| p.matches(sw)) {
                failures.push(Failure {
                    step: self.step_label(),
                    at: pos.into(),
                    expected: "normal processing: 9000 or 61xx (no '=>' line is written)".into(),
                    actual: actual.clone(),
                    reason: format!(
                        "status {sw:04X} is an error; write '=> {sw:04X}' after the APDU if it is expected"
                    ),
                });
            }
        }
        for e in &x.expects {
            would_capture.extend(e.data.pattern.iter().flatten().filter_map(|p| match p {
                PatItem::Capture { name, .. } => Some(name.clone()),
                _ => None,
            }));
            match self.check(e, sw, data, data_secret) {
                Ok(Ok(caps)) => captures.extend(caps),
                Ok(Err(reason)) => failures.push(Failure {
                    step: self.step_label(),
                    at: (&e.pos).into(),
                    expected: format!("=> {}", e.text),
                    actual: actual.clone(),
                    reason,
                }),
                Err(EvalError::Missing(var)) => failures.push(Failure {
                    step: self.step_label(),
                    at: (&e.pos).into(),
                    expected: format!("=> {}", e.text),
                    actual: actual.clone(),
                    reason: format!("${var} was not captured (an earlier expectation failed)"),
                }),
                Err(EvalError::Fatal(err)) => return Err(err.into()),
            }
        }
        let ok = failures.is_empty();
        let mut shown_caps = Vec::new();
        if ok {
            for (name, range) in captures {
                // A capture overlapping a hidden byte is secret too.
                let secret = hidden[range.clone()].iter().any(|h| *h);
                let v = VarValue::new(data[range].to_vec(), secret);
                self.remember(&v);
                shown_caps.push((name.clone(), v.shown()));
                self.ctx.vars.set(&name, v);
            }
        } else {
            // A failed exchange captures nothing, and stale values must not be used.
            for name in would_capture {
                self.ctx.vars.remove(&name);
            }
        }
        self.reporter.event(Event::Exchange(ExchangeReport {
            index,
            step: self.step.clone(),
            at: pos.into(),
            command,
            response,
            sw: Some(format!("{sw:04X}")),
            meaning: Some(status.meaning()),
            ok,
            captures: shown_caps,
        }));
        for f in failures {
            self.fail(f)?;
        }
        Ok(())
    }

    /// Checks one `=>` line: `Ok(Ok(captures))`, `Ok(Err(reason))`.
    #[allow(clippy::type_complexity)]
    fn check(
        &mut self,
        e: &Expect,
        sw: u16,
        data: &[u8],
        data_secret: bool,
    ) -> Result<Result<Vec<(String, std::ops::Range<usize>)>, String>, EvalError> {
        if !e.sw.iter().any(|p| p.matches(sw)) {
            let want: Vec<String> = e.sw.iter().map(|p| p.to_string()).collect();
            return Ok(Err(format!(
                "the status word is {sw:04X}, not {}",
                want.join(" or ")
            )));
        }
        self.check_data(&e.data, data, data_secret)
    }

    #[allow(clippy::type_complexity)]
    fn check_data(
        &mut self,
        d: &DataExpect,
        data: &[u8],
        data_secret: bool,
    ) -> Result<Result<Vec<(String, std::ops::Range<usize>)>, String>, EvalError> {
        let mut caps = Vec::new();
        if let Some(items) = &d.pattern {
            let resolved = self.resolve(items)?;
            match match_data(&resolved, data) {
                Some(c) => caps = c,
                None => return Ok(Err(explain_mismatch(&resolved, data, data_secret))),
            }
        }
        if let Some(len) = d.len {
            if !len.contains(data.len()) {
                return Ok(Err(format!("the data is {} bytes, not {len}", data.len())));
            }
        }
        Ok(Ok(caps))
    }

    pub(super) fn atr_check(&mut self, pos: &Pos, d: &DataExpect) -> Result<(), StopReason> {
        let Some(atr) = self.atr.clone() else {
            let f = Failure {
                step: self.step_label(),
                at: pos.into(),
                expected: format!("atr => {}", d.text),
                actual: "no ATR known (no card)".into(),
                reason: "there is no ATR to check".into(),
            };
            return self.fail(f);
        };
        let shown = redact::spaced_hex(&atr);
        let result = match self.check_data(d, &atr, false) {
            Ok(r) => r,
            Err(EvalError::Missing(var)) => Err(format!("${var} was not captured")),
            Err(EvalError::Fatal(e)) => return Err(e.into()),
        };
        self.reporter.event(Event::Check {
            what: "atr".into(),
            actual: shown.clone(),
            ok: result.is_ok(),
        });
        match result {
            Ok(caps) => {
                for (name, range) in caps {
                    self.ctx
                        .vars
                        .set(&name, VarValue::new(atr[range].to_vec(), false));
                }
                Ok(())
            }
            Err(reason) => {
                let f = Failure {
                    step: self.step_label(),
                    at: d.pos.as_ref().unwrap_or(pos).into(),
                    expected: format!("atr => {}", d.text),
                    actual: shown,
                    reason: reason.replace("the data", "the ATR"),
                };
                self.fail(f)
            }
        }
    }

    pub(super) fn protocol_check(&mut self, pos: &Pos, allowed: &[u8]) -> Result<(), StopReason> {
        let (actual, source) = match self.ctx.events.protocol() {
            Some(p) => (Some(p), ""),
            None => (
                self.atr
                    .as_deref()
                    .and_then(|a| crate::apdu::atr::Atr::parse_lenient(a).ok())
                    .and_then(|a| a.protocols.first().copied()),
                " (first protocol the ATR offers)",
            ),
        };
        let shown = actual.map_or("unknown".to_string(), |p| format!("T={p}{source}"));
        let ok = actual.is_some_and(|p| allowed.contains(&p));
        self.reporter.event(Event::Check {
            what: "protocol".into(),
            actual: shown.clone(),
            ok,
        });
        if ok {
            return Ok(());
        }
        let want: Vec<String> = allowed.iter().map(|p| format!("T={p}")).collect();
        let f = Failure {
            step: self.step_label(),
            at: pos.into(),
            expected: format!("protocol => {}", want.join(" | ")),
            actual: shown,
            reason: "the card does not use the expected protocol".into(),
        };
        self.fail(f)
    }
}

/// The command as shown: redacted by the trace's rule and the known secrets, and
/// every byte that came from a secret value hidden as well.
fn shown_command(cmd: &Evaluated, secrets: Secrets, known: &KnownSecrets) -> String {
    let mut hide = redact::command_mask(&cmd.bytes, secrets, known);
    for (h, s) in hide.iter_mut().zip(&cmd.secret) {
        *h |= *s;
    }
    redact::masked_hex(&cmd.bytes, &hide)
}
