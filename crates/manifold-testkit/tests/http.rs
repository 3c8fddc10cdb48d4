//! The in-process Streamable HTTP server driven with reqwest.

use std::time::Duration;

use manifold_testkit::{serve_http, Crashed, Options};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const WAIT: Duration = Duration::from_secs(5);

struct Server {
    url: String,
    http: reqwest::Client,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(opts: Options) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        let task = tokio::spawn(serve_http(opts, listener));
        Server {
            url,
            http: reqwest::Client::builder().timeout(WAIT).build().unwrap(),
            task,
        }
    }

    fn post(
        &self,
        sid: Option<&str>,
        body: Value,
    ) -> impl std::future::Future<Output = reqwest::Response> + Send + 'static {
        let mut req = self
            .http
            .post(&self.url)
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(sid) = sid {
            req = req
                .header("mcp-session-id", sid)
                .header("mcp-protocol-version", "2025-11-25");
        }
        async move { req.send().await.unwrap() }
    }

    /// Initializes a session and returns its id.
    async fn initialize(&self, capabilities: Value) -> String {
        let resp = self.post(None, init(capabilities)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let sid = resp.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_string();
        let body = self.post(
            Some(&sid),
            json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }),
        );
        assert_eq!(body.await.status(), StatusCode::ACCEPTED);
        sid
    }

    async fn call(&self, sid: &str, id: i64, method: &str, params: Value) -> Value {
        let resp = self.post(Some(sid), request(id, method, params)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "application/json");
        json_of(resp).await
    }

    async fn get_stream(&self, sid: &str) -> reqwest::Response {
        let resp = self
            .http
            .get(&self.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        resp
    }
}

async fn json_of(resp: reqwest::Response) -> Value {
    serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap()
}

fn init(capabilities: Value) -> Value {
    request(
        0,
        "initialize",
        json!({ "protocolVersion": "2025-11-25", "capabilities": capabilities,
                "clientInfo": { "name": "http-test", "version": "1" } }),
    )
}

fn request(id: i64, method: &str, params: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params })
}

