//! MRTR (multi round-trip requests, SEP-2322) building blocks: `InputRequiredResult`s and the
//! input requests they carry, reading a retry's `inputResponses`, and `requestState` sealed
//! with HMAC-SHA256 under a random per-process key (tampered, expired or foreign state is
//! `-32602`).

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use serde_json::{json, Map, Value};

use crate::rpc::{random_hex, RpcError};
use crate::tools::sampled_text;

/// How long a sealed `requestState` stays valid.
const STATE_TTL_SECS: u64 = 600;

/// An `InputRequiredResult` asking `requests` (key → `{method, params}`), with `state` if any.
pub(crate) fn input_required(requests: Map<String, Value>, state: Option<String>) -> Value {
    let mut result = json!({ "resultType": "input_required", "inputRequests": requests });
    if let Some(state) = state {
        result["requestState"] = json!(state);
    }
    result
}

/// An `elicitation/create` input request (form mode).
pub(crate) fn elicit(message: &str, schema: Value) -> Value {
    json!({
        "method": "elicitation/create",
        "params": { "message": message, "requestedSchema": schema },
    })
}

/// A form with one required field `name` of JSON type `kind`.
pub(crate) fn one_field(name: &str, kind: &str) -> Value {
    json!({
        "type": "object",
        "properties": { name: { "type": kind } },
        "required": [name],
    })
}

/// A `sampling/createMessage` input request asking `text` of a model.
pub(crate) fn sample(text: &str, max_tokens: u32) -> Value {
    json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
            "maxTokens": max_tokens,
        },
    })
}

/// A `roots/list` input request.
pub(crate) fn list_roots() -> Value {
    json!({ "method": "roots/list", "params": {} })
}

/// What a retry brought: its `inputResponses` and `requestState`.
#[derive(Debug, Default)]
pub(crate) struct Retry {
    responses: Map<String, Value>,
    /// The echoed `requestState`, if any.
    pub(crate) state: Option<String>,
}

impl Retry {
    /// Reads `inputResponses` (an object when present: anything else, `null` included, is
    /// `-32602`) and `requestState` (a string when present).
    pub(crate) fn read(params: &Value) -> Result<Retry, RpcError> {
        let responses = match params.as_object().and_then(|p| p.get("inputResponses")) {
            None => Map::new(),
            Some(Value::Object(map)) => map.clone(),
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "inputResponses must be an object, not {other}"
                )))
            }
        };
        let state = match params.get("requestState") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                return Err(RpcError::invalid_params(format!(
                    "requestState must be a string, not {other}"
                )))
            }
        };
        Ok(Retry { responses, state })
    }

    /// The elicitation answered under `key`, if it is a well-formed `ElicitResult`.
    pub(crate) fn elicited(&self, key: &str) -> Option<Elicited> {
        let response = self.responses.get(key)?.as_object()?;
        let action = response.get("action")?.as_str()?;
        if !matches!(action, "accept" | "decline" | "cancel") {
            return None;
        }
        let content = match response.get("content") {
            None => Map::new(),
            Some(Value::Object(c)) => c.clone(),
            Some(_) => return None,
        };
        Some(Elicited {
            action: action.to_string(),
            content,
        })
    }

    /// The accepted elicitation under `key` whose content has the string field `field`.
    pub(crate) fn elicited_text(&self, key: &str, field: &str) -> Option<String> {
        let answer = self.elicited(key)?;
        (answer.action == "accept")
            .then(|| answer.content.get(field)?.as_str().map(str::to_string))?
    }

    /// The text of the `CreateMessageResult` under `key`.
    pub(crate) fn sampled(&self, key: &str) -> Option<String> {
        let response = self.responses.get(key)?;
        response.get("role")?.as_str()?;
        sampled_text(response).map(str::to_string)
    }

    /// The root URIs of the `ListRootsResult` under `key`.
    pub(crate) fn roots(&self, key: &str) -> Option<Vec<String>> {
        let roots = self.responses.get(key)?.get("roots")?.as_array()?;
        roots
            .iter()
            .map(|r| r.get("uri").and_then(Value::as_str).map(str::to_string))
            .collect()
    }

    /// Whether a well-formed answer to the input request `request` is under `key`.
    pub(crate) fn answers(&self, key: &str, request: &Value) -> bool {
        match request.get("method").and_then(Value::as_str) {
            Some("elicitation/create") => self.elicited(key).is_some(),
            Some("sampling/createMessage") => self.sampled(key).is_some(),
            Some("roots/list") => self.roots(key).is_some(),
            _ => false,
        }
    }
}

