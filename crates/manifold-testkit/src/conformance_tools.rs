//! `--profile conformance`: the fixture tools of the official MCP conformance suite (`test_*`
//! and `json_schema_2020_12_tool`), listed and called.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::conformance::PNG_BASE64;
use crate::methods::LOG_LEVELS;
use crate::rpc::{self, RpcError};
use crate::session::{Out, Reply, Session};
use crate::tools::{ok_text, sampled_text, text, tool_error};

/// A short WAV file (8 kHz, mono, 16-bit, four silent samples), base64.
const WAV_BASE64: &str = "UklGRiwAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQgAAAAAAAAAAAAAAA==";

/// The pause between the notifications of the logging and progress tools.
const STEP: Duration = Duration::from_millis(50);

/// How long `test_reconnection` waits after closing its stream before answering.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

pub(crate) fn no_args() -> Value {
    json!({ "type": "object", "properties": {} })
}

pub(crate) fn string_args(names: &[(&str, &str)]) -> Value {
    let properties: serde_json::Map<String, Value> = names
        .iter()
        .map(|(n, d)| (n.to_string(), json!({ "type": "string", "description": d })))
        .collect();
    let required: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

/// The schema the `json-schema-2020-12` scenario expects verbatim: SEP-1613's `$schema`, `$defs`
/// and `additionalProperties`, and SEP-2106's `$anchor`, `allOf`/`anyOf` and `if`/`then`/`else`.
fn schema_2020_12() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": { "street": { "type": "string" }, "city": { "type": "string" } },
            },
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" },
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": {
            "properties": { "contactMethod": { "const": "phone" } },
            "required": ["contactMethod"],
        },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false,
    })
}

/// All fixture tools.
pub(crate) fn tools() -> Vec<Value> {
    let tool = |name: &str, description: &str, schema: Value| json!({ "name": name, "description": description, "inputSchema": schema });
    vec![
        tool("test_simple_text", "Returns simple text content", no_args()),
        tool(
            "test_image_content",
            "Returns image content (PNG)",
            no_args(),
        ),
        tool(
            "test_audio_content",
            "Returns audio content (WAV)",
            no_args(),
        ),
        tool(
            "test_embedded_resource",
            "Returns an embedded resource",
            no_args(),
        ),
        tool(
            "test_multiple_content_types",
            "Returns text, image and embedded resource content",
            no_args(),
        ),
        tool(
            "test_tool_with_logging",
            "Sends three info log messages, 50 ms apart, then answers",
            no_args(),
        ),
        tool(
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100, 50 ms apart, then answers",
            no_args(),
        ),
        tool(
            "test_error_handling",
            "Always returns a tool error",
            no_args(),
        ),
        tool(
            "test_reconnection",
            "Closes its SSE stream mid-call and answers after the client resumes (SEP-1699)",
            no_args(),
        ),
        tool(
            "test_sampling",
            "Asks the client to sample an LLM (sampling/createMessage)",
            string_args(&[("prompt", "The prompt to send to the LLM")]),
        ),
        tool(
            "test_elicitation",
            "Asks the client for user input (elicitation/create)",
            string_args(&[("message", "The message to show the user")]),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Elicits a form whose fields all have default values (SEP-1034)",
            no_args(),
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Elicits a form with the five enum variants (SEP-1330)",
            no_args(),
        ),
        tool(
            "json_schema_2020_12_tool",
            "Tool with JSON Schema 2020-12 features (SEP-1613)",
            schema_2020_12(),
        ),
    ]
}

/// Runs `tools/call`. Unknown tools are `-32602`; bad arguments are an `isError` result.
pub(crate) async fn call(
    session: &Arc<Session>,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| RpcError::invalid_params("missing tool name"))?;
    let empty = json!({});
    let args = match params.get("arguments") {
        None | Some(Value::Null) => &empty,
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Ok(tool_error("arguments must be an object")),
    };
    let image = json!({ "type": "image", "data": PNG_BASE64, "mimeType": "image/png" });
    let result = match name {
        "test_simple_text" => ok_text("This is a simple text response for testing."),
        "test_image_content" => json!({ "content": [image] }),
        "test_audio_content" => {
            json!({ "content": [{ "type": "audio", "data": WAV_BASE64, "mimeType": "audio/wav" }] })
        }
        "test_embedded_resource" => {
            let resource = json!({
                "uri": "test://embedded-resource",
                "mimeType": "text/plain",
                "text": "This is an embedded resource content.",
            });
            json!({ "content": [{ "type": "resource", "resource": resource }] })
        }
        "test_multiple_content_types" => {
            let resource = json!({
                "uri": "test://mixed-content-resource",
                "mimeType": "application/json",
                "text": r#"{"test":"data","value":123}"#,
            });
            json!({ "content": [
                text("Multiple content types test:"),
                image,
                { "type": "resource", "resource": resource },
            ] })
        }
        "test_tool_with_logging" => {
            with_logging(session, reply, |level| session.logs_at(level)).await
        }
        "test_tool_with_progress" => with_progress(session, params, reply).await,
        "test_error_handling" => tool_error("This tool intentionally returns an error for testing"),
        "test_reconnection" => {
            session.deliver(reply, Out::Detach);
            tokio::time::sleep(RECONNECT_PAUSE).await;
            ok_text("Reconnection test completed successfully.")
        }
        "test_sampling" => match args.get("prompt").and_then(Value::as_str) {
            Some(prompt) => sampling(session, reply, prompt).await,
            None => tool_error("missing string argument \"prompt\""),
        },
        "test_elicitation" => match args.get("message").and_then(Value::as_str) {
            Some(message) => elicit(session, reply, message, user_schema(), "User response").await,
            None => tool_error("missing string argument \"message\""),
        },
        "test_elicitation_sep1034_defaults" => {
            let message = "Please review and update the form fields with defaults";
            elicit(
                session,
                reply,
                message,
                sep1034_schema(),
                "Elicitation completed",
            )
            .await
        }
        "test_elicitation_sep1330_enums" => {
            let message = "Please select options from the enum fields";
            elicit(
                session,
                reply,
                message,
                sep1330_schema(),
                "Elicitation completed",
            )
            .await
        }
        "json_schema_2020_12_tool" => {
            ok_text(format!("JSON Schema 2020-12 tool called with: {args}"))
        }
        other => return Err(RpcError::invalid_params(format!("unknown tool {other:?}"))),
    };
    Ok(result)
}

