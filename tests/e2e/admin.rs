//! The admin listener: `/healthz`, `/readyz` and `/metrics` (Prometheus text) after known
//! traffic, on the HTTP face and beside the stdio face.

use crate::common;

use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::Child;

/// `manifold serve` on HTTP with the admin listener on a free port; returns (child, mcp url, admin url).
async fn start(servers: &str, admin_toml: &str) -> (Child, String, String, tempfile::TempDir) {
    let (dir, path) = common::write_config(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n{admin_toml}\n{servers}"
    ));
    let (child, mcp, mut rest) = common::serve_http(&path).await;
    let line = tokio::time::timeout(common::RECV_TIMEOUT, rest.recv())
        .await
        .expect("the admin address")
        .expect("a second line");
    let admin = line
        .strip_prefix("admin listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (child, mcp, admin, dir)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn post(url: &str, sid: Option<&str>, body: Value) -> (Option<String>, Value) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_string());
    if let Some(sid) = sid {
        req = req.header("mcp-session-id", sid);
    }
    let r = req.send().await.unwrap();
    let sid = r
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_string());
    let text = r.text().await.unwrap();
    (sid, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The value of one sample line of the exposition, e.g. `name{a="b"}`.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_known_traffic_and_probes_answer() {
    let (_child, mcp, admin, _dir) = start(
        &common::testkit_server("alpha", &["--name", "alpha"], ""),
        "",
    )
    .await;
    assert_eq!(get(&format!("{admin}/healthz")).await.0, 200);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while get(&format!("{admin}/readyz")).await.0 != 200 {
        assert!(tokio::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (sid, _) = post(&mcp, None, json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "m", "version": "1"}}})).await;
    let sid = sid.unwrap();
    post(
        &mcp,
        Some(&sid),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    for (id, name) in [
        (1, "alpha__echo"),
        (2, "alpha__echo"),
        (3, "alpha__fail"),
        (4, "nope"),
    ] {
        post(
            &mcp,
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                      "params": {"name": name, "arguments": {"text": "x"}}}),
        )
        .await;
    }
    let (status, text) = get(&format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    let expect = [
        (
            r#"manifold_requests_total{method="tools/call",outcome="ok",server="alpha"}"#,
            2.0,
        ),
        (
            r#"manifold_requests_total{method="tools/call",outcome="tool_error",server="alpha"}"#,
            1.0,
        ),
        (
            r#"manifold_requests_total{method="tools/call",outcome="error",server="manifold"}"#,
            1.0,
        ),
        (
            r#"manifold_requests_total{method="initialize",outcome="ok",server="manifold"}"#,
            1.0,
        ),
        (
            r#"manifold_request_duration_seconds_count{method="tools/call",server="alpha"}"#,
            3.0,
        ),
        (r#"manifold_upstream_up{server="alpha"}"#, 1.0),
        (r#"manifold_sessions{transport="http"}"#, 1.0),
        (r#"manifold_inflight_requests{server="alpha"}"#, 0.0),
    ];
    for (series, value) in expect {
        assert_eq!(sample(&text, series), Some(value), "{series} in\n{text}");
    }
    // Ending the session is visible too.
    reqwest::Client::new()
        .delete(&mcp)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let (_, text) = get(&format!("{admin}/metrics")).await;
    assert_eq!(
        sample(&text, r#"manifold_sessions{transport="http"}"#),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_reports_too_few_upstreams() {
    let servers = common::testkit_server("down", &["--fail-start"], "");
    let (_child, _mcp, admin, _dir) = start(&servers, "min_upstreams = 1").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, body) = get(&format!("{admin}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(get(&format!("{admin}/healthz")).await.0, 200);
    let (_, text) = get(&format!("{admin}/metrics")).await;
    assert_eq!(
        sample(&text, r#"manifold_upstream_up{server="down"}"#),
        Some(0.0),
        "{text}"
    );
}
