//! `=>` lines: the status-word pattern, the data pattern with masks, lengths and
//! captures, checked against the APDU just above.
//!
//! Why apart: expectations have their own grammar (patterns, captures) and define
//! variables for later lines; the parent only routes `=>` lines here.

use super::*;

impl Parser<'_> {
    pub(super) fn expect_line(&mut self, line: &Line) -> Result<(), ScriptError> {
        let toks = &line.tokens;
        let arrow = &toks[0];
        if !self.open_exchange {
            // An APDU line holding the word `reset` (`00 B0 ... # reset it`) is a reset,
            // as in scriptor: say so, or the error points at the wrong line.
            let after_reset = match self.script.stmts.last() {
                Some(Stmt {
                    pos,
                    kind: StmtKind::Reset,
                }) => format!(
                    " ({}:{} is a reset: a line containing 'reset' anywhere resets the \
                     card and sends nothing, as in scriptor)",
                    pos.file, pos.line
                ),
                _ => String::new(),
            };
            return Err(self.err(
                &arrow.pos,
                format!(
                    "'=>' must follow an APDU line: it states what that APDU's response \
                     must be{after_reset}"
                ),
            ));
        }
        let sw_hint = "after '=>' comes the status word: 4 hex digits with x wildcards, like \
                       9000, 61xx or 63Cx (alternatives: 9000|6283)";
        let mut i = 1;
        let mut sw = Vec::new();
        loop {
            let at = match toks.get(i) {
                Some(t) => t.pos.clone(),
                None => after(&toks[i - 1]),
            };
            let word = |k: usize| match toks.get(k).map(|t| &t.tok) {
                Some(Tok::Word(w)) => Some(w.as_str()),
                _ => None,
            };
            let pattern = match (word(i), word(i + 1)) {
                (Some(a), _) if a.chars().count() == 4 => {
                    i += 1;
                    SwPattern::parse(a)
                }
                (Some(a), Some(b)) if a.chars().count() == 2 && b.chars().count() == 2 => {
                    i += 2;
                    SwPattern::parse(&format!("{a}{b}"))
                }
                _ => None,
            };
            let pattern = pattern.ok_or_else(|| self.err(&at, sw_hint))?;
            let sw1_known = pattern.mask >> 8 == 0xFF;
            let sw1 = (pattern.value >> 8) as u8;
            if sw1_known && !matches!(sw1, 0x61..=0x6F | 0x90..=0x9F) {
                return Err(self.err(
                    &at,
                    format!(
                        "{pattern} is not a status word (SW1 is 61..6F or 90..9F): an '=>' line \
                         starts with the status word, then the data (=> 9000 6F 1C ...)"
                    ),
                ));
            }
            sw.push(pattern);
            match toks.get(i) {
                Some(t) if t.tok == Tok::Pipe => i += 1,
                _ => break,
            }
        }
        let data = self.data_expect(line, &mut i)?;
        let expect = Expect {
            pos: arrow.pos.clone(),
            text: line.raw_from(1),
            sw,
            data,
        };
        self.define_captures(&expect.data);
        if let Some(Stmt {
            kind: StmtKind::Exchange(x),
            ..
        }) = self.script.stmts.last_mut()
        {
            x.expects.push(expect);
        }
        Ok(())
    }

    pub(super) fn define_captures(&mut self, data: &DataExpect) {
        for item in data.pattern.iter().flatten() {
            if let PatItem::Capture { name, .. } = item {
                self.defined.insert(name.clone());
            }
        }
    }

    /// Data pattern items from `i` to the end of the line, then an optional `len`.
    pub(super) fn data_expect(
        &self,
        line: &Line,
        i: &mut usize,
    ) -> Result<DataExpect, ScriptError> {
        let toks = &line.tokens;
        let text_from = *i;
        let mut items: Vec<PatItem> = Vec::new();
        let mut len = None;
        let mut specials = 0;
        let mut captured: HashSet<&str> = HashSet::new();
        while let Some(t) = toks.get(*i) {
            let pos = t.pos.clone();
            let mut special = true;
            match &t.tok {
                Tok::Word(w) if w.eq_ignore_ascii_case("len") => {
                    let spec = match toks.get(*i + 1).map(|t| &t.tok) {
                        Some(Tok::Word(s)) => LenRange::parse(s),
                        _ => None,
                    };
                    len = Some(spec.ok_or_else(|| {
                        self.err(
                            &pos_plus(&pos, 3),
                            "after 'len' write a byte count: 8, or a range 8..16",
                        )
                    })?);
                    *i += 2;
                    if let Some(t) = toks.get(*i) {
                        return Err(self.err(&t.pos, "'len N' comes last on an '=>' line"));
                    }
                    break;
                }
                Tok::Word(w) if w == "*" => {
                    *i += 1;
                    if !matches!(items.last(), Some(PatItem::Star)) {
                        items.push(PatItem::Star);
                    }
                }
                Tok::Word(w) => {
                    *i += 1;
                    special = false;
                    let bytes = masked_bytes(w).map_err(|(idx, msg)| {
                        let msg = if w.eq_ignore_ascii_case("data") || w.chars().any(|c| c.is_alphabetic() && !c.is_ascii_hexdigit() && !matches!(c, 'x' | 'X')) && w.chars().count() > 2 {
                            format!("{msg}; an '=>' line is: status word, then the data pattern, then 'len N'")
                        } else {
                            msg
                        };
                        self.err(&pos_plus(&pos, idx), msg)
                    })?;
                    items.push(PatItem::Masked(bytes));
                }
                Tok::Str(s) => {
                    *i += 1;
                    special = false;
                    let b = self.ascii(s, &pos)?;
                    items.push(PatItem::Masked(b.into_iter().map(|b| (b, 0xFF)).collect()));
                }
                Tok::Var {
                    name,
                    capture: Some(c),
                } => {
                    *i += 1;
                    if !captured.insert(name) {
                        return Err(
                            self.err(&pos, format!("${name} is captured twice on one line"))
                        );
                    }
                    items.push(PatItem::Capture {
                        name: name.clone(),
                        len: *c,
                    });
                }
                Tok::Var { .. } | Tok::DollarBrace => {
                    let v = self.value(line, i, "a pattern", 0)?;
                    self.check_defined(&v)?;
                    items.push(PatItem::Value(v));
                }
                Tok::Pipe => {
                    return Err(self.err(
                        &pos,
                        "'|' separates status words only, right after '=>' (9000|6283)",
                    ))
                }
                Tok::Arrow => return Err(self.err(&pos, "one '=>' per line")),
                other => {
                    return Err(self.err(
                        &pos,
                        format!("unexpected {} in an '=>' line", other.describe()),
                    ))
                }
            }
            if special {
                specials += 1;
                if specials > MAX_PATTERN_SPECIALS {
                    return Err(self.err(
                        &pos,
                        format!("more than {MAX_PATTERN_SPECIALS} wildcards, captures and variables in one pattern"),
                    ));
                }
            }
        }
        Ok(DataExpect {
            pos: toks.get(text_from).map(|t| t.pos.clone()),
            text: if text_from < toks.len() {
                line.raw_from(text_from)
            } else {
                String::new()
            },
            pattern: (!items.is_empty()).then_some(items),
            len,
        })
    }
}
