//! `subscriptions/listen` (2026-07-28, mcp-spec.md §5.3): a modern client's long-lived request for
//! list changes and resource updates. It is acknowledged first with what is honoured, then gets
//! `list_changed` and `notifications/resources/updated` (namespaced URIs) tagged with its
//! `subscriptionId` — its own request id — on its own stream, until the client ends it (closes
//! the stream, or cancels it on stdio). Resource updates come from the same reference-counted
//! upstream subscriptions as legacy `resources/subscribe`, with the listen stream as subscriber.

use std::sync::Arc;

use manifold_policy::ItemKind;
use manifold_protocol::modern::SUBSCRIPTION_ID;
use manifold_protocol::{encode_notification, method, Id, RawObject, RawValue};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::Kind;
use crate::downstream::Sink;
use crate::error::RouteError;
use crate::gateway::Gateway;
use crate::pool::Slot;
use crate::routed::allowed;
use crate::session::Caller;
use crate::subscriptions::{self, Subscriber};

/// One listen stream.
pub(crate) struct Listener {
    /// Its key among subscribers (drawn from the session id counter: unique among both).
    key: u64,
    /// Its request id as JSON: the `subscriptionId` of everything it is sent.
    subscription_id: Box<RawValue>,
    /// Which `list_changed` it asked for: tools, prompts, resources.
    lists: [bool; 3],
    /// Its stream.
    sink: Sink,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Wanted {
    #[serde(default)]
    tools_list_changed: bool,
    #[serde(default)]
    prompts_list_changed: bool,
    #[serde(default)]
    resources_list_changed: bool,
    #[serde(default)]
    resource_subscriptions: Vec<String>,
}

impl Listener {
    /// Its key among subscribers.
    pub(crate) fn key(&self) -> u64 {
        self.key
    }

    /// Whether it asked for `kind`'s `list_changed`.
    pub(crate) fn wants(&self, kind: Kind) -> bool {
        match kind {
            Kind::Tools => self.lists[0],
            Kind::Prompts => self.lists[1],
            Kind::Resources | Kind::Templates => self.lists[2],
        }
    }

    /// Sends it `method` with `params` (an object, or none), tagged with its subscription id in
    /// `_meta` (kept with whatever else `_meta` held).
    pub(crate) async fn notify(&self, gateway: &Gateway, method: &str, params: Option<&RawValue>) {
        let mut object = params
            .and_then(|p| RawObject::parse(p).ok())
            .unwrap_or_default();
        let tagged = {
            let mut meta = object
                .get("_meta")
                .and_then(|m| RawObject::parse(m).ok())
                .unwrap_or_default();
            meta.set(SUBSCRIPTION_ID, self.subscription_id.clone());
            meta.to_raw()
        };
        object.set("_meta", tagged);
        gateway.count_notification(method);
        let text = encode_notification(method, Some(&object.to_raw()));
        // A full stream loses the notification rather than stall the gateway (as on HTTP).
        if self.sink.try_send(text).is_err() {
            tracing::debug!(%method, "listen stream full or gone; notification dropped");
        }
    }
}

/// Serves one `subscriptions/listen` until it is ended (its future is dropped): subscribes to
/// the resources it names that exist, are visible and can be subscribed to, acknowledges what is
/// honoured, then waits. Dropping it unsubscribes what it subscribed.
pub(crate) async fn listen(
    caller: &Caller<'_>,
    id: &Id,
    params: Option<&RawValue>,
) -> Result<Box<RawValue>, RouteError> {
    let session = caller.session;
    let wanted: Wanted = match params
        .and_then(|p| RawObject::parse(p).ok())
        .and_then(|p| p.get("notifications").map(|n| n.to_owned()))
    {
        Some(raw) => serde_json::from_str(raw.get()).map_err(|_| {
            RouteError::invalid_params(
                "params.notifications must be an object of flags and a list of URIs",
            )
        })?,
        None => Wanted::default(),
    };
    let subscription_id =
        serde_json::value::to_raw_value(id).map_err(|e| RouteError::Internal(e.to_string()))?;
    let gateway = session.gateway().clone();
    let listener = Arc::new(Listener {
        key: gateway.next_session_id(),
        subscription_id,
        lists: [
            wanted.tools_list_changed,
            wanted.prompts_list_changed,
            wanted.resources_list_changed,
        ],
        sink: caller.sink.clone(),
    });
    let mut stream = Stream {
        gateway: gateway.clone(),
        listener: listener.clone(),
        session: session.clone(),
        subscribed: Vec::new(),
    };
    let mut honoured = Vec::new();
    for uri in &wanted.resource_subscriptions {
        if let Some(slot) = subscribe(caller, &listener, uri).await {
            stream.subscribed.push(slot);
            honoured.push(uri.clone());
        }
    }
    session.add_listener(listener.clone());
    let mut ack = serde_json::Map::new();
    for (flag, name) in [
        (wanted.tools_list_changed, "toolsListChanged"),
        (wanted.prompts_list_changed, "promptsListChanged"),
        (wanted.resources_list_changed, "resourcesListChanged"),
    ] {
        if flag {
            ack.insert(name.to_string(), Value::Bool(true));
        }
    }
    if !wanted.resource_subscriptions.is_empty() {
        ack.insert("resourceSubscriptions".to_string(), json!(honoured));
    }
    let params = serde_json::value::to_raw_value(&json!({ "notifications": ack }))
        .map_err(|e| RouteError::Internal(e.to_string()))?;
    listener
        .notify(&gateway, method::SUBSCRIPTIONS_ACKNOWLEDGED, Some(&params))
        .await;
    // Held until the client ends it: `stream`'s drop, with this future's, undoes what it set up.
    let _stream = stream;
    std::future::pending().await
}

/// Subscribes `listener` to `uri` (namespaced) on the upstream that owns it: the slot, when the
/// upstream took the subscription.
async fn subscribe(caller: &Caller<'_>, listener: &Arc<Listener>, uri: &str) -> Option<Arc<Slot>> {
    let session = caller.session;
    allowed(&session.view(), ItemKind::Resource, uri).ok()?;
    let upstreams = session.upstreams();
    let (index, original) = upstreams.resolve_uri(uri).ok()?;
    let slot = upstreams.resolved(index).ok()?.clone();
    let who = Subscriber::Listener(Arc::downgrade(listener));
    match subscriptions::change(&slot, listener.key, who, &original, true).await {
        Ok(_) => Some(slot),
        Err(e) => {
            tracing::debug!(%uri, error = %e, "listen: the upstream refused the subscription");
            None
        }
    }
}

/// What a listen set up, undone when it ends.
struct Stream {
    gateway: Gateway,
    listener: Arc<Listener>,
    session: crate::session::Session,
    subscribed: Vec<Arc<Slot>>,
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.session.remove_listener(self.listener.key);
        let key = self.listener.key;
        let slots = std::mem::take(&mut self.subscribed);
        if slots.is_empty() {
            return;
        }
        self.gateway.spawn(async move {
            for slot in slots {
                subscriptions::forget(&slot, key).await;
            }
        });
    }
}
