//! Parser tests: every class of syntax error names its file:line:column and says what
//! to write instead; scriptor input parses unchanged; no input makes the parser panic.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use sscard::script::ast::StmtKind;
use sscard::script::parser::{parse_bytes, parse_files, parse_str, MemLoader, NoIncludes};
use sscard::script::ScriptError;

fn err(text: &str) -> ScriptError {
    match parse_str("s.apdu", text, &mut NoIncludes, &["given"]) {
        Ok(_) => panic!("no error for {text:?}"),
        Err(e) => e,
    }
}

/// (input, line, column, a piece of the message)
const CASES: &[(&str, usize, usize, &str)] = &[
    // --- lexical
    ("00 A4 \"abc\n", 1, 7, "unterminated string"),
    ("=> 9000 \"a\\qb\"\n", 1, 11, "unknown escape"),
    ("00 A4 \\ 00\n", 1, 7, "only at its end"),
    ("00 A4 $ 00\n", 1, 7, "variable name"),
    ("00 84 00 00 08\n=> 9000 $x:0\n", 2, 12, "byte count"),
    ("00 84 00 00 08\n=> 9000 $x:ab\n", 2, 12, "byte count"),
    ("00 A4 { 00\n", 1, 7, "unexpected '{'"),
    ("00 A4\u{7} 00\n", 1, 6, "control character"),
    // --- APDU lines
    ("00 A4 0G 00\n", 1, 8, "not a hex digit"),
    ("00 A4 000 00\n", 1, 7, "odd number of hex digits"),
    ("00 A4 xx 00\n", 1, 7, "wildcards"),
    ("wait_card 10\n", 1, 1, "neither hex nor a directive"),
    ("> 00 A4 00 00\n", 1, 1, "scriptor's output"),
    ("00 A4 00\n", 1, 1, "at least 4 bytes"),
    ("00 A4 00 00 $rnd:8\n", 1, 13, "belong in '=>' lines"),
    ("00 A4 00 00 => 9000\n", 1, 13, "its own line"),
    ("00 A4 00 00 | 00\n", 1, 13, "unexpected '|'"),
    ("00 A4 00 00 \"é\"\n", 1, 13, "ASCII only"),
    ("00 82 00 0C 08 $rnd\n", 1, 16, "$rnd is not defined"),
    // --- expectation lines
    ("=> 9000\n", 1, 1, "must follow an APDU"),
    ("step x\n=> 9000\n", 2, 1, "must follow an APDU"),
    ("00 A4 00 00\nreset\n=> 9000\n", 3, 1, "must follow an APDU"),
    ("00 A4 00 00\n=>\n", 1 + 1, 3, "status word"),
    ("00 A4 00 00\n=> 900\n", 2, 4, "status word"),
    ("00 A4 00 00\n=> 9000|\n", 2, 9, "status word"),
    ("00 A4 00 00\n=> 0110 6399\n", 2, 4, "is not a status word"),
    ("00 A4 00 00\n=> 9000 01 | 02\n", 2, 12, "status words only"),
    ("00 A4 00 00\n=> 9000 len\n", 2, 12, "byte count"),
    ("00 A4 00 00\n=> 9000 len 9..8\n", 2, 12, "byte count"),
    ("00 A4 00 00\n=> 9000 len 8 01\n", 2, 15, "comes last"),
    ("00 A4 00 00\n=> 9000 0g\n", 2, 10, "neither a hex digit"),
    ("00 A4 00 00\n=> 9000 012\n", 2, 9, "odd number"),
    ("00 A4 00 00\n=> 9000 $a:1 $a:1\n", 2, 14, "captured twice"),
    ("00 A4 00 00\n=> 9000 $nope\n", 2, 9, "$nope is not defined"),
    ("00 A4 00 00\n=> 9000 => 9000\n", 2, 9, "one '=>' per line"),
    ("00 A4 00 00\n=> 9000 , 01\n", 2, 9, "unexpected ','"),
    // --- calls
    ("00 A4 00 00 ${nope(1)}\n", 1, 15, "unknown function"),
    ("00 A4 00 00 ${len(01, 02)}\n", 1, 15, "takes 1 argument"),
    ("00 A4 00 00 ${len 01}\n", 1, 18, "expected '('"),
    ("00 A4 00 00 ${len(01)\n", 1, 13, "not closed by '}'"),
    ("00 A4 00 00 ${len(01}\n", 1, 21, "expected ',' or ')'"),
    ("00 A4 00 00 ${}\n", 1, 15, "expected a function name"),
    ("00 A4 00 00 ${random(0)}\n", 1, 22, "decimal count"),
    (
        "00 A4 00 00 ${cryptogram(bank, 0C, sm4, $given, $given)}\n",
        1,
        26,
        "'ssc' or 'city'",
    ),
    (
        "00 A4 00 00 ${cryptogram(ssc, 0CC, sm4, $given, $given)}\n",
        1,
        31,
        "one hex byte",
    ),
    (
        "00 A4 00 00 ${cryptogram(ssc, 0C, aes, $given, $given)}\n",
        1,
        35,
        "algorithm",
    ),
    (
        "00 A4 00 00 ${len(len(len(len(len(len(len(len(len(01)))))))))}\n",
        1,
        47,
        "nest deeper",
    ),
    // --- directives
    // --- our own lines that scriptor would take for `reset` / `exit`
    ("step warm reset\n", 1, 11, "contains 'reset'"),
    ("echo then EXIT the tool\n", 1, 11, "contains 'exit'"),
    ("let exit_code = 01\n", 1, 5, "contains 'exit'"),
    ("include reset.apdu\n", 1, 9, "contains 'reset'"),
    ("00 A4 04 00 05 \"reset\"\n", 1, 17, "contains 'reset'"),
    (
        "00 A4 00 00\n=> 9000 # then exit\n",
        2,
        16,
        "contains 'exit'",
    ),
    ("wait-card 5 # then reset\n", 1, 20, "contains 'reset'"),
    ("step\n", 1, 5, "needs text"),
    ("echo\n", 1, 5, "needs text"),
    ("let\n", 1, 4, "let NAME = VALUE"),
    ("let $x = 01\n", 1, 5, "without the '$'"),
    ("let x 01\n", 1, 7, "expected '='"),
    ("let x =\n", 1, 8, "needs a value"),
    ("let 9x = 01\n", 1, 5, "let NAME = VALUE"),
    ("wait-card soon\n", 1, 11, "timeout"),
    ("wait-card 0\n", 1, 11, "timeout"),
    ("wait-remove 1 2\n", 1, 15, "one timeout"),
    ("include\n", 1, 8, "needs a file name"),
    ("include a b\n", 1, 11, "one file name"),
    ("include missing.apdu\n", 1, 9, "cannot include"),
    ("atr 3B\n", 1, 4, "atr => PATTERN"),
    ("atr =>\n", 1, 7, "needs a pattern"),
    ("protocol T=0\n", 1, 9, "protocol => T=0"),
    ("protocol => T=16\n", 1, 13, "protocol => T=0"),
    ("protocol => T=0 T=1\n", 1, 17, "protocol => T=0"),
    ("get-response sometimes\n", 1, 14, "get-response auto"),
];

