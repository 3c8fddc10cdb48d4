//! The [`Gateway`]: every upstream session, the merged catalog, and the state of the downstream
//! client. Built from a validated config; dispatch lives in `dispatch`, upstream events in `events`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, Weak};
use std::time::Duration;

use manifold_config::{Config, Filter, HttpProtocol, Sharing, Transport};
use manifold_transport::{HttpParams, StdioParams};
use manifold_upstream::{
    ClientIdentity, Health, InlineHook, RestartPolicy, TransportSpec, Upstream, UpstreamSpec,
};
use tokio::sync::watch;

use crate::catalog::{Catalog, Kind, Source, UpstreamLists};

/// Upstream events waiting for the gateway's event loop (and `gateway.upstream_queue_bytes`).
const EVENT_QUEUE: usize = 1024;
use crate::session::{Session, SessionInner};
use manifold_metrics::Metrics;
use manifold_policy::Policy;

/// Gateway-wide settings taken from `[gateway]`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) separator: String,
    pub(crate) page_size: usize,
    pub(crate) startup_wait: Duration,
}

/// One configured upstream.
pub(crate) struct Slot {
    pub(crate) upstream: Upstream,
    pub(crate) namespace: String,
    pub(crate) tools: Filter,
    pub(crate) prompts: Filter,
    pub(crate) resources: Filter,
    /// Bumped whenever the slot's lists must be fetched again or dropped; a refresh stores its
    /// result only if no newer one started.
    pub(crate) generation: AtomicU64,
    /// Whether it has been up before (a later `Up` is a restart).
    pub(crate) was_up: std::sync::atomic::AtomicBool,
    /// A debounced refresh is scheduled (more `list_changed` meanwhile fold into it).
    pub(crate) refresh_scheduled: std::sync::atomic::AtomicBool,
    /// The server's limits and deadlines (shared by every gateway of the process).
    pub(crate) policy: Arc<manifold_policy::ServerPolicy>,
    /// How its tools are presented (renames, descriptions, fixed arguments).
    pub(crate) curate: Arc<std::collections::BTreeMap<String, manifold_config::Curate>>,
    /// For a shared server in a session's own gateway: the shared gateway that runs the upstream
    /// (and receives its events) and the slot's index there. `None`: this gateway runs it.
    pub(crate) borrowed: Option<(Weak<Shared>, usize)>,
}

impl Slot {
    pub(crate) fn alias(&self) -> &str {
        self.upstream.alias()
    }

    pub(crate) fn filter(&self, kind: Kind) -> &Filter {
        match kind {
            Kind::Tools => &self.tools,
            Kind::Prompts => &self.prompts,
            Kind::Resources | Kind::Templates => &self.resources,
        }
    }

    /// The gateway that receives this upstream's events, and the slot's index there (where its
    /// in-flight requests must be tracked).
    pub(crate) fn owner(&self, gateway: &Gateway, index: usize) -> (Gateway, usize) {
        match &self.borrowed {
            Some((shared, j)) => match shared.upgrade() {
                Some(shared) => (Gateway { shared }, *j),
                None => (gateway.clone(), index),
            },
            None => (gateway.clone(), index),
        }
    }

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.upstream.health(), Health::Up(_))
    }
}

pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) slots: Vec<Slot>,
    pub(crate) lists: Mutex<Vec<Option<Arc<UpstreamLists>>>>,
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    pub(crate) identity: watch::Sender<Option<ClientIdentity>>,
    /// Live client sessions, by id (weak: a session ends when its face drops it).
    sessions: Mutex<HashMap<u64, Weak<SessionInner>>>,
    next_session: AtomicU64,
    pub(crate) relayed: crate::events::Relayed,
    /// In-flight requests, for routing what shared upstreams send back.
    pub(crate) return_path: crate::return_path::ReturnPath,
    /// Resource subscriptions of the upstreams this gateway runs.
    pub(crate) subscriptions: crate::subscriptions::Subscriptions,
    pub(crate) metrics: Arc<Metrics>,
    /// Access views, rate limits, validation, audit: one for the whole process.
    pub(crate) policy: Arc<Policy>,
    /// Sessions' own gateways that borrow this gateway's upstreams (list changes are pushed to them).
    dependents: Mutex<Vec<Weak<Shared>>>,
    /// The upstream event loop, ended at shutdown (it holds a `Gateway`, so it would otherwise
    /// keep the shared state alive forever).
    pub(crate) event_loop: std::sync::OnceLock<tokio::task::AbortHandle>,
}

