//! The centre's schema: versioned SQL files in `migrations/fleet/`, applied in order.
//!
//! Why versioned files rather than `CREATE ... IF NOT EXISTS` at every start: a
//! centre serving thousands of desks is upgraded deliberately, by `sscard fleet init`,
//! and its `fleet.schema_migrations` table says which version it is at. Each
//! migration runs in its own transaction under an advisory lock, so two `init`s at once
//! cannot both apply it, and a failed one leaves the previous version intact.
//! Desk roles are made by [`add_desk`] with a SCRAM verifier computed here, so the
//! password never reaches the server's logs in clear.
//!
//! Roles are cluster-wide and the commands that make them run as a powerful role, so
//! a mistyped or hostile name must not turn an existing role (a group role, the
//! owner, a superuser, another fleet database's desk) into a reader or re-key it:
//! [`add_desk`] and [`add_reporter`] only create, refuse the reserved names and
//! never touch an existing role; [`rekey_desk`] and [`rekey_reporter`] change only
//! the password of a role the fleet made (a login member of its one group, with no
//! administrative attribute, and for a desk, recorded in this centre's `fleet.desks`).

use super::FleetError;

/// The migrations, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "0001_init",
        include_str!("../../migrations/fleet/0001_init.sql"),
    ),
    (
        2,
        "0002_instances_and_card_reads",
        include_str!("../../migrations/fleet/0002_instances_and_card_reads.sql"),
    ),
    (
        3,
        "0003_lookup_shows_the_journal",
        include_str!("../../migrations/fleet/0003_lookup_shows_the_journal.sql"),
    ),
    (
        4,
        "0004_desks_cannot_forge_or_list",
        include_str!("../../migrations/fleet/0004_desks_cannot_forge_or_list.sql"),
    ),
];

/// The schema version this sscard expects.
pub const SCHEMA_VERSION: i32 = 4;

/// How long a migration waits for a lock (the advisory lock, a table another
/// session holds) before it fails with PostgreSQL's "lock timeout" (55P03).
const MIGRATION_LOCK_WAIT: &str = "30s";

/// An arbitrary constant for `pg_advisory_xact_lock` (ASCII "sscardfl").
const LOCK_KEY: i64 = 0x7373_6361_7264_666c;

/// The centre's schema version, 0 when none.
///
/// # Errors
/// [`FleetError::Db`].
pub fn version(client: &mut postgres::Client) -> Result<i32, FleetError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('fleet.schema_migrations') IS NOT NULL",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: Option<i32> = client
        .query_one("SELECT max(version) FROM fleet.schema_migrations", &[])?
        .get(0);
    Ok(v.unwrap_or(0))
}

/// Creates or upgrades the schema; returns the versions applied (empty when up to
/// date).
///
/// # Errors
/// [`FleetError::Schema`] when the centre is newer than this sscard;
/// [`FleetError::Db`] when a migration fails (that migration is rolled back).
pub fn migrate(client: &mut postgres::Client) -> Result<Vec<i32>, FleetError> {
    let mut applied = Vec::new();
    for (v, name, sql) in MIGRATIONS {
        let mut tx = client.transaction()?;
        // Any role may take advisory locks, and a session idle in a transaction can
        // hold a lock a migration needs: wait a bounded time, then say so, rather
        // than hang `fleet init` (and queue every desk behind it).
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{MIGRATION_LOCK_WAIT}'"))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])?;
        tx.batch_execute(
            "CREATE SCHEMA IF NOT EXISTS fleet;
             CREATE TABLE IF NOT EXISTS fleet.schema_migrations (
                 version integer PRIMARY KEY,
                 name text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )?;
        let current: Option<i32> = tx
            .query_one("SELECT max(version) FROM fleet.schema_migrations", &[])?
            .get(0);
        let current = current.unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(FleetError::Schema(format!(
                "the centre is at version {current}, newer than this sscard ({SCHEMA_VERSION})"
            )));
        }
        if *v <= current {
            continue;
        }
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO fleet.schema_migrations (version, name) VALUES ($1, $2)",
            &[v, name],
        )?;
        tx.commit()?;
        applied.push(*v);
    }
    Ok(applied)
}

