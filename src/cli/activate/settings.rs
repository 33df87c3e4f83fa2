//! The settings of one run: each from its flag, else the desk configuration file,
//! else a default (flags always win); and opening the SAM they name.

use super::args::Common;
use crate::activation::error::{ConfigSeen, Setup};
use crate::activation::ActivationError;
use crate::apdu::TransportError;
use crate::config::Config;
use crate::reader::ReaderSelector;
use crate::sam::{Sam, SamError};
use crate::ui::i18n::Lang;
use crate::ui::UiMode;
use std::path::PathBuf;
use std::time::Duration;

/// Opens the SAM the options name.
///
/// # Errors
/// [`ActivationError::Setup`]: no keys configured (`config` says what the
/// configuration looked like), the key file refused, or the PSAM missing or not one.
pub fn open_sam(
    keys: Option<&PathBuf>,
    sam_reader: Option<&ReaderSelector>,
    config: ConfigSeen,
) -> Result<Box<dyn Sam>, ActivationError> {
    let setup = ActivationError::Setup;
    let keys = keys.map(PathBuf::as_path);
    match crate::sam::open(keys, sam_reader) {
        Ok(Some(sam)) => Ok(sam),
        Ok(None) => Err(setup(Setup::NoKeys(config))),
        Err(error) if keys.is_some() => Err(setup(Setup::KeyFile(error))),
        Err(error) => {
            let reader = match (&error, sam_reader) {
                (SamError::Transport(TransportError::NoCard(r)), _) => r.clone(),
                (_, Some(sel)) => reader_name(sel),
                (_, None) => String::new(),
            };
            Err(setup(Setup::Psam { reader, error }))
        }
    }
}

/// The name of the reader `sel` picks, as pcscd lists it; as typed when it picks none.
fn reader_name(sel: &ReaderSelector) -> String {
    let listed = crate::reader::establish()
        .and_then(|ctx| crate::reader::list_readers(&ctx))
        .ok()
        .and_then(|readers| sel.pick(&readers).ok().map(|r| r.name.to_string()));
    listed.unwrap_or_else(|| match sel {
        ReaderSelector::Name(n) => n.clone(),
        ReaderSelector::NameBytes(b) => String::from_utf8_lossy(b).into_owned(),
        ReaderSelector::Exact(n) => n.to_string(),
        ReaderSelector::Index(i) => format!("#{i}"),
        ReaderSelector::Auto => "auto".into(),
    })
}

/// The settings after flags, configuration and defaults.
pub(super) struct Settings {
    pub(super) old: ReaderSelector,
    pub(super) new: Option<ReaderSelector>,
    pub(super) keys: Option<PathBuf>,
    pub(super) sam_reader: Option<ReaderSelector>,
    pub(super) journal: PathBuf,
    /// `None`: not configured (the journal records `unknown`; the desk says "not set").
    pub(super) operator: Option<String>,
    pub(super) terminal: Option<String>,
    pub(super) timeout: Duration,
    pub(super) retries: Option<u32>,
    pub(super) lang: Lang,
    pub(super) lang_explicit: bool,
    pub(super) ui: UiMode,
    pub(super) dump: Option<PathBuf>,
    /// What the configuration looked like (for a desk without keys).
    pub(super) config: ConfigSeen,
}

fn selector(text: &str) -> ReaderSelector {
    match text.parse() {
        Ok(s) => s,
        Err(e) => match e {},
    }
}

/// The settings from the options `c` (and the global `--lang`, `lang`), the
/// configuration `cfg` and the defaults.
pub(super) fn settings(
    c: &Common,
    lang: Option<Lang>,
    cfg: &Config,
    config: ConfigSeen,
) -> Settings {
    let (old, new) = match (&c.reader, &c.old_reader, &c.new_reader) {
        (Some(r), _, _) => (r.clone(), None),
        (None, Some(o), Some(n)) => (o.clone(), Some(n.clone())),
        _ => match (&cfg.readers.card, &cfg.readers.old, &cfg.readers.new) {
            (Some(r), _, _) => (selector(r), None),
            (None, Some(o), Some(n)) => (selector(o), Some(selector(n))),
            _ => (ReaderSelector::Index(0), None),
        },
    };
    let (keys, sam_reader) = if c.keys.is_some() || c.sam_reader.is_some() {
        (c.keys.clone(), c.sam_reader.clone())
    } else {
        (cfg.keys.clone(), cfg.readers.psam.as_deref().map(selector))
    };
    let journal = cfg.journal_path(c.journal.as_deref());
    let operator = c
        .operator
        .clone()
        .or_else(|| cfg.operator.clone())
        .or_else(|| std::env::var("USER").ok());
    let lang = lang.or(cfg.language);
    Settings {
        old,
        new,
        keys,
        sam_reader,
        journal,
        operator,
        terminal: c.terminal.clone().or_else(|| cfg.terminal.clone()),
        timeout: Duration::from_secs_f64(c.timeout.or(cfg.timeout).unwrap_or(120.0).max(0.0)),
        retries: c.retries.or(cfg.retries),
        lang: lang.unwrap_or_else(Lang::from_env),
        lang_explicit: lang.is_some(),
        ui: c.ui.or(cfg.ui).unwrap_or_default(),
        dump: c.dump.clone(),
        config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;
    use clap::Parser;

    fn common(args: &[&str]) -> Common {
        #[derive(clap::Parser)]
        struct T {
            #[command(flatten)]
            c: Common,
        }
        let mut v = vec!["t"];
        v.extend(args);
        T::parse_from(v).c
    }

    #[test]
    fn flags_win_over_the_configuration() {
        let cfg = config::parse(
            std::path::Path::new("/etc/sscard/sscard.toml"),
            "language = \"zh\"\noperator = \"desk-1\"\nterminal = \"639900000009\"\ntimeout = 30\n\
             journal = \"/var/j.sqlite\"\n[readers]\nold = \"A\"\nnew = \"B\"\npsam = \"SAM\"",
        )
        .unwrap();
        let s = settings(
            &common(&["--config", "none"]),
            None,
            &cfg,
            ConfigSeen::WithoutKeys,
        );
        assert_eq!(s.old, ReaderSelector::Name("A".into()));
        assert_eq!(s.new, Some(ReaderSelector::Name("B".into())));
        assert_eq!(s.sam_reader, Some(ReaderSelector::Name("SAM".into())));
        assert_eq!(s.operator.as_deref(), Some("desk-1"));
        assert_eq!(s.terminal.as_deref(), Some("639900000009"));
        assert_eq!(s.timeout, Duration::from_secs(30));
        assert_eq!((s.lang, s.lang_explicit), (Lang::Zh, true));
        let s = settings(
            &common(&[
                "--reader",
                "0",
                "--keys",
                "k",
                "--operator",
                "me",
                "--terminal",
                "639900000001",
                "--timeout",
                "5",
                "--ui",
                "plain",
                "--journal",
                "/j",
            ]),
            Some(Lang::En),
            &cfg,
            ConfigSeen::WithoutKeys,
        );
        assert_eq!((s.old, s.new), (ReaderSelector::Index(0), None));
        assert_eq!((s.keys, s.sam_reader), (Some(PathBuf::from("k")), None));
        assert_eq!(s.operator.as_deref(), Some("me"));
        assert_eq!(s.terminal.as_deref(), Some("639900000001"));
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!((s.lang, s.ui), (Lang::En, UiMode::Plain));
        assert_eq!(s.journal, PathBuf::from("/j"));
    }
}
