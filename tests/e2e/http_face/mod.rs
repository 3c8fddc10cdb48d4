//! The Streamable HTTP face of `manifold serve` (no `--stdio`), driven with raw HTTP requests.
//! Each submodule holds one concern: `sessions` (session rules, status codes,
//! DNS-rebinding protection, limits, expiry), `streams` (the GET stream, progress, SSE answers,
//! resumption), `private` (per-session upstreams and relayed sampling) and `lifecycle` (drain on
//! SIGTERM, TLS). The shared fixture is `Face`.

use crate::common;

mod lifecycle;
mod private;
mod sessions;
mod streams;
mod subscriptions;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::process::Child;

/// A running `manifold serve --listen 127.0.0.1:0` and its endpoint URL.
pub(crate) struct Face {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) http: reqwest::Client,
    _config: tempfile::TempDir,
}

impl Face {
    pub(crate) async fn start(extra_toml: &str, servers: &str) -> Face {
        let (dir, path) = common::write_config(&format!("{extra_toml}\n{servers}"));
        let (child, url, _rest) = common::serve_http(&path).await;
        Face {
            child,
            url,
            http: reqwest::Client::new(),
            _config: dir,
        }
    }

    pub(crate) fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string())
    }

    /// `initialize` + `notifications/initialized`; returns the session id.
    pub(crate) async fn open_session(&self) -> String {
        let r = self
            .post(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "http-e2e", "version": "1"}}}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        assert!(
            sid.len() >= 16 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
            "{sid}"
        );
        let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        common::schema::check("InitializeResult", &body["result"]);
        let r = self
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .header("mcp-session-id", &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        sid
    }

    pub(crate) async fn call(
        &self,
        sid: &str,
        id: i64,
        method: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        let r = self
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
            .await
            .unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status == StatusCode::OK {
            common::schema::check_outgoing(&body, Some(method));
        }
        (status, body)
    }
}

impl Face {
    /// `tools/call name(arguments)` on session `sid`; the whole response.
    pub(crate) async fn tool(&self, sid: &str, id: i64, name: &str, arguments: Value) -> Value {
        self.call(
            sid,
            id,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
        .1
    }

    /// Opens a GET stream of session `sid`, resuming after `last_event_id` if given.
    pub(crate) async fn stream(&self, sid: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid);
        if let Some(last) = last_event_id {
            req = req.header("last-event-id", last);
        }
        req.send().await.expect("GET stream")
    }
}

pub(crate) fn testkit(alias: &str, args: &[&str]) -> String {
    common::testkit_server(alias, args, "")
}

/// The JSON messages of an SSE body, in order (a priming event, with empty data, carries none).
pub(crate) fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let data = data.join("\n");
            (!data.is_empty()).then(|| serde_json::from_str(&data).expect("JSON in an SSE event"))
        })
        .collect()
}
