//! The versioned documents of the service's own API.
//!
//! The names and versions follow the one table of `sscard`'s JSON documents (the
//! `output` module's `Doc`, issue 14/15): each document carries `schema` and
//! `schema_version` at its top level. The service reuses the command line's documents
//! where it serves the same thing (`sscard-info`, `sscard-readers`,
//! `sscard-reader-event`, `sscard-error`) and adds one of its own, `sscard-serve` (what
//! the service is and speaks), all from the one table, [`crate::output::Doc`]. The
//! service's bodies are JSON values built here, so it wraps them itself rather than
//! through `output::document` (which serialises any `Serialize`).

use serde_json::{Map, Value};

pub use crate::output::Doc;

/// `body`'s fields with `schema` and `schema_version` first (a body that is not an
/// object goes under `items`).
pub fn document(doc: Doc, body: Value) -> Value {
    let (name, version) = doc.schema();
    let mut out = Map::new();
    out.insert("schema".into(), name.into());
    out.insert("schema_version".into(), version.into());
    match body {
        Value::Object(m) => {
            for (k, v) in m {
                if k != "schema" && k != "schema_version" {
                    out.insert(k, v);
                }
            }
        }
        other => {
            out.insert("items".into(), other);
        }
    }
    Value::Object(out)
}

/// The `sscard-error` document: the exit code `sscard` would end with, the message,
/// the hint when there is one.
pub fn error(exit_code: u8, message: &str, hint: Option<&str>) -> Value {
    document(
        Doc::Error,
        serde_json::json!({
            "error": { "exit_code": exit_code, "message": message, "hint": hint }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_their_schema() {
        let d = document(
            Doc::Info,
            serde_json::json!({"schema_version": "9", "kind": "ssc"}),
        );
        assert_eq!(d["schema"], "sscard-info");
        assert_eq!(d["schema_version"], "1.1");
        assert_eq!(d["kind"], "ssc");
        let d = document(Doc::Readers, serde_json::json!([1, 2]));
        assert_eq!(d["items"], serde_json::json!([1, 2]));
        let e = error(4, "no card", None);
        assert_eq!(e["schema"], "sscard-error");
        assert_eq!(e["error"]["exit_code"], 4);
    }
}
