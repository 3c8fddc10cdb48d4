//! `--profile conformance` over Streamable HTTP in the 2026-07-28 era: stateless POSTs, their
//! header checks and status codes, MRTR, event streams and `subscriptions/listen`.

use std::time::Duration;

use manifold_testkit::{serve_http, Options, Profile};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const WAIT: Duration = Duration::from_secs(5);

struct Server {
    url: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(sse: bool) -> Server {
        let opts = Options {
            profile: Profile::Conformance,
            sse,
            ..Options::default()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/mcp", listener.local_addr().unwrap());
        tokio::spawn(serve_http(opts, listener));
        Server {
            url,
            http: reqwest::Client::builder().timeout(WAIT).build().unwrap(),
        }
    }

    /// POSTs a 2026-07-28 request with conformant headers, then `headers` over them.
    async fn post(
        &self,
        id: Value,
        method: &str,
        params: Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let name = params
            .get("name")
            .or(params.get("uri"))
            .and_then(Value::as_str);
        let mut all = vec![
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        all.extend(name.map(|n| ("mcp-name", n)));
        all.retain(|(k, _)| !headers.iter().any(|(o, _)| o == k));
        all.extend(headers.iter().copied());
        let mut req = self.http.post(&self.url);
        for (k, v) in all {
            req = req.header(k, v);
        }
        let body = json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params });
        req.body(body.to_string()).send().await.unwrap()
    }

    /// The status and the JSON-RPC message answering `id` (JSON or from an event stream).
    async fn rpc(&self, id: i64, method: &str, params: Value) -> (StatusCode, Value) {
        let resp = self.post(json!(id), method, params, &[]).await;
        answer(resp).await
    }
}

/// The status and the response message of an answer (the last `data:` of an event stream).
async fn answer(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    assert!(
        resp.headers().get("mcp-session-id").is_none(),
        "no session is minted"
    );
    let sse = resp.headers()["content-type"] == "text/event-stream";
    let text = resp.text().await.unwrap();
    let msg = if sse {
        sse_data(&text).pop().expect("a response event")
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, msg)
}

fn sse_data(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter(|d| !d.is_empty())
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

/// Reads `stream` into `text` until it holds `n` events; all of them.
async fn next_events(stream: &mut reqwest::Response, text: &mut String, n: usize) -> Vec<Value> {
    while sse_data(text).len() < n {
        let chunk = tokio::time::timeout(WAIT, stream.chunk());
        let chunk = chunk.await.unwrap().unwrap().unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    sse_data(text)
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": { "sampling": {}, "elicitation": {}, "roots": {} },
    })
}

fn with_meta(mut params: Value) -> Value {
    params["_meta"] = meta();
    params
}

