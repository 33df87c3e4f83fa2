//! The exit codes the documents state are the ones `ExitCode` has.
//!
//! Why a test and not a generated file: the README and hardware.md are read on GitHub
//! and in a clone, so their tables are written out; this test keeps them equal to the
//! one enum ([`ExitCode::table`]), as the manual page is generated from it
//! (`src/cli/man.rs`). A code added, renumbered or reworded in the enum fails here
//! until the README says the same.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::error::ExitCode;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Statuses of the process that are not `ExitCode`s: a panic (101), stopped by
/// SIGHUP/SIGINT/SIGPIPE/SIGTERM (128 + signal).
const PROCESS_STATUSES: [u32; 5] = [101, 129, 130, 141, 143];

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{name}")).unwrap()
}

/// The cells of a Markdown table row (`| a | b |`), trimmed; `\|` stays in its cell.
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut out = vec![String::new()];
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
        escaped = c == '\\';
    }
    out.iter().map(|c| c.trim().to_string()).collect()
}

/// Every table of `doc` with a column headed `header`: that column's cells.
fn column(doc: &str, header: &str) -> Vec<String> {
    let lines: Vec<&str> = doc.lines().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let is_head = lines[i].starts_with('|') && lines[i + 1].starts_with("|---");
        if let Some(k) = is_head
            .then(|| cells(lines[i]).iter().position(|h| h == header))
            .flatten()
        {
            i += 2;
            while i < lines.len() && lines[i].starts_with('|') {
                found.push(cells(lines[i]).get(k).cloned().unwrap_or_default());
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    found
}

fn numbers(text: &str) -> Vec<u32> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

fn known(n: u32) -> bool {
    i32::try_from(n)
        .ok()
        .and_then(ExitCode::from_code)
        .is_some()
        || PROCESS_STATUSES.contains(&n)
}

#[test]
fn the_readme_exit_code_table_is_the_enum() {
    let readme = read("README.md");
    let section = readme
        .split("\n## Exit codes\n")
        .nth(1)
        .expect("README has an Exit codes section");
    let section = section.split("\n#").next().unwrap();
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| code"))
        .map(cells)
        .collect();
    let codes: Vec<(u8, String)> = rows
        .iter()
        .filter_map(|r| Some((r[0].parse::<u8>().ok()?, r[1].clone())))
        .filter(|(c, _)| *c < 100)
        .collect();
    let want: Vec<(u8, String)> = ExitCode::table().map(|(c, w)| (c, w.to_string())).collect();
    assert_eq!(codes, want, "README.md 'Exit codes' against ExitCode");
    // The rows that are not ExitCodes are the process statuses, each documented.
    for r in &rows {
        for n in numbers(&r[0]) {
            assert!(
                known(n),
                "README exit table: {n} is not a status sscard can end with"
            );
        }
    }
    for n in PROCESS_STATUSES {
        assert!(
            rows.iter().any(|r| numbers(&r[0]).contains(&n)),
            "README exit table lacks {n}"
        );
    }
}

#[test]
fn every_exit_code_hardware_md_names_exists() {
    let doc = read("hardware.md");
    let cells = column(&doc, "exit");
    assert!(
        cells.len() > 50,
        "hardware.md's exit columns not found ({})",
        cells.len()
    );
    let mut seen = std::collections::BTreeSet::new();
    for cell in &cells {
        // `128 + n` is the signal rule, not a code.
        let cell = cell.replace("128 + n", "");
        for n in numbers(&cell) {
            assert!(
                known(n),
                "hardware.md: exit {n} in {cell:?} is not one of sscard's"
            );
            seen.insert(n);
        }
    }
    // The codes a desk meets in the troubleshooting tables are all there.
    for c in [3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16] {
        assert!(
            seen.contains(&c),
            "hardware.md's tables never name exit {c}"
        );
    }
}

#[test]
fn exit_n_in_the_prose_names_a_real_code() {
    // At least this many, or the scan itself is broken.
    for (name, least) in [("README.md", 5), ("hardware.md", 3)] {
        let doc = read(name);
        let mut checked = 0;
        for (i, _) in doc.match_indices("exit") {
            let rest = doc[i + 4..].trim_start_matches(['s', ' ', '*', '`']);
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse::<u32>() {
                assert!(
                    known(n),
                    "{name}: 'exit {n}' is not a status sscard can end with"
                );
                checked += 1;
            }
        }
        assert!(
            checked >= least,
            "{name}: only {checked} 'exit N' found: the scan is broken"
        );
    }
}

#[test]
fn the_enum_is_numbered_without_gaps_and_every_code_has_a_meaning() {
    let table: Vec<(u8, &str)> = ExitCode::table().collect();
    for (i, (code, what)) in table.iter().enumerate() {
        assert_eq!(usize::from(*code), i, "codes are 0, 1, 2, ... without gaps");
        assert!(!what.is_empty(), "exit {code} has no meaning");
        let c = ExitCode::from_code(i32::from(*code)).unwrap();
        assert_eq!(c.code(), *code);
        assert!(c
            .name()
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch == '_'));
    }
    assert_eq!(ExitCode::from_code(table.len() as i32), None);
    assert_eq!(ExitCode::NoReader.name(), "no_reader");
}
