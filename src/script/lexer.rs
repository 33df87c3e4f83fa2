//! Characters to tokens: comments, strings, `\` continuation, and exact positions.
//!
//! Why a real lexer rather than `split_whitespace`: every error must point at its
//! file:line:column, comments may stand anywhere (scriptor only knows column 0; its
//! other line rules are applied here too, see [`Lines`]), `#`
//! inside a quoted string is text, and a `\` at the end of a line joins it to the
//! next (scriptor's continuation) while a `\` anywhere else is a mistake worth naming.
//! The lexer turns a file into *logical lines*, each a list of tokens that keep the
//! physical line and column they came from.

use super::{Pos, ScriptError};
use std::sync::Arc;

/// Largest script file accepted (a technician's script is a few KiB).
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// A capture length in a pattern: `$x:8` or `$x:*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureLen {
    /// Exactly this many bytes.
    Fixed(usize),
    /// Any number of bytes (like `*`).
    Rest,
}

/// A token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A run of ordinary characters: hex, keywords, names, numbers, `*`, `..`.
    Word(String),
    /// A double-quoted string, escapes resolved.
    Str(String),
    /// `$name`, with `:N` / `:*` when it captures.
    Var {
        /// The variable name.
        name: String,
        /// The capture length, when written.
        capture: Option<CaptureLen>,
    },
    /// `${`
    DollarBrace,
    /// `}`
    RBrace,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `,`
    Comma,
    /// `|`
    Pipe,
    /// `=>`
    Arrow,
    /// `=`
    Eq,
}

impl Tok {
    /// How the token is written, for messages.
    pub fn describe(&self) -> String {
        match self {
            Tok::Word(w) => format!("'{w}'"),
            Tok::Str(_) => "a string".into(),
            Tok::Var { name, .. } => format!("'${name}'"),
            Tok::DollarBrace => "'${'".into(),
            Tok::RBrace => "'}'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Pipe => "'|'".into(),
            Tok::Arrow => "'=>'".into(),
            Tok::Eq => "'='".into(),
        }
    }
}

/// A token and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its first character.
    pub pos: Pos,
    /// Index of its physical line in [`Line::physical`].
    pub phys: usize,
    /// Byte range within that physical line's text.
    pub span: (usize, usize),
    /// Length in characters (for positions just after the token).
    pub chars: usize,
}

/// A logical line: one or more physical lines joined by `\`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line {
    /// The tokens, in order (none for a line that only carries notes).
    pub tokens: Vec<Token>,
    /// The physical lines' text (for the raw text of `step` and `echo`).
    pub physical: Vec<String>,
    /// Warnings: where scriptor's rules give the line another meaning than it has as
    /// written (see [`Lines`]).
    pub notes: Vec<(Pos, String)>,
}

impl Line {
    /// The source text from token `from` to the end of the logical line, comments and
    /// continuation marks left out, physical lines joined by one space.
    pub fn raw_from(&self, from: usize) -> String {
        let mut parts: Vec<String> = Vec::new();
        let toks = self.tokens.get(from..).unwrap_or(&[]);
        let mut i = 0;
        while i < toks.len() {
            let phys = toks[i].phys;
            let start = toks[i].span.0;
            let mut end = toks[i].span.1;
            while i < toks.len() && toks[i].phys == phys {
                end = toks[i].span.1;
                i += 1;
            }
            if let Some(text) = self.physical.get(phys).and_then(|t| t.get(start..end)) {
                parts.push(text.to_string());
            }
        }
        parts.join(" ")
    }
}

