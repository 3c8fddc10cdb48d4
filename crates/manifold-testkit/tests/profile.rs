//! `--profile conformance` over Streamable HTTP with `--sse`, and the Host/Origin check.

use std::time::Duration;

use manifold_testkit::{serve_http, Options, Profile};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

async fn start(opts: Options) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(serve_http(opts, listener));
    url
}

fn conformance() -> Options {
    Options {
        profile: Profile::Conformance,
        sse: true,
        ..Options::default()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(WAIT).build().unwrap()
}

fn post(url: &str, sid: Option<&str>, body: Value) -> reqwest::RequestBuilder {
    let mut req = client()
        .post(url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(sid) = sid {
        req = req.header("mcp-session-id", sid);
    }
    req
}

fn initialize() -> Value {
    json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "profile-test", "version": "1" } } })
}

async fn session(url: &str) -> String {
    let resp = post(url, None, initialize()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let sid = resp.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_string();
    let note = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
    let resp = post(url, Some(&sid), note).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    sid
}

/// `(id, data)` of every event of an SSE text.
fn events(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let field = |name: &str| {
                e.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .unwrap_or_default()
                    .to_string()
            };
            (field("id: "), field("data: "))
        })
        .collect()
}

#[test]
fn profile_flag_and_config_key() {
    assert_eq!(Options::default().profile, Profile::Default);
    let o = Options::parse_from_args(["testkit", "--profile", "conformance"]).unwrap();
    assert_eq!(o.profile, Profile::Conformance);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kit.toml");
    std::fs::write(&path, "profile = \"conformance\"\n").unwrap();
    let o = Options::parse_from_args(["testkit", "--config", path.to_str().unwrap()]).unwrap();
    assert_eq!(o.profile, Profile::Conformance);
    assert!(Options::parse_from_args(["testkit", "--profile", "nope"]).is_err());
}

#[tokio::test]
async fn fixture_tools_answer_on_a_primed_stream() {
    let url = start(conformance()).await;
    let sid = session(&url).await;
    let call = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "test_tool_with_logging", "arguments": {} } });
    let resp = post(&url, Some(&sid), call).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let got = events(&resp.text().await.unwrap());
    assert_eq!(got.len(), 5, "{got:?}");
    let (priming_id, priming_data) = &got[0];
    assert!(
        priming_id.ends_with("-0") && priming_data.is_empty(),
        "{got:?}"
    );
    for (_, data) in &got[1..4] {
        let note: Value = serde_json::from_str(data).unwrap();
        assert_eq!(note["method"], "notifications/message");
        assert_eq!(note["params"]["level"], "info");
    }
    let answer: Value = serde_json::from_str(&got[4].1).unwrap();
    let text = &answer["result"]["content"][0]["text"];
    assert_eq!(text, "Tool with logging executed successfully");
}

#[tokio::test]
async fn detached_call_resumes_with_last_event_id() {
    let url = start(conformance()).await;
    let sid = session(&url).await;
    let call = json!({ "jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": { "name": "test_reconnection" } });
    let resp = post(&url, Some(&sid), call).send().await.unwrap();
    let first = events(&resp.text().await.unwrap());
    assert_eq!(first.len(), 1, "only the priming event: {first:?}");
    let resumed = client()
        .get(&url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("last-event-id", &first[0].0)
        .send()
        .await
        .unwrap();
    assert_eq!(resumed.status(), StatusCode::OK);
    let rest = events(&resumed.text().await.unwrap());
    assert_eq!(rest.len(), 1, "{rest:?}");
    let answer: Value = serde_json::from_str(&rest[0].1).unwrap();
    assert_eq!(answer["id"], 7);
    assert!(answer["result"]["content"][0]["text"].is_string());
}

#[tokio::test]
async fn non_local_host_or_origin_is_403() {
    let url = start(Options::default()).await;
    let evil = [
        ("host", "evil.example.com"),
        ("origin", "http://evil.example.com"),
    ];
    for (name, value) in evil {
        let resp = post(&url, None, initialize())
            .header(name, value)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{name}: {value}");
        let resp = client().delete(&url).header(name, value).send().await;
        assert_eq!(resp.unwrap().status(), StatusCode::FORBIDDEN);
    }
    let port = url.split(':').nth(2).unwrap().trim_end_matches("/mcp");
    let resp = post(&url, None, initialize())
        .header("host", format!("localhost:{port}"))
        .header("origin", format!("http://localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}
