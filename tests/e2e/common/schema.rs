//! Checks messages Manifold sends against the official JSON Schema of their protocol revision —
//! 2025-11-25 for the legacy era, 2026-07-28 for the modern one
//! (`shared/spec-schemas/<revision>/schema.json` beside the repository, or a copy given by
//! `MANIFOLD_SPEC_SCHEMAS`): every message as a `JSONRPCMessage`, every result as the type its
//! method returns, every notification and server request as the type its method names.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// The legacy-era revision the checks default to.
pub const LEGACY: &str = "2025-11-25";
/// The modern-era revision.
pub const MODERN: &str = "2026-07-28";

fn schema_document(revision: &str) -> Option<&'static Value> {
    static LEGACY_DOC: OnceLock<Option<Value>> = OnceLock::new();
    static MODERN_DOC: OnceLock<Option<Value>> = OnceLock::new();
    let cell = if revision == MODERN {
        &MODERN_DOC
    } else {
        &LEGACY_DOC
    };
    cell.get_or_init(|| {
        let dir = std::env::var_os("MANIFOLD_SPEC_SCHEMAS")
            .map(PathBuf::from)
            .unwrap_or_else(|| super::repo_root().join("../shared/spec-schemas"));
        let path = dir.join(revision).join("schema.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            // CI always has shared/ beside the clone: there a missing schema is an error.
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is missing",
                path.display()
            );
            return None;
        };
        serde_json::from_str(&text).ok()
    })
    .as_ref()
}

fn validator(revision: &str, definition: &str) -> Option<Arc<jsonschema::Validator>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = format!("{revision}#{definition}");
    if let Some(v) = cache.lock().unwrap().get(&key) {
        return Some(v.clone());
    }
    let mut doc = schema_document(revision)?.clone();
    doc.as_object_mut()?.insert(
        "$ref".into(),
        Value::String(format!("#/$defs/{definition}")),
    );
    let compiled = Arc::new(
        jsonschema::validator_for(&doc)
            .unwrap_or_else(|e| panic!("schema definition {definition} does not compile: {e}")),
    );
    cache.lock().unwrap().insert(key, compiled.clone());
    Some(compiled)
}

/// Every violation if `value` is not a valid `definition` of 2025-11-25, as one message. A
/// missing schema file (repository checked out without `shared/`) skips the check: `Ok`.
pub fn validate(definition: &str, value: &Value) -> Result<(), String> {
    validate_in(LEGACY, definition, value)
}

/// Every violation if `value` is not a valid `definition` of `revision`, as one message.
pub fn validate_in(revision: &str, definition: &str, value: &Value) -> Result<(), String> {
    let Some(v) = validator(revision, definition) else {
        return Ok(());
    };
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("{errors:?}"))
    }
}

/// Panics with every violation if `value` is not a valid `definition`. A missing schema file
/// (repository checked out without `shared/`) skips the check.
pub fn check(definition: &str, value: &Value) {
    check_in(LEGACY, definition, value);
}

/// Panics with every violation if `value` is not a valid `definition` of `revision`.
pub fn check_in(revision: &str, definition: &str, value: &Value) {
    if let Err(errors) = validate_in(revision, definition, value) {
        panic!("message is not a valid {definition} ({revision} schema): {errors}\n{value}");
    }
}

/// The result type of a client request method.
pub fn result_type(method: &str) -> Option<&'static str> {
    Some(match method {
        "initialize" => "InitializeResult",
        "ping" | "logging/setLevel" | "resources/subscribe" | "resources/unsubscribe" => {
            "EmptyResult"
        }
        "tools/list" => "ListToolsResult",
        "tools/call" => "CallToolResult",
        "prompts/list" => "ListPromptsResult",
        "prompts/get" => "GetPromptResult",
        "resources/list" => "ListResourcesResult",
        "resources/templates/list" => "ListResourceTemplatesResult",
        "resources/read" => "ReadResourceResult",
        "completion/complete" => "CompleteResult",
        _ => return None,
    })
}

/// Checks one message Manifold sent to its client; `method` is the request it answers, if known.
pub fn check_outgoing(message: &Value, method: Option<&str>) {
    check("JSONRPCMessage", message);
    if let Some(m) = message.get("method").and_then(Value::as_str) {
        let definition = if message.get("id").is_some() {
            "ServerRequest"
        } else {
            "ServerNotification"
        };
        let known = m.starts_with("notifications/")
            || matches!(
                m,
                "ping" | "sampling/createMessage" | "roots/list" | "elicitation/create"
            );
        if known {
            check(definition, message);
        }
    } else if let (Some(result), Some(definition)) =
        (message.get("result"), method.and_then(result_type))
    {
        check(definition, result);
    }
}

/// The result type of a 2026-07-28 client request method.
pub fn modern_result_type(method: &str) -> Option<&'static str> {
    Some(match method {
        "server/discover" => "DiscoverResult",
        "tools/list" => "ListToolsResult",
        "tools/call" => "CallToolResult",
        "prompts/list" => "ListPromptsResult",
        "prompts/get" => "GetPromptResult",
        "resources/list" => "ListResourcesResult",
        "resources/templates/list" => "ListResourceTemplatesResult",
        "resources/read" => "ReadResourceResult",
        "completion/complete" => "CompleteResult",
        _ => return None,
    })
}

/// Checks one message Manifold sent to a 2026-07-28 client: a `JSONRPCMessage` of that revision
/// that is never a request (the era has none from servers), a notification as its type, and a
/// result as the type its method returns (or as an `InputRequiredResult` when it says it is one).
pub fn check_outgoing_modern(message: &Value, method: Option<&str>) {
    check_in(MODERN, "JSONRPCMessage", message);
    if message.get("method").is_some() {
        assert!(
            message.get("id").is_none(),
            "a 2026-07-28 server sends no requests: {message}"
        );
        check_in(MODERN, "ServerNotification", message);
    } else if let Some(result) = message.get("result") {
        let definition = if result["resultType"] == "input_required" {
            Some("InputRequiredResult")
        } else {
            method.and_then(modern_result_type)
        };
        if let Some(definition) = definition {
            check_in(MODERN, definition, result);
        }
    }
}
