//! Decoding one JSON-RPC message into request / notification / response, and encoding them back
//! with `params` and `result` copied verbatim.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use crate::error::{code, ErrorObject};
use crate::id::Id;

/// A request: has a method and a non-null id.
#[derive(Debug, Clone)]
pub struct Request {
    /// The sender's id.
    pub id: Id,
    /// Method name.
    pub method: String,
    /// Params, untouched.
    pub params: Option<Box<RawValue>>,
}

/// A notification: a method and no id.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Method name.
    pub method: String,
    /// Params, untouched.
    pub params: Option<Box<RawValue>>,
}

/// A response: a result or an error for a request id. `id` is `None` only for an error whose
/// request id could not be read.
#[derive(Debug, Clone)]
pub struct Response {
    /// The id of the request answered.
    pub id: Option<Id>,
    /// The result, or the error.
    pub outcome: Result<Box<RawValue>, ErrorObject>,
}

/// Any single JSON-RPC message.
#[derive(Debug, Clone)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A notification.
    Notification(Notification),
    /// A response or error.
    Response(Response),
}

/// What one frame decodes to.
#[derive(Debug)]
pub enum Decoded {
    /// One message.
    Single(Message),
    /// A JSON array: a batch. Whether batches are allowed depends on the negotiated version.
    Batch(Vec<Box<RawValue>>),
}

/// Why a frame is not a message. Maps to the JSON-RPC error to answer with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON at all (`-32700`).
    #[error("parse error: {0}")]
    Parse(String),
    /// JSON, but not a valid JSON-RPC message (`-32600`). Carries the id when one was readable.
    #[error("invalid request: {reason}")]
    Invalid {
        /// The id, if one could be read.
        id: Option<Id>,
        /// What is wrong.
        reason: String,
    },
}

impl DecodeError {
    /// The JSON-RPC error object for this failure.
    pub fn to_error(&self) -> ErrorObject {
        match self {
            DecodeError::Parse(m) => {
                ErrorObject::new(code::PARSE_ERROR, format!("Parse error: {m}"))
            }
            DecodeError::Invalid { reason, .. } => {
                ErrorObject::new(code::INVALID_REQUEST, format!("Invalid request: {reason}"))
            }
        }
    }

    /// The id to answer with (null when unknown).
    pub fn id(&self) -> Option<&Id> {
        match self {
            DecodeError::Parse(_) => None,
            DecodeError::Invalid { id, .. } => id.as_ref(),
        }
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// Keeps an explicit `null` as `Some("null")` so it can be told apart from an absent field.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Decodes one frame (a line on stdio, a body on HTTP).
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    let trimmed = trim_ascii_start(bytes);
    match trimmed.first() {
        Some(b'[') => {
            let items: Vec<Box<RawValue>> =
                serde_json::from_slice(bytes).map_err(|e| DecodeError::Parse(e.to_string()))?;
            return Ok(Decoded::Batch(items));
        }
        Some(b'{') => {}
        _ => {
            // Either not JSON, or a JSON scalar: tell the two apart for the right code.
            return match serde_json::from_slice::<&RawValue>(bytes) {
                Ok(_) => Err(invalid(None, "a message must be a JSON object")),
                Err(e) => Err(DecodeError::Parse(e.to_string())),
            };
        }
    }
    let env: Envelope<'_> = match serde_json::from_slice(bytes) {
        Ok(env) => env,
        Err(e) if e.is_syntax() || e.is_eof() => return Err(DecodeError::Parse(e.to_string())),
        Err(e) => return Err(invalid(None, &e.to_string())),
    };
    decode_envelope(env).map(Decoded::Single)
}

/// Decodes one element of a batch (already known to be valid JSON).
pub fn decode_one(raw: &RawValue) -> Result<Message, DecodeError> {
    match serde_json::from_str::<Envelope<'_>>(raw.get()) {
        Ok(env) => decode_envelope(env),
        Err(e) => Err(invalid(None, &e.to_string())),
    }
}

