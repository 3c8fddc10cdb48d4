//! What happens when an upstream speaks on its own: it comes up or goes down (catalog refresh and
//! `list_changed`), or sends a notification (refresh, subscription update, or relay with names
//! rewritten). Its server→client requests go to `relay`, its progress to `progress`. One loop
//! per gateway handles the events of every upstream session, each naming its slot by pool id.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use manifold_protocol::{method, Notification, RawObject};
use manifold_upstream::{Health, UpstreamEvent};

use crate::catalog::{Kind, UpstreamLists};
use crate::discovery::fetch_all;
use crate::gateway::Gateway;
use crate::naming::downstream_uri;
use crate::pool::{Scope, Slot};
use crate::return_path::Owner;
use crate::subscriptions::Live;

/// How long a burst of `list_changed` from one upstream is gathered into one refresh.
const LIST_CHANGED_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(20);

/// The gateway's event loop: every event of every upstream session, in the order they came.
pub(crate) async fn run(
    gateway: Gateway,
    mut events: manifold_transport::queue::QueueReceiver<UpstreamEvent>,
) {
    while let Some(event) = events.recv().await {
        let (id, event) = match event {
            UpstreamEvent::Up(id) => (id, Event::Up),
            UpstreamEvent::Down(id) => (id, Event::Down),
            UpstreamEvent::Notification(id, n) => (id, Event::Notification(n)),
            UpstreamEvent::Request(id, r) => (id, Event::Request(r)),
        };
        // A slot already gone (its session ended) has nothing left to tell anyone.
        let Some(slot) = gateway.slot(id) else {
            continue;
        };
        match event {
            Event::Up => {
                let metrics = gateway.metrics();
                metrics
                    .upstream_up
                    .with_label_values(&[slot.alias()])
                    .set(1);
                if slot.was_up.swap(true, Ordering::Relaxed) {
                    metrics
                        .upstream_restarts
                        .with_label_values(&[slot.alias()])
                        .inc();
                    let slot = slot.clone();
                    gateway.spawn(async move { crate::subscriptions::resubscribe(&slot).await });
                }
                gateway.spawn(refresh(gateway.clone(), slot));
            }
            Event::Down => {
                gateway
                    .metrics()
                    .upstream_up
                    .with_label_values(&[slot.alias()])
                    .set(0);
                slot.next_generation();
                publish(&gateway, &slot, None).await;
            }
            Event::Notification(n) => on_notification(&gateway, &slot, n).await,
            Event::Request(r) => crate::relay::relay(&gateway, slot, r),
        }
    }
}

/// An upstream event, once its slot is found.
enum Event {
    Up,
    Down,
    Notification(Notification),
    Request(manifold_protocol::Request),
}

/// Schedules one refresh of `slot` shortly; notifications arriving meanwhile are folded into it
/// (debounced and coalesced).
fn refresh_soon(gateway: &Gateway, slot: &Arc<Slot>) {
    if slot.refresh_scheduled.swap(true, Ordering::AcqRel) {
        return;
    }
    let (task_gateway, slot) = (gateway.clone(), slot.clone());
    gateway.spawn(async move {
        tokio::time::sleep(LIST_CHANGED_DEBOUNCE).await;
        slot.refresh_scheduled.store(false, Ordering::Release);
        refresh(task_gateway, slot).await;
    });
}

