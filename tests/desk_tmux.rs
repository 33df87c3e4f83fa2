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

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::desk::{assert_invariants, new_money, old_money, BALANCE};
use common::tmux::{tmux_available, Tmux};
use common::{exe, Bed};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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
    /// Press Ctrl-C at this PIN prompt (1-based) instead of typing (issue 15 §2).
    interrupt_at: Option<usize>,
    /// Press Ctrl-C instead of this insertion of the new card (1-based).
    interrupt_at_new: Option<usize>,
    /// Send SIGTERM to sscard instead of pressing Ctrl-C.
    term: bool,
    /// Run this shell command line instead of `activate pharmacy` with the desk's
    /// options (the command an interrupted run printed).
    command: Option<String>,
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
    let flow = match &s.command {
        Some(c) => c.clone(),
        None => format!("'{}' {args} {extra}", exe().display()),
    };
    // After the exit, whether the terminal echoes again (a PIN prompt turns it off).
    let command = format!(
        "{flow}; echo \"[exit $?]\"; stty -a | tr ' ;' '\\n\\n' | grep -x -e echo -e -echo | sed 's/.*/[tty &]/'; exec sleep 600"
    );
    let tmux = Tmux::start(d.bed.dir.path().join("tmux.sock"), &envs, &command);
    let mut seen: Vec<String> = Vec::new();
    let mut old_fault = Some(s.old_fault.clone());
    let mut new_fault = Some(s.new_fault.clone());
    let mut new_insertions = 0usize;
    let mut wrong_card = s.wrong_card_first;
    let mut pins = s.pins.iter();
    let mut prompts = 0usize;
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
            // Let the line about the terminal's echo come.
            std::thread::sleep(Duration::from_millis(300));
            seen.push(tmux.screen());
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
            prompts += 1;
            if s.interrupt_at == Some(prompts) {
                if s.term {
                    sigterm_sscard(&d.journal);
                } else {
                    tmux.tmux(&["send-keys", "-t", "desk", "C-c"]);
                }
                acted_on = now;
                continue;
            }
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
                if s.interrupt_at_new == Some(new_insertions) {
                    if s.term {
                        sigterm_sscard(&d.journal);
                    } else {
                        tmux.tmux(&["send-keys", "-t", "desk", "C-c"]);
                    }
                    acted_on = now;
                    continue;
                }
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

/// Issue 15 §9: the final screen says "done" once (the receipt box), and the
/// receipt's time is local and readable (`2026-11-22 10:00:05`, not RFC 3339).
fn assert_receipt_for_people(last: &str, done: &str, time_label: &str) {
    assert_eq!(last.matches(done).count(), 1, "one \"{done}\":\n{last}");
    let time = last
        .lines()
        .find_map(|l| l.strip_prefix("│ ")?.strip_prefix(time_label))
        .unwrap_or_else(|| panic!("no {time_label} row:\n{last}"))
        .trim();
    let shape: String = time
        .chars()
        .map(|c| if c.is_ascii_digit() { 'd' } else { c })
        .collect();
    assert_eq!(shape, "dddd-dd-dd dd:dd:dd", "{time}");
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
        interrupt_at: None,
        interrupt_at_new: None,
        term: false,
        command: None,
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
            "╭─ ✔ Activation complete",
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
    assert_receipt_for_people(&last, "complete", "Time");
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
        interrupt_at: None,
        interrupt_at_new: None,
        term: false,
        command: None,
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
            "╭─ ✔ 办理完成",
            "转移金额",
            "1234.56 元",
            "旧卡      6399000123（已冻结，不能再支付）",
            "➜ 请将卡片和回执交还持卡人。",
        ],
    );
    assert_receipt_for_people(seen.last().unwrap(), "完成", "时间");
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

fn journal_ids(journal: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(journal).unwrap();
    let mut q = c.prepare("SELECT id FROM entries").unwrap();
    let ids = q
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    ids
}

/// Sends SIGTERM to the sscard process using `journal` (found in /proc).
fn sigterm_sscard(journal: &std::path::Path) {
    let needle = journal.display().to_string();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
        let argv0 = cmd.split(' ').next().unwrap_or_default();
        if argv0.ends_with("/sscard") && cmd.contains(" activate ") && cmd.contains(&needle) {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            )
            .unwrap();
            return;
        }
    }
    panic!("no sscard process for {needle}");
}

