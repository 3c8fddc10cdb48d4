//! Server→client requests (sampling, elicitation, roots, ping): relayed to the one client whose
//! request is in flight on that upstream session, on that request's stream, if the client
//! declared the capability; refused otherwise, never guessed. The upstream's
//! `notifications/cancelled` for one of them stops it and tells the client.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

use manifold_protocol::{code, method, ErrorObject, Id, RawObject, RawValue, Request};
use tokio::task::AbortHandle;

use crate::gateway::Gateway;
use crate::pool::Slot;
use crate::return_path::Owner;
use crate::session::Session;

/// Upstream request id → (relaying task, (session, downstream id) once sent).
type Table = HashMap<Id, (AbortHandle, Option<(u64, i64)>)>;

/// The server→client requests of one upstream session being relayed.
#[derive(Default)]
pub(crate) struct Relays(Mutex<Table>);

impl Relays {}

/// Relays `request` from `slot`'s upstream to its client and answers the upstream, in a task of
/// the gateway's own (cancellable by the upstream).
pub(crate) fn relay(gateway: &Gateway, slot: Arc<Slot>, request: Request) {
    let key = request.id.clone();
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let task = gateway.spawn({
        let (gateway, slot) = (gateway.clone(), slot.clone());
        async move {
            // Wait until the task is registered, so its removal below cannot run first.
            let _ = gate.await;
            let outcome = answer(&gateway, &slot, &request).await;
            slot.relays.0.lock().remove(&request.id);
            slot.upstream.respond(&request.id, outcome).await;
        }
    });
    slot.relays.0.lock().insert(key, (task, None));
    let _ = go.send(());
}

async fn answer(
    gateway: &Gateway,
    slot: &Slot,
    request: &Request,
) -> Result<Box<RawValue>, ErrorObject> {
    let needed = match request.method.as_str() {
        method::PING => return Ok(manifold_protocol::object::empty_object()),
        "sampling/createMessage" => "sampling",
        "elicitation/create" => "elicitation",
        "roots/list" => "roots",
        other => {
            return Err(ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!("Method not found: {other}"),
            ));
        }
    };
    // The request belongs to the one client whose call is in flight there (SEP-2260: such
    // requests are always caused by a client request); it travels on that call's stream.
    let (session, sink) = match slot.return_path.owner() {
        Owner::One(route) => {
            // A modern client's call: it is asked on its next answer, as input (MRTR).
            if let Some(inputs) = &route.input {
                return crate::mrtr::ask(inputs, needed, request).await;
            }
            (route.session.clone(), route.sink.clone())
        }
        Owner::Nobody => match gateway.sole_client(slot) {
            Some(s) => {
                let sink = s.sink();
                (s, sink)
            }
            None => {
                return Err(ambiguous(
                    gateway,
                    &request.method,
                    "no client request is in flight there",
                ))
            }
        },
        Owner::Several => {
            return Err(ambiguous(
                gateway,
                &request.method,
                "requests of several clients are in flight there",
            ));
        }
    };
    if !session.declared(needed) {
        return Err(ErrorObject::new(
            code::METHOD_NOT_FOUND,
            format!("the client did not declare the `{needed}` capability"),
        ));
    }
    let session_id = session.inner.id;
    session
        .inner
        .downstream
        .request(&sink, &request.method, request.params.as_deref(), |id| {
            if let Some(entry) = slot.relays.0.lock().get_mut(&request.id) {
                entry.1 = Some((session_id, id));
            }
        })
        .await
}

/// The upstream cancelled a request it had sent: stop relaying it and tell the client.
pub(crate) async fn cancelled(gateway: &Gateway, slot: &Slot, params: Option<&RawValue>) {
    let Some(params) = params else { return };
    let Ok(obj) = RawObject::parse(params) else {
        return;
    };
    let Some(id) = obj
        .get("requestId")
        .and_then(|v| serde_json::from_str::<Id>(v.get()).ok())
    else {
        return;
    };
    let Some((task, downstream_id)) = slot.relays.0.lock().remove(&id) else {
        return;
    };
    task.abort();
    if let Some((session, down)) = downstream_id {
        let Some(session): Option<Session> = gateway.session(session) else {
            return;
        };
        let mut out = obj.clone();
        out.set(
            "requestId",
            serde_json::value::to_raw_value(&down)
                .unwrap_or_else(|_| manifold_protocol::object::empty_object()),
        );
        session.notify(method::CANCELLED, Some(&out.to_raw())).await;
    }
}

/// The error an upstream gets for a server→client request Manifold cannot attribute; counted.
fn ambiguous(gateway: &Gateway, method: &str, why: &str) -> ErrorObject {
    tracing::warn!(%method, %why, "refused a server-to-client request that cannot be attributed");
    let label = manifold_metrics::method_label(method);
    gateway
        .metrics()
        .unroutable
        .with_label_values(&[label])
        .inc();
    ErrorObject::new(
        code::INTERNAL_ERROR,
        format!("Manifold cannot tell which client `{method}` is meant for: {why}"),
    )
}
