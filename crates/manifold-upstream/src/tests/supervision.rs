//! Supervision: a connection that dies is restarted after the backoff of its `RestartPolicy`
//! (the initial delay, doubled, capped), measured exactly on the paused clock; the count resets
//! once a life lasted long enough; failed starts make it unhealthy; shutdown stops it for good.

use std::time::Duration;

use manifold_testpeer::{Seen, TestServer};
use manifold_transport::TransportError;
use serde_json::json;
use tokio::time::Instant;

use super::{start, start_server, Harness, RESTART};
use crate::{CallError, Health, UpstreamEvent};

fn ms(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&m| Duration::from_millis(m)).collect()
}

/// Kills the connection with the `crash` tool, waits until the upstream is up again, and
/// returns how long after the death the new life began.
async fn crash_and_restart(h: &Harness) -> Duration {
    let crashed = h.call("crash", json!({})).await;
    let died = Instant::now();
    assert!(
        matches!(crashed, Err(CallError::Failed { .. })),
        "the call in flight fails with the connection: {crashed:?}"
    );
    h.health_until("down after the crash", |s| matches!(s, Health::Down { .. }))
        .await;
    h.up().await;
    let lives = h.lives.all();
    let restarted = lives.last().copied().expect("a life");
    restarted - died
}

#[tokio::test(start_paused = true)]
async fn a_dead_connection_is_restarted_after_a_backoff_doubling_up_to_its_cap() {
    assert_eq!(RESTART.initial_backoff, Duration::from_millis(100));
    assert_eq!(RESTART.max_backoff, Duration::from_millis(300));
    let server = TestServer::new("alpha");
    let mut h = start_server(&server);
    h.up().await;

    let mut delays = Vec::new();
    for _ in 0..4 {
        delays.push(crash_and_restart(&h).await);
    }
    assert_eq!(delays, ms(&[100, 200, 300, 300]));

    // Each life was a new connection, initialized again, and served.
    let echo = h
        .call("echo", json!({ "text": "back" }))
        .await
        .expect("echo");
    assert_eq!(echo["content"][0]["text"], "back");
    let seen = server.record().seen();
    let inits = seen
        .iter()
        .filter(|s| matches!(s, Seen::Initialized { .. }))
        .count();
    let ended = seen.iter().filter(|s| **s == Seen::Ended).count();
    assert_eq!((h.lives.count(), inits, ended), (5, 5, 4), "{seen:?}");
    let events: Vec<&'static str> = h
        .drain_events()
        .iter()
        .map(|e| match e {
            UpstreamEvent::Up(0) => "up",
            UpstreamEvent::Down(0) => "down",
            _ => "other",
        })
        .collect();
    assert_eq!(
        events,
        ["up", "down", "up", "down", "up", "down", "up", "down", "up"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_life_that_lasted_resets_the_backoff() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;
    assert_eq!(crash_and_restart(&h).await, Duration::from_millis(100));
    assert_eq!(crash_and_restart(&h).await, Duration::from_millis(200));

    // Up for 30 s: the failures before no longer count.
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(crash_and_restart(&h).await, Duration::from_millis(100));
    assert_eq!(crash_and_restart(&h).await, Duration::from_millis(200));
}

#[tokio::test(start_paused = true)]
async fn failed_starts_back_off_and_make_it_unhealthy() {
    assert_eq!(RESTART.unhealthy_after, 3);
    let h = start(|| Err(TransportError::Closed));
    let mut health = h.up.watch_health();
    let mut unhealthy = Vec::new();
    while unhealthy.len() < 5 {
        manifold_testpeer::within("the next failed start", health.changed())
            .await
            .expect("the upstream is alive");
        let now = health.borrow_and_update().clone();
        if let Health::Down {
            reason,
            unhealthy: flag,
        } = now
        {
            assert_eq!(reason, "transport closed");
            unhealthy.push(flag);
            // While down, calls fail at once with why.
            match h.call("echo", json!({})).await {
                Err(e @ CallError::Unavailable { .. }) => {
                    assert!(e.to_string().contains("transport closed"), "{e}");
                    assert_eq!(e.outcome(), "unavailable");
                }
                other => panic!("expected unavailable, got {other:?}"),
            }
        }
    }
    assert_eq!(unhealthy, [false, false, true, true, true]);
    let lives = h.lives.all();
    let gaps: Vec<Duration> = lives.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, ms(&[100, 200, 300, 300]));
}

#[tokio::test(start_paused = true)]
async fn shutdown_ends_the_connection_and_stops_it_for_good() {
    let server = TestServer::new("alpha");
    let h = start_server(&server);
    h.up().await;

    h.up.shutdown().await;
    assert!(
        matches!(h.up.health(), Health::Stopped),
        "{:?}",
        h.up.health()
    );
    server
        .record()
        .until("the server's input ended", |s| s.contains(&Seen::Ended))
        .await;
    assert!(matches!(
        h.call("echo", json!({})).await,
        Err(CallError::Unavailable { .. })
    ));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(h.lives.count(), 1, "never restarted");
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_backoff_does_not_wait_it_out() {
    let h = start(|| Err(TransportError::Closed));
    h.health_until("down", |s| matches!(s, Health::Down { .. }))
        .await;
    let began = Instant::now();
    h.up.shutdown().await;
    assert_eq!(began.elapsed(), Duration::ZERO);
    assert!(matches!(h.up.health(), Health::Stopped));
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(h.lives.count(), 1, "never restarted");
}
