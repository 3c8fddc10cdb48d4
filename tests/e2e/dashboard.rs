//! The Grafana dashboard `config/grafana/manifold.json`: it parses, every panel queries something
//! through the `${DS_PROMETHEUS}` data source variable, every metric it queries is one a running
//! `manifold serve` exports on `/metrics`, and every exported metric has a panel.

use crate::common::{
    self, eventually,
    http::{Answer, HttpGateway},
};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{json, Value};

/// Every metric Manifold exports: DESIGN.md § Interfaces, plus `manifold_unroutable_total`
/// (server→client requests refused because no single client could be identified).
const EXPORTED: &[&str] = &[
    "manifold_requests_total",
    "manifold_request_duration_seconds",
    "manifold_tool_calls_total",
    "manifold_upstream_up",
    "manifold_upstream_restarts_total",
    "manifold_sessions",
    "manifold_inflight_requests",
    "manifold_notifications_total",
    "manifold_rate_limited_total",
    "manifold_unroutable_total",
    "manifold_dropped_messages_total",
    "manifold_connections_refused_total",
    "manifold_connections_timed_out_total",
];

/// Metrics that get no series from this test's traffic (no rate limit rule is configured, no
/// upstream restarts, no server→client request needs routing). A labelled metric without a series
/// has no `# TYPE` line in the exposition, so for these the test trusts [`EXPORTED`] instead of
/// `/metrics`.
const NO_SERIES_HERE: &[&str] = &[
    "manifold_rate_limited_total",
    "manifold_upstream_restarts_total",
    "manifold_unroutable_total",
    "manifold_connections_refused_total",
    "manifold_connections_timed_out_total",
];

/// The data source every panel and query must use, so the dashboard imports anywhere.
const DATASOURCE: &str = "${DS_PROMETHEUS}";

fn dashboard() -> Value {
    let path = common::repo_root().join("config/grafana/manifold.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Every panel, with the panels nested in collapsed rows.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    let mut todo: Vec<&Value> = dashboard["panels"]
        .as_array()
        .expect("a panels array")
        .iter()
        .collect();
    while let Some(panel) = todo.pop() {
        if let Some(nested) = panel["panels"].as_array() {
            todo.extend(nested);
        }
        out.push(panel);
    }
    out
}

/// Every `manifold_…` identifier in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("manifold_") {
        let preceded_by_ident = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':');
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(tail.len());
        if !preceded_by_ident {
            names.push(tail[..len].to_string());
        }
        rest = &tail[len..];
    }
    names
}

/// `# TYPE <name> <type>` of every metric family in a Prometheus text exposition.
fn types(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .map(|(name, kind)| (name.to_string(), kind.trim().to_string()))
        .collect()
}

/// `manifold serve` on HTTP with the admin listener, after an initialize and two tool calls, one
/// of them reporting progress (a relayed notification); returns `/metrics`.
async fn live_exposition() -> String {
    let mut gateway = HttpGateway::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n{}",
        common::testkit_server("alpha", &["--name", "alpha"], "")
    ))
    .await;
    let admin = gateway.admin_url().await;
    let sid = gateway.open_session().await;
    for params in [
        json!({"name": "alpha__echo", "arguments": {"text": "x"}}),
        json!({"name": "alpha__sleep", "arguments": {"ms": 30}, "_meta": {"progressToken": "p"}}),
    ] {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
        // The whole answer is read (an SSE stream when progress is reported) before going on.
        let answer = Answer::send(gateway.post(call).header("mcp-session-id", &sid)).await;
        assert!(answer.status.is_success(), "POST /mcp: {}", answer.status);
    }
    // Should the progress notifications be counted after the answer, give them a moment.
    let client = reqwest::Client::new();
    eventually(
        "manifold_notifications_total on /metrics",
        Duration::from_secs(5),
        async || {
            let text = client
                .get(format!("{admin}/metrics"))
                .send()
                .await
                .expect("GET /metrics")
                .text()
                .await
                .expect("metrics body");
            types(&text)
                .contains_key("manifold_notifications_total")
                .then_some(text)
        },
    )
    .await
}

#[test]
fn every_panel_queries_the_data_source_variable() {
    let dashboard = dashboard();
    let vars = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no template variable {name}"))
    };
    assert_eq!(var("DS_PROMETHEUS")["type"], "datasource");
    assert_eq!(var("DS_PROMETHEUS")["query"], "prometheus");
    let server = var("server");
    assert_eq!(server["datasource"]["uid"], DATASOURCE);
    assert_eq!(
        server["query"]["query"],
        "label_values(manifold_upstream_up, server)"
    );

    let mut ids = BTreeSet::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().expect("every panel has a title");
        assert!(
            ids.insert(panel["id"].as_u64().expect("a numeric id")),
            "duplicate panel id in {title:?}"
        );
        assert!(panel["gridPos"].is_object(), "{title:?} has no gridPos");
        if panel["type"] == "row" {
            continue; // A row only groups panels.
        }
        assert_eq!(panel["datasource"]["uid"], DATASOURCE, "{title:?}");
        let targets = panel["targets"].as_array().map(Vec::as_slice);
        let targets = targets.unwrap_or_default();
        assert!(!targets.is_empty(), "{title:?} has no target");
        for target in targets {
            assert_eq!(target["datasource"]["uid"], DATASOURCE, "{title:?}");
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !metric_names(expr).is_empty(),
                "{title:?}: {expr:?} queries no manifold_ metric"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_metrics_are_the_exported_metrics() {
    let exposition = live_exposition().await;
    let types = types(&exposition);
    let exported: BTreeSet<&str> = EXPORTED.iter().copied().collect();
    // Whatever /metrics shows must be known here, so a new metric cannot go without a panel.
    for name in types.keys() {
        assert!(
            exported.contains(name.as_str()),
            "/metrics exports {name}, which is not in EXPORTED (and so maybe on no panel)"
        );
    }
    // Everything known here that this traffic should have created is really on /metrics.
    for name in EXPORTED.iter().filter(|n| !NO_SERIES_HERE.contains(n)) {
        assert!(
            types.contains_key(*name),
            "{name} is not on /metrics after the test's traffic:\n{exposition}"
        );
    }

    let dashboard = dashboard();
    let mut used = BTreeSet::new();
    for panel in panels(&dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            for name in metric_names(target["expr"].as_str().unwrap_or_default()) {
                // A histogram is queried through its _bucket/_sum/_count series.
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .filter_map(|suffix| name.strip_suffix(suffix))
                    .find(|base| types.get(*base).is_some_and(|t| t == "histogram"))
                    .unwrap_or(&name)
                    .to_string();
                assert!(
                    types.get(&name).is_none_or(|t| t != "histogram"),
                    "{title:?} queries the histogram {name} itself: use {name}_bucket, _sum or _count"
                );
                assert!(
                    exported.contains(family.as_str())
                        && (types.contains_key(&family)
                            || NO_SERIES_HERE.contains(&family.as_str())),
                    "{title:?} queries {name}, which Manifold does not export"
                );
                used.insert(family);
            }
        }
    }
    for name in EXPORTED {
        assert!(
            used.contains(*name),
            "no dashboard panel shows {name}; used: {used:?}"
        );
    }
}
