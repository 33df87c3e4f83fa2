//! Evaluating values: variables, literal bytes and the crypto calls (MAC, cryptogram,
//! diversification through the SAM) into command bytes, remembering which bytes came
//! from secrets; and resolving an expectation's pattern into bytes.
//!
//! Why apart: evaluation is where secrets enter the run, so it sits in one place that a
//! reader checks for redaction; the statement loop stays in the parent.

use super::*;

impl Run<'_, '_, '_> {
    pub(super) fn eval_all(
        &mut self,
        values: &[Value],
        out: &mut Evaluated,
    ) -> Result<(), EvalError> {
        for v in values {
            self.eval(v, out)?;
        }
        Ok(())
    }

    fn eval(&mut self, v: &Value, out: &mut Evaluated) -> Result<(), EvalError> {
        match &v.kind {
            ValueKind::Bytes(b) => out.push(&v.pos, b, false)?,
            ValueKind::Var(name) => match self.ctx.vars.get(name) {
                Some(val) => {
                    let (bytes, secret) = (val.bytes.clone(), val.secret);
                    out.push(&v.pos, &bytes, secret)?;
                }
                None => return Err(EvalError::Missing(name.clone())),
            },
            ValueKind::Call(c) => self.call(&v.pos, c, out)?,
        }
        Ok(())
    }

    fn eval_one(&mut self, v: &Value) -> Result<Evaluated, EvalError> {
        let mut out = Evaluated::default();
        self.eval(v, &mut out)?;
        Ok(out)
    }

    fn call(&mut self, pos: &Pos, c: &Call, out: &mut Evaluated) -> Result<(), EvalError> {
        match c {
            Call::Len(v) => {
                let inner = self.eval_one(v)?;
                let n = inner.bytes.len();
                let byte = u8::try_from(n).map_err(|_| {
                    ScriptError::new(
                        pos.clone(),
                        format!("len(): the value is {n} bytes, more than one length byte holds"),
                    )
                })?;
                out.push(pos, &[byte], false)?;
            }
            Call::Random(n) => {
                let mut buf = vec![0u8; *n];
                getrandom::fill(&mut buf).map_err(|e| {
                    EvalError::Fatal(Error::Other {
                        message: format!("random(): the system gave no random bytes: {e}"),
                        code: ExitCode::Internal,
                    })
                })?;
                out.push(pos, &buf, false)?;
            }
            Call::Cryptogram {
                app,
                key_id,
                alg,
                diversifier,
                challenge,
            } => {
                let alg = match alg {
                    AlgArg::Fixed(a) => *a,
                    AlgArg::Id(v) => {
                        let id = self.eval_one(v)?;
                        match id.bytes.as_slice() {
                            [b] => Algorithm::from_id(*b),
                            _ => None,
                        }
                        .ok_or_else(|| {
                            ScriptError::new(
                                v.pos.clone(),
                                "the algorithm value must be one byte, 01 (3DES) or 03 (SM4)",
                            )
                        })?
                    }
                };
                let eight = |me: &mut Self, v: &Value, what: &str| -> Result<[u8; 8], EvalError> {
                    let e = me.eval_one(v)?;
                    <[u8; 8]>::try_from(e.bytes.as_slice()).map_err(|_| {
                        EvalError::from(ScriptError::new(
                            v.pos.clone(),
                            format!(
                                "the {what} must be 8 bytes; this value is {}",
                                e.bytes.len()
                            ),
                        ))
                    })
                };
                let d = eight(self, diversifier, "diversifier")?;
                let r = eight(self, challenge, "challenge")?;
                let sam = self.ctx.sam.as_deref_mut().ok_or_else(|| {
                    EvalError::Fatal(Error::Other {
                        message: format!(
                            "{pos}: cryptogram() needs keys: pass --keys FILE or --psam READER"
                        ),
                        code: ExitCode::Keys,
                    })
                })?;
                let crypt = Zeroizing::new(
                    sam.cryptogram(*app, *key_id, alg, &d, &r)
                        .map_err(|e| EvalError::Fatal(sam_error(e)))?,
                );
                self.ctx.channel.known_secrets().add(&crypt);
                out.push(pos, &crypt, true)?;
            }
        }
        Ok(())
    }

    /// Resolves a pattern's variables and calls into bytes.
    pub(super) fn resolve(&mut self, items: &[PatItem]) -> Result<Vec<Resolved>, EvalError> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(match item {
                PatItem::Masked(b) => Resolved::Fixed {
                    bytes: b.clone(),
                    secret: false,
                },
                PatItem::Star => Resolved::Star,
                PatItem::Capture { name, len } => Resolved::Capture(name.clone(), *len),
                PatItem::Value(v) => {
                    let e = self.eval_one(v)?;
                    Resolved::Fixed {
                        bytes: e.bytes.iter().map(|b| (*b, 0xFF)).collect(),
                        secret: e.any_secret(),
                    }
                }
            });
        }
        Ok(out)
    }
}
