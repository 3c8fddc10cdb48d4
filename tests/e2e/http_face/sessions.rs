//! Sessions: ids, header rules, DELETE, Host/Origin checks, bad bodies, idle expiry.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{common, start, testkit};
use crate::common::eventually;

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_and_call_through_the_http_face() {
    let face = start(
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
    let r = face
        .tool(&two, 1, "beta__add", json!({"a": 20, "b": 22}))
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
    let r = face.tool(&one, 3, "nope", json!({})).await;
    assert_eq!(r["error"]["code"], -32602, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ending_a_session_leaves_the_shared_upstreams_to_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl").display().to_string();
    let face = start(
        "",
        &testkit("alpha", &["--name", "alpha", "--record", &record]),
    )
    .await;
    let (leaving, staying) = (face.open_session().await, face.open_session().await);
    let r = face.delete(&leaving).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // A call that is in flight while the gateway ends the other session's state.
    let (status, body) = face
        .call(
            &staying,
            1,
            "tools/call",
            json!({"name": "alpha__sleep", "arguments": {"ms": 300}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("result").is_some(), "{body}");
    let (_, body) = face
        .call(
            &staying,
            2,
            "tools/call",
            json!({"name": "alpha__echo", "arguments": {"text": "still here"}}),
        )
        .await;
    assert!(body.to_string().contains("still here"), "{body}");
    // The shared upstream was never restarted: it was initialized once.
    let initializes = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""method":"initialize""#))
        .count();
    assert_eq!(initializes, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_header_rules_and_delete() {
    let face = start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    // No session id after initialize → 400; an unknown one → 404.
    let r = face
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
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
        .post(json!({"jsonrpc": "2.0", "id": 3, "method": "ping"}))
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "1999-01-01")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // DELETE ends it; the id is then unknown.
    let r = face.delete(&sid).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, _) = face.call(&sid, 4, "ping", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let r = face.delete(&sid).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_host_or_origin_is_forbidden() {
    let face = start("", &testkit("alpha", &["--name", "alpha"])).await;
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
    let face = start(
        "[gateway]\nmax_message_bytes = 4096",
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
    let face = start(
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
async fn a_client_that_disconnects_or_deletes_cancels_its_calls_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl").display().to_string();
    let face = start(
        "",
        &testkit("alpha", &["--name", "alpha", "--record", &record]),
    )
    .await;
    let sid = face.open_session().await;
    let cancels = || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("notifications/cancelled"))
            .count()
    };
    // A JSON-only client gives up on a hung call: its connection closes.
    let hung = face
        .post_json_only(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                               "params": {"name": "alpha__hang", "arguments": {}}}))
        .header("mcp-session-id", &sid)
        .send();
    assert!(tokio::time::timeout(Duration::from_millis(300), hung)
        .await
        .is_err());
    let within = Duration::from_secs(10);
    let what = "the abandoned call cancelled upstream";
    eventually(what, within, async || (cancels() >= 1).then_some(())).await;
    // A session ended by DELETE cancels what it still has in flight.
    let slow = face
        .post(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "alpha__hang", "arguments": {}}}))
        .header("mcp-session-id", &sid)
        .send();
    let slow = tokio::spawn(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = face.delete(&sid).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let what = "the session's call cancelled upstream";
    eventually(what, within, async || (cancels() >= 2).then_some(())).await;
    slow.abort();
}