fn is_special(c: char) -> bool {
    matches!(
        c,
        '#' | '"' | '$' | '=' | '|' | '(' | ')' | ',' | '{' | '}' | '\\'
    )
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `text` (one file) into logical lines. `file` names it in positions.
pub fn lex(file: &Arc<str>, text: &str) -> Result<Vec<Line>, ScriptError> {
    Lines::new(file, text).collect()
}

/// The logical lines of a file, lexed one at a time, so that nothing after `exit` is
/// even looked at (scriptor stops reading there).
///
/// scriptor's line rules, from its source (pcsc-tools `scriptor`, the `while` loop),
/// are applied here, in its order, to every physical line:
/// 1. a line *containing* `exit` (any case, anywhere, comments included) ends the
///    script; an APDU still being continued is dropped, never sent;
/// 2. a blank line is skipped, and so is a line starting with `#` in column 0; inside
///    a `\` continuation neither ends it: the APDU goes on on the next line;
/// 3. a line *containing* `reset` (any case) resets the card and sends nothing of
///    that line; inside a continuation the APDU goes on after the reset;
/// 4. a line ending in `\` continues on the next one; at the end of the file the
///    unfinished APDU is dropped.
///
/// Where a rule gives a line another meaning than the one it has as written (a
/// comment or an APDU that contains `exit` or `reset`, `reset now`, an APDU left
/// unfinished), the [`Line`] carries a note that becomes a warning. A line of our own
/// syntax (a directive other than `reset`/`exit`, `=>`, `"text"`, `$var`) containing
/// either word is an error: scriptor would read it as `reset`/`exit`, and it must not
/// mean two things.
pub struct Lines<'t> {
    file: Arc<str>,
    physical: std::iter::Enumerate<std::str::Split<'t, char>>,
    done: bool,
    /// An APDU being continued across a `reset` line, and where its `\` was.
    partial: Option<(Line, Pos)>,
    /// The file began with a UTF-8 byte order mark. scriptor reads it as part of the
    /// first line, so a `#` right after it is not in column 0 there: `reset` in that
    /// line resets the card.
    bom: bool,
}

impl<'t> Lines<'t> {
    /// Starts lexing `text`.
    pub fn new(file: &Arc<str>, text: &'t str) -> Self {
        let stripped = text.strip_prefix('\u{FEFF}');
        Lines {
            file: file.clone(),
            physical: stripped.unwrap_or(text).split('\n').enumerate(),
            done: false,
            partial: None,
            bom: stripped.is_some(),
        }
    }
}

/// What scriptor makes of a physical line before it looks at its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScriptorWord {
    Exit,
    Reset,
}

/// Applies scriptor's `exit`/`reset` rules to one physical line: `Ok(None)` when
/// neither applies, else the keyword line to use instead and, when the line says more
/// than the bare keyword, the note to give.
///
/// `after_bom`: the line is the first of a file that began with a byte order mark,
/// which scriptor keeps in front of it (so a `#` there is not in column 0).
fn scriptor_word(
    file: &Arc<str>,
    line_no: usize,
    raw: &str,
    after_bom: bool,
) -> Result<Option<(ScriptorWord, Line)>, ScriptError> {
    let lower = raw.to_ascii_lowercase();
    let (word, at) = if let Some(at) = lower.find("exit") {
        (ScriptorWord::Exit, at)
    } else if let Some(at) = lower
        .find("reset")
        .filter(|_| after_bom || !raw.starts_with('#'))
    {
        (ScriptorWord::Reset, at)
    } else {
        return Ok(None);
    };
    let name = match word {
        ScriptorWord::Exit => "exit",
        ScriptorWord::Reset => "reset",
    };
    let col = raw[..at].chars().count() + 1;
    let pos = Pos {
        file: file.clone(),
        line: line_no,
        col,
    };
    let first = lower.split_whitespace().next().unwrap_or("");
    // Our own syntax before any comment: a string or a variable.
    let code = raw.split('#').next().unwrap_or("");
    let ours = !raw.starts_with('#')
        && ((super::parser::KEYWORDS.contains(&first) && first != "reset" && first != "exit")
            || first.starts_with("=>")
            || code.contains('"')
            || code.contains('$'));
    if ours {
        let what = match word {
            ScriptorWord::Exit => "ends the whole script at any line containing 'exit'",
            ScriptorWord::Reset => "resets the card at any line containing 'reset'",
        };
        return Err(ScriptError::new(
            pos,
            format!(
                "this line contains '{name}': scriptor {what} (comments, names and text \
                 included), so the line would mean something else there; reword it"
            ),
        ));
    }
    let trimmed = raw.trim_start();
    let lead = raw.len() - trimmed.len();
    let bare = first == name && {
        let rest = trimmed[name.len()..].trim_start();
        rest.is_empty() || rest.starts_with('#')
    };
    let start = Pos {
        file: file.clone(),
        line: line_no,
        col: raw[..lead].chars().count() + 1,
    };
    let mut line = Line {
        tokens: vec![Token {
            tok: Tok::Word(name.to_string()),
            pos: start,
            phys: 0,
            span: (lead, raw.len()),
            chars: name.len(),
        }],
        physical: vec![raw.to_string()],
        notes: Vec::new(),
    };
    if !bare {
        let what = match word {
            ScriptorWord::Exit => "the script ends here (scriptor stops at any line containing 'exit', comments included)",
            ScriptorWord::Reset => "the card is reset here and nothing else of the line is sent (scriptor resets at any line containing 'reset' that is not a column-0 comment)",
        };
        line.notes
            .push((pos, format!("this line contains '{name}': {what}")));
    }
    Ok(Some((word, line)))
}

