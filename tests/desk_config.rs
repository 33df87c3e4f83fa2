//! End-to-end: the desk configuration file.
//!
//! `sscard config check` against real (virtual) readers and a PSAM through a private
//! pcscd, with one exit code per failure; then a pharmacy activation that takes its
//! readers, PSAM, journal, operator and language from the file alone (Chinese plain
//! lines, since the output is not a terminal), and flags that override the file.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{new_money, BALANCE};
use common::{Bed, Run};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    // Owner-only: PIN and key files that others may read or write are refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn check(bed: &Bed, config: &Path) -> Run {
    bed.run(&["config", "check", "--config", config.to_str().unwrap()])
}

#[test]
fn config_check_validates_the_file_and_the_readers_it_names() {
    let mut bed = Bed::start();
    let dir = bed.dir.path().to_path_buf();
    let journal = dir.join("j").join("journal.sqlite");
    let good = write(
        &dir,
        "good.toml",
        &format!(
            "language = \"zh\"\noperator = \"desk-9\"\njournal = \"{}\"\n[readers]\ncard = \"00 00\"\npsam = \"00 01\"\n",
            journal.display()
        ),
    );
    // No PSAM yet: exit 4.
    let r = check(&bed, &good);
    assert_eq!(r.code, 4, "{r:?}");
    assert!(
        r.stdout.contains("FAIL  no PSAM in 'Virtual PCD 00 01'"),
        "{r:?}"
    );
    let psam = bed.image("psam.json");
    bed.insert(1, &psam, &[]);
    let r = check(&bed, &good);
    assert_eq!(r.code, 0, "{r:?}");
    for line in [
        "ok    parses; language zh, operator desk-9",
        "will be created on the first activation",
        "ok    pcscd answers; readers: 'Virtual PCD 00 00', 'Virtual PCD 00 01'",
        "ok    readers.card '00 00' is 'Virtual PCD 00 00' (empty)",
        "ok    readers.psam '00 01' is 'Virtual PCD 00 01' (card present)",
        "ok    PSAM answers in 'Virtual PCD 00 01'; terminal number ",
        "configuration OK",
    ] {
        assert!(r.stdout.contains(line), "{line}: {r:?}");
    }
    // A reader that is not there: exit 3.
    let bad = write(&dir, "reader.toml", "[readers]\ncard = \"ACR39U\"\n");
    let r = check(&bed, &bad);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL  readers.card 'ACR39U': no reader matches 'ACR39U'"),
        "{r:?}"
    );
    // The same reader for both cards, or for a card and the PSAM: exit 7.
    let same = write(
        &dir,
        "same.toml",
        "[readers]\nold = \"00 00\"\nnew = \"Virtual PCD 00 00\"\n",
    );
    assert_eq!(check(&bed, &same).code, 7);
    let shared = write(
        &dir,
        "shared.toml",
        "[readers]\ncard = \"00 01\"\npsam = \"00 01\"\n",
    );
    let r = check(&bed, &shared);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stdout.contains("is also a card reader"), "{r:?}");
    // A city card in the PSAM slot does not answer as a PSAM: exit 11.
    bed.pull(1);
    let city = bed.image("city.json");
    bed.insert(1, &city, &[]);
    let r = check(&bed, &good);
    assert_eq!(r.code, 11, "{r:?}");
    assert!(r.stdout.contains("does not answer as a PSAM"), "{r:?}");
    bed.pull(1);
    // pcscd gone: exit 3.
    bed.pcscd.stop();
    let r = check(&bed, &good);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout
            .contains("FAIL  the PC/SC service (pcscd) is not running"),
        "{r:?}"
    );
}

#[test]
fn config_check_file_problems_have_their_own_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| -> Run {
        std::process::Command::new(common::exe())
            .args(["config", "check", "--offline"])
            .args(args)
            .env_remove("SSCARD_CONFIG")
            .output()
            .unwrap()
            .into()
    };
    let missing = d.join("missing.toml");
    let r = run(&["--config", missing.to_str().unwrap()]);
    assert_eq!(r.code, 14, "{r:?}");
    let typo = write(d, "typo.toml", "langauge = \"zh\"\n");
    let r = run(&["--config", typo.to_str().unwrap()]);
    assert_eq!(r.code, 7, "{r:?}");
    assert!(r.stdout.contains("unknown field `langauge`"), "{r:?}");
    assert!(r.stdout.contains("line 1"), "{r:?}");
    let keys = write(d, "keys.txt", "ssc.0C = 00\n");
    let loose = write(d, "loose.toml", &format!("keys = \"{}\"\n", keys.display()));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = run(&["--config", loose.to_str().unwrap()]);
    assert_eq!(r.code, 11, "{r:?}");
    assert!(r.stdout.contains("chmod 600"), "{r:?}");
    let journal = write(
        d,
        "journal.toml",
        "journal = \"/dev/null/sscard/journal.sqlite\"\n",
    );
    let r = run(&["--config", journal.to_str().unwrap()]);
    assert_eq!(r.code, 13, "{r:?}");
    let r = run(&["--config", "none"]);
    assert_eq!(r.code, 0, "{r:?}");
    let example: Run = std::process::Command::new(common::exe())
        .args(["config", "example"])
        .output()
        .unwrap()
        .into();
    let ex = write(d, "example.toml", &example.stdout);
    let r = run(&["--config", ex.to_str().unwrap()]);
    assert_eq!(r.code, 0, "the documented example is valid: {r:?}");
}

