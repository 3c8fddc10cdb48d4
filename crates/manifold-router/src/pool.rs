//! The pool of upstream sessions: every upstream session the gateway runs is one [`Slot`], keyed
//! by (server, scope) — shared by every client, or one downstream session's own — and found by
//! its pool id, which is how its events name it. A slot owns what is tracked per upstream
//! session: its discovered lists, its in-flight requests (the return path), the server→client
//! requests being relayed, and its resource subscriptions.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use dashmap::DashMap;
use manifold_upstream::{Health, Upstream};

use crate::catalog::UpstreamLists;
use crate::relay::Relays;
use crate::return_path::ReturnPath;
use crate::server::Server;
use crate::subscriptions::Subscriptions;

/// Who an upstream session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scope {
    /// Every client of the gateway.
    Shared,
    /// Only the downstream session with this id (`sharing = "per-session"` on HTTP).
    Session(u64),
}

/// One upstream session of one server in one scope.
pub(crate) struct Slot {
    /// Its pool id: the index its upstream events carry.
    pub(crate) id: usize,
    pub(crate) server: Arc<Server>,
    pub(crate) scope: Scope,
    pub(crate) upstream: Upstream,
    /// Its lists as last discovered (`None`: down or not yet discovered).
    lists: Mutex<Option<Arc<UpstreamLists>>>,
    /// Bumped whenever the lists must be fetched again or dropped; a refresh stores its result
    /// only if no newer one started.
    pub(crate) generation: AtomicU64,
    /// Whether it has been up before (a later `Up` is a restart).
    pub(crate) was_up: AtomicBool,
    /// A debounced refresh is scheduled (more `list_changed` meanwhile fold into it).
    pub(crate) refresh_scheduled: AtomicBool,
    /// Its requests in flight, so what it sends back finds its client.
    pub(crate) return_path: ReturnPath,
    /// The server→client requests it sent that are being relayed.
    pub(crate) relays: Relays,
    /// Its resource subscriptions and who holds them.
    pub(crate) subscriptions: Subscriptions,
}

impl Slot {
    pub(crate) fn new(id: usize, server: Arc<Server>, scope: Scope, upstream: Upstream) -> Slot {
        Slot {
            id,
            server,
            scope,
            upstream,
            lists: Mutex::new(None),
            generation: AtomicU64::new(0),
            was_up: AtomicBool::new(false),
            refresh_scheduled: AtomicBool::new(false),
            return_path: ReturnPath::default(),
            relays: Relays::default(),
            subscriptions: Subscriptions::default(),
        }
    }

    pub(crate) fn alias(&self) -> &str {
        self.upstream.alias()
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.upstream.health(), Health::Up(_))
    }

    /// Its lists as last discovered.
    pub(crate) fn lists(&self) -> Option<Arc<UpstreamLists>> {
        self.lists.lock().clone()
    }

    pub(crate) fn set_lists(&self, lists: Option<Arc<UpstreamLists>>) {
        *self.lists.lock() = lists;
    }

    /// Up with its lists discovered, or down: nothing more to wait for at startup.
    pub(crate) fn settled(&self) -> bool {
        match self.upstream.health() {
            Health::Up(_) => self.lists.lock().is_some(),
            Health::Starting => false,
            Health::Down { .. } | Health::Stopped => true,
        }
    }

    /// Starts a new generation of its lists and returns it.
    pub(crate) fn next_generation(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// Every upstream session of the gateway, by pool id.
#[derive(Default)]
pub(crate) struct Pool {
    slots: DashMap<usize, Arc<Slot>>,
    next_id: AtomicUsize,
}

impl Pool {
    /// A fresh pool id.
    pub(crate) fn next_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn insert(&self, slot: Arc<Slot>) {
        self.slots.insert(slot.id, slot);
    }

    /// The slot with this pool id, while it is in the pool.
    pub(crate) fn get(&self, id: usize) -> Option<Arc<Slot>> {
        self.slots.get(&id).map(|s| s.clone())
    }

    pub(crate) fn remove(&self, id: usize) {
        self.slots.remove(&id);
    }

    /// Every slot (for shutdown).
    pub(crate) fn all(&self) -> Vec<Arc<Slot>> {
        self.slots.iter().map(|s| s.clone()).collect()
    }
}
