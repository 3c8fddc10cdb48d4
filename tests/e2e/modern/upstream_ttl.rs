//! A 2026-07-28 upstream's `ttlMs` on its lists: the dual-era fixture says its lists live 1 s
//! and announces no change on its listen stream (`--list-ttl-ms 1000 --unannounced-changes`);
//! Manifold lists it again when that time is up, so a tool the fixture added reaches a legacy
//! client as `list_changed` and in its next `tools/list`.

use serde_json::json;

use crate::common::{self, Gateway};

#[tokio::test(flavor = "multi_thread")]
async fn lists_are_fetched_again_when_the_upstreams_ttl_expires() {
    let (_dir, config) = common::write_config(&common::testkit_server(
        "fx",
        &[
            "--profile",
            "conformance",
            "--list-ttl-ms",
            "1000",
            "--unannounced-changes",
        ],
        "protocol = \"2026-07-28\"",
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let before = gw.request(1, "tools/list", json!({})).await;
    let names = common::names(&before["result"], "tools", "name");
    assert!(
        !names.contains(&"fx__test_dynamic_tool".to_string()),
        "{names:?}"
    );
    let triggered = gw
        .call_tool(2, "fx__test_trigger_tool_change", json!({}))
        .await;
    assert!(
        triggered["result"]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("added")),
        "{triggered}"
    );
    // Nothing tells Manifold but the expiry of what it listed.
    let changed = gw.notification("notifications/tools/list_changed").await;
    assert!(changed.get("id").is_none(), "{changed}");
    let after = gw.request(3, "tools/list", json!({})).await;
    let names = common::names(&after["result"], "tools", "name");
    assert!(
        names.contains(&"fx__test_dynamic_tool".to_string()),
        "{names:?}"
    );
}
