use super::*;

fn parse(text: &str) -> Result<Script, ScriptError> {
    parse_str("t.apdu", text, &mut NoIncludes, &["given"])
}

#[test]
fn check_refuses_a_literal_apdu_longer_than_the_largest_apdu() {
    let at_limit = format!(
        "00 A4 00 00 {}\n",
        "00 ".repeat(super::super::runner::MAX_VALUE_BYTES - 4)
    );
    assert!(parse(&at_limit).is_ok());
    let past = format!(
        "00 A4 00 00 {}\n",
        "00 ".repeat(super::super::runner::MAX_VALUE_BYTES - 3)
    );
    let e = parse(&past).unwrap_err();
    assert!(e.to_string().contains("the largest APDU"), "{e}");
}

#[test]
fn an_endless_file_is_refused_without_reading_it_all() {
    // /dev/zero has size 0 in its metadata and never ends: reading it whole used
    // to grow without bound (issue 16 §3, a script cannot allocate without bound).
    let err = FsLoader.load(Path::new("/dev/zero")).unwrap_err();
    assert!(err.contains("larger than"), "{err}");
    let e = parse_files(&[PathBuf::from("/dev/zero")], &mut FsLoader, &[]).unwrap_err();
    assert!(e.to_string().contains("larger than"), "{e}");
}

#[test]
fn no_keyword_is_hex() {
    for k in KEYWORDS {
        assert!(hex::decode(k).is_err(), "{k}");
    }
}

#[test]
fn expectation_after_a_reset_line_says_the_line_is_a_reset() {
    // Line 1 holds 'reset' in a comment: scriptor resets there and sends nothing.
    let e = parse("00 A4 00 00 02 3F 00 # reset it\n=> 9000\n").unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (2, 1));
    assert!(e.message.contains("t.apdu:1 is a reset"), "{}", e.message);
    // Not after an APDU: no mention of a reset.
    let e = parse("=> 9000\n").unwrap_err();
    assert!(!e.message.contains("reset"), "{}", e.message);
}

#[test]
fn scriptor_input_parses() {
    let s =
        parse("# c\n00A4040000\n00 a4 00 00 02 3f 00\nreset\n00 B0 \\\n 00 00 01\nRESET\nexit\n")
            .unwrap();
    assert_eq!(s.stmts.len(), 6);
    assert!(matches!(s.stmts[2].kind, StmtKind::Reset));
    match &s.stmts[3].kind {
        StmtKind::Exchange(x) => {
            let bytes: Vec<u8> = x
                .apdu
                .iter()
                .flat_map(|v| match &v.kind {
                    ValueKind::Bytes(b) => b.clone(),
                    _ => vec![],
                })
                .collect();
            assert_eq!(bytes, vec![0, 0xB0, 0, 0, 1]);
        }
        _ => panic!("not an exchange"),
    }
}

#[test]
fn exit_stops_reading() {
    let s = parse("00 A4 00 00\nexit\nthis is not parsed at all $$$\n").unwrap();
    assert_eq!(s.stmts.len(), 2);
}

#[test]
fn expectations_attach_to_the_apdu_above() {
    let s = parse(
        "00 84 00 00 08\n=> 9000 $rnd:8\n=> 90 00 len 8\n00 82 00 0C 08 $rnd\n=> 9000|63Cx\n",
    )
    .unwrap();
    let StmtKind::Exchange(x) = &s.stmts[0].kind else {
        panic!()
    };
    assert_eq!(x.expects.len(), 2);
    assert_eq!(x.expects[0].text, "9000 $rnd:8");
    assert_eq!(x.expects[1].data.len, Some(LenRange { min: 8, max: 8 }));
    let StmtKind::Exchange(y) = &s.stmts[1].kind else {
        panic!()
    };
    assert_eq!(y.expects[0].sw.len(), 2);
}

#[test]
fn calls_and_lets() {
    let s = parse(
        "00 84 00 00 08\n=> 9000 $rnd:8\nlet c = ${cryptogram(ssc, 0C, $given, 0011223344556677, $rnd)}\n\
         00 82 00 0C ${len($c)} $c\nlet r = ${random(8)} \"ab\"\n",
    )
    .unwrap();
    assert!(s.needs_sam());
    assert_eq!(s.stmts.len(), 4);
}

#[test]
fn undefined_variables_are_found_before_running() {
    let e = parse("00 A4 00 00\n00 82 00 0C 08 $rnd\n").unwrap_err();
    assert_eq!((e.pos.line, e.pos.col), (2, 16));
    assert!(e.message.contains("$rnd"));
    // Defined by a capture later is still too late.
    assert!(parse("00 82 00 0C 08 $r\n00 84 00 00 08\n=> 9000 $r:8\n").is_err());
}

#[test]
fn includes_resolve_relative_and_detect_cycles() {
    let mut mem = MemLoader::default();
    mem.0
        .insert("dir/a.apdu".into(), "include lib/b.apdu\n=> 9000\n".into());
    mem.0
        .insert("dir/lib/b.apdu".into(), "00 A4 00 00\n".into());
    let e = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap_err();
    // '=>' cannot reach into the included file's APDU.
    assert_eq!(e.pos.line, 2);
    mem.0.insert(
        "dir/a.apdu".into(),
        "include \"lib/b.apdu\"\n00 B0 00 00 01\n".into(),
    );
    let s = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap();
    assert_eq!(s.stmts.len(), 2);
    assert_eq!(&*s.stmts[0].pos.file, "dir/lib/b.apdu");
    assert_eq!(s.files, vec!["dir/a.apdu", "dir/lib/b.apdu"]);
    mem.0.insert(
        "dir/lib/b.apdu".into(),
        "00 A4 00 00\ninclude ../a.apdu\n".into(),
    );
    let e = parse_files(&["dir/a.apdu".into()], &mut mem, &[]).unwrap_err();
    assert!(
        e.to_string().contains("included from dir/a.apdu:1:9"),
        "{e}"
    );
}

#[test]
fn directives() {
    let s = parse(
        "wait-card 2.5s\nstep read  it\necho \"hi # there\"\natr => 3B 6D 00 00 * len 17\n\
         protocol => T=0 | T1\nget-response auto\nwait-remove\n",
    )
    .unwrap();
    assert!(s.starts_with_wait());
    assert!(matches!(&s.stmts[1].kind, StmtKind::Step(n) if n == "read  it"));
    assert!(matches!(&s.stmts[2].kind, StmtKind::Echo(n) if n == "hi # there"));
    assert!(matches!(&s.stmts[4].kind, StmtKind::Protocol(p) if p == &vec![0, 1]));
    assert!(matches!(&s.stmts[5].kind, StmtKind::GetResponse(true)));
}

#[test]
fn literal_apdu_checks() {
    assert!(parse("00 A4 00\n").unwrap_err().message.contains("4 bytes"));
    let s = parse("00 A4 00 00 05 3F 00\n").unwrap();
    assert_eq!(s.warnings.len(), 1);
}
