//! The modern-only server on the Python SDK (tests/python/modern_server.py) as a stdio upstream
//! behind Manifold with the default `protocol = "auto"`: its `confirm` and `ask_model` ask for
//! elicitation and sampling in input_required results. A legacy client (the TypeScript v1 SDK)
//! answers them as real `elicitation/create` and `sampling/createMessage` requests; the Python
//! client (2026-07-28) in input_required rounds, seeing the upstream's own keys and a
//! `requestState` sealed by Manifold. Either way each retry reaches the upstream with the
//! answers under its keys and its own `requestState`, and its record shows `server/discover`
//! and never `initialize`.

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::text_of;
use crate::common::{self, python, RECV_TIMEOUT};

/// The `[servers.py]` block running the modern-only server, recording into `record`.
fn modern_only(record: &str) -> String {
    format!(
        "[admin]\nlisten = \"off\"\n[servers.py]\ncommand = {:?}\nargs = [{:?}, \"--record\", {:?}]\n",
        python::interpreter().display().to_string(),
        python::python_path("modern_server.py").display().to_string(),
        record
    )
}

/// Every message the server received, in order.
fn received(record: &str) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

/// The upstream was probed with `server/discover` first and was never sent `initialize`.
fn assert_discovered_never_initialized(record: &str) {
    let received = received(record);
    let methods: Vec<&str> = received
        .iter()
        .filter_map(|m| m["method"].as_str())
        .collect();
    assert_eq!(methods.first(), Some(&"server/discover"), "{methods:?}");
    assert!(!methods.contains(&"initialize"), "{methods:?}");
}

/// The upstream's `tools/call`s of `tool`: how many came bare, and the retries, each of which
/// answers `key` (the upstream's own key for its question) with the upstream's own
/// `requestState` (the server's `v1.` seal, not Manifold's `mf1.`).
fn rounds(record: &str, tool: &str, key: &str) -> (usize, Vec<Value>) {
    let (retries, bare): (Vec<Value>, Vec<Value>) = received(record)
        .into_iter()
        .filter(|m| m["method"] == "tools/call" && m["params"]["name"] == tool)
        .map(|m| m["params"].clone())
        .partition(|p| p.get("inputResponses").is_some());
    for retry in &retries {
        assert!(
            retry["inputResponses"].get(key).is_some(),
            "{key} in {retry}"
        );
        assert!(
            retry["requestState"]
                .as_str()
                .is_some_and(|s| s.starts_with("v1.")),
            "{retry}"
        );
    }
    (bare.len(), retries)
}

const WHO: &str = "__main__:ask_who";
const MODEL: &str = "__main__:ask_the_model";

/// The fixture's premise: spoken to directly, the server refuses the 2025 handshake.
#[tokio::test(flavor = "multi_thread")]
async fn the_python_modern_only_server_refuses_initialize() {
    let mut server = Command::new(python::interpreter())
        .arg(python::python_path("modern_server.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the modern-only server");
    let mut stdin = server.stdin.take().unwrap();
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "e2e", "version": "1"}}});
    stdin
        .write_all(format!("{initialize}\n").as_bytes())
        .await
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(RECV_TIMEOUT, lines.next_line())
        .await
        .expect("an answer")
        .unwrap()
        .expect("a line");
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["error"]["code"], -32022, "{answer}");
    assert_eq!(
        answer["error"]["data"]["supported"],
        json!(["2026-07-28"]),
        "{answer}"
    );
}

