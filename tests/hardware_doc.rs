//! hardware.md's troubleshooting tables cover every error the tool can print.
//!
//! Each error enum's variants are built here with marker values, and each variant
//! must have a row in hardware.md naming it (`Type::Variant`), quoting the fixed part
//! of its message (as the variant prints it and as `sscard: error:` prints it), and
//! giving its exit code. The variant lists are checked against an exhaustive `match`
//! with one index per variant: a new variant does not compile until it is added here,
//! and then fails until hardware.md has its row. The activation's refusals, stops and
//! timeouts are typed values (`activation::error`, `activation::core::msg`), rendered
//! by `ui::messages`; no test reads sentences out of the sources.

// A test's unwrap/expect is its assertion: a panic is the test failing, with the
// message (clippy.toml allows them in #[test] fns; these files' helpers need this).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard::activation::desk::Want;
use sscard::activation::error::{DeskRefusal, Internal, Setup, WaitTimeout};
use sscard::activation::journal::{Journal, JournalError, SCHEMA_VERSION};
use sscard::activation::ActivationError;
use sscard::apdu::{Status, TransportError};
use sscard::card::CardError;
use sscard::config::ConfigError;
use sscard::error::{Error, ExitCode};
use sscard::profile::ProfileError;
use sscard::sam::SamError;
use sscard::secret::PinError;
use sscard::vcard::VcardError;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// A marker standing for a value in a message.
const V: &str = "⟪⟫";

/// One variant, as printed.
struct Sample {
    /// `TransportError::NoService`.
    name: String,
    /// The variant's own message.
    own: String,
    /// What `sscard: error:` prints for it.
    shown: String,
    /// Printed values that are not markers (status words, I/O errors...).
    values: Vec<String>,
    /// The exit code, when the variant has one of its own.
    code: Option<u8>,
}

fn sample(
    ty: &str,
    debug: String,
    own: String,
    shown: String,
    values: Vec<String>,
    code: Option<ExitCode>,
) -> Sample {
    let variant: String = debug
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    Sample {
        name: format!("{ty}::{variant}"),
        own,
        shown,
        values,
        code: code.map(|c| c as u8),
    }
}

/// The longest fixed run of a message, without surrounding punctuation.
fn stem(message: &str, values: &[String]) -> String {
    let mut t = message.replace(V, "\u{1}");
    // Longest values first: a short one ("7") must not cut a long one (a temporary
    // path that happens to contain a 7) before it is recognised.
    let mut values: Vec<&String> = values.iter().filter(|v| !v.is_empty()).collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for v in values {
        t = t.replace(v.as_str(), "\u{1}");
    }
    t.split('\u{1}')
        .map(|s| s.trim_matches(|c: char| c.is_whitespace() || ":;,()'\".`".contains(c)))
        .max_by_key(|s| s.chars().count())
        .unwrap_or("")
        .to_string()
}

fn io() -> std::io::Error {
    std::io::Error::other(V)
}

fn status() -> Status {
    Status::from(0x6982)
}

fn transports() -> Vec<TransportError> {
    use TransportError as T;
    vec![
        T::NoService(V.into()),
        T::UnknownReader(V.into()),
        T::NoReaders,
        T::NoCard(V.into()),
        T::CardRemoved,
        T::CardReset,
        T::ShortResponse(7),
        T::EndlessResponse(7),
        T::Command(sscard::apdu::command::CommandError::TooShort(3)),
        T::Busy,
        T::Replay(V.into()),
        T::Unsupported(V),
        T::Pcsc(V.into()),
        T::Io(io()),
        T::AmbiguousReader {
            text: V.into(),
            names: vec![V.into(), V.into()],
        },
    ]
}

fn transport_index(t: &TransportError) -> usize {
    use TransportError as T;
    match t {
        T::NoService(_) => 0,
        T::UnknownReader(_) => 1,
        T::NoReaders => 2,
        T::NoCard(_) => 3,
        T::CardRemoved => 4,
        T::CardReset => 5,
        T::ShortResponse(_) => 6,
        T::EndlessResponse(_) => 7,
        T::Command(_) => 8,
        T::Busy => 9,
        T::Replay(_) => 10,
        T::Unsupported(_) => 11,
        T::Pcsc(_) => 12,
        T::Io(_) => 13,
        T::AmbiguousReader { .. } => 14,
    }
}

