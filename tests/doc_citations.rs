//! Every `spec/…` and `notes/…` citation in the code and the docs resolves inside a
//! clone: the file exists under `docs/`, and a `§N` or `§N.M` after it names a section
//! that file has (a `## N.` / `### N.M` heading, or item `M.` of a numbered list under
//! `## N.`). Runs without root or pcscd.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if p.is_dir() {
            if name != "target" && name != "corpus" && !name.starts_with('.') {
                sources(&p, out);
            }
        } else if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("rs" | "md" | "json" | "toml" | "apdu")
        ) {
            out.push(p);
        }
    }
}

/// Whether `doc` has section `sec` ("1", "1.3", "5.2").
fn has_section(doc: &str, sec: &str) -> bool {
    let mut parts = sec.split('.');
    let major = parts.next().unwrap_or("");
    let minor = parts.next();
    let mut in_major = false;
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            in_major = h.starts_with(&format!("{major}. ")) || h.starts_with(&format!("{major} "));
            if minor.is_none() && in_major {
                return true;
            }
        }
        if let (Some(m), Some(h)) = (minor, line.strip_prefix("### ")) {
            if h.starts_with(&format!("{major}.{m} ")) {
                return true;
            }
        }
        if let Some(m) = minor {
            if in_major && line.starts_with(&format!("{m}. ")) {
                return true;
            }
        }
    }
    false
}

#[test]
fn every_spec_citation_resolves_inside_the_repository() {
    let root = root();
    let mut files = Vec::new();
    for d in [
        "src",
        "tests",
        "apdu-scripts",
        "cards",
        "profiles",
        "benches",
        "scripts",
        "docs",
    ] {
        sources(&root.join(d), &mut files);
    }
    for f in ["README.md", "hardware.md", "BENCHMARKS.md"] {
        files.push(root.join(f));
    }
    let mut checked = 0;
    let mut bad = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            for kind in ["spec/", "notes/"] {
                let mut rest = line;
                while let Some(at) = rest.find(kind) {
                    let tail = &rest[at..];
                    rest = &rest[at + kind.len()..];
                    let Some(end) = tail.find(".md") else {
                        continue;
                    };
                    let name = &tail[..end + 3];
                    if !name[kind.len()..end]
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'-')
                    {
                        continue;
                    }
                    checked += 1;
                    let path = root.join("docs").join(name);
                    let Ok(doc) = std::fs::read_to_string(&path) else {
                        bad.push(format!("{}:{}: {name} is not in docs/", f.display(), i + 1));
                        continue;
                    };
                    // A section sign right after the name: "spec/cards.md §1.3", "spec/cards.md` §7".
                    let after = tail[end + 3..].trim_start_matches(['`', ' ', ',']);
                    if let Some(s) = after.strip_prefix('§') {
                        let sec: String = s
                            .trim_start()
                            .chars()
                            .take_while(|c| c.is_ascii_digit() || *c == '.')
                            .collect();
                        let sec = sec.trim_end_matches('.');
                        if !sec.is_empty() && !has_section(&doc, sec) {
                            bad.push(format!("{}:{}: {name} has no §{sec}", f.display(), i + 1));
                        }
                    }
                }
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} citations found: the scan is broken"
    );
    assert!(
        bad.is_empty(),
        "citations that do not resolve:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_section_check_can_fail() {
    let doc = "## 1. SSC\n### 1.2 Files\n## 5. Checks\n1. one\n2. two\n";
    assert!(has_section(doc, "1"));
    assert!(has_section(doc, "1.2"));
    assert!(has_section(doc, "5.2"));
    assert!(!has_section(doc, "1.3"));
    assert!(!has_section(doc, "5.3"));
    assert!(!has_section(doc, "6"));
}
