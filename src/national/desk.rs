//! The national functions at a desk: reader, PSAM and keys from the desk
//! configuration, one call = one connection and one PC/SC transaction.
//!
//! Why here and not in each front end: the C library (`libsscard.so`, ffi/) and the
//! loopback service both answer the same five functions (and first use,
//! [`super::first_use`]) with the same codes, and a
//! calling program has no flags, so everything a call needs comes from the same file
//! the command line reads (`$SSCARD_CONFIG`, else /etc/sscard/sscard.toml;
//! [`crate::config`]) and, like `sscard info`, `$SSCARD_DEVICE_ID` for the device
//! number. The configuration is read at every call, so a desk edits its file without
//! restarting the HIS.
//!
//! [`National`] is not shared between threads by itself: a front end keeps one behind
//! a mutex (the C library holds one global `Mutex<National>`; with one card reader
//! configured per desk that is a mutex per reader), which also keeps an HSM session
//! (Step1 → Step2) from being interleaved with another call.

use super::error::{Failure, NationalError};
use super::line::{HsmKey, NO_TERMINAL};
use super::pin::{FilePad, PinPad, TerminalPad};
use super::read::{self, Step1State};
use crate::apdu::Channel;
use crate::card::nav::{Nav, Selection};
use crate::config::Config;
use crate::profile::Profiles;
use crate::reader::{establish, list_readers, ConnectOptions, PcscCard, ReaderSelector};
use crate::sam::keyfile::KeyFile;
use crate::sam::psam::Psam;
use crate::sam::Sam;
use std::path::PathBuf;

/// The device number when none is configured (as `sscard info --device-id`).
pub const DEFAULT_DEVICE_ID: &str = "00000000";

/// The card interface a call asks for (`iType`, national-interface.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IType {
    /// 1: contact.
    Contact,
    /// 2: contactless.
    Contactless,
    /// 3: automatic, contact first.
    AutoContactFirst,
    /// 4: automatic, contactless first.
    AutoContactlessFirst,
}

impl IType {
    /// The interface for an `iType` value.
    ///
    /// # Errors
    /// −14 for a value outside 1–4.
    pub fn from_int(v: i32) -> Result<IType, Failure> {
        match v {
            1 => Ok(IType::Contact),
            2 => Ok(IType::Contactless),
            3 => Ok(IType::AutoContactFirst),
            4 => Ok(IType::AutoContactlessFirst),
            _ => Err(Failure::new(
                NationalError::BadParameter,
                format!("iType {v} is none of 1 (contact), 2 (contactless), 3, 4 (automatic)"),
            )),
        }
    }

    /// A contact-only desk serves 1, 3 and 4 through the contact reader and refuses 2
    /// with −1 (§1).
    fn check(self) -> Result<(), Failure> {
        match self {
            IType::Contactless => Err(Failure::new(
                NationalError::WrongCard,
                "this desk has no contactless reader (iType 2)",
            )),
            _ => Ok(()),
        }
    }
}

/// Where the PIN comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinSource {
    /// The controlling terminal, echo off.
    Terminal,
    /// A file, one PIN per line in prompt order (owner-only; automation, tests).
    File(PathBuf),
}

/// What a call needs from the desk configuration and environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The card's reader (`readers.card`, else `readers.new`); `None`: the first
    /// reader with a card, other than the PSAM's.
    pub reader: Option<String>,
    /// The PSAM's reader (`readers.psam`).
    pub psam_reader: Option<String>,
    /// A lab key file instead of a PSAM (`keys`).
    pub keys: Option<PathBuf>,
    /// Terminal number when the SAM has none (`terminal`).
    pub terminal: Option<String>,
    /// Device number (`$SSCARD_DEVICE_ID`, else [`DEFAULT_DEVICE_ID`]).
    pub device_id: String,
    /// The PIN device (`$SSCARD_PIN_FILE`, else the terminal).
    pub pin: PinSource,
    /// The desk's activation journal, resolved as `sscard activate` resolves it
    /// (`$SSCARD_JOURNAL`, else `journal` in the configuration, else
    /// [`crate::activation::journal::default_path`]): first use driven by the HIS
    /// writes the same journal as the desk's command line.
    pub journal: PathBuf,
    /// The operator the journal records (`operator`, else `$USER`, else `unknown`).
    pub operator: String,
}

