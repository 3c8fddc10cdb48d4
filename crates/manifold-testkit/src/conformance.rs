//! `--profile conformance`: the resources, prompts and completions of the fixture that the
//! official MCP conformance suite (`@modelcontextprotocol/conformance`) expects; its tools
//! are in `conformance_tools`.
//!
//! Resources `test://static-text` (text), `test://static-binary` (PNG blob) and
//! `test://watched-resource` (subscribing to it brings one `notifications/resources/updated`
//! about 100 ms later, on the session's event stream), the template
//! `test://template/{id}/data`; any other URI is `-32002` with `data.uri`. Prompts
//! `test_simple_prompt`, `test_prompt_with_arguments(arg1, arg2)`,
//! `test_prompt_with_embedded_resource(resourceUri)` and `test_prompt_with_image`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::catalog::paginate;
use crate::conformance_tools;
use crate::methods::str_param;
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};

/// The methods whose answers come from this fixture (the others are common to all profiles).
pub(crate) const HANDLES: [&str; 9] = [
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "completion/complete",
];

/// A 1×1 red pixel, PNG, base64.
pub(crate) const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR42mP4z8AAAAMBAQD3A0FDAAAAAElFTkSuQmCC";

const STATIC_TEXT: &str = "test://static-text";
const STATIC_BINARY: &str = "test://static-binary";
const WATCHED: &str = "test://watched-resource";
const TEMPLATE: &str = "test://template/{id}/data";

/// How long after `resources/subscribe` the watched resource reports an update.
const WATCHED_UPDATE_AFTER: Duration = Duration::from_millis(100);

/// Runs one of [`HANDLES`].
pub(crate) async fn execute(
    session: &Arc<Session>,
    method: &str,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let page = session.opts().page_size;
    match method {
        "tools/list" => paginate(conformance_tools::tools(), params, page, "tools"),
        "tools/call" => conformance_tools::call(session, params, reply).await,
        "prompts/list" => paginate(prompts(), params, page, "prompts"),
        "prompts/get" => get_prompt(params),
        "resources/list" => paginate(resources(), params, page, "resources"),
        "resources/templates/list" => paginate(templates(), params, page, "resourceTemplates"),
        "resources/read" => read_resource(str_param(params, "uri")?),
        "resources/subscribe" => subscribe(session, str_param(params, "uri")?),
        "completion/complete" => complete(params),
        other => Err(RpcError::method_not_found(other)),
    }
}

pub(crate) fn resources() -> Vec<Value> {
    let resource = |uri: &str, name: &str, description: &str, mime: &str| json!({ "uri": uri, "name": name, "description": description, "mimeType": mime });
    vec![
        resource(
            STATIC_TEXT,
            "static-text",
            "A static text resource",
            "text/plain",
        ),
        resource(
            STATIC_BINARY,
            "static-binary",
            "A static binary resource (a PNG image)",
            "image/png",
        ),
        resource(
            WATCHED,
            "watched-resource",
            "A subscribable resource",
            "text/plain",
        ),
    ]
}

fn templates() -> Vec<Value> {
    vec![json!({
        "uriTemplate": TEMPLATE,
        "name": "template",
        "description": "A resource template with parameter substitution",
        "mimeType": "application/json",
    })]
}

/// The id of a `test://template/{id}/data` URI.
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix("test://template/")?
        .strip_suffix("/data")?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

pub(crate) fn read_resource(uri: &str) -> Result<Value, RpcError> {
    let content = match uri {
        STATIC_TEXT => json!({
            "uri": uri,
            "mimeType": "text/plain",
            "text": "This is the content of the static text resource.",
        }),
        STATIC_BINARY => json!({ "uri": uri, "mimeType": "image/png", "blob": PNG_BASE64 }),
        WATCHED => {
            json!({ "uri": uri, "mimeType": "text/plain", "text": "Watched resource content" })
        }
        _ => {
            let id = template_id(uri).ok_or_else(|| RpcError::resource_not_found(uri))?;
            let text = format!(
                "{{\"id\":{},\"templateTest\":true,\"data\":{}}}",
                json!(id),
                json!(format!("Data for ID: {id}"))
            );
            json!({ "uri": uri, "mimeType": "application/json", "text": text })
        }
    };
    Ok(json!({ "contents": [content] }))
}

fn subscribe(session: &Arc<Session>, uri: &str) -> Result<Value, RpcError> {
    session.subscribe(uri, true);
    if uri == WATCHED {
        let session = Arc::clone(session);
        tokio::spawn(async move {
            tokio::time::sleep(WATCHED_UPDATE_AFTER).await;
            if session.is_subscribed(WATCHED) {
                let note =
                    rpc::notification("notifications/resources/updated", json!({ "uri": WATCHED }));
                session.send_event(Out::Message(note.to_string()));
            }
        });
    }
    Ok(json!({}))
}

