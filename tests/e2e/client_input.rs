//! End-to-end: what Manifold answers to whatever a client writes on stdin — malformed JSON,
//! invalid requests, unknown methods and tools, requests before initialize, oversized lines,
//! id types, batches, a second initialize, bad cursors — and that unknown fields and `_meta`
//! reach the upstream byte for byte.
//!
//! Answers whose id could not be read, and batch answers, are not single messages of the
//! 2025-11-25 schema, so those tests read stdout with [`Raw`], a bare JSON-lines client that
//! also keeps each line's exact text; the others use the shared (schema-checking) harness.

use crate::common::{self, eventually};

use std::path::Path;
use std::time::Duration;

use common::{testkit_server, write_config, Gateway};
use serde_json::{json, Value};

/// A gateway fronting one testkit server `a` (namespace `a`).
fn one_upstream(gateway_toml: &str, args: &[&str]) -> (tempfile::TempDir, std::path::PathBuf) {
    write_config(&format!(
        "{gateway_toml}\n{}",
        testkit_server("a", args, "")
    ))
}

fn error_code(response: &Value) -> i64 {
    response["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("expected an error response, got {response}"))
}

fn text_of(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a text result, got {response}"))
        .to_string()
}

/// An error answer to a message whose id could not be read: `id` is null (JSON-RPC 2.0) or
/// absent (what the 2025-11-25 schema allows); either way there is no other id.
fn assert_unknown_id(response: &Value) {
    assert!(
        response.get("id").is_none_or(Value::is_null),
        "expected a null or absent id: {response}"
    );
}

/// `manifold serve --stdio` read line by line without any validation: the shared harness,
/// read unchecked.
struct Raw(Gateway);

impl Raw {
    fn spawn(config: &Path) -> Raw {
        Raw(Gateway::spawn(config))
    }

    async fn send_raw(&mut self, line: &str) {
        self.0.send_raw(line).await;
    }

    /// The next line that is not a notification: its exact text and its JSON.
    async fn next_answer(&mut self) -> (String, Value) {
        loop {
            let (line, value) = self.0.recv_unchecked().await;
            if value.is_array() || value.get("method").is_none() {
                return (line, value);
            }
        }
    }

    async fn answer(&mut self) -> Value {
        self.next_answer().await.1
    }

    /// Sends a request and reads the answer to it (answers to other ids are a failure).
    async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send_raw(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string(),
        )
        .await;
        let r = self.answer().await;
        assert_eq!(r["id"], id, "answer to another request: {r}");
        r
    }

    async fn initialize(&mut self, version: &str) -> Value {
        let r = self
            .request(
                json!(0),
                "initialize",
                json!({"protocolVersion": version, "capabilities": {},
                       "clientInfo": {"name": "e2e", "version": "1.0.0"}}),
            )
            .await;
        self.send_raw(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
            .await;
        r["result"].clone()
    }

    async fn close(self) -> std::process::ExitStatus {
        self.0.close().await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_is_a_parse_error_without_an_id() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    gw.initialize("2025-11-25").await;

    for line in [
        r#"{"jsonrpc": "2.0", "id": 1, "method": "ping""#,
        "not json at all",
        r#"{"jsonrpc":"2.0","id":2,"method":"ping",}"#,
    ] {
        gw.send_raw(line).await;
        let r = gw.answer().await;
        assert_eq!(error_code(&r), -32700, "for {line}: {r}");
        assert_unknown_id(&r);
        assert_eq!(r["jsonrpc"], "2.0", "{r}");
    }

    // The session survives.
    let r = gw.request(json!(3), "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_request_shapes_are_invalid_request_with_readable_id() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    gw.initialize("2025-11-25").await;

    // (line, expected id; null = not readable)
    let cases = [
        (r#"{"jsonrpc":"1.0","id":11,"method":"ping"}"#, json!(11)),
        (r#"{"id":12,"method":"ping"}"#, json!(12)),
        (
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"2.0","id":"s13","method":"tools/list","params":"a string"}"#,
            json!("s13"),
        ),
        (r#"{"jsonrpc":"2.0","id":14,"method":7}"#, json!(14)),
        (r#"{"jsonrpc":2,"id":"j","method":"ping"}"#, json!("j")),
        (
            r#"{"jsonrpc":"2.0","id":16,"method":"ping","method":"ping"}"#,
            json!(16),
        ),
        (
            r#"{"jsonrpc":"2.0","id":17,"method":"tools/list","params":{},"params":{}}"#,
            json!(17),
        ),
        (
            r#"{"jsonrpc":"2.0","id":18,"id":19,"method":"ping"}"#,
            Value::Null,
        ),
        ("42", Value::Null),
    ];
    for (line, id) in cases {
        gw.send_raw(line).await;
        let r = gw.answer().await;
        assert_eq!(error_code(&r), -32600, "for {line}: {r}");
        if id.is_null() {
            assert_unknown_id(&r);
        } else {
            assert_eq!(r["id"], id, "for {line}: {r}");
        }
        assert!(r.get("result").is_none(), "for {line}: {r}");
    }

    let r = gw.request(json!(15), "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_method_and_unknown_tool() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let r = gw.request(1, "tools/frobnicate", json!({})).await;
    assert_eq!(error_code(&r), -32601, "{r}");

    let r = gw.call_tool(2, "a__nope", json!({})).await;
    assert_eq!(error_code(&r), -32602, "{r}");
    let message = r["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Unknown tool: a__nope"), "{r}");

    // A name in no namespace at all is unknown too.
    let r = gw.call_tool(3, "zz__echo", json!({"text": "x"})).await;
    assert_eq!(error_code(&r), -32602, "{r}");

    // And a real one works.
    let r = gw.call_tool(4, "a__echo", json!({"text": "fine"})).await;
    assert_eq!(text_of(&r), "fine");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_before_initialize_are_refused_but_ping_works() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Gateway::spawn(&config);

    let r = gw.request(1, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");

    let r = gw.call_tool(2, "a__echo", json!({"text": "early"})).await;
    assert_eq!(error_code(&r), -32600, "{r}");

    let r = gw.request(3, "tools/list", json!({})).await;
    assert_eq!(error_code(&r), -32600, "{r}");

    // After initialize the same call works.
    let init = gw.initialize().await;
    assert_eq!(init["serverInfo"]["name"], "manifold", "{init}");
    let r = gw.call_tool(4, "a__echo", json!({"text": "late"})).await;
    assert_eq!(text_of(&r), "late");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_line_is_refused_and_the_gateway_keeps_serving() {
    let (_dir, config) = one_upstream("[gateway]\nmax_message_bytes = 2048\n", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    gw.initialize("2025-11-25").await;

    let text = "x".repeat(10_000);
    let line = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call",
                      "params": {"name": "a__echo", "arguments": {"text": text}}})
    .to_string();
    assert!(line.len() > 10_000);
    gw.send_raw(&line).await;
    let r = gw.answer().await;
    assert_eq!(error_code(&r), -32600, "{r}");
    assert_eq!(
        r["id"], 77,
        "the id is at the start of the line, so it is readable: {r}"
    );

    // An oversized line without a readable id: still -32600 (not a parse error), no id.
    let junk = format!("{{\"jsonrpc\":\"2.0\",\"params\":\"{}\"", "y".repeat(5000));
    gw.send_raw(&junk).await;
    let r = gw.answer().await;
    assert_eq!(error_code(&r), -32600, "{r}");
    assert_unknown_id(&r);

    // Normal requests still work, the upstream included.
    let r = gw.request(json!(78), "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = gw
        .request(
            json!(79),
            "tools/call",
            json!({"name": "a__echo", "arguments": {"text": "small"}}),
        )
        .await;
    assert_eq!(text_of(&r), "small", "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn string_and_number_ids_are_echoed_exactly() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    gw.initialize("2025-11-25").await;

    // Both in flight at once: "7" and 7 are different requests.
    gw.send_raw(r#"{"jsonrpc":"2.0","id":"7","method":"tools/call","params":{"name":"a__sleep","arguments":{"ms":200}}}"#)
        .await;
    gw.send_raw(r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"number"}}}"#)
        .await;
    let mut by_string = None;
    let mut by_number = None;
    for _ in 0..2 {
        let (line, r) = gw.next_answer().await;
        match &r["id"] {
            Value::String(s) if s == "7" => {
                assert!(line.contains(r#""id":"7""#), "{line}");
                by_string = Some(r);
            }
            Value::Number(n) if n.as_i64() == Some(7) => {
                assert!(line.contains(r#""id":7"#), "{line}");
                by_number = Some(r);
            }
            other => panic!("unexpected id {other} in {line}"),
        }
    }
    let by_string = by_string.expect("no answer for id \"7\"");
    let by_number = by_number.expect("no answer for id 7");
    assert_eq!(text_of(&by_string), "slept 200ms");
    assert_eq!(text_of(&by_number), "number");

    // Other id shapes come back as sent, byte for byte.
    for id in [
        r#""x-1""#,
        r#""""#,
        "0",
        "-5",
        "9007199254740993",
        r#""\u00e9""#,
    ] {
        gw.send_raw(&format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"ping"}}"#))
            .await;
        let (line, r) = gw.next_answer().await;
        assert_eq!(r["result"], json!({}), "{line}");
        let sent: Value = serde_json::from_str(id).expect("id is JSON");
        assert_eq!(r["id"], sent, "id {id} came back as {line}");
    }
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_refused_on_2025_11_25() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    let init = gw.initialize("2025-11-25").await;
    assert_eq!(init["protocolVersion"], "2025-11-25", "{init}");

    gw.send_raw(
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#,
    )
    .await;
    let r = gw.answer().await;
    assert!(
        r.is_object(),
        "a refused batch is one error, not an array: {r}"
    );
    assert_eq!(error_code(&r), -32600, "{r}");
    assert_unknown_id(&r);

    // Neither request in the batch was answered on its own: the next answer is for 3.
    let r = gw.request(json!(3), "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_answered_as_arrays_on_2025_03_26() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    let init = gw.initialize("2025-03-26").await;
    assert_eq!(init["protocolVersion"], "2025-03-26", "{init}");

    gw.send_raw(concat!(
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},"#,
        r#"{"jsonrpc":"2.0","id":"two","method":"tools/call","params":{"name":"a__echo","arguments":{"text":"in a batch"}}}]"#
    ))
    .await;
    let r = gw.answer().await;
    let items = r
        .as_array()
        .unwrap_or_else(|| panic!("expected a JSON array, got {r}"));
    assert_eq!(items.len(), 2, "{r}");
    let ping = items.iter().find(|m| m["id"] == 1).expect("ping answer");
    assert_eq!(ping["result"], json!({}), "{r}");
    let call = items
        .iter()
        .find(|m| m["id"] == "two")
        .expect("call answer");
    assert_eq!(text_of(call), "in a batch");

    // Single messages still work in this version.
    let r = gw.request(json!(3), "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn second_initialize_is_an_error() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let r = gw
        .request(
            9,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "e2e", "version": "1.0.0"}}),
        )
        .await;
    assert!(r.get("result").is_none(), "{r}");
    assert_eq!(error_code(&r), -32600, "{r}");
    // The first session is intact.
    let r = gw.call_tool(10, "a__echo", json!({"text": "still"})).await;
    assert_eq!(text_of(&r), "still");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_cursor_is_invalid_params() {
    let (_dir, config) = one_upstream("[gateway]\npage_size = 2\n", &["--name", "a"]);
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    for (id, cursor) in [
        (1, json!("not-a-cursor")),
        (2, json!(12345)),
        (3, json!("")),
    ] {
        let r = gw
            .request(id, "tools/list", json!({"cursor": cursor}))
            .await;
        assert_eq!(error_code(&r), -32602, "cursor {cursor}: {r}");
    }
    // A real cursor works.
    let r = gw.request(4, "tools/list", json!({})).await;
    let next = r["result"]["nextCursor"]
        .as_str()
        .unwrap_or_else(|| panic!("page_size = 2 should paginate: {r}"))
        .to_string();
    let r = gw.request(5, "tools/list", json!({"cursor": next})).await;
    assert_eq!(
        r["result"]["tools"].as_array().map(Vec::len),
        Some(2),
        "{r}"
    );
    assert!(gw.close().await.success());
}

/// Waits until the record file has a line containing `needle`; returns that line.
async fn recorded_line(path: &Path, needle: &str) -> String {
    let what = format!("a line containing {needle:?} in {}", path.display());
    eventually(&what, Duration::from_secs(5), async || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        match text.lines().find(|l| l.contains(needle)) {
            Some(line) => Ok(line.to_string()),
            None => Err(format!("it holds:\n{text}")),
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_and_meta_reach_the_upstream_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = dir.path().join("a.jsonl");
    let record_arg = record.display().to_string();
    let (_cfg, config) = one_upstream("", &["--name", "a", "--record", &record_arg]);
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let meta = r#"{"progressToken":"p1","x.y/z":1}"#;
    let extra = r#""extraField":{"k":[1,2.50,"\u00e9"],"n":null}"#;
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"a__echo","arguments":{{"text":"meta-check"}},"_meta":{meta},{extra}}}}}"#
    );
    serde_json::from_str::<Value>(&line).expect("the test's own line is JSON");
    gw.send_raw(&line).await;
    let r = gw.response(&json!(5)).await;
    assert_eq!(text_of(&r), "meta-check", "{r}");

    let upstream = recorded_line(&record, "meta-check").await;
    let parsed: Value = serde_json::from_str(&upstream).expect("recorded line is JSON");
    assert_eq!(parsed["method"], "tools/call", "{upstream}");
    assert_eq!(
        parsed["params"]["name"], "echo",
        "the namespace is stripped: {upstream}"
    );
    assert!(
        upstream.contains(&format!(r#""_meta":{meta}"#)),
        "_meta changed on the way: {upstream}"
    );
    assert!(
        upstream.contains(extra),
        "unknown params field changed on the way: {upstream}"
    );
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_id_errors_are_valid_2025_11_25_messages() {
    let (_dir, config) = one_upstream("", &["--name", "a"]);
    let mut gw = Raw::spawn(&config);
    gw.initialize("2025-11-25").await;
    for line in [
        "{not json",
        r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
    ] {
        gw.send_raw(line).await;
        let (text, r) = gw.next_answer().await;
        assert!(error_code(&r) < 0, "{text}");
        // 2025-11-25 schema: JSONRPCErrorResponse.id is an optional RequestId (string or
        // integer), so an unknown id is left out rather than sent as null.
        assert!(r.get("id").is_none(), "sent for {line:?}: {text}");
        common::schema::check("JSONRPCMessage", &r);
    }
    assert!(gw.close().await.success());
}
