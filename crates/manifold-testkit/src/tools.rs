//! `tools/call`: the behaviour of every tool.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::catalog;
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};

/// The line the `garbage` tool writes before answering.
pub(crate) const GARBAGE: &str = "this is not json {{{";

/// A `text` content block.
pub(crate) fn text(s: impl Into<String>) -> Value {
    json!({ "type": "text", "text": s.into() })
}

/// A successful tool result with one text block.
pub(crate) fn ok_text(s: impl Into<String>) -> Value {
    json!({ "content": [text(s)] })
}

/// A tool execution error (`isError: true`) with one text block.
pub(crate) fn tool_error(s: impl Into<String>) -> Value {
    json!({ "content": [text(s)], "isError": true })
}

/// Runs `tools/call`. Unknown tools are a protocol error (-32602); bad arguments are a
/// tool execution error (`isError: true`).
pub(crate) async fn call(
    session: &Arc<Session>,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let opts = session.opts();
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("missing tool name"))?;
    let base = catalog::resolve_tool(opts, session.tool_view(), name)
        .ok_or_else(|| RpcError::invalid_params(format!("unknown tool {name:?}")))?;
    let empty = json!({});
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Ok(tool_error("arguments must be an object")),
    };
    let result = match base {
        "echo" => match args.get("text").and_then(Value::as_str) {
            Some(t) => {
                // Optionally a notification first (`notify`, `notify_params`), on the call's stream.
                if let Some(method) = args.get("notify").and_then(Value::as_str) {
                    let params = args.get("notify_params").cloned().unwrap_or(json!({}));
                    let note = rpc::notification(method, params);
                    session.deliver(reply, Out::Message(note.to_string()));
                }
                ok_text(t)
            }
            None => tool_error("missing string argument \"text\""),
        },
        "add" => add(args),
        "fail" => tool_error(
            args.get("message")
                .and_then(Value::as_str)
                .unwrap_or("failed on purpose"),
        ),
        "sleep" => match args.get("ms").and_then(Value::as_u64) {
            Some(ms) => sleep(session, params, reply, ms).await,
            None => tool_error("missing non-negative integer argument \"ms\""),
        },
        "hang" | "crash" => std::future::pending::<Value>().await,
        "garbage" => {
            session.deliver(reply, Out::Message(GARBAGE.to_string()));
            ok_text("ok")
        }
        "big" => match args.get("bytes").and_then(Value::as_u64) {
            Some(n) => ok_text("x".repeat(n as usize)),
            None => tool_error("missing non-negative integer argument \"bytes\""),
        },
        "link" => link(session),
        "whoami" => {
            let who = session.whoami();
            json!({ "content": [text(who.to_string())], "structuredContent": who })
        }
        "toggle" => {
            let present = session.toggle();
            let note = rpc::notification("notifications/tools/list_changed", json!({}));
            session.send_event(Out::Message(note.to_string()));
            ok_text(if present { "toggled on" } else { "toggled off" })
        }
        "toggled" => ok_text("toggled"),
        "raw" => match args.get("result").and_then(Value::as_str) {
            Some(result) => {
                if let Some(note) = args.get("notify").and_then(Value::as_str) {
                    session.deliver(reply, Out::Message(note.to_string()));
                }
                rpc::raw_result(result)
            }
            None => tool_error("missing string argument \"result\""),
        },
        "roots" => match session.request_client(reply, "roots/list", json!({})).await {
            Ok(result) => ok_text(format!("roots: {result}")),
            Err(err) => ok_text(format!("no roots: {}", err.message)),
        },
        "sample" => match (
            args.get("prompt").and_then(Value::as_str),
            args.get("cancel_after_ms").and_then(Value::as_u64),
        ) {
            (Some(prompt), Some(ms)) => sample_then_cancel(session, reply, prompt, ms).await,
            (Some(prompt), None) => sample(session, params, reply, prompt).await,
            (None, _) => tool_error("missing string argument \"prompt\""),
        },
        // Generated and long-named tools echo their text argument.
        other => ok_text(args.get("text").and_then(Value::as_str).unwrap_or(other)),
    };
    Ok(result)
}

