//! A real Prometheus server (the Debian package `prometheus`) scrapes Manifold's admin `/metrics`
//! and sees exactly the tool calls made through the gateway; the same server checks that every
//! query of the Grafana dashboard `config/grafana/manifold.json` is valid PromQL.

use crate::common::{
    self, eventually, http,
    http::{Answer, HttpGateway},
};

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// How many `alpha__echo` calls the scrape test makes.
const CALLS: u32 = 5;

/// How long Prometheus may take to start, or to scrape and show a value.
const PROMETHEUS_TIMEOUT: Duration = Duration::from_secs(30);

/// The `prometheus` binary: on PATH, else Debian's `/usr/bin/prometheus`. Missing is a failure,
/// never a skip.
fn prometheus_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("prometheus"))
        .find(|p| p.is_file());
    let debian = PathBuf::from("/usr/bin/prometheus");
    on_path
        .or_else(|| debian.is_file().then_some(debian))
        .expect(
            "the `prometheus` binary is missing: install the Debian package `prometheus` \
             (`apt-get install --no-install-recommends prometheus`; .ci/run does this)",
        )
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// A running Prometheus; killed when dropped.
struct Prometheus {
    _child: Child,
    /// `http://127.0.0.1:<port>`.
    url: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `targets` (`host:port`, path `/metrics`) every second, and
    /// waits until it is ready.
    async fn start(targets: &[&str]) -> Prometheus {
        let bin = prometheus_bin();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        let targets: Vec<String> = targets.iter().map(|t| format!("{t:?}")).collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: manifold\n    metrics_path: /metrics\n    \
                 static_configs:\n      - targets: [{}]\n",
                targets.join(", ")
            ),
        )
        .expect("write prometheus.yml");
        let log = dir.path().join("prometheus.log");
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create prometheus.log"))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let prometheus = Prometheus {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _dir: dir,
        };
        eventually("Prometheus ready", PROMETHEUS_TIMEOUT, async || {
            let ready = reqwest::get(format!("{}/-/ready", prometheus.url)).await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                Ok(())
            } else {
                Err(format!("its log:\n{}", prometheus.log()))
            }
        })
        .await;
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/api/v1/query` for `query` at the current time; the whole answer.
    async fn query(&self, query: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", query)])
            .send()
            .await
            .expect("GET /api/v1/query");
        let text = r.text().await.expect("query body");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{query}: not JSON ({e}): {text}"))
    }

    /// Polls `query` until one sample of its result vector has the value `want`; panics saying
    /// `what` never happened, with the last answer and Prometheus's log, if none does in time.
    async fn wait_for_value(&self, query: &str, want: &str, what: &str) {
        eventually(what, PROMETHEUS_TIMEOUT, async || {
            let answer = self.query(query).await;
            let found = answer["data"]["result"]
                .as_array()
                .is_some_and(|samples| samples.iter().any(|s| s["value"][1] == want));
            if found {
                Ok(())
            } else {
                Err(format!("last answer: {answer}\nits log:\n{}", self.log()))
            }
        })
        .await;
    }
}

/// `manifold serve` on HTTP with a testkit upstream `alpha` and the admin listener on a free
/// port; returns the gateway and the admin `host:port`.
async fn start_manifold() -> (HttpGateway, String) {
    let mut gateway = HttpGateway::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n{}",
        common::testkit_server("alpha", &["--name", "alpha"], "")
    ))
    .await;
    let admin = gateway.admin_url().await;
    let admin = admin.strip_prefix("http://").unwrap_or(&admin);
    let admin = admin.trim_end_matches('/').to_string();
    (gateway, admin)
}

/// POSTs one JSON-RPC message to the Streamable HTTP endpoint; returns the session id header
/// and the JSON body (`Null` for a notification's empty answer).
async fn post(gateway: &HttpGateway, sid: Option<&str>, body: Value) -> (Option<String>, Value) {
    let answer = Answer::send(http::on_session(gateway.post(&body), sid)).await;
    assert!(answer.status.is_success(), "POST {body}: {}", answer.status);
    (answer.session.clone(), answer.json_or_null())
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_tool_calls_made() {
    let (manifold, admin) = start_manifold().await;
    let (sid, init) = post(
        &manifold,
        None,
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "prometheus-test", "version": "1"}}}),
    )
    .await;
    assert!(init["result"].is_object(), "initialize: {init}");
    let sid = sid.expect("a session id");
    post(
        &manifold,
        Some(&sid),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    for id in 1..=CALLS {
        let (_, answer) = post(
            &manifold,
            Some(&sid),
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": "alpha__echo", "arguments": {"text": "hi"}}}),
        )
        .await;
        assert!(
            answer["result"]["content"].is_array() && answer["result"]["isError"] != true,
            "call {id}: {answer}"
        );
    }

    let prometheus = Prometheus::start(&[&admin]).await;
    let want = CALLS.to_string();
    // The request counter first: it proves the scrape itself works.
    let requests = r#"manifold_requests_total{method="tools/call",server="alpha",outcome="ok"}"#;
    let what = format!("Prometheus showing {requests} = {want}");
    prometheus.wait_for_value(requests, &want, &what).await;
    let tool_calls = r#"manifold_tool_calls_total{server="alpha",tool="alpha__echo",outcome="ok"}"#;
    let what = format!("Prometheus, which scrapes Manifold, showing {tool_calls} = {want}");
    prometheus.wait_for_value(tool_calls, &want, &what).await;
}

/// Grafana's variables in the dashboard's queries, with values Prometheus accepts.
const GRAFANA_VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "1h"),
    ("$server", ".*"),
];

/// Every `expr` in the dashboard, with the panel title.
fn dashboard_queries(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).expect("read the dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut out = Vec::new();
    let mut todo = vec![&dashboard];
    while let Some(panel) = todo.pop() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                let title = panel["title"].as_str().unwrap_or_default();
                out.push((title.to_string(), expr.to_string()));
            }
        }
        todo.extend(panel["panels"].as_array().into_iter().flatten());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_queries_are_valid_promql() {
    let queries = dashboard_queries(&common::repo_root().join("config/grafana/manifold.json"));
    assert!(!queries.is_empty(), "the dashboard has no queries");
    let prometheus = Prometheus::start(&[]).await;
    for (title, expr) in queries {
        let query = GRAFANA_VARIABLES
            .iter()
            .fold(expr.clone(), |q, (var, value)| q.replace(var, value));
        assert!(
            !query.contains('$'),
            "{title:?} uses a variable this test does not know: {expr}"
        );
        let answer = prometheus.query(&query).await;
        assert_eq!(
            answer["status"], "success",
            "{title:?}: Prometheus rejects {query}: {answer}"
        );
    }
}
