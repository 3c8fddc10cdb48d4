//! Resource subscriptions on a shared upstream: reference-counted (one upstream subscription for
//! three sessions), updates to exactly the subscribers, unsubscribe upstream after the last.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::streams::read_events;
use crate::{common, Face};

#[tokio::test(flavor = "multi_thread")]
async fn three_subscribers_one_upstream_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("c.jsonl").display().to_string();
    let face = Face::start(
        "",
        &common::testkit_server(
            "c",
            &["--profile", "conformance", "--record", &record],
            "sharing = \"shared\"",
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
    let upstream = |method: &str| {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["method"] == method)
            .count()
    };
    assert_eq!(
        upstream("resources/subscribe"),
        1,
        "one upstream subscription for three sessions"
    );
    // The fixture announces an update shortly after it is subscribed to: each subscriber gets it.
    for sid in &sids[..3] {
        let stream = face.stream(sid, None).await;
        let mut body = stream.bytes_stream();
        let mut buffer = String::new();
        let events = read_events(&mut body, &mut buffer, 1).await;
        assert_eq!(
            events[0].1["method"], "notifications/resources/updated",
            "{events:?}"
        );
        assert_eq!(events[0].1["params"]["uri"], uri);
    }
    // The session that did not subscribe gets nothing.
    let stream = face.stream(&sids[3], None).await;
    let mut body = stream.bytes_stream();
    let nothing = tokio::time::timeout(
        Duration::from_millis(400),
        futures::StreamExt::next(&mut body),
    )
    .await;
    assert!(
        nothing.is_err(),
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
