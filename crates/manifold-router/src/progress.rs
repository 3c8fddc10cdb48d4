//! `notifications/progress`, handled on the upstream's connection (in order with the response it
//! precedes): back to the request that carried the token, with the client's own token, on that
//! request's stream. A stdio client reading slowly holds the connection until there is room, so
//! the response behind the progress cannot overtake it.

use manifold_protocol::{method, Notification, RawObject};
use manifold_transport::queue::TrySendError;
use manifold_upstream::Inline;

use crate::gateway::Gateway;

/// The inline hook's work for one notification from the upstream session with pool id `id`.
pub(crate) fn inline(gateway: &Gateway, id: usize, n: &Notification) -> Inline {
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
    match route.sink.try_send(text) {
        Ok(()) => Inline::Done,
        Err(TrySendError::Full(text)) if !route.session.lossy() => {
            // A stdio client reading slowly: the connection waits for room (backpressure).
            let sink = route.sink.clone();
            Inline::Wait(Box::pin(async move {
                let _ = sink.send(text).await;
            }))
        }
        Err(TrySendError::Full(_)) => {
            route.session.count_dropped();
            tracing::warn!("client queue full; progress dropped");
            Inline::Done
        }
        Err(TrySendError::Closed(_)) => Inline::Done,
    }
}
