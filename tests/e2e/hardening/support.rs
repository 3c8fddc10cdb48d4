//! Shared fixtures of the hardening tests: the HTTP face as a client sees it (Streamable HTTP
//! and legacy HTTP+SSE, keeping answers' exact text) and the audit log as it is written.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use tokio::process::Child;

use crate::common;

/// A running `manifold serve --listen 127.0.0.1:0` on a config.
pub(crate) struct HttpFace {
    _child: Child,
    pub(crate) url: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl HttpFace {
    pub(crate) async fn start(toml: &str) -> HttpFace {
        let (dir, path) = common::write_config(toml);
        let (child, url, _rest) = common::serve_http(&path).await;
        HttpFace {
            _child: child,
            url,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// The origin (`http://127.0.0.1:PORT`) of the face.
    pub(crate) fn base(&self) -> &str {
        self.url.trim_end_matches("/mcp")
    }

    /// POSTs `text` (JSON answers only); returns the status and the exact body.
    pub(crate) async fn post_exact(&self, sid: Option<&str>, text: &str) -> (u16, String) {
        let mut req = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(text.to_string());
        if let Some(sid) = sid {
            req = req.header("mcp-session-id", sid);
        }
        let r = req.send().await.expect("POST /mcp");
        let status = r.status().as_u16();
        (status, r.text().await.expect("body"))
    }

    /// POSTs `text`; returns the status and the JSON answer.
    pub(crate) async fn post_raw(&self, sid: Option<&str>, text: &str) -> (u16, Value) {
        let (status, body) = self.post_exact(sid, text).await;
        let value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {status} {body:?}"));
        (status, value)
    }

    /// POSTs `text` in session `sid`, expecting 200; returns the exact answer.
    pub(crate) async fn post_text(&self, sid: &str, text: &str) -> String {
        let (status, body) = self.post_exact(Some(sid), text).await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// `initialize` + `notifications/initialized`; returns the session id.
    pub(crate) async fn open_session(&self) -> String {
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "hardening", "version": "1"}}});
        let r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(init.to_string())
            .send()
            .await
            .expect("initialize");
        assert_eq!(r.status(), 200);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let note = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let (status, _) = self.post_exact(Some(&sid), &note.to_string()).await;
        assert_eq!(status, 202);
        sid
    }

    /// Calls a tool in session `sid`; returns the JSON answer.
    pub(crate) async fn call(&self, sid: &str, id: i64, name: &str, arguments: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}});
        let text = self.post_text(sid, &body.to_string()).await;
        serde_json::from_str(&text).expect("a JSON answer")
    }

    /// Opens a legacy HTTP+SSE session (`GET /sse`).
    pub(crate) async fn open_legacy(&self) -> Legacy {
        let r = self
            .http
            .get(format!("{}/sse", self.base()))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("GET /sse");
        assert_eq!(r.status(), 200);
        let mut legacy = Legacy {
            events: SseReader::new(r),
            endpoint: String::new(),
            http: self.http.clone(),
        };
        let (kind, data) = legacy.events.next_event().await;
        assert_eq!(kind, "endpoint", "{data}");
        legacy.endpoint = format!("{}{}", self.base(), data.trim());
        legacy
    }

    /// Opens the GET stream of session `sid`.
    pub(crate) async fn open_stream(&self, sid: &str) -> SseReader {
        let r = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid)
            .send()
            .await
            .expect("GET /mcp");
        assert_eq!(r.status(), 200);
        SseReader::new(r)
    }
}

type ByteStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// A legacy HTTP+SSE session: POSTs go to its endpoint, answers come on its stream.
pub(crate) struct Legacy {
    events: SseReader,
    endpoint: String,
    http: reqwest::Client,
}

impl Legacy {
    /// POSTs one message (202, or 400 for one that is refused: the error goes on the stream).
    pub(crate) async fn post(&mut self, text: &str) -> u16 {
        let r = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/json")
            .body(text.to_string())
            .send()
            .await
            .expect("POST /messages");
        r.status().as_u16()
    }

    /// Reads the stream until the answer to `id`.
    pub(crate) async fn answer(&mut self, id: impl Into<Value>) -> Value {
        self.events.answer(id).await
    }
}

/// The events of one SSE response, as a client reads them (events without data are skipped).
pub(crate) struct SseReader {
    events: ByteStream,
    buffer: String,
}

impl SseReader {
    fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            events: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event: its type and data.
    pub(crate) async fn next_event(&mut self) -> (String, String) {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let field = |name: &str| -> Vec<String> {
                    raw.lines()
                        .filter_map(|l| l.strip_prefix(name))
                        .map(|v| v.strip_prefix(' ').unwrap_or(v).to_string())
                        .collect()
                };
                let data = field("data:").join("\n");
                if data.is_empty() {
                    continue;
                }
                let kind = field("event:").pop().unwrap_or_else(|| "message".into());
                return (kind, data);
            }
            let chunk = tokio::time::timeout(common::RECV_TIMEOUT, self.events.next())
                .await
                .expect("an SSE event in time")
                .expect("the stream is open")
                .expect("a chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Reads the stream until the answer to `id`.
    pub(crate) async fn answer(&mut self, id: impl Into<Value>) -> Value {
        let id = id.into();
        loop {
            let (_, data) = self.next_event().await;
            let message: Value = serde_json::from_str(&data).expect("JSON on the stream");
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
        }
    }
}

/// The first `n` lines of the audit log at `path`, waiting (up to the receive timeout) for the
/// writer thread to write them.
pub(crate) async fn audit_lines(path: &Path, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + common::RECV_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} audit lines: {text}",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
