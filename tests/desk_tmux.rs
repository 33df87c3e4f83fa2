//! End-to-end: the guided pharmacy desk in a real terminal (tmux), against virtual
//! cards through a private pcscd + vpcd, in English and in Chinese.
//!
//! A scripted holder reads the screen with `capture-pane` and acts on the one
//! instruction line (`➜ ...`): inserts and pulls cards, types the PIN with
//! `send-keys` at the echo-off prompt, pulls a card too early, inserts the wrong
//! card, mistypes the PIN. The test then asserts what the screen showed along the way
//! (instructions, spinner with reader and countdown, step list, recovery notice,
//! receipt), that no PIN ever appeared on it, and what the cards hold afterwards.
//!
//! Skipped, with a message, only when tmux is not installed (`scripts/setup` installs
//! it). Needs root like every other end-to-end test (private pcscd).

mod common;

use common::desk::{assert_invariants, new_money, old_money, BALANCE};
use common::{exe, Bed};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A private tmux server with one 100x40 pane running a command.
struct Tmux {
    sock: PathBuf,
}

impl Tmux {
    fn start(sock: PathBuf, env: &[(String, String)], command: &str) -> Tmux {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&sock).arg("-u").arg("-f").arg("/dev/null");
        c.args(["new-session", "-d", "-s", "desk", "-x", "100", "-y", "40"]);
        for (k, v) in env {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        c.arg(command);
        // The server's own environment: a UTF-8 locale so it draws Chinese.
        c.env("LANG", "C.UTF-8").env_remove("TMUX");
        let out = c.output().expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmux { sock }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The visible screen (wrapped lines joined).
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-t", "desk"])
    }

    /// The screen with its SGR escapes.
    fn screen_styled(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-e", "-t", "desk"])
    }

    fn keys(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "desk", "-l", text]);
        self.tmux(&["send-keys", "-t", "desk", "Enter"]);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.sock)
            .arg("kill-server")
            .status();
    }
}

/// What the holder script looks for on the screen, per language.
struct Words {
    insert_old: &'static str,
    insert_new: &'static str,
    remove: &'static [&'static str],
    prompts: &'static [&'static str],
}

const EN: Words = Words {
    insert_old: "Insert the old city medical card",
    insert_new: "Insert the new social security card",
    remove: &["Remove the ", "Take the card out"],
    prompts: &["PIN:", "PIN again:"],
};

const ZH: Words = Words {
    insert_old: "请将旧医保卡插入读卡器",
    insert_new: "请将新社保卡插入读卡器",
    remove: &["取出"],
    prompts: &["密码：", "再次输入密码："],
};

/// The scripted holder's plan.
struct Script {
    words: &'static Words,
    /// Fault flags for the first insertion of the old and the new card.
    old_fault: Vec<&'static str>,
    new_fault: Vec<&'static str>,
    /// Which insertion of the new card gets `new_fault` (1: the check of step 1;
    /// 2: the credit, with one reader since issue 10).
    new_fault_at: usize,
    /// Insert the old card once when the new one is asked for.
    wrong_card_first: bool,
    /// PINs typed at successive prompts; the last one repeats.
    pins: Vec<&'static str>,
}

struct Desk {
    bed: Bed,
    old_img: PathBuf,
    new_img: PathBuf,
    keys: PathBuf,
    journal: PathBuf,
}

fn desk() -> Desk {
    let bed = Bed::start();
    let old_img = bed.image("city.json");
    let new_img = bed.image("ssc-2.00.json");
    let keys = bed.dir.path().join("keys.txt");
    std::fs::copy(common::root().join("keys/test-keys.txt"), &keys).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let journal = bed.dir.path().join("journal.sqlite");
    Desk {
        bed,
        old_img,
        new_img,
        keys,
        journal,
    }
}

