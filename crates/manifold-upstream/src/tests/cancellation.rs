//! Deadlines and cancellation: a request past its timeout fails with the timeout error after
//! exactly its timeout, a dropped request is cancelled, and in both cases the peer receives
//! `notifications/cancelled` for it; a late answer to a cancelled request is discarded.

use std::time::Duration;

use manifold_testpeer::{within, Seen, TestServer};
use manifold_transport::{connect_duplex, Connection, DuplexParams};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{start, start_server};
use crate::{CallError, Health, UpstreamEvent};

/// The request id the server saw for the only call of `tool`.
fn id_of(seen: &[Seen], tool: &str) -> Value {
    let ids: Vec<&Value> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Call { id, name, .. } if name == tool => Some(id),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "one call of {tool}: {seen:?}");
    ids[0].clone()
}

fn cancelled(seen: &[Seen]) -> Vec<(Value, Option<String>)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Cancelled { request_id, reason } => Some((request_id.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_request_past_its_timeout_fails_and_is_cancelled_upstream() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;

    let began = Instant::now();
    let outcome = h
        .call_within(
            "slow",
            json!({ "ms": 10_000 }),
            Some(Duration::from_millis(250)),
        )
        .await;
    assert_eq!(began.elapsed(), Duration::from_millis(250));
    match outcome {
        Err(e @ CallError::Timeout { .. }) => {
            assert!(matches!(e, CallError::Timeout { ms: 250, .. }), "{e:?}");
            assert_eq!(e.outcome(), "timeout");
            let wire = e.to_error();
            let data: Value = serde_json::from_str(wire.data.expect("data").get()).expect("JSON");
            assert_eq!(
                data,
                json!({ "server": "alpha", "reason": "timeout", "timeoutMs": 250 })
            );
        }
        other => panic!("expected the timeout, got {other:?}"),
    }
    assert_eq!(
        h.pending(),
        0,
        "the timed-out request left the pending table"
    );

    let seen = server
        .record()
        .until("the server was told of the cancellation", |s| {
            s.iter().any(|s| matches!(s, Seen::Abandoned { .. }))
        })
        .await;
    let slow = id_of(&seen, "slow");
    assert_eq!(cancelled(&seen), [(slow.clone(), Some("timeout".into()))]);
    assert!(seen.contains(&Seen::Abandoned { id: slow }), "{seen:?}");
    // The server never answered it, and the connection serves on.
    let echo = h
        .call("echo", json!({ "text": "still here" }))
        .await
        .expect("echo");
    assert_eq!(echo["content"][0]["text"], "still here");
    assert_eq!(h.lives.count(), 1);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_request_before_its_answer_cancels_it_upstream() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;

    let record = server.record();
    tokio::select! {
        r = h.call("slow", json!({ "ms": 10_000 })) => panic!("slow answered: {r:?}"),
        _ = record.until("the server got the call", |s| {
            s.iter().any(|s| matches!(s, Seen::Call { .. }))
        }) => {}
    }
    // The request's future is dropped here, 10 s before its answer.
    assert_eq!(
        h.pending(),
        0,
        "dropping it removed it from the pending table"
    );
    let seen = record
        .until("the server was told of the cancellation", |s| {
            s.iter().any(|s| matches!(s, Seen::Abandoned { .. }))
        })
        .await;
    let slow = id_of(&seen, "slow");
    assert_eq!(
        cancelled(&seen),
        [(slow, Some("request cancelled by the client".into()))]
    );
    let echo = h
        .call("echo", json!({ "text": "next" }))
        .await
        .expect("echo");
    assert_eq!(echo["content"][0]["text"], "next");
}

/// What the hand-written peer below saw, in order.
#[derive(Debug, PartialEq)]
enum PeerSaw {
    /// The request it holds back (its id).
    Held(Value),
    /// `notifications/cancelled` (its `requestId`), after which it answers the held request.
    Cancelled(Value),
}

/// A hand-written peer, for the one behaviour rmcp cannot give: answering a request after being
/// told it is cancelled (rmcp drops such answers, as a server should). It answers `initialize`
/// and `ping`, holds back the first `tools/call` until it is cancelled and then answers it
/// anyway, and answers every later `tools/call` at once with its own id.
fn late_answering_peer(saw: mpsc::UnboundedSender<PeerSaw>) -> Connection {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    tokio::spawn(async move {
        let (reader, mut writer) = tokio::io::split(theirs);
        let mut lines = BufReader::new(reader).lines();
        let mut held = None;
        while let Ok(Some(line)) = lines.next_line().await {
            let m: Value = serde_json::from_str(&line).expect("Manifold sends JSON");
            let result = match m["method"].as_str().unwrap_or_default() {
                "initialize" => json!({ "protocolVersion": "2025-03-26", "capabilities": {},
                                        "serverInfo": { "name": "late", "version": "1" } }),
                "tools/call" if held.is_none() => {
                    held = Some(m["id"].clone());
                    let _ = saw.send(PeerSaw::Held(m["id"].clone()));
                    continue;
                }
                "tools/call" => json!({ "content": [], "answered": m["id"] }),
                "notifications/cancelled" => {
                    let _ = saw.send(PeerSaw::Cancelled(m["params"]["requestId"].clone()));
                    let late = json!({ "jsonrpc": "2.0", "id": held.clone(),
                                       "result": { "content": [], "late": true } });
                    let _ = writer.write_all(format!("{late}\n").as_bytes()).await;
                    continue;
                }
                _ => continue,
            };
            let answer = json!({ "jsonrpc": "2.0", "id": m["id"], "result": result });
            let _ = writer.write_all(format!("{answer}\n").as_bytes()).await;
        }
    });
    let (reader, writer) = tokio::io::split(ours);
    let params = DuplexParams {
        alias: "late".into(),
        max_message_bytes: 1 << 20,
        queue_bytes: 1 << 20,
    };
    connect_duplex(reader, writer, &params)
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_to_a_dropped_request_is_discarded() {
    let (saw_tx, mut saw) = mpsc::unbounded_channel();
    let mut h = start(move || Ok(late_answering_peer(saw_tx.clone())));
    h.up().await;

    let held = tokio::select! {
        r = h.call("slow", json!({})) => panic!("the held request was answered: {r:?}"),
        saw = saw.recv() => match saw {
            Some(PeerSaw::Held(id)) => id,
            other => panic!("expected the held request, got {other:?}"),
        },
    };
    // Dropped: the peer is told, and answers it anyway.
    let told = within("the peer was told", saw.recv()).await;
    assert_eq!(told, Some(PeerSaw::Cancelled(held.clone())));

    // The late answer was read before this one (one ordered stream), and went nowhere.
    let next = h.call("echo", json!({})).await.expect("the next call");
    assert_ne!(next["answered"], held);
    assert_eq!(next["answered"].as_i64(), held.as_i64().map(|id| id + 1));
    assert!(next.get("late").is_none(), "{next}");
    assert_eq!(h.pending(), 0);
    assert!(matches!(h.up.health(), Health::Up(_)));
    assert_eq!(h.lives.count(), 1, "the connection was not restarted");
    let events = h.drain_events();
    assert!(
        matches!(events.as_slice(), [UpstreamEvent::Up(0)]),
        "nothing but the start was reported: {events:?}"
    );
}
