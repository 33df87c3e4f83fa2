//! The centre's schema: versioned SQL files in `migrations/fleet/`, applied in order.
//!
//! Why versioned files rather than `CREATE ... IF NOT EXISTS` at every start: a
//! centre serving thousands of desks is upgraded deliberately, by `sscard fleet init`,
//! and its `fleet.schema_migrations` table says which version it is at. Each
//! migration runs in its own transaction under an advisory lock, so two `init`s at once
//! cannot both apply it, and a failed one leaves the previous version intact.
//! Desk roles are made by [`add_desk`] with a SCRAM verifier computed here, so the
//! password never reaches the server's logs in clear.

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
];

/// The schema version this sscard expects.
pub const SCHEMA_VERSION: i32 = 3;

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

/// Creates (or re-keys) the login role of the desk with terminal number `terminal`,
/// member of `sscard_desk`, and records it in `fleet.desks`; returns the role name.
/// The password is sent as a SCRAM-SHA-256 verifier, never in clear.
///
/// # Errors
/// [`FleetError::Invalid`] for a bad terminal number, [`FleetError::Db`].
pub fn add_desk(
    client: &mut postgres::Client,
    terminal: &str,
    password: &str,
) -> Result<String, FleetError> {
    check_terminal(terminal)?;
    let role = desk_role(terminal);
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    // The verifier is base64, digits, '$', ':' and '=': no quote can end the literal.
    if verifier.contains('\'') {
        return Err(FleetError::Invalid("unexpected verifier".into()));
    }
    let mut tx = client.transaction()?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
            &[&role],
        )?
        .get(0);
    let verb = if exists { "ALTER" } else { "CREATE" };
    tx.batch_execute(&format!(
        "{verb} ROLE \"{role}\" LOGIN PASSWORD '{verifier}'; GRANT sscard_desk TO \"{role}\""
    ))?;
    tx.execute(
        "INSERT INTO fleet.desks (terminal, role) VALUES ($1, $2)
         ON CONFLICT (terminal) DO UPDATE SET role = EXCLUDED.role",
        &[&terminal, &role],
    )?;
    tx.commit()?;
    Ok(role)
}

/// Creates (or re-keys) a reporting login role, member of `sscard_report`.
///
/// # Errors
/// [`FleetError::Invalid`] for a bad name, [`FleetError::Db`].
pub fn add_reporter(
    client: &mut postgres::Client,
    role: &str,
    password: &str,
) -> Result<(), FleetError> {
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
    let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
    let mut tx = client.transaction()?;
    let exists: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)",
            &[&role],
        )?
        .get(0);
    let verb = if exists { "ALTER" } else { "CREATE" };
    tx.batch_execute(&format!(
        "{verb} ROLE \"{role}\" LOGIN PASSWORD '{verifier}'; GRANT sscard_report TO \"{role}\""
    ))?;
    tx.commit()?;
    Ok(())
}
