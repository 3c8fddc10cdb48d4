//! The handshake with a real peer and calls through it: results, tool errors and JSON-RPC
//! errors come back as the peer sent them.

use manifold_testpeer::{Seen, TestServer};
use serde_json::json;

use super::{start_server, CLIENT};
use crate::{CallError, UpstreamEvent};

#[tokio::test(start_paused = true)]
async fn the_handshake_carries_the_client_identity_and_reports_the_server() {
    let server = TestServer::new("alpha");
    let mut h = start_server(&server);
    let info = h.up().await;

    assert_eq!(
        info.protocol_version, "2025-03-26",
        "the version we asked for"
    );
    assert_eq!(info.server_info["name"], "alpha");
    assert_eq!(info.instructions.as_deref(), Some("the alpha test server"));
    assert!(
        info.has("tools") && !info.has("prompts"),
        "{:?}",
        info.capabilities
    );
    server
        .record()
        .until("the server saw notifications/initialized", |seen| {
            seen.contains(&Seen::Initialized {
                client: CLIENT.into(),
            })
        })
        .await;
    let events = h.drain_events();
    assert!(
        matches!(events.as_slice(), [UpstreamEvent::Up(0)]),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_request_and_its_response_round_trip() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;

    let list =
        h.up.request("tools/list", None, None)
            .await
            .expect("tools/list");
    let list: serde_json::Value = serde_json::from_str(list.get()).expect("JSON");
    let names: Vec<&str> = list["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, TestServer::TOOLS);

    let result = h
        .call("echo", json!({ "text": "hello" }))
        .await
        .expect("echo");
    assert_eq!(result["content"][0]["text"], "hello");
    assert_eq!(
        result["structuredContent"],
        json!({ "text": "hello", "server": "alpha" })
    );
    let calls = server.record().calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].1, "echo");
    assert_eq!(h.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_tool_error_is_a_result_and_a_protocol_error_is_an_rpc_error() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;

    let result = h.call("fail", json!({})).await.expect("a result");
    assert_eq!(result["isError"], true);
    assert_eq!(result["content"][0]["text"], "failed on purpose");

    match h.call("nope", json!({})).await {
        Err(CallError::Rpc(e)) => {
            assert_eq!(e.code, manifold_protocol::code::INVALID_PARAMS);
            assert!(e.message.contains("nope"), "{}", e.message);
        }
        other => panic!("expected the server's JSON-RPC error, got {other:?}"),
    }
    assert_eq!(h.lives.count(), 1, "errors do not end the connection");
}