/// A pharmacy activation configured by the file alone: readers, PSAM, journal,
/// operator and Chinese. Not a terminal, so the desk prints plain lines, in Chinese
/// because the file sets the language; the holder follows them.
#[test]
fn activation_takes_readers_psam_and_language_from_the_file() {
    let mut bed = Bed::start();
    let dir = bed.dir.path().to_path_buf();
    let old = bed.image("city.json");
    let new = bed.image("ssc-2.00.json");
    let psam = bed.image("psam.json");
    bed.insert(1, &psam, &[]);
    let journal = dir.join("journal.sqlite");
    let config = write(
        &dir,
        "sscard.toml",
        &format!(
            "language = \"zh\"\noperator = \"desk-9\"\njournal = \"{}\"\ntimeout = 20\n[readers]\ncard = \"00 00\"\npsam = \"00 01\"\n",
            journal.display()
        ),
    );
    let pins = write(&dir, "pins", "135790\n");
    let mut child = bed
        .cmd()
        .env("SSCARD_CONFIG", &config)
        .env("SSCARD_TODAY", "20261122")
        .env_remove("SSCARD_OPERATOR")
        .args(["activate", "pharmacy", "--pin-file", pins.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    let mut lines = Vec::new();
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let Ok(line) = line else { break };
        if line.starts_with("请将旧医保卡插入读卡器") {
            bed.insert(0, &old, &[]);
        } else if line.contains("取出旧医保卡") || line.contains("取出新社保卡") {
            // Issue 10: the new card is checked first, then swapped for the old one.
            bed.pull(0);
        } else if line.starts_with("请将新社保卡插入读卡器") {
            bed.insert(0, &new, &[]);
        }
        lines.push(line);
    }
    let code = child.wait().unwrap().code();
    let stdout = out.join().unwrap();
    bed.pull(0);
    bed.pull(1);
    let all = lines.join("\n");
    assert_eq!(code, Some(0), "{all}\n{stdout}");
    for l in [
        "请将旧医保卡插入读卡器“Virtual PCD 00 00”。",
        "正在读取旧卡……",
        "密码正确。",
        "正在冻结旧卡账户（绑定新卡）……",
        "请从读卡器“Virtual PCD 00 00”取出旧医保卡。",
        "请将新社保卡插入读卡器“Virtual PCD 00 00”。",
        "完成。",
    ] {
        assert!(lines.iter().any(|x| x == l), "{l}\n{all}");
    }
    assert!(stdout.contains("==== 社保卡激活回执 ===="), "{stdout}");
    assert!(stdout.contains("1234.56 元"), "{stdout}");
    assert!(stdout.contains("desk-9"), "{stdout}");
    let n = new_money(&new);
    assert_eq!((n.status, n.balance), (0x01, BALANCE));
    // The journal the file names has the transfer, by the file's operator.
    let list: Run = bed
        .cmd()
        .args([
            "journal",
            "--journal",
            journal.to_str().unwrap(),
            "list",
            "--json",
        ])
        .output()
        .unwrap()
        .into();
    assert!(list.stdout.contains("COMPLETE"), "{list:?}");
    assert!(list.stdout.contains("desk-9"), "{list:?}");
}

/// Flags override the file: `--lang en` and `--receipt json` over `language = "zh"`,
/// a bad reader in the file replaced by `--reader`.
#[test]
fn flags_override_the_file() {
    let mut bed = Bed::start();
    let dir = bed.dir.path().to_path_buf();
    let old = bed.image("city.json");
    let new = bed.image("ssc-2.00.json");
    let config = write(
        &dir,
        "sscard.toml",
        "language = \"zh\"\n[readers]\ncard = \"ACR39U\"\n",
    );
    let keys = dir.join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pins = write(&dir, "pins", "999999\n");
    bed.insert(0, &old, &[]);
    // Issue 10: the new card is checked first; it waits in a second reader.
    bed.insert(1, &new, &[]);
    let base = |extra: &[&str]| -> Run {
        bed.cmd()
            .env("SSCARD_CONFIG", &config)
            .env("SSCARD_TODAY", "20261122")
            .args(["activate", "pharmacy", "--keys", keys.to_str().unwrap()])
            .args(["--pin-file", pins.to_str().unwrap(), "--timeout", "5"])
            .args(["--journal", dir.join("j.sqlite").to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap()
            .into()
    };
    // The file's reader does not exist: exit 3, in Chinese (the file's language).
    let r = base(&[]);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr.contains("sscard: 错误：找不到读卡器“ACR39U”。"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains("技术信息：no reader matches 'ACR39U'"),
        "{r:?}"
    );
    // The readers given as flags and --lang win: a wrong PIN is refused, in
    // English, exit 12.
    let r = base(&["--old-reader", "0", "--new-reader", "1", "--lang", "en"]);
    assert_eq!(r.code, 12, "{r:?}");
    assert!(r.stderr.contains("Wrong PIN: 4 tries left."), "{r:?}");
    assert!(
        r.stderr
            .contains("sscard: error: refused: wrong PIN; 4 tries left"),
        "{r:?}"
    );
    bed.pull(0);
    bed.pull(1);
}
