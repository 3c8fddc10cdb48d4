//! Repeated keys: what Manifold checks is exactly what it forwards. A client message carrying the
//! same key twice — a hidden tool's `name` after an allowed one, a second `arguments` overriding
//! pinned ones, two `uri`s, a repeat deep inside `arguments`, a repeated envelope member — is
//! refused before routing on the stdio, Streamable HTTP and legacy HTTP+SSE faces (`-32602` for
//! params, `-32600` for the envelope, with the request id), reaches no upstream, and is audited
//! as refused. Repeated keys in an upstream's result pass through untouched.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use super::support::HttpFace;
use crate::common::audit_lines;
use crate::common::{self, Gateway};

/// A testkit upstream `a` that records what it receives (with `--raw`), a view hiding `a__fail`
/// and the resource `a+testkit://a/res/1`, and `add`'s argument `b` pinned to 1.
fn config(dir: &Path) -> String {
    let record = dir.join("upstream.jsonl");
    format!(
        r#"[audit]
file = {audit:?}
[[access]]
principal = "*"
tools = {{ deny = ["a__fail"] }}
resources = {{ deny = ["a+testkit://a/res/1"] }}
{server}
[servers.a.curate.add]
fixed_arguments = {{ b = 1 }}
"#,
        audit = dir.join("audit.jsonl").display().to_string(),
        server = common::testkit_server(
            "a",
            &[
                "--name",
                "a",
                "--raw",
                "--record",
                &record.display().to_string()
            ],
            ""
        ),
    )
}

