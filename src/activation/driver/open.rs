//! Opening a card for the core: the detection's SELECT, then only the records the
//! core asked for (the old card record by record as it asks; the new card's identity,
//! holder file, INTERNAL AUTHENTICATE and medical area with the fewest SELECTs).

use super::*;

/// Opens `which` afresh: in a one-reader desk the other card leaves the reader first
/// (the holder is told to take it out), then the wanted card is waited for.
pub(super) fn open<'p>(
    cx: &mut Context<'p>,
    run: &mut Run<'p>,
    which: Which,
    roles: &[Role],
) -> Result<(), ActivationError> {
    match which {
        Which::Old => run.old = None,
        Which::New => run.new = None,
    }
    if cx.slots.one_reader() {
        let other = match which {
            Which::Old => run.new.take().map(|_| Want::NewCard),
            Which::New => run.old.take().map(|_| Want::OldCard),
        };
        if let Some(w) = other {
            cx.slots.wait_removed(w, cx.desk)?;
        }
    }
    let profiles = cx.profiles;
    let opened = cx.slots.open(want(which), profiles, cx.desk)?;
    let card = match which {
        Which::Old => open_old(opened)?,
        Which::New => open_new(cx, opened, roles)?,
    };
    match which {
        Which::Old => run.old = Some(card),
        Which::New => run.new = Some(card),
    }
    Ok(())
}

/// Refuses a profile (or card) without a record the transfer protocol needs.
pub(super) fn gap(
    profile: &Profile,
    has: impl FnMut(&str) -> bool,
    which: Which,
) -> Result<(), ActivationError> {
    if let Some(record) = LayoutRecord::missing(profile.kind, has) {
        return Err(ActivationError::Refused(DeskRefusal::OldLayout(
            OldLayout {
                which,
                card: None,
                profile: profile.name.clone(),
                record,
            },
        )));
    }
    Ok(())
}