/// The gateway: cheap to clone, shared by the face and the event loop.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) shared: Arc<Shared>,
}

impl Gateway {
    /// Starts every upstream of `config` (processes start now; handshakes wait until an identity
    /// is set, by the stdio client's `initialize` or by the face) and the loop handling their events.
    /// An audit file that cannot be opened is reported and auditing goes to stderr instead.
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
        Self::start_with(config, metrics, Arc::new(policy))
    }

    /// [`Gateway::start`], counting into `metrics` and applying `policy` (both shared by every
    /// gateway of one process).
    pub fn start_with(config: &Config, metrics: Arc<Metrics>, policy: Arc<Policy>) -> Gateway {
        Self::start_inner(config, metrics, policy, None)
    }

    /// A gateway of one HTTP session's own: per-session servers get upstream sessions of its own;
    /// shared servers are borrowed from `shared`, which keeps running them.
    pub fn start_session(config: &Config, shared: &Gateway) -> Gateway {
        let gateway = Self::start_inner(
            config,
            shared.metrics().clone(),
            shared.shared.policy.clone(),
            Some(shared),
        );
        let borrowed: Vec<(usize, usize)> = gateway
            .shared
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.borrowed.as_ref().map(|(_, j)| (i, *j)))
            .collect();
        if !borrowed.is_empty() {
            {
                let from = shared
                    .shared
                    .lists
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                let mut to = gateway
                    .shared
                    .lists
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                for (i, j) in &borrowed {
                    to[*i] = from[*j].clone();
                }
            }
            gateway.rebuild();
            let mut deps = shared
                .shared
                .dependents
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            deps.retain(|d| d.strong_count() > 0);
            deps.push(Arc::downgrade(&gateway.shared));
        }
        gateway
    }

    fn start_inner(
        config: &Config,
        metrics: Arc<Metrics>,
        policy: Arc<Policy>,
        lender: Option<&Gateway>,
    ) -> Gateway {
        let g = &config.gateway;
        let settings = Settings {
            name: g.name.clone(),
            separator: g.separator.clone(),
            page_size: g.page_size,
            startup_wait: g.startup_wait,
        };
        let (identity, identity_rx) = watch::channel(None);
        // What upstreams send on their own waits here for the event loop, bounded in bytes too.
        let (events_tx, events_rx) =
            manifold_transport::queue::queue(EVENT_QUEUE, g.upstream_queue_bytes);
        let restart = RestartPolicy {
            initial_backoff: g.restart.initial_backoff,
            max_backoff: g.restart.max_backoff,
            unhealthy_after: g.restart.unhealthy_after,
        };
        // Progress is delivered by the upstream connection itself, in order with the responses it
        // precedes; it needs the gateway, which exists only once the slots do.
        let this: Arc<OnceLock<Weak<Shared>>> = Arc::default();
        let inline: InlineHook = {
            let this = this.clone();
            Arc::new(move |index, n| {
                let Some(shared) = this.get().and_then(Weak::upgrade) else {
                    return false;
                };
                crate::events::progress_inline(&Gateway { shared }, index, n)
            })
        };
        let slots: Vec<Slot> = config
            .servers
            .iter()
            .enumerate()
            .map(|(index, server)| {
                let transport = match &server.transport {
                    Transport::Stdio(s) => TransportSpec::Stdio(StdioParams {
                        alias: server.alias.clone(),
                        command: s.command.clone(),
                        args: s.args.clone(),
                        env: s.env.clone(),
                        cwd: s.cwd.clone(),
                        max_message_bytes: g.max_message_bytes,
                        queue_bytes: g.upstream_queue_bytes,
                    }),
                    Transport::Http(h) => TransportSpec::Http(HttpParams {
                        alias: server.alias.clone(),
                        url: h.url.clone(),
                        headers: h.headers.clone(),
                        max_message_bytes: g.max_message_bytes,
                        queue_bytes: g.upstream_queue_bytes,
                        protocol: match h.protocol {
                            HttpProtocol::Auto => manifold_transport::HttpProtocol::Auto,
                            HttpProtocol::Streamable => {
                                manifold_transport::HttpProtocol::Streamable
                            }
                            HttpProtocol::LegacySse => manifold_transport::HttpProtocol::LegacySse,
                        },
                    }),
                };
                let timeout = server.timeout.unwrap_or(g.request_timeout);
                let lent = lender
                    .filter(|_| server.sharing == Sharing::Shared)
                    .and_then(|l| {
                        let j = l
                            .shared
                            .slots
                            .iter()
                            .position(|s| s.alias() == server.alias)?;
                        Some((
                            l.shared.slots[j].upstream.clone(),
                            (Arc::downgrade(&l.shared), j),
                        ))
                    });
                let spec = UpstreamSpec {
                    alias: server.alias.clone(),
                    transport,
                    timeout,
                    restart,
                    shutdown_grace: g.shutdown_grace,
                    ping_interval: g.ping_interval,
                };
                let (upstream, borrowed) = match lent {
                    Some((upstream, from)) => (upstream, Some(from)),
                    None => (
                        Upstream::start(
                            index,
                            spec,
                            identity_rx.clone(),
                            events_tx.clone(),
                            Some(inline.clone()),
                        ),
                        None,
                    ),
                };
                Slot {
                    upstream,
                    borrowed,
                    policy: policy.server(&server.alias),
                    curate: Arc::new(server.curate.clone()),
                    namespace: server.namespace.clone(),
                    tools: server.tools.clone(),
                    prompts: server.prompts.clone(),
                    resources: server.resources.clone(),
                    generation: AtomicU64::new(0),
                    was_up: std::sync::atomic::AtomicBool::new(false),
                    refresh_scheduled: std::sync::atomic::AtomicBool::new(false),
                }
            })
            .collect();
        let n = slots.len();
        for slot in slots.iter().filter(|s| s.borrowed.is_none()) {
            metrics
                .upstream_up
                .with_label_values(&[slot.alias()])
                .set(0);
        }
        let gateway = Gateway {
            shared: Arc::new(Shared {
                settings,
                slots,
                lists: Mutex::new(vec![None; n]),
                catalog: RwLock::new(Arc::new(Catalog::default())),
                identity,
                sessions: Mutex::new(HashMap::new()),
                next_session: AtomicU64::new(1),
                relayed: Default::default(),
                return_path: Default::default(),
                subscriptions: Default::default(),
                metrics,
                policy,
                dependents: Mutex::new(Vec::new()),
                event_loop: std::sync::OnceLock::new(),
            }),
        };
        let _ = this.set(Arc::downgrade(&gateway.shared));
        let events = tokio::spawn(crate::events::run(gateway.clone(), events_rx));
        let _ = gateway.shared.event_loop.set(events.abort_handle());
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

    /// Whether at least `min` upstreams (capped at how many there are) are up.
    pub fn ready(&self, min: usize) -> bool {
        let up = self.shared.slots.iter().filter(|s| s.is_up()).count();
        up >= min.min(self.shared.slots.len())
    }

    /// The current catalog snapshot.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.shared
            .catalog
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the identity upstreams are initialized with (done by `initialize`; the `catalog`
    /// command sets its own).
    pub fn set_identity(&self, identity: ClientIdentity) {
        self.shared.identity.send_replace(Some(identity));
    }

    /// Waits until every upstream is either up with its lists discovered or down, at most `limit`.
    pub async fn wait_settled(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.settled() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn settled(&self) -> bool {
        let lists = self.shared.lists.lock().unwrap_or_else(|e| e.into_inner());
        self.shared
            .slots
            .iter()
            .enumerate()
            .all(|(i, slot)| match slot.upstream.health() {
                Health::Up(_) => lists[i].is_some(),
                Health::Starting => false,
                Health::Down { .. } | Health::Stopped => true,
            })
    }

    /// Alias, namespace and health of every upstream, in config order.
    pub fn upstreams(&self) -> Vec<(String, String, Health)> {
        self.shared
            .slots
            .iter()
            .map(|s| {
                (
                    s.alias().to_string(),
                    s.namespace.clone(),
                    s.upstream.health(),
                )
            })
            .collect()
    }

    /// Ends every upstream session (concurrently) and waits until they are gone.
    pub async fn shutdown(&self) {
        // Borrowed upstreams belong to the shared gateway, which ends them itself.
        let all = self
            .shared
            .slots
            .iter()
            .filter(|s| s.borrowed.is_none())
            .map(|s| s.upstream.shutdown());
        futures::future::join_all(all).await;
        if let Some(events) = self.shared.event_loop.get() {
            events.abort();
        }
    }

    pub(crate) fn next_session_id(&self) -> u64 {
        self.shared.next_session.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register(&self, session: &Session) {
        let mut sessions = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions.retain(|_, s| s.strong_count() > 0);
        sessions.insert(session.inner.id, Arc::downgrade(&session.inner));
    }

    pub(crate) fn unregister(&self, id: u64) {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Every live session.
    pub(crate) fn sessions(&self) -> Vec<Session> {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|w| w.upgrade().map(|inner| Session { inner }))
            .collect()
    }

    /// The session with this id, if it is still open.
    pub(crate) fn session(&self, id: u64) -> Option<Session> {
        let sessions = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&id)
            .and_then(Weak::upgrade)
            .map(|inner| Session { inner })
    }

    /// The one session traffic from a shared upstream can belong to, when there is exactly one.
    /// With several, per-request routing decides (never a guess).
    pub(crate) fn sole_session(&self) -> Option<Session> {
        let mut all = self.sessions();
        (all.len() == 1).then(|| all.remove(0))
    }

    /// Stores upstream `index`'s lists (`None`: it is down) here and in every session gateway
    /// that borrows it, and tells each one's sessions what changed.
    pub(crate) async fn publish(&self, index: usize, lists: Option<Arc<UpstreamLists>>) {
        self.shared.lists.lock().unwrap_or_else(|e| e.into_inner())[index] = lists.clone();
        let changed = self.rebuild();
        self.announce(&changed).await;
        let dependents: Vec<Gateway> = {
            let mut deps = self
                .shared
                .dependents
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            deps.retain(|d| d.strong_count() > 0);
            deps.iter()
                .filter_map(Weak::upgrade)
                .map(|shared| Gateway { shared })
                .collect()
        };
        for dep in dependents {
            let slots: Vec<usize> = dep
                .shared
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.borrowed.as_ref().is_some_and(|(_, j)| *j == index))
                .map(|(i, _)| i)
                .collect();
            for i in slots {
                dep.shared.lists.lock().unwrap_or_else(|e| e.into_inner())[i] = lists.clone();
            }
            let changed = dep.rebuild();
            dep.announce(&changed).await;
        }
    }

    /// Rebuilds the catalog from the stored lists and returns which list kinds changed.
    pub(crate) fn rebuild(&self) -> Vec<Kind> {
        let shared = &self.shared;
        let new = {
            let lists = shared.lists.lock().unwrap_or_else(|e| e.into_inner());
            let sources: Vec<Source<'_>> = shared
                .slots
                .iter()
                .zip(lists.iter())
                .map(|(slot, lists)| Source {
                    alias: slot.alias(),
                    namespace: &slot.namespace,
                    lists: lists.as_deref(),
                    curate: &slot.curate,
                })
                .collect();
            Arc::new(Catalog::build(&sources, &shared.settings.separator))
        };
        let mut current = shared.catalog.write().unwrap_or_else(|e| e.into_inner());
        let changed = Kind::ALL
            .into_iter()
            .filter(|k| !current.same(&new, *k))
            .collect();
        *current = new;
        changed
    }

    /// Starts a new generation for slot `index` and returns it.
    pub(crate) fn next_generation(&self, index: usize) -> u64 {
        self.shared.slots[index]
            .generation
            .fetch_add(1, Ordering::SeqCst)
            + 1
    }
}
