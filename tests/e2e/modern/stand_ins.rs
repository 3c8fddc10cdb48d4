//! A legacy client in front of a 2026-07-28 upstream (the dual-era conformance fixture over
//! stdio, `protocol = "2026-07-28"`), using what the era removed: its `logging/setLevel` becomes
//! the `logLevel` of the upstream's requests, so the tool's log messages reach it; its
//! `resources/subscribe` becomes a listen for that URI, so the update reaches it; its
//! `resources/unsubscribe` ends that listen. The fixture's record shows the stand-ins.

use serde_json::{json, Value};

use crate::common::{self, Gateway};

fn received(record: &str) -> Vec<Value> {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_and_subscriptions_of_a_legacy_client_reach_a_modern_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("fixture.jsonl").display().to_string();
    let (_config_dir, config) = common::write_config(&common::testkit_server(
        "fx",
        &["--profile", "conformance", "--record", &record],
        "protocol = \"2026-07-28\"",
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let level = gw
        .request(1, "logging/setLevel", json!({"level": "info"}))
        .await;
    assert_eq!(level["result"], json!({}), "{level}");
    let called = gw
        .call_tool(2, "fx__test_tool_with_logging", json!({}))
        .await;
    assert!(called["result"]["content"].is_array(), "{called}");
    let logged = gw.notification("notifications/message").await;
    assert_eq!(logged["params"]["level"], "info", "{logged}");

    let subscribed = gw
        .request(
            3,
            "resources/subscribe",
            json!({"uri": "fx+test://watched-resource"}),
        )
        .await;
    assert_eq!(subscribed["result"], json!({}), "{subscribed}");
    let updated = gw.notification("notifications/resources/updated").await;
    assert_eq!(
        updated["params"]["uri"], "fx+test://watched-resource",
        "namespaced: {updated}"
    );
    let unsubscribed = gw
        .request(
            4,
            "resources/unsubscribe",
            json!({"uri": "fx+test://watched-resource"}),
        )
        .await;
    assert_eq!(unsubscribed["result"], json!({}), "{unsubscribed}");

    let got = received(&record);
    let methods: Vec<&str> = got.iter().filter_map(|m| m["method"].as_str()).collect();
    for removed in [
        "initialize",
        "logging/setLevel",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        assert!(!methods.contains(&removed), "{removed} sent: {methods:?}");
    }
    let call = got
        .iter()
        .find(|m| m["method"] == "tools/call")
        .expect("the call reached the fixture");
    assert_eq!(
        call["params"]["_meta"]["io.modelcontextprotocol/logLevel"], "info",
        "{call}"
    );
    let resource_listen = got
        .iter()
        .find(|m| {
            m["method"] == "subscriptions/listen"
                && m["params"]["notifications"]["resourceSubscriptions"]
                    == json!(["test://watched-resource"])
        })
        .expect("a listen for the resource");
    // Unsubscribing cancelled it (the cancellation goes out as the listen's task ends).
    let listen_id = resource_listen["id"].clone();
    common::eventually(
        "the resource listen cancelled",
        std::time::Duration::from_secs(10),
        async || {
            let got = received(&record);
            got.iter()
                .any(|m| {
                    m["method"] == "notifications/cancelled"
                        && m["params"]["requestId"] == listen_id
                })
                .then_some(())
        },
    )
    .await;
}
