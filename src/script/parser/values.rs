//! Values and calls: hex words, ASCII strings, variables and the typed crypto calls
//! (`mac(...)`, `diversify(...)`) that an APDU or a `let` is made of.
//!
//! Why apart: this is the expression grammar shared by APDU lines, `let` and the
//! expectations; it knows nothing of directives or files.

use super::*;

impl Parser<'_> {
    /// Values up to the end of the line (APDU and `let`).
    pub(super) fn values(
        &self,
        line: &Line,
        i: &mut usize,
        what: &str,
    ) -> Result<Vec<Value>, ScriptError> {
        let mut out = Vec::new();
        while *i < line.tokens.len() {
            out.push(self.value(line, i, what, 0)?);
        }
        Ok(out)
    }

    /// One value: hex word, string, `$var`, or `${call}`.
    pub(super) fn value(
        &self,
        line: &Line,
        i: &mut usize,
        what: &str,
        depth: usize,
    ) -> Result<Value, ScriptError> {
        let t = &line.tokens[*i];
        let pos = t.pos.clone();
        *i += 1;
        let kind = match &t.tok {
            Tok::Word(w) => ValueKind::Bytes(self.hex_word(w, &pos, *i == 1, what)?),
            Tok::Str(s) => ValueKind::Bytes(self.ascii(s, &pos)?),
            Tok::Var {
                name,
                capture: None,
            } => ValueKind::Var(name.clone()),
            Tok::Var { name, .. } => {
                return Err(self.err(
                    &pos,
                    format!("captures (${name}:N) belong in '=>' lines; here write ${name}"),
                ))
            }
            Tok::DollarBrace => {
                let call = self.call(line, i, depth)?;
                match line.tokens.get(*i) {
                    Some(t) if t.tok == Tok::RBrace => *i += 1,
                    Some(t) => {
                        return Err(
                            self.err(&t.pos, format!("expected '}}', found {}", t.tok.describe()))
                        )
                    }
                    None => return Err(self.err(&pos, "'${' is not closed by '}'")),
                }
                ValueKind::Call(Box::new(call))
            }
            Tok::Arrow => {
                return Err(self.err(
                    &pos,
                    "'=>' starts its own line: put the expectation on the line after the APDU",
                ))
            }
            other => {
                return Err(self.err(&pos, format!("unexpected {} in {what}", other.describe())))
            }
        };
        Ok(Value { pos, kind })
    }

    pub(super) fn ascii(&self, s: &str, pos: &Pos) -> Result<Vec<u8>, ScriptError> {
        if !s.is_ascii() {
            return Err(self.err(
                pos,
                "strings hold ASCII only (their bytes are unambiguous); write other bytes in hex",
            ));
        }
        Ok(s.as_bytes().to_vec())
    }

    fn hex_word(
        &self,
        w: &str,
        pos: &Pos,
        first: bool,
        what: &str,
    ) -> Result<Vec<u8>, ScriptError> {
        if let Some((idx, c)) = w.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit()) {
            let at = pos_plus(pos, idx);
            if first && (w == ">" || w == "<") {
                return Err(self.err(
                    &at,
                    "this looks like scriptor's output ('>' / '<' lines); a script line is the \
                     APDU alone, and its expected response goes on an '=>' line",
                ));
            }
            if matches!(c, 'x' | 'X' | '?') || w == "*" || w == ".." {
                return Err(self.err(
                    &at,
                    format!("wildcards ('{c}') are for '=>' lines; an APDU is exact hex"),
                ));
            }
            let msg = if first
                && w.chars()
                    .any(|c| c.is_ascii_alphabetic() && !c.is_ascii_hexdigit())
            {
                format!(
                    "'{w}' is neither hex nor a directive (directives: {})",
                    KEYWORDS.join(", ")
                )
            } else {
                format!("'{c}' is not a hex digit in {what}")
            };
            return Err(self.err(&at, msg));
        }
        if w.len() % 2 != 0 {
            return Err(self.err(
                pos,
                format!("'{w}' has an odd number of hex digits: write whole bytes"),
            ));
        }
        hex::decode(w).map_err(|e| self.err(pos, format!("bad hex '{w}': {e}")))
    }

    /// A call after `${` (or nested by name): NAME ( ARGS ).
    fn call(&self, line: &Line, i: &mut usize, depth: usize) -> Result<Call, ScriptError> {
        let toks = &line.tokens;
        let open_pos = toks.get(i.saturating_sub(1)).map(|t| t.pos.clone());
        let (name, name_pos) = match toks.get(*i) {
            Some(Token {
                tok: Tok::Word(n),
                pos,
                ..
            }) => (n.to_ascii_lowercase(), pos.clone()),
            Some(t) => {
                return Err(self.err(
                    &t.pos,
                    format!("expected a function name, found {}", t.tok.describe()),
                ))
            }
            None => {
                let at = open_pos.unwrap_or_else(|| toks[0].pos.clone());
                return Err(self.err(&at, "expected a function name after '${'"));
            }
        };
        if depth >= MAX_CALL_DEPTH {
            return Err(self.err(
                &name_pos,
                format!("calls nest deeper than {MAX_CALL_DEPTH}"),
            ));
        }
        *i += 1;
        match toks.get(*i) {
            Some(t) if t.tok == Tok::LParen => *i += 1,
            _ => {
                return Err(self.err(
                    &pos_plus(&name_pos, name.chars().count()),
                    format!("expected '(' after '{name}'"),
                ))
            }
        }
        // Arguments: each a word (name or hex), string, variable, or call.
        let mut args: Vec<(Pos, Arg)> = Vec::new();
        loop {
            let Some(t) = toks.get(*i) else {
                return Err(self.err(&name_pos, format!("'{name}(' is not closed by ')'")));
            };
            if t.tok == Tok::RParen && args.is_empty() {
                *i += 1;
                break;
            }
            let apos = t.pos.clone();
            let arg = match &t.tok {
                Tok::Word(w) if toks.get(*i + 1).map(|t| &t.tok) == Some(&Tok::LParen) => {
                    let _ = w;
                    let c = self.call(line, i, depth + 1)?;
                    Arg::Value(Value {
                        pos: apos.clone(),
                        kind: ValueKind::Call(Box::new(c)),
                    })
                }
                Tok::Word(w) => {
                    *i += 1;
                    Arg::Word(w.clone())
                }
                Tok::Str(_) | Tok::Var { .. } | Tok::DollarBrace => {
                    Arg::Value(self.value(line, i, "an argument", depth + 1)?)
                }
                other => {
                    return Err(self.err(
                        &apos,
                        format!(
                            "unexpected {} in the arguments of '{name}'",
                            other.describe()
                        ),
                    ))
                }
            };
            args.push((apos, arg));
            match toks.get(*i) {
                Some(t) if t.tok == Tok::Comma => *i += 1,
                Some(t) if t.tok == Tok::RParen => {
                    *i += 1;
                    break;
                }
                Some(t) => {
                    return Err(self.err(
                        &t.pos,
                        format!("expected ',' or ')', found {}", t.tok.describe()),
                    ))
                }
                None => return Err(self.err(&name_pos, format!("'{name}(' is not closed by ')'"))),
            }
        }
        self.typed_call(&name, &name_pos, args)
    }

    fn typed_call(
        &self,
        name: &str,
        pos: &Pos,
        args: Vec<(Pos, Arg)>,
    ) -> Result<Call, ScriptError> {
        let want = |n: usize, sig: &str| -> Result<(), ScriptError> {
            if args.len() != n {
                return Err(self.err(
                    pos,
                    format!("{sig} takes {n} argument(s), not {}", args.len()),
                ));
            }
            Ok(())
        };
        let as_value = |(p, a): &(Pos, Arg)| -> Result<Value, ScriptError> {
            match a {
                Arg::Value(v) => Ok(v.clone()),
                Arg::Word(w) => Ok(Value {
                    pos: p.clone(),
                    kind: ValueKind::Bytes(self.hex_word(w, p, false, "an argument")?),
                }),
            }
        };
        match name {
            "cryptogram" => {
                let sig = "cryptogram(APP, KEY, ALG, DIVERSIFIER, CHALLENGE)";
                want(5, sig)?;
                let app = match &args[0].1 {
                    Arg::Word(w) if w.eq_ignore_ascii_case("ssc") => KeyApp::Ssc,
                    Arg::Word(w) if w.eq_ignore_ascii_case("city") => KeyApp::City,
                    _ => return Err(self.err(&args[0].0, "the application is 'ssc' or 'city'")),
                };
                let key_id = match &args[1].1 {
                    Arg::Word(w) if w.len() == 2 => u8::from_str_radix(w, 16).ok(),
                    _ => None,
                }
                .ok_or_else(|| self.err(&args[1].0, "the key id is one hex byte, like 0C"))?;
                let alg = match &args[2].1 {
                    Arg::Word(w) => {
                        let l = w.to_ascii_lowercase();
                        let alg = match l.as_str() {
                            "3des" | "tdes" | "des3" | "01" => Some(Algorithm::Tdes),
                            "sm4" | "03" => Some(Algorithm::Sm4),
                            _ => None,
                        };
                        AlgArg::Fixed(alg.ok_or_else(|| {
                            self.err(
                                &args[2].0,
                                "the algorithm is 3des, sm4, 01, 03 or a variable holding 01/03",
                            )
                        })?)
                    }
                    Arg::Value(v) => AlgArg::Id(v.clone()),
                };
                Ok(Call::Cryptogram {
                    app,
                    key_id,
                    alg,
                    diversifier: as_value(&args[3])?,
                    challenge: as_value(&args[4])?,
                })
            }
            "len" => {
                want(1, "len(VALUE)")?;
                Ok(Call::Len(as_value(&args[0])?))
            }
            "random" => {
                want(1, "random(COUNT)")?;
                let n = match &args[0].1 {
                    Arg::Word(w) if w.len() <= 3 && w.chars().all(|c| c.is_ascii_digit()) => {
                        w.parse::<usize>().ok().filter(|n| (1..=255).contains(n))
                    }
                    _ => None,
                }
                .ok_or_else(|| self.err(&args[0].0, "random(COUNT): a decimal count 1..255"))?;
                Ok(Call::Random(n))
            }
            _ => Err(self.err(
                pos,
                format!("unknown function '{name}' (functions: cryptogram, len, random)"),
            )),
        }
    }
}

/// A call argument before it is typed.
enum Arg {
    Word(String),
    Value(Value),
}