/// Opens the old card lazily: the detection's SELECT made its DF current, and only
/// the records the core asks for are read, each as it asks (by SFI and tag, one APDU
/// each). The card number is read first in every case: it is the diversifier of the
/// card's write key.
pub(super) fn open_old(opened: Opened<'_>) -> Result<Card<'_>, ActivationError> {
    let Opened {
        profile,
        ch,
        selection,
        ..
    } = opened;
    if profile.kind != crate::profile::Kind::City {
        return Err(CardError::invalid(
            format!("profile {}", profile.name),
            "is not a CITY profile",
        )
        .into());
    }
    gap(profile, |r| profile.field(r).is_ok(), Which::Old)?;
    let nav = match &selection {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut s = Session::with_nav(ch, profile, nav);
    let main_df = profile.file_of("status")?.df.clone();
    let fci_alg = match s.nav.fci(&main_df) {
        Some(fci) => alg_from_fci(profile.df(&main_df)?, fci)?,
        None => None,
    };
    s.alg = fci_alg
        .or(profile.alg.and_then(Algorithm::from_id))
        .ok_or_else(|| {
            CardError::invalid(format!("profile {}", profile.name), "no algorithm (`alg`)")
        })?;
    let mut f = CardFields::default();
    f.extend(read_role(&mut s.ch, &mut s.nav, profile, "card_number")?);
    s.diversifier = diversifier_of(profile, &f)?;
    s.cache = f;
    Ok(Card {
        session: s,
        generation: None,
        genuine: None,
    })
}

/// One record of the old card; a record of the transfer protocol the card lacks is
/// refused with the reason (spec/activation.md), not reported as a card fault.
pub(super) fn read_old_role(s: &mut Session<'_>, role: &str) -> Result<Value, ActivationError> {
    let profile = s.profile;
    let field = profile.field(role)?.clone();
    let file = profile.file(&field.file)?.clone();
    crate::card::fields::enter_file(&mut s.ch, &mut s.nav, &file)?;
    match crate::card::fields::read_field(&mut s.ch, &file, &field, None)? {
        Some(f) => Ok(f.value),
        None => {
            let number = s
                .cache
                .get("card_number")
                .and_then(|f| f.value.as_text().map(str::to_string))
                .unwrap_or_default();
            match LayoutRecord::ALL
                .into_iter()
                .find(|r| r.kind() == crate::profile::Kind::City && r.role() == role)
            {
                Some(record) => Err(ActivationError::Refused(DeskRefusal::OldLayout(
                    OldLayout {
                        which: Which::Old,
                        card: Some(number).filter(|n| !n.is_empty()),
                        profile: profile.name.clone(),
                        record,
                    },
                ))),
                None => Err(CardError::invalid(field.label.clone(), "record missing").into()),
            }
        }
    }
}

/// Which generation an SSC is, as far as a flow needs it: when the SELECT's FCI
/// gives the key algorithm and every generation of the profile with that algorithm
/// agrees on what the flow takes from the generation (the holder file's read key;
/// the name's records, which need the one generation), the spec version record is
/// not read.
pub(super) enum Generation {
    /// Settled without a read: the one generation with the FCI's algorithm, or `None`
    /// when several agree on everything asked.
    Implied(Option<String>, Option<crate::profile::KeySpec>),
    /// The spec version record must be read.
    Read,
}

pub(super) fn implied_generation(
    profile: &Profile,
    fci_alg: Option<Algorithm>,
    holder_file: &str,
    holder: bool,
    name: bool,
) -> Generation {
    let Some(alg) = fci_alg else {
        return Generation::Read;
    };
    let candidates: Vec<&str> = profile
        .generations
        .iter()
        .filter(|g| g.alg == Some(alg.id()))
        .map(|g| g.version.as_str())
        .collect();
    let Some(first) = candidates.first() else {
        return Generation::Read;
    };
    let key = |g: &str| {
        profile
            .read_key(holder_file, Some(g))
            .map(|k| k.role.clone())
    };
    // The name's records depend on the generation: it must be known exactly.
    if name && candidates.len() > 1 {
        return Generation::Read;
    }
    if holder && candidates[1..].iter().any(|g| key(g) != key(first)) {
        return Generation::Read;
    }
    let read_key = if holder {
        profile.read_key(holder_file, Some(first)).cloned()
    } else {
        None
    };
    let unique = (candidates.len() == 1).then(|| first.to_string());
    Generation::Implied(unique, read_key)
}

/// Opens the new card: its identity (identifier, card number, expiry; the spec
/// version only when the FCI's algorithm does not settle what the flow needs from
/// it), the holder file (behind a key on 3.00 cards), INTERNAL AUTHENTICATE while
/// SSSE is current, then the medical area: the fewest SELECTs for what every flow
/// reads. Of the records that not every flow needs (expiry, citizen ID, name,
/// account, category), only those in `roles` (what the core asked for) are read.
pub(super) fn open_new<'p>(
    cx: &mut Context<'_>,
    opened: Opened<'p>,
    roles: &[Role],
) -> Result<Card<'p>, ActivationError> {
    let Opened {
        profile,
        ch,
        selection,
        ..
    } = opened;
    gap(profile, |r| profile.field(r).is_ok(), Which::New)?;
    let nav = match &selection {
        Some(sel) => Nav::after(profile, sel),
        None => Nav::new(profile),
    };
    let mut s = Session::with_nav(ch, profile, nav);
    let mut f = CardFields::default();
    let wanted = |r: &str| roles.iter().any(|x| x.name() == r);
    let card_df = profile.file_of("card_id")?.df.clone();
    let fci_alg = match s.nav.fci(&card_df) {
        Some(fci) => alg_from_fci(profile.df(&card_df)?, fci)?,
        None => None,
    };
    let holder_file = profile.file_of("citizen_id")?.id.clone();
    let holder = wanted("citizen_id") || wanted("name");
    let gen_role = profile.generation_role.clone();
    let implied = match &gen_role {
        Some(_) => implied_generation(profile, fci_alg, &holder_file, holder, wanted("name")),
        None => Generation::Implied(None, None),
    };
    let (generation, read_key) = match (implied, &gen_role) {
        (Generation::Implied(g, k), _) => (g, k),
        (Generation::Read, Some(role)) => {
            f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
            let g = f.text(role)?;
            let k = profile.read_key(&holder_file, Some(&g)).cloned();
            (Some(g), k)
        }
        (Generation::Read, None) => (None, None),
    };
    for role in ["card_id", "card_number", "expiry_date"] {
        // The expiry only when asked for (a re-inserted N proves itself by number
        // and INTERNAL AUTHENTICATE; its expiry was checked at step 1).
        if role == "expiry_date" && !wanted(role) {
            continue;
        }
        f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
    }
    let gen = generation.as_deref();
    s.alg = fci_alg
        .or_else(|| {
            gen.and_then(|g| profile.generation(g))
                .and_then(|g| g.alg)
                .or(profile.alg)
                .and_then(Algorithm::from_id)
        })
        .ok_or_else(|| CardError::invalid("new card", "no key algorithm (FCI or generation)"))?;
    s.diversifier = diversifier_of(profile, &f)?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid("new card", "no key family in the profile"))?;
    if let Some(key) = read_key.filter(|_| holder) {
        s.enter(&key.df)?;
        auth::external_authenticate(
            &mut s.ch,
            key_app,
            key.id,
            s.alg,
            &s.diversifier,
            cx.sam,
            "opening the holder data",
        )?;
    }
    for role in ["citizen_id", "name", "name_ext"] {
        let asked = wanted(if role == "name_ext" { "name" } else { role });
        let present = asked
            && profile
                .field(role)
                .map(|fl| fl.in_generation(gen))
                .unwrap_or(false);
        if present {
            f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
        }
    }
    let genuine = internal_auth(cx, &mut s)?;
    for role in [
        "account",
        "category",
        "status",
        "balance",
        "transfer_id",
        "transfer_floor",
    ] {
        let optional = matches!(role, "account" | "category");
        if optional && !wanted(role) {
            continue;
        }
        f.extend(read_role(&mut s.ch, &mut s.nav, profile, role)?);
    }
    if f.get("transfer_floor").is_none() {
        return Err(ActivationError::Refused(DeskRefusal::OldLayout(
            OldLayout {
                which: Which::New,
                card: f.text("card_number").ok(),
                profile: profile.name.clone(),
                record: LayoutRecord::TransferFloor,
            },
        )));
    }
    // Issue 13: a card read for the deadline report (never fails the flow).
    cx.journal
        .note_card_read(profile, &f, &cx.terminal, &cx.operator);
    s.cache = f;
    Ok(Card {
        session: s,
        generation,
        genuine: Some(genuine),
    })
}

pub(super) fn internal_auth(
    cx: &mut Context<'_>,
    s: &mut Session<'_>,
) -> Result<bool, ActivationError> {
    let profile = s.profile;
    let key = profile.key("internal_auth")?;
    let key_app = profile
        .key_app()
        .ok_or_else(|| CardError::invalid("new card", "no key family in the profile"))?;
    s.enter(&key.df)?;
    Ok(auth::internal_authenticate(
        &mut s.ch,
        key_app,
        key.id,
        s.alg,
        &s.diversifier,
        cx.sam,
    )?)
}
