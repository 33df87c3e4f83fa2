//! Errors of profiles: a profile file that is wrong, and a field value that does not
//! fit its field.

/// A profile that cannot be used: it does not parse, or it is inconsistent.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The file could not be read.
    #[error("profile {file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The failure.
        source: std::io::Error,
    },
    /// The JSON does not match the profile format.
    #[error("profile {file}: {source}")]
    Parse {
        /// The file (or `built-in NAME`).
        file: String,
        /// serde's message, with line and column.
        source: serde_json::Error,
    },
    /// The profile parses but is inconsistent (a dangling reference, a length that
    /// does not fit the encoding, a role the code needs missing, ...).
    #[error("profile {profile}: {path}: {reason}")]
    Invalid {
        /// Profile name.
        profile: String,
        /// Where in the profile (`fields[3].len`).
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The code asked for something the profile does not define.
    #[error("profile {profile} has no {what} '{name}'")]
    Missing {
        /// Profile name.
        profile: String,
        /// `field`, `file`, `DF`, `key`.
        what: &'static str,
        /// The role or id asked for.
        name: String,
    },
}

/// A field value that cannot be decoded from card bytes, or encoded into a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{label} ({tag}): {reason}")]
pub struct FieldError {
    /// The field's label, for people.
    pub label: String,
    /// Where it is (`tag 07`, `offset 0`), for technicians.
    pub tag: String,
    /// What is wrong.
    pub reason: String,
}
