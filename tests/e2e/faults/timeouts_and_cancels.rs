//! Hung calls that time out and are cancelled upstream, and client cancellations that reach
//! exactly the upstream serving the request, under its own request id.

use std::time::Duration;

use serde_json::{json, Value};

use super::support::{
    assert_both_serve, assert_echo, call_within, error_of, is_cancel_of, record_path, recorded,
    upstream_call_id, wait_recorded,
};
use crate::common::{testkit_server, write_config, Gateway};

#[tokio::test(flavor = "multi_thread")]
async fn hung_call_times_out_and_is_cancelled_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec_a, rec_a_arg) = record_path(&dir, "a");
    let (_cfg, config) = write_config(&format!(
        "{}{}",
        testkit_server(
            "a",
            &["--name", "a", "--record", &rec_a_arg],
            "timeout_ms = 300"
        ),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let r = call_within(&mut gw, 1, "a__hang", json!({}), Duration::from_secs(5)).await;
    let e = error_of(&r);
    assert_eq!(e["code"], -32603, "{r}");
    assert_eq!(e["data"]["server"], "a", "{r}");
    assert_eq!(e["data"]["reason"], "timeout", "{r}");
    assert_eq!(e["data"]["timeoutMs"], 300, "{r}");

    let upstream_id = upstream_call_id(&rec_a, "hang").await;
    let cancel = wait_recorded(&rec_a, "notifications/cancelled for the hung call", |m| {
        is_cancel_of(m, &upstream_id)
    })
    .await;
    assert_eq!(cancel["params"]["reason"], "timeout", "{cancel}");

    // Both upstreams keep serving.
    assert_both_serve(&mut gw, 2).await;
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_cancellation_reaches_exactly_the_serving_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec_a, rec_a_arg) = record_path(&dir, "a");
    let (rec_b, rec_b_arg) = record_path(&dir, "b");
    let (_cfg, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a", "--record", &rec_a_arg], ""),
        testkit_server("b", &["--name", "b", "--record", &rec_b_arg], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    // One hung call on each upstream.
    gw.send(&json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
                    "params": {"name": "b__hang", "arguments": {}}}))
        .await;
    gw.send(&json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
                    "params": {"name": "a__hang", "arguments": {}}}))
        .await;
    let id_a = upstream_call_id(&rec_a, "hang").await;
    let id_b = upstream_call_id(&rec_b, "hang").await;

    gw.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 42, "reason": "user pressed stop"}}),
    )
    .await;
    wait_recorded(&rec_a, "notifications/cancelled for a's hang", |m| {
        is_cancel_of(m, &id_a)
    })
    .await;

    // No response for 42 (nor 41): the next message answering anything is the ping.
    let r = gw.request(43, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = call_within(
        &mut gw,
        44,
        "b__echo",
        json!({"text": "b ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "b ok");
    let answered: Vec<&Value> = gw
        .seen
        .iter()
        .filter(|m| m["id"] == 42 || m["id"] == 41)
        .collect();
    assert!(
        answered.is_empty(),
        "responses for in-flight/cancelled calls: {answered:?}"
    );
    let cancels_b: Vec<Value> = recorded(&rec_b)
        .into_iter()
        .filter(|m| m["method"] == "notifications/cancelled")
        .collect();
    assert!(
        cancels_b.is_empty(),
        "b got a cancel meant for a: {cancels_b:?}"
    );

    // Cancelling 41 now reaches b with b's own id, and a gets nothing more.
    gw.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 41}}),
    )
    .await;
    wait_recorded(&rec_b, "notifications/cancelled for b's hang", |m| {
        is_cancel_of(m, &id_b)
    })
    .await;
    let r = gw.request(45, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(
        !gw.seen.iter().any(|m| m["id"] == 41 || m["id"] == 42),
        "a cancelled request was answered: {:?}",
        gw.seen
    );
    let cancels_a = recorded(&rec_a)
        .into_iter()
        .filter(|m| m["method"] == "notifications/cancelled")
        .count();
    assert_eq!(cancels_a, 1, "a got more than its own cancel");
    assert!(gw.close().await.success());
}
