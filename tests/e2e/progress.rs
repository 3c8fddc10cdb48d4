//! Progress and roots through the stdio face: every progress notification reaches the client
//! with its own token, before the response it precedes, and the upstream sees the token unchanged
//! (one client, nothing shared); a client's roots change reaches its upstream.

use crate::common::{self, eventually};

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn progress_arrives_in_order_with_the_clients_token() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl");
    let (_cfg, path) = common::write_config(&common::testkit_server(
        "a",
        &["--name", "a", "--record", record.to_str().unwrap()],
        "",
    ));
    let mut gw = common::Gateway::spawn(&path);
    gw.initialize().await;
    for (id, token) in [(1, json!("tok-1")), (2, json!(42))] {
        gw.send(
            &json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
            "name": "a__sleep", "arguments": {"ms": 200}, "_meta": {"progressToken": token}}}),
        )
        .await;
        let mut progress = Vec::new();
        let response = loop {
            let m = gw.recv().await;
            if m.get("id") == Some(&json!(id)) {
                break m;
            }
            progress.push(m);
        };
        assert_eq!(
            response["result"]["content"][0]["text"], "slept 200ms",
            "{response}"
        );
        assert_eq!(progress.len(), 3, "{progress:?}");
        let values: Vec<f64> = progress
            .iter()
            .map(|p| p["params"]["progress"].as_f64().unwrap())
            .collect();
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "increasing: {values:?}"
        );
        for p in &progress {
            assert_eq!(p["method"], "notifications/progress");
            assert_eq!(p["params"]["progressToken"], token);
        }
    }
    let text = std::fs::read_to_string(&record).unwrap();
    let sent: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["method"] == "tools/call")
        .map(|m| m["params"]["_meta"]["progressToken"].clone())
        .collect();
    assert_eq!(sent, vec![json!("tok-1"), json!(42)]);
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clients_roots_change_reaches_its_upstreams() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl");
    let (_cfg, path) = common::write_config(&common::testkit_server(
        "a",
        &["--name", "a", "--record", record.to_str().unwrap()],
        "",
    ));
    let mut gw = common::Gateway::spawn(&path);
    gw.initialize_with(json!({"roots": {"listChanged": true}}))
        .await;
    gw.send(&json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}))
        .await;
    // A ping round trip orders the notification before the check.
    gw.request(1, "ping", json!({})).await;
    let what = "the roots change at the upstream";
    eventually(what, std::time::Duration::from_secs(10), async || {
        let text = std::fs::read_to_string(&record).unwrap_or_default();
        text.contains("notifications/roots/list_changed")
            .then_some(())
    })
    .await;
    assert!(gw.close().await.success());
}
