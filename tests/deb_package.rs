//! The desk package (issue 12 point 5): `scripts/package-deb` builds the `.deb`, whose
//! contents, conffiles and dependencies are checked with `dpkg-deb`; then it is really
//! installed with `dpkg -i` (the pcscd tier runs as root), the packaged binary runs, the
//! hardened unit passes `systemd-analyze verify` on the installed system (its binary,
//! its user and its man pages present), and `dpkg -r` / `dpkg -P` take it away again,
//! the conffile kept on remove and gone on purge.
//!
//! The shared journal (hardware.md, "The shared journal"): the installed
//! /var/lib/sscard is root:sscard 2770 with the journal file 0660 before any sscard
//! opens it; an operator added with `adduser NAME sscard` (umask 022) and the service's
//! user `sscard` (umask 0007) both open it, a user outside the group cannot, and what
//! they leave there stays group-writable; purge keeps a journal with content and
//! removes an untouched one. Last, `scripts/check-unit` boots a throwaway systemd
//! container (systemd-nspawn), installs the same .deb there and checks the unit really
//! running: active, serving, sandboxed (hardware.md, "Checking the unit under systemd").
//!
//! It installs into the real system rather than a throwaway root because the unit's
//! checks need the real `systemd` units (`sysinit.target`...), `man` and `/usr/bin`;
//! it refuses to run where an `sscard` package or `/usr/bin/sscard` is already there.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNIT: &str = "sscard-serve.service";
/// The shared journal's directory and file.
const STATE: &str = "/var/lib/sscard";
const JOURNAL: &str = "/var/lib/sscard/journal.sqlite";
/// An operator of the desk this test adds (and removes).
const OPERATOR: &str = "sscard-test-op";

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn installed(package: &str) -> bool {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", package]));
    String::from_utf8_lossy(&out.stdout).contains("installed")
}

/// Purges the package when the test ends, passed or failed, with what the test made:
/// the shared journal's directory (absent before, checked) and the operator.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", "sscard"]).output();
        let _ = std::fs::remove_dir_all(STATE);
        let _ = Command::new("userdel").arg(OPERATOR).output();
    }
}

/// Runs `sh -c SCRIPT` as `user` with `umask`, the desk's configuration only.
fn as_user(user: &str, umask: &str, script: &str) -> Output {
    run(Command::new("runuser")
        .args(["-u", user, "--", "sh", "-c"])
        .arg(format!("umask {umask}; {script}"))
        .env_remove("SSCARD_CONFIG")
        .env_remove("SSCARD_JOURNAL")
        .env_remove("XDG_STATE_HOME")
        .current_dir("/"))
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The group id of `name`.
fn gid(name: &str) -> u32 {
    let line = ok(Command::new("getent").args(["group", name]));
    line.trim().split(':').nth(2).unwrap().parse().unwrap()
}

/// Mode (with setgid), owner uid and gid of `path`.
fn perms(path: &str) -> (u32, u32, u32) {
    let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    (m.mode() & 0o7777, m.uid(), m.gid())
}

/// The shared journal, as installed and as used by an operator and by the service's
/// user (without systemd: the same users, umasks and configuration).
fn shared_journal_works() {
    let group = gid("sscard");
    assert_eq!(perms(STATE), (0o2770, 0, group), "{STATE}");
    assert_eq!(perms(JOURNAL), (0o660, 0, group), "{JOURNAL}");
    let conf = std::fs::read_to_string("/etc/sscard/sscard.toml").unwrap();
    assert!(
        conf.lines()
            .any(|l| l == format!("journal = \"{JOURNAL}\"")),
        "the packaged configuration does not name the shared journal:\n{conf}"
    );

    // An operator, added as hardware.md says.
    if run(Command::new("getent").args(["passwd", OPERATOR]))
        .status
        .success()
    {
        ok(Command::new("userdel").arg(OPERATOR));
    }
    ok(Command::new("useradd").args(["--no-create-home", "--shell", "/bin/sh", OPERATOR]));
    ok(Command::new("adduser").args(["--quiet", OPERATOR, "sscard"]));

    // Both open it (the first open writes the schema; WAL makes -wal/-shm), in turn:
    // `config check` opens the configured journal and says so.
    let check = "/usr/bin/sscard config check --offline";
    let opens = format!("ok    journal {JOURNAL} opens");
    for (user, umask) in [(OPERATOR, "022"), ("sscard", "0007"), (OPERATOR, "022")] {
        let out = as_user(user, umask, check);
        assert!(out.status.success(), "{user}: {}", text(&out));
        assert!(text(&out).contains(&opens), "{user}: {}", text(&out));
        let list = as_user(user, umask, "/usr/bin/sscard journal list");
        assert!(list.status.success(), "{user}: {}", text(&list));
    }
    // Someone outside the group cannot (the directory is closed to others).
    let dev = as_user("dev", "022", check);
    assert!(
        !dev.status.success(),
        "dev (not in group sscard): {}",
        text(&dev)
    );
    assert!(
        text(&dev).contains(&format!("FAIL  journal {JOURNAL}"))
            && text(&dev).contains("Permission denied"),
        "dev's refusal does not name the journal: {}",
        text(&dev)
    );

    // A transfer's lock file, made the way Journal::claim makes it (create, write),
    // by the operator under umask 022, then written by the service's user: the
    // directory's default ACL keeps both group-writable.
    let locks = format!("{JOURNAL}.locks");
    let made = as_user(
        OPERATOR,
        "022",
        &format!("mkdir -p {locks} && echo 1 > {locks}/PROBE"),
    );
    assert!(made.status.success(), "{}", text(&made));
    let wrote = as_user("sscard", "0007", &format!("echo 2 > {locks}/PROBE"));
    assert!(wrote.status.success(), "user sscard: {}", text(&wrote));
    std::fs::remove_file(format!("{locks}/PROBE")).unwrap();

    // Everything in the directory: group sscard, group read-write, nothing for others.
    let listing = ok(Command::new("ls").args(["-laR", STATE]));
    for entry in walk(Path::new(STATE)) {
        let m = std::fs::metadata(&entry).unwrap();
        let path = entry.display();
        assert_eq!(m.gid(), group, "{path} is not group sscard:\n{listing}");
        assert_eq!(m.mode() & 0o060, 0o060, "{path} not group rw:\n{listing}");
        assert_eq!(m.mode() & 0o007, 0, "{path} open to others:\n{listing}");
        if m.is_dir() {
            assert_ne!(m.mode() & 0o2000, 0, "{path} not setgid:\n{listing}");
        }
    }
    eprintln!("{listing}");
    for wal in ["-wal", "-shm"] {
        let p = format!("{JOURNAL}{wal}");
        if Path::new(&p).exists() {
            assert_eq!(perms(&p).0, 0o660, "{p}");
        }
    }
}

/// `dir` and everything under it.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all.extend(walk(&p));
        } else {
            all.push(p);
        }
    }
    all
}

