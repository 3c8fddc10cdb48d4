//! The policy layers end to end, against the real binary and testkit upstreams: per-principal
//! `views`, rate `limits`, argument `validation`, `curation`, the `audit` log, `deadlines`
//! (timeouts, concurrency and result-size limits) and the `metrics` they leave behind. Shared
//! fixtures: `Face` (the shared HTTP harness with bearer tokens and the admin listener) and `Stdio` (the stdio face).

use crate::common;

mod audit;
mod curation;
mod deadlines;
mod limits;
mod metrics;
mod validation;
mod views;

use std::path::{Path, PathBuf};

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use crate::common::http::{self, Answer, HttpGateway};

/// Tokens of the two principals the HTTP tests use (static tokens read from files).
pub(crate) const ALICE: &str = "alice-token-0123456789";
pub(crate) const BOB: &str = "bob-token-0123456789ab";

/// `[auth]` with static tokens for `alice` and `bob`, read from files beside the config.
pub(crate) const TWO_PRINCIPALS: &str = r#"
[[auth.tokens]]
principal = "alice"
file = "alice.token"
[[auth.tokens]]
principal = "bob"
file = "bob.token"
"#;

/// A running `manifold serve --listen 127.0.0.1:0` with its admin listener.
pub(crate) struct Face {
    gateway: HttpGateway,
    admin: String,
}

impl Face {
    /// Serves `toml` (token files for [`TWO_PRINCIPALS`] are written beside it).
    pub(crate) async fn start(toml: &str) -> Face {
        let toml = format!("[admin]\nlisten = \"127.0.0.1:0\"\n{toml}");
        let tokens = [("alice.token", ALICE), ("bob.token", BOB)];
        let mut gateway = HttpGateway::start_with(&toml, &tokens, &[]).await;
        let admin = gateway.admin_url().await;
        Face { gateway, admin }
    }

    /// Opens a session as the holder of `token`; returns its id.
    pub(crate) async fn open(&self, token: &str) -> Session<'_> {
        let sid = http::open_session("policy-e2e", |sid, body| self.post(token, sid, body)).await;
        Session {
            face: self,
            token: token.to_string(),
            sid,
        }
    }

    /// A POST of `body` as the holder of `token`, on session `sid` when given.
    fn post(&self, token: &str, sid: Option<&str>, body: &Value) -> RequestBuilder {
        let post = self.gateway.post(body).bearer_auth(token);
        http::on_session(post, sid).header("mcp-protocol-version", http::VERSION)
    }

    /// The Prometheus exposition of the admin listener.
    pub(crate) async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// One client session on the HTTP face.
pub(crate) struct Session<'f> {
    face: &'f Face,
    token: String,
    pub(crate) sid: String,
}

impl Session<'_> {
    /// A request's whole JSON-RPC response (schema-checked).
    pub(crate) async fn request(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let answer = Answer::send(self.face.post(&self.token, Some(&self.sid), &body)).await;
        assert_eq!(answer.status, StatusCode::OK, "{method}");
        let message = answer.json();
        common::schema::check_outgoing(&message, Some(method));
        message
    }

    /// `tools/call`'s whole response.
    pub(crate) async fn call(&self, name: &str, arguments: Value) -> Value {
        self.request("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// Every name of a list (`tools/list` → `tools`/`name`, …), following cursors.
    pub(crate) async fn names(&self, method: &str, field: &str, key: &str) -> Vec<String> {
        let r = self.request(method, json!({})).await;
        common::names(&r["result"], field, key)
    }
}

/// A `serve --stdio` gateway on `toml` (in a directory also returned, for files beside it).
pub(crate) async fn stdio(toml: &str) -> (common::Gateway, tempfile::TempDir, PathBuf) {
    let (dir, path) = common::write_config(&format!("[admin]\nlisten = \"off\"\n{toml}"));
    let mut gateway = common::Gateway::spawn(&path);
    gateway.initialize().await;
    (gateway, dir, path)
}

/// The testkit as server `alias`, with `args` and extra TOML lines.
pub(crate) fn server(alias: &str, args: &[&str], extra: &str) -> String {
    let mut all = vec!["--name", alias];
    all.extend_from_slice(args);
    common::testkit_server(alias, &all, extra)
}

/// The `tools/call` requests a testkit recorded (`--record`), as `(name, arguments)`.
pub(crate) fn recorded_calls(record: &Path) -> Vec<(String, Value)> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["method"] == "tools/call")
        .map(|m| {
            (
                m["params"]["name"].as_str().unwrap_or_default().to_string(),
                m["params"]["arguments"].clone(),
            )
        })
        .collect()
}

/// The value of one sample of the exposition, e.g. `name{a="b"}`.
pub(crate) fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

/// The text of a tool result's first content item.
pub(crate) fn text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {response}"))
}
