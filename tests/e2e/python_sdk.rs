//! The official Python SDK (`mcp` 2.3.0, pinned in tests/python/requirements.txt) with Manifold.
//! Its client (tests/python/client.py) speaks 2026-07-28 — pinned with `mode="2026-07-28"`, and
//! with `mode="auto"`, which must settle on it through Manifold's `server/discover` — over stdio
//! and Streamable HTTP, in front of the npm `server-everything` and `server-memory` (legacy):
//! lists, calls, reads, prompts, completions, sampling and elicitation answered through MRTR
//! rounds, progress, `-32021`, and `subscriptions/listen` with a resource update. A modern-only
//! server on the SDK (tests/python/modern_server.py) behind Manifold (`protocol = "auto"`) has
//! its input requests answered by a legacy client (the TypeScript v1 SDK) through real
//! `elicitation/create` and `sampling/createMessage` requests, and by the Python client in
//! input_required rounds; its record shows `server/discover` and never `initialize`.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{self, python};
use crate::modern::assert_modern_result;
use crate::reference_servers::node_server;

mod modern_upstream;

const ARCHITECTURE: &str = "ev+demo://resource/static/document/architecture.md";

/// Runs tests/python/client.py against `target` with `plan`; its JSON summary.
async fn run_client(target: &str, plan: &Value) -> Value {
    python::run_script("client.py", target, plan, Duration::from_secs(60)).await
}

/// `server-everything` (namespace `ev`, with `extra` settings) and `server-memory` storing in
/// `memory_file`.
fn reference_servers(memory_file: &Path, extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}{}",
        node_server(
            "everything",
            "server-everything",
            &["stdio"],
            &format!("namespace = \"ev\"\n{extra}")
        ),
        node_server(
            "memory",
            "server-memory",
            &[],
            &format!(
                "env = {{ MEMORY_FILE_PATH = {:?} }}",
                memory_file.display().to_string()
            )
        ),
    ))
}