/// The official TypeScript SDK v1 client (legacy only, sampling and elicitation handlers)
/// through the HTTP face.
#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_client_answers_a_python_modern_upstreams_input_requests() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("py.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&modern_only(&record));
    let (_gateway, url, _) = common::serve_http(&config).await;
    let plan = json!({
        "allCapabilities": true,
        "calls": {
            "py__greet": {"name": "ts"},
            "py__confirm": {},
            "py__ask_model": {"question": "2+2?"},
        },
    });
    let out = crate::ts_client::run_client(&url, &plan).await;
    let tools = out["tools"].as_array().unwrap();
    assert_eq!(
        tools,
        &[
            json!("py__greet"),
            json!("py__confirm"),
            json!("py__ask_model")
        ],
        "{out}"
    );
    let calls = &out["calls"];
    assert_eq!(text_of(&calls["py__greet"]["result"]), "hello ts", "{out}");
    assert_eq!(
        text_of(&calls["py__confirm"]["result"]),
        "confirmed by ts",
        "{out}"
    );
    assert_eq!(
        text_of(&calls["py__ask_model"]["result"]),
        "the model said: sampled by ts",
        "{out}"
    );
    assert_discovered_never_initialized(&record);
    // Each call reached the upstream twice: bare, then retried with the client's answer.
    let (bare, confirms) = rounds(&record, "confirm", WHO);
    assert_eq!((bare, confirms.len()), (1, 1), "{confirms:?}");
    assert_eq!(
        confirms[0]["inputResponses"][WHO],
        json!({"action": "accept", "content": {"name": "ts"}}),
        "{confirms:?}"
    );
    let (bare, asks) = rounds(&record, "ask_model", MODEL);
    assert_eq!((bare, asks.len()), (1, 1), "{asks:?}");
    assert_eq!(
        asks[0]["inputResponses"][MODEL]["content"]["text"], "sampled by ts",
        "{asks:?}"
    );
}

/// The Python client itself, in the 2026-07-28 era over stdio: the upstream's input requests
/// pass through under its own keys, the SDK's callbacks answer them, and its retries reach the
/// upstream with its own state put back and the client's own identity and capabilities.
#[tokio::test(flavor = "multi_thread")]
async fn the_python_client_answers_a_python_modern_upstreams_input_rounds() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("py.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&modern_only(&record));
    let plan = json!({
        "mode": "2026-07-28",
        "command": common::manifold_bin(),
        "args": ["serve", "--stdio", "--config", config],
        "calls": [
            {"name": "py__confirm", "arguments": {}},
            {"name": "py__ask_model", "arguments": {"question": "2+2?"}},
        ],
        "firstRounds": [{"name": "py__confirm", "arguments": {}}],
    });
    let out = super::run_client("stdio", &plan).await;
    assert_eq!(
        out["tools"],
        json!(["py__greet", "py__confirm", "py__ask_model"]),
        "{out}"
    );
    let calls = &out["calls"];
    assert_eq!(
        text_of(&calls["py__confirm"]["result"]),
        "confirmed by Grace",
        "{out}"
    );
    assert_eq!(
        text_of(&calls["py__ask_model"]["result"]),
        "the model said: python sampled: 2+2?",
        "{out}"
    );
    assert_eq!(
        out["handled"],
        json!({"sampling": 1, "elicitation": 1}),
        "{out}"
    );
    assert_eq!(out["unknown"]["code"], -32602, "{out}");
    // The client saw the upstream's question under the upstream's key, and its state sealed
    // by Manifold.
    let first = &out["firstRounds"]["py__confirm"];
    assert_eq!(first["resultType"], "input_required", "{out}");
    assert_eq!(
        first["inputRequests"][WHO]["method"], "elicitation/create",
        "{out}"
    );
    assert!(
        first["requestState"]
            .as_str()
            .is_some_and(|s| s.starts_with("mf1.")),
        "{out}"
    );
    assert_discovered_never_initialized(&record);
    // Each call of the SDK's Client came bare and then retried; `confirm` came bare once more.
    let (bare, confirms) = rounds(&record, "confirm", WHO);
    assert_eq!((bare, confirms.len()), (2, 1), "{confirms:?}");
    let (bare, asks) = rounds(&record, "ask_model", MODEL);
    assert_eq!((bare, asks.len()), (1, 1), "{asks:?}");
    for retry in confirms.iter().chain(&asks) {
        let meta = &retry["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/clientInfo"]["name"], "python-sdk-e2e",
            "{retry}"
        );
        assert_eq!(
            meta["io.modelcontextprotocol/clientCapabilities"],
            json!({"sampling": {}, "elicitation": {"form": {}, "url": {}}}),
            "{retry}"
        );
    }
}