fn sams() -> Vec<SamError> {
    vec![
        SamError::KeyFile {
            path: V.into(),
            why: V.into(),
        },
        SamError::UnknownKey {
            app: V,
            key_id: 0x0C,
            alg: sscard::crypto::Algorithm::Sm4,
        },
        SamError::PsamStatus {
            step: V,
            status: status(),
        },
        SamError::PsamData(V.into()),
        SamError::Transport(TransportError::CardRemoved),
    ]
}

fn sam_index(e: &SamError) -> usize {
    match e {
        SamError::KeyFile { .. } => 0,
        SamError::UnknownKey { .. } => 1,
        SamError::PsamStatus { .. } => 2,
        SamError::PsamData(_) => 3,
        SamError::Transport(_) => 4,
    }
}

fn profiles() -> Vec<ProfileError> {
    vec![
        ProfileError::Read {
            file: V.into(),
            source: io(),
        },
        ProfileError::Parse {
            file: V.into(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        },
        ProfileError::Invalid {
            profile: V.into(),
            path: V.into(),
            reason: V.into(),
        },
        ProfileError::Missing {
            profile: V.into(),
            what: V,
            name: V.into(),
        },
    ]
}

fn profile_index(e: &ProfileError) -> usize {
    match e {
        ProfileError::Read { .. } => 0,
        ProfileError::Parse { .. } => 1,
        ProfileError::Invalid { .. } => 2,
        ProfileError::Missing { .. } => 3,
    }
}

fn cards() -> Vec<CardError> {
    vec![
        CardError::Transport(TransportError::CardRemoved),
        CardError::Status {
            context: V.into(),
            status: status(),
        },
        CardError::InvalidData {
            context: V.into(),
            reason: V.into(),
        },
        CardError::Unknown(V.into()),
        CardError::AuthRefused {
            context: V.into(),
            key_id: 0x0C,
            status: status(),
        },
        CardError::Sam {
            sam: V.into(),
            source: SamError::PsamData(V.into()),
        },
        CardError::NeedsKey(V.into()),
        CardError::Profile(ProfileError::Invalid {
            profile: V.into(),
            path: V.into(),
            reason: V.into(),
        }),
    ]
}

fn card_index(e: &CardError) -> usize {
    match e {
        CardError::Transport(_) => 0,
        CardError::Status { .. } => 1,
        CardError::InvalidData { .. } => 2,
        CardError::Unknown(_) => 3,
        CardError::AuthRefused { .. } => 4,
        CardError::Sam { .. } => 5,
        CardError::NeedsKey(_) => 6,
        CardError::Profile(_) => 7,
    }
}

fn junk_path(dir: &std::path::Path) -> PathBuf {
    dir.join("not-a-journal.sqlite")
}

fn journals(dir: &std::path::Path) -> Vec<JournalError> {
    // A real SQLite failure: a file that is not a database.
    let junk = junk_path(dir);
    std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
    let sql = match Journal::open(&junk) {
        Err(e @ JournalError::Sql { .. }) => e,
        Err(other) => panic!("expected an SQLite error, got {other}"),
        Ok(_) => panic!("a file of junk opened as a journal"),
    };
    vec![
        sql,
        JournalError::Io {
            path: V.into(),
            source: io(),
        },
        JournalError::NotFound(V.into()),
        JournalError::TooNew {
            path: V.into(),
            found: 99,
        },
        JournalError::IllegalMove {
            id: V.into(),
            from: V,
            to: V,
        },
        JournalError::Exists(V.into()),
        JournalError::Rebind {
            id: V.into(),
            bound: V.into(),
            asked: V.into(),
        },
        JournalError::InUse {
            id: V.into(),
            holder: None,
        },
        JournalError::Removed { path: V.into() },
        JournalError::Replaced { path: V.into() },
    ]
}

fn journal_index(e: &JournalError) -> usize {
    match e {
        JournalError::Sql { .. } => 0,
        JournalError::Io { .. } => 1,
        JournalError::NotFound(_) => 2,
        JournalError::TooNew { .. } => 3,
        JournalError::IllegalMove { .. } => 4,
        JournalError::Exists(_) => 5,
        JournalError::Rebind { .. } => 6,
        JournalError::InUse { .. } => 7,
        JournalError::Removed { .. } => 8,
        JournalError::Replaced { .. } => 9,
    }
}

fn activations() -> Vec<ActivationError> {
    vec![
        ActivationError::Card(CardError::Unknown(V.into())),
        ActivationError::Journal(JournalError::NotFound(V.into())),
        ActivationError::Refused(DeskRefusal::NotTransferId { text: V.into() }),
        ActivationError::Timeout(WaitTimeout::NotInserted {
            want: Want::OldCard,
            reader: V.into(),
        }),
        ActivationError::Desk(Error::InvalidData(V.into())),
        ActivationError::Inconsistent(Internal::PinMissing),
        ActivationError::Refusal(sscard::activation::core::Refusal::NewAlreadyActive),
        ActivationError::Stop(sscard::activation::core::Stop::JournalFailed),
        ActivationError::Setup(Setup::BadTerminal(V.into())),
    ]
}

fn activation_index(e: &ActivationError) -> usize {
    match e {
        ActivationError::Card(_) => 0,
        ActivationError::Journal(_) => 1,
        ActivationError::Refused(_) => 2,
        ActivationError::Timeout(_) => 3,
        ActivationError::Desk(_) => 4,
        ActivationError::Inconsistent(_) => 5,
        ActivationError::Refusal(_) => 6,
        ActivationError::Stop(_) => 7,
        ActivationError::Setup(_) => 8,
    }
}

fn errors() -> Vec<Error> {
    vec![
        Error::Transport(TransportError::NoReaders),
        Error::CardStatus {
            context: V.into(),
            status: status(),
        },
        Error::InvalidData(V.into()),
        Error::UnknownCard(V.into()),
        Error::Timeout(V.into()),
        Error::Io {
            path: V.into(),
            source: io(),
        },
        Error::VirtualCard(V.into()),
        Error::Other {
            message: V.into(),
            code: ExitCode::Internal,
        },
    ]
}

fn error_index(e: &Error) -> usize {
    match e {
        Error::Transport(_) => 0,
        Error::CardStatus { .. } => 1,
        Error::InvalidData(_) => 2,
        Error::UnknownCard(_) => 3,
        Error::Timeout(_) => 4,
        Error::Io { .. } => 5,
        Error::VirtualCard(_) => 6,
        Error::Other { .. } => 7,
    }
}

fn vcards() -> Vec<VcardError> {
    let f = || PathBuf::from(V);
    vec![
        VcardError::ReadImage {
            file: f(),
            source: io(),
        },
        VcardError::ParseImage {
            file: f(),
            source: serde_json::from_str::<u8>("x").unwrap_err(),
        },
        VcardError::InvalidImage {
            file: f(),
            field: V.into(),
            reason: V.into(),
        },
        VcardError::SaveImage {
            file: f(),
            source: io(),
        },
        VcardError::Connect {
            addr: V.into(),
            secs: 7,
            source: io(),
        },
        VcardError::Address {
            addr: V.into(),
            reason: V.into(),
        },
        VcardError::Link {
            addr: V.into(),
            source: io(),
        },
        VcardError::ApduLog {
            file: f(),
            source: io(),
        },
    ]
}

fn vcard_index(e: &VcardError) -> usize {
    match e {
        VcardError::ReadImage { .. } => 0,
        VcardError::ParseImage { .. } => 1,
        VcardError::InvalidImage { .. } => 2,
        VcardError::SaveImage { .. } => 3,
        VcardError::Connect { .. } => 4,
        VcardError::Address { .. } => 5,
        VcardError::Link { .. } => 6,
        VcardError::ApduLog { .. } => 7,
    }
}

fn configs() -> Vec<ConfigError> {
    vec![
        ConfigError::Read {
            path: V.into(),
            source: io(),
        },
        ConfigError::Parse {
            path: V.into(),
            message: V.into(),
        },
        ConfigError::Invalid {
            path: V.into(),
            key: V.into(),
            reason: V.into(),
        },
    ]
}

fn config_index(e: &ConfigError) -> usize {
    match e {
        ConfigError::Read { .. } => 0,
        ConfigError::Parse { .. } => 1,
        ConfigError::Invalid { .. } => 2,
    }
}

fn pin_index(e: &PinError) -> usize {
    match e {
        PinError::Format => 0,
    }
}

/// Checks that the indices of `items` are exactly 0..n.
fn complete<T>(what: &str, items: &[T], index: impl Fn(&T) -> usize) {
    let got: BTreeSet<usize> = items.iter().map(index).collect();
    let want: BTreeSet<usize> = (0..items.len()).collect();
    assert_eq!(got, want, "{what}: one sample per variant");
}

/// Values printed inside messages that are not markers.
fn values() -> Vec<String> {
    vec![
        status().to_string(),
        io().to_string(),
        serde_json::from_str::<u8>("x").unwrap_err().to_string(),
        "0C".into(),
        "SM4".into(),
        "Sm4".into(),
        "99".into(),
        "7".into(),
    ]
}

fn all_samples(dir: &std::path::Path) -> Vec<Sample> {
    let mut out = Vec::new();
    let vals = values();
    let t = transports();
    complete("TransportError", &t, transport_index);
    for e in t {
        let own = e.to_string();
        let debug = format!("{e:?}");
        let transparent = matches!(e, TransportError::Command(_));
        let top = Error::Transport(e);
        let code = top.exit_code();
        let (own, shown) = if transparent {
            (String::new(), String::new())
        } else {
            (own, top.to_string())
        };
        out.push(sample(
            "TransportError",
            debug,
            own,
            shown,
            vals.clone(),
            Some(code),
        ));
    }
    let s = sams();
    complete("SamError", &s, sam_index);
    for e in s {
        let own = e.to_string();
        let debug = format!("{e:?}");
        let mut v = vals.clone();
        if let SamError::Transport(t) = &e {
            v.push(t.to_string());
        }
        // Printed as the SAM's own message (`sscard: error:` adds the SAM's name).
        let code = CardError::Sam {
            sam: V.into(),
            source: e,
        }
        .exit_code();
        out.push(sample("SamError", debug, own.clone(), own, v, Some(code)));
    }
    let p = profiles();
    complete("ProfileError", &p, profile_index);
    for e in p {
        let own = e.to_string();
        let debug = format!("{e:?}");
        let c = CardError::Profile(e);
        let code = c.exit_code();
        out.push(sample(
            "ProfileError",
            debug,
            own,
            Error::from(c).to_string(),
            vals.clone(),
            Some(code),
        ));
    }
    let c = cards();
    complete("CardError", &c, card_index);
    for e in c {
        // `{sam}: {source}` has no text of its own either: the SamError rows hold it.
        let transparent = matches!(
            e,
            CardError::Transport(_) | CardError::Profile(_) | CardError::Sam { .. }
        );
        let own = e.to_string();
        let debug = format!("{e:?}");
        let code = e.exit_code();
        let top = Error::from(e);
        let (own, shown, code) = match (
            transparent,
            matches!(debug.as_str(), d if d.starts_with("Sam")),
        ) {
            (true, true) => (String::new(), String::new(), Some(code)),
            (true, false) => (String::new(), String::new(), None),
            (false, _) => (own, top.to_string(), Some(code)),
        };
        out.push(sample("CardError", debug, own, shown, vals.clone(), code));
    }
    let j = journals(dir);
    complete("JournalError", &j, journal_index);
    for e in j {
        let own = e.to_string();
        let debug = format!("{e:?}");
        // The SQLite message itself is a value.
        let mut v = vals.clone();
        v.push(junk_path(dir).display().to_string());
        v.push(format!("({SCHEMA_VERSION})"));
        if let JournalError::Sql { source, .. } = &e {
            v.push(source.to_string());
        }
        let top = Error::from(ActivationError::Journal(e));
        let code = top.exit_code();
        out.push(sample(
            "JournalError",
            debug,
            own,
            top.to_string(),
            v,
            Some(code),
        ));
    }
    let a = activations();
    complete("ActivationError", &a, activation_index);
    for e in a {
        let transparent = matches!(
            e,
            ActivationError::Card(_) | ActivationError::Journal(_) | ActivationError::Desk(_)
        );
        let own = e.to_string();
        let debug = format!("{e:?}");
        let top = Error::from(e);
        let code = top.exit_code();
        let (own, shown, code) = if transparent {
            (String::new(), String::new(), None)
        } else {
            (own, top.to_string(), Some(code))
        };
        out.push(sample(
            "ActivationError",
            debug,
            own,
            shown,
            vals.clone(),
            code,
        ));
    }
    let e = errors();
    complete("Error", &e, error_index);
    for e in e {
        let fixed = !matches!(e, Error::Transport(_) | Error::Other { .. });
        let debug = format!("{e:?}");
        let own = if fixed { e.to_string() } else { String::new() };
        let code = fixed.then(|| e.exit_code());
        out.push(sample("Error", debug, own.clone(), own, vals.clone(), code));
    }
    let v = vcards();
    complete("VcardError", &v, vcard_index);
    for e in v {
        let own = e.to_string();
        let debug = format!("{e:?}");
        let top = Error::VirtualCard(own.clone());
        let code = top.exit_code();
        out.push(sample(
            "VcardError",
            debug,
            own,
            top.to_string(),
            vals.clone(),
            Some(code),
        ));
    }
    let c = configs();
    complete("ConfigError", &c, config_index);
    for e in c {
        let own = e.to_string();
        let debug = format!("{e:?}");
        let top = Error::from(e);
        let code = top.exit_code();
        out.push(sample(
            "ConfigError",
            debug,
            own,
            top.to_string(),
            vals.clone(),
            Some(code),
        ));
    }
    let pins = [PinError::Format];
    complete("PinError", &pins, pin_index);
    for e in pins {
        let own = e.to_string();
        // pin_input reports it as invalid input.
        out.push(sample(
            "PinError",
            format!("{e:?}"),
            own.clone(),
            own,
            vals.clone(),
            Some(ExitCode::InvalidData),
        ));
    }
    out
}

fn doc() -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("hardware.md"))
        .expect("hardware.md")
}

