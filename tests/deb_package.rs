//! The desk package (issue 12 point 5): `scripts/package-deb` builds the `.deb`, whose
//! contents, conffiles and dependencies are checked with `dpkg-deb`; then it is really
//! installed with `dpkg -i` (the pcscd tier runs as root), the packaged binary runs, the
//! hardened unit passes `systemd-analyze verify` on the installed system (its binary,
//! its user and its man pages present), and `dpkg -r` / `dpkg -P` take it away again,
//! the conffile kept on remove and gone on purge.
//!
//! It installs into the real system rather than a throwaway root because the unit's
//! checks need the real `systemd` units (`sysinit.target`...), `man` and `/usr/bin`;
//! it refuses to run where an `sscard` package or `/usr/bin/sscard` is already there.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNIT: &str = "sscard-serve.service";

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

/// Purges the package when the test ends, passed or failed.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["-P", "sscard"]).output();
    }
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
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    // With this run's features, the script's `cargo build` finds sscard fresh instead of
    // rebuilding target/release/sscard under the other tests' feet.
    let printed = ok(Command::new(repo.join("scripts/package-deb"))
        .arg(out.path())
        .env("SSCARD_DEB_FEATURES", "pcscd-tests"));
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
    ] {
        assert!(unit.lines().any(|l| l == line), "unit lacks {line}");
    }
    let rules = std::fs::read_to_string("/usr/share/polkit-1/rules.d/50-sscard.rules").unwrap();
    for needle in [
        "org.debian.pcsc-lite.access_pcsc",
        "org.debian.pcsc-lite.access_card",
        "subject.user == \"sscard\"",
    ] {
        assert!(rules.contains(needle), "polkit rule lacks {needle}");
    }

    // Removed: the binary goes, the edited conffile stays; purged: it goes too.
    ok(Command::new("dpkg").args(["-r", "sscard"]));
    assert!(!Path::new("/usr/bin/sscard").exists());
    assert!(Path::new("/etc/sscard/sscard.toml").exists());
    ok(Command::new("dpkg").args(["-P", "sscard"]));
    assert!(!Path::new("/etc/sscard/sscard.toml").exists());
    assert!(!installed("sscard"));
    drop(guard);
}