/// A well-formed `ElicitResult`.
#[derive(Debug, Clone)]
pub(crate) struct Elicited {
    /// `accept`, `decline` or `cancel`.
    pub(crate) action: String,
    /// The submitted form (empty unless accepted).
    pub(crate) content: Map<String, Value>,
}

fn key() -> &'static hmac::Key {
    static KEY: OnceLock<hmac::Key> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = ring::rand::SystemRandom::new();
        hmac::Key::generate(hmac::HMAC_SHA256, &rng).unwrap_or_else(|_| {
            // No system randomness: fall back to the process's own (still per-process).
            hmac::Key::new(hmac::HMAC_SHA256, random_hex(32).as_bytes())
        })
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Seals `data` for the request named `scope` (a tool or prompt): `<payload>.<tag>`, both
/// base64url, the tag an HMAC-SHA256 of the payload; it expires after ten minutes.
pub(crate) fn seal(scope: &str, data: Value) -> String {
    let payload = json!({
        "scope": scope,
        "data": data,
        "exp": now_secs() + STATE_TTL_SECS,
        "nonce": random_hex(8),
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let tag = hmac::sign(key(), payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The data sealed by [`seal`] for `scope`; `-32602` if `state` was altered, sealed by another
/// process or for another request, or has expired.
pub(crate) fn open(scope: &str, state: &str) -> Result<Value, RpcError> {
    let invalid = || RpcError::invalid_params("Invalid or expired requestState");
    let (payload, tag) = state.split_once('.').ok_or_else(invalid)?;
    let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| invalid())?;
    hmac::verify(key(), payload.as_bytes(), &tag).map_err(|_| invalid())?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| invalid())?;
    let payload: Value = serde_json::from_slice(&payload).map_err(|_| invalid())?;
    let fresh = payload["exp"].as_u64().is_some_and(|exp| exp >= now_secs());
    if payload["scope"] != scope || !fresh {
        return Err(invalid());
    }
    Ok(payload["data"].clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_state_opens_only_untouched_and_in_scope() {
        let state = seal("tool_a", json!({ "round": 2 }));
        assert_eq!(open("tool_a", &state).unwrap(), json!({ "round": 2 }));
        assert_eq!(open("tool_b", &state).unwrap_err().code, -32602);
        let tampered = format!("{state}-TAMPERED");
        assert_eq!(open("tool_a", &tampered).unwrap_err().code, -32602);
        let (payload, tag) = state.split_once('.').unwrap();
        let forged = format!("{}x.{tag}", &payload[..payload.len() - 1]);
        assert!(open("tool_a", &forged).is_err());
        assert!(open("tool_a", "garbage").is_err());
    }

    #[test]
    fn retry_reads_and_validates_responses() {
        assert_eq!(
            Retry::read(&json!({ "inputResponses": null }))
                .unwrap_err()
                .code,
            -32602
        );
        let retry = Retry::read(&json!({
            "inputResponses": {
                "a": { "action": "accept", "content": { "name": "Ann" } },
                "b": 12345,
                "c": { "role": "assistant", "content": { "type": "text", "text": "hi" }, "model": "m" },
                "d": { "roots": [{ "uri": "file:///x" }] },
            },
            "requestState": "s",
        }))
        .unwrap();
        assert_eq!(retry.elicited_text("a", "name").as_deref(), Some("Ann"));
        assert!(retry.elicited("b").is_none() && retry.elicited("zz").is_none());
        assert_eq!(retry.sampled("c").as_deref(), Some("hi"));
        assert_eq!(retry.roots("d"), Some(vec!["file:///x".to_string()]));
        assert!(retry.answers("d", &list_roots()) && !retry.answers("b", &list_roots()));
        assert_eq!(retry.state.as_deref(), Some("s"));
    }
}