/// The cells of the table row naming `name` in backticks in its last column (the
/// table is led by the message a person sees; the code's name comes last, for
/// technicians: issue 15 §7). Cells: `[_, message, exit, cause, fix, name, _]`.
fn row<'d>(doc: &'d str, name: &str) -> Option<Vec<&'d str>> {
    let tag = format!("`{name}`");
    doc.lines()
        .filter(|l| l.starts_with('|'))
        .find(|l| {
            l.trim_end()
                .strip_suffix('|')
                .and_then(|r| r.rsplit('|').next())
                .is_some_and(|c| c.trim() == tag)
        })
        .map(|l| l.split('|').map(str::trim).collect())
}

fn has_code(cell: &str, code: u8) -> bool {
    cell.split(|c: char| !c.is_ascii_digit())
        .any(|n| n == code.to_string())
}

#[test]
fn every_error_variant_has_a_row_with_its_message_and_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let doc = doc();
    let mut problems = Vec::new();
    for s in all_samples(dir.path()) {
        let Some(cells) = row(&doc, &s.name) else {
            problems.push(format!("{}: no row in hardware.md", s.name));
            continue;
        };
        let message = cells.get(1).copied().unwrap_or("");
        for text in [&s.own, &s.shown] {
            let st = stem(text, &s.values);
            if st.chars().count() >= 3 && !message.contains(&st) {
                problems.push(format!(
                    "{}: the message cell lacks {st:?} (from {text:?})",
                    s.name
                ));
            }
        }
        if let Some(code) = s.code {
            if !has_code(cells.get(2).copied().unwrap_or(""), code) {
                problems.push(format!("{}: the exit cell lacks {code}", s.name));
            }
        }
    }
    assert!(problems.is_empty(), "hardware.md:\n{}", problems.join("\n"));
}

