//! What an upstream sends its client besides progress and responses, relayed on the stdio face:
//! the cancellation of a request the upstream itself sent (under the client-side id) and
//! `notifications/elicitation/complete` (URL-mode elicitation, 2025-11-25).

use crate::common;

use serde_json::{json, Value};

async fn gateway() -> (common::Gateway, tempfile::TempDir) {
    let (dir, path) = common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}",
        common::testkit_server("a", &["--name", "a"], "")
    ));
    let mut gateway = common::Gateway::spawn(&path);
    gateway
        .initialize_with(json!({"sampling": {}, "elicitation": {"url": {}}}))
        .await;
    gateway
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    (gateway, dir)
}

/// The next message that is not a `list_changed` notification (those may come at any time).
async fn next(gateway: &mut common::Gateway) -> Value {
    loop {
        let m = gateway.recv().await;
        let method = m["method"].as_str().unwrap_or_default();
        if !method.ends_with("/list_changed") {
            return m;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstreams_cancel_of_its_own_request_reaches_the_client_under_its_id() {
    let (mut gateway, _dir) = gateway().await;
    gateway
        .send(
            &json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {
            "name": "a__sample", "arguments": {"prompt": "never mind", "cancel_after_ms": 50}}}),
        )
        .await;
    let request = next(&mut gateway).await;
    assert_eq!(request["method"], "sampling/createMessage", "{request}");
    let client_side_id = request["id"].clone();
    assert!(client_side_id.is_number() || client_side_id.is_string());
    // Not answered: the upstream cancels it.
    let cancel = next(&mut gateway).await;
    assert_eq!(cancel["method"], "notifications/cancelled", "{cancel}");
    assert_eq!(cancel["params"]["requestId"], client_side_id);
    assert_eq!(cancel["params"]["reason"], "no longer needed");
    let result = next(&mut gateway).await;
    assert_eq!(result["id"], 5, "{result}");
    assert_eq!(
        result["result"]["content"][0]["text"], "sampling cancelled",
        "{result}"
    );
    // A late answer to the cancelled request is dropped, and the session goes on.
    gateway
        .send(&json!({"jsonrpc": "2.0", "id": client_side_id, "result": {
            "role": "assistant", "content": {"type": "text", "text": "late"}, "model": "m"}}))
        .await;
    let r = gateway
        .call_tool(6, "a__echo", json!({"text": "still here"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still here", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn elicitation_complete_reaches_the_client() {
    let (mut gateway, _dir) = gateway().await;
    gateway
        .send(
            &json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "a__echo", "arguments": {"text": "done",
                "notify": "notifications/elicitation/complete",
                "notify_params": {"elicitationId": "e-42"}}}}),
        )
        .await;
    let note = next(&mut gateway).await;
    assert_eq!(
        note["method"], "notifications/elicitation/complete",
        "{note}"
    );
    assert_eq!(note["params"]["elicitationId"], "e-42");
    let result = next(&mut gateway).await;
    assert_eq!(result["id"], 7, "{result}");
}
