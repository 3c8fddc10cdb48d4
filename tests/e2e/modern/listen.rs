//! `subscriptions/listen` in front of legacy upstreams: acknowledged first with what is honoured,
//! then `list_changed` and resource updates tagged with the listen request's id, on stdio and on
//! an HTTP SSE stream; closing the HTTP stream ends the listen, and the upstream subscription
//! it held is given up.

use std::time::Duration;

use serde_json::{json, Value};

use super::with_meta;
use crate::common::http::{HttpGateway, SseReader};
use crate::common::{self, eventually, schema, Gateway};

const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// A testkit (which can toggle a tool) and the conformance fixture (whose watched resource
/// reports an update once subscribed), recording what it receives in `record`.
fn servers(record: &str) -> String {
    format!(
        "{}{}",
        common::testkit_server("alpha", &["--name", "alpha"], ""),
        common::testkit_server(
            "fx",
            &["--profile", "conformance", "--record", record],
            // Its legacy era: resources/subscribe upstream (a modern one is in `stand_ins`).
            "protocol = \"legacy\"",
        ),
    )
}

fn listen_params() -> Value {
    with_meta(
        "listener",
        json!({"notifications": {
            "toolsListChanged": true,
            "resourceSubscriptions": ["fx+test://watched-resource", "nobody+x://y"],
        }}),
    )
}

/// Checks the acknowledgement of listen `id`.
fn assert_acknowledged(ack: &Value, id: &Value) {
    assert_eq!(
        ack["method"], "notifications/subscriptions/acknowledged",
        "{ack}"
    );
    assert_eq!(&ack["params"]["_meta"][SUBSCRIPTION_ID], id, "{ack}");
    assert_eq!(
        ack["params"]["notifications"]["toolsListChanged"], true,
        "{ack}"
    );
    assert_eq!(
        ack["params"]["notifications"]["resourceSubscriptions"],
        json!(["fx+test://watched-resource"]),
        "only what exists is honoured: {ack}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_on_stdio_gets_updates_and_list_changes_tagged_with_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("fx.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&servers(&record));
    let mut gw = Gateway::spawn(&config);
    gw.modern = true;
    let id = json!("listen-1");
    gw.send(
        &json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
                    "params": listen_params()}),
    )
    .await;
    let ack = gw.recv().await;
    assert_acknowledged(&ack, &id);
    let update = gw.recv().await;
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(
        update["params"]["uri"], "fx+test://watched-resource",
        "{update}"
    );
    assert_eq!(update["params"]["_meta"][SUBSCRIPTION_ID], id, "{update}");
    // A tool appears upstream: the listen hears of it.
    let toggled = gw
        .request(
            2,
            "tools/call",
            with_meta(
                "listener",
                json!({"name": "alpha__toggle", "arguments": {}}),
            ),
        )
        .await;
    assert!(toggled["result"].is_object(), "{toggled}");
    let changed = gw.notification("notifications/tools/list_changed").await;
    assert_eq!(changed["params"]["_meta"][SUBSCRIPTION_ID], id, "{changed}");
    // Cancelling the listen gives up the upstream subscription it held.
    gw.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": "listen-1"}}),
    )
    .await;
    let what = "the upstream subscription given up";
    eventually(what, Duration::from_secs(10), async || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .contains("resources/unsubscribe")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn listen_over_http_is_an_sse_stream_that_ends_when_the_client_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("fx.jsonl").display().to_string();
    let gw = HttpGateway::start(&servers(&record)).await;
    let id = json!(41);
    let response = gw
        .post(
            json!({"jsonrpc": "2.0", "id": id, "method": "subscriptions/listen",
                      "params": listen_params()}),
        )
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "subscriptions/listen")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    assert!(response.headers().get("mcp-session-id").is_none());
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let mut stream = SseReader::new(response);
    let mut next = async || {
        let event = stream.next_event().await;
        let message: Value = serde_json::from_str(&event.data).expect("JSON in an event");
        schema::check_outgoing_modern(&message, None);
        message
    };
    let ack = next().await;
    assert_acknowledged(&ack, &id);
    let update = next().await;
    assert_eq!(
        update["method"], "notifications/resources/updated",
        "{update}"
    );
    assert_eq!(update["params"]["_meta"][SUBSCRIPTION_ID], id, "{update}");
    drop(stream);
    let what = "the upstream subscription given up once the stream closed";
    eventually(what, Duration::from_secs(10), async || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .contains("resources/unsubscribe")
            .then_some(())
    })
    .await;
}
