//! Shared fixtures of the hardening tests: the HTTP face as a JSON-only client sees it
//! (Streamable HTTP and legacy HTTP+SSE, keeping answers' exact text), on the shared harness.

use serde_json::{json, Value};

use crate::common::http::{self, Answer, HttpGateway, SseReader};

/// The shared HTTP harness as a JSON-only client sees it: POSTs accepting JSON answers only,
/// their exact text kept; and the legacy HTTP+SSE face.
pub(crate) struct HttpFace(HttpGateway);

impl std::ops::Deref for HttpFace {
    type Target = HttpGateway;
    fn deref(&self) -> &HttpGateway {
        &self.0
    }
}

impl HttpFace {
    pub(crate) async fn start(toml: &str) -> HttpFace {
        HttpFace(HttpGateway::start(toml).await)
    }

    /// POSTs `text` (JSON answers only); returns the status and the exact body.
    pub(crate) async fn post_exact(&self, sid: Option<&str>, text: &str) -> (u16, String) {
        let answer = Answer::send(http::on_session(self.post_json_only(text), sid)).await;
        (answer.status.as_u16(), answer.text)
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

    /// `initialize` + `notifications/initialized` (as client `hardening`); the session id.
    pub(crate) async fn open_session(&self) -> String {
        let post = |sid: Option<&str>, body: &Value| http::on_session(self.post(body), sid);
        http::open_session("hardening", post).await
    }

    /// Calls a tool in session `sid` (JSON answers only); returns the JSON answer.
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
        let mut events = SseReader::new(r);
        let endpoint = events.next_event().await;
        assert_eq!(endpoint.kind, "endpoint", "{}", endpoint.data);
        Legacy {
            events,
            endpoint: format!("{}{}", self.base(), endpoint.data.trim()),
            http: self.http.clone(),
        }
    }

    /// Opens the GET stream of session `sid`.
    pub(crate) async fn open_stream(&self, sid: &str) -> SseReader {
        let r = self.stream(sid, None).await;
        assert_eq!(r.status(), 200);
        SseReader::new(r)
    }
}

/// A legacy HTTP+SSE session: POSTs go to its endpoint, answers come on its stream.
pub(crate) struct Legacy {
    events: SseReader,
    endpoint: String,
    http: reqwest::Client,
}

impl Legacy {
    /// POSTs one message (202, or 400 for one that is refused: the error goes on the stream).
    pub(crate) async fn post(&mut self, text: &str) -> u16 {
        let r = http::post_legacy(&self.http, &self.endpoint, text);
        r.send().await.expect("POST /messages").status().as_u16()
    }

    /// Reads the stream until the answer to `id`.
    pub(crate) async fn answer(&mut self, id: impl Into<Value>) -> Value {
        self.events.answer(id).await
    }
}