#[test]
fn the_stems_are_what_a_reader_searches_for() {
    assert_eq!(
        stem(&TransportError::NoService(V.into()).to_string(), &[]),
        "the PC/SC service (pcscd) is not running or not reachable"
    );
    assert_eq!(stem(&format!("{V}: {V}"), &[]), "");
    assert!(has_code("5 or 3", 3));
    assert!(!has_code("15", 5));
}

/// Issue 15 §7: the troubleshooting table is led by what a person sees, not by the
/// code's names: no row starts with `Type::Variant`, and every row of it names one
/// variant in its last column (so the completeness test above keeps covering it).
#[test]
fn the_error_table_is_led_by_the_message_a_person_sees() {
    let doc = doc();
    let header =
        "| the screen or `sscard: error:` says | exit | cause | what to do | in the code |";
    let start = doc.find(header).expect("the table's header");
    let table: Vec<&str> = doc[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(table.len() >= 60, "{} rows", table.len());
    let names = |c: &str| {
        let c = c.trim();
        c.starts_with('`') && c.ends_with('`') && c.contains("::") && !c.contains(' ')
    };
    for l in &table {
        let cells: Vec<&str> = l.split('|').collect();
        assert!(!names(cells[1]), "led by a code name: {l}");
        assert!(
            names(cells[cells.len() - 2]),
            "no code name in the last column: {l}"
        );
    }
}
