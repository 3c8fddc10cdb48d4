//! The official TypeScript SDK v2 client (`@modelcontextprotocol/client` 2.4.0, pinned in
//! tests/npm) negotiating the 2026-07-28 era with Manifold — over stdio and over Streamable HTTP —
//! in front of a testkit and the npm `server-everything` (both legacy): lists, a call with
//! progress, a read, a prompt, a completion, and an unknown tool's error.

use serde_json::{json, Value};

use crate::common;
use crate::reference_servers::node_server;

/// Runs tests/npm/ts_modern_client.mjs against `target` with `plan`; its JSON summary.
async fn run_client(target: &str, plan: &Value) -> Value {
    crate::common::node::run_script(
        "ts_modern_client.mjs",
        target,
        plan,
        std::time::Duration::from_secs(90),
    )
    .await
}

fn config() -> (tempfile::TempDir, std::path::PathBuf) {
    common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}{}",
        common::testkit_server("alpha", &["--name", "alpha"], ""),
        node_server(
            "everything",
            "server-everything",
            &["stdio"],
            "namespace = \"ev\""
        ),
    ))
}

/// What the client is asked to do, the same on both faces.
fn plan(negotiation: &str) -> Value {
    json!({
        "negotiation": negotiation,
        "tool": "alpha__sleep",
        "arguments": {"ms": 20},
        "uri": "alpha+testkit://alpha/res/0",
        "prompt": "alpha__greet",
        "promptArguments": {"name": "v2"},
        "complete": {"ref": {"type": "ref/prompt", "name": "alpha__greet"},
                     "argument": {"name": "name", "value": ""}},
    })
}

/// What both faces must have shown the client.
fn assert_modern_session(out: &Value) {
    assert_eq!(out["era"], "modern", "{out}");
    assert_eq!(out["version"], "2026-07-28", "{out}");
    assert_eq!(out["server"]["name"], "manifold", "{out}");
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(tools.contains(&"alpha__sleep"), "{tools:?}");
    assert!(
        tools.contains(&"ev__echo"),
        "server-everything's tools: {tools:?}"
    );
    assert_eq!(out["call"]["content"][0]["text"], "slept 20ms", "{out}");
    // The SDK handles a notification a microtask after a response read with it, so it may drop
    // the last progress of a call; Manifold's order and completeness are asserted exactly by the
    // raw-wire tests (modern::stdio). What the SDK reports must be in order and from the call.
    let progress: Vec<u64> = out["progress"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_u64)
        .collect();
    assert!(
        !progress.is_empty()
            && progress.windows(2).all(|w| w[0] < w[1])
            && progress.iter().all(|p| (1..=3).contains(p)),
        "{out}"
    );
    assert!(out["read"]["contents"][0]["text"].is_string(), "{out}");
    assert!(out["prompt"]["messages"].is_array(), "{out}");
    assert!(out["complete"]["completion"]["values"].is_array(), "{out}");
    assert_eq!(out["unknown"]["code"], -32602, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_v2_client_negotiates_2026_07_28_over_stdio() {
    let (_dir, config) = config();
    let mut plan = plan("auto");
    plan["command"] = json!(common::manifold_bin());
    plan["args"] = json!(["serve", "--stdio", "--config", config]);
    let out = run_client("stdio", &plan).await;
    assert_modern_session(&out);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_typescript_v2_client_negotiates_2026_07_28_over_http() {
    let (_dir, config) = config();
    let (_gateway, url, _) = common::serve_http(&config).await;
    for negotiation in ["auto", "pin"] {
        let out = run_client(&url, &plan(negotiation)).await;
        assert_modern_session(&out);
    }
}