/// What the client is asked to do in `mode`; the entity it stores is named after the mode.
fn plan(mode: &str) -> Value {
    json!({
        "mode": mode,
        "calls": [
            {"name": "ev__echo", "arguments": {"message": "from python"}},
            {"name": "ev__trigger-sampling-request", "arguments": {"prompt": "hello", "maxTokens": 10}},
            {"name": "ev__trigger-elicitation-request", "arguments": {}},
            {"name": "memory__create_entities", "arguments": {"entities": [
                {"name": format!("Grace {mode}"), "entityType": "person",
                 "observations": [format!("wrote a compiler in {mode}")]}]}},
            {"name": "memory__search_nodes", "arguments": {"query": format!("compiler in {mode}")}},
        ],
        "progress": {"name": "ev__trigger-long-running-operation",
                     "arguments": {"duration": 0.3, "steps": 3}, "expect": 3},
        "reads": ["ev+demo://resource/dynamic/text/7"],
        "prompts": {"ev__args-prompt": {"city": "Lyon"}},
        "complete": {"prompt": "ev__completable-prompt",
                     "argument": {"name": "department", "value": "Eng"}},
        "listen": {"uris": [ARCHITECTURE, "nobody+x://y"],
                   "trigger": {"name": "ev__toggle-subscriber-updates", "arguments": {}}},
    })
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {value}"))
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

fn text_of(result: &Value) -> String {
    result["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the client in `mode` must have seen through Manifold, on either face.
fn assert_modern_session(out: &Value, mode: &str) {
    assert_eq!(out["version"], "2026-07-28", "{out}");
    assert_eq!(out["initialized"], false, "no 2025 handshake: {out}");
    if mode == "auto" {
        // The probe's answer is Manifold's own discover result.
        assert_eq!(
            out["supportedVersions"],
            json!([
                "2024-11-05",
                "2025-03-26",
                "2025-06-18",
                "2025-11-25",
                "2026-07-28"
            ]),
            "{out}"
        );
        assert_eq!(out["server"]["name"], "manifold", "{out}");
    }
    let tools = strings(&out["tools"]);
    for tool in [
        "ev__echo",
        "ev__trigger-sampling-request",
        "ev__trigger-elicitation-request",
        "ev__trigger-long-running-operation",
        "memory__create_entities",
        "memory__search_nodes",
    ] {
        assert!(tools.contains(&tool), "{tool} in {tools:?}");
    }
    assert!(
        tools
            .iter()
            .all(|t| t.starts_with("ev__") || t.starts_with("memory__")),
        "{tools:?}"
    );
    let prompts = strings(&out["prompts"]);
    assert!(
        prompts.contains(&"ev__args-prompt") && prompts.contains(&"ev__completable-prompt"),
        "{prompts:?}"
    );
    let resources = strings(&out["resources"]);
    assert!(resources.contains(&ARCHITECTURE), "{resources:?}");
    assert!(
        resources.contains(&"memory+memory://knowledge-graph"),
        "{resources:?}"
    );
    assert_eq!(
        out["templates"],
        json!([
            "ev+demo://resource/dynamic/text/{resourceId}",
            "ev+demo://resource/dynamic/blob/{resourceId}"
        ]),
        "{out}"
    );

    let calls = &out["calls"];
    for (name, call) in calls.as_object().unwrap() {
        assert_modern_result(
            call.get("result")
                .unwrap_or_else(|| panic!("{name}: {call}")),
        );
    }
    assert_eq!(
        text_of(&calls["ev__echo"]["result"]),
        "Echo: from python",
        "{out}"
    );
    // The upstream got the client's sampling answer, made from the upstream's own request.
    assert!(
        text_of(&calls["ev__trigger-sampling-request"]["result"])
            .contains("python sampled: Resource trigger-sampling-request context: hello"),
        "{out}"
    );
    assert!(
        text_of(&calls["ev__trigger-elicitation-request"]["result"]).contains("Name: Grace"),
        "{out}"
    );
    assert_eq!(
        out["handled"],
        json!({"sampling": 1, "elicitation": 1}),
        "one round each: {out}"
    );
    let found = &calls["memory__search_nodes"]["result"]["structuredContent"]["entities"];
    assert_eq!(found[0]["name"], format!("Grace {mode}"), "{out}");

    let progress = &out["progress"];
    assert_modern_result(&progress["result"]);
    assert_eq!(
        progress["seen"],
        json!([[1.0, 3.0], [2.0, 3.0], [3.0, 3.0]]),
        "{out}"
    );
    let read = &out["reads"]["ev+demo://resource/dynamic/text/7"];
    assert_modern_result(read);
    assert_eq!(
        read["contents"][0]["uri"], "ev+demo://resource/dynamic/text/7",
        "{out}"
    );
    assert!(
        read["contents"][0]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Resource 7:")),
        "{out}"
    );
    let prompt = &out["prompted"]["ev__args-prompt"];
    assert_modern_result(prompt);
    assert!(
        prompt["messages"][0]["content"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Lyon")),
        "{out}"
    );
    assert_eq!(
        out["complete"]["completion"]["values"],
        json!(["Engineering"]),
        "{out}"
    );
    assert_eq!(out["unknown"]["code"], -32602, "{out}");
    // Only what exists is honoured; the update arrives under the namespaced URI.
    assert_eq!(
        out["listen"]["honored"]["resourceSubscriptions"],
        json!([ARCHITECTURE]),
        "{out}"
    );
    assert_eq!(out["listen"]["events"], json!([ARCHITECTURE]), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_client_speaks_2026_07_28_with_manifold_over_stdio() {
    for mode in ["auto", "2026-07-28"] {
        let store = tempfile::tempdir().unwrap();
        let (_dir, config) = reference_servers(&store.path().join("memory.jsonl"), "");
        let mut plan = plan(mode);
        plan["command"] = json!(common::manifold_bin());
        plan["args"] = json!(["serve", "--stdio", "--config", config]);
        let out = run_client("stdio", &plan).await;
        assert_modern_session(&out, mode);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_python_sdk_client_speaks_2026_07_28_with_manifold_over_http() {
    let store = tempfile::tempdir().unwrap();
    // Shared, as stdio servers are by default on HTTP: `server-everything` is offered roots and
    // asks for them 350 ms after its start, whatever call is in flight then; a client that
    // declared no roots has that request refused upstream, and its call goes on.
    let (_dir, config) = reference_servers(&store.path().join("memory.jsonl"), "");
    let (_gateway, url, _) = common::serve_http(&config).await;
    for mode in ["auto", "2026-07-28"] {
        let mut plan = plan(mode);
        // A second client, declaring no capability, calls the tool that needs sampling.
        plan["bareCalls"] = json!([{"name": "ev__trigger-sampling-request",
                                    "arguments": {"prompt": "hi", "maxTokens": 5}}]);
        let out = run_client(&url, &plan).await;
        assert_modern_session(&out, mode);
        let refused = &out["bare"]["ev__trigger-sampling-request"]["error"];
        assert_eq!(refused["code"], -32021, "{out}");
        assert_eq!(
            refused["data"]["requiredCapabilities"],
            json!({"sampling": {}}),
            "{out}"
        );
    }
}
