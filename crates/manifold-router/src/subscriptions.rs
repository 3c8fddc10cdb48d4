//! Resource subscriptions, reference-counted across subscribers: one upstream subscription per
//! (upstream, URI) however many subscribed — legacy sessions (`resources/subscribe`) and modern
//! clients' `subscriptions/listen` streams alike; `notifications/resources/updated` goes to
//! exactly those, with the namespaced URI; a restarted upstream is subscribed again. Each
//! upstream session (a [`Slot`]) keeps its own.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::{Arc, Weak};

use manifold_protocol::{method, RawObject, RawValue};

use crate::listen::Listener;
use crate::pool::Slot;
use crate::session::{Session, SessionInner};

/// Who subscribed: a legacy session, or one modern client's listen stream.
#[derive(Clone)]
pub(crate) enum Subscriber {
    Session(Weak<SessionInner>),
    Listener(Weak<Listener>),
}

/// A subscriber that is still there, to be told of an update.
pub(crate) enum Live {
    Session(Session),
    Listener(Arc<Listener>),
}

impl Subscriber {
    /// `session`, as a subscriber.
    pub(crate) fn session(session: &Session) -> Subscriber {
        Subscriber::Session(Arc::downgrade(&session.inner))
    }

    fn alive(&self) -> bool {
        match self {
            Subscriber::Session(s) => s.strong_count() > 0,
            Subscriber::Listener(l) => l.strong_count() > 0,
        }
    }

    fn upgrade(&self) -> Option<Live> {
        match self {
            Subscriber::Session(s) => s.upgrade().map(|inner| Live::Session(Session { inner })),
            Subscriber::Listener(l) => l.upgrade().map(Live::Listener),
        }
    }
}

/// One subscribed (upstream, URI): who is subscribed, and whether the upstream is.
#[derive(Default)]
struct Topic {
    /// Held while the upstream is asked to subscribe or unsubscribe, so that a second
    /// subscriber waits for the first one's answer instead of being told `Ok` before it; the
    /// value says whether the upstream holds the subscription.
    upstream: tokio::sync::Mutex<bool>,
    /// By key: a session's id, or a listener's (both drawn from one counter).
    sessions: Mutex<HashMap<u64, Subscriber>>,
}

impl Topic {}

/// Upstream URI → its topic.
type Table = HashMap<String, Arc<Topic>>;

/// The subscriptions of one upstream session.
#[derive(Default)]
pub(crate) struct Subscriptions {
    table: Mutex<Table>,
}

type Outcome = Result<Box<RawValue>, crate::error::RouteError>;

fn params_for(uri: &str) -> Box<RawValue> {
    let mut obj = RawObject::default();
    obj.set_str("uri", uri);
    obj.to_raw()
}

impl Subscriptions {
    /// The topic of `key`, made if there is none.
    fn topic(&self, key: &str) -> Arc<Topic> {
        self.table
            .lock()
            .entry(key.to_string())
            .or_default()
            .clone()
    }

    /// Whether `topic` is still the one the table holds for `key` (it is dropped from the table
    /// when its last subscriber leaves).
    fn is_current(&self, key: &str, topic: &Arc<Topic>) -> bool {
        self.table
            .lock()
            .get(key)
            .is_some_and(|t| Arc::ptr_eq(t, topic))
    }

    /// Drops `key`'s topic if it is `topic` and nobody is subscribed to it.
    fn drop_if_empty(&self, key: &str, topic: &Arc<Topic>) {
        let mut table = self.table.lock();
        if table.get(key).is_some_and(|t| Arc::ptr_eq(t, topic)) && topic.sessions.lock().is_empty()
        {
            table.remove(key);
        }
    }

