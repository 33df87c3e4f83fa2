//! Directive lines (`reset`, `step`, `let`, `wait-card`, `include`, `atr`, `protocol`, ...):
//! each keyword's arguments read and checked, durations and protocol lists included.
//!
//! Why apart: a directive's grammar is its own small language per keyword; the line
//! dispatch and the include stack stay in the parent module.

use super::*;

impl Parser<'_> {
    pub(super) fn directive(
        &mut self,
        kw: &str,
        line: &Line,
        path: &Path,
    ) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let pos = toks[0].pos.clone();
        let rest = &toks[1..];
        let nothing_after = |me: &Self| -> Result<(), ScriptError> {
            match rest.first() {
                Some(t) => Err(me.err(&t.pos, format!("'{kw}' takes nothing after it"))),
                None => Ok(()),
            }
        };
        match kw {
            "reset" => {
                nothing_after(self)?;
                self.push(pos, StmtKind::Reset);
            }
            "exit" => {
                nothing_after(self)?;
                self.push(pos, StmtKind::Exit);
                self.exited = true;
            }
            "step" | "echo" => {
                let text = match rest {
                    [] => {
                        return Err(self.err(
                            &pos_plus(&pos, kw.len()),
                            format!("'{kw}' needs text after it"),
                        ))
                    }
                    [Token {
                        tok: Tok::Str(s), ..
                    }] => s.clone(),
                    _ => line.raw_from(1),
                };
                let kind = if kw == "step" {
                    StmtKind::Step(text)
                } else {
                    StmtKind::Echo(text)
                };
                self.push(pos, kind);
            }
            "let" => self.let_line(line)?,
            "wait-card" | "wait-remove" => {
                let timeout = match rest {
                    [] => None,
                    [t] => Some(self.duration(t)?),
                    [_, t, ..] => {
                        return Err(self.err(&t.pos, format!("'{kw}' takes one timeout at most")))
                    }
                };
                let kind = if kw == "wait-card" {
                    StmtKind::WaitCard(timeout)
                } else {
                    StmtKind::WaitRemove(timeout)
                };
                self.push(pos, kind);
            }
            "include" => {
                let target = match rest {
                    [Token {
                        tok: Tok::Word(w) | Tok::Str(w),
                        ..
                    }] => w.clone(),
                    [] => return Err(self.err(&pos_plus(&pos, 7), "'include' needs a file name")),
                    [_, t, ..] | [t] => {
                        return Err(self.err(
                            &t.pos,
                            "'include' takes one file name (quote a name with spaces)",
                        ))
                    }
                };
                let at = rest[0].pos.clone();
                let joined = match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => dir.join(&target),
                    _ => PathBuf::from(&target),
                };
                let bytes = self.loader.load(&joined).map_err(|e| {
                    self.err(&at, format!("cannot include '{}': {e}", joined.display()))
                })?;
                let id = self.loader.identity(&joined);
                let name: Arc<str> = Arc::from(joined.display().to_string());
                self.file(name, &joined, id, &bytes, Some(at))?;
            }
            "atr" => {
                let arrow = rest
                    .first()
                    .filter(|t| t.tok == Tok::Arrow)
                    .ok_or_else(|| {
                        self.err(
                            &pos_plus(&pos, 3),
                            "write 'atr => PATTERN' (e.g. atr => 3B 6D 00 00 *)",
                        )
                    })?;
                let mut i = 2;
                let data = self.data_expect(line, &mut i)?;
                if data.is_empty() {
                    return Err(self.err(&pos_plus(&arrow.pos, 2), "'atr =>' needs a pattern"));
                }
                self.define_captures(&data);
                self.push(pos, StmtKind::Atr(data));
            }
            "protocol" => {
                let protos = self.protocols(line, &pos)?;
                self.push(pos, StmtKind::Protocol(protos));
            }
            "get-response" => {
                let auto = match rest {
                    [Token {
                        tok: Tok::Word(w), ..
                    }] if w.eq_ignore_ascii_case("auto") => true,
                    [Token {
                        tok: Tok::Word(w), ..
                    }] if w.eq_ignore_ascii_case("manual") => false,
                    _ => {
                        let at = rest
                            .first()
                            .map_or(pos_plus(&pos, kw.len()), |t| t.pos.clone());
                        return Err(
                            self.err(&at, "write 'get-response auto' or 'get-response manual'")
                        );
                    }
                };
                self.push(pos, StmtKind::GetResponse(auto));
            }
            _ => return Err(self.err(&pos, format!("unknown directive '{kw}'"))),
        }
        Ok(())
    }

    fn duration(&self, t: &Token) -> Result<Duration, ScriptError> {
        let bad = || {
            self.err(
                &t.pos,
                format!("a timeout is a number of seconds up to {MAX_WAIT_SECS} (e.g. 30 or 2.5s)"),
            )
        };
        let Tok::Word(w) = &t.tok else {
            return Err(bad());
        };
        let num = w.strip_suffix('s').unwrap_or(w);
        if num.is_empty() || !num.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(bad());
        }
        let secs: f64 = num.parse().map_err(|_| bad())?;
        if !(secs > 0.0 && secs <= MAX_WAIT_SECS) {
            return Err(bad());
        }
        Ok(Duration::from_secs_f64(secs))
    }

    fn protocols(&self, line: &Line, pos: &Pos) -> Result<Vec<u8>, ScriptError> {
        let toks = &line.tokens;
        let hint = "write 'protocol => T=0' (or T=1, or T=0 | T=1)";
        if toks.get(1).map(|t| &t.tok) != Some(&Tok::Arrow) {
            return Err(self.err(&pos_plus(pos, 8), hint));
        }
        let mut out = Vec::new();
        let mut i = 2;
        loop {
            let at = toks.get(i).map_or(pos_plus(pos, 8), |t| t.pos.clone());
            let number = |s: &str| {
                let digits = !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
                digits
                    .then(|| s.parse::<u8>().ok())
                    .flatten()
                    .filter(|n| *n <= 15)
            };
            let n = match (toks.get(i).map(|t| &t.tok), toks.get(i + 1).map(|t| &t.tok)) {
                (Some(Tok::Word(t)), Some(Tok::Eq)) if t.eq_ignore_ascii_case("t") => {
                    let n = match toks.get(i + 2).map(|t| &t.tok) {
                        Some(Tok::Word(d)) => number(d),
                        _ => None,
                    };
                    i += 3;
                    n
                }
                (Some(Tok::Word(t)), _)
                    if t.len() > 1 && (t.starts_with('t') || t.starts_with('T')) =>
                {
                    i += 1;
                    number(t.get(1..).unwrap_or(""))
                }
                _ => None,
            };
            out.push(n.ok_or_else(|| self.err(&at, hint))?);
            match toks.get(i) {
                None => return Ok(out),
                Some(t) if t.tok == Tok::Pipe => i += 1,
                Some(t) => return Err(self.err(&t.pos, hint)),
            }
        }
    }

    fn let_line(&mut self, line: &Line) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let pos = toks[0].pos.clone();
        let name = match toks.get(1).map(|t| &t.tok) {
            Some(Tok::Word(n)) if valid_name(n) => n.clone(),
            Some(Tok::Var { name, .. }) => {
                return Err(self.err(
                    &toks[1].pos,
                    format!("write 'let {name} = ...' without the '$'"),
                ))
            }
            _ => {
                let at = toks.get(1).map_or(pos_plus(&pos, 3), |t| t.pos.clone());
                return Err(self.err(&at, "write 'let NAME = VALUE' (NAME: letters, digits, _)"));
            }
        };
        match toks.get(2) {
            Some(t) if t.tok == Tok::Eq => {}
            Some(t) => return Err(self.err(&t.pos, format!("expected '=' after 'let {name}'"))),
            None => {
                return Err(self.err(
                    &pos_plus(&toks[1].pos, name.chars().count()),
                    format!("expected '=' after 'let {name}'"),
                ))
            }
        }
        if toks.len() == 3 {
            return Err(self.err(&pos_plus(&toks[2].pos, 1), "'let' needs a value after '='"));
        }
        let mut i = 3;
        let value = self.values(line, &mut i, "a 'let' value")?;
        for v in &value {
            self.check_defined(v)?;
        }
        self.defined.insert(name.clone());
        self.push(pos, StmtKind::Let { name, value });
        Ok(())
    }
}