/// The screen without the spinner line (it changes every tick).
fn still(screen: &str) -> String {
    screen
        .lines()
        .filter(|l| !(l.contains(" s left") || l.contains("剩余")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn instruction(screen: &str) -> Option<&str> {
    screen.lines().find(|l| l.starts_with("➜ "))
}

fn exit_code(screen: &str) -> Option<i32> {
    let at = screen.find("[exit ")?;
    screen[at + 6..].split(']').next()?.trim().parse().ok()
}

/// Runs the guided pharmacy flow in tmux and plays the holder. Returns every distinct
/// screen seen (with and without the spinner), the styled final screen and the exit
/// code.
fn play(
    d: &mut Desk,
    env: &[(&str, &str)],
    extra: &[&str],
    s: Script,
) -> (Vec<String>, String, i32) {
    let (k, v) = d.bed.pcscd.env();
    let mut envs: Vec<(String, String)> = vec![
        (k.to_string(), v.display().to_string()),
        ("SSCARD_TODAY".into(), "20261122".into()),
        ("SSCARD_CONFIG".into(), "none".into()),
    ];
    envs.extend(env.iter().map(|(a, b)| (a.to_string(), b.to_string())));
    let args = [
        "activate",
        "pharmacy",
        "--reader",
        "0",
        "--keys",
        &d.keys.display().to_string(),
        "--journal",
        &d.journal.display().to_string(),
        "--operator",
        "desk-7",
        "--timeout",
        "30",
    ]
    .iter()
    .map(|a| format!("'{a}'"))
    .collect::<Vec<_>>()
    .join(" ");
    let extra = extra.join(" ");
    let command = format!(
        "'{}' {args} {extra}; echo \"[exit $?]\"; exec sleep 600",
        exe().display()
    );
    let tmux = Tmux::start(d.bed.dir.path().join("tmux.sock"), &envs, &command);
    let mut seen: Vec<String> = Vec::new();
    let mut old_fault = Some(s.old_fault.clone());
    let mut new_fault = Some(s.new_fault.clone());
    let mut new_insertions = 0usize;
    let mut wrong_card = s.wrong_card_first;
    let mut pins = s.pins.iter();
    let mut last_pin = "135790";
    let mut in_reader = false;
    let mut acted_on = String::new();
    let mut previous = String::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let code = loop {
        assert!(
            Instant::now() < deadline,
            "the desk got stuck; last screens:\n{}",
            seen.join("\n=====\n")
        );
        std::thread::sleep(Duration::from_millis(100));
        let screen = tmux.screen();
        if seen.last() != Some(&screen) {
            seen.push(screen.clone());
        }
        if let Some(code) = exit_code(&screen) {
            break code;
        }
        // Act only on a screen that stayed the same for two captures and that we
        // have not acted on yet.
        let now = still(&screen);
        let stable = now == previous;
        previous = now.clone();
        if !stable || now == acted_on {
            continue;
        }
        let last_line = screen
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        if s.words.prompts.iter().any(|p| last_line.trim_end() == *p) {
            let pin = pins.next().copied().unwrap_or(last_pin);
            last_pin = pin;
            tmux.keys(pin);
            acted_on = now;
            continue;
        }
        let Some(line) = instruction(&screen) else {
            continue;
        };
        if line.contains(s.words.insert_old) || line.contains(s.words.insert_new) {
            if in_reader {
                // A card that pulled itself (fault) is still ours to take away.
                d.bed.pull(0);
            }
            let (img, flags) = if line.contains(s.words.insert_old) {
                (d.old_img.clone(), old_fault.take().unwrap_or_default())
            } else if wrong_card {
                wrong_card = false;
                (d.old_img.clone(), Vec::new())
            } else {
                new_insertions += 1;
                let flags = if new_insertions == s.new_fault_at {
                    new_fault.take().unwrap_or_default()
                } else {
                    Vec::new()
                };
                (d.new_img.clone(), flags)
            };
            d.bed.insert(0, &img, &flags);
            in_reader = true;
            acted_on = now;
        } else if s.words.remove.iter().any(|w| line.contains(w)) {
            d.bed.pull(0);
            in_reader = false;
            acted_on = now;
        }
    };
    let styled = tmux.screen_styled();
    drop(tmux);
    if std::env::var_os("DESK_TMUX_SHOW").is_some() {
        // `DESK_TMUX_SHOW=1 cargo test --test desk_tmux -- --nocapture` shows every screen.
        eprintln!("{}", seen.join("\n=====\n"));
    }
    if in_reader {
        d.bed.pull(0);
    }
    (seen, styled, code)
}

fn saw(seen: &[String], needle: &str) -> bool {
    seen.iter().any(|s| s.contains(needle))
}

/// Whether `pin` appears on a screen as a number of its own (the random transfer
/// id, hex, is left out: it may contain any digits).
fn echoed(seen: &[String], pin: &str) -> bool {
    seen.iter().flat_map(|s| s.lines()).any(|l| {
        if l.contains("Transfer id") || l.contains("流水号") {
            return false;
        }
        l.match_indices(pin).any(|(i, _)| {
            let before = l[..i].chars().next_back();
            let after = l[i + pin.len()..].chars().next();
            !before.is_some_and(|c| c.is_ascii_digit())
                && !after.is_some_and(|c| c.is_ascii_digit())
        })
    })
}

fn assert_saw(seen: &[String], needles: &[&str]) {
    for n in needles {
        assert!(
            saw(seen, n),
            "never on screen: {n:?}\nscreens:\n{}",
            seen.join("\n=====\n")
        );
    }
}

fn assert_money_moved(d: &Desk) {
    assert_invariants(&d.old_img, &d.new_img, "after the guided flow");
    let (old, new) = (old_money(&d.old_img), new_money(&d.new_img));
    assert_eq!(old.status, 0x01, "one reader: the old card stays frozen");
    assert_eq!((new.status, new.balance), (0x01, BALANCE));
    assert_eq!(new.transfer, old.transfer);
}

#[test]
fn guided_pharmacy_in_english_recovers_from_a_pulled_card_wrong_card_and_pin_typos() {
    if !tmux_available() {
        println!("SKIPPED: tmux is not installed (scripts/setup installs it)");
        return;
    }
    let mut d = desk();
    let script = Script {
        words: &EN,
        // The old card leaves the reader at its 4th APDU, while it is being read.
        old_fault: vec!["--remove-before", "4", "--once"],
        new_fault: vec![],
        new_fault_at: 1,
        wrong_card_first: true,
        // Five digits, then a wrong PIN, then the right one.
        pins: vec!["12345", "246802", "135790"],
    };
    let (seen, styled, code) = play(&mut d, &[("LANG", "en_US.UTF-8")], &[], script);
    let all = seen.join("\n=====\n");
    assert_eq!(code, 0, "{all}");
    assert_saw(
        &seen,
        &[
            "sscard · Pharmacy activation",
            "terminal 639900000001 · operator desk-7",
            // One instruction, the spinner with the reader and the countdown.
            "➜ Insert the old city medical card into 'Virtual PCD 00 00'.",
            "Waiting for a card in 'Virtual PCD 00 00' · ",
            " s left",
            // Issue 10: the new card first (checked), then the old card, then the new
            // card again: ten stages with one reader.
            "Step 1 of 10",
            "▶ 1. Insert the new social security card",
            // Pulled too early: a plain instruction, then the flow goes on.
            "⚠ The old city medical card was taken out too early. Put it back into 'Virtual PCD 00 00'",
            "(Recovering: attempt 1 of 3.)",
            // PIN mistakes.
            "➜ Holder: enter the old card's PIN (5 tries left):",
            "⚠ The PIN is 6 digits. Ask the holder to enter it again.",
            "⚠ Wrong PIN: 4 tries left.",
            "✔ 5. Holder enters the PIN",
            // The swaps, with the wrong card first.
            "▶ 3. Swap the cards: new card out, old card in",
            "➜ Remove the old city medical card from 'Virtual PCD 00 00'.",
            "▶ 7. Swap the cards: old card out, new card in",
            "⚠ This is not the new social security card: the reader holds a city medical card. Please swap the cards.",
            "➜ Take the card out of 'Virtual PCD 00 00'.",
            "Holder 张三 · Citizen ID 111111********1110",
            "Old card 6399000123 → New card X00000019",
            // The receipt.
            "✔ All 10 steps done",
            "✔ Activation complete",
            "Amount moved  1234.56 yuan",
            "Old card      6399000123 (frozen; cannot pay)",
            "➜ Give the cards and the receipt back to the holder.",
        ],
    );
    let last = seen.last().cloned().unwrap_or_default();
    assert!(
        !last.contains('⚠'),
        "resolved warnings are gone at the end: {last}"
    );
    assert!(!last.contains("sscard: error"), "{last}");
    for pin in ["135790", "246802", "12345"] {
        assert!(!echoed(&seen, pin), "the PIN {pin} was echoed:\n{all}");
    }
    assert!(
        styled.contains("\x1b["),
        "colors on a color terminal: {styled:?}"
    );
    assert_money_moved(&d);
}

#[test]
fn guided_pharmacy_in_chinese_from_lang_continues_after_the_new_card_is_pulled_mid_credit() {
    if !tmux_available() {
        println!("SKIPPED: tmux is not installed (scripts/setup installs it)");
        return;
    }
    let mut d = desk();
    let script = Script {
        words: &ZH,
        old_fault: vec![],
        // The new card's second insertion (the credit) leaves at its 20th APDU: in the
        // middle of the credit writes (after 13 APDUs of detection, reads, INTERNAL and
        // EXTERNAL AUTHENTICATE: writes 14..20 are tags 26, 20, 21, 23, 24, 25, then 22).
        new_fault: vec!["--remove-before", "20", "--once"],
        new_fault_at: 2,
        wrong_card_first: false,
        // The old PIN; after the pull the frozen old card cannot check it, so the
        // holder enters it twice: first mistyped twice differently, then right.
        pins: vec!["135790", "135790", "135791", "135790", "135790"],
    };
    let (seen, styled, code) = play(
        &mut d,
        &[("LANG", "zh_CN.UTF-8"), ("NO_COLOR", "1")],
        &[],
        script,
    );
    let all = seen.join("\n=====\n");
    assert_eq!(code, 0, "{all}");
    assert_saw(
        &seen,
        &[
            "sscard · 药店激活：旧医保卡 → 新社保卡",
            "终端 639900000001 · 操作员 desk-7",
            "➜ 请将旧医保卡插入读卡器“Virtual PCD 00 00”。",
            "等待插卡：读卡器“Virtual PCD 00 00” · 剩余 ",
            "第 1 步，共 10 步",
            "▶ 1. 插入新社保卡",
            "➜ 请持卡人输入旧卡密码（还可尝试 5 次）：",
            "✔ 5. 持卡人输入密码",
            "➜ 请从读卡器“Virtual PCD 00 00”取出旧医保卡。",
            "等待取卡：读卡器“Virtual PCD 00 00”",
            "➜ 请将新社保卡插入读卡器“Virtual PCD 00 00”。",
            // Pulled mid-credit: one instruction, recovery from the journal.
            "⚠ 新社保卡被过早取出。请放回读卡器“Virtual PCD 00 00”，屏幕提示取出前不要拔卡。",
            "（正在恢复：第 1 次，共 3 次）",
            "➜ 请持卡人输入旧卡密码，用于新卡（输入两次）：",
            "持卡人 张三 · 身份证号 111111********1110",
            "✔ 全部 10 步已完成",
            "✔ 办理完成",
            "转移金额",
            "1234.56 元",
            "旧卡      6399000123（已冻结，不能再支付）",
            "➜ 请将卡片和回执交还持卡人。",
        ],
    );
    for english in ["Insert the", "Remove the", "Activation complete"] {
        assert!(
            !saw(&seen, english),
            "English on a Chinese desk: {english}\n{all}"
        );
    }
    for pin in ["135790", "135791"] {
        assert!(!echoed(&seen, pin), "the PIN {pin} was echoed:\n{all}");
    }
    assert!(
        !styled.contains("\x1b["),
        "NO_COLOR: no styling at all: {styled:?}"
    );
    assert_money_moved(&d);
}

/// The same desk with `--ui plain` is what scripts read: English lines, no screen
/// control, even with LANG=zh_CN and a terminal.
#[test]
fn plain_ui_in_a_terminal_prints_the_english_lines() {
    if !tmux_available() {
        println!("SKIPPED: tmux is not installed (scripts/setup installs it)");
        return;
    }
    let mut d = desk();
    let pins = d.bed.dir.path().join("pins");
    std::fs::write(&pins, "135790\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pins, std::fs::Permissions::from_mode(0o600)).unwrap();
    let pin_arg = format!("--pin-file '{}'", pins.display());
    let (k, v) = d.bed.pcscd.env();
    let command = format!(
        "'{}' activate pharmacy --reader 0 --keys '{}' --journal '{}' --ui plain {pin_arg} --timeout 20 --receipt json; echo \"[exit $?]\"; exec sleep 600",
        exe().display(),
        d.keys.display(),
        d.journal.display()
    );
    let envs = vec![
        (k.to_string(), v.display().to_string()),
        ("SSCARD_TODAY".to_string(), "20261122".to_string()),
        ("SSCARD_CONFIG".to_string(), "none".to_string()),
        ("LANG".to_string(), "zh_CN.UTF-8".to_string()),
    ];
    let tmux = Tmux::start(d.bed.dir.path().join("tmux.sock"), &envs, &command);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Issue 10: one reader takes the new card (checked), the old card (frozen), the
    // new card again (credited); the holder follows each instruction once.
    let (mut inserted, mut removed) = (0usize, 0usize);
    let screen = loop {
        assert!(Instant::now() < deadline, "stuck: {}", tmux.screen());
        std::thread::sleep(Duration::from_millis(100));
        let screen = tmux.screen();
        if exit_code(&screen).is_some() {
            break screen;
        }
        let inserts: Vec<(usize, bool)> = screen
            .match_indices("Insert the ")
            .map(|(i, _)| (i, screen[i..].starts_with("Insert the old")))
            .collect();
        let removes = screen.matches("Remove the ").count();
        if removes > removed {
            d.bed.pull(0);
            removed += 1;
        } else if inserts.len() > inserted && removed == inserted {
            let img = if inserts[inserted].1 {
                d.old_img.clone()
            } else {
                d.new_img.clone()
            };
            d.bed.insert(0, &img, &[]);
            inserted += 1;
        }
    };
    drop(tmux);
    d.bed.pull(0);
    assert_eq!(exit_code(&screen), Some(0), "{screen}");
    assert!(screen.contains("Reading the old card..."), "{screen}");
    assert!(
        screen.contains("Insert the new social security card into 'Virtual PCD 00 00'."),
        "{screen}"
    );
    assert!(!screen.contains('➜') && !screen.contains("请"), "{screen}");
    assert!(
        screen.contains("\"transfer_id\""),
        "JSON receipt on stdout: {screen}"
    );
    assert_money_moved(&d);
}
