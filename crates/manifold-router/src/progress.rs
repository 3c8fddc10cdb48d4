//! Request-scoped notifications, handled on the upstream's connection (in order with the
//! response they precede): `notifications/progress` back to the request that carried the token,
//! with the client's own token, on that request's stream; and a log message during a modern
//! client's call, on that call's stream when it asked for that level. A stdio client reading
//! slowly holds the connection until there is room, so the response behind them cannot overtake
//! them.

use manifold_protocol::{method, Notification, RawObject};
use manifold_transport::queue::TrySendError;
use manifold_upstream::Inline;

use crate::gateway::Gateway;
use crate::return_path::{InFlight, Owner};

/// The inline hook's work for one notification from the upstream session with pool id `id`.
pub(crate) fn inline(gateway: &Gateway, id: usize, n: &Notification) -> Inline {
    if n.method == method::MESSAGE {
        return log(gateway, id, n);
    }
    if n.method != method::PROGRESS {
        return Inline::Pass;
    }
    let Some(params) = n.params.as_deref() else {
        return Inline::Done;
    };
    let Ok(mut obj) = RawObject::parse(params) else {
        return Inline::Done;
    };
    let Some(token) = obj.get("progressToken").map(|t| t.get().to_string()) else {
        return Inline::Done;
    };
    let Some(route) = gateway
        .slot(id)
        .and_then(|slot| slot.return_path.by_token(&token))
    else {
        tracing::debug!(%token, "progress for no request in flight; dropped");
        return Inline::Done;
    };
    let Some(original) = &route.original_token else {
        return Inline::Done;
    };
    // A modern client takes the progress of its own requests without any handshake.
    if !route.session.ready() && !route.session.is_modern() {
        return Inline::Done;
    }
    obj.set("progressToken", original.clone());
    gateway.count_notification(method::PROGRESS);
    let text = manifold_protocol::encode_notification(method::PROGRESS, Some(&obj.to_raw()));
    deliver(&route, text, "progress")
}

/// A log message: to the modern call in flight there if it asked for its level (dropped if it
/// did not); a legacy client's goes the usual way ([`Inline::Pass`], the event loop).
fn log(gateway: &Gateway, id: usize, n: &Notification) -> Inline {
    let Some(slot) = gateway.slot(id) else {
        return Inline::Pass;
    };
    let route = match slot.return_path.owner() {
        Owner::One(route) => route,
        _ => return Inline::Pass,
    };
    let Some(inputs) = &route.input else {
        return Inline::Pass;
    };
    let level = n
        .params
        .as_deref()
        .and_then(|p| RawObject::parse(p).ok())
        .and_then(|p| p.get_str("level"));
    if !level.is_some_and(|level| inputs.wants_log(&level)) {
        return Inline::Done;
    }
    let params = crate::events::log_params(n, &slot.server.namespace).or(n.params.clone());
    gateway.count_notification(method::MESSAGE);
    let text = manifold_protocol::encode_notification(method::MESSAGE, params.as_deref());
    deliver(&route, text, "log message")
}

/// Puts `text` on `route`'s stream: waiting for room on stdio (backpressure), dropping it on a
/// full HTTP stream.
fn deliver(route: &InFlight, text: String, what: &str) -> Inline {
    // A parked call taken over by a retry: its messages go on the retry's stream.
    let retried = route.input.as_ref().and_then(|inputs| inputs.stream());
    let sink = retried.as_ref().unwrap_or(&route.sink);
    match sink.try_send(text) {
        Ok(()) => Inline::Done,
        Err(TrySendError::Full(text)) if !route.session.lossy() => {
            // A stdio client reading slowly: the connection waits for room (backpressure).
            let sink = sink.clone();
            Inline::Wait(Box::pin(async move {
                let _ = sink.send(text).await;
            }))
        }
        Err(TrySendError::Full(_)) => {
            route.session.count_dropped();
            tracing::warn!("client queue full; {what} dropped");
            Inline::Done
        }
        Err(TrySendError::Closed(_)) => Inline::Done,
    }
}
