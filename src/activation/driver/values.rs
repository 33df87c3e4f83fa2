//! Values between the profile's encodings and the core's typed fields.

use super::*;

/// A role's value: from what the open read (first read of a session), else from the
/// card.
pub(super) fn read_value(
    cx: &mut Context<'_>,
    card: &mut Card<'_>,
    role: Role,
) -> Result<FieldValue, ActivationError> {
    let _ = cx;
    let s = &mut card.session;
    let profile = s.profile;
    if role == Role::Ssc(SscRole::LastLog) {
        let rec = s.read_record("medical_log", 1)?;
        let head = match rec {
            Some(bytes) => LogRecord::decode(&bytes)
                .map_err(|e| CardError::invalid("medical log record 1", e))?
                .map(|r| LogHead {
                    kind: r.kind,
                    prefix: r.transfer_prefix,
                }),
            None => None,
        };
        return Ok(FieldValue::LastLog(head));
    }
    if role == Role::Ssc(SscRole::Name) {
        let base = take_cached(s, "name")?;
        let ext = if profile
            .field("name_ext")
            .map(|f| f.in_generation(card.generation.as_deref()))
            .unwrap_or(false)
        {
            take_cached(s, "name_ext")?
        } else {
            Value::Text(String::new())
        };
        let t = |v: Value| v.as_text().map(str::to_string).unwrap_or_default();
        return Ok(FieldValue::Text(format!("{}{}", t(base), t(ext))));
    }
    let v = match role {
        Role::City(_) => match s.cache.take(role.name()) {
            Some(v) => v,
            None => read_old_role(s, role.name())?,
        },
        Role::Ssc(_) => take_cached(s, role.name())?,
    };
    from_profile_value(profile, role, v)
}

/// The cached value of `role` from the open (each used once: a later read of the same
/// role goes to the card, e.g. a read-back), else a READ RECORD.
pub(super) fn take_cached(s: &mut Session<'_>, role: &str) -> Result<Value, ActivationError> {
    if let Some(f) = s.cache.take(role) {
        return Ok(f);
    }
    s.read(role)
}

pub(super) fn from_profile_value(
    profile: &Profile,
    role: Role,
    v: Value,
) -> Result<FieldValue, ActivationError> {
    let bad = || {
        ActivationError::Card(CardError::invalid(
            format!("field '{}'", role.name()),
            "the profile gives it an encoding the flow cannot use",
        ))
    };
    let code_name = |code: u8| {
        profile
            .field("status")
            .ok()
            .and_then(|f| f.code_name(code))
            .unwrap_or("")
            .to_string()
    };
    Ok(match (role, v) {
        (Role::City(CityRole::Status), Value::Code(c)) => {
            FieldValue::CityStatus(CityStatus::from_name(&code_name(c), c))
        }
        (Role::Ssc(SscRole::Status), Value::Code(c)) => {
            FieldValue::SscStatus(SscStatus::from_name(&code_name(c), c))
        }
        (Role::City(CityRole::TransferId) | Role::Ssc(SscRole::TransferId), Value::Bytes(b)) => {
            let raw: [u8; 16] = b.as_slice().try_into().map_err(|_| bad())?;
            FieldValue::TransferId(crate::card::TransferId::from_card(raw).map(|t| TransferId(t.0)))
        }
        (Role::Ssc(SscRole::TransferFloor), Value::Bytes(b)) => {
            FieldValue::Floor(crate::card::Floor::decode(&b)?.map(|f| core::Floor {
                old_card: f.old_card,
                counter: f.counter,
            }))
        }
        (_, Value::Text(t)) => FieldValue::Text(t),
        (_, Value::Digits(t)) => FieldValue::Digits(t),
        (_, Value::Number(n)) => FieldValue::Number(n),
        (_, Value::Date(d)) => FieldValue::Date(d),
        (_, Value::Code(c)) => FieldValue::Code(c),
        (_, Value::Bytes(_)) => return Err(bad()),
    })
}

pub(super) fn to_profile_value(
    profile: &Profile,
    role: Role,
    v: &FieldValue,
) -> Result<Value, ActivationError> {
    let code = |name: &str| -> Result<Value, ActivationError> {
        Ok(Value::Code(
            profile
                .field("status")?
                .code(name)
                .map_err(|e| CardError::field(profile.name.clone(), e))?,
        ))
    };
    Ok(match v {
        FieldValue::Text(t) => Value::Text(t.clone()),
        FieldValue::Digits(t) => Value::Digits(t.clone()),
        FieldValue::Number(n) => Value::Number(*n),
        FieldValue::Date(d) => Value::Date(*d),
        FieldValue::Code(c) => Value::Code(*c),
        FieldValue::CityStatus(s) => code(s.name())?,
        FieldValue::SscStatus(s) => code(s.name())?,
        FieldValue::TransferId(t) => Value::Bytes(t.map_or(vec![0; 16], |t| t.0.to_vec())),
        FieldValue::Floor(f) => Value::Bytes(match f {
            None => vec![0; crate::card::transfer::FLOOR_LEN],
            Some(f) => crate::card::Floor {
                old_card: f.old_card.clone(),
                counter: f.counter,
            }
            .encode()?
            .to_vec(),
        }),
        FieldValue::LastLog(_) => {
            return Err(ActivationError::Inconsistent(Internal::NotAField(
                role.name(),
            )))
        }
    })
}
