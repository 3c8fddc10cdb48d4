//! What flows through the policy stack: one routed client request ([`Call`]) and its answer
//! ([`Reply`]), with the `outcome` label every layer agrees on.

use std::sync::Arc;
use std::time::Duration;

use manifold_protocol::{ErrorObject, RawValue};
use serde_json::Value;

use crate::access::View;
use crate::server::ServerPolicy;
use crate::validate::ArgumentSchema;

/// What a routed request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// A tool (`tools/call`).
    Tool,
    /// A prompt (`prompts/get`).
    Prompt,
    /// A resource (`resources/read`, subscriptions).
    Resource,
}

/// One client request that an upstream will serve, as the policy layers see it.
pub struct Call {
    /// Who sent it.
    pub principal: Arc<str>,
    /// The downstream session it came on.
    pub session: u64,
    /// What the session may see.
    pub view: Arc<View>,
    /// The MCP method.
    pub method: &'static str,
    /// What it names.
    pub kind: ItemKind,
    /// The name (or URI) as the client sent it.
    pub name: String,
    /// The upstream that serves it, with that upstream's limits.
    pub server: Arc<ServerPolicy>,
    /// `tools/call` arguments as they will be sent (fixed arguments already set), parsed for
    /// validation.
    pub arguments: Option<Value>,
    /// The same arguments as the JSON text sent, for the audit log (numbers as written).
    pub arguments_text: Option<Box<RawValue>>,
    /// The tool's `inputSchema`, compiled; `None` when not validated.
    pub schema: Option<Arc<ArgumentSchema>>,
    /// The deadline of the upstream request: set by the timeout layer, the one place it is
    /// decided (`None` before; the upstream's default then).
    pub timeout: Option<Duration>,
    /// What the innermost service does with the call once every layer let it through: send it
    /// upstream. Taken by that service.
    pub forward: Option<Forward>,
}

/// Sends a call the layers let through upstream, under the deadline the stack set.
pub type Forward = Box<dyn FnOnce(&Call) -> BoxFuture + Send>;

/// The future of a [`Forward`].
pub type BoxFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send>>;

/// How a request ended, for metrics and the audit log (DESIGN.md § Interfaces).
pub type Outcome = &'static str;

/// A request that did not produce a result: the error the client gets and its `outcome` label.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What the client receives.
    pub error: ErrorObject,
    /// The `outcome` label (`error`, `timeout`, `rate_limited`, `denied`, `unavailable`).
    pub outcome: Outcome,
}

/// The answer to a [`Call`].
pub type Reply = Result<Box<RawValue>, Failure>;

/// The `outcome` label of an answer.
pub fn outcome(reply: &Reply) -> Outcome {
    match reply {
        Ok(result) if is_tool_error(result) => "tool_error",
        Ok(_) => "ok",
        Err(f) => f.outcome,
    }
}

/// A `CallToolResult` whose top-level `isError` is `true`. The object is parsed only when its
/// text could hold such a member: the name as written, or spelled with an escape of one of its
/// letters (encoders escape non-ASCII text, which never needs the parse).
pub fn is_tool_error(result: &RawValue) -> bool {
    let text = result.get();
    if !text.contains("isError") && !has_escaped_letter_of_is_error(text) {
        return false;
    }
    manifold_protocol::RawObject::parse(result)
        .ok()
        .and_then(|object| object.get("isError").map(|v| v.get() == "true"))
        .unwrap_or(false)
}

/// Whether `text` has a `\uXXXX` escape of a letter of `isError` (`i s E r o`).
fn has_escaped_letter_of_is_error(text: &str) -> bool {
    text.match_indices("\\u").any(|(at, _)| {
        text.get(at + 2..at + 6)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
            .and_then(char::from_u32)
            .is_some_and(|c| "isEro".contains(c))
    })
}

/// The boxed future a layer answers with.
pub type BoxReply =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Reply, Infallible>> + Send>>;

/// Layers never fail as services: a refusal is a [`Reply`].
pub use std::convert::Infallible;

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    #[test]
    fn a_tool_error_is_read_from_the_top_level_member_only() {
        assert!(is_tool_error(&raw(r#"{"content":[],"isError":true}"#)));
        assert!(is_tool_error(&raw(r#"{ "isError" : true }"#)));
        assert!(is_tool_error(&raw(r#"{"is\u0045rror":true}"#)));
        assert!(!is_tool_error(&raw(r#"{"isError":false}"#)));
        assert!(!is_tool_error(&raw(
            r#"{"content":[{"type":"text","text":"\"isError\":true"}]}"#
        )));
        assert!(!is_tool_error(&raw(
            r#"{"structuredContent":{"isError":true}}"#
        )));
        assert!(!is_tool_error(&raw(r#"{"content":[]}"#)));
        assert!(is_tool_error(&raw(r#"{"\u0069sErr\u006Fr":true}"#)));
        // Escaped text that cannot spell the name is not parsed for it.
        assert!(!has_escaped_letter_of_is_error(
            r#"{"content":[{"text":"caf\u00e9 \u2014"}]}"#
        ));
        assert!(has_escaped_letter_of_is_error(r#"{"\u0045":1}"#));
    }
}
