//! The one HTTP harness of the end-to-end tests: `manifold serve --listen` as a child
//! ([`HttpGateway`]), the POST of one JSON-RPC message ([`post`]) and its answer read whole, JSON
//! or SSE ([`Answer`]), a session opened the one way every test opens it ([`open_session`]), and
//! SSE streams read event by event ([`SseReader`]).

use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedReceiver;

use super::{manifold_bin, schema, spawn_listening, write_config, RECV_TIMEOUT};

/// The `Accept` of a Streamable HTTP client: a JSON answer or an SSE stream.
pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";
/// The `Accept` of a client that takes JSON answers only.
pub const ACCEPT_JSON: &str = "application/json";
/// The protocol version the tests' clients speak (`initialize` and `MCP-Protocol-Version`).
pub const VERSION: &str = "2025-11-25";

/// `manifold serve --listen 127.0.0.1:0 --config <config>` with `env` added (RUST_LOG from the
/// environment, else `warn`).
pub fn serve_command(config: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(manifold_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .envs(env.iter().copied())
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        );
    cmd
}

/// A running `manifold serve --listen 127.0.0.1:0`: its MCP endpoint URL, a client for it, and
/// the directory of its config (files written beside it stay there while it runs).
pub struct HttpGateway {
    pub child: Child,
    pub url: String,
    pub http: Client,
    pub dir: tempfile::TempDir,
    /// What the child prints after its address (the admin address, when there is one).
    pub lines: UnboundedReceiver<String>,
}

impl HttpGateway {
    /// Serves `toml`.
    pub async fn start(toml: &str) -> HttpGateway {
        Self::start_with(toml, &[], &[]).await
    }

    /// Serves `toml`, with `files` (name, contents) written beside it first and `env` added to
    /// the child's environment.
    pub async fn start_with(
        toml: &str,
        files: &[(&str, &str)],
        env: &[(&str, &str)],
    ) -> HttpGateway {
        let (dir, path) = write_config(toml);
        for (name, contents) in files {
            std::fs::write(dir.path().join(name), contents)
                .expect("write a file beside the config");
        }
        let (child, url, lines) = spawn_listening(serve_command(&path, env)).await;
        HttpGateway {
            child,
            url,
            http: Client::new(),
            dir,
            lines,
        }
    }

    /// The admin listener's URL, printed after the MCP address (with `[admin] listen =
    /// "127.0.0.1:0"` in the config); call it once.
    pub async fn admin_url(&mut self) -> String {
        admin_url(&mut self.lines).await
    }

    /// The origin (`http://127.0.0.1:PORT`) of the endpoint.
    pub fn base(&self) -> &str {
        self.url.trim_end_matches("/mcp")
    }

    /// A POST of `body` to the endpoint, accepting JSON and SSE.
    pub fn post(&self, body: impl Display) -> RequestBuilder {
        post(&self.http, &self.url, body)
    }

    /// A POST of `body` to the endpoint, accepting JSON answers only.
    pub fn post_json_only(&self, body: impl Display) -> RequestBuilder {
        post_accepting(&self.http, &self.url, ACCEPT_JSON, body)
    }

    /// `initialize` + `notifications/initialized` (checked as [`open_session`] does); the
    /// session id.
    pub async fn open_session(&self) -> String {
        open_session("http-e2e", |sid, body| on_session(self.post(body), sid)).await
    }

    /// `method(params)` as request `id` on session `sid`, with the protocol version header: the
    /// status and the answer's JSON (its text as a JSON string when it is not JSON);
    /// schema-checked when the status is 200.
    pub async fn call(
        &self,
        sid: &str,
        id: i64,
        method: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let request = self
            .post(&message)
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", VERSION);
        let answer = Answer::send(request).await;
        let body = answer.json_or_text();
        if answer.status == StatusCode::OK {
            schema::check_outgoing(&body, Some(method));
        }
        (answer.status, body)
    }

