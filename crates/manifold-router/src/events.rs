//! What happens when an upstream speaks on its own: it comes up or goes down (catalog refresh and
//! `list_changed`), sends a notification (refresh, or relay with names rewritten), or sends a
//! server→client request (relayed to the client if it declared the capability, else refused).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use manifold_protocol::{code, method, ErrorObject, Id, Notification, RawObject, Request};
use manifold_upstream::{Health, UpstreamEvent};
use tokio::task::AbortHandle;

use crate::catalog::{Kind, UpstreamLists};
use crate::discovery::fetch_all;
use crate::downstream::send_to;
use crate::gateway::Gateway;
use crate::naming::downstream_uri;
use crate::return_path::Owner;
use manifold_transport::queue::TrySendError;

/// (upstream index, upstream id) → (relaying task, (session, downstream id) once sent).
type RelayTable = HashMap<(usize, Id), (AbortHandle, Option<(u64, i64)>)>;

/// Server→client requests being relayed.
#[derive(Default)]
pub(crate) struct Relayed(Mutex<RelayTable>);

impl Relayed {
    fn lock(&self) -> std::sync::MutexGuard<'_, RelayTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) async fn run(
    gateway: Gateway,
    mut events: manifold_transport::queue::QueueReceiver<UpstreamEvent>,
) {
    while let Some(event) = events.recv().await {
        match event {
            UpstreamEvent::Up(i) => {
                let slot = &gateway.shared.slots[i];
                let metrics = &gateway.shared.metrics;
                metrics
                    .upstream_up
                    .with_label_values(&[slot.alias()])
                    .set(1);
                if slot.was_up.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    metrics
                        .upstream_restarts
                        .with_label_values(&[slot.alias()])
                        .inc();
                    let gateway = gateway.clone();
                    tokio::spawn(async move { gateway.resubscribe(i).await });
                }
                tokio::spawn(refresh(gateway.clone(), i));
            }
            UpstreamEvent::Down(i) => {
                let alias = gateway.shared.slots[i].alias();
                gateway
                    .shared
                    .metrics
                    .upstream_up
                    .with_label_values(&[alias])
                    .set(0);
                gateway.next_generation(i);
                gateway.publish(i, None).await;
            }
            UpstreamEvent::Notification(i, n) => gateway.on_notification(i, n).await,
            UpstreamEvent::Request(i, r) => gateway.on_request(i, r),
        }
    }
}

/// How long a burst of `list_changed` from one upstream is gathered into one refresh.
const LIST_CHANGED_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(20);

impl Gateway {
    /// Schedules one refresh of upstream `index` shortly; notifications arriving meanwhile are
    /// folded into it (debounced and coalesced).
    fn refresh_soon(&self, index: usize) {
        let slot = &self.shared.slots[index];
        if slot
            .refresh_scheduled
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let gateway = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(LIST_CHANGED_DEBOUNCE).await;
            let slot = &gateway.shared.slots[index];
            slot.refresh_scheduled
                .store(false, std::sync::atomic::Ordering::Release);
            refresh(gateway.clone(), index).await;
        });
    }
}

/// Fetches every list of upstream `index` again and republishes the catalog.
pub(crate) async fn refresh(gateway: Gateway, index: usize) {
    let generation = gateway.next_generation(index);
    let slot = &gateway.shared.slots[index];
    let Health::Up(info) = slot.upstream.health() else {
        return;
    };
    let mut lists = UpstreamLists::default();
    for kind in Kind::ALL {
        if !info.has(kind.capability()) {
            continue;
        }
        match fetch_all(&slot.upstream, kind, slot.filter(kind)).await {
            Ok(items) => lists.items[kind.index()] = items,
            Err(e) => {
                tracing::warn!(server = slot.alias(), list = kind.method(), error = %e, "discovery failed");
            }
        }
    }
    if slot.generation.load(std::sync::atomic::Ordering::SeqCst) != generation {
        return; // a newer refresh (or a Down) superseded this one
    }
    tracing::debug!(server = slot.alias(), "catalog refreshed");
    gateway.publish(index, Some(Arc::new(lists))).await;
}