/// Fetches every list of `slot` again and republishes the catalogs that include it.
async fn refresh(gateway: Gateway, slot: Arc<Slot>) {
    let generation = slot.next_generation();
    let Health::Up(info) = slot.upstream.health() else {
        return;
    };
    let mut lists = UpstreamLists::default();
    let mut ttl_ms: Option<u64> = None;
    for kind in Kind::ALL {
        if !info.has(kind.capability()) {
            continue;
        }
        match fetch_all(&slot.upstream, kind, slot.server.filter(kind)).await {
            Ok(fetched) => {
                lists.items[kind.index()] = fetched.items;
                ttl_ms = match (ttl_ms, fetched.ttl_ms) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            Err(e) => {
                tracing::warn!(server = slot.alias(), list = kind.method(), error = %e, "discovery failed");
            }
        }
    }
    if slot.generation.load(Ordering::SeqCst) != generation {
        return; // a newer refresh (or a Down) superseded this one
    }
    tracing::debug!(server = slot.alias(), ?ttl_ms, "catalog refreshed");
    publish(&gateway, &slot, Some(Arc::new(lists))).await;
    if let Some(ttl) = ttl_ms {
        refresh_when_stale(&gateway, slot, generation, ttl);
    }
}

/// The shortest time between two refreshes an upstream's `ttlMs` can ask for.
const MIN_TTL_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Refreshes `slot` again once the lists it gave with `ttl` ms to live expire, unless another
/// refresh (which sets its own expiry) or a restart came first.
fn refresh_when_stale(gateway: &Gateway, slot: Arc<Slot>, generation: u64, ttl: u64) {
    let wait = std::time::Duration::from_millis(ttl).max(MIN_TTL_REFRESH);
    let task_gateway = gateway.clone();
    let id = slot.id;
    // Held weakly: a slot whose session ended meanwhile is not refreshed.
    let slot = Arc::downgrade(&slot);
    gateway.spawn(async move {
        tokio::time::sleep(wait).await;
        let Some(slot) = slot.upgrade().filter(|_| task_gateway.slot(id).is_some()) else {
            return;
        };
        if slot.generation.load(Ordering::SeqCst) == generation {
            refresh_soon(&task_gateway, &slot);
        }
    });
}

/// Stores `slot`'s lists (`None`: it is down), rebuilds the catalog of every set that includes
/// it, and tells each of those sets' sessions what changed.
async fn publish(gateway: &Gateway, slot: &Slot, lists: Option<Arc<UpstreamLists>>) {
    slot.set_lists(lists);
    match slot.scope {
        Scope::Shared => {
            let shared = &gateway.shared.shared;
            let changed = shared.rebuild();
            for session in gateway.sessions() {
                let set = session.upstreams();
                if Arc::ptr_eq(set, shared) {
                    session.announce(&changed).await;
                } else {
                    session.announce(&set.rebuild()).await;
                }
            }
        }
        Scope::Session(id) => {
            if let Some(session) = gateway.session(id) {
                session.announce(&session.upstreams().rebuild()).await;
            }
        }
    }
}

async fn on_notification(gateway: &Gateway, slot: &Arc<Slot>, n: Notification) {
    let namespace = &slot.server.namespace;
    let params = match n.method.as_str() {
        method::TOOLS_LIST_CHANGED
        | method::PROMPTS_LIST_CHANGED
        | method::RESOURCES_LIST_CHANGED => {
            refresh_soon(gateway, slot);
            return;
        }
        method::CANCELLED => {
            crate::relay::cancelled(gateway, slot, n.params.as_deref()).await;
            return;
        }
        // A modern upstream acknowledging the listen Manifold keeps open with it.
        method::SUBSCRIPTIONS_ACKNOWLEDGED => return,
        method::RESOURCES_UPDATED => {
            updated(gateway, slot, &n).await;
            return;
        }
        method::MESSAGE => log_params(&n, namespace),
        _ => None,
    };
    // Log messages and the rest belong to the client whose requests are in flight there (or
    // the only client); with several candidates they are not delivered rather than guessed.
    let session = match slot.return_path.owner() {
        // A modern client's call: its log messages were handled on the connection
        // (`progress::inline`); nothing else is its business.
        Owner::One(route) if route.input.is_some() => return,
        Owner::One(route) => route.session.clone(),
        Owner::Nobody => match gateway.sole_client(slot) {
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
async fn updated(gateway: &Gateway, slot: &Slot, n: &Notification) {
    let Some(params) = n.params.as_deref() else {
        return;
    };
    let Ok(mut obj) = RawObject::parse(params) else {
        return;
    };
    let Some(uri) = obj.get_str("uri") else {
        return;
    };
    let subscribers = slot.subscriptions.subscribers(&uri);
    if subscribers.is_empty() {
        tracing::debug!(%uri, "update for a resource nobody subscribed to; dropped");
        return;
    }
    obj.set_str("uri", &downstream_uri(&slot.server.namespace, &uri));
    let params = obj.to_raw();
    for subscriber in subscribers {
        match subscriber {
            Live::Session(session) => {
                session
                    .notify(method::RESOURCES_UPDATED, Some(&params))
                    .await
            }
            Live::Listener(listener) => {
                listener
                    .notify(gateway, method::RESOURCES_UPDATED, Some(&params))
                    .await
            }
        }
    }
}

/// A log message's params with its `logger` under the server's namespace (`None`: unchanged).
pub(crate) fn log_params(
    n: &Notification,
    namespace: &str,
) -> Option<Box<manifold_protocol::RawValue>> {
    if namespace.is_empty() {
        return None;
    }
    rewrite_param(n, "logger", |logger| format!("{namespace}/{logger}"))
        .or_else(|| add_logger(n, namespace))
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