/// The JSON payloads of the `data:` lines of an SSE text.
fn sse_data(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Reads SSE events from a GET stream until `n` data payloads have arrived.
async fn next_events(stream: &mut reqwest::Response, n: usize) -> Vec<Value> {
    let mut text = String::new();
    while sse_data(&text).len() < n {
        let chunk = tokio::time::timeout(WAIT, stream.chunk())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    sse_data(&text)
}

#[tokio::test]
async fn initialize_issues_a_session_id_and_requests_get_json() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    assert_eq!(sid.len(), 32);
    assert!(sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    let r = s
        .call(
            &sid,
            1,
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": "hi" } }),
        )
        .await;
    assert_eq!(
        r,
        json!({ "jsonrpc": "2.0", "id": 1, "result": { "content": [{ "type": "text", "text": "hi" }] } })
    );
    let other = s.initialize(json!({})).await;
    assert_ne!(sid, other);
}

#[tokio::test]
async fn missing_session_is_400_and_unknown_session_is_404() {
    let s = Server::start(Options::default()).await;
    let resp = s.post(None, request(1, "tools/list", json!({}))).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = s
        .post(Some("no-such-session"), request(1, "tools/list", json!({})))
        .await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .http
        .get(&s.url)
        .header("mcp-session-id", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s.http.post(&s.url).body("{ nope").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = json_of(resp).await;
    assert_eq!(body["error"]["code"], -32700);
}

#[tokio::test]
async fn delete_forgets_the_session() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let del = || s.http.delete(&s.url).header("mcp-session-id", &sid).send();
    assert_eq!(del().await.unwrap().status(), StatusCode::OK);
    let resp = s.post(Some(&sid), request(1, "ping", json!({}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_eq!(del().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unsupported_protocol_version_header_is_400() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let resp = s
        .http
        .post(&s.url)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .body(request(1, "ping", json!({})).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn sse_mode_streams_notifications_then_the_response() {
    let s = Server::start(Options {
        sse: true,
        ..Options::default()
    })
    .await;
    let resp = s.post(None, init(json!({}))).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let sid = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("event: message\ndata: "));
    assert_eq!(
        sse_data(&text)[0]["result"]["serverInfo"]["name"],
        "testkit"
    );

    let params =
        json!({ "name": "sleep", "arguments": { "ms": 60 }, "_meta": { "progressToken": 5 } });
    let resp = s.post(Some(&sid), request(2, "tools/call", params)).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(events.len(), 4);
    assert!(events[..3]
        .iter()
        .all(|e| e["method"] == "notifications/progress"));
    assert_eq!(events[3]["id"], 2);
    assert_eq!(events[3]["result"]["content"][0]["text"], "slept 60ms");
}

#[tokio::test]
async fn get_stream_carries_list_changed() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let mut stream = s.get_stream(&sid).await;
    s.call(&sid, 1, "tools/call", json!({ "name": "toggle" }))
        .await;
    let events = next_events(&mut stream, 1).await;
    assert_eq!(events[0]["method"], "notifications/tools/list_changed");
    // DELETE ends the stream.
    s.http
        .delete(&s.url)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let end = tokio::time::timeout(WAIT, async {
        while stream.chunk().await.unwrap().is_some() {}
    });
    end.await.unwrap();
}

#[tokio::test]
async fn sampling_request_goes_out_on_the_get_stream() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({ "sampling": {} })).await;
    let mut stream = s.get_stream(&sid).await;
    let call = s.post(
        Some(&sid),
        request(
            1,
            "tools/call",
            json!({ "name": "sample", "arguments": { "prompt": "p" } }),
        ),
    );
    let call = tokio::spawn(call);
    let req = next_events(&mut stream, 1).await.remove(0);
    assert_eq!(req["method"], "sampling/createMessage");
    let answer = json!({ "jsonrpc": "2.0", "id": req["id"],
        "result": { "role": "assistant", "content": { "type": "text", "text": "sampled" }, "model": "m" } });
    assert_eq!(
        s.post(Some(&sid), answer).await.status(),
        StatusCode::ACCEPTED
    );
    let resp = json_of(call.await.unwrap()).await;
    assert_eq!(resp["result"]["content"][0]["text"], "sampled");
}

#[tokio::test]
async fn cancelled_request_gets_no_response_body() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let hang = tokio::spawn(s.post(
        Some(&sid),
        request(9, "tools/call", json!({ "name": "hang" })),
    ));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let cancel = json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": 9 } });
    assert_eq!(
        s.post(Some(&sid), cancel).await.status(),
        StatusCode::ACCEPTED
    );
    let resp = hang.await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    assert!(resp.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn session_expires_after_ttl_requests() {
    let s = Server::start(Options {
        session_ttl_requests: Some(2),
        ..Options::default()
    })
    .await;
    let sid = s.initialize(json!({})).await;
    s.call(&sid, 1, "ping", json!({})).await;
    s.call(&sid, 2, "ping", json!({})).await;
    let resp = s.post(Some(&sid), request(3, "ping", json!({}))).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let fresh = s.initialize(json!({})).await;
    s.call(&fresh, 4, "ping", json!({})).await;
}

#[tokio::test]
async fn record_includes_request_headers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.txt");
    let s = Server::start(Options {
        record: Some(path.clone()),
        ..Options::default()
    })
    .await;
    let sid = s.initialize(json!({})).await;
    s.call(&sid, 1, "ping", json!({})).await;
    let rec = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = rec.lines().collect();
    assert_eq!(lines.len(), 6, "{rec}");
    let headers: Value = serde_json::from_str(lines[4].strip_prefix("HEADERS ").unwrap()).unwrap();
    assert_eq!(headers[":method"], "POST");
    assert_eq!(headers["mcp-session-id"], sid.as_str());
    assert_eq!(headers["mcp-protocol-version"], "2025-11-25");
    assert_eq!(lines[5], request(1, "ping", json!({})).to_string());
}

#[tokio::test]
async fn crash_drops_connections_and_returns_crashed() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let result = s
        .http
        .post(&s.url)
        .header("mcp-session-id", &sid)
        .body(request(1, "tools/call", json!({ "name": "crash" })).to_string())
        .send()
        .await;
    assert!(result.is_err(), "{result:?}");
    let err = tokio::time::timeout(WAIT, s.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert!(err.downcast_ref::<Crashed>().is_some());
}

#[tokio::test]
async fn concurrent_requests_are_independent() {
    let s = Server::start(Options::default()).await;
    let sid = s.initialize(json!({})).await;
    let slow = tokio::spawn(s.post(
        Some(&sid),
        request(
            1,
            "tools/call",
            json!({ "name": "sleep", "arguments": { "ms": 1500 } }),
        ),
    ));
    s.call(&sid, 2, "ping", json!({})).await;
    assert!(!slow.is_finished(), "ping waited for the slow call");
    let body = json_of(slow.await.unwrap()).await;
    assert_eq!(body["result"]["content"][0]["text"], "slept 1500ms");
}