fn decode_envelope(env: Envelope<'_>) -> Result<Message, DecodeError> {
    let id = match env.id {
        None => None,
        Some(raw) if raw.get() == "null" => Some(None),
        Some(raw) => match serde_json::from_str::<Id>(raw.get()) {
            Ok(id) => Some(Some(id)),
            Err(_) => return Err(invalid(None, "id must be a string or an integer")),
        },
    };
    if env.jsonrpc.as_deref() != Some("2.0") {
        return Err(invalid(id.flatten(), "jsonrpc must be \"2.0\""));
    }
    if let Some(method) = env.method {
        let params = env
            .params
            .filter(|p| p.get() != "null")
            .map(|p| p.to_owned());
        if let Some(p) = &params {
            if !matches!(p.get().as_bytes().first(), Some(b'{') | Some(b'[')) {
                return Err(invalid(
                    id.flatten(),
                    "params must be an object or an array",
                ));
            }
        }
        return match id {
            None => Ok(Message::Notification(Notification {
                method: method.into_owned(),
                params,
            })),
            Some(None) => Err(invalid(None, "request id must not be null")),
            Some(Some(id)) => Ok(Message::Request(Request {
                id,
                method: method.into_owned(),
                params,
            })),
        };
    }
    let outcome = match (env.result, env.error) {
        (Some(result), None) => Ok(result.to_owned()),
        (None, Some(error)) => match serde_json::from_str::<ErrorObject>(error.get()) {
            Ok(e) => Err(e),
            Err(_) => return Err(invalid(id.flatten(), "malformed error object")),
        },
        (Some(_), Some(_)) => return Err(invalid(id.flatten(), "both result and error")),
        (None, None) => return Err(invalid(id.flatten(), "no method, result or error")),
    };
    match id {
        Some(Some(id)) => Ok(Message::Response(Response {
            id: Some(id),
            outcome,
        })),
        Some(None) if outcome.is_err() => Ok(Message::Response(Response { id: None, outcome })),
        _ => Err(invalid(None, "response without id")),
    }
}

fn invalid(id: Option<Id>, reason: &str) -> DecodeError {
    DecodeError::Invalid {
        id,
        reason: reason.to_string(),
    }
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[derive(Serialize)]
struct OutRequest<'a> {
    jsonrpc: &'static str,
    id: &'a Id,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutNotification<'a> {
    jsonrpc: &'static str,
    method: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
}

#[derive(Serialize)]
struct OutResult<'a> {
    jsonrpc: &'static str,
    id: &'a Id,
    result: &'a RawValue,
}

#[derive(Serialize)]
struct OutError<'a> {
    jsonrpc: &'static str,
    /// Left out when the request id could not be read: MCP's schema (2025-11-25) makes `id`
    /// optional on error responses but never `null` (mcp-spec.md §3.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Id>,
    error: &'a ErrorObject,
}

fn to_string<T: Serialize>(value: &T) -> String {
    // Serialising these borrowed structs cannot fail: every field is already valid JSON.
    serde_json::to_string(value).unwrap_or_default()
}

/// Encodes a request; `params` is copied verbatim.
pub fn encode_request(id: &Id, method: &str, params: Option<&RawValue>) -> String {
    to_string(&OutRequest {
        jsonrpc: "2.0",
        id,
        method,
        params,
    })
}

/// Encodes a notification; `params` is copied verbatim.
pub fn encode_notification(method: &str, params: Option<&RawValue>) -> String {
    to_string(&OutNotification {
        jsonrpc: "2.0",
        method,
        params,
    })
}

/// Encodes a successful response; `result` is copied verbatim.
pub fn encode_result(id: &Id, result: &RawValue) -> String {
    to_string(&OutResult {
        jsonrpc: "2.0",
        id,
        result,
    })
}

/// Encodes an error response (without `id` when the request id is unknown).
pub fn encode_error(id: Option<&Id>, error: &ErrorObject) -> String {
    to_string(&OutError {
        jsonrpc: "2.0",
        id,
        error,
    })
}

impl Notification {
    /// For `notifications/cancelled`: the id of the request it cancels.
    pub fn cancelled_request(&self) -> Option<Id> {
        let params = crate::RawObject::parse(self.params.as_deref()?).ok()?;
        serde_json::from_str(params.get("requestId")?.get()).ok()
    }
}

impl Message {
    /// Encodes this message back to one JSON text.
    pub fn encode(&self) -> String {
        match self {
            Message::Request(r) => encode_request(&r.id, &r.method, r.params.as_deref()),
            Message::Notification(n) => encode_notification(&n.method, n.params.as_deref()),
            Message::Response(r) => match &r.outcome {
                Ok(result) => match &r.id {
                    Some(id) => encode_result(id, result),
                    None => encode_error(
                        None,
                        &ErrorObject::new(code::INTERNAL_ERROR, "response without id"),
                    ),
                },
                Err(e) => encode_error(r.id.as_ref(), e),
            },
        }
    }
}
