//! The [`Gateway`]: every upstream session, the merged catalog, and the state of the downstream
//! client. Built from a validated config; dispatch lives in `dispatch`, upstream events in `events`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use manifold_config::{Config, Filter, Transport};
use manifold_transport::{HttpParams, StdioParams};
use manifold_upstream::{
    ClientIdentity, Health, RestartPolicy, TransportSpec, Upstream, UpstreamSpec,
};
use tokio::sync::{mpsc, watch};

use crate::catalog::{Catalog, Kind, Source, UpstreamLists};
use crate::downstream::Downstream;

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
    pub(crate) timeout: Duration,
    pub(crate) tools: Filter,
    pub(crate) prompts: Filter,
    pub(crate) resources: Filter,
    /// Bumped whenever the slot's lists must be fetched again or dropped; a refresh stores its
    /// result only if no newer one started.
    pub(crate) generation: AtomicU64,
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

    pub(crate) fn is_up(&self) -> bool {
        matches!(self.upstream.health(), Health::Up(_))
    }
}

/// What Manifold knows of its downstream client.
#[derive(Debug, Default)]
pub(crate) struct ClientState {
    /// `initialize` was answered.
    pub(crate) initialized: bool,
    /// `notifications/initialized` arrived: notifications may flow.
    pub(crate) ready: bool,
    /// The negotiated protocol version.
    pub(crate) version: String,
    /// The client's declared capabilities.
    pub(crate) capabilities: serde_json::Value,
    /// `list_changed` notifications held back until the client is ready.
    pub(crate) held: [bool; 3],
}

pub(crate) struct Shared {
    pub(crate) settings: Settings,
    pub(crate) slots: Vec<Slot>,
    pub(crate) lists: Mutex<Vec<Option<Arc<UpstreamLists>>>>,
    pub(crate) catalog: RwLock<Arc<Catalog>>,
    pub(crate) identity: watch::Sender<Option<ClientIdentity>>,
    pub(crate) client: Mutex<ClientState>,
    pub(crate) downstream: Downstream,
    pub(crate) relayed: crate::events::Relayed,
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
    /// Starts every upstream of `config` (processes start now; handshakes wait for the client's
    /// `initialize`) and the loop handling their events. Messages for the client go to `out`.
    pub fn start(config: &Config, out: mpsc::Sender<String>) -> Gateway {
        let g = &config.gateway;
        let settings = Settings {
            name: g.name.clone(),
            separator: g.separator.clone(),
            page_size: g.page_size,
            startup_wait: g.startup_wait,
        };
        let (identity, identity_rx) = watch::channel(None);
        let (events_tx, events_rx) = mpsc::channel(1024);
        let restart = RestartPolicy {
            initial_backoff: g.restart.initial_backoff,
            max_backoff: g.restart.max_backoff,
            unhealthy_after: g.restart.unhealthy_after,
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
                    }),
                    Transport::Http(h) => TransportSpec::Http(HttpParams {
                        alias: server.alias.clone(),
                        url: h.url.clone(),
                        headers: h.headers.clone(),
                        max_message_bytes: g.max_message_bytes,
                    }),
                };
                let timeout = server.timeout.unwrap_or(g.request_timeout);
                let spec = UpstreamSpec {
                    alias: server.alias.clone(),
                    transport,
                    timeout,
                    restart,
                    shutdown_grace: g.shutdown_grace,
                    ping_interval: g.ping_interval,
                };
                Slot {
                    upstream: Upstream::start(index, spec, identity_rx.clone(), events_tx.clone()),
                    namespace: server.namespace.clone(),
                    timeout,
                    tools: server.tools.clone(),
                    prompts: server.prompts.clone(),
                    resources: server.resources.clone(),
                    generation: AtomicU64::new(0),
                }
            })
            .collect();
        let n = slots.len();
        let gateway = Gateway {
            shared: Arc::new(Shared {
                settings,
                slots,
                lists: Mutex::new(vec![None; n]),
                catalog: RwLock::new(Arc::new(Catalog::default())),
                identity,
                client: Mutex::new(ClientState::default()),
                downstream: Downstream::new(out),
                relayed: Default::default(),
                event_loop: std::sync::OnceLock::new(),
            }),
        };
        let events = tokio::spawn(crate::events::run(gateway.clone(), events_rx));
        let _ = gateway.shared.event_loop.set(events.abort_handle());
        gateway
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
        self.shared.downstream.fail_all();
        let all = self.shared.slots.iter().map(|s| s.upstream.shutdown());
        futures::future::join_all(all).await;
        if let Some(events) = self.shared.event_loop.get() {
            events.abort();
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