    /// `tools/call name(arguments)` on session `sid`; the whole response.
    pub async fn tool(&self, sid: &str, id: i64, name: &str, arguments: Value) -> Value {
        let params = json!({"name": name, "arguments": arguments});
        self.call(sid, id, "tools/call", params).await.1
    }

    /// Opens the GET stream of session `sid`, resuming after `last_event_id` if given.
    pub async fn stream(&self, sid: &str, last_event_id: Option<&str>) -> Response {
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

    /// A DELETE of session `sid`.
    pub fn delete(&self, sid: &str) -> RequestBuilder {
        self.http.delete(&self.url).header("mcp-session-id", sid)
    }
}

/// The admin listener's URL from the `admin listening on <url>` line the child prints after its
/// address.
pub async fn admin_url(lines: &mut UnboundedReceiver<String>) -> String {
    let line = tokio::time::timeout(RECV_TIMEOUT, lines.recv())
        .await
        .expect("the admin address")
        .expect("a second line");
    line.strip_prefix("admin listening on ")
        .unwrap_or_else(|| panic!("not the admin address: {line}"))
        .to_string()
}

/// A POST of `body` (a JSON message, or any text) to `url` with a JSON Content-Type, accepting
/// JSON and SSE as a Streamable HTTP client does.
pub fn post(http: &Client, url: &str, body: impl Display) -> RequestBuilder {
    post_accepting(http, url, ACCEPT_BOTH, body)
}

/// A POST of `body` to `url` with a JSON Content-Type and this `Accept`.
pub fn post_accepting(
    http: &Client,
    url: &str,
    accept: &str,
    body: impl Display,
) -> RequestBuilder {
    http.post(url)
        .header("content-type", "application/json")
        .header("accept", accept)
        .body(body.to_string())
}

/// A POST of `body` to a legacy HTTP+SSE session's `/messages` endpoint (its answers come on the
/// session's stream): a JSON Content-Type and no `Accept`.
pub fn post_legacy(http: &Client, endpoint: &str, body: impl Display) -> RequestBuilder {
    http.post(endpoint)
        .header("content-type", "application/json")
        .body(body.to_string())
}

/// `req` naming session `sid`, when there is one.
pub fn on_session(req: RequestBuilder, sid: Option<&str>) -> RequestBuilder {
    match sid {
        Some(sid) => req.header("mcp-session-id", sid),
        None => req,
    }
}

/// The `initialize` request (id 0) of client `name`, with no optional capabilities.
pub fn initialize(name: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": VERSION, "capabilities": {},
        "clientInfo": {"name": name, "version": "1"}}})
}

/// The `notifications/initialized` a client sends after `initialize`.
pub fn initialized() -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
}

/// Opens a session as client `name`: `initialize` POSTed by `post(None, …)` is answered 200 with
/// a session id (at least 16 visible ASCII characters) and a schema-valid `InitializeResult`,
/// then `notifications/initialized` POSTed by `post(Some(sid), …)` gets 202. The session id.
pub async fn open_session(
    name: &str,
    post: impl Fn(Option<&str>, &Value) -> RequestBuilder,
) -> String {
    let answer = Answer::send(post(None, &initialize(name))).await;
    assert_eq!(answer.status, StatusCode::OK, "initialize: {}", answer.text);
    let sid = answer.session.clone().expect("a session id");
    assert!(
        sid.len() >= 16 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{sid}"
    );
    schema::check("InitializeResult", &answer.json()["result"]);
    let answer = Answer::send(post(Some(&sid), &initialized())).await;
    assert_eq!(
        answer.status,
        StatusCode::ACCEPTED,
        "notifications/initialized: {}",
        answer.text
    );
    sid
}

/// A POST's answer, read whole: its status, the session id it names, its Content-Type and its
/// exact text.
pub struct Answer {
    pub status: StatusCode,
    pub session: Option<String>,
    pub content_type: Option<String>,
    pub text: String,
}

impl Answer {
    /// Sends `req` and reads the whole answer.
    pub async fn send(req: RequestBuilder) -> Answer {
        Answer::read(req.send().await.expect("POST")).await
    }

