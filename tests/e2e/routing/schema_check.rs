//! Every message Manifold writes on its stdio face, recorded by a tap between rmcp and Manifold and
//! checked against the official MCP 2025-11-25 JSON Schema (`tests/e2e/common/schema.rs`).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, GetPromptRequestParams, PaginatedRequestParams,
    ReadResourceRequestParams,
};
use rmcp::ServiceExt;
use serde_json::{json, Value};

use super::pagination::{prompt_page, resource_page, template_page, tool_page, walk_pages};
use super::support::{args, call, client_config, read, three_upstreams, within, Client};
use crate::common::{self, schema, write_config};

/// One line seen on Manifold's stdio: `true` when Manifold wrote it.
type Tap = Arc<std::sync::Mutex<Vec<(bool, String)>>>;

/// Like [`connect`], but every line in both directions passes through (and is recorded by) a tap
/// between rmcp and Manifold's stdin/stdout.
async fn connect_tapped(config: &Path) -> (Client, Tap, tokio::process::Child) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let mut cmd = tokio::process::Command::new(common::manifold_bin());
    cmd.args(["serve", "--stdio", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let mut child = cmd.spawn().expect("spawn manifold");
    let mut to_manifold = child.stdin.take().expect("stdin");
    let from_manifold = child.stdout.take().expect("stdout");
    let (client_end, tap_end) = tokio::io::duplex(1 << 20);
    let (tap_read, mut tap_write) = tokio::io::split(tap_end);
    let tap: Tap = Arc::default();

    let log = tap.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tap_read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push((false, line.clone()));
            if to_manifold
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        // Dropping stdin is the EOF that shuts Manifold down.
    });
    let log = tap.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(from_manifold).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push((true, line.clone()));
            if tap_write
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });

    let (read, write) = tokio::io::split(client_end);
    let client = within(
        "the initialize handshake",
        client_config().serve((read, write)),
    )
    .await
    .expect("rmcp client initializes against manifold");
    (client, tap, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_manifold_writes_matches_the_mcp_schema() {
    // Sanity: the checker rejects what the schema forbids (and the schema is there to check with).
    let invalid = [
        ("ListToolsResult", json!({ "tools": [{}] })),
        ("CallToolResult", json!({ "content": [{ "type": "text" }] })),
        (
            "JSONRPCMessage",
            json!({ "jsonrpc": "1.0", "id": 1, "result": {} }),
        ),
    ];
    for (definition, value) in &invalid {
        assert!(
            schema::validate(definition, value).is_err(),
            "the schema checker accepted an invalid {definition}: {value} \
             (is shared/spec-schemas/2025-11-25/schema.json missing?)"
        );
    }

    let (_rmcp, text) = three_upstreams("page_size = 3", &["--tools", "2"], &[], "").await;
    let (_dir, config) = write_config(&text);
    let (client, tap, mut child) = connect_tapped(&config).await;

    // A workout touching every kind of response, including errors.
    walk_pages("tools", |p| tool_page(&client, p)).await;
    walk_pages("prompts", |p| prompt_page(&client, p)).await;
    walk_pages("resources", |p| resource_page(&client, p)).await;
    walk_pages("templates", |p| template_page(&client, p)).await;
    for (name, arguments) in [
        ("alpha__echo", json!({ "text": "schema" })),
        ("alpha__add", json!({ "a": 1, "b": 2 })),
        ("alpha__fail", json!({})),
        ("alpha__link", json!({})),
        ("beta__whoami", json!({})),
        ("rmcp__sum", json!({ "a": 1, "b": 2 })),
        ("rmcp__note_link", json!({ "n": 2 })),
    ] {
        call(&client, name, arguments).await;
    }
    let mut haiku = GetPromptRequestParams::new("rmcp__haiku");
    haiku.arguments = Some(args(json!({ "topic": "rain" })));
    within("prompt", client.get_prompt(haiku))
        .await
        .expect("prompts/get");
    let mut greet = GetPromptRequestParams::new("alpha__greet");
    greet.arguments = Some(args(json!({ "name": "x" })));
    within("prompt", client.get_prompt(greet))
        .await
        .expect("prompts/get");
    read(&client, "alpha+testkit://alpha/res/0").await;
    read(&client, "rmcp+memo://notes/1").await;
    within(
        "complete",
        client.complete_prompt_simple("alpha__greet", "name", ""),
    )
    .await
    .expect("complete");
    within(
        "complete",
        client.complete_resource_simple("rmcp+memo://notes/{id}", "id", ""),
    )
    .await
    .expect("complete");
    let _ = within(
        "unknown tool",
        client.call_tool(CallToolRequestParams::new("nope")),
    )
    .await;
    let bad = PaginatedRequestParams::default().with_cursor(Some("bad".into()));
    let _ = within("bad cursor", client.list_prompts(Some(bad))).await;
    let _ = within(
        "unknown resource",
        client.read_resource(ReadResourceRequestParams::new("rmcp+memo://notes/0")),
    )
    .await;

    client.cancel().await.expect("client shutdown");
    let status = within("manifold exit after EOF", child.wait())
        .await
        .expect("wait");
    assert!(status.success(), "manifold exited with {status}");

    let log = tap.lock().unwrap().clone();
    let mut methods = std::collections::HashMap::new();
    for (from_manifold, line) in &log {
        let m: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if !from_manifold {
            if let (Some(id), Some(method)) = (m.get("id"), m["method"].as_str()) {
                methods.insert(id.to_string(), method.to_string());
            }
        }
    }
    let (mut results, mut errors) = (0, 0);
    let mut answered = BTreeSet::new();
    for (from_manifold, line) in log.iter().filter(|(out, _)| *out) {
        assert!(from_manifold);
        let m: Value = serde_json::from_str(line).expect("JSON");
        schema::validate("JSONRPCMessage", &m)
            .unwrap_or_else(|e| panic!("not a JSON-RPC message: {line}\n{e}"));
        if let Some(method) = m["method"].as_str() {
            let def = if m.get("id").is_some() {
                "ServerRequest"
            } else {
                "ServerNotification"
            };
            schema::validate(def, &m)
                .unwrap_or_else(|e| panic!("{method}: not a valid {def}: {line}\n{e}"));
            continue;
        }
        let id = m["id"].to_string();
        assert!(answered.insert(id.clone()), "two responses for id {id}");
        if m.get("error").is_some() {
            errors += 1;
            schema::validate("JSONRPCErrorResponse", &m).unwrap_or_else(|e| panic!("{line}\n{e}"));
            continue;
        }
        results += 1;
        let method = methods
            .get(&id)
            .unwrap_or_else(|| panic!("response to an id the client never used: {line}"));
        let def = schema::result_type(method)
            .unwrap_or_else(|| panic!("no result definition for {method}"));
        schema::validate(def, &m["result"])
            .unwrap_or_else(|e| panic!("{method} result is not a valid {def}: {line}\n{e}"));
    }
    assert_eq!(
        answered.len(),
        methods.len(),
        "every request answered exactly once"
    );
    assert!(results >= 20, "only {results} results checked");
    assert_eq!(errors, 3, "the three failing requests");
}
