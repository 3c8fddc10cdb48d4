//! The Streamable HTTP face of `manifold serve` (no `--stdio`), driven with raw HTTP requests:
//! sessions, status codes, DNS-rebinding protection, limits, the GET stream, expiry and drain.

mod common;

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running `manifold serve --listen 127.0.0.1:0` and its endpoint URL.
struct Face {
    child: Child,
    url: String,
    http: reqwest::Client,
    _config: tempfile::TempDir,
}

impl Face {
    async fn start(extra_toml: &str, servers: &str) -> Face {
        let (dir, path) = common::write_config(&format!("{extra_toml}\n{servers}"));
        let mut child = Command::new(common::manifold_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn manifold");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(common::RECV_TIMEOUT, lines.next_line())
            .await
            .expect("manifold printed its address")
            .unwrap()
            .expect("a line");
        let url = line
            .strip_prefix("listening on ")
            .expect("address line")
            .to_string();
        Face {
            child,
            url,
            http: reqwest::Client::new(),
            _config: dir,
        }
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string())
    }

    /// `initialize` + `notifications/initialized`; returns the session id.
    async fn open_session(&self) -> String {
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

    async fn call(&self, sid: &str, id: i64, method: &str, params: Value) -> (StatusCode, Value) {
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

fn testkit(alias: &str, args: &[&str]) -> String {
    common::testkit_server(alias, args, "")
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_and_call_through_the_http_face() {
    let face = Face::start(
        "",
        &(testkit("alpha", &["--name", "alpha"]) + &testkit("beta", &["--name", "beta"])),
    )
    .await;
    let one = face.open_session().await;
    let two = face.open_session().await;
    assert_ne!(one, two);
    let (status, list) = face.call(&one, 1, "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let names = common::names(&list["result"], "tools", "name");
    assert!(
        names.contains(&"alpha__echo".into()) && names.contains(&"beta__add".into()),
        "{names:?}"
    );
    let (_, r) = face
        .call(
            &two,
            1,
            "tools/call",
            json!({"name": "beta__add", "arguments": {"a": 20, "b": 22}}),
        )
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 42, "{r}");
    let (_, r) = face
        .call(
            &one,
            2,
            "resources/read",
            json!({"uri": "alpha+testkit://alpha/res/1"}),
        )
        .await;
    assert_eq!(
        r["result"]["contents"][0]["uri"], "alpha+testkit://alpha/res/1",
        "{r}"
    );
    let (_, r) = face
        .call(
            &one,
            3,
            "tools/call",
            json!({"name": "nope", "arguments": {}}),
        )
        .await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn session_header_rules_and_delete() {
    let face = Face::start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    // No session id after initialize → 400; an unknown one → 404.
    let r = face
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let (status, _) = face
        .call("0123456789abcdef0123456789abcdef", 2, "ping", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // An unsupported protocol version header → 400.
    let r = face
        .post(&json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // DELETE ends it; the id is then unknown.
    let r = face
        .http
        .delete(&face.url)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = face.call(&sid, 4, "ping", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = face
        .http
        .delete(&face.url)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_host_or_origin_is_forbidden() {
    let face = Face::start("", &testkit("alpha", &["--name", "alpha"])).await;
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "x", "version": "1"}}});
    let r = face
        .post(&init)
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = face
        .post(&init)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = face
        .post(&init)
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bodies_get_clear_statuses() {
    let face = Face::start(
        "[gateway]\nmax_message_bytes = 2048",
        &testkit("alpha", &["--name", "alpha"]),
    )
    .await;
    let sid = face.open_session().await;
    let big = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                     "params": {"name": "alpha__echo", "arguments": {"text": "x".repeat(10_000)}}});
    let r = face
        .post(&big)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = face
        .http
        .post(&face.url)
        .header("content-type", "application/json")
        .header("mcp-session-id", &sid)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], -32700);
    let r = face
        .http
        .post(&face.url)
        .header("content-type", "text/plain")
        .header("mcp-session-id", &sid)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // The session still works.
    let (status, r) = face
        .call(
            &sid,
            2,
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "ok"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["result"]["content"][0]["text"], "ok");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_sessions_expire() {
    let face = Face::start(
        "[listen]\nsession_idle_ms = 300",
        &testkit("alpha", &["--name", "alpha"]),
    )
    .await;
    let sid = face.open_session().await;
    let (status, _) = face.call(&sid, 1, "ping", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    // Untouched for well over the idle limit (the sweeper runs every 75 ms here).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, _) = face.call(&sid, 2, "ping", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn list_changes_arrive_on_the_get_stream() {
    let face = Face::start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let r = face
        .http
        .get(&face.url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    // `toggle` makes the upstream announce a tool list change; Manifold refreshes and tells
    // every session.
    let (_, r) = face
        .call(
            &sid,
            1,
            "tools/call",
            json!({"name": "alpha__toggle", "arguments": {}}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            if seen.contains("notifications/tools/list_changed") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "stream so far: {seen}");
    let (_, list) = face.call(&sid, 2, "tools/list", json!({})).await;
    assert!(common::names(&list["result"], "tools", "name").contains(&"alpha__toggled".into()));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_calls_and_ends_upstreams() {
    let mut face = Face::start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let pid = face.child.id().unwrap();
    // Children of any of Manifold's threads (the HTTP face runs a multi-thread runtime).
    let upstreams: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| {
            c.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    assert!(
        !upstreams.is_empty(),
        "the testkit upstream runs as a child"
    );
    let slow = {
        let request = face
            .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "alpha__sleep", "arguments": {"ms": 800}}}))
            .header("mcp-session-id", &sid);
        tokio::spawn(async move { request.send().await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    let r = slow
        .await
        .unwrap()
        .expect("the in-flight call got its answer");
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        body["result"]["content"][0]["text"], "slept 800ms",
        "{body}"
    );
    let status = tokio::time::timeout(Duration::from_secs(15), face.child.wait())
        .await
        .expect("manifold exited after the drain")
        .unwrap();
    assert!(status.success(), "{status}");
    for p in upstreams {
        assert!(!common::pid_alive(p), "upstream {p} survived");
    }
}

/// The JSON messages of an SSE body, in order.
fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            (!data.is_empty())
                .then(|| serde_json::from_str(&data.join("\n")).expect("JSON in an SSE event"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_streams_before_the_response_to_the_right_session_only() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("alpha.jsonl");
    let face = Face::start(
        "",
        &testkit(
            "alpha",
            &["--name", "alpha", "--record", record.to_str().unwrap()],
        ),
    )
    .await;
    let (one, two) = (face.open_session().await, face.open_session().await);
    // Both clients use the same token: on the shared upstream they must not be confused.
    let call = |sid: String, id: i64| {
        let request = face
            .post(&json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
                "name": "alpha__sleep", "arguments": {"ms": 300}, "_meta": {"progressToken": "p"}}}))
            .header("mcp-session-id", sid);
        async move {
            let r = request.send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
            assert!(
                content_type.starts_with("text/event-stream"),
                "{content_type}"
            );
            sse_messages(&r.text().await.unwrap())
        }
    };
    let (a, b) = tokio::join!(call(one, 1), call(two, 2));
    for (messages, id) in [(a, 1), (b, 2)] {
        for m in &messages {
            common::schema::check_outgoing(m, Some("tools/call"));
        }
        let (last, progress) = messages.split_last().expect("messages");
        assert_eq!(last["id"], id, "the response comes last: {messages:?}");
        assert_eq!(last["result"]["content"][0]["text"], "slept 300ms");
        assert_eq!(
            progress.len(),
            3,
            "exactly this request's progress: {messages:?}"
        );
        for p in progress {
            assert_eq!(p["method"], "notifications/progress");
            assert_eq!(p["params"]["progressToken"], "p", "the client's own token");
        }
    }
    // Upstream, the two calls carried distinct tokens.
    let text = std::fs::read_to_string(&record).unwrap();
    let tokens: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["method"] == "tools/call")
        .map(|m| m["params"]["_meta"]["progressToken"].to_string())
        .collect();
    assert_eq!(tokens.len(), 2, "{text}");
    assert_ne!(tokens[0], tokens[1], "tokens unique on the shared upstream");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_call_is_answered_with_json_even_when_sse_is_accepted() {
    let face = Face::start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let r = face
        .post(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"text": "hi"}}}))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread")]
async fn per_session_upstreams_carry_each_clients_identity_and_relay_sampling() {
    let face = Face::start(
        "",
        &common::testkit_server("alpha", &["--name", "alpha"], "sharing = \"per-session\""),
    )
    .await;
    // A client that declares sampling, and one that does not.
    let init = |caps: Value, name: &str| {
        face.post(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": caps, "clientInfo": {"name": name, "version": "1"}}}))
    };
    let mut sids = Vec::new();
    for (caps, name) in [(json!({"sampling": {}}), "sampler"), (json!({}), "plain")] {
        let r = init(caps, name).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let r = face
            .post(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .header("mcp-session-id", &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        sids.push(sid);
    }
    // Each session's upstream was initialized with that client's identity and capabilities.
    for (sid, name, sampling) in [(&sids[0], "sampler", true), (&sids[1], "plain", false)] {
        let (_, r) = face
            .call(
                sid,
                1,
                "tools/call",
                json!({"name": "alpha__whoami", "arguments": {}}),
            )
            .await;
        let seen = &r["result"]["structuredContent"];
        assert_eq!(seen["clientInfo"]["name"], name, "{r}");
        assert_eq!(
            seen["capabilities"].get("sampling").is_some(),
            sampling,
            "{r}"
        );
        let (_, list) = face.call(sid, 2, "tools/list", json!({})).await;
        let has_sample =
            common::names(&list["result"], "tools", "name").contains(&"alpha__sample".into());
        assert_eq!(
            has_sample, sampling,
            "sample is listed only for the client that can sample"
        );
    }
    // The sampling request travels on the call's own SSE stream; the answer goes back by POST.
    let r = face
        .post(&json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                      "params": {"name": "alpha__sample", "arguments": {"prompt": "hello"}}}))
        .header("mcp-session-id", &sids[0])
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = r.bytes_stream();
    let mut text = String::new();
    let mut answered = false;
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = body.next().await {
            text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
            for m in sse_messages(&text) {
                if m["method"] == "sampling/createMessage" && !answered {
                    common::schema::check("ServerRequest", &m);
                    answered = true;
                    let reply = json!({"jsonrpc": "2.0", "id": m["id"], "result": {
                        "role": "assistant", "content": {"type": "text", "text": "sampled!"}, "model": "test"}});
                    let r = face.post(&reply).header("mcp-session-id", &sids[0]).send().await.unwrap();
                    assert_eq!(r.status(), StatusCode::ACCEPTED);
                }
                if m["id"] == 9 {
                    return m;
                }
            }
        }
        panic!("stream ended without the response: {text}");
    })
    .await
    .expect("the sampled call completed");
    assert!(answered, "a sampling request came first");
    assert_eq!(
        outcome["result"]["content"][0]["text"], "sampled!",
        "{outcome}"
    );
}

