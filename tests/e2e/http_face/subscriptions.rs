//! Resource subscriptions on a shared upstream: reference-counted (one upstream subscription for
//! three sessions), updates to exactly the subscribers, unsubscribe upstream after the last.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::{common, start};
use crate::common::eventually;
use crate::common::http::SseReader;

#[tokio::test(flavor = "multi_thread")]
async fn three_subscribers_one_upstream_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("c.jsonl").display().to_string();
    let face = start(
        "",
        &common::testkit_server(
            "c",
            &["--profile", "conformance", "--record", &record],
            "sharing = \"shared\"\nprotocol = \"legacy\"",
        ),
    )
    .await;
    let mut sids = Vec::new();
    for _ in 0..4 {
        sids.push(face.open_session().await);
    }
    let uri = "c+test://watched-resource";
    let subscribe = |sid: String, id: i64, method: &'static str| {
        let face = &face;
        async move { face.call(&sid, id, method, json!({"uri": uri})).await }
    };
    // Three sessions subscribe at once; the fourth does not.
    let (a, b, c) = tokio::join!(
        subscribe(sids[0].clone(), 1, "resources/subscribe"),
        subscribe(sids[1].clone(), 1, "resources/subscribe"),
        subscribe(sids[2].clone(), 1, "resources/subscribe"),
    );
    for (status, r) in [a, b, c] {
        assert_eq!(status, StatusCode::OK);
        assert!(r["result"].is_object(), "{r}");
    }
    let upstream = |method: &str| received(&record, method);
    assert_eq!(
        upstream("resources/subscribe"),
        1,
        "one upstream subscription for three sessions"
    );
    // The fixture announces an update shortly after it is subscribed to: each subscriber gets it.
    for sid in &sids[..3] {
        let stream = face.stream(sid, None).await;
        let events = SseReader::new(stream).messages_with_ids(1).await;
        assert_eq!(
            events[0].1["method"], "notifications/resources/updated",
            "{events:?}"
        );
        assert_eq!(events[0].1["params"]["uri"], uri);
    }
    // The session that did not subscribe gets nothing.
    let stream = face.stream(&sids[3], None).await;
    let nothing = SseReader::new(stream)
        .silent_for(Duration::from_millis(400))
        .await;
    assert!(
        nothing.is_ok(),
        "no update for a non-subscriber: {nothing:?}"
    );
    // Unsubscribing: upstream only after the last subscriber left.
    for (n, sid) in sids[..3].iter().enumerate() {
        let (status, _) = subscribe(sid.clone(), 2, "resources/unsubscribe").await;
        assert_eq!(status, StatusCode::OK);
        let expected = usize::from(n == 2);
        assert_eq!(
            upstream("resources/unsubscribe"),
            expected,
            "after {} unsubscribed",
            n + 1
        );
    }
}

/// Two sessions subscribe to one URI on a shared upstream that refuses subscriptions (slowly);
/// the second asks while the first one's upstream subscribe is still in flight. Each is told the
/// upstream's refusal (the second is not answered `Ok` ahead of it), each asked upstream in turn,
/// and neither is left subscribed.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_subscription_is_refused_to_every_subscriber() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("r.jsonl").display().to_string();
    // Answers stay plain JSON however long the upstream takes (no switch to an SSE stream).
    let face = start(
        "[listen]\nsse_after_ms = 60000",
        &common::testkit_server(
            "r",
            &["--refuse-subscribe-ms", "1000", "--record", &record],
            "sharing = \"shared\"\nprotocol = \"legacy\"",
        ),
    )
    .await;
    let (first_sid, second_sid) = (face.open_session().await, face.open_session().await);
    let uri = "r+testkit://r/res/0";
    let upstream_subscribes = || received(&record, "resources/subscribe");
    let first = face.call(&first_sid, 1, "resources/subscribe", json!({ "uri": uri }));
    let second = async {
        // Sent once the upstream holds the first subscribe (it answers a second later).
        let held = async || (upstream_subscribes() > 0).then_some(());
        eventually("the first subscribe upstream", common::RECV_TIMEOUT, held).await;
        face.call(&second_sid, 1, "resources/subscribe", json!({ "uri": uri }))
            .await
    };
    let ((s1, r1), (s2, r2)) = tokio::join!(first, second);
    for (status, answer) in [(s1, &r1), (s2, &r2)] {
        assert_eq!(status, StatusCode::OK);
        assert!(
            answer["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("subscriptions are refused")),
            "the upstream's refusal: {answer}"
        );
    }
    assert_eq!(
        upstream_subscribes(),
        2,
        "each subscriber's request went upstream"
    );
    // Nobody is subscribed: a third session's subscribe goes upstream again.
    let third_sid = face.open_session().await;
    let (_, r3) = face
        .call(&third_sid, 1, "resources/subscribe", json!({ "uri": uri }))
        .await;
    assert!(r3["error"].is_object(), "{r3}");
    assert_eq!(upstream_subscribes(), 3);
}

/// How many `method` messages the testkit recorded in `record`.
fn received(record: &str, method: &str) -> usize {
    std::fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["method"] == method)
        .count()
}