impl Settings {
    /// Settings from a configuration (or none) and an environment lookup.
    ///
    /// # Errors
    /// −5 for a device id that cannot go into the line (`|`, control characters, more
    /// than 32 bytes).
    pub fn from_config(
        config: Option<&Config>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Settings, Failure> {
        let c = config.cloned().unwrap_or_default();
        let device_id = env("SSCARD_DEVICE_ID")
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| DEFAULT_DEVICE_ID.to_string());
        if device_id.len() > 32 || device_id.chars().any(|ch| ch == '|' || ch.is_control()) {
            return Err(Failure::new(
                NationalError::LoadFailure,
                "SSCARD_DEVICE_ID: at most 32 bytes, no '|' and no control characters",
            ));
        }
        let journal = env("SSCARD_JOURNAL")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| c.journal.clone())
            .unwrap_or_else(crate::activation::journal::default_path);
        let operator = c
            .operator
            .clone()
            .or_else(|| env("USER").filter(|v| !v.is_empty()))
            .unwrap_or_else(|| "unknown".into());
        Ok(Settings {
            journal,
            operator,
            reader: c.readers.card.or(c.readers.new),
            psam_reader: c.readers.psam,
            keys: c.keys,
            terminal: c.terminal,
            device_id,
            pin: match env("SSCARD_PIN_FILE").filter(|v| !v.is_empty()) {
                Some(p) => PinSource::File(PathBuf::from(p)),
                None => PinSource::Terminal,
            },
        })
    }

    /// The settings of this process's environment: the configuration `$SSCARD_CONFIG`
    /// names (as the command line's `--config`), else the default file if present.
    ///
    /// # Errors
    /// −5 when the configuration cannot be read or is invalid.
    pub fn from_environment() -> Result<Settings, Failure> {
        let named = std::env::var_os("SSCARD_CONFIG").map(PathBuf::from);
        let loaded = crate::config::load(named.as_deref())
            .map_err(|e| Failure::new(NationalError::LoadFailure, e.to_string()))?;
        Settings::from_config(loaded.as_ref().map(|l| &l.config), |k| {
            std::env::var(k).ok()
        })
    }
}

/// The card connection an HSM Step1 leaves for Step2.
struct HsmSession {
    card: PcscCard,
    state: Step1State,
    profile: String,
    df: String,
}

/// Where a [`National`]'s settings come from.
#[derive(Debug, Clone)]
enum SettingsFrom {
    Environment,
    Fixed(Box<Settings>),
}

/// The national functions of one desk. See the module documentation.
pub struct National {
    settings: SettingsFrom,
    profiles: Profiles,
    hsm: Option<HsmSession>,
    /// APDUs the last call exchanged with the card (GET RESPONSE included).
    pub last_apdus: u64,
    /// Bytes the last call exchanged with the card (commands and responses, SW
    /// included), as `sscard info --stats` counts them.
    pub last_bytes: u64,
}

/// What the SAM of a call is.
enum SamChoice {
    None,
    Keys(KeyFile),
    Psam(Box<Psam<'static>>),
}

impl SamChoice {
    fn get(&mut self) -> Option<&mut dyn Sam> {
        match self {
            SamChoice::None => None,
            SamChoice::Keys(k) => Some(k),
            SamChoice::Psam(p) => Some(p.as_mut()),
        }
    }

    fn terminal(&mut self) -> Option<String> {
        self.get().and_then(|s| s.terminal_number())
    }
}

impl National {
    /// Functions whose settings come from the environment at every call.
    ///
    /// # Errors
    /// −5 when the built-in card profiles do not load (a broken build).
    pub fn from_environment() -> Result<National, Failure> {
        National::build(SettingsFrom::Environment)
    }