impl Gateway {
    /// Tells every session which lists changed.
    pub(crate) async fn announce(&self, changed: &[Kind]) {
        if changed.is_empty() {
            return;
        }
        for session in self.sessions() {
            session.announce(changed).await;
        }
    }

    async fn on_notification(&self, index: usize, n: Notification) {
        let namespace = &self.shared.slots[index].namespace;
        let params = match n.method.as_str() {
            method::TOOLS_LIST_CHANGED
            | method::PROMPTS_LIST_CHANGED
            | method::RESOURCES_LIST_CHANGED => {
                self.refresh_soon(index);
                return;
            }
            method::CANCELLED => {
                self.cancel_relayed(index, n.params.as_deref()).await;
                return;
            }
            method::RESOURCES_UPDATED => {
                self.updated(index, &n).await;
                return;
            }
            method::MESSAGE if !namespace.is_empty() => {
                rewrite_param(&n, "logger", |logger| format!("{namespace}/{logger}"))
                    .or_else(|| add_logger(&n, namespace))
            }
            _ => None,
        };
        // Log messages and the rest belong to the client whose requests are in flight there (or
        // the only client); with several candidates they are not delivered rather than guessed.
        let session = match self.shared.return_path.owner(index) {
            Owner::One(route) => route.session.clone(),
            Owner::Nobody => match self.sole_session() {
                Some(s) => s,
                None => return,
            },
            Owner::Several => {
                tracing::debug!(method = %n.method, "notification from a shared upstream with requests of several sessions in flight; not delivered");
                return;
            }
        };
        let params = params.or(n.params);
        session.notify(&n.method, params.as_deref()).await;
    }

    /// `notifications/resources/updated`: to the sessions subscribed to that resource, with the
    /// namespaced URI; nobody else.
    async fn updated(&self, index: usize, n: &Notification) {
        let namespace = &self.shared.slots[index].namespace;
        let Some(params) = n.params.as_deref() else {
            return;
        };
        let Ok(mut obj) = RawObject::parse(params) else {
            return;
        };
        let Some(uri) = obj.get_str("uri") else {
            return;
        };
        let subscribers = self.shared.subscriptions.subscribers(index, &uri);
        if subscribers.is_empty() {
            tracing::debug!(%uri, "update for a resource nobody subscribed to; dropped");
            return;
        }
        obj.set_str("uri", &downstream_uri(namespace, &uri));
        let params = obj.to_raw();
        for session in subscribers {
            session
                .notify(method::RESOURCES_UPDATED, Some(&params))
                .await;
        }
    }

    pub(crate) fn count_notification(&self, method: &str) {
        let label = manifold_metrics::method_label(method);
        self.shared
            .metrics
            .notifications
            .with_label_values(&[label, "to_client"])
            .inc();
    }