/// Checks a terminal number: 1 to 32 ASCII letters or digits (the desk's
/// configuration uses 12 digits).
///
/// # Errors
/// [`FleetError::Invalid`].
pub fn check_terminal(t: &str) -> Result<(), FleetError> {
    if t.is_empty() || t.len() > 32 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FleetError::Invalid(format!(
            "terminal '{t}' must be 1 to 32 letters or digits"
        )));
    }
    Ok(())
}

/// The login role of a desk: `desk_<terminal>` (lower case).
pub fn desk_role(terminal: &str) -> String {
    format!("desk_{}", terminal.to_ascii_lowercase())
}

/// The most connections one desk role may hold at once: a desk has its background
/// push (one per journal, under a lock), the advisory lookup before a cancel, and a
/// person's `journal push`/`fleet lookup`; a desk stuck in a loop cannot take the
/// centre's `max_connections` from every other desk.
pub const DESK_CONNECTION_LIMIT: i32 = 8;

/// Session settings of every desk role (`ALTER ROLE ... SET`, also applied by
/// migration 0004 to desks made before it): no desk statement runs longer than two
/// minutes, waits on a lock longer than ten seconds (a migration's `ALTER TABLE` in
/// the queue), or sits idle in a transaction holding locks longer than thirty seconds.
/// Role settings, not per-session `SET`s, so a transaction-mode pooler keeps them.
pub const DESK_SETTINGS: &[(&str, &str)] = &[
    ("statement_timeout", "120s"),
    ("lock_timeout", "10s"),
    ("idle_in_transaction_session_timeout", "30s"),
];

/// Which kind of login role the fleet makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `desk_<terminal>`, member of `sscard_desk`.
    Desk,
    /// A back-office reader, member of `sscard_report`.
    Reporter,
}

impl Kind {
    fn group(self) -> &'static str {
        match self {
            Kind::Desk => "sscard_desk",
            Kind::Reporter => "sscard_report",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Kind::Desk => "desk role",
            Kind::Reporter => "reporting role",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Kind::Desk => "desk-add",
            Kind::Reporter => "reporter-add",
        }
    }
}

/// An existing role as `pg_roles` and `pg_auth_members` describe it.
struct Existing {
    /// The attributes that make a role more than a reader or writer of the fleet
    /// schema (superuser, CREATEROLE, ...), by name.
    powers: Vec<&'static str>,
    login: bool,
    /// A direct member of the kind's group role.
    member: bool,
    /// The group roles it belongs to other than the kind's.
    other_groups: Vec<String>,
    /// The role running this, the session's, or the database's owner.
    administers: bool,
}

fn existing(
    tx: &mut postgres::Transaction<'_>,
    role: &str,
    kind: Kind,
) -> Result<Option<Existing>, FleetError> {
    let Some(r) = tx.query_opt(
        "SELECT r.rolsuper, r.rolcreaterole, r.rolbypassrls, r.rolreplication, r.rolcreatedb,
                r.rolcanlogin,
                EXISTS (SELECT FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                        WHERE m.member = r.oid AND g.rolname = $2),
                ARRAY(SELECT g.rolname::text FROM pg_auth_members m
                      JOIN pg_roles g ON g.oid = m.roleid
                      WHERE m.member = r.oid AND g.rolname <> $2 ORDER BY 1),
                r.rolname = current_user OR r.rolname = session_user
                  OR r.oid = (SELECT datdba FROM pg_database WHERE datname = current_database())
         FROM pg_roles r WHERE r.rolname = $1",
        &[&role, &kind.group()],
    )?
    else {
        return Ok(None);
    };
    let mut powers = Vec::new();
    for (i, name) in [
        (0, "SUPERUSER"),
        (1, "CREATEROLE"),
        (2, "BYPASSRLS"),
        (3, "REPLICATION"),
        (4, "CREATEDB"),
    ] {
        if r.get::<_, bool>(i) {
            powers.push(name);
        }
    }
    Ok(Some(Existing {
        powers,
        login: r.get(5),
        member: r.get(6),
        other_groups: r.get(7),
        administers: r.get(8),
    }))
}