/// Where the Ctrl-C comes.
#[derive(Clone, Copy)]
enum CtrlC {
    /// At the old card's PIN prompt (echo off), before anything was written.
    AtThePin,
    /// Instead of inserting the new card for the credit: the old card is frozen.
    AfterTheFreeze,
    /// The same moment, SIGTERM instead of Ctrl-C (a shutdown, `kill`).
    TermAfterTheFreeze,
    /// SIGTERM from outside while the PIN prompt reads with echo off: the prompt is
    /// never told, so only the handler can turn echo back on.
    TermAtThePin,
}

/// Issue 15 §2: Ctrl-C mid-flow: the screen says where the cards stand, the
/// transfer id (when one was journaled) and the exact command that continues; the
/// terminal echoes again (Ctrl-C at the PIN prompt, where echo is off); the exit
/// status is 130. Then the printed command, run as it is, finishes the transfer.
fn interrupted_then_continued(
    lang: &str,
    words: &'static Words,
    when: CtrlC,
    said: &[&str],
    lead: &str,
) {
    if !tmux_available() {
        println!("SKIPPED: tmux is not installed (scripts/setup installs it)");
        return;
    }
    let mut d = desk();
    let script = Script {
        words,
        old_fault: vec![],
        new_fault: vec![],
        new_fault_at: 1,
        wrong_card_first: false,
        pins: vec!["135790"],
        interrupt_at: matches!(when, CtrlC::AtThePin | CtrlC::TermAtThePin).then_some(1),
        interrupt_at_new: matches!(when, CtrlC::AfterTheFreeze | CtrlC::TermAfterTheFreeze)
            .then_some(2),
        term: matches!(when, CtrlC::TermAfterTheFreeze | CtrlC::TermAtThePin),
        command: None,
    };
    let (seen, _, code) = play(&mut d, &[], &["--lang", lang], script);
    let all = seen.join("\n=====\n");
    let want = if matches!(when, CtrlC::TermAfterTheFreeze | CtrlC::TermAtThePin) {
        143
    } else {
        130
    };
    assert_eq!(code, want, "{all}");
    let last = seen.last().unwrap();
    assert_saw(&seen, said);
    assert!(last.contains("[tty echo]"), "echo is back on:\n{last}");
    let ids = journal_ids(&d.journal);
    let command = last
        .lines()
        .find_map(|l| l.split_once(lead).map(|(_, c)| c.trim().to_string()))
        .unwrap_or_else(|| panic!("no command after {lead:?}:\n{last}"));
    let old = old_money(&d.old_img);
    match when {
        CtrlC::AtThePin | CtrlC::TermAtThePin => {
            assert!(ids.is_empty(), "{ids:?}");
            assert!(command.contains(" activate pharmacy "), "{command}");
            assert_eq!(old.status, 0x00, "the old card is untouched");
        }
        CtrlC::AfterTheFreeze | CtrlC::TermAfterTheFreeze => {
            assert_eq!(ids.len(), 1, "{ids:?}");
            assert!(last.contains(&ids[0]), "the transfer id:\n{last}");
            assert!(
                command.contains(&format!(" activate resume {} ", ids[0])),
                "{command}"
            );
            assert_eq!(old.status, 0x01, "frozen");
        }
    }
    assert_eq!(old.balance, BALANCE, "the money has not moved yet");
    // The printed command continues (or starts again), as it is.
    let again = Script {
        words,
        old_fault: vec![],
        new_fault: vec![],
        new_fault_at: 1,
        wrong_card_first: false,
        pins: vec!["135790"],
        interrupt_at: None,
        interrupt_at_new: None,
        term: false,
        command: Some(command),
    };
    let _ = std::fs::remove_file(d.bed.dir.path().join("tmux.sock"));
    let (seen, _, code) = play(&mut d, &[], &[], again);
    assert_eq!(code, 0, "{}", seen.join("\n=====\n"));
    assert_money_moved(&d);
}

#[test]
fn ctrl_c_after_the_freeze_says_where_the_cards_are_in_english() {
    interrupted_then_continued(
        "en",
        &EN,
        CtrlC::AfterTheFreeze,
        &["Stopped by Ctrl-C mid-transfer: the old card is frozen (it cannot pay) and the money is not on the new card yet. Transfer id "],
        "To continue, with either card in its reader: ",
    );
}

