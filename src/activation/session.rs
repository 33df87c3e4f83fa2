//! One connected card during a flow: its channel, profile, navigation and keys, and
//! the field writes the flows make by *role* (never by tag: the profile says where).
//!
//! Writes are UPDATE RECORD of a whole `tag len value` record by SFI and tag, after
//! EXTERNAL AUTHENTICATE with the file's write key in the file's DF. Each write is
//! atomic on the card (spec/cards.md §1.3), so a flow is a sequence of single-record
//! steps whose order alone guarantees the invariants of spec/activation.md.

use super::error::ActivationError;
use crate::apdu::catalogue::{self, EfRef, RecordRef};
use crate::apdu::{Channel, Status};
use crate::card::auth;
use crate::card::fields::{enter_file, read_field};
use crate::card::{CardError, Nav, Selection};
use crate::crypto::Algorithm;
use crate::profile::{Profile, Value};
use crate::sam::{KeyApp, Sam};

/// A card in a flow.
pub struct Session<'p> {
    /// The channel to the card.
    pub ch: Channel<'static>,
    /// The card's profile.
    pub profile: &'p Profile,
    /// Which DF is current.
    pub nav: Nav<'p>,
    /// Key algorithm.
    pub alg: Algorithm,
    /// Key diversification data.
    pub diversifier: [u8; 8],
    /// The DF whose keys were last authenticated (cleared by any DF change).
    authenticated: Option<(String, u8)>,
    /// Fields read when the card was opened and not yet handed to the flow (each is
    /// used once; a later read of the role goes to the card).
    pub cache: crate::card::Fields,
}

impl<'p> Session<'p> {
    /// A session continuing after reading the card (which left `current_df` current).
    pub fn new(
        ch: Channel<'static>,
        profile: &'p Profile,
        current_df: Option<&str>,
        alg: Algorithm,
        diversifier: [u8; 8],
    ) -> Self {
        let nav = match current_df {
            Some(df) => Nav::after(
                profile,
                &Selection {
                    df: df.to_string(),
                    fci: Vec::new(),
                },
            ),
            None => Nav::new(profile),
        };
        Session {
            ch,
            profile,
            nav,
            alg,
            diversifier,
            authenticated: None,
            cache: crate::card::Fields::default(),
        }
    }

    /// A session continuing with navigation state `nav`; the algorithm and
    /// diversifier are set once the card's identity has been read.
    pub fn with_nav(ch: Channel<'static>, profile: &'p Profile, nav: Nav<'p>) -> Self {
        Session {
            ch,
            profile,
            nav,
            alg: Algorithm::Tdes,
            diversifier: [0; 8],
            authenticated: None,
            cache: crate::card::Fields::default(),
        }
    }

    fn key_app(&self) -> Result<KeyApp, ActivationError> {
        self.profile.key_app().ok_or_else(|| {
            ActivationError::Card(CardError::invalid(
                format!("profile {}", self.profile.name),
                "names no key family (key_app)",
            ))
        })
    }

    /// Makes `df` current (forgetting authentication when it changes).
    pub fn enter(&mut self, df: &str) -> Result<(), ActivationError> {
        if self.nav.current() != Some(df) {
            self.authenticated = None;
        }
        self.nav.enter(&mut self.ch, df)?;
        Ok(())
    }

    /// EXTERNAL AUTHENTICATE with the key of role `key_role`, in that key's DF.
    pub fn authenticate(
        &mut self,
        key_role: &str,
        sam: &mut dyn Sam,
    ) -> Result<(), ActivationError> {
        let key = self.profile.key(key_role)?.clone();
        self.enter(&key.df)?;
        if self.authenticated.as_ref() == Some(&(key.df.clone(), key.id)) {
            return Ok(());
        }
        let app = self.key_app()?;
        let context = key.label.clone().unwrap_or_else(|| key_role.to_string());
        auth::external_authenticate(
            &mut self.ch,
            app,
            key.id,
            self.alg,
            &self.diversifier,
            sam,
            &context,
        )?;
        self.authenticated = Some((key.df, key.id));
        Ok(())
    }

    /// Writes the field `role` (its file's write key must be authenticated).
    pub fn write(
        &mut self,
        role: &str,
        value: &Value,
        sam: &mut dyn Sam,
    ) -> Result<(), ActivationError> {
        let field = self.profile.field(role)?.clone();
        let file = self.profile.file(&field.file)?.clone();
        if let Some(key) = &file.write_key {
            self.authenticate(key, sam)?;
        }
        enter_file(&mut self.ch, &mut self.nav, &file)?;
        let record = field
            .encode(value)
            .map_err(|e| CardError::field(file.label(), e))?;
        let tag = field.tag.unwrap_or(0);
        let ef = file.sfi.map_or(EfRef::Current, EfRef::Sfi);
        let cmd = catalogue::update_record(ef, RecordRef::Tag(tag), &record);
        let mut r = self.ch.send(&cmd)?;
        if r.status == Status::SecurityNotSatisfied && self.authenticated.is_some() {
            // The card lost its security state behind our back (another application
            // reset it): authenticate again and retry the same whole-record write.
            self.authenticated = None;
            if let Some(key) = &file.write_key {
                self.authenticate(key, sam)?;
            }
            r = self.ch.send(&cmd)?;
        }
        if !r.is_success() {
            return Err(CardError::status(
                format!("writing {} ({})", field.label, field.where_text()),
                r.status,
            )
            .into());
        }
        Ok(())
    }