/// Why an existing role may not be re-keyed as `kind`, or `None` when it may.
fn unfit(role: &str, kind: Kind, e: &Existing) -> Option<String> {
    if e.administers {
        return Some(format!(
            "role {role} runs this command or owns the database; it is never made a {}",
            kind.what()
        ));
    }
    if !e.powers.is_empty() {
        return Some(format!(
            "role {role} has {}; the fleet never changes such a role",
            e.powers.join(", ")
        ));
    }
    if !e.member || !e.other_groups.is_empty() || !e.login {
        return Some(format!(
            "role {role} exists and is not a {} of this centre (member of {}{}); the fleet \
             changes only roles it made. Choose another name, or drop or fix the role with psql",
            kind.what(),
            if e.member {
                kind.group().to_string()
            } else {
                "no sscard group".into()
            },
            if !e.other_groups.is_empty() {
                format!(", and of {}", e.other_groups.join(", "))
            } else if !e.login {
                ", cannot log in".into()
            } else {
                String::new()
            }
        ));
    }
    None
}

/// The SCRAM-SHA-256 verifier of `password`, checked to be safe inside a literal.
fn verifier(password: &str) -> Result<String, FleetError> {
    let v = postgres_protocol::password::scram_sha_256(password.as_bytes());
    // The verifier is base64, digits, '$', ':' and '=': no quote can end the literal.
    if v.contains('\'') || v.contains('\\') {
        return Err(FleetError::Invalid("unexpected verifier".into()));
    }
    Ok(v)
}

/// The desk settings as `ALTER ROLE` statements.
fn desk_settings_sql(role: &str) -> String {
    let mut s = format!("ALTER ROLE \"{role}\" CONNECTION LIMIT {DESK_CONNECTION_LIMIT};");
    for (k, v) in DESK_SETTINGS {
        s += &format!(" ALTER ROLE \"{role}\" SET {k} = '{v}';");
    }
    s
}

/// Creates the login role of the desk with terminal number `terminal`, member of
/// `sscard_desk`, with [`DESK_CONNECTION_LIMIT`] and [`DESK_SETTINGS`], and records it
/// in `fleet.desks`; returns the role name. The password is sent as a SCRAM-SHA-256
/// verifier, never in clear. An existing role is never changed: to give a desk a new
/// password, [`rekey_desk`].
///
/// # Errors
/// [`FleetError::Invalid`] (exit 2) for a bad terminal number or when the role
/// exists (another database's desk in the same cluster, a role made by hand, this
/// desk already); [`FleetError::Db`].
pub fn add_desk(
    client: &mut postgres::Client,
    terminal: &str,
    password: &str,
) -> Result<String, FleetError> {
    set_desk(client, terminal, password, false)
}

/// Gives the existing desk role of `terminal` a new password (and the current
/// [`DESK_CONNECTION_LIMIT`] and [`DESK_SETTINGS`]); returns the role name. Only a
/// role this centre's `fleet.desks` records for that terminal, a login member of
/// `sscard_desk` and of nothing else, without any administrative attribute.
///
/// # Errors
/// [`FleetError::Invalid`] (exit 2) when there is no such desk or the role is not
/// one the fleet made; [`FleetError::Db`].
pub fn rekey_desk(
    client: &mut postgres::Client,
    terminal: &str,
    password: &str,
) -> Result<String, FleetError> {
    set_desk(client, terminal, password, true)
}

fn set_desk(
    client: &mut postgres::Client,
    terminal: &str,
    password: &str,
    rekey: bool,
) -> Result<String, FleetError> {
    check_terminal(terminal)?;
    let role = desk_role(terminal);
    let verifier = verifier(password)?;
    let mut tx = client.transaction()?;
    let recorded: Option<String> = tx
        .query_opt("SELECT terminal FROM fleet.desks WHERE role = $1", &[&role])?
        .map(|r| r.get(0));
    match (existing(&mut tx, &role, Kind::Desk)?, rekey) {
        (None, false) => {
            tx.batch_execute(&format!(
                "CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
                 NOBYPASSRLS PASSWORD '{verifier}'; GRANT sscard_desk TO \"{role}\"; {}",
                desk_settings_sql(&role)
            ))?;
        }
        (None, true) => {
            return Err(FleetError::Invalid(format!(
                "no desk role {role} to re-key; add the desk with `fleet desk-add {terminal}`"
            )))
        }
        (Some(e), rekey) => {
            if let Some(why) = unfit(&role, Kind::Desk, &e) {
                return Err(FleetError::Invalid(why));
            }
            if recorded.as_deref() != Some(terminal) {
                return Err(FleetError::Invalid(format!(
                    "role {role} is a desk role, but this centre's fleet.desks records it {}: \
                     it belongs to another fleet database in this cluster (roles are \
                     cluster-wide) and is not changed. Give this centre its own cluster",
                    match &recorded {
                        Some(t) => format!("for terminal {t}"),
                        None => "for no terminal".into(),
                    }
                )));
            }
            if !rekey {
                return Err(FleetError::Invalid(format!(
                    "desk {terminal} exists (role {role}); to give it a new password run \
                     `fleet desk-add {terminal} --rekey --new-password-file PATH`"
                )));
            }
            tx.batch_execute(&format!(
                "ALTER ROLE \"{role}\" PASSWORD '{verifier}'; {}",
                desk_settings_sql(&role)
            ))?;
        }
    }
    tx.execute(
        "INSERT INTO fleet.desks (terminal, role) VALUES ($1, $2)
         ON CONFLICT (terminal) DO UPDATE SET role = EXCLUDED.role",
        &[&terminal, &role],
    )?;
    tx.commit()?;
    Ok(role)
}