#[test]
fn ctrl_c_at_the_pin_prompt_restores_echo_and_says_nothing_was_written_in_chinese() {
    interrupted_then_continued(
        "zh",
        &ZH,
        CtrlC::AtThePin,
        &["已按 Ctrl-C 中断：尚未写入任何卡片，两张卡均未改变。"],
        "重新办理：",
    );
}

/// Issue 15 §3: at the bureau window the operator mistypes the citizen ID (a wrong
/// check digit), is asked again, and the flow goes on; the receipt is for a
/// citizen (§9): no "amount moved" row, a readable time, one "done". Both languages.
fn window_with_a_typo(lang: &str, note: &str, prompt: &str, insert: &str, done: &str, time: &str) {
    if !tmux_available() {
        println!("SKIPPED: tmux is not installed (scripts/setup installs it)");
        return;
    }
    let mut d = desk();
    let (k, v) = d.bed.pcscd.env();
    let envs = vec![
        (k.to_string(), v.display().to_string()),
        ("SSCARD_TODAY".to_string(), "20261122".to_string()),
        ("SSCARD_CONFIG".to_string(), "none".to_string()),
    ];
    let command = format!(
        "'{}' activate window --reader 0 --keys '{}' --journal '{}' --operator desk-7 --lang {lang} --timeout 30; echo \"[exit $?]\"; exec sleep 600",
        exe().display(),
        d.keys.display(),
        d.journal.display()
    );
    let tmux = Tmux::start(d.bed.dir.path().join("tmux.sock"), &envs, &command);
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut typed, mut inserted) = (0, false);
    let mut seen: Vec<String> = Vec::new();
    let code = loop {
        assert!(
            Instant::now() < deadline,
            "stuck:\n{}",
            seen.join("\n=====\n")
        );
        std::thread::sleep(Duration::from_millis(150));
        let screen = tmux.screen();
        if seen.last() != Some(&screen) {
            seen.push(screen.clone());
        }
        if let Some(code) = exit_code(&screen) {
            break code;
        }
        let asking = screen.contains(prompt)
            && screen
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .is_some_and(|l| l.trim_end() == ">");
        if asking && typed == 0 {
            // The last character (the check digit) mistyped.
            tmux.keys("111111198101011111");
            typed = 1;
        } else if asking && typed == 1 && screen.contains(note) {
            tmux.keys("111111198101011110");
            typed = 2;
        } else if !inserted && instruction(&screen).is_some_and(|l| l.contains(insert)) {
            d.bed.insert(0, &d.new_img, &[]);
            inserted = true;
        }
    };
    drop(tmux);
    d.bed.pull(0);
    let all = seen.join("\n=====\n");
    assert_eq!(code, 0, "{all}");
    assert_eq!(typed, 2, "asked again after the typo:\n{all}");
    assert_saw(&seen, &[note]);
    let last = seen.last().unwrap();
    assert!(
        !last.contains("0.00"),
        "no amount on a window activation:\n{last}"
    );
    assert_receipt_for_people(last, done, time);
    let new = new_money(&d.new_img);
    assert_eq!(new.status, 0x01, "activated");
}

#[test]
fn window_asks_again_after_a_mistyped_citizen_id_in_english() {
    window_with_a_typo(
        "en",
        "The citizen ID typed is not valid (check digit); please type it again.",
        "Operator: type the holder's citizen ID",
        "Insert the new social security card",
        "complete",
        "Time",
    );
}

#[test]
fn window_asks_again_after_a_mistyped_citizen_id_in_chinese() {
    window_with_a_typo(
        "zh",
        "输入的身份证号无效（校验位不符），请重新输入。",
        "请操作员按身份证件输入持卡人身份证号",
        "请将新社保卡插入读卡器",
        "完成",
        "时间",
    );
}

#[test]
fn sigterm_after_the_freeze_says_where_the_cards_are() {
    interrupted_then_continued(
        "en",
        &EN,
        CtrlC::TermAfterTheFreeze,
        &["Stopped by a stop request (SIGTERM) mid-transfer: the old card is frozen (it cannot pay) and the money is not on the new card yet. Transfer id "],
        "To continue, with either card in its reader: ",
    );
}

#[test]
fn sigterm_at_the_pin_prompt_turns_echo_back_on() {
    interrupted_then_continued(
        "en",
        &EN,
        CtrlC::TermAtThePin,
        &["Stopped by a stop request (SIGTERM) before any card was written: both cards are unchanged."],
        "To start again: ",
    );
}
