//! The JSON-RPC 2.0 and MCP wire model Manifold speaks on every face: ids, messages, error codes,
//! method names, protocol versions and the newline-delimited stdio framing. No I/O lives here.
//!
//! Only what the gateway rewrites is typed; `params`, `result` and `error.data` stay
//! [`serde_json::value::RawValue`] so that fields Manifold does not know pass through byte-for-byte.

pub mod codec;
pub mod dupes;
pub mod error;
pub mod id;
pub mod message;
pub mod method;
pub mod modern;
pub mod object;
pub mod param_headers;
pub mod splice;
pub mod sse;
pub mod version;

pub use codec::{Frame, LineDecoder};
pub use error::{code, ErrorObject};
pub use id::Id;
pub use message::{
    decode, decode_client, decode_from, decode_one, decode_one_client, encode_error,
    encode_notification, encode_request, encode_result, DecodeError, Decoded, Message,
    Notification, Request, Response, Source,
};
pub use object::RawObject;
pub use serde_json::value::RawValue;

#[cfg(test)]
mod props;
#[cfg(test)]
mod tests;
