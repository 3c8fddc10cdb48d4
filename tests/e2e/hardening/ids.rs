//! Every error answer carries the request id whenever one could be read — when `method` is not a
//! string, `jsonrpc` is a number or missing, `method` or `params` is repeated — on the Streamable
//! HTTP face (400 with the JSON-RPC error as its body) and on the legacy HTTP+SSE face (the error
//! on the stream). An id that cannot be told (two different ids, an object) is left out. The
//! stdio face's cases are in `tests/e2e/client_input.rs`.

use serde_json::{json, Value};

use super::support::HttpFace;
use crate::common;

/// Invalid messages and the id their `-32600` answer must carry (`null` = none can be told).
fn cases() -> Vec<(&'static str, Value)> {
    vec![
        (r#"{"jsonrpc":"2.0","id":14,"method":7}"#, json!(14)),
        (r#"{"jsonrpc":2,"id":"j","method":"ping"}"#, json!("j")),
        (r#"{"id":15,"method":"ping"}"#, json!(15)),
        (
            r#"{"jsonrpc":"2.0","id":16,"method":"ping","method":"ping"}"#,
            json!(16),
        ),
        (
            r#"{"jsonrpc":"2.0","id":17,"method":"tools/list","params":{},"params":{}}"#,
            json!(17),
        ),
        (
            r#"{"jsonrpc":"2.0","id":18,"method":"x","params":"text"}"#,
            json!(18),
        ),
        (
            r#"{"jsonrpc":"2.0","id":18,"id":19,"method":"ping"}"#,
            Value::Null,
        ),
        (
            r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
            Value::Null,
        ),
    ]
}

fn assert_answer(line: &str, answer: &Value, id: &Value) {
    assert_eq!(answer["error"]["code"], -32600, "{line}: {answer}");
    if id.is_null() {
        assert!(
            answer.get("id").is_none_or(Value::is_null),
            "{line}: {answer}"
        );
    } else {
        assert_eq!(&answer["id"], id, "{line}: {answer}");
    }
}

fn config() -> String {
    common::testkit_server("a", &["--name", "a"], "")
}

#[tokio::test(flavor = "multi_thread")]
async fn streamable_http_errors_carry_the_readable_id() {
    let face = HttpFace::start(&config()).await;
    let sid = face.open_session().await;
    for (line, id) in cases() {
        let (status, answer) = face.post_raw(Some(&sid), line).await;
        assert_eq!(status, 400, "{line}: {answer}");
        assert_answer(line, &answer, &id);
    }
    // Without a session too: the decode comes first.
    let (status, answer) = face.post_raw(None, cases()[0].0).await;
    assert_eq!(status, 400);
    assert_answer(cases()[0].0, &answer, &json!(14));
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sse_errors_carry_the_readable_id() {
    let face = HttpFace::start(&config()).await;
    let mut legacy = face.open_legacy().await;
    legacy
        .post(r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05","capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}}"#)
        .await;
    legacy.answer(0).await;
    for (line, id) in cases().into_iter().filter(|(_, id)| !id.is_null()) {
        assert_eq!(legacy.post(line).await, 400, "{line}");
        let answer = legacy.answer(id.clone()).await;
        assert_answer(line, &answer, &id);
    }
}