/// What the upstream received, one JSON message per line.
fn upstream_record(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("upstream.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The tool calls the upstream received, by name.
fn upstream_tool_calls(dir: &Path) -> Vec<String> {
    upstream_record(dir)
        .iter()
        .filter(|m| m["method"] == "tools/call")
        .map(|m| m["params"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The hostile messages (each with id 7) and the code each must get.
fn hostile() -> Vec<(&'static str, String, i64)> {
    let call = |params: &str| {
        format!(r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{params}}}"#)
    };
    vec![
        (
            "a hidden tool's name after an allowed one",
            call(r#"{"name":"a__echo","arguments":{"text":"x"},"name":"a__fail"}"#),
            -32602,
        ),
        (
            "a second, escaped spelling of name",
            call(r#"{"name":"a__echo","arguments":{"text":"x"},"n\u0061me":"a__fail"}"#),
            -32602,
        ),
        (
            "a second arguments overriding the pinned b",
            call(r#"{"name":"a__add","arguments":{"a":1},"arguments":{"a":1,"b":1000}}"#),
            -32602,
        ),
        (
            "a repeat deep inside arguments",
            call(r#"{"name":"a__echo","arguments":{"text":"x","deep":[{"k":1,"k":2}]}}"#),
            -32602,
        ),
        (
            "two uris, the second one hidden",
            r#"{"jsonrpc":"2.0","id":7,"method":"resources/read","params":{"uri":"a+testkit://a/res/0","uri":"a+testkit://a/res/1"}}"#.to_string(),
            -32602,
        ),
        (
            "a repeated method",
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","method":"tools/call","params":{"name":"a__fail"}}"#.to_string(),
            -32600,
        ),
        (
            "repeated params",
            r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"x"}},"params":{"name":"a__fail"}}"#.to_string(),
            -32600,
        ),
    ]
}

/// The answer to one hostile message is the refusal, with its id and the repeated key named.
fn assert_refused(what: &str, answer: &Value, code: i64) {
    assert_eq!(answer["id"], 7, "{what}: {answer}");
    assert_eq!(answer["error"]["code"], code, "{what}: {answer}");
    assert_eq!(
        answer["error"]["data"]["reason"], "duplicate_key",
        "{what}: {answer}"
    );
    assert!(answer.get("result").is_none(), "{what}: {answer}");
}

/// After the hostile messages: the upstream saw no tool call and no read, every refused tool
/// call is on the audit record as refused, and the gateway still serves.
async fn assert_nothing_reached_upstream(dir: &Path, audit: PathBuf) {
    let calls = upstream_tool_calls(dir);
    assert!(calls.iter().all(|n| n == "echo"), "upstream ran {calls:?}");
    assert!(
        !upstream_record(dir)
            .iter()
            .any(|m| m["method"] == "resources/read"),
        "a read reached the upstream"
    );
    // Six of the seven name tools/call (one only in a repeated method): each is audited as
    // refused; the seventh line is the call that followed.
    let lines = audit_lines(&audit, 7).await;
    let refused: Vec<&Value> = lines
        .iter()
        .filter(|l| l["refused"] == "duplicate_key")
        .collect();
    assert_eq!(refused.len(), 6, "{lines:#?}");
    for line in refused {
        assert!(line["tool"].is_null() && line["server"].is_null(), "{line}");
        assert_eq!(line["outcome"], "error", "{line}");
        assert!(
            line["errorCode"] == -32602 || line["errorCode"] == -32600,
            "{line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_refuses_repeated_keys_before_routing() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, path) = common::write_config(&config(dir.path()));
    let mut gw = Gateway::spawn(&path);
    gw.initialize().await;
    for (what, line, code) in hostile() {
        gw.send_raw(&line).await;
        let answer = gw.response(&json!(7)).await;
        assert_refused(what, &answer, code);
    }
    let r = gw
        .call_tool(8, "a__echo", json!({"text": "still serving"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still serving", "{r}");
    assert_nothing_reached_upstream(dir.path(), dir.path().join("audit.jsonl")).await;
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn streamable_http_refuses_repeated_keys_before_routing() {
    let dir = tempfile::tempdir().unwrap();
    let face = HttpFace::start(&config(dir.path())).await;
    let sid = face.open_session().await;
    for (what, line, code) in hostile() {
        let (status, answer) = face.post_raw(Some(&sid), &line).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_refused(what, &answer, code);
    }
    let r = face
        .call(&sid, 8, "a__echo", json!({"text": "still serving"}))
        .await;
    assert_eq!(r["result"]["content"][0]["text"], "still serving", "{r}");
    assert_nothing_reached_upstream(dir.path(), dir.path().join("audit.jsonl")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sse_refuses_repeated_keys_before_routing() {
    let dir = tempfile::tempdir().unwrap();
    let face = HttpFace::start(&config(dir.path())).await;
    let mut legacy = face.open_legacy().await;
    legacy
        .post(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}}"#)
        .await;
    legacy.answer(0).await;
    legacy
        .post(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    for (what, line, code) in hostile() {
        legacy.post(&line).await;
        let answer = legacy.answer(7).await;
        assert_refused(what, &answer, code);
    }
    legacy
        .post(r#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"a__echo","arguments":{"text":"still serving"}}}"#)
        .await;
    let r = legacy.answer(8).await;
    assert_eq!(r["result"]["content"][0]["text"], "still serving", "{r}");
    assert_nothing_reached_upstream(dir.path(), dir.path().join("audit.jsonl")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_keys_in_an_upstream_result_pass_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (_cfg, path) = common::write_config(&config(dir.path()));
    let mut gw = Gateway::spawn(&path);
    gw.initialize().await;
    let result = r#"{"content":[{"type":"text","text":"first","text":"second"}],"x":1,"x":2}"#;
    gw.send(&json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"a__raw","arguments":{"result": result}}}))
        .await;
    let (line, _) = gw.response_raw(&json!(3)).await;
    assert_eq!(
        line,
        format!(r#"{{"jsonrpc":"2.0","id":3,"result":{result}}}"#)
    );
    // The same over HTTP.
    let face = HttpFace::start(&config(dir.path())).await;
    let sid = face.open_session().await;
    let body = json!({"jsonrpc":"2.0","id":4,"method":"tools/call",
        "params":{"name":"a__raw","arguments":{"result": result}}});
    let text = face.post_text(&sid, &body.to_string()).await;
    assert_eq!(
        text,
        format!(r#"{{"jsonrpc":"2.0","id":4,"result":{result}}}"#)
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(gw.close().await.success());
}
