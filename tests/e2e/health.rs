//! Health pings: an upstream that stops answering `ping` is restarted; the others keep serving.

use crate::common::{self, eventually};

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

fn initializes(record: &std::path::Path) -> usize {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("\"method\":\"initialize\""))
        .count()
}

/// A gateway with `gateway_toml` in front of `mute` (never answers ping, recorded, 300 ms
/// timeout) and `ok`. Returns the gateway, the record file and the guards keeping files alive.
async fn mute_and_ok(gateway_toml: &str) -> (common::Gateway, PathBuf, [tempfile::TempDir; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("mute.jsonl");
    let config = format!(
        "[gateway]\n{gateway_toml}\n{}{}",
        common::testkit_server(
            "mute",
            &[
                "--name",
                "mute",
                "--ignore-ping",
                "--record",
                record.to_str().unwrap()
            ],
            "timeout_ms = 300"
        ),
        common::testkit_server("ok", &["--name", "ok"], ""),
    );
    let (cfg_dir, path) = common::write_config(&config);
    let mut gw = common::Gateway::spawn(&path);
    gw.initialize().await;
    (gw, record, [dir, cfg_dir])
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_that_ignores_pings_is_restarted() {
    let (mut gw, record, _guards) =
        mute_and_ok("ping_interval_ms = 200\n[gateway.restart]\ninitial_backoff_ms = 50").await;
    eventually(
        "the mute upstream restarted",
        Duration::from_secs(15),
        async || (initializes(&record) >= 2).then_some(()),
    )
    .await;
    // The pings it ignored were real pings from Manifold.
    let text = std::fs::read_to_string(&record).unwrap();
    assert!(text.contains("\"method\":\"ping\""), "{text}");
    // The healthy upstream kept serving throughout.
    let r = gw
        .call_tool(1, "ok__echo", json!({"text": "still here"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still here", "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_can_be_switched_off() {
    let (mut gw, record, _guards) = mute_and_ok("ping_interval_ms = 0").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = gw.call_tool(1, "mute__echo", json!({"text": "up"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "up", "{r}");
    assert_eq!(initializes(&record), 1);
    assert!(!std::fs::read_to_string(&record)
        .unwrap()
        .contains("\"method\":\"ping\""));
    assert!(gw.close().await.success());
}
