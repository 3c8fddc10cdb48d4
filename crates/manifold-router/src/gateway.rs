//! The [`Gateway`], one per process: the configured servers, the pool of their upstream sessions,
//! the set every client shares (and the own set of each client of per-session servers), the
//! registry of client sessions, and the tasks it runs. Client requests enter through
//! `session` and `dispatch`; what upstreams send on their own through `events`.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use manifold_config::{Config, Sharing};
use manifold_metrics::Metrics;
use manifold_policy::Policy;
use manifold_transport::queue::QueueSender;
use manifold_upstream::{ClientIdentity, Connector, Health, InlineHook, Upstream, UpstreamEvent};
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::catalog::Catalog;
use crate::pool::{Pool, Scope, Slot};
use crate::server::Server;
use crate::session::{Session, SessionInner};
use crate::set::UpstreamSet;

/// Upstream events waiting for the gateway's event loop (and `gateway.upstream_queue_bytes`).
const EVENT_QUEUE: usize = 1024;

/// How many clients the gateway serves, which decides what `sharing = "per-session"` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clients {
    /// One client (the stdio face, the `catalog` command): every server runs once, for it.
    One,
    /// Many clients (the HTTP face): shared servers run once for all of them, per-session
    /// servers once for each [`crate::Face::Http`] session.
    Many,
}

/// Gateway-wide settings taken from `[gateway]`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) separator: String,
    pub(crate) page_size: usize,
    pub(crate) startup_wait: Duration,
}

pub(crate) struct Shared {
    pub(crate) settings: Settings,
    /// Every configured server, in config order.
    servers: Vec<Arc<Server>>,
    /// Every upstream session, by pool id.
    pool: Pool,
    /// The upstream sessions every client shares, and their catalog.
    pub(crate) shared: Arc<UpstreamSet>,
    /// Live client sessions, by id (weak: a session ends when its face drops it).
    sessions: DashMap<u64, Weak<SessionInner>>,
    next_session: AtomicU64,
    pub(crate) metrics: Arc<Metrics>,
    /// Access views, rate limits, validation, audit: one for the whole process.
    pub(crate) policy: Arc<Policy>,
    /// Where upstream sessions report what they send on their own (kept for those started
    /// later, per session).
    events: QueueSender<UpstreamEvent>,
    /// Progress, handled on each upstream connection.
    inline: InlineHook,
    /// Calls parked for a modern client's input, by handle (see [`crate::mrtr`]).
    parked: DashMap<u64, crate::mrtr::Parked>,
    /// Seals and opens the `requestState` of parked calls.
    sealer: crate::request_state::Sealer,
    /// Every task the gateway spawns; shutdown cancels and awaits them.
    tasks: TaskTracker,
    stop: CancellationToken,
}

/// The gateway: cheap to clone, shared by the faces, the sessions and the gateway's own tasks.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
}

