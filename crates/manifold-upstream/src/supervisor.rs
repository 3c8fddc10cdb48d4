//! Keeps one upstream running: connect, wait for the client's identity, handshake, pump messages,
//! and on failure restart with bounded exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use manifold_protocol::{Id, Message};
use manifold_transport::{connect_http, spawn_stdio, Connection, Inbound, InboundStream};
use tokio::sync::{mpsc, watch};
// Tokio's clock, like the backoff's sleeps: paused time in tests moves both alike.
use tokio::time::Instant;
use tracing::Instrument;

use crate::{handshake, CallError, ClientIdentity, Health, TransportSpec, Upstream, UpstreamEvent};

/// An upstream that stayed up this long is considered healthy again: its failure count resets.
const STABLE_AFTER: Duration = Duration::from_secs(30);

pub(crate) async fn run(up: Upstream, mut identity: watch::Receiver<Option<ClientIdentity>>) {
    let span = tracing::info_span!("mcp.upstream", server = %up.alias());
    async move {
        let policy = up.inner.spec.restart;
        let mut stop = up.inner.stop.subscribe();
        let mut failures: u32 = 0;
        loop {
            if *stop.borrow() {
                break;
            }
            let started = Instant::now();
            let (reason, was_up) = run_once(&up, &mut identity, &mut stop).await;
            if *stop.borrow() {
                break;
            }
            if was_up {
                let _ = up.inner.events.send(UpstreamEvent::Down(up.index())).await;
                if started.elapsed() >= STABLE_AFTER {
                    failures = 0;
                }
            }
            failures = failures.saturating_add(1);
            let unhealthy = failures >= policy.unhealthy_after;
            let delay = backoff(policy.initial_backoff, policy.max_backoff, failures);
            if unhealthy {
                tracing::error!(%reason, failures, retry_in_ms = delay.as_millis() as u64, "upstream is unhealthy");
            } else {
                tracing::warn!(%reason, retry_in_ms = delay.as_millis() as u64, "upstream down; restarting");
            }
            up.inner.live.lock().down_reason = reason.clone();
            up.inner.health.send_replace(Health::Down { reason, unhealthy });
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = stopped(&mut stop) => break,
            }
        }
        up.inner.health.send_replace(Health::Stopped);
    }
    .instrument(span)
    .await
}

/// Resolves once the stop flag is set (the guard `wait_for` returns is dropped here, not held).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// What a health ping is: `ping`, or `server/discover` for a 2026-07-28 upstream (which has no
/// `ping`).
fn health_method(up: &Upstream) -> &'static str {
    if up.inner.live.lock().modern_meta.is_some() {
        manifold_protocol::method::SERVER_DISCOVER
    } else {
        manifold_protocol::method::PING
    }
}

fn backoff(initial: Duration, max: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(16);
    initial.saturating_mul(factor).min(max)
}

/// One life of the connection. Returns why it ended and whether the handshake had succeeded.
async fn run_once(
    up: &Upstream,
    identity: &mut watch::Receiver<Option<ClientIdentity>>,
    stop: &mut watch::Receiver<bool>,
) -> (String, bool) {
    up.inner.health.send_replace(Health::Starting);
    let spec = &up.inner.spec;
    let conn = match &spec.transport {
        TransportSpec::Stdio(p) => spawn_stdio(p),
        TransportSpec::Http(p) => connect_http(p),
        TransportSpec::InProcess(connector) => connector.connect(),
    };
    let Connection {
        sender,
        inbound,
        closer,
    } = match conn {
        Ok(c) => c,
        Err(e) => return (e.to_string(), false),
    };
    {
        let mut live = up.inner.live.lock();
        live.sender = Some(sender);
        live.up = false;
        live.modern_meta = None;
        // The last life's listens ended with its connection.
        live.resource_listens.clear();
        live.keep_text = matches!(spec.transport, TransportSpec::Http(_));
    }
    // Unbounded: the pump must never block on it while a re-initialize waits for the pump.
    let (reinit_tx, mut reinit_rx) = mpsc::unbounded_channel();
    let mut pump = tokio::spawn(pump(up.clone(), inbound, reinit_tx));
    let mut was_up = false;

    let reason = 'life: {
        let ident = tokio::select! {
            r = identity.wait_for(Option::is_some) => match r {
                Ok(v) => v.clone(),
                Err(_) => break 'life "gateway shutting down".to_string(),
            },
            _ = &mut pump => break 'life "exited before initialize".to_string(),
            _ = stopped(stop) => break 'life "stopped".to_string(),
        };
        let Some(ident) = ident else {
            break 'life "no client identity".to_string();
        };
        let info = tokio::select! {
            r = handshake::handshake(up, &ident) => match r {
                Ok(info) => info,
                Err(e) => break 'life e,
            },
            _ = &mut pump => break 'life "exited during initialize".to_string(),
            _ = stopped(stop) => break 'life "stopped".to_string(),
        };
        tracing::info!(version = %info.protocol_version, server_info = %info.server_info, "upstream ready");
        up.inner.live.lock().up = true;
        up.inner.health.send_replace(Health::Up(Arc::new(info)));
        was_up = true;
        let _ = up.inner.events.send(UpstreamEvent::Up(up.index())).await;
        // Held for the life: a modern upstream tells of list changes on a listen stream only.
        let _listen = crate::listen::for_list_changes(up);
        let mut pings = health_pings(spec.ping_interval);
        loop {
            tokio::select! {
                _ = pings.tick() => {
                    tokio::select! {
                        r = up.call(health_method(up), None, None, true) => {
                            if let Err(CallError::Timeout { ms, .. }) = r {
                                break 'life format!("did not answer a health ping within {ms} ms");
                            }
                        }
                        _ = &mut pump => break 'life "connection closed (process exited)".to_string(),
                        _ = stopped(stop) => break 'life "stopped".to_string(),
                    }
                }
                _ = &mut pump => break 'life "connection closed (process exited)".to_string(),
                _ = stopped(stop) => break 'life "stopped".to_string(),
                Some(rejected) = reinit_rx.recv() => {
                    let mut retry: Vec<Id> = rejected.into_iter().collect();
                    let expired = up.inner.live.lock().sender.as_ref().is_some_and(|s| s.session_id().is_none());
                    if expired {
                        tracing::info!("upstream session expired; re-initializing");
                        // New calls wait (up to their deadline) instead of racing the new session.
                        up.inner.paused.send_replace(true);
                        let outcome = handshake::initialize(up, &ident).await;
                        while let Ok(more) = reinit_rx.try_recv() {
                            retry.extend(more);
                        }
                        if let Ok(info) = &outcome {
                            up.inner.health.send_replace(Health::Up(Arc::new(info.clone())));
                        }
                        up.inner.paused.send_replace(false);
                        if let Err(e) = outcome {
                            break 'life e;
                        }
                    }
                    // Rejected by the old session (before or after the new one began): send again.
                    tracing::debug!(requests = retry.len(), expired, "re-sending requests an expired session rejected");
                    resend(up, &retry).await;
                }
            }
        }
    };
    {
        let mut live = up.inner.live.lock();
        live.up = false;
        live.sender = None;
        let alias = up.alias().to_string();
        let why = reason.clone();
        live.fail_all(|| CallError::Failed {
            alias: alias.clone(),
            reason: why.clone(),
        });
    }
    pump.abort();
    closer.close(spec.shutdown_grace).await;
    (reason, was_up)
}

