//! Streamable HTTP in the 2026-07-28 era: no session is needed or minted, the headers must agree
//! with the body, and the era's errors carry their status (400 for `_meta`, mismatches and
//! versions, 404 for methods the era does not have). Answers are checked against the 2026-07-28
//! schema.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};

use super::{assert_modern_result, meta, servers, with_meta};
use crate::common::http::{Answer, HttpGateway};
use crate::common::schema;

/// A 2026-07-28 POST of `method` with `params` (its `_meta` added), the headers a modern client
/// sends: `MCP-Protocol-Version`, `Mcp-Method`, and `Mcp-Name` for the routed methods.
fn modern_post(gw: &HttpGateway, id: i64, method: &str, params: Value) -> RequestBuilder {
    let name = params
        .get("name")
        .or_else(|| params.get("uri"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|_| matches!(method, "tools/call" | "prompts/get" | "resources/read"));
    modern_post_named(gw, id, method, params, name.as_deref())
}

/// The same POST with `Mcp-Name` set to `name` (none when `None`), whatever the body says.
fn modern_post_named(
    gw: &HttpGateway,
    id: i64,
    method: &str,
    params: Value,
    name: Option<&str>,
) -> RequestBuilder {
    let params = with_meta("http-probe", params);
    let req = gw
        .post(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    match name {
        Some(name) => req.header("mcp-name", name),
        None => req,
    }
}

/// The one JSON-RPC message of an answer (a JSON body, or the last message of an SSE stream),
/// checked against the 2026-07-28 schema as an answer to `method`.
fn message(answer: &Answer, method: &str) -> Value {
    assert!(
        answer.text.contains("\"result\""),
        "{method}: {} {}",
        answer.status,
        answer.text
    );
    let message = if answer.text.trim_start().starts_with('{') {
        answer.json()
    } else {
        let messages = answer.sse();
        for m in &messages {
            schema::check_outgoing_modern(m, Some(method));
        }
        messages.last().cloned().expect("an answer on the stream")
    };
    schema::check_outgoing_modern(&message, Some(method));
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn stateless_requests_need_no_session_and_mint_none() {
    let gw = HttpGateway::start(&servers()).await;
    let discovered = Answer::send(modern_post(&gw, 1, "server/discover", json!({}))).await;
    assert_eq!(discovered.status, StatusCode::OK, "{}", discovered.text);
    assert!(discovered.session.is_none(), "no Mcp-Session-Id is minted");
    let result = message(&discovered, "server/discover")["result"].clone();
    assert_modern_result(&result);
    assert!(result["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("2026-07-28")));

    // Two clients' requests interleave; none depends on an earlier one.
    let (a, b) = tokio::join!(
        Answer::send(modern_post(
            &gw,
            7,
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "from a"}}),
        )),
        Answer::send(modern_post(
            &gw,
            7,
            "tools/call",
            json!({"name": "beta__echo", "arguments": {"text": "from b"}}),
        )),
    );
    for (answer, text) in [(a, "from a"), (b, "from b")] {
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(answer.session.is_none());
        let m = message(&answer, "tools/call");
        assert_modern_result(&m["result"]);
        assert_eq!(m["result"]["content"][0]["text"], text, "{m}");
    }
    // A session id a client sends anyway is ignored.
    let listed = Answer::send(
        modern_post(&gw, 8, "tools/list", json!({})).header("mcp-session-id", "not-a-session"),
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let m = message(&listed, "tools/list");
    assert_modern_result(&m["result"]);
    assert_eq!(m["result"]["ttlMs"], 0);
    // Stdio upstreams are shared by default and there are no [[access]] rules: nothing in the
    // answer depends on who asks.
    assert_eq!(m["result"]["cacheScope"], "public", "{m}");

    let read = Answer::send(modern_post(
        &gw,
        9,
        "resources/read",
        json!({"uri": "alpha+testkit://alpha/res/0"}),
    ))
    .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    assert_modern_result(&message(&read, "resources/read")["result"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_era_errors_carry_their_http_status() {
    let gw = HttpGateway::start(&servers()).await;
    let status_and_code = |answer: &Answer| (answer.status, answer.json()["error"]["code"].clone());

    // Mcp-Method disagreeing with the body, given twice, or missing.
    let wrong_method = Answer::send(
        gw.post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
                        "params": {"_meta": meta("h")}}))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "prompts/list"),
    )
    .await;
    assert_eq!(
        status_and_code(&wrong_method),
        (StatusCode::BAD_REQUEST, json!(-32020)),
        "{}",
        wrong_method.text
    );
    let twice = Answer::send(
        modern_post(&gw, 1, "tools/list", json!({})).header("mcp-method", "tools/list"),
    )
    .await;
    assert_eq!(
        status_and_code(&twice),
        (StatusCode::BAD_REQUEST, json!(-32020)),
        "{}",
        twice.text
    );
    let no_method = Answer::send(
        gw.post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list",
                        "params": {"_meta": meta("h")}}))
            .header("mcp-protocol-version", "2026-07-28"),
    )
    .await;
    assert_eq!(
        status_and_code(&no_method),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    // Mcp-Name disagreeing with the tool's name.
    let wrong_name = Answer::send(modern_post_named(
        &gw,
        3,
        "tools/call",
        json!({"name": "alpha__echo", "arguments": {}}),
        Some("beta__echo"),
    ))
    .await;
    assert_eq!(
        status_and_code(&wrong_name),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    assert!(
        wrong_name.text.contains("does not match"),
        "a mismatch, not a repeat: {}",
        wrong_name.text
    );
    // A non-ASCII name is mirrored base64-encoded, and then agrees.
    let encoded = Answer::send(modern_post_named(
        &gw,
        4,
        "tools/call",
        json!({"name": "alpha__é", "arguments": {}}),
        Some("=?base64?YWxwaGFfX8Op?="),
    ))
    .await;
    assert_eq!(encoded.status, StatusCode::OK, "{}", encoded.text);
    assert_eq!(
        encoded.json()["error"]["code"],
        -32602,
        "an unknown tool, not a mismatch"
    );
    // The header's version disagreeing with the body's.
    let mut other = meta("h");
    other["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let disagreeing = Answer::send(
        gw.post(json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list",
                        "params": {"_meta": other}}))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list"),
    )
    .await;
    assert_eq!(
        status_and_code(&disagreeing),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    // A version Manifold does not know, in the header and the body alike: -32022 naming the
    // versions it serves and echoing the one asked for.
    let unknown = Answer::send(
        gw.post(
            json!({"jsonrpc": "2.0", "id": 12, "method": "server/discover",
                        "params": {"_meta": other}}),
        )
        .header("mcp-protocol-version", "2099-01-01")
        .header("mcp-method", "server/discover"),
    )
    .await;
    assert_eq!(
        status_and_code(&unknown),
        (StatusCode::BAD_REQUEST, json!(-32022)),
        "{}",
        unknown.text
    );
    let refused = unknown.json();
    assert_eq!(refused["id"], 12);
    assert_eq!(refused["error"]["data"]["requested"], "2099-01-01");
    assert!(refused["error"]["data"]["supported"]
        .as_array()
        .is_some_and(|v| v.contains(&json!("2026-07-28"))));
    // An unknown header version over a body naming 2026-07-28: the two disagree.
    let unknown_header = Answer::send(
        gw.post(json!({"jsonrpc": "2.0", "id": 13, "method": "tools/list",
                        "params": {"_meta": meta("h")}}))
            .header("mcp-protocol-version", "2099-01-01")
            .header("mcp-method", "tools/list"),
    )
    .await;
    assert_eq!(
        status_and_code(&unknown_header),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
    // Missing _meta.
    let bare = Answer::send(
        gw.post(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/list", "params": {}}))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/list"),
    )
    .await;
    assert_eq!(
        status_and_code(&bare),
        (StatusCode::BAD_REQUEST, json!(-32602))
    );
    // Removed and unknown methods: 404 with -32601.
    for (id, method) in [
        (7, "ping"),
        (8, "initialize"),
        (9, "resources/subscribe"),
        (10, "no/such"),
    ] {
        let answer = Answer::send(modern_post(&gw, id, method, json!({}))).await;
        assert_eq!(
            status_and_code(&answer),
            (StatusCode::NOT_FOUND, json!(-32601)),
            "{method}: {}",
            answer.text
        );
        assert_eq!(answer.json()["id"], id);
    }
    // A removed notification is a method the era does not have too.
    let notification = Answer::send(
        gw.post(
            json!({"jsonrpc": "2.0", "method": "notifications/roots/list_changed",
                        "params": {"_meta": meta("h")}}),
        )
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "notifications/roots/list_changed"),
    )
    .await;
    assert_eq!(
        notification.status,
        StatusCode::NOT_FOUND,
        "{}",
        notification.text
    );
    assert_eq!(notification.json()["error"]["code"], -32601);
    // Nothing above opened a legacy session: a legacy request still needs one.
    let legacy =
        Answer::send(gw.post(json!({"jsonrpc": "2.0", "id": 11, "method": "tools/list"}))).await;
    assert_eq!(legacy.status, StatusCode::BAD_REQUEST, "{}", legacy.text);
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sessions_keep_working_beside_modern_requests() {
    let gw = HttpGateway::start(&servers()).await;
    let sid = gw.open_session().await;
    let modern = Answer::send(modern_post(&gw, 1, "tools/list", json!({}))).await;
    assert_eq!(modern.status, StatusCode::OK, "{}", modern.text);
    let (status, legacy) = gw.call(&sid, 2, "tools/list", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(legacy["result"]["tools"].is_array(), "{legacy}");
    assert!(legacy["result"].get("resultType").is_none(), "{legacy}");
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_a_modern_answer_stream_cancels_the_call_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("alpha.jsonl").display().to_string();
    let gw = HttpGateway::start(&format!(
        "[listen]\nsse_after_ms = 50\n{}",
        crate::common::testkit_server("alpha", &["--name", "alpha", "--record", &record], "")
    ))
    .await;
    let response = modern_post(
        &gw,
        1,
        "tools/call",
        json!({"name": "alpha__hang", "arguments": {}}),
    )
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream",
        "a call not answered within sse_after_ms is answered with a stream"
    );
    drop(response);
    let what = "the call cancelled upstream once its stream closed";
    crate::common::eventually(what, std::time::Duration::from_secs(10), async || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .contains("notifications/cancelled")
            .then_some(())
    })
    .await;
}
