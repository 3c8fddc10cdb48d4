//! JSON-RPC error objects and the error codes MCP uses (mcp-spec.md §3.7).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Error codes Manifold sends or inspects.
pub mod code {
    /// Invalid JSON was received.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON sent is not a valid request object.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The method does not exist or its capability was not advertised.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid params: unknown tool or prompt, bad cursor, bad arguments.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error; Manifold uses it for an unavailable or failing upstream.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Resource not found (legacy protocol versions).
    pub const RESOURCE_NOT_FOUND: i64 = -32002;
    /// Implementation-defined server error; rate limits use it.
    pub const SERVER_ERROR: i64 = -32000;
    /// 2026-07-28: an HTTP header disagrees with the body, or a required one is missing.
    pub const HEADER_MISMATCH: i64 = -32020;
    /// 2026-07-28: the request needs a client capability it did not declare.
    pub const MISSING_CLIENT_CAPABILITY: i64 = -32021;
    /// 2026-07-28: the request's protocol version is not served (`data.supported`,
    /// `data.requested`).
    pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
}

/// A JSON-RPC error object; `data` is forwarded verbatim.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorObject {
    /// The error code.
    pub code: i64,
    /// A short description.
    pub message: String,
    /// Extra information, untouched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
}

impl ErrorObject {
    /// An error without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// An error carrying `data` (serialised once here).
    pub fn with_data(code: i64, message: impl Into<String>, data: serde_json::Value) -> Self {
        ErrorObject {
            code,
            message: message.into(),
            data: serde_json::value::to_raw_value(&data).ok(),
        }
    }

    /// `-32602` invalid params.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(code::INVALID_PARAMS, message)
    }

    /// `-32603` naming the upstream alias in `data.server`.
    pub fn upstream(alias: &str, message: impl Into<String>, reason: &str) -> Self {
        Self::with_data(
            code::INTERNAL_ERROR,
            message,
            serde_json::json!({ "server": alias, "reason": reason }),
        )
    }
}
