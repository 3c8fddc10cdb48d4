//! Decoding one JSON-RPC message into request / notification / response, and encoding them back
//! with `params` and `result` copied verbatim.

use std::borrow::Cow;

use serde::de::{MapAccess, Visitor};
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

/// Who sent a frame, which decides how strictly it is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A downstream client: Manifold routes and enforces policy on its `params`, so a key
    /// repeated anywhere in them (or in the envelope) is refused.
    Client,
    /// An upstream server: only the envelope, which Manifold routes on, must be unambiguous;
    /// what its results carry is the upstream's business and passes as it came.
    Upstream,
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
    /// A key appears twice in one object: in the envelope (`-32600`) or anywhere in `params`
    /// (`-32602`). Two parsers could read two different messages from it.
    #[error("duplicate key `{key}` at {path}")]
    Duplicate {
        /// The id, if one could be read unambiguously.
        id: Option<Id>,
        /// The method named: `tools/call` if any occurrence names it (so a refused tool call is
        /// audited), else the first; `None` if no method was readable.
        method: Option<String>,
        /// The repeated key.
        key: String,
        /// The JSON Pointer of the object holding it (`""` is the envelope, `/params` its params).
        path: String,
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
            DecodeError::Duplicate { key, path, .. } => {
                let shown: String = key.chars().take(64).collect();
                let (code, what) = if path.is_empty() {
                    (code::INVALID_REQUEST, "Invalid request")
                } else {
                    (code::INVALID_PARAMS, "Invalid params")
                };
                let at = if path.is_empty() { "the message" } else { path };
                ErrorObject::with_data(
                    code,
                    format!("{what}: key {} appears twice in {at}", json_quote(&shown)),
                    serde_json::json!({ "reason": "duplicate_key", "key": shown, "path": path }),
                )
            }
        }
    }

    /// The id to answer with (null when unknown).
    pub fn id(&self) -> Option<&Id> {
        match self {
            DecodeError::Parse(_) => None,
            DecodeError::Invalid { id, .. } | DecodeError::Duplicate { id, .. } => id.as_ref(),
        }
    }
}

fn json_quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The top-level members of one message, as raw slices of its text. Every member is read, and a
/// repeated one recorded, before anything is interpreted: a wrong type in one member never hides
/// the id in another.
#[derive(Default)]
struct Envelope<'a> {
    jsonrpc: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    method: Option<&'a RawValue>,
    params: Option<&'a RawValue>,
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    /// The first key seen twice.
    duplicate: Option<Cow<'a, str>>,
    /// `id` appeared twice with different values: no id can be told.
    id_conflict: bool,
    /// A repeated `method` named `tools/call` in one of its occurrences.
    tool_call_named: bool,
}

impl<'de> Deserialize<'de> for Envelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON-RPC message object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut env = Envelope::default();
                let mut others: Vec<Cow<'de, str>> = Vec::new();
                while let Some(key) = m.next_key::<Cow<'de, str>>()? {
                    let value: &'de RawValue = m.next_value()?;
                    let slot = match key.as_ref() {
                        "jsonrpc" => &mut env.jsonrpc,
                        "id" => &mut env.id,
                        "method" => &mut env.method,
                        "params" => &mut env.params,
                        "result" => &mut env.result,
                        "error" => &mut env.error,
                        _ => {
                            if others.contains(&key) {
                                env.duplicate.get_or_insert(key);
                            } else {
                                others.push(key);
                            }
                            continue;
                        }
                    };
                    match slot {
                        None => *slot = Some(value),
                        Some(first) => {
                            if key == "id" && first.get() != value.get() {
                                env.id_conflict = true;
                            }
                            if key == "method" {
                                env.tool_call_named |=
                                    [first.get(), value.get()].iter().any(|m| is_tools_call(m));
                            }
                            env.duplicate.get_or_insert(key);
                        }
                    }
                }
                Ok(env)
            }
        }
        d.deserialize_map(EnvelopeVisitor)
    }
}

fn is_tools_call(raw_method: &str) -> bool {
    serde_json::from_str::<Cow<'_, str>>(raw_method).is_ok_and(|m| m == crate::method::TOOLS_CALL)
}

/// Decodes one frame from an upstream (a line on stdio, a body on HTTP).
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_from(bytes, Source::Upstream)
}

/// Decodes one frame from a client: as [`decode`], and a key repeated anywhere in the envelope or
/// in `params` is refused.
pub fn decode_client(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_from(bytes, Source::Client)
}

/// Decodes one frame sent by `source`.
pub fn decode_from(bytes: &[u8], source: Source) -> Result<Decoded, DecodeError> {
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
    decode_envelope(env, source).map(Decoded::Single)
}