/// Reads SSE events (id, JSON data) from a streaming body until `n` arrived.
async fn read_events(
    body: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    n: usize,
) -> Vec<(String, Value)> {
    let mut events = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            while let Some(end) = buffer.find("\n\n") {
                let raw: String = buffer.drain(..end + 2).collect();
                let id = raw
                    .lines()
                    .find_map(|l| l.strip_prefix("id:"))
                    .map(|s| s.trim().to_string());
                let data: Vec<&str> = raw
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(str::trim_start)
                    .collect();
                if let (Some(id), false) = (id, data.is_empty()) {
                    events.push((id, serde_json::from_str(&data.join("\n")).unwrap()));
                    if events.len() == n {
                        return;
                    }
                }
            }
            let chunk = body.next().await.expect("stream open").expect("chunk");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {n} events arrived", events.len()));
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_get_stream_resumes_with_last_event_id_losing_and_repeating_nothing() {
    let face = Face::start("", &testkit("c", &["--profile", "conformance"])).await;
    let sid = face.open_session().await;
    let open = |last: Option<String>| {
        let mut req = face
            .http
            .get(&face.url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &sid);
        if let Some(last) = last {
            req = req.header("last-event-id", last);
        }
        req.send()
    };
    // A JSON-only client: the tool's log messages travel on the GET stream.
    let log_call = |id: i64| {
        face.http
            .post(&face.url)
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .header("mcp-session-id", &sid)
            .body(
                json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": "c__test_tool_with_logging", "arguments": {}}})
                .to_string(),
            )
            .send()
    };
    let first = open(None).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let mut body = first.bytes_stream();
    let mut buffer = String::new();
    assert_eq!(log_call(1).await.unwrap().status(), StatusCode::OK);
    let seen = read_events(&mut body, &mut buffer, 1).await;
    // The connection drops after one event; more messages come while nobody listens.
    drop(body);
    assert_eq!(log_call(2).await.unwrap().status(), StatusCode::OK);
    let resumed = open(Some(seen[0].0.clone())).await.unwrap();
    let mut body = resumed.bytes_stream();
    let mut buffer = String::new();
    let rest = read_events(&mut body, &mut buffer, 5).await;
    let all: Vec<(String, Value)> = seen.into_iter().chain(rest).collect();
    let texts: Vec<String> = all
        .iter()
        .map(|(_, m)| m["params"]["data"].to_string())
        .collect();
    assert_eq!(all.len(), 6, "{texts:?}");
    for (_, m) in &all {
        assert_eq!(m["method"], "notifications/message", "{m}");
    }
    // Two runs of the tool's three messages, in order, none lost or repeated.
    assert_eq!(texts[0..3], texts[3..6], "{texts:?}");
    let seqs: Vec<u64> = all
        .iter()
        .map(|(id, _)| id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "ids increase: {seqs:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_configured_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (cert, key, ca) = (path("cert.pem"), path("key.pem"), path("ca.pem"));
    std::fs::write(path("ext.cnf"), "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").unwrap();
    // A throwaway CA and a leaf certificate for localhost signed by it.
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=manifold-test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-keyout",
            &path("ca.key"),
            "-out",
            &ca,
        ],
        vec![
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &key,
            "-out",
            &path("leaf.csr"),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            &path("leaf.csr"),
            "-CA",
            &ca,
            "-CAkey",
            &path("ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &path("ext.cnf"),
            "-out",
            &cert,
        ],
    ] {
        let made = std::process::Command::new("openssl")
            .args(&args)
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(made.success(), "openssl {args:?}");
    }
    let tls = format!("[listen]\ntls_cert = {cert:?}\ntls_key = {key:?}\n");
    let mut face = Face::start(&tls, &testkit("alpha", &["--name", "alpha"])).await;
    assert!(face.url.starts_with("https://127.0.0.1:"), "{}", face.url);
    let port = face
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/mcp")
        .to_string();
    face.url = format!("https://localhost:{port}/mcp");
    let root = reqwest::Certificate::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    face.http = reqwest::Client::builder()
        .add_root_certificate(root)
        .build()
        .unwrap();
    let sid = face.open_session().await;
    let (status, r) = face
        .call(
            &sid,
            1,
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "tls"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["result"]["content"][0]["text"], "tls", "{r}");
    // Plain HTTP to the TLS port gets no MCP answer.
    let plain = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/mcp"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
}
