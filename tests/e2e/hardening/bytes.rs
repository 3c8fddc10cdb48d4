//! What Manifold does not rewrite arrives exactly as the upstream wrote it. On every path where it
//! rewrites a URI — `resource_link` and embedded resources in a tool result, `resources/read`
//! contents, `notifications/resources/updated` — the only bytes that change are that URI's: a
//! 23-digit integer, `2.50`, `1.0e3`, `-0.0`, `\u00e9` escapes and odd spacing survive, on stdio
//! and over HTTP. The result-size limit applies to the result as rewritten.

use serde_json::{json, Value};

use super::support::HttpFace;
use crate::common::{self, Gateway};

/// The values a re-encoding would change.
const TRICKY: &str = r#"{"big":12345678901234567890123,"price":2.50,"e":1.0e3,"neg":-0.0,"s":"caf\u00e9 \ud83d\ude00","deep":[1.10, {"k" : 2E+2}]}"#;

/// A tool result with a link and an embedded resource, plus everything that must not change.
fn tool_result() -> String {
    format!(
        r#"{{"content":[{{"type":"text","text":"\u00e9"}},{{"type":"resource_link","uri":"testkit://a/res/0","name":"r","_meta":{TRICKY}}},{{"type":"resource","resource":{{"uri":"testkit://a/res/1","text":"t"}}}}],"structuredContent":{TRICKY},"_meta":{TRICKY}}}"#
    )
}

/// `tool_result()` as the client must receive it.
fn tool_result_rewritten() -> String {
    tool_result()
        .replace(r#""testkit://a/res/0""#, r#""a+testkit://a/res/0""#)
        .replace(r#""testkit://a/res/1""#, r#""a+testkit://a/res/1""#)
}

/// A `resources/read` result, and as the client must receive it.
fn read_result() -> (String, String) {
    let raw = format!(
        r#"{{"contents":[{{"uri":"x://one","text":"t","_meta":{TRICKY}}},{{"blob":"AA==","uri" : "y://two"}}],"_meta":{TRICKY}}}"#
    );
    let rewritten = raw
        .replace(r#""x://one""#, r#""a+x://one""#)
        .replace(r#""y://two""#, r#""a+y://two""#);
    (raw, rewritten)
}

fn updated_notification() -> String {
    format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{{"uri":"testkit://a/res/0","_meta":{TRICKY}}}}}"#
    )
}

fn updated_params_rewritten() -> String {
    format!(r#"{{"uri":"a+testkit://a/res/0","_meta":{TRICKY}}}"#)
}

fn server(extra: &str) -> String {
    common::testkit_server("a", &["--name", "a", "--raw"], extra)
}

fn raw_call(id: i64, result: &str, notify: Option<&str>) -> Value {
    let mut arguments = json!({ "result": result });
    if let Some(n) = notify {
        arguments["notify"] = json!(n);
    }
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"a__raw","arguments":arguments}})
}

fn read(id: i64, raw: &str) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"resources/read",
        "params":{"uri": format!("a+testkit-raw:{raw}")}})
}

#[tokio::test(flavor = "multi_thread")]
async fn stdio_rewrites_only_the_uris() {
    let (_dir, path) = common::write_config(&server(""));
    let mut gw = Gateway::spawn(&path);
    gw.initialize().await;

    gw.send(&raw_call(1, &tool_result(), None)).await;
    let (line, _) = gw.response_raw(&json!(1)).await;
    let expected = tool_result_rewritten();
    assert_eq!(
        line,
        format!(r#"{{"jsonrpc":"2.0","id":1,"result":{expected}}}"#)
    );

    let (raw, rewritten) = read_result();
    gw.send(&read(2, &raw)).await;
    let (line, _) = gw.response_raw(&json!(2)).await;
    assert_eq!(
        line,
        format!(r#"{{"jsonrpc":"2.0","id":2,"result":{rewritten}}}"#)
    );

    let r = gw
        .request(
            3,
            "resources/subscribe",
            json!({"uri": "a+testkit://a/res/0"}),
        )
        .await;
    assert!(r.get("result").is_some(), "{r}");
    gw.send(&raw_call(
        4,
        r#"{"content":[]}"#,
        Some(&updated_notification()),
    ))
    .await;
    let expected = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}}"#,
        updated_params_rewritten()
    );
    let (mut notified, mut answered) = (false, false);
    while !(notified && answered) {
        let (line, m) = gw.recv_raw().await;
        if m["method"] == "notifications/resources/updated" {
            assert_eq!(line, expected);
            notified = true;
        } else if m["id"] == 4 {
            answered = true;
        }
    }
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn http_rewrites_only_the_uris() {
    let face = HttpFace::start(&server("")).await;
    let sid = face.open_session().await;
    let text = face
        .post_text(&sid, &raw_call(1, &tool_result(), None).to_string())
        .await;
    let expected = tool_result_rewritten();
    assert_eq!(
        text,
        format!(r#"{{"jsonrpc":"2.0","id":1,"result":{expected}}}"#)
    );

    let (raw, rewritten) = read_result();
    let text = face.post_text(&sid, &read(2, &raw).to_string()).await;
    assert_eq!(
        text,
        format!(r#"{{"jsonrpc":"2.0","id":2,"result":{rewritten}}}"#)
    );

    // The update reaches the session's GET stream, rewritten the same way.
    let mut stream = face.open_stream(&sid).await;
    let subscribe = json!({"jsonrpc":"2.0","id":3,"method":"resources/subscribe",
        "params":{"uri":"a+testkit://a/res/0"}});
    face.post_text(&sid, &subscribe.to_string()).await;
    let call = raw_call(4, r#"{"content":[]}"#, Some(&updated_notification()));
    face.post_text(&sid, &call.to_string()).await;
    let data = stream.next_event().await.data;
    let expected = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{}}}"#,
        updated_params_rewritten()
    );
    assert_eq!(data, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_result_size_limit_applies_after_the_rewrite() {
    // The upstream's result fits the limit; namespaced, its two URIs make it 4 bytes longer.
    let limit = tool_result().len() + 1;
    let (_dir, path) = common::write_config(&server(&format!("max_result_bytes = {limit}")));
    let mut gw = Gateway::spawn(&path);
    gw.initialize().await;
    gw.send(&raw_call(1, &tool_result(), None)).await;
    let r = gw.response(&json!(1)).await;
    assert_eq!(r["error"]["code"], -32000, "{r}");
    assert_eq!(r["error"]["data"]["reason"], "result_too_large", "{r}");
    assert_eq!(
        r["error"]["data"]["size"],
        tool_result_rewritten().len(),
        "{r}"
    );
    // Truncation keeps every byte but the shortened text.
    let (_dir, path) = common::write_config(&server(&format!(
        "max_result_bytes = {}\ntruncate_results = true",
        tool_result_rewritten().len() + 40
    )));
    let mut gw = Gateway::spawn(&path);
    gw.initialize().await;
    let long = format!(
        r#"{{"content":[{{"type":"text","text":"{}"}}],"structuredContent":{TRICKY}}}"#,
        "x".repeat(2000)
    );
    gw.send(&raw_call(2, &long, None)).await;
    let (line, r) = gw.response_raw(&json!(2)).await;
    let text = r["result"]["content"][0]["text"].as_str().expect("a text");
    assert!(text.contains("truncated by Manifold"), "{text}");
    assert!(
        line.ends_with(&format!(r#""structuredContent":{TRICKY}}}}}"#)),
        "{line}"
    );
    assert!(gw.close().await.success());
}