#[tokio::test]
async fn discover_needs_no_session() {
    let s = Server::start(false).await;
    let (status, msg) = s.rpc(1, "server/discover", with_meta(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(msg["id"], 1);
    let result = &msg["result"];
    assert_eq!(result["resultType"], "complete");
    assert!(result["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("2026-07-28")));
    assert!(result["_meta"]["io.modelcontextprotocol/serverInfo"]["version"].is_string());
    assert_eq!(result["cacheScope"], "public");
}

#[tokio::test]
async fn mrtr_round_trip_with_request_state_and_tampering() {
    let s = Server::start(true).await;
    let call = |extra: Value| {
        let mut p = with_meta(
            json!({ "name": "test_input_required_result_request_state", "arguments": {} }),
        );
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        p
    };
    let (status, r1) = s.rpc(1, "tools/call", call(json!({}))).await;
    assert_eq!(status, StatusCode::OK);
    let r1 = &r1["result"];
    assert_eq!(r1["resultType"], "input_required");
    assert_eq!(
        r1["inputRequests"]["confirm"]["method"],
        "elicitation/create"
    );
    let state = r1["requestState"].as_str().unwrap();

    let answers = json!({ "confirm": { "action": "accept", "content": { "ok": true } } });
    let (status, r2) = s
        .rpc(
            2,
            "tools/call",
            call(json!({ "inputResponses": answers, "requestState": state })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r2["result"]["resultType"], "complete");
    let text = r2["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("state-ok"), "{text}");

    let tampered = format!("{state}-TAMPERED");
    let (status, r3) = s
        .rpc(
            3,
            "tools/call",
            call(json!({ "inputResponses": answers, "requestState": tampered })),
        )
        .await;
    assert_eq!(
        (status, r3["id"].clone()),
        (StatusCode::BAD_REQUEST, json!(3))
    );
    assert_eq!(r3["error"]["code"], -32602);
}

#[tokio::test]
async fn era_errors_and_their_status() {
    let s = Server::start(false).await;
    let no_caps = json!({ "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    } });
    let mut params = no_caps.clone();
    params["name"] = json!("test_missing_capability");
    let (status, msg) = s.rpc(1, "tools/call", params).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(msg["error"]["code"], -32021);
    assert_eq!(
        msg["error"]["data"]["requiredCapabilities"],
        json!({ "sampling": {} })
    );

    for (id, removed) in [
        (2, "ping"),
        (3, "initialize"),
        (4, "resources/subscribe"),
        (5, "x/y"),
    ] {
        let (status, msg) = s.rpc(id, removed, no_caps.clone()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{removed}");
        assert_eq!(
            (msg["id"].clone(), msg["error"]["code"].clone()),
            (json!(id), json!(-32601))
        );
    }

    let (status, msg) = s.rpc(6, "server/discover", json!({})).await;
    assert_eq!(
        (status, msg["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32602))
    );
    assert_eq!(msg["id"], 6);

    let old = json!({ "_meta": {
        "io.modelcontextprotocol/protocolVersion": "v999",
        "io.modelcontextprotocol/clientCapabilities": {},
    } });
    let resp = s
        .post(
            json!(7),
            "server/discover",
            old.clone(),
            &[("mcp-protocol-version", "v999")],
        )
        .await;
    let (status, msg) = answer(resp).await;
    assert_eq!(
        (status, msg["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32022))
    );
    assert_eq!(msg["error"]["data"]["requested"], "v999");
}

#[tokio::test]
async fn headers_that_disagree_with_the_body_are_refused() {
    let s = Server::start(false).await;
    let tool = with_meta(json!({ "name": "test_simple_text", "arguments": {} }));
    for (id, header) in [
        (1, ("mcp-method", "tools/list")),
        (2, ("mcp-name", "test_other")),
        (3, ("mcp-protocol-version", "2025-11-25")),
    ] {
        let resp = s
            .post(json!(id), "tools/call", tool.clone(), &[header])
            .await;
        let (status, msg) = answer(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{header:?}");
        assert_eq!(
            (msg["id"].clone(), msg["error"]["code"].clone()),
            (json!(id), json!(-32020))
        );
    }
    // _meta names another version than the header.
    let mut params = tool.clone();
    params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("v999");
    let (status, msg) = s.rpc(4, "tools/call", params).await;
    assert_eq!(
        (status, msg["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    let (status, msg) = s.rpc(5, "tools/call", tool).await;
    assert_eq!(
        (status, msg["result"]["resultType"].clone()),
        (StatusCode::OK, json!("complete"))
    );
}

#[tokio::test]
async fn progress_turns_the_answer_into_an_event_stream() {
    let s = Server::start(false).await;
    let mut params = with_meta(json!({ "name": "test_tool_with_progress", "arguments": {} }));
    params["_meta"]["progressToken"] = json!("p");
    let resp = s.post(json!(1), "tools/call", params, &[]).await;
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = sse_data(&resp.text().await.unwrap());
    let progress: Vec<&Value> = events
        .iter()
        .filter(|e| e["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3);
    assert_eq!(events.last().unwrap()["result"]["resultType"], "complete");
}

#[tokio::test]
async fn listen_streams_the_acknowledgement_and_tagged_changes() {
    let s = Server::start(false).await;
    let params = with_meta(json!({ "notifications": { "toolsListChanged": true } }));
    let mut listen = s
        .post(json!("L7"), "subscriptions/listen", params, &[])
        .await;
    assert_eq!(listen.status(), StatusCode::OK);
    assert_eq!(listen.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    let events = next_events(&mut listen, &mut text, 1).await;
    assert_eq!(
        events[0]["method"],
        "notifications/subscriptions/acknowledged"
    );
    let trigger = |name: &'static str| with_meta(json!({ "name": name, "arguments": {} }));
    let (status, _) = s
        .rpc(1, "tools/call", trigger("test_trigger_prompt_change"))
        .await;
    assert_eq!(status, StatusCode::OK);
    s.rpc(2, "tools/call", trigger("test_trigger_tool_change"))
        .await;
    let events = next_events(&mut listen, &mut text, 2).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[1]["method"], "notifications/tools/list_changed");
    assert_eq!(
        events[1]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "L7"
    );
}

#[tokio::test]
async fn legacy_sessions_still_work_beside_the_modern_era() {
    let s = Server::start(true).await;
    let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": { "name": "t", "version": "1" } } });
    let resp = s
        .http
        .post(&s.url)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(init.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["mcp-session-id"].len(), 32);
    let events = sse_data(&resp.text().await.unwrap());
    assert_eq!(
        events.last().unwrap()["result"]["protocolVersion"],
        "2025-11-25"
    );
    // Without a session and without modern markers, a request is refused as before.
    let list = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list" });
    let resp = s
        .http
        .post(&s.url)
        .header("content-type", "application/json")
        .body(list.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