    /// Functions with fixed settings (tests, a service that read its own
    /// configuration).
    ///
    /// # Errors
    /// As [`National::from_environment`].
    pub fn with_settings(settings: Settings) -> Result<National, Failure> {
        National::build(SettingsFrom::Fixed(Box::new(settings)))
    }

    fn build(settings: SettingsFrom) -> Result<National, Failure> {
        let profiles = Profiles::builtin()
            .map_err(|e| Failure::new(NationalError::LoadFailure, e.to_string()))?;
        Ok(National {
            settings,
            profiles,
            hsm: None,
            last_apdus: 0,
            last_bytes: 0,
        })
    }

    fn settings(&self) -> Result<Settings, Failure> {
        match &self.settings {
            SettingsFrom::Environment => Settings::from_environment(),
            SettingsFrom::Fixed(s) => Ok((**s).clone()),
        }
    }

    /// The card's reader of `s`: the configured one, else the first reader with a card
    /// other than the PSAM's.
    pub(super) fn card_reader(s: &Settings) -> Result<crate::reader::ReaderName, Failure> {
        let ctx = establish()?;
        let readers = list_readers(&ctx)?;
        Ok(match &s.reader {
            Some(text) => text
                .parse::<ReaderSelector>()
                .map_err(|e| Failure::new(NationalError::Reader, format!("readers.card: {e}")))?
                .pick(&readers)?
                .name
                .clone(),
            None => {
                let psam = match &s.psam_reader {
                    Some(t) => t
                        .parse::<ReaderSelector>()
                        .ok()
                        .and_then(|sel| sel.pick(&readers).ok().map(|r| r.name.clone())),
                    None => None,
                };
                let others: Vec<_> = readers
                    .iter()
                    .filter(|r| Some(&r.name) != psam.as_ref())
                    .cloned()
                    .collect();
                ReaderSelector::Auto.pick(&others)?.name.clone()
            }
        })
    }

    fn connect(s: &Settings) -> Result<PcscCard, Failure> {
        let name = Self::card_reader(s)?;
        Ok(PcscCard::connect_with(
            establish()?,
            &name,
            ConnectOptions::default(),
        )?)
    }

    fn open_sam(s: &Settings) -> Result<SamChoice, Failure> {
        if let Some(path) = &s.keys {
            return KeyFile::load(path)
                .map(SamChoice::Keys)
                .map_err(|e| Failure::new(NationalError::NoPsam, e.to_string()));
        }
        match &s.psam_reader {
            Some(text) => {
                let sel = text.parse::<ReaderSelector>().map_err(|e| {
                    Failure::new(NationalError::NoPsam, format!("readers.psam: {e}"))
                })?;
                Ok(SamChoice::Psam(Box::new(Psam::open_in_reader(&sel)?)))
            }
            None => Ok(SamChoice::None),
        }
    }