fn add(args: &Value) -> Value {
    let (Some(a), Some(b)) = (args.get("a"), args.get("b")) else {
        return tool_error("arguments \"a\" and \"b\" are required");
    };
    let sum = match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) if x.checked_add(y).is_some() => json!(x + y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => json!(x + y),
            _ => return tool_error("arguments \"a\" and \"b\" must be numbers"),
        },
    };
    json!({ "content": [text(sum.to_string())], "structuredContent": { "sum": sum } })
}

async fn sleep(session: &Session, params: &Value, reply: &Reply, ms: u64) -> Value {
    let token = params.pointer("/_meta/progressToken").cloned();
    let total = Duration::from_millis(ms);
    let step = total / 3;
    for i in 1..=3u32 {
        let wait = if i == 3 { total - step * 2 } else { step };
        tokio::time::sleep(wait).await;
        if let Some(token) = &token {
            let note = rpc::notification(
                "notifications/progress",
                json!({ "progressToken": token, "progress": i, "total": 3 }),
            );
            session.deliver(reply, Out::Message(note.to_string()));
        }
    }
    ok_text(format!("slept {ms}ms"))
}

fn link(session: &Session) -> Value {
    let opts = session.opts();
    let (uri, name, body) = if opts.resources > 0 {
        let uri = catalog::resource_uri(opts, 0);
        (uri, "res-0".to_string(), catalog::resource_text(opts, 0))
    } else {
        let uri = catalog::template_uri(opts).replace("{id}", "1");
        let body = catalog::read_resource(opts, &uri).unwrap_or_default();
        (uri, "tpl-1".to_string(), body)
    };
    json!({
        "content": [
            { "type": "resource_link", "uri": uri, "name": name, "mimeType": "text/plain" },
            { "type": "resource", "resource": { "uri": uri, "mimeType": "text/plain", "text": body } },
        ]
    })
}

/// Asks the client to sample; once it answered, reports one progress step (when the call
/// carried a token) and answers with the sampled text.
async fn sample(session: &Session, params: &Value, reply: &Reply, prompt: &str) -> Value {
    let request = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100,
    });
    match session
        .request_client(reply, "sampling/createMessage", request)
        .await
    {
        Ok(result) => match sampled_text(&result) {
            Some(t) => {
                if let Some(token) = params.pointer("/_meta/progressToken") {
                    let note = rpc::notification(
                        "notifications/progress",
                        json!({ "progressToken": token, "progress": 1, "message": "sampled" }),
                    );
                    session.deliver(reply, Out::Message(note.to_string()));
                }
                ok_text(t)
            }
            None => tool_error(format!("sampling result has no text content: {result}")),
        },
        Err(err) => tool_error(format!("sampling failed: {}", err.message)),
    }
}

/// Asks the client to sample, then cancels the request after `ms` without waiting for it.
async fn sample_then_cancel(session: &Session, reply: &Reply, prompt: &str, ms: u64) -> Value {
    let params = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100,
    });
    let after = Duration::from_millis(ms);
    match session
        .request_client_then_cancel(reply, "sampling/createMessage", params, after)
        .await
    {
        Ok(()) => ok_text("sampling cancelled"),
        Err(err) => tool_error(format!("sampling failed: {}", err.message)),
    }
}

/// The text of a `sampling/createMessage` result (`content` is one block or, since
/// 2025-11-25, possibly an array whose first block is used).
pub(crate) fn sampled_text(result: &Value) -> Option<&str> {
    let content = result.get("content")?;
    let first = match content {
        Value::Array(items) => items.first()?,
        other => other,
    };
    first.get("text").and_then(Value::as_str)
}
