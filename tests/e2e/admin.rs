//! The admin listener: `/healthz`, `/readyz` and `/metrics` (Prometheus text) after known
//! traffic, on the HTTP face and beside the stdio face.

use crate::common;

use std::time::Duration;

use serde_json::json;

use crate::common::eventually;
use crate::common::http::{Answer, HttpGateway};

/// `manifold serve` on HTTP with the admin listener on a free port; returns the gateway and the
/// admin URL.
async fn start(servers: &str, admin_toml: &str) -> (HttpGateway, String) {
    let toml = format!("[admin]\nlisten = \"127.0.0.1:0\"\n{admin_toml}\n{servers}");
    let mut gateway = HttpGateway::start(&toml).await;
    let admin = gateway.admin_url().await;
    (gateway, admin)
}

async fn get(url: &str) -> (u16, String) {
    let r = reqwest::get(url).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
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
    let (gateway, admin) = start(
        &common::testkit_server("alpha", &["--name", "alpha"], ""),
        "",
    )
    .await;
    assert_eq!(get(&format!("{admin}/healthz")).await.0, 200);
    eventually("ready", Duration::from_secs(10), async || {
        (get(&format!("{admin}/readyz")).await.0 == 200).then_some(())
    })
    .await;
    let sid = gateway.open_session().await;
    for (id, name) in [
        (1, "alpha__echo"),
        (2, "alpha__echo"),
        (3, "alpha__fail"),
        (4, "nope"),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": name, "arguments": {"text": "x"}}});
        Answer::send(gateway.post(call).header("mcp-session-id", &sid)).await;
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
    gateway.delete(&sid).send().await.unwrap();
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
    let (_gateway, admin) = start(&servers, "min_upstreams = 1").await;
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
