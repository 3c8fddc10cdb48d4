//! Request handlers for every supported method except `tools/call` (see `tools`).

use std::sync::Arc;

use serde_json::{json, Value};

use crate::catalog;
use crate::conformance;
use crate::options::Profile;
use crate::rpc::{RpcError, LATEST_VERSION, SUPPORTED_VERSIONS};
use crate::session::{Reply, Session};
use crate::tools;

/// The `logging/setLevel` levels, least severe first.
pub(crate) const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Runs one request to completion. Never returns for calls that must not be answered.
pub(crate) async fn execute(
    session: &Arc<Session>,
    method: &str,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let opts = session.opts();
    let page = opts.page_size;
    if opts.profile == Profile::Conformance && conformance::HANDLES.contains(&method) {
        return conformance::execute(session, method, params, reply).await;
    }
    match method {
        "initialize" => initialize(session, params).await,
        "ping" if opts.ignore_ping => std::future::pending().await,
        "ping" => Ok(json!({})),
        "tools/list" => catalog::paginate(
            catalog::tools(opts, session.tool_view()),
            params,
            page,
            "tools",
        ),
        "tools/call" => tools::call(session, params, reply).await,
        "prompts/list" => catalog::paginate(catalog::prompts(opts), params, page, "prompts"),
        "prompts/get" => get_prompt(session, params),
        "resources/list" => catalog::paginate(catalog::resources(opts), params, page, "resources"),
        "resources/templates/list" => {
            catalog::paginate(catalog::templates(opts), params, page, "resourceTemplates")
        }
        "resources/read" => read_resource(session, params),
        "resources/subscribe" if opts.refuse_subscribe_ms.is_some() => {
            let ms = opts.refuse_subscribe_ms.unwrap_or_default();
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Err(RpcError::internal("subscriptions are refused here"))
        }
        "resources/subscribe" | "resources/unsubscribe" => {
            let uri = str_param(params, "uri")?;
            session.subscribe(uri, method == "resources/subscribe");
            Ok(json!({}))
        }
        "completion/complete" => complete(session, params),
        "logging/setLevel" => {
            let level = str_param(params, "level")?;
            match LOG_LEVELS.iter().position(|l| *l == level) {
                Some(index) => {
                    session.set_log_level(index);
                    Ok(json!({}))
                }
                None => Err(RpcError::invalid_params(format!(
                    "unknown log level {level:?}"
                ))),
            }
        }
        other => Err(RpcError::method_not_found(other)),
    }
}

/// A required string parameter (`-32602` when absent).
pub(crate) fn str_param<'a>(params: &'a Value, key: &str) -> Result<&'a str, RpcError> {
    params
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params(format!("missing string parameter {key:?}")))
}

/// The server's capabilities, the same in both eras.
pub(crate) fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": true },
        "prompts": { "listChanged": true },
        "resources": { "subscribe": true, "listChanged": true },
        "completions": {},
        "logging": {},
    })
}

/// The server's `Implementation` (`serverInfo`).
pub(crate) fn server_info(opts: &crate::options::Options) -> Value {
    json!({ "name": opts.name, "version": "0.1.0" })
}

async fn initialize(session: &Session, params: &Value) -> Result<Value, RpcError> {
    let opts = session.opts();
    if opts.hang_initialize {
        std::future::pending::<()>().await;
    }
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    let version = requested
        .filter(|v| SUPPORTED_VERSIONS.contains(v))
        .unwrap_or(LATEST_VERSION);
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(opts),
    });
    if let Some(text) = &opts.instructions {
        result["instructions"] = json!(text);
    }
    Ok(result)
}

fn get_prompt(session: &Session, params: &Value) -> Result<Value, RpcError> {
    let opts = session.opts();
    let name = str_param(params, "name")?;
    if !catalog::has_prompt(opts, name) {
        return Err(RpcError::invalid_params(format!("unknown prompt {name:?}")));
    }
    let text = if name == "greet" {
        let who = params
            .pointer("/arguments/name")
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params("prompt greet requires argument \"name\""))?;
        format!("Hello, {who}!")
    } else {
        format!("{name} of {}", opts.name)
    };
    Ok(json!({
        "description": format!("prompt {name}"),
        "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
    }))
}

fn read_resource(session: &Session, params: &Value) -> Result<Value, RpcError> {
    let uri = str_param(params, "uri")?;
    if let Some(raw) = uri
        .strip_prefix("testkit-raw:")
        .filter(|_| session.opts().raw)
    {
        return Ok(crate::rpc::raw_result(raw));
    }
    let text = catalog::read_resource(session.opts(), uri)
        .ok_or_else(|| RpcError::resource_not_found(uri))?;
    Ok(json!({ "contents": [{ "uri": uri, "mimeType": "text/plain", "text": text }] }))
}

fn complete(session: &Session, params: &Value) -> Result<Value, RpcError> {
    let opts = session.opts();
    let reference = params
        .get("ref")
        .ok_or_else(|| RpcError::invalid_params("missing ref"))?;
    let arg_name = params
        .pointer("/argument/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let prefix = params
        .pointer("/argument/value")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let candidates: &[&str] = match reference.get("type").and_then(Value::as_str) {
        Some("ref/prompt") => {
            let name = reference
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !catalog::has_prompt(opts, name) {
                return Err(RpcError::invalid_params(format!("unknown prompt {name:?}")));
            }
            match (name, arg_name) {
                ("greet", "name") => &["alice", "bob", "carol"],
                _ => &[],
            }
        }
        Some("ref/resource") => {
            let uri = reference
                .get("uri")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if uri != catalog::template_uri(opts) {
                return Err(RpcError::invalid_params(format!(
                    "unknown resource template {uri:?}"
                )));
            }
            match arg_name {
                "id" => &["1", "2", "3"],
                _ => &[],
            }
        }
        _ => return Err(RpcError::invalid_params(format!("unknown ref {reference}"))),
    };
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|c| c.starts_with(prefix))
        .collect();
    Ok(json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } }))
}