impl Iterator for Lines<'_> {
    type Item = Result<Line, ScriptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (mut line, mut continued_from) = match self.partial.take() {
            Some((line, pos)) => (line, Some(pos)),
            None => (Line::default(), None),
        };
        loop {
            let Some((i, raw)) = self.physical.next() else {
                self.done = true;
                return continued_from.map(|pos| {
                    Ok(Line {
                        notes: vec![(
                            pos,
                            "the line ends with '\\' (continued) but the file ends there: \
                             that APDU is not sent (scriptor drops it too)"
                                .into(),
                        )],
                        ..Line::default()
                    })
                });
            };
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let line_no = i + 1;
            match scriptor_word(&self.file, line_no, raw, self.bom && i == 0) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(Some((word, mut word_line))) => {
                    if word == ScriptorWord::Exit {
                        self.done = true;
                        if let Some(pos) = continued_from {
                            word_line.notes.push((
                                pos,
                                "this APDU is continued with '\\' but 'exit' comes first: \
                                 it is not sent (as in scriptor)"
                                    .into(),
                            ));
                        }
                    } else if let Some(pos) = continued_from {
                        self.partial = Some((line, pos));
                    }
                    return Some(Ok(word_line));
                }
                Ok(None) => {}
            }
            let phys = line.physical.len();
            line.physical.push(raw.to_string());
            let before = line.tokens.len();
            match lex_physical(&self.file, line_no, phys, raw, &mut line.tokens) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Ok(true) => {
                    continued_from = Some(Pos {
                        file: self.file.clone(),
                        line: line_no,
                        col: raw.chars().count() + 1,
                    });
                }
                // A blank or comment line inside a continuation: scriptor skips it
                // and the APDU goes on (issue 11 §3).
                Ok(false) if line.tokens.len() == before && continued_from.is_some() => {}
                Ok(false) => {
                    if !line.tokens.is_empty() {
                        return Some(Ok(line));
                    }
                    line.physical.clear();
                    continued_from = None;
                }
            }
        }
    }
}