/// Checks a reporting role's name: lower-case letters, digits and `_`, at most 63
/// bytes, and none of the names the fleet or PostgreSQL reserve (`sscard_*`, `pg_*`,
/// `desk_*`, `public`).
///
/// # Errors
/// [`FleetError::Invalid`].
pub fn check_reporter_name(role: &str) -> Result<(), FleetError> {
    if role.is_empty()
        || role.len() > 63
        || !role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(FleetError::Invalid(format!(
            "role '{role}' must be lower-case letters, digits and _"
        )));
    }
    for (prefix, whose) in [
        ("sscard_", "the fleet's group roles"),
        ("pg_", "PostgreSQL's own roles"),
        ("desk_", "the desks' roles"),
    ] {
        if role.starts_with(prefix) {
            return Err(FleetError::Invalid(format!(
                "role '{role}': names starting with {prefix} are reserved for {whose}; \
                 choose another name"
            )));
        }
    }
    if role == "public" {
        return Err(FleetError::Invalid(
            "role 'public' is reserved by PostgreSQL".into(),
        ));
    }
    Ok(())
}

/// Creates a reporting login role, member of `sscard_report` (reads every event).
/// An existing role is never changed: to give a reporter a new password,
/// [`rekey_reporter`].
///
/// # Errors
/// [`FleetError::Invalid`] (exit 2) for a bad or reserved name, or when the role
/// exists; [`FleetError::Db`].
pub fn add_reporter(
    client: &mut postgres::Client,
    role: &str,
    password: &str,
) -> Result<(), FleetError> {
    set_reporter(client, role, password, false)
}

/// Gives an existing reporting role a new password: only a login member of
/// `sscard_report` and of nothing else, without any administrative attribute.
///
/// # Errors
/// [`FleetError::Invalid`] (exit 2) for a bad or reserved name, a missing role, or a
/// role that is not a reporter the fleet made; [`FleetError::Db`].
pub fn rekey_reporter(
    client: &mut postgres::Client,
    role: &str,
    password: &str,
) -> Result<(), FleetError> {
    set_reporter(client, role, password, true)
}

fn set_reporter(
    client: &mut postgres::Client,
    role: &str,
    password: &str,
    rekey: bool,
) -> Result<(), FleetError> {
    check_reporter_name(role)?;
    let verifier = verifier(password)?;
    let mut tx = client.transaction()?;
    match (existing(&mut tx, role, Kind::Reporter)?, rekey) {
        (None, false) => tx.batch_execute(&format!(
            "CREATE ROLE \"{role}\" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS PASSWORD '{verifier}'; GRANT sscard_report TO \"{role}\""
        ))?,
        (None, true) => {
            return Err(FleetError::Invalid(format!(
                "no reporting role {role} to re-key; add it with `fleet reporter-add {role}`"
            )))
        }
        (Some(e), rekey) => {
            if let Some(why) = unfit(role, Kind::Reporter, &e) {
                return Err(FleetError::Invalid(why));
            }
            if !rekey {
                return Err(FleetError::Invalid(format!(
                    "reporting role {role} exists; to give it a new password run \
                     `fleet {} {role} --rekey --new-password-file PATH`",
                    Kind::Reporter.command()
                )));
            }
            tx.batch_execute(&format!("ALTER ROLE \"{role}\" PASSWORD '{verifier}'"))?;
        }
    }
    tx.commit()?;
    Ok(())
}
