//! Resource subscriptions, reference-counted across sessions: one upstream subscription per
//! (upstream, URI) however many sessions subscribed; `notifications/resources/updated` goes to
//! exactly those sessions, with the namespaced URI; a restarted upstream is subscribed again.
//! Kept by the gateway that runs the upstream (for a borrowed one, the shared gateway).

use std::collections::HashMap;
use std::sync::{Mutex, Weak};

use manifold_protocol::{method, RawObject, RawValue};

use crate::gateway::Gateway;
use crate::session::{Session, SessionInner};

/// (upstream index, upstream URI) → subscribed sessions, by id.
type Table = HashMap<(usize, String), HashMap<u64, Weak<SessionInner>>>;

/// The subscriptions of the upstreams one gateway runs.
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
    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The sessions subscribed to `uri` on `upstream` (exactly, or to a resource it is part of).
    pub(crate) fn subscribers(&self, upstream: usize, uri: &str) -> Vec<Session> {
        let table = self.lock();
        table
            .iter()
            .filter(|((i, u), _)| *i == upstream && (u == uri || uri.starts_with(u.as_str())))
            .flat_map(|(_, sessions)| sessions.values().filter_map(Weak::upgrade))
            .map(|inner| Session { inner })
            .collect()
    }

    /// Every URI subscribed on `upstream` (to subscribe again after a restart).
    pub(crate) fn uris(&self, upstream: usize) -> Vec<String> {
        self.lock()
            .keys()
            .filter(|(i, _)| *i == upstream)
            .map(|(_, u)| u.clone())
            .collect()
    }
}

impl Gateway {
    /// `resources/subscribe` (`on`) or `unsubscribe` for `session`: upstream only on the first
    /// subscriber and after the last.
    pub(crate) async fn subscription(
        &self,
        session: &Session,
        index: usize,
        uri: &str,
        on: bool,
    ) -> Outcome {
        let (owner, j) = self.shared.slots[index].owner(self, index);
        let key = (j, uri.to_string());
        let id = session.inner.id;
        let first_or_last = {
            let mut table = owner.shared.subscriptions.lock();
            if on {
                let entry = table.entry(key.clone()).or_default();
                entry.retain(|_, s| s.strong_count() > 0);
                let first = entry.is_empty();
                entry.insert(id, std::sync::Arc::downgrade(&session.inner));
                first
            } else {
                let last = match table.get_mut(&key) {
                    Some(entry) => {
                        let removed = entry.remove(&id).is_some();
                        entry.retain(|_, s| s.strong_count() > 0);
                        removed && entry.is_empty()
                    }
                    None => false,
                };
                if last {
                    table.remove(&key);
                }
                last
            }
        };
        if !first_or_last {
            return Ok(manifold_protocol::object::empty_object());
        }
        let slot = &owner.shared.slots[j];
        let m = if on {
            method::RESOURCES_SUBSCRIBE
        } else {
            method::RESOURCES_UNSUBSCRIBE
        };
        let outcome = slot
            .upstream
            .request(m, Some(&params_for(uri)), Some(slot.policy.timeout(m)))
            .await;
        if outcome.is_err() && on {
            // The upstream refused: this session is not subscribed after all.
            let mut table = owner.shared.subscriptions.lock();
            if let Some(entry) = table.get_mut(&key) {
                entry.remove(&id);
                if entry.is_empty() {
                    table.remove(&key);
                }
            }
        }
        outcome.map_err(crate::error::RouteError::from)
    }

    /// A session ended: drop its subscriptions, unsubscribing upstream where it was the last.
    pub(crate) async fn forget_subscriber(&self, id: u64) {
        let emptied: Vec<(usize, String)> = {
            let mut table = self.shared.subscriptions.lock();
            let mut emptied = Vec::new();
            table.retain(|key, sessions| {
                sessions.remove(&id);
                sessions.retain(|_, s| s.strong_count() > 0);
                let keep = !sessions.is_empty();
                if !keep {
                    emptied.push(key.clone());
                }
                keep
            });
            emptied
        };
        for (j, uri) in emptied {
            let slot = &self.shared.slots[j];
            let _ = slot
                .upstream
                .request(
                    method::RESOURCES_UNSUBSCRIBE,
                    Some(&params_for(&uri)),
                    Some(slot.policy.timeout(method::RESOURCES_UNSUBSCRIBE)),
                )
                .await;
        }
    }

    /// A session ended: forget its subscriptions here and in every gateway it borrowed from.
    pub(crate) async fn forget_everywhere(&self, id: u64) {
        self.forget_subscriber(id).await;
        let mut lenders: Vec<Gateway> = Vec::new();
        for (i, slot) in self.shared.slots.iter().enumerate() {
            let (owner, _) = slot.owner(self, i);
            let known = std::sync::Arc::ptr_eq(&owner.shared, &self.shared)
                || lenders
                    .iter()
                    .any(|l| std::sync::Arc::ptr_eq(&l.shared, &owner.shared));
            if !known {
                lenders.push(owner);
            }
        }
        for lender in lenders {
            lender.forget_subscriber(id).await;
        }
    }

    /// After `index` came back up: subscribe again to what its subscribers still want.
    pub(crate) async fn resubscribe(&self, index: usize) {
        let slot = &self.shared.slots[index];
        for uri in self.shared.subscriptions.uris(index) {
            if let Err(e) = slot
                .upstream
                .request(
                    method::RESOURCES_SUBSCRIBE,
                    Some(&params_for(&uri)),
                    Some(slot.policy.timeout(method::RESOURCES_SUBSCRIBE)),
                )
                .await
            {
                tracing::warn!(server = slot.alias(), %uri, error = %e, "re-subscribing after restart failed");
            }
        }
    }
}