    /// Runs `f` on a channel to the card inside one transaction; counts its APDUs.
    fn on_card<R>(
        &mut self,
        card: &mut PcscCard,
        f: impl FnOnce(&mut Channel<'_>, &Profiles) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let tx = card.transaction()?;
        let mut ch = Channel::new(Box::new(tx));
        let r = f(&mut ch, &self.profiles);
        self.last_apdus = ch.apdu_count();
        self.last_bytes = ch.byte_count();
        r
    }

    /// `iReadCardBas`: the basic line (11 fields, each followed by `|`).
    ///
    /// # Errors
    /// The national codes; see [`NationalError`].
    pub fn read_card_bas(&mut self, itype: i32) -> Result<String, Failure> {
        self.hsm = None;
        self.last_apdus = 0;
        self.last_bytes = 0;
        IType::from_int(itype)?.check()?;
        let s = self.settings()?;
        let mut card = Self::connect(&s)?;
        let mut sam = Self::open_sam(&s)?;
        let terminal = sam
            .terminal()
            .or_else(|| s.terminal.clone())
            .unwrap_or_else(|| NO_TERMINAL.to_string());
        self.on_card(&mut card, |ch, profiles| {
            let (profile, mut nav) = read::open_ssc(ch, profiles)?;
            let part = read::read_card_part(ch, &mut nav, profile)?;
            read::open_holder(ch, &mut nav, profile, &part, sam.get())?;
            let holder = read::read_holder(ch, &mut nav, profile, &part)?;
            Ok(part.basic(holder, &terminal, &s.device_id).line())
        })
    }

    /// `iReadCardBas_HSM_Step1`: the factors for the back office's encryption machine.
    /// The card stays connected, untouched, for [`National::hsm_step2`]; any other
    /// call in between ends the session.
    ///
    /// # Errors
    /// −2204 for a card that needs no HSM; the national codes otherwise.
    pub fn hsm_step1(&mut self, itype: i32) -> Result<String, Failure> {
        self.hsm = None;
        self.last_apdus = 0;
        self.last_bytes = 0;
        IType::from_int(itype)?.check()?;
        let s = self.settings()?;
        let mut card = Self::connect(&s)?;
        let (info, state, profile, df) = self.on_card(&mut card, |ch, profiles| {
            let (profile, mut nav) = read::open_ssc(ch, profiles)?;
            let (info, state) = read::hsm_step1(ch, &mut nav, profile, &s.device_id)?;
            let df = nav.current().unwrap_or_default().to_string();
            Ok((info, state, profile.name.clone(), df))
        })?;
        self.hsm = Some(HsmSession {
            card,
            state,
            profile,
            df,
        });
        Ok(info.line())
    }

    /// `iReadCardBas_HSM_Step2`: takes the back office's `pKey`, finishes the read and
    /// returns the basic line.
    ///
    /// # Errors
    /// −14 without a Step1 session or for a malformed `pKey`; −25 when the HSM's
    /// internal authentication differs from the card's; the card's refusal of the
    /// cryptogram as its status word.
    pub fn hsm_step2(&mut self, pkey: &str) -> Result<String, Failure> {
        self.last_apdus = 0;
        self.last_bytes = 0;
        let Some(mut session) = self.hsm.take() else {
            return Err(Failure::new(
                NationalError::BadParameter,
                "no HSM session: call iReadCardBas_HSM_Step1 first",
            ));
        };
        let key = HsmKey::parse(pkey, session.state.card.alg)?;
        let s = self.settings()?;
        let mut sam = Self::open_sam(&s).unwrap_or(SamChoice::None);
        let terminal = sam
            .terminal()
            .or_else(|| s.terminal.clone())
            .unwrap_or_else(|| NO_TERMINAL.to_string());
        let state = session.state.clone();
        let (pname, df) = (session.profile.clone(), session.df.clone());
        self.on_card(&mut session.card, |ch, profiles| {
            let profile = profiles.get(&pname).ok_or_else(|| {
                Failure::new(
                    NationalError::InvalidData,
                    format!("profile {pname} vanished"),
                )
            })?;
            let mut nav = Nav::after(
                profile,
                &Selection {
                    df,
                    fci: Vec::new(),
                },
            );
            let holder = read::hsm_step2(ch, &mut nav, profile, &state, &key)?;
            Ok(state.card.basic(holder, &terminal, &s.device_id).line())
        })
    }

    /// `iVerifyPIN`: the holder enters the PIN on the desk's PIN device.
    ///
    /// # Errors
    /// See [`super::pin::verify_pin`].
    pub fn verify_pin(&mut self, itype: i32) -> Result<(), Failure> {
        self.pin_call(itype, super::pin::verify_pin)
    }

    /// `iChangePIN`: the current PIN, then the new one twice, on the PIN device.
    ///
    /// # Errors
    /// See [`super::pin::change_pin`].
    pub fn change_pin(&mut self, itype: i32) -> Result<(), Failure> {
        self.pin_call(itype, super::pin::change_pin)
    }

    /// First use driven by the HIS (`iActivateCard_FirstUse`; spec/activation.md,
    /// "Window and first-use flows"): activates the card in the desk's reader through
    /// the activation core and the desk's journal, then reads its basic line.
    ///
    /// # Errors
    /// See [`super::first_use::first_use`].
    pub fn first_use(
        &mut self,
        itype: i32,
        verify_pin: bool,
    ) -> Result<super::first_use::Activated, Failure> {
        self.hsm = None;
        self.last_apdus = 0;
        self.last_bytes = 0;
        IType::from_int(itype)?.check()?;
        let s = self.settings()?;
        let mut boxed: Option<Box<dyn PinPad>> = match (verify_pin, &s.pin) {
            (false, _) => None,
            (true, PinSource::File(p)) => Some(Box::new(FilePad::load(p)?)),
            (true, PinSource::Terminal) => Some(Box::new(TerminalPad)),
        };
        // Coerced one by one: `Option` does not shorten the trait object's lifetime.
        let pad = boxed.as_mut().map(|p| {
            let p: &mut dyn PinPad = p.as_mut();
            p
        });
        let mut done = super::first_use::first_use(&s, &self.profiles, pad)?;
        done.line = self.read_card_bas(itype).map_err(|f| {
            Failure::new(
                f.error,
                format!(
                    "the card was activated (journal {}), but its basic line could not be read: {}",
                    done.receipt.transfer_id, f.detail
                ),
            )
        })?;
        Ok(done)
    }

    fn pin_call(
        &mut self,
        itype: i32,
        f: fn(&mut Channel<'_>, &Profiles, &mut dyn PinPad) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        self.hsm = None;
        self.last_apdus = 0;
        self.last_bytes = 0;
        IType::from_int(itype)?.check()?;
        let s = self.settings()?;
        let mut pad: Box<dyn PinPad> = match &s.pin {
            PinSource::File(p) => Box::new(FilePad::load(p)?),
            PinSource::Terminal => Box::new(TerminalPad),
        };
        let mut card = Self::connect(&s)?;
        self.on_card(&mut card, |ch, profiles| f(ch, profiles, pad.as_mut()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itypes() {
        assert!(IType::from_int(1).unwrap().check().is_ok());
        assert!(IType::from_int(3).unwrap().check().is_ok());
        assert!(IType::from_int(4).unwrap().check().is_ok());
        assert_eq!(IType::from_int(2).unwrap().check().unwrap_err().code(), -1);
        for bad in [0, 5, -1, i32::MIN, i32::MAX] {
            assert_eq!(IType::from_int(bad).unwrap_err().code(), -14);
        }
    }

    #[test]
    fn settings_from_the_configuration() {
        let c = crate::config::parse(
            std::path::Path::new("/etc/sscard/sscard.toml"),
            "terminal = \"639900000001\"\nkeys = \"k.txt\"\n[readers]\ncard = \"PCD 00 00\"\n",
        )
        .unwrap();
        let s = Settings::from_config(Some(&c), |k| {
            (k == "SSCARD_DEVICE_ID").then(|| "VPCD0000".to_string())
        })
        .unwrap();
        assert_eq!(s.reader.as_deref(), Some("PCD 00 00"));
        assert_eq!(s.keys, Some(PathBuf::from("/etc/sscard/k.txt")));
        assert_eq!(s.terminal.as_deref(), Some("639900000001"));
        assert_eq!(s.device_id, "VPCD0000");
        assert_eq!(s.pin, PinSource::Terminal);
        let s = Settings::from_config(None, |_| None).unwrap();
        assert_eq!(s.device_id, DEFAULT_DEVICE_ID);
        assert_eq!(s.reader, None);
        let e = Settings::from_config(None, |k| (k == "SSCARD_DEVICE_ID").then(|| "a|b".into()))
            .unwrap_err();
        assert_eq!(e.code(), -5);
    }
}