    fn on_request(&self, index: usize, request: Request) {
        let gateway = self.clone();
        let key = (index, request.id.clone());
        let (go, gate) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            // Wait until the task is registered, so its removal below cannot run first.
            let _ = gate.await;
            let upstream = &gateway.shared.slots[index].upstream;
            let outcome = gateway.relay(index, &request).await;
            gateway
                .shared
                .relayed
                .lock()
                .remove(&(index, request.id.clone()));
            upstream.respond(&request.id, outcome).await;
        });
        self.shared
            .relayed
            .lock()
            .insert(key, (task.abort_handle(), None));
        let _ = go.send(());
    }

    async fn relay(
        &self,
        index: usize,
        request: &Request,
    ) -> Result<Box<manifold_protocol::RawValue>, ErrorObject> {
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
        let (session, sink) = match self.shared.return_path.owner(index) {
            Owner::One(route) => (route.session.clone(), route.sink.clone()),
            Owner::Nobody => match self.sole_session() {
                Some(s) => {
                    let sink = s.inner.downstream.sender();
                    (s, sink)
                }
                None => {
                    return Err(
                        self.ambiguous(&request.method, "no client request is in flight there")
                    )
                }
            },
            Owner::Several => {
                return Err(self.ambiguous(
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
        let key = (index, request.id.clone());
        let session_id = session.inner.id;
        session
            .inner
            .downstream
            .request(&sink, &request.method, request.params.as_deref(), |id| {
                if let Some(entry) = self.shared.relayed.lock().get_mut(&key) {
                    entry.1 = Some((session_id, id));
                }
            })
            .await
    }

    /// The upstream cancelled a request it had sent: stop relaying it and tell the client.
    async fn cancel_relayed(&self, index: usize, params: Option<&manifold_protocol::RawValue>) {
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
        let Some((task, downstream_id)) = self.shared.relayed.lock().remove(&(index, id)) else {
            return;
        };
        task.abort();
        if let Some((session, down)) = downstream_id {
            let Some(session) = self.session(session) else {
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
}

/// `notifications/progress`, handled on the upstream's connection (in order with the response it
/// precedes): back to the request that carried the token, with the client's own token, on that
/// request's stream. Returns whether it was a progress notification.
pub(crate) fn progress_inline(gateway: &Gateway, index: usize, n: &Notification) -> bool {
    if n.method != method::PROGRESS {
        return false;
    }
    let Some(params) = n.params.as_deref() else {
        return true;
    };
    let Ok(mut obj) = RawObject::parse(params) else {
        return true;
    };
    let Some(token) = obj.get("progressToken").map(|t| t.get().to_string()) else {
        return true;
    };
    let Some(route) = gateway.shared.return_path.by_token(index, &token) else {
        tracing::debug!(%token, "progress for no request in flight; dropped");
        return true;
    };
    let Some(original) = &route.original_token else {
        return true;
    };
    if !route.session.ready() {
        return true;
    }
    obj.set("progressToken", original.clone());
    gateway.count_notification(method::PROGRESS);
    let text = manifold_protocol::encode_notification(method::PROGRESS, Some(&obj.to_raw()));
    match route.sink.try_send(text) {
        Ok(()) => {}
        Err(TrySendError::Full(text)) if !route.session.lossy() => {
            // A stdio client reading slowly: wait for room off the connection's task.
            let sink = route.sink.clone();
            tokio::spawn(async move { send_to(&sink, text, None).await });
        }
        Err(TrySendError::Full(_)) => {
            route.session.count_dropped();
            tracing::warn!("client queue full; progress dropped");
        }
        Err(TrySendError::Closed(_)) => {}
    }
    true
}

impl Gateway {
    /// The error an upstream gets for a server→client request Manifold cannot attribute; counted.
    fn ambiguous(&self, method: &str, why: &str) -> ErrorObject {
        tracing::warn!(%method, %why, "refused a server-to-client request that cannot be attributed");
        let label = manifold_metrics::method_label(method);
        self.shared
            .metrics
            .unroutable
            .with_label_values(&[label])
            .inc();
        ambiguous_error(method, why)
    }
}

fn ambiguous_error(method: &str, why: &str) -> ErrorObject {
    ErrorObject::new(
        code::INTERNAL_ERROR,
        format!("Manifold cannot tell which client `{method}` is meant for: {why}"),
    )
}

fn rewrite_param(
    n: &Notification,
    key: &str,
    f: impl FnOnce(&str) -> String,
) -> Option<Box<manifold_protocol::RawValue>> {
    let params = n.params.as_deref()?;
    let mut obj = RawObject::parse(params).ok()?;
    let value = obj.get_str(key)?;
    obj.set_str(key, &f(&value));
    Some(obj.to_raw())
}

fn add_logger(n: &Notification, namespace: &str) -> Option<Box<manifold_protocol::RawValue>> {
    let params = n.params.as_deref()?;
    let mut obj = RawObject::parse(params).ok()?;
    obj.set_str("logger", namespace);
    Some(obj.to_raw())
}
