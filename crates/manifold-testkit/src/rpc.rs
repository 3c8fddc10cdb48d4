//! JSON-RPC 2.0 message helpers, error values and the session-id generator.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

/// Protocol versions the server accepts and echoes back.
pub(crate) const SUPPORTED_VERSIONS: [&str; 4] =
    ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The stateless protocol version (2026-07-28), served by `--profile conformance`.
pub(crate) const MODERN_VERSION: &str = "2026-07-28";

/// Version answered when the client asks for one we do not know.
pub(crate) const LATEST_VERSION: &str = "2025-11-25";

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RpcError {
    pub(crate) code: i64,
    pub(crate) message: String,
    pub(crate) data: Option<Value>,
}

impl RpcError {
    fn new(code: i64, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    pub(crate) fn parse_error(detail: impl fmt::Display) -> Self {
        Self::new(-32700, format!("Parse error: {detail}"))
    }

    pub(crate) fn invalid_request(detail: impl fmt::Display) -> Self {
        Self::new(-32600, format!("Invalid Request: {detail}"))
    }

    pub(crate) fn method_not_found(method: &str) -> Self {
        Self::new(-32601, format!("Method not found: {method}"))
    }

    pub(crate) fn invalid_params(detail: impl fmt::Display) -> Self {
        Self::new(-32602, format!("Invalid params: {detail}"))
    }

    pub(crate) fn internal(detail: impl fmt::Display) -> Self {
        Self::new(-32603, format!("Internal error: {detail}"))
    }

    pub(crate) fn resource_not_found(uri: &str) -> Self {
        RpcError {
            data: Some(json!({ "uri": uri })),
            ..Self::new(-32002, format!("Resource not found: {uri}"))
        }
    }

    /// `-32020`: an HTTP header does not match the body (2026-07-28).
    pub(crate) fn header_mismatch(detail: impl fmt::Display) -> Self {
        Self::new(-32020, format!("Header mismatch: {detail}"))
    }

    /// `-32021`: the request needs client capabilities it did not declare (2026-07-28).
    pub(crate) fn missing_capability(required: Value) -> Self {
        RpcError {
            message: format!("Missing required client capability: {required}"),
            data: Some(json!({ "requiredCapabilities": required })),
            ..Self::new(-32021, "")
        }
    }

    /// `-32022`: the requested protocol version is not served (2026-07-28).
    pub(crate) fn unsupported_version(requested: &str, supported: &[&str]) -> Self {
        RpcError {
            data: Some(json!({ "supported": supported, "requested": requested })),
            ..Self::new(
                -32022,
                format!("Unsupported protocol version {requested:?}"),
            )
        }
    }

    /// The same error with `data` set.
    pub(crate) fn with_data(self, data: Value) -> Self {
        RpcError {
            data: Some(data),
            ..self
        }
    }

    fn to_value(&self) -> Value {
        let mut err = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            err["data"] = data.clone();
        }
        err
    }
}

/// The key of a result that is to be sent as the JSON text it holds, verbatim ([`raw_result`]).
pub(crate) const RAW_RESULT: &str = "\u{0}testkit-raw-result";

/// A result sent as `text`, byte for byte (the `raw` tool, `testkit-raw:` reads).
pub(crate) fn raw_result(text: &str) -> Value {
    json!({ RAW_RESULT: text })
}

/// Builds a success response.
pub(crate) fn response(id: &Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// The encoded success response: `result` serialised, or a raw result's text spliced in as is.
pub(crate) fn response_text(id: &Value, result: Value) -> String {
    match result.get(RAW_RESULT).and_then(Value::as_str) {
        Some(text) => format!("{{\"jsonrpc\":\"2.0\",\"id\":{id},\"result\":{text}}}"),
        None => response(id, result).to_string(),
    }
}

/// Builds an error response (`id` is `null` when the request id is unknown).
pub(crate) fn error_response(id: &Value, err: &RpcError) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": err.to_value() })
}

/// Builds a notification.
pub(crate) fn notification(method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "method": method, "params": params })
}

/// Builds a request.
pub(crate) fn request(id: &Value, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// A map key for a request id (distinguishes `1` from `"1"`).
pub(crate) fn id_key(id: &Value) -> String {
    id.to_string()
}

/// Parses one received message; on failure returns the `-32700` error response to send.
pub(crate) fn parse_message(bytes: &[u8]) -> Result<Value, Value> {
    serde_json::from_slice::<Value>(bytes)
        .map_err(|e| error_response(&Value::Null, &RpcError::parse_error(e)))
}

/// What kind of JSON-RPC message a parsed value is.
pub(crate) enum Kind<'a> {
    /// Has `method` and `id`.
    Request(&'a Value, &'a str),
    /// Has `method`, no `id`.
    Notification(&'a str),
    /// Has `id` and `result` or `error`, no `method`.
    Response(&'a Value),
}

/// Classifies a message, or explains why it is not a valid JSON-RPC message.
pub(crate) fn classify(msg: &Value) -> Result<Kind<'_>, RpcError> {
    let Some(obj) = msg.as_object() else {
        return Err(RpcError::invalid_request(if msg.is_array() {
            "batches are not supported"
        } else {
            "message must be an object"
        }));
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(RpcError::invalid_request("jsonrpc must be \"2.0\""));
    }
    let id = obj.get("id").filter(|id| id.is_string() || id.is_number());
    match (obj.get("method"), id) {
        (Some(Value::String(m)), Some(id)) => Ok(Kind::Request(id, m)),
        (Some(Value::String(m)), None) if !obj.contains_key("id") => Ok(Kind::Notification(m)),
        (None, Some(id)) if obj.contains_key("result") || obj.contains_key("error") => {
            Ok(Kind::Response(id))
        }
        _ => Err(RpcError::invalid_request(
            "not a request, notification or response",
        )),
    }
}

/// `count` bytes of non-cryptographic randomness as lowercase hex (visible ASCII).
pub(crate) fn random_hex(count: usize) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut out = String::with_capacity(count * 2);
    while out.len() < count * 2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u128(nanos);
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        for byte in hasher.finish().to_le_bytes() {
            if out.len() < count * 2 {
                out.push_str(&format!("{byte:02x}"));
            }
        }
    }
    out
}