    /// Writes the field `role` with exactly one UPDATE RECORD: the file's write key
    /// must have been authenticated in its DF (the protocol core asks for that first);
    /// a refusal (`6982`, ...) is returned, never retried.
    ///
    /// # Errors
    /// [`CardError::Status`] when the card refuses, [`CardError::InvalidData`] when
    /// the value does not fit the field.
    pub fn write_exact(&mut self, role: &str, value: &Value) -> Result<(), ActivationError> {
        let field = self.profile.field(role)?.clone();
        let file = self.profile.file(&field.file)?.clone();
        if self.nav.current() != Some(file.df.as_str()) {
            self.authenticated = None;
        }
        enter_file(&mut self.ch, &mut self.nav, &file)?;
        let record = field
            .encode(value)
            .map_err(|e| CardError::field(file.label(), e))?;
        let tag = field.tag.unwrap_or(0);
        let ef = file.sfi.map_or(EfRef::Current, EfRef::Sfi);
        let r = self
            .ch
            .send(&catalogue::update_record(ef, RecordRef::Tag(tag), &record))?;
        if !r.is_success() {
            return Err(CardError::status(
                format!("writing {} ({})", field.label, field.where_text()),
                r.status,
            )
            .into());
        }
        Ok(())
    }

    /// APPEND RECORD to the cyclic file `file_id` with exactly one APDU (its write key
    /// authenticated first by the caller).
    ///
    /// # Errors
    /// [`CardError::Status`] when the card refuses.
    pub fn append_exact(&mut self, file_id: &str, record: &[u8]) -> Result<(), ActivationError> {
        let file = self.profile.file(file_id)?.clone();
        self.enter(&file.df)?;
        let sfi = file.sfi.ok_or_else(|| {
            CardError::invalid(file.label(), "APPEND RECORD needs an SFI in the profile")
        })?;
        let r = self.ch.send(&catalogue::append_record(sfi, record))?;
        if !r.is_success() {
            return Err(
                CardError::status(format!("appending to {}", file.label()), r.status).into(),
            );
        }
        Ok(())
    }

    /// Reads the field `role` back.
    pub fn read(&mut self, role: &str) -> Result<Value, ActivationError> {
        let field = self.profile.field(role)?.clone();
        let file = self.profile.file(&field.file)?.clone();
        enter_file(&mut self.ch, &mut self.nav, &file)?;
        match read_field(&mut self.ch, &file, &field, None)? {
            Some(f) => Ok(f.value),
            None => Err(CardError::invalid(field.label.clone(), "record missing").into()),
        }
    }

    /// The one-byte code named `name` of field `role` (`status`, `"migrating"`).
    pub fn code(&self, role: &str, name: &str) -> Result<u8, ActivationError> {
        Ok(self
            .profile
            .field(role)?
            .code(name)
            .map_err(|e| CardError::field(self.profile.name.clone(), e))?)
    }

    /// The symbolic name of a code of field `role`.
    pub fn code_name(&self, role: &str, code: u8) -> String {
        self.profile
            .field(role)
            .ok()
            .and_then(|f| f.code_name(code))
            .map_or_else(|| format!("{code:02X}"), str::to_string)
    }

    /// APPEND RECORD to the cyclic file `file_id` (its write key authenticated first).
    pub fn append(
        &mut self,
        file_id: &str,
        record: &[u8],
        sam: &mut dyn Sam,
    ) -> Result<(), ActivationError> {
        let file = self.profile.file(file_id)?.clone();
        if let Some(key) = &file.write_key {
            self.authenticate(key, sam)?;
        }
        self.enter(&file.df)?;
        let sfi = file.sfi.ok_or_else(|| {
            CardError::invalid(file.label(), "APPEND RECORD needs an SFI in the profile")
        })?;
        let r = self.ch.send(&catalogue::append_record(sfi, record))?;
        if !r.is_success() {
            return Err(
                CardError::status(format!("appending to {}", file.label()), r.status).into(),
            );
        }
        Ok(())
    }

    /// Reads record `n` of file `file_id` (raw bytes; `None` when absent).
    pub fn read_record(
        &mut self,
        file_id: &str,
        n: u8,
    ) -> Result<Option<Vec<u8>>, ActivationError> {
        let file = self.profile.file(file_id)?.clone();
        self.enter(&file.df)?;
        let ef = file.sfi.map_or(EfRef::Current, EfRef::Sfi);
        let le = file.record_size.unwrap_or(256);
        let r = self
            .ch
            .send(&catalogue::read_record(ef, RecordRef::Number(n), le))?;
        match r.status {
            Status::Success => Ok(Some(r.data.clone())),
            Status::RecordNotFound => Ok(None),
            s => Err(CardError::status(format!("reading {} record {n}", file.label()), s).into()),
        }
    }

    /// VERIFY without data: the PIN tries left, where the card tells (`63Cx`).
    pub fn pin_tries_left(&mut self) -> Result<Option<u8>, ActivationError> {
        let r = self
            .ch
            .send(&crate::apdu::Command::new(0x00, 0x20, 0x00, 0x00))?;
        Ok(match r.status {
            Status::TriesLeft(n) => Some(n),
            Status::AuthBlocked => Some(0),
            _ => None,
        })
    }

    /// VERIFY with a PIN.
    pub fn verify_pin(&mut self, pin: &crate::secret::Pin) -> Result<Status, ActivationError> {
        Ok(self.ch.send(&catalogue::verify(pin))?.status)
    }

    /// RELOAD PIN after EXTERNAL AUTHENTICATE with the `pin_reload` key.
    pub fn reload_pin(
        &mut self,
        pin: &crate::secret::Pin,
        sam: &mut dyn Sam,
    ) -> Result<(), ActivationError> {
        self.authenticate("pin_reload", sam)?;
        let r = self.ch.send(&catalogue::reload_pin(pin))?;
        if !r.is_success() {
            return Err(CardError::status("RELOAD PIN", r.status).into());
        }
        Ok(())
    }
}