#[test]
fn deb_builds_installs_and_its_unit_verifies() {
    assert_eq!(
        ok(Command::new("id").arg("-u")).trim(),
        "0",
        "the pcscd tier runs as root (dpkg -i); run it with scripts/test"
    );
    assert!(
        !installed("sscard") && !Path::new("/usr/bin/sscard").exists(),
        "an sscard package or /usr/bin/sscard is already on this machine; not touching it"
    );
    assert!(
        !Path::new(STATE).exists(),
        "{STATE} is already on this machine (a desk's journal?); not touching it"
    );
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    // Package the sscard this test run built (cargo built the crate's binaries for the
    // integration tests): a `cargo build --bin sscard` here is not a no-op, because
    // the test build's dependency features (dev-dependencies unified in) differ, and
    // it would rebuild sscard (a minute or two of CI) under the other tests' feet.
    // The library is built here (a no-op after scripts/test's ffi step).
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_sscard"));
    let target = bin.parent().unwrap().parent().unwrap().to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    ok(Command::new(cargo)
        .current_dir(&repo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "sscard-ffi",
            "--lib",
        ])
        .env("CARGO_TARGET_DIR", &target));
    let printed = ok(Command::new(repo.join("scripts/package-deb"))
        .arg(out.path())
        .env("SSCARD_DEB_SKIP_BUILD", "1")
        .env("CARGO_TARGET_DIR", &target));
    let deb = PathBuf::from(printed.trim());
    assert_eq!(deb.parent(), Some(out.path()), "printed: {printed}");
    let name = deb.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("sscard_{}-1_", env!("CARGO_PKG_VERSION"))),
        "{name}"
    );
    let size = std::fs::metadata(&deb).unwrap().len();
    eprintln!("{name}: {size} bytes");
    // Stripped: the unstripped release binary alone (debug = 1) is several times this.
    assert!(size < 12 * 1024 * 1024, "{name} is {size} bytes");

    // The files, at their Debian paths, owned by root.
    let multiarch = ok(Command::new("dpkg-architecture").arg("-qDEB_HOST_MULTIARCH"));
    let listing = ok(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for path in [
        "./usr/bin/sscard".to_owned(),
        format!("./usr/lib/{}/libsscard.so", multiarch.trim()),
        "./usr/include/sscard.h".to_owned(),
        "./usr/share/man/man1/sscard.1.gz".to_owned(),
        "./usr/share/man/man1/sscard-serve.1.gz".to_owned(),
        "./usr/share/bash-completion/completions/sscard".to_owned(),
        "./usr/share/zsh/vendor-completions/_sscard".to_owned(),
        "./usr/share/fish/vendor_completions.d/sscard.fish".to_owned(),
        "./etc/sscard/sscard.toml".to_owned(),
        format!("./usr/lib/systemd/system/{UNIT}"),
        "./usr/lib/sysusers.d/sscard.conf".to_owned(),
        "./usr/lib/tmpfiles.d/sscard.conf".to_owned(),
        "./usr/share/polkit-1/rules.d/50-sscard.rules".to_owned(),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {path}")))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{listing}"));
        assert!(line.contains(" root/root "), "{line}");
    }
    assert!(
        !listing.contains("sscard-lab-hsm"),
        "the lab HSM is not for desks"
    );

    // Control: the conffile, the dependencies.
    let conffiles = ok(Command::new("dpkg-deb")
        .arg("-I")
        .arg(&deb)
        .arg("conffiles"));
    assert_eq!(conffiles.trim(), "/etc/sscard/sscard.toml");
    let depends = ok(Command::new("dpkg-deb")
        .args(["-f"])
        .arg(&deb)
        .arg("Depends"));
    for dep in ["pcscd", "libpcsclite1", "libc6"] {
        assert!(
            depends
                .split(',')
                .any(|d| d.trim().split(' ').next() == Some(dep)),
            "Depends lacks {dep}: {depends}"
        );
    }

    // Really installed.
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    let guard = Installed;
    let version = ok(Command::new("/usr/bin/sscard").arg("--version"));
    assert_eq!(
        version.trim(),
        format!("sscard {}", env!("CARGO_PKG_VERSION"))
    );
    let user = ok(Command::new("getent").args(["passwd", "sscard"]));
    assert!(
        user.contains("/usr/sbin/nologin") || user.contains("/nonexistent"),
        "{user}"
    );
    // The example configuration passes the installed binary's own check.
    let check = ok(Command::new("/usr/bin/sscard").args([
        "config",
        "check",
        "--offline",
        "--config",
        "/etc/sscard/sscard.toml",
    ]));
    assert!(check.contains("configuration OK"), "{check}");

    // The unit: no error and no warning (an unknown directive, a missing binary or man
    // page, a bad ordering dependency are all printed on stderr).
    let verify = run(Command::new("systemd-analyze").args(["verify", UNIT]));
    let said = String::from_utf8_lossy(&verify.stderr).into_owned()
        + &String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "systemd-analyze verify: {said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify warned: {said}"
    );
    let unit = std::fs::read_to_string(format!("/usr/lib/systemd/system/{UNIT}")).unwrap();
    for line in [
        "User=sscard",
        "ExecStart=/usr/bin/sscard serve",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "IPAddressDeny=any",
        "IPAddressAllow=localhost",
        "ReadWritePaths=/var/lib/sscard",
        "UMask=0007",
        "SuccessExitStatus=143",
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}");
    }
    // The journal is the configuration's, shared: no private one for the service.
    for gone in ["StateDirectory", "Environment=SSCARD_JOURNAL"] {
        assert!(
            !unit.lines().any(|l| l.starts_with(gone)),
            "the unit still sets {gone}"
        );
    }
    shared_journal_works();
    let rules = std::fs::read_to_string("/usr/share/polkit-1/rules.d/50-sscard.rules").unwrap();
    for needle in [
        "org.debian.pcsc-lite.access_pcsc",
        "org.debian.pcsc-lite.access_card",
        "subject.user == \"sscard\"",
    ] {
        assert!(rules.contains(needle), "polkit rule lacks {needle}");
    }

    // Removed: the binary goes, the edited conffile stays; purged: it goes too, but
    // not a journal with content (the desk's record), which purge keeps and names.
    ok(Command::new("dpkg").args(["-r", "sscard"]));
    assert!(!Path::new("/usr/bin/sscard").exists());
    assert!(Path::new("/etc/sscard/sscard.toml").exists());
    assert!(Path::new(JOURNAL).exists(), "remove took the journal");
    let purge = run(Command::new("dpkg").args(["-P", "sscard"]));
    assert!(purge.status.success(), "dpkg -P: {}", text(&purge));
    assert!(!Path::new("/etc/sscard/sscard.toml").exists());
    assert!(!installed("sscard"));
    assert!(
        Path::new(JOURNAL).exists(),
        "purge took a journal with content"
    );
    assert!(
        text(&purge).contains("kept /var/lib/sscard"),
        "purge kept the journal silently: {}",
        text(&purge)
    );
    // An untouched journal (the empty file the package made) goes with the purge.
    std::fs::remove_dir_all(STATE).unwrap();
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(perms(JOURNAL).0, 0o660);
    ok(Command::new("dpkg").args(["-P", "sscard"]));
    assert!(!Path::new(STATE).exists(), "purge left an unused {STATE}");

    // The unit really started under systemd: scripts/check-unit boots a throwaway
    // container (systemd-nspawn, package systemd-container) from this machine's own
    // tree, installs this .deb there and checks the running service (about 25 s).
    assert!(
        run(Command::new("sh").args(["-c", "command -v systemd-nspawn"]))
            .status
            .success(),
        "systemd-nspawn is missing: apt-get install systemd-container (scripts/setup)"
    );
    let check = run(Command::new(repo.join("scripts/check-unit")).arg(&deb));
    let shown = text(&check);
    eprintln!("{shown}");
    assert!(check.status.success(), "scripts/check-unit: {shown}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains("check-unit: OK"),
        "{shown}"
    );
    drop(guard);
}