pub(crate) fn prompts() -> Vec<Value> {
    let arg = |name: &str, description: &str| json!({ "name": name, "description": description, "required": true });
    vec![
        json!({ "name": "test_simple_prompt", "description": "A simple prompt without arguments" }),
        json!({
            "name": "test_prompt_with_arguments",
            "description": "A prompt with required arguments",
            "arguments": [arg("arg1", "First test argument"), arg("arg2", "Second test argument")],
        }),
        json!({
            "name": "test_prompt_with_embedded_resource",
            "description": "A prompt that includes an embedded resource",
            "arguments": [arg("resourceUri", "URI of the resource to embed")],
        }),
        json!({ "name": "test_prompt_with_image", "description": "A prompt that includes image content" }),
    ]
}

pub(crate) fn user(content: Value) -> Value {
    json!({ "role": "user", "content": content })
}

pub(crate) fn get_prompt(params: &Value) -> Result<Value, RpcError> {
    let name = str_param(params, "name")?;
    let arg = |key: &str| {
        params
            .pointer(&format!("/arguments/{key}"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::invalid_params(format!("prompt {name} requires argument {key:?}"))
            })
    };
    let text = |t: &str| json!({ "type": "text", "text": t });
    let messages = match name {
        "test_simple_prompt" => vec![user(text("This is a simple prompt for testing."))],
        "test_prompt_with_arguments" => {
            let (a, b) = (arg("arg1")?, arg("arg2")?);
            let t = format!("Prompt with arguments: arg1='{a}', arg2='{b}'");
            vec![user(text(&t))]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = arg("resourceUri")?;
            let resource = json!({
                "uri": uri,
                "mimeType": "text/plain",
                "text": "Embedded resource content for testing.",
            });
            vec![
                user(json!({ "type": "resource", "resource": resource })),
                user(text("Please process the embedded resource above.")),
            ]
        }
        "test_prompt_with_image" => vec![
            user(json!({ "type": "image", "data": PNG_BASE64, "mimeType": "image/png" })),
            user(text("Please analyze the image above.")),
        ],
        other => {
            return Err(RpcError::invalid_params(format!(
                "unknown prompt {other:?}"
            )))
        }
    };
    Ok(json!({ "description": format!("prompt {name}"), "messages": messages }))
}

fn complete(params: &Value) -> Result<Value, RpcError> {
    let field = |pointer: &str| {
        params
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let (arg_name, prefix) = (field("/argument/name"), field("/argument/value"));
    let candidates: &[&str] = match field("/ref/type") {
        "ref/prompt" => match (field("/ref/name"), arg_name) {
            ("test_prompt_with_arguments", "arg1") => &["paris", "park", "party"],
            ("test_prompt_with_arguments", "arg2") => &["blue", "green", "red"],
            (name, _) if prompts().iter().any(|p| p["name"] == name) => &[],
            (name, _) => {
                return Err(RpcError::invalid_params(format!("unknown prompt {name:?}")));
            }
        },
        "ref/resource" => match (field("/ref/uri"), arg_name) {
            (TEMPLATE, "id") => &["1", "2", "3", "123"],
            (TEMPLATE, _) => &[],
            (uri, _) => {
                return Err(RpcError::invalid_params(format!(
                    "unknown resource template {uri:?}"
                )));
            }
        },
        other => {
            return Err(RpcError::invalid_params(format!(
                "unknown ref type {other:?}"
            )))
        }
    };
    let values: Vec<&str> = candidates
        .iter()
        .copied()
        .filter(|c| c.starts_with(prefix))
        .collect();
    Ok(json!({ "completion": { "values": values, "total": values.len(), "hasMore": false } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_read_strictly() {
        let text = read_resource("test://template/123/data").unwrap();
        assert_eq!(
            text["contents"][0]["text"],
            r#"{"id":"123","templateTest":true,"data":"Data for ID: 123"}"#
        );
        assert!(read_resource(STATIC_BINARY).unwrap()["contents"][0]["blob"].is_string());
        for bad in [
            "test://nonexistent-resource-for-conformance-testing",
            "test://template//data",
            "test://template/a/b/data",
        ] {
            let err = read_resource(bad).unwrap_err();
            assert_eq!((err.code, err.data), (-32002, Some(json!({ "uri": bad }))));
        }
    }

    #[test]
    fn prompts_substitute_and_require_arguments() {
        let params = json!({
            "name": "test_prompt_with_arguments",
            "arguments": { "arg1": "hello", "arg2": "world" },
        });
        let got = get_prompt(&params).unwrap();
        assert_eq!(
            got["messages"][0]["content"]["text"],
            "Prompt with arguments: arg1='hello', arg2='world'"
        );
        let missing = json!({ "name": "test_prompt_with_arguments", "arguments": { "arg1": "x" } });
        assert_eq!(get_prompt(&missing).unwrap_err().code, -32602);
        assert_eq!(
            get_prompt(&json!({ "name": "nope" })).unwrap_err().code,
            -32602
        );
    }

    #[test]
    fn completion_filters_by_prefix() {
        let params = json!({
            "ref": { "type": "ref/prompt", "name": "test_prompt_with_arguments" },
            "argument": { "name": "arg1", "value": "par" },
        });
        let got = complete(&params).unwrap();
        assert_eq!(
            got["completion"]["values"],
            json!(["paris", "park", "party"])
        );
        let unknown = json!({ "ref": { "type": "ref/prompt", "name": "x" }, "argument": {} });
        assert_eq!(complete(&unknown).unwrap_err().code, -32602);
    }
}
