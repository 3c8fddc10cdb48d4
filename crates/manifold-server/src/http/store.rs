//! The HTTP face's sessions: secure ids, the queue of server-initiated messages each session's
//! GET streams drain, last use for idle expiry, and the tasks serving their requests (owned:
//! cancelled and awaited at shutdown).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use manifold_protocol::Id;
use tokio::task::AbortHandle;

use dashmap::DashMap;
use manifold_router::Gateway;
use manifold_router::{Face, Session};

use crate::background::Background;

/// One HTTP session.
pub(crate) struct HttpSession {
    pub(crate) session: Session,
    /// Server-initiated messages for this session; each goes to exactly one GET stream (they
    /// wait on it together, none holding anything the others need).
    pub(crate) outbox: manifold_router::downstream::SharedSinkReceiver,
    /// Its GET streams and their replay buffers.
    pub(crate) streams: super::replay::Streams,
    /// Requests being served, so a client's `notifications/cancelled` can stop them.
    pub(crate) in_flight: Mutex<HashMap<Id, AbortHandle>>,
    /// Where its request tasks run: the face's, so shutdown ends them.
    pub(crate) tasks: Background,
    last_used: Mutex<Instant>,
}

impl HttpSession {
    /// Closes the session (the gateway ends its own upstream sessions in the background).
    fn end(&self) {
        // Whatever it still has in flight is cancelled upstream (each task's drop does it).
        for (_, task) in self.in_flight.lock().drain() {
            task.abort();
        }
        self.session.close();
    }

    pub(crate) fn touch(&self) {
        *self.last_used.lock() = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().elapsed()
    }
}

/// All sessions of the HTTP face, by `Mcp-Session-Id`: sharded, so looking up one session on
/// every request takes no process-wide lock.
#[derive(Default)]
pub(crate) struct Store {
    sessions: DashMap<String, Arc<HttpSession>>,
    /// What carries each principal's 2026-07-28 requests, which have no session: a session
    /// that is never initialized and never sent anything of its own (the router serves only
    /// request-scoped messages to a modern client), holding the principal's own upstream
    /// sessions of the per-session servers.
    stateless: DashMap<Arc<str>, Arc<HttpSession>>,
    /// The tasks serving requests of every session.
    tasks: Background,
}

impl Store {
    /// Opens a session with a fresh id on `gateway` (with upstream sessions of its own for the
    /// per-session servers, if there are any).
    pub(crate) fn create(
        &self,
        gateway: &Gateway,
        queue: (usize, usize),
        principal: Arc<str>,
    ) -> std::io::Result<(String, Arc<HttpSession>)> {
        let id = new_session_id()?;
        let entry = self.open(gateway, queue, principal);
        self.sessions.insert(id.clone(), entry.clone());
        Ok((id, entry))
    }

    /// The session that carries `principal`'s 2026-07-28 requests, opened at its first one.
    pub(crate) fn stateless(
        &self,
        gateway: &Gateway,
        queue: (usize, usize),
        principal: &Arc<str>,
    ) -> std::io::Result<Arc<HttpSession>> {
        if let Some(carrier) = self.stateless.get(principal) {
            return Ok(carrier.value().clone());
        }
        let carrier = self
            .stateless
            .entry(principal.clone())
            .or_insert_with(|| self.open(gateway, queue, principal.clone()));
        Ok(carrier.value().clone())
    }

    fn open(
        &self,
        gateway: &Gateway,
        queue: (usize, usize),
        principal: Arc<str>,
    ) -> Arc<HttpSession> {
        let (tx, rx) = manifold_router::downstream::shared_sink(queue.0, queue.1);
        Arc::new(HttpSession {
            session: Session::open_as(gateway, tx, Face::Http, principal),
            outbox: rx,
            streams: Default::default(),
            in_flight: Mutex::new(HashMap::new()),
            tasks: self.tasks.clone(),
            last_used: Mutex::new(Instant::now()),
        })
    }

    /// Every open session.
    pub(crate) fn all(&self) -> Vec<Arc<HttpSession>> {
        self.sessions.iter().map(|e| e.value().clone()).collect()
    }

    /// The session with this id. Looking it up is not activity: the caller touches it once the
    /// request is known to be its owner's ([`HttpSession::touch`]).
    pub(crate) fn get(&self, id: &str) -> Option<Arc<HttpSession>> {
        self.sessions.get(id).map(|e| e.value().clone())
    }

    /// Ends a session; `false` if there was none.
    pub(crate) fn remove(&self, id: &str) -> bool {
        // The shard's guard is gone once `remove` returns: ending runs unlocked.
        match self.sessions.remove(id) {
            Some((_, entry)) => {
                entry.end();
                true
            }
            None => false,
        }
    }

    /// Ends every session idle longer than `limit`; returns how many.
    pub(crate) fn expire(&self, limit: Duration) -> usize {
        let expired: Vec<String> = self
            .sessions
            .iter()
            .filter(|e| e.value().idle_for() > limit)
            .map(|e| e.key().clone())
            .collect();
        expired.iter().filter(|id| self.remove(id)).count()
    }

    /// Ends every session, then cancels whatever request tasks are left and waits for them.
    pub(crate) async fn shutdown(&self) {
        let ids: Vec<String> = self.sessions.iter().map(|e| e.key().clone()).collect();
        for id in &ids {
            self.remove(id);
        }
        let principals: Vec<Arc<str>> = self.stateless.iter().map(|e| e.key().clone()).collect();
        for principal in principals {
            if let Some((_, carrier)) = self.stateless.remove(&principal) {
                carrier.end();
            }
        }
        self.tasks.shutdown().await;
    }

    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }
}

/// 128 bits from the OS CSPRNG as 32 hex characters (visible ASCII, as the spec requires).
fn new_session_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