/// A ticker for health pings; with a zero interval it never fires.
fn health_pings(interval: Duration) -> tokio::time::Interval {
    let period = if interval.is_zero() {
        Duration::from_secs(365 * 24 * 3600)
    } else {
        interval
    };
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker
}

/// Sends again the requests an expired session rejected, if they still wait for an answer.
async fn resend(up: &Upstream, ids: &[Id]) {
    let texts: Vec<(Id, String)> = {
        let live = up.inner.live.lock();
        ids.iter()
            .filter_map(|id| match id {
                Id::Num(n) => live
                    .pending
                    .get(n)
                    .and_then(|p| p.text.clone())
                    .map(|t| (id.clone(), t)),
                Id::Str(_) => None,
            })
            .collect()
    };
    for (id, text) in texts {
        up.send_raw(text, Some(id)).await;
    }
}

/// Reads everything the upstream sends and dispatches it.
async fn pump(up: Upstream, mut inbound: InboundStream, reinit: mpsc::UnboundedSender<Option<Id>>) {
    while let Some(event) = inbound.recv().await {
        match event {
            Inbound::Message(Message::Response(r)) => match r.id {
                Some(id) => up.complete(&id, r.outcome.map_err(CallError::Rpc)),
                None => {
                    tracing::warn!(error = ?r.outcome.err(), "upstream sent an error without id")
                }
            },
            Inbound::Message(Message::Request(r)) => {
                let _ = up
                    .inner
                    .events
                    .send(UpstreamEvent::Request(up.index(), r))
                    .await;
            }
            Inbound::Message(Message::Notification(n)) => {
                match up.inner.inline.as_ref().map(|hook| hook(up.index(), &n)) {
                    None | Some(crate::Inline::Pass) => {}
                    Some(crate::Inline::Done) => continue,
                    Some(crate::Inline::Wait(queued)) => {
                        queued.await;
                        continue;
                    }
                }
                let _ = up
                    .inner
                    .events
                    .send(UpstreamEvent::Notification(up.index(), n))
                    .await;
            }
            Inbound::Invalid { .. } => {}
            Inbound::Oversized { len, id } => {
                if let Some(id) = id {
                    let alias = up.alias().to_string();
                    up.complete(
                        &id,
                        Err(CallError::Failed {
                            alias,
                            reason: format!("response of {len} bytes exceeds max_message_bytes"),
                        }),
                    );
                }
            }
            Inbound::SendFailed { id, reason } => {
                let alias = up.alias().to_string();
                up.complete(&id, Err(CallError::Failed { alias, reason }));
            }
            Inbound::Closed { reason } => {
                tracing::warn!(%reason, "upstream transport closed");
                return;
            }
            Inbound::SessionExpired { request_id, .. } => {
                let _ = reinit.send(request_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_bounded() {
        let (i, m) = (Duration::from_millis(250), Duration::from_secs(30));
        let delays: Vec<u128> = (1..=10).map(|f| backoff(i, m, f).as_millis()).collect();
        assert_eq!(
            delays,
            [250, 500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff(i, m, u32::MAX), m);
    }
}