/// Decodes one element of a batch from an upstream (already known to be valid JSON).
pub fn decode_one(raw: &RawValue) -> Result<Message, DecodeError> {
    decode_one_from(raw, Source::Upstream)
}

/// Decodes one element of a client's batch, as [`decode_client`] does a single message.
pub fn decode_one_client(raw: &RawValue) -> Result<Message, DecodeError> {
    decode_one_from(raw, Source::Client)
}

fn decode_one_from(raw: &RawValue, source: Source) -> Result<Message, DecodeError> {
    match serde_json::from_str::<Envelope<'_>>(raw.get()) {
        Ok(env) => decode_envelope(env, source),
        Err(e) => Err(invalid(None, &e.to_string())),
    }
}

/// What the `id` member holds.
enum IdField {
    Absent,
    Null,
    Readable(Id),
    Unreadable,
}

fn decode_envelope(env: Envelope<'_>, source: Source) -> Result<Message, DecodeError> {
    let id = match env.id {
        None => IdField::Absent,
        Some(raw) if raw.get() == "null" => IdField::Null,
        Some(raw) => match read_id(raw) {
            Some(id) => IdField::Readable(id),
            None => IdField::Unreadable,
        },
    };
    let readable = match &id {
        IdField::Readable(id) if !env.id_conflict => Some(id.clone()),
        _ => None,
    };
    let method = match env.method {
        Some(raw) => match read_str(raw) {
            Some(m) => Some(m),
            None => return Err(invalid(readable, "method must be a string")),
        },
        None => None,
    };
    if let Some(key) = env.duplicate {
        let named = if env.tool_call_named {
            Some(crate::method::TOOLS_CALL.to_string())
        } else {
            method.map(Cow::into_owned)
        };
        return Err(DecodeError::Duplicate {
            id: readable,
            method: named,
            key: key.into_owned(),
            path: String::new(),
        });
    }
    if matches!(id, IdField::Unreadable) {
        return Err(invalid(None, "id must be a string or an integer"));
    }
    let jsonrpc_ok = env.jsonrpc.and_then(read_str).is_some_and(|v| v == "2.0");
    if !jsonrpc_ok {
        return Err(invalid(readable, "jsonrpc must be \"2.0\""));
    }
    if let Some(method) = method {
        let params = env.params.filter(|p| p.get() != "null");
        if let Some(p) = params {
            if !matches!(p.get().as_bytes().first(), Some(b'{') | Some(b'[')) {
                return Err(invalid(readable, "params must be an object or an array"));
            }
            if source == Source::Client {
                if let Some(found) = crate::dupes::find_duplicate(p.get().as_bytes()) {
                    return Err(DecodeError::Duplicate {
                        id: readable,
                        method: Some(method.into_owned()),
                        key: found.key,
                        path: format!("/params{}", found.path),
                    });
                }
            }
        }
        let params = params.map(|p| p.to_owned());
        return match id {
            IdField::Absent => Ok(Message::Notification(Notification {
                method: method.into_owned(),
                params,
            })),
            IdField::Null => Err(invalid(None, "request id must not be null")),
            IdField::Readable(id) => Ok(Message::Request(Request {
                id,
                method: method.into_owned(),
                params,
            })),
            IdField::Unreadable => Err(invalid(None, "id must be a string or an integer")),
        };
    }
    let outcome = match (env.result, env.error) {
        (Some(result), None) => Ok(result.to_owned()),
        (None, Some(error)) => match serde_json::from_str::<ErrorObject>(error.get()) {
            Ok(e) => Err(e),
            Err(_) => return Err(invalid(readable, "malformed error object")),
        },
        (Some(_), Some(_)) => return Err(invalid(readable, "both result and error")),
        (None, None) => return Err(invalid(readable, "no method, result or error")),
    };
    match id {
        IdField::Readable(id) => Ok(Message::Response(Response {
            id: Some(id),
            outcome,
        })),
        IdField::Null if outcome.is_err() => Ok(Message::Response(Response { id: None, outcome })),
        _ => Err(invalid(None, "response without id")),
    }
}

/// A JSON string member's value: read in place when it has no escapes (nearly always), decoded
/// otherwise; `None` if it is not a string.
fn read_str(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if !inner.contains('\\') {
            return Some(Cow::Borrowed(inner));
        }
    }
    serde_json::from_str(text).ok()
}

/// An `id` member's value, if it is a string or an integer that fits an `i64`.
fn read_id(raw: &RawValue) -> Option<Id> {
    let text = raw.get();
    if text.starts_with('"') {
        return read_str(raw).map(|s| Id::Str(s.as_ref().into()));
    }
    // An integer as JSON writes one (the text is valid JSON): parsed directly.
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = text.parse::<i64>() {
            return Some(Id::Num(n));
        }
    }
    serde_json::from_str::<Id>(text).ok()
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