    /// Who is subscribed to `uri` (exactly, or to a resource it is part of).
    pub(crate) fn subscribers(&self, uri: &str) -> Vec<Live> {
        let topics: Vec<Arc<Topic>> = self
            .table
            .lock()
            .iter()
            .filter(|(u, _)| *u == uri || uri.starts_with(u.as_str()))
            .map(|(_, topic)| topic.clone())
            .collect();
        topics
            .iter()
            .flat_map(|topic| {
                topic
                    .sessions
                    .lock()
                    .values()
                    .filter_map(Subscriber::upgrade)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Every URI with subscribers (to subscribe again after a restart).
    fn uris(&self) -> Vec<String> {
        self.table.lock().keys().cloned().collect()
    }
}

/// `resources/subscribe` (`on`) or `unsubscribe` for subscriber `who` under `id` on `slot`:
/// upstream only on the first subscriber and after the last. Requests for one URI take turns
/// while the upstream is asked, so every subscriber's answer is the upstream's: a refusal
/// reaches each of them.
pub(crate) async fn change(slot: &Slot, id: u64, who: Subscriber, uri: &str, on: bool) -> Outcome {
    let table = &slot.subscriptions;
    let params = params_for(uri);
    let request = |m: &'static str| {
        slot.upstream
            .request(m, Some(&params), Some(slot.server.policy.timeout(m)))
    };
    loop {
        let topic = table.topic(uri);
        let mut subscribed = topic.upstream.lock().await;
        if !table.is_current(uri, &topic) {
            // Emptied and dropped while this request waited its turn: start again.
            continue;
        }
        if on {
            if !*subscribed {
                if let Err(e) = request(method::RESOURCES_SUBSCRIBE).await {
                    drop(subscribed);
                    table.drop_if_empty(uri, &topic);
                    return Err(e.into());
                }
                *subscribed = true;
            }
            let mut sessions = topic.sessions.lock();
            sessions.retain(|_, s| s.alive());
            sessions.insert(id, who);
            return Ok(manifold_protocol::object::empty_object());
        }
        let emptied = {
            let mut sessions = topic.sessions.lock();
            let removed = sessions.remove(&id).is_some();
            sessions.retain(|_, s| s.alive());
            removed && sessions.is_empty()
        };
        let outcome = if emptied && *subscribed {
            *subscribed = false;
            request(method::RESOURCES_UNSUBSCRIBE).await
        } else {
            Ok(manifold_protocol::object::empty_object())
        };
        drop(subscribed);
        table.drop_if_empty(uri, &topic);
        return outcome.map_err(crate::error::RouteError::from);
    }
}

/// A session (or a listen stream) ended: drop its subscriptions on `slot`, unsubscribing upstream where it was the
/// last subscriber.
pub(crate) async fn forget(slot: &Slot, id: u64) {
    let table = &slot.subscriptions;
    let topics: Vec<(String, Arc<Topic>)> = table
        .table
        .lock()
        .iter()
        .filter(|(_, topic)| topic.sessions.lock().contains_key(&id))
        .map(|(key, topic)| (key.clone(), topic.clone()))
        .collect();
    for (uri, topic) in topics {
        let mut subscribed = topic.upstream.lock().await;
        let emptied = {
            let mut sessions = topic.sessions.lock();
            sessions.remove(&id);
            sessions.retain(|_, s| s.alive());
            sessions.is_empty()
        };
        if emptied && *subscribed {
            *subscribed = false;
            let _ = slot
                .upstream
                .request(
                    method::RESOURCES_UNSUBSCRIBE,
                    Some(&params_for(&uri)),
                    Some(slot.server.policy.timeout(method::RESOURCES_UNSUBSCRIBE)),
                )
                .await;
        }
        drop(subscribed);
        table.drop_if_empty(&uri, &topic);
    }
}

/// After `slot`'s upstream came back up: subscribe again to what its subscribers still want.
pub(crate) async fn resubscribe(slot: &Slot) {
    for uri in slot.subscriptions.uris() {
        if let Err(e) = slot
            .upstream
            .request(
                method::RESOURCES_SUBSCRIBE,
                Some(&params_for(&uri)),
                Some(slot.server.policy.timeout(method::RESOURCES_SUBSCRIBE)),
            )
            .await
        {
            tracing::warn!(server = slot.alias(), %uri, error = %e, "re-subscribing after restart failed");
        }
    }
}