/// Sends three info messages 50 ms apart (those `passes` lets through), then answers.
pub(crate) async fn with_logging(
    session: &Session,
    reply: &Reply,
    passes: impl Fn(usize) -> bool,
) -> Value {
    let info = LOG_LEVELS.iter().position(|l| *l == "info").unwrap_or(1);
    let steps = [
        "Tool execution started",
        "Tool processing data",
        "Tool execution completed",
    ];
    for (i, message) in steps.into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        if passes(info) {
            let params = json!({ "level": "info", "logger": "conformance", "data": message });
            let note = rpc::notification("notifications/message", params);
            session.deliver(reply, Out::Message(note.to_string()));
        }
    }
    ok_text("Tool with logging executed successfully")
}

async fn with_progress(session: &Session, params: &Value, reply: &Reply) -> Value {
    let token = params.pointer("/_meta/progressToken").cloned();
    for (i, progress) in [0, 50, 100].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(STEP).await;
        }
        if let Some(token) = &token {
            let params = json!({
                "progressToken": token,
                "progress": progress,
                "total": 100,
                "message": format!("Completed step {progress} of 100"),
            });
            let note = rpc::notification("notifications/progress", params);
            session.deliver(reply, Out::Message(note.to_string()));
        }
    }
    ok_text("Tool with progress executed successfully")
}

/// Whether the client declared `capability` in initialize.
fn client_has(session: &Session, capability: &str) -> bool {
    let caps = session.whoami();
    caps.pointer(&format!("/capabilities/{capability}"))
        .is_some_and(|c| !c.is_null())
}

async fn sampling(session: &Session, reply: &Reply, prompt: &str) -> Value {
    if !client_has(session, "sampling") {
        return tool_error("the client did not declare the sampling capability");
    }
    let params = json!({
        "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
        "maxTokens": 100,
    });
    match session
        .request_client(reply, "sampling/createMessage", params)
        .await
    {
        Ok(result) => match sampled_text(&result) {
            Some(t) => ok_text(format!("LLM response: {t}")),
            None => tool_error(format!("sampling result has no text content: {result}")),
        },
        Err(err) => tool_error(format!("sampling failed: {}", err.message)),
    }
}

async fn elicit(
    session: &Session,
    reply: &Reply,
    message: &str,
    schema: Value,
    label: &str,
) -> Value {
    if !client_has(session, "elicitation") {
        return tool_error("the client did not declare the elicitation capability");
    }
    let params = json!({ "message": message, "requestedSchema": schema });
    match session
        .request_client(reply, "elicitation/create", params)
        .await
    {
        Ok(result) => {
            let action = result
                .get("action")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            let content = result.get("content").cloned().unwrap_or_else(|| json!({}));
            ok_text(format!("{label}: action={action}, content={content}"))
        }
        Err(err) => tool_error(format!("elicitation failed: {}", err.message)),
    }
}

/// The form `test_elicitation` asks the user to fill in.
pub(crate) fn user_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "username": { "type": "string", "description": "User's response" },
            "email": { "type": "string", "description": "User's email address" },
        },
        "required": ["username", "email"],
    })
}

/// A form whose fields of every primitive type carry a default (SEP-1034).
pub(crate) fn sep1034_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": { "type": "string", "description": "User name", "default": "John Doe" },
            "age": { "type": "integer", "description": "User age", "default": 30 },
            "score": { "type": "number", "description": "User score", "default": 95.5 },
            "status": {
                "type": "string",
                "description": "User status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": { "type": "boolean", "description": "Verification status", "default": true },
        },
        "required": [],
    })
}

/// A form with the five enum variants of SEP-1330.
pub(crate) fn sep1330_schema() -> Value {
    let titled = |prefix: &str, noun: &str| {
        json!([
            { "const": format!("{prefix}1"), "title": format!("First {noun}") },
            { "const": format!("{prefix}2"), "title": format!("Second {noun}") },
            { "const": format!("{prefix}3"), "title": format!("Third {noun}") },
        ])
    };
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": {
                "type": "string",
                "description": "Select one option",
                "enum": ["option1", "option2", "option3"],
            },
            "titledSingle": {
                "type": "string",
                "description": "Select one option with titles",
                "oneOf": titled("value", "Option"),
            },
            "legacyEnum": {
                "type": "string",
                "description": "Select one option (legacy)",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "description": "Select multiple options",
                "minItems": 1,
                "maxItems": 3,
                "items": { "type": "string", "enum": ["option1", "option2", "option3"] },
            },
            "titledMulti": {
                "type": "array",
                "description": "Select multiple options with titles",
                "minItems": 1,
                "maxItems": 3,
                "items": { "anyOf": titled("value", "Choice") },
            },
        },
        "required": [],
    })
}