#[test]
fn every_syntax_error_class_has_a_position_and_a_hint() {
    let mut failures = Vec::new();
    for (text, line, col, msg) in CASES {
        let e = err(text);
        if &*e.pos.file != "s.apdu"
            || e.pos.line != *line
            || e.pos.col != *col
            || !e.message.contains(msg)
        {
            failures.push(format!(
                "{text:?}: got {}:{}: {} (wanted {line}:{col} containing {msg:?})",
                e.pos.line, e.pos.col, e.message
            ));
        }
        // The display form is file:line:column: message.
        assert!(e
            .to_string()
            .starts_with(&format!("s.apdu:{}:{}: ", e.pos.line, e.pos.col)));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn invalid_utf8_and_huge_files_are_errors_with_positions() {
    let e = parse_bytes("b.apdu", b"00 A4\n00 \xff\n", &mut NoIncludes, &[]).unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (2, 4));
    assert!(e.message.contains("UTF-8"));
    let big = vec![b'#'; (1 << 20) + 1];
    let e = parse_bytes("big.apdu", &big, &mut NoIncludes, &[]).unwrap_err();
    assert!(e.message.contains("larger than"));
}

#[test]
fn include_errors_carry_the_chain() {
    let mut mem = MemLoader::default();
    mem.0.insert(
        "top.apdu".into(),
        "00 A4 00 00\ninclude lib/a.apdu\n".into(),
    );
    mem.0.insert("lib/a.apdu".into(), "include b.apdu\n".into());
    mem.0.insert("lib/b.apdu".into(), "00 A4 0Z 00\n".into());
    let e = parse_files(&["top.apdu".into()], &mut mem, &[]).unwrap_err();
    assert_eq!(&*e.pos.file, "lib/b.apdu");
    assert_eq!((e.pos.line, e.pos.col), (1, 8));
    let shown = e.to_string();
    assert!(shown.contains("included from lib/a.apdu:1:9"), "{shown}");
    assert!(shown.contains("included from top.apdu:2:9"), "{shown}");
    // A cycle.
    mem.0.insert("lib/b.apdu".into(), "include a.apdu\n".into());
    let e = parse_files(&["top.apdu".into()], &mut mem, &[]).unwrap_err();
    assert!(e.message.contains("include cycle"), "{e}");
    // Too deep (a chain of distinct files).
    let mut mem = MemLoader::default();
    for i in 0..20 {
        mem.0.insert(
            format!("f{i}.apdu").into(),
            format!("include f{}.apdu\n", i + 1),
        );
    }
    mem.0.insert("f20.apdu".into(), "00 A4 00 00\n".into());
    let e = parse_files(&["f0.apdu".into()], &mut mem, &[]).unwrap_err();
    assert!(e.message.contains("deeper than"), "{e}");
    // A missing top-level file.
    let e = parse_files(&["nope.apdu".into()], &mut MemLoader::default(), &[]).unwrap_err();
    assert!(e.message.contains("cannot read"), "{e}");
}

#[test]
fn scriptor_scripts_parse_unchanged() {
    // Every form scriptor accepts: spaced bytes, packed hex, lower case, reset, exit,
    // column-0 comments, backslash continuation (with and without a space before it).
    let text = "# a scriptor script\n00A404000F7378312E73682EC9E7BBE1B1A3D5CF\n00 c0 00 00 1e\n\
                reset\n00 B2 01 \\\n2C 00\n00B20128\\\n00\nexit\n";
    let s = parse_str("scriptor.txt", text, &mut NoIncludes, &[]).unwrap();
    let kinds: Vec<&str> = s
        .stmts
        .iter()
        .map(|st| match st.kind {
            StmtKind::Exchange(_) => "apdu",
            StmtKind::Reset => "reset",
            StmtKind::Exit => "exit",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["apdu", "apdu", "reset", "apdu", "apdu", "exit"]);
}

#[test]
fn our_comments_go_anywhere() {
    // Indented and trailing comments: scriptor croaks on them, so they are ours.
    let s = parse_str(
        "c.apdu",
        "   # indented\n00 A4 00 00 02 3F 00   # select MF\n=> 9000 # code 0\n\
         #reset in a column-0 comment is only a comment\n00 B0 00 00 01\n",
        &mut NoIncludes,
        &[],
    )
    .unwrap();
    assert_eq!(kinds(&s), ["apdu", "apdu"]);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

fn kinds(s: &sscard::script::ast::Script) -> Vec<&'static str> {
    s.stmts
        .iter()
        .map(|st| match st.kind {
            StmtKind::Exchange(_) => "apdu",
            StmtKind::Reset => "reset",
            StmtKind::Exit => "exit",
            _ => "other",
        })
        .collect()
}

/// The bytes of each APDU of a script, in hex (all literal here).
fn apdus(s: &sscard::script::ast::Script) -> Vec<String> {
    use sscard::script::ast::ValueKind;
    s.stmts
        .iter()
        .filter_map(|st| match &st.kind {
            StmtKind::Exchange(x) => Some(
                x.apdu
                    .iter()
                    .map(|v| match &v.kind {
                        ValueKind::Bytes(b) => hex::encode_upper(b),
                        other => panic!("not literal: {other:?}"),
                    })
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect()
}

/// scriptor's own line rules (pcsc-tools `scriptor`, read from its Perl source and
/// checked against it in tests/scriptor_corpus.rs): (input, statements, APDUs, number
/// of warnings).
const SCRIPTOR_LINES: &[(&str, &[&str], &[&str], usize)] = &[
    // Issue 11 §3: a continuation goes on across a blank line.
    (
        "00 A4 04 00 \\\n\n0F 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF\n",
        &["apdu"],
        &["00A404000F7378312E73682EC9E7BBE1B1A3D5CF"],
        0,
    ),
    // ... across several blank and whitespace-only lines, CRLF ones too.
    (
        "00 A4 04 00\\\n\n   \n\t\r\n02 3F 00\r\n",
        &["apdu"],
        &["00A40400023F00"],
        0,
    ),
    // ... across column-0 comments (and our indented ones).
    (
        "00 A4 \\\n# the P1 P2\n04 00 \\\n  # Lc and data\n02 3F 00\n",
        &["apdu"],
        &["00A40400023F00"],
        0,
    ),
    // ... packed hex with the backslash glued on.
    ("00A40400\\\n\n023F00\n", &["apdu"], &["00A40400023F00"], 0),
    // A reset inside a continuation: the card is reset, the APDU goes on after it.
    (
        "00 A4 04 00 \\\nreset\n02 3F 00\n",
        &["reset", "apdu"],
        &["00A40400023F00"],
        0,
    ),
    // exit inside a continuation: the unfinished APDU is never sent.
    ("00 A4 04 00 \\\nexit\n02 3F 00\n", &["exit"], &[], 1),
    // The file ends inside a continuation: nothing is sent.
    ("00 A4 00 00\n00 B0 00 00 \\\n", &["apdu"], &["00A40000"], 1),
    ("00 B0 00 00 \\\n\n# end\n", &[], &[], 1),
    // Any line containing exit ends the script, a column-0 comment too; what follows
    // is not even read (not an error).
    (
        "00 A4 00 00\n# exit codes are in the README\n00 B0 00 00 01\nnonsense\n",
        &["apdu", "exit"],
        &["00A40000"],
        1,
    ),
    ("00 A4 00 00 # select, then exit\n", &["exit"], &[], 1),
    ("Exit\n00 A4 00 00\n", &["exit"], &[], 0),
    ("  EXIT  \n", &["exit"], &[], 0),
    ("exit 1\n", &["exit"], &[], 1),
    // Any line containing reset (not a column-0 comment) resets and sends nothing of
    // the line.
    ("00 B2 01 04 00 # preset\n", &["reset"], &[], 1),
    (
        "  # reset (indented: not a comment to scriptor)\n",
        &["reset"],
        &[],
        1,
    ),
    ("reset now\n", &["reset"], &[], 1),
    ("RESET\nReset # again\n", &["reset", "reset"], &[], 0),
    ("# reset\n#RESET\n", &[], &[], 0),
    // Spacing and case: packed, lower case, tabs and runs of spaces (ours), CRLF.
    (
        "00a4040002 3f00\n00\tb0  00 00\t01\r\n00B0000001\n",
        &["apdu", "apdu", "apdu"],
        &["00A40400023F00", "00B0000001", "00B0000001"],
        0,
    ),
];

#[test]
fn scriptor_line_rules() {
    for (text, want_kinds, want_apdus, warnings) in SCRIPTOR_LINES {
        let s = parse_str("s.txt", text, &mut NoIncludes, &[])
            .unwrap_or_else(|e| panic!("{text:?}: {e}"));
        assert_eq!(&kinds(&s), want_kinds, "{text:?}");
        assert_eq!(&apdus(&s), want_apdus, "{text:?}");
        assert_eq!(s.warnings.len(), *warnings, "{text:?}: {:?}", s.warnings);
    }
}

#[test]
fn fuzzer_findings_stay_fixed() {
    // Found by `cargo fuzz run script`: a non-ASCII character after `protocol =>`
    // was sliced at a byte index.
    for input in [
        "# res=et*.\nprotocol =>\u{feff} T=f0 MF\n",
        "step x\nprotocol =>\u{feff} TECT MF\n=> 9000\n",
        "protocol => \u{e9}\n",
        "protocol => T\u{e9}\n",
    ] {
        sscard::script::fuzz_parse(input.as_bytes());
        assert!(parse_str("f", input, &mut NoIncludes, &[]).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        sscard::script::fuzz_parse(&data);
    }

    #[test]
    fn token_soup_never_panics(parts in proptest::collection::vec(
        prop_oneof![
            Just("00"), Just("A4"), Just("=>"), Just("9000"), Just("61xx"), Just("|"),
            Just("*"), Just(".."), Just("len"), Just("8..16"), Just("$x"), Just("$x:8"),
            Just("$y:*"), Just("${"), Just("}"), Just("("), Just(")"), Just(","),
            Just("len("), Just("cryptogram("), Just("random("), Just("ssc"), Just("sm4"),
            Just("let"), Just("x"), Just("="), Just("step"), Just("reset"), Just("exit"),
            Just("wait-card"), Just("atr"), Just("protocol"), Just("T=0"), Just("\""),
            Just("\\"), Just("#"), Just("\n"), Just("\n=> "), Just("get-response"),
            Just("include"), Just("echo"), Just("\u{FEFF}"), Just("\r\n"), Just("é"),
        ],
        0..60,
    )) {
        let text = parts.join(" ");
        sscard::script::fuzz_parse(text.as_bytes());
    }
}
