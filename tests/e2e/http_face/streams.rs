//! Streams: list changes on GET, progress and SSE answers to POST, Last-Event-ID resumption.

use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{common, start, testkit};
use crate::common::http::{sse_messages, SseReader};

/// The conformance fixture serves both eras: these tests use its legacy one (log messages on the
/// GET stream whatever the level).
const LEGACY: &str = "protocol = \"legacy\"";

#[tokio::test(flavor = "multi_thread")]
async fn list_changes_arrive_on_the_get_stream() {
    let face = start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let r = face.stream(&sid, None).await;
    assert_eq!(r.status(), StatusCode::OK);
    let mut body = r.bytes_stream();
    // `toggle` makes the upstream announce a tool list change; Manifold refreshes and tells
    // every session.
    let r = face.tool(&sid, 1, "alpha__toggle", json!({})).await;
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
async fn progress_streams_before_the_response_to_the_right_session_only() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("alpha.jsonl");
    let face = start(
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
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
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
    let face = start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let r = face
        .post(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "alpha__echo", "arguments": {"text": "hi"}}}))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_get_stream_resumes_with_last_event_id_losing_and_repeating_nothing() {
    let face = start(
        "",
        &common::testkit_server("c", &["--profile", "conformance"], LEGACY),
    )
    .await;
    let sid = face.open_session().await;
    // A JSON-only client: the tool's log messages travel on the GET stream.
    let log_call = |id: i64| {
        face.post_json_only(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                   "params": {"name": "c__test_tool_with_logging", "arguments": {}}}))
            .header("mcp-session-id", &sid)
            .send()
    };
    let first = face.stream(&sid, None).await;
    assert_eq!(first.status(), StatusCode::OK);
    let mut events = SseReader::new(first);
    assert_eq!(log_call(1).await.unwrap().status(), StatusCode::OK);
    let seen = events.messages_with_ids(1).await;
    // The connection drops after one event; more messages come while nobody listens.
    drop(events);
    assert_eq!(log_call(2).await.unwrap().status(), StatusCode::OK);
    let resumed = face.stream(&sid, Some(&seen[0].0)).await;
    let rest = SseReader::new(resumed).messages_with_ids(5).await;
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
async fn a_broken_post_stream_resumes_with_last_event_id() {
    let face = start("", &testkit("alpha", &["--name", "alpha"])).await;
    let sid = face.open_session().await;
    let r = face
        .post(
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
            "name": "alpha__sleep", "arguments": {"ms": 600}, "_meta": {"progressToken": "t"}}}),
        )
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut events = SseReader::new(r);
    let first = events.messages_with_ids(1).await;
    assert_eq!(first[0].1["method"], "notifications/progress", "{first:?}");
    // The POST's connection breaks after the first event.
    drop(events);
    let resumed = face.stream(&sid, Some(&first[0].0)).await;
    assert_eq!(resumed.status(), StatusCode::OK);
    let rest = SseReader::new(resumed).messages_with_ids(3).await;
    let kinds: Vec<String> = rest
        .iter()
        .map(|(_, m)| {
            m["method"]
                .as_str()
                .map_or(format!("response {}", m["id"]), str::to_string)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "notifications/progress",
            "notifications/progress",
            "response 7"
        ],
        "{rest:?}"
    );
    assert_eq!(rest[2].1["result"]["content"][0]["text"], "slept 600ms");
    let all: Vec<&String> = first.iter().chain(&rest).map(|(id, _)| id).collect();
    let seqs: Vec<u64> = all
        .iter()
        .map(|id| id.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3, 4], "every event once, in order: {all:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_that_reads_nothing_loses_messages_beyond_its_queue_not_the_gateway() {
    // Two queued messages at most; nobody reads the GET stream while nine are produced.
    let face = start(
        "[listen]\nsession_queue = 2",
        &common::testkit_server("c", &["--profile", "conformance"], LEGACY),
    )
    .await;
    let sid = face.open_session().await;
    for id in 1..=3 {
        let r = face
            .post_json_only(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                   "params": {"name": "c__test_tool_with_logging", "arguments": {}}}))
            .header("mcp-session-id", &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "calls are answered while the queue is full"
        );
    }
    let stream = face.stream(&sid, None).await;
    let mut events = SseReader::new(stream);
    let kept = events.messages_with_ids(2).await;
    assert!(
        kept.iter()
            .all(|(_, m)| m["method"] == "notifications/message"),
        "{kept:?}"
    );
    // Nothing beyond the two queued ones arrives.
    let more = events.silent_for(Duration::from_millis(500)).await;
    assert!(more.is_ok(), "only the queued messages: {:?}", more);
    let (status, _) = face.call(&sid, 9, "ping", json!({})).await;
    assert_eq!(status, StatusCode::OK);
}