    /// Reads the whole of `r`.
    pub async fn read(r: Response) -> Answer {
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().expect("an ASCII header").to_string())
        };
        let (session, content_type) = (header("mcp-session-id"), header("content-type"));
        let status = r.status();
        let text = r.text().await.expect("the answer's body");
        Answer {
            status,
            session,
            content_type,
            text,
        }
    }

    /// The body as JSON; panics when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {:?}", self.status, self.text))
    }

    /// The body as JSON, `Null` when it is not (a 202's empty body, an SSE stream).
    pub fn json_or_null(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or(Value::Null)
    }

    /// The body as JSON, or its text as a JSON string when it is not JSON.
    pub fn json_or_text(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| Value::String(self.text.clone()))
    }

    /// The JSON messages of an SSE body, in order.
    pub fn sse(&self) -> Vec<Value> {
        sse_messages(&self.text)
    }
}

/// The JSON messages of an SSE body, in order (a priming event, with empty data, carries none).
pub fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| {
            let data = field(event, "data:").join("\n");
            (!data.is_empty()).then(|| serde_json::from_str(&data).expect("JSON in an SSE event"))
        })
        .collect()
}

/// Every value of `name` (e.g. `data:`) in one raw SSE event, one leading space stripped.
fn field(event: &str, name: &str) -> Vec<String> {
    event
        .lines()
        .filter_map(|l| l.strip_prefix(name))
        .map(|v| v.strip_prefix(' ').unwrap_or(v).to_string())
        .collect()
}

/// One SSE event that carries data.
#[derive(Debug)]
pub struct SseEvent {
    pub id: Option<String>,
    /// Its `event:` type (`message` when it names none).
    pub kind: String,
    pub data: String,
}

type ByteStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The events of one SSE response, as a client reads them (events without data, such as a
/// priming event, are skipped).
pub struct SseReader {
    events: ByteStream,
    buffer: String,
}

impl SseReader {
    pub fn new(response: Response) -> SseReader {
        SseReader {
            events: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event with data; each chunk must come within the receive timeout.
    pub async fn next_event(&mut self) -> SseEvent {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let data = field(&raw, "data:").join("\n");
                if data.is_empty() {
                    continue;
                }
                let kind = field(&raw, "event:")
                    .pop()
                    .unwrap_or_else(|| "message".into());
                let id = field(&raw, "id:").pop().map(|id| id.trim().to_string());
                return SseEvent { id, kind, data };
            }
            let chunk = tokio::time::timeout(RECV_TIMEOUT, self.events.next())
                .await
                .expect("an SSE event in time")
                .expect("the stream is open")
                .expect("a chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `n` events that carry an id, as (id, JSON message), all within 10 s.
    pub async fn messages_with_ids(&mut self, n: usize) -> Vec<(String, Value)> {
        let mut events = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), async {
            while events.len() < n {
                let event = self.next_event().await;
                if let Some(id) = event.id {
                    events.push((id, serde_json::from_str(&event.data).unwrap()));
                }
            }
        })
        .await;
        read.unwrap_or_else(|_| panic!("only {} of {n} events arrived", events.len()));
        events
    }

    /// Reads until the answer to `id`, skipping every other message.
    pub async fn answer(&mut self, id: impl Into<Value>) -> Value {
        let id = id.into();
        loop {
            let event = self.next_event().await;
            let message: Value = serde_json::from_str(&event.data).expect("JSON on the stream");
            if message["id"] == id && message.get("method").is_none() {
                return message;
            }
        }
    }

    /// `Ok` when nothing at all arrives for `quiet` and the stream stays open; else what came.
    pub async fn silent_for(&mut self, quiet: Duration) -> Result<(), String> {
        match tokio::time::timeout(quiet, self.events.next()).await {
            Err(_) => Ok(()),
            Ok(more) => Err(format!("{more:?}")),
        }
    }
}