/// Lexes one physical line, appending tokens; returns whether it ends with `\`.
fn lex_physical(
    file: &Arc<str>,
    line_no: usize,
    phys: usize,
    raw: &str,
    out: &mut Vec<Token>,
) -> Result<bool, ScriptError> {
    // (byte offset, char) with 1-based character columns.
    let chars: Vec<(usize, char)> = raw.char_indices().collect();
    let pos_at = |idx: usize| Pos {
        file: file.clone(),
        line: line_no,
        col: idx + 1,
    };
    let byte_at = |idx: usize| chars.get(idx).map_or(raw.len(), |c| c.0);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c.is_control() {
            return Err(ScriptError::new(
                pos_at(i),
                format!("unexpected control character U+{:04X}", c as u32),
            ));
        }
        let start = i;
        let tok = match c {
            '#' => return Ok(false),
            '\\' => {
                let rest = raw.get(byte_at(i + 1)..).unwrap_or("").trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    return Ok(true);
                }
                return Err(ScriptError::new(
                    pos_at(i),
                    "'\\' continues a line only at its end (outside strings)",
                ));
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i).map(|c| c.1) {
                        None => {
                            return Err(ScriptError::new(
                                pos_at(start),
                                "unterminated string: add the closing '\"'",
                            ))
                        }
                        Some('"') => break,
                        Some('\\') => {
                            match chars.get(i + 1).map(|c| c.1) {
                                Some('"') => s.push('"'),
                                Some('\\') => s.push('\\'),
                                _ => {
                                    return Err(ScriptError::new(
                                        pos_at(i),
                                        "unknown escape in a string: only \\\" and \\\\ exist",
                                    ))
                                }
                            }
                            i += 1;
                        }
                        Some(ch) if ch.is_control() && ch != '\t' => {
                            return Err(ScriptError::new(
                                pos_at(i),
                                format!("unexpected control character U+{:04X}", ch as u32),
                            ))
                        }
                        Some(ch) => s.push(ch),
                    }
                    i += 1;
                }
                i += 1;
                Tok::Str(s)
            }
            '$' => {
                if chars.get(i + 1).map(|c| c.1) == Some('{') {
                    i += 2;
                    Tok::DollarBrace
                } else {
                    i += 1;
                    let name_start = i;
                    if !chars.get(i).is_some_and(|c| is_name_start(c.1)) {
                        return Err(ScriptError::new(
                            pos_at(start),
                            "'$' must be followed by a variable name ($rnd) or '{' (${len($x)})",
                        ));
                    }
                    while chars.get(i).is_some_and(|c| is_name_char(c.1)) {
                        i += 1;
                    }
                    let name: String = chars[name_start..i].iter().map(|c| c.1).collect();
                    let mut capture = None;
                    if chars.get(i).map(|c| c.1) == Some(':') {
                        let colon = i;
                        i += 1;
                        let len_start = i;
                        while chars
                            .get(i)
                            .is_some_and(|c| !c.1.is_whitespace() && !is_special(c.1))
                        {
                            i += 1;
                        }
                        let len: String = chars[len_start..i].iter().map(|c| c.1).collect();
                        capture = Some(if len == "*" {
                            CaptureLen::Rest
                        } else {
                            match len.parse::<usize>() {
                                Ok(n) if (1..=65536).contains(&n) && !len.starts_with('+') => {
                                    CaptureLen::Fixed(n)
                                }
                                _ => {
                                    return Err(ScriptError::new(
                                        pos_at(colon + 1),
                                        format!(
                                            "after '${name}:' write a byte count 1..65536 or '*', not '{len}'"
                                        ),
                                    ))
                                }
                            }
                        });
                    }
                    Tok::Var { name, capture }
                }
            }
            '=' => {
                if chars.get(i + 1).map(|c| c.1) == Some('>') {
                    i += 2;
                    Tok::Arrow
                } else {
                    i += 1;
                    Tok::Eq
                }
            }
            '|' => {
                i += 1;
                Tok::Pipe
            }
            '(' => {
                i += 1;
                Tok::LParen
            }
            ')' => {
                i += 1;
                Tok::RParen
            }
            ',' => {
                i += 1;
                Tok::Comma
            }
            '}' => {
                i += 1;
                Tok::RBrace
            }
            '{' => {
                return Err(ScriptError::new(
                    pos_at(i),
                    "unexpected '{': a function call is written ${name(...)}",
                ))
            }
            _ => {
                while chars
                    .get(i)
                    .is_some_and(|c| !c.1.is_whitespace() && !c.1.is_control() && !is_special(c.1))
                {
                    i += 1;
                }
                Tok::Word(chars[start..i].iter().map(|c| c.1).collect())
            }
        };
        out.push(Token {
            tok,
            pos: pos_at(start),
            phys,
            span: (byte_at(start), byte_at(i)),
            chars: i - start,
        });
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<Vec<Tok>> {
        lex(&Arc::from("t"), text)
            .unwrap()
            .into_iter()
            .map(|l| l.tokens.into_iter().map(|t| t.tok).collect())
            .collect()
    }

    fn w(s: &str) -> Tok {
        Tok::Word(s.into())
    }

    #[test]
    fn a_byte_order_mark_keeps_a_reset_comment_a_reset_as_in_scriptor() {
        // scriptor reads the BOM as part of line 1, so its `#` is not in column 0 and
        // the line resets the card; without a BOM the same line is a comment.
        let with_bom = lex(&Arc::from("t"), "\u{FEFF}# reset first\n00 A4 00 00 00\n").unwrap();
        assert_eq!(with_bom.len(), 2);
        assert_eq!(with_bom[0].tokens[0].tok, w("reset"));
        assert!(
            !with_bom[0].notes.is_empty(),
            "the changed meaning is warned"
        );
        assert_eq!(
            toks("# reset first\n00 A4 00 00 00\n"),
            toks("00 A4 00 00 00\n")
        );
        // Only the first line follows the BOM.
        assert_eq!(
            toks("\u{FEFF}00 A4 00 00 00\n# reset\n"),
            vec![vec![w("00"), w("A4"), w("00"), w("00"), w("00")]]
        );
    }

    #[test]
    fn comments_anywhere_and_blank_lines() {
        assert_eq!(
            toks("# c\n  # indented\n00 A4 # trailing\n\n\t00B0\r\n"),
            vec![vec![w("00"), w("A4")], vec![w("00B0")]]
        );
    }

    #[test]
    fn continuation_joins_lines_and_keeps_positions() {
        let lines = lex(&Arc::from("f"), "00 A4 \\\n  04 00\\ # c\n02").unwrap();
        assert_eq!(lines.len(), 1);
        let l = &lines[0];
        assert_eq!(l.tokens.len(), 5);
        assert_eq!((l.tokens[2].pos.line, l.tokens[2].pos.col), (2, 3));
        assert_eq!((l.tokens[4].pos.line, l.tokens[4].pos.col), (3, 1));
    }

    #[test]
    fn sigils_strings_and_captures() {
        assert_eq!(
            toks(r#"=> 9000|61xx "a#b\"" $rnd:8 $r:* ${len($x)} let y=01"#),
            vec![vec![
                Tok::Arrow,
                w("9000"),
                Tok::Pipe,
                w("61xx"),
                Tok::Str("a#b\"".into()),
                Tok::Var {
                    name: "rnd".into(),
                    capture: Some(CaptureLen::Fixed(8))
                },
                Tok::Var {
                    name: "r".into(),
                    capture: Some(CaptureLen::Rest)
                },
                Tok::DollarBrace,
                w("len"),
                Tok::LParen,
                Tok::Var {
                    name: "x".into(),
                    capture: None
                },
                Tok::RParen,
                Tok::RBrace,
                w("let"),
                w("y"),
                Tok::Eq,
                w("01"),
            ]]
        );
    }

    #[test]
    fn raw_text_of_a_line() {
        let lines = lex(&Arc::from("f"), "step select  SSSE (by AID) # c\n").unwrap();
        assert_eq!(lines[0].raw_from(1), "select  SSSE (by AID)");
    }

    #[test]
    fn errors_have_columns() {
        let e = |t: &str| lex(&Arc::from("f"), t).unwrap_err();
        assert_eq!(e("00 \"abc").pos.col, 4);
        assert_eq!(e("00 \\ 01").pos.col, 4);
        assert_eq!(e("00 $ 01").pos.col, 4);
        assert_eq!(e("=> 9000 $x:0").pos.col, 12);
        assert_eq!(e("00 {").pos.col, 4);
        assert_eq!(e("00\u{7}").pos.col, 3);
        let dangling = lex(&Arc::from("f"), "00 \\").unwrap();
        assert!(dangling[0].tokens.is_empty());
        assert!(dangling[0].notes[0].1.contains("file ends"));
        assert!(e(r#""\q""#).message.contains("escape"));
    }
}