impl Gateway {
    /// Starts every upstream of `config` for one client (processes start now; handshakes wait
    /// until an identity is set, by the stdio client's `initialize` or by the face) and the loop
    /// handling their events. An audit file that cannot be opened is reported and auditing goes
    /// to stderr instead.
    pub fn start(config: &Config) -> Gateway {
        let metrics = Arc::new(Metrics::new());
        let policy = match Policy::new(config, metrics.clone()) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "cannot open the audit log; auditing to stderr");
                let mut fallback = config.clone();
                fallback.audit.file = None;
                Policy::new(&fallback, metrics.clone()).expect("stderr needs no opening")
            }
        };
        Self::start_with(config, metrics, Arc::new(policy), Clients::One)
    }

    /// [`Gateway::start`] for `clients`, counting into `metrics` and applying `policy`.
    pub fn start_with(
        config: &Config,
        metrics: Arc<Metrics>,
        policy: Arc<Policy>,
        clients: Clients,
    ) -> Gateway {
        Self::start_in_process(config, metrics, policy, clients, &BTreeMap::new())
    }

    /// [`Gateway::start_with`], except that each server whose alias is a key of `in_process`
    /// is reached through that connector (a peer in this process) instead of its configured
    /// transport; everything else about it (namespace, filters, timeouts, policy, restarts)
    /// still comes from `config`. For embedding Manifold next to servers of the same process,
    /// and for tests that give the router a real peer without a process or a socket.
    pub fn start_in_process(
        config: &Config,
        metrics: Arc<Metrics>,
        policy: Arc<Policy>,
        clients: Clients,
        in_process: &BTreeMap<String, Connector>,
    ) -> Gateway {
        let g = &config.gateway;
        let settings = Settings {
            name: g.name.clone(),
            separator: g.separator.clone(),
            page_size: g.page_size,
            startup_wait: g.startup_wait,
        };
        // What upstreams send on their own waits here for the event loop, bounded in bytes too.
        let (events, events_rx) =
            manifold_transport::queue::queue(EVENT_QUEUE, g.upstream_queue_bytes);
        let servers = Server::all(config, &policy, in_process);
        let shared = Arc::new_cyclic(|this: &Weak<Shared>| {
            // Progress is delivered by the upstream connection itself, in order with the
            // responses it precedes.
            let inline: InlineHook = {
                let this = this.clone();
                Arc::new(move |id, n| match this.upgrade() {
                    Some(shared) => crate::progress::inline(&Gateway { shared }, id, n),
                    None => manifold_upstream::Inline::Done,
                })
            };
            let pool = Pool::default();
            let (identity, identity_rx) = watch::channel(None);
            let slots = servers
                .iter()
                .map(|server| {
                    // A 2026-07-28 upstream is told who the client is with every request: one
                    // connection serves every session, whatever `sharing` says.
                    let runs_here = clients == Clients::One
                        || server.sharing == Sharing::Shared
                        || server.spec.era == manifold_upstream::Era::Modern;
                    runs_here.then(|| {
                        start_slot(
                            &pool,
                            server,
                            Scope::Shared,
                            identity_rx.clone(),
                            (&events, &inline, &metrics),
                        )
                    })
                })
                .collect();
            let set = UpstreamSet::new(Scope::Shared, slots, identity, &settings.separator);
            Shared {
                settings,
                servers,
                pool,
                shared: Arc::new(set),
                sessions: DashMap::new(),
                next_session: AtomicU64::new(1),
                metrics,
                policy,
                events,
                inline,
                parked: DashMap::new(),
                sealer: crate::request_state::Sealer::new(&g.request_state_keys),
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
            }
        });
        let gateway = Gateway { shared };
        gateway.spawn(crate::events::run(gateway.clone(), events_rx));
        gateway
    }

    /// The policy this gateway applies.
    pub fn policy(&self) -> &Arc<Policy> {
        &self.shared.policy
    }

    /// The metrics this gateway counts into.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.shared.metrics
    }

    /// Whether at least `min` shared upstreams (capped at how many there are) are up.
    pub fn ready(&self, min: usize) -> bool {
        let set = &self.shared.shared;
        let up = set.slots().filter(|s| s.is_up()).count();
        up >= min.min(set.slots().count())
    }

    /// The current catalog of the shared upstreams.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.shared.shared.catalog()
    }

    /// Sets the identity shared upstreams are initialized with (done by the stdio client's
    /// `initialize`, by the HTTP face for itself, and by the `catalog` command).
    pub fn set_identity(&self, identity: ClientIdentity) {
        self.shared.shared.identity.send_replace(Some(identity));
    }

    /// Waits until every shared upstream is either up with its lists discovered or down, at
    /// most `limit`.
    pub async fn wait_settled(&self, limit: Duration) {
        self.shared.shared.wait_settled(limit).await;
    }

    /// Alias, namespace and health of every shared upstream, in config order.
    pub fn upstreams(&self) -> Vec<(String, String, Health)> {
        self.shared
            .shared
            .slots()
            .map(|s| {
                (
                    s.alias().to_string(),
                    s.server.namespace.clone(),
                    s.upstream.health(),
                )
            })
            .collect()
    }

    /// Whether HTTP sessions get upstream sessions of their own (some server is per-session and
    /// the gateway serves many clients).
    pub(crate) fn has_private_servers(&self) -> bool {
        self.shared
            .servers
            .iter()
            .any(|s| self.shared.shared.slot(s.index).is_none())
    }

    /// Ends every upstream session (concurrently) and waits until they are gone, then cancels
    /// the gateway's tasks and waits for them too.
    pub async fn shutdown(&self) {
        let all = self.shared.pool.all();
        futures::future::join_all(all.iter().map(|s| s.upstream.shutdown())).await;
        self.shared.stop.cancel();
        self.shared.tasks.close();
        self.shared.tasks.wait().await;
    }

    /// Runs `task` as one of the gateway's own: shutdown cancels it and waits for it.
    pub(crate) fn spawn<F>(&self, task: F) -> AbortHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let stop = self.shared.stop.clone();
        self.shared
            .tasks
            .spawn(async move {
                tokio::select! {
                    () = task => {}
                    () = stop.cancelled() => {}
                }
            })
            .abort_handle()
    }

    /// The upstream session with this pool id, while it runs.
    pub(crate) fn slot(&self, id: usize) -> Option<Arc<Slot>> {
        self.shared.pool.get(id)
    }

    /// The upstream set of the session with id `session`: its own upstream sessions of every
    /// per-session server, started now (initialized once its client's identity is set), and
    /// the shared ones of the others.
    pub(crate) fn private_set(&self, session: u64) -> Arc<UpstreamSet> {
        let shared = &self.shared;
        let (identity, identity_rx) = watch::channel(None);
        let scope = Scope::Session(session);
        let slots = shared
            .servers
            .iter()
            .map(|server| match shared.shared.slot(server.index) {
                Some(slot) => Some(slot.clone()),
                None => Some(start_slot(
                    &shared.pool,
                    server,
                    scope,
                    identity_rx.clone(),
                    (&shared.events, &shared.inline, &shared.metrics),
                )),
            })
            .collect();
        Arc::new(UpstreamSet::new(
            scope,
            slots,
            identity,
            &shared.settings.separator,
        ))
    }

    /// A session ended: its subscriptions are dropped (unsubscribing upstream where it was the
    /// last subscriber) and the upstream sessions of its own end, in a task of the gateway's.
    pub(crate) fn session_ended(&self, id: u64, set: Arc<UpstreamSet>) {
        let gateway = self.clone();
        self.spawn(async move {
            for slot in set.slots().filter(|s| s.scope == Scope::Shared) {
                crate::subscriptions::forget(slot, id).await;
            }
            for slot in set.own() {
                gateway.shared.pool.remove(slot.id);
            }
            futures::future::join_all(set.own().map(|s| s.upstream.shutdown())).await;
        });
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.shared.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register(&self, session: &Session) {
        let sessions = &self.shared.sessions;
        sessions.retain(|_, s| s.strong_count() > 0);
        sessions.insert(session.inner.id, Arc::downgrade(&session.inner));
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.shared.sessions.remove(&id);
    }

    /// Every live session.
    pub(crate) fn sessions(&self) -> Vec<Session> {
        self.shared
            .sessions
            .iter()
            .filter_map(|w| w.upgrade().map(|inner| Session { inner }))
            .collect()
    }

    /// The session with this id, if it is still open.
    pub(crate) fn session(&self, id: u64) -> Option<Session> {
        let weak = self.shared.sessions.get(&id)?.clone();
        weak.upgrade().map(|inner| Session { inner })
    }

    /// The one client traffic from `slot` can belong to when none of its requests is in flight
    /// there: the session owning it, or the only session of all. With several, per-request
    /// routing decides (never a guess).
    pub(crate) fn sole_client(&self, slot: &Slot) -> Option<Session> {
        match slot.scope {
            Scope::Session(id) => self.session(id),
            Scope::Shared => {
                let mut all = self.sessions();
                (all.len() == 1).then(|| all.remove(0))
            }
        }
    }

    /// Counts a notification sent to a client (`manifold_notifications_total`, `to_client`).
    /// The sealer of parked calls' `requestState`.
    pub(crate) fn sealer(&self) -> &crate::request_state::Sealer {
        &self.shared.sealer
    }

    /// Parks a call under `handle` for at most `ttl`: dropped then if not taken, which cancels
    /// it upstream.
    pub(crate) fn park(&self, handle: u64, parked: crate::mrtr::Parked, ttl: Duration) {
        self.shared.parked.insert(handle, parked);
        let gateway = self.clone();
        self.spawn(async move {
            tokio::time::sleep(ttl).await;
            if gateway.shared.parked.remove(&handle).is_some() {
                tracing::debug!(handle, "a parked call was not retried in time; cancelled");
            }
        });
    }

    /// How many calls are parked.
    pub(crate) fn parked_calls(&self) -> usize {
        self.shared.parked.len()
    }

    /// Takes the call parked under `handle`, if it is still there.
    pub(crate) fn unpark(&self, handle: u64) -> Option<crate::mrtr::Parked> {
        self.shared.parked.remove(&handle).map(|(_, parked)| parked)
    }

    pub(crate) fn count_notification(&self, method: &str) {
        let label = manifold_metrics::method_label(method);
        self.shared
            .metrics
            .notifications
            .with_label_values(&[label, "to_client"])
            .inc();
    }

    /// The alias of server `index` (for the `server` metric label).
    pub(crate) fn alias(&self, index: usize) -> &str {
        self.shared.servers[index].alias()
    }
}

/// Starts an upstream session of `server` in `scope` (initialized once `identity` is set) and
/// puts it in the pool.
fn start_slot(
    pool: &Pool,
    server: &Arc<Server>,
    scope: Scope,
    identity: watch::Receiver<Option<ClientIdentity>>,
    (events, inline, metrics): (&QueueSender<UpstreamEvent>, &InlineHook, &Metrics),
) -> Arc<Slot> {
    let id = pool.next_id();
    let upstream = Upstream::start(
        id,
        server.spec.clone(),
        identity,
        events.clone(),
        Some(inline.clone()),
    );
    metrics
        .upstream_up
        .with_label_values(&[server.alias()])
        .set(0);
    let slot = Arc::new(Slot::new(id, server.clone(), scope, upstream));
    pool.insert(slot.clone());
    slot
}
