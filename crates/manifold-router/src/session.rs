//! One downstream client session: what the client declared and negotiated, whether it is ready
//! for notifications, and the link its messages go out on. The stdio face has exactly one; the
//! HTTP face one per `Mcp-Session-Id`. The upstream sessions it routes to, and their catalog, are
//! its [`UpstreamSet`]: the gateway's shared one, or its own with per-session servers.

use parking_lot::{Mutex, MutexGuard};
use std::sync::Arc;

use manifold_protocol::{DecodeError, ErrorObject, RawValue, Request, Response};

use crate::catalog::Kind;
use crate::downstream::Downstream;
use crate::gateway::Gateway;
use crate::pool::{Scope, Slot};
use crate::set::UpstreamSet;

/// What Manifold knows of one downstream client.
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
    /// What a 2026-07-28 upstream shared with other clients is told of this legacy client with
    /// each request: its `clientInfo` and the capabilities Manifold relays (sampling,
    /// elicitation, roots).
    pub(crate) stateless: Option<Vec<(&'static str, Box<RawValue>)>>,
    /// `list_changed` notifications held back until the client is ready.
    pub(crate) held: [bool; 3],
    /// The era its first request fixed (`None` before any).
    pub(crate) era: Option<crate::modern::Era>,
}

/// Which face a session is on; decides who initializes upstreams and how a full queue behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// The single stdio client: its `initialize` is what upstreams are initialized with, and a
    /// slow reader is backpressure.
    Stdio,
    /// One of many HTTP sessions: shared upstreams keep Manifold's own identity, per-session
    /// servers get upstream sessions of this session's own, initialized with its identity and
    /// capabilities; a session whose queue is full loses messages rather than stall everyone.
    Http,
}

pub(crate) struct SessionInner {
    pub(crate) gateway: Gateway,
    pub(crate) id: u64,
    client: Mutex<ClientState>,
    pub(crate) downstream: Downstream,
    face: Face,
    /// The upstream sessions this client routes to.
    upstreams: Arc<UpstreamSet>,
    /// Who the client is (the stdio principal, or what its bearer token stands for).
    pub(crate) principal: Arc<str>,
    /// What the principal may see (replaced when a reload changes it).
    view: parking_lot::RwLock<Arc<manifold_policy::View>>,
    closed: std::sync::atomic::AtomicBool,
    /// Set once its first 2026-07-28 request made it a modern client's (see
    /// [`crate::modern::adopt`]).
    pub(crate) modern: tokio::sync::OnceCell<()>,
    /// Its `subscriptions/listen` streams (a modern client's; none on a legacy session).
    listeners: Mutex<Vec<Arc<crate::listen::Listener>>>,
}

/// Who sent the request being served: its session, and where its request-scoped messages go.
#[derive(Clone, Copy)]
pub(crate) struct Caller<'a> {
    pub(crate) session: &'a Session,
    pub(crate) sink: &'a crate::downstream::Sink,
    /// What a modern request's `_meta` says about its client (`None` for a legacy request).
    pub(crate) meta: Option<&'a manifold_protocol::modern::RequestMeta>,
    /// The server a retry of a modern upstream's input round must go back to.
    pub(crate) retry_of: Option<&'a str>,
    /// The `Mcp-Param-*` headers of a 2026-07-28 HTTP request (lowercase names, values as sent);
    /// `None` where requests have no headers.
    pub(crate) param_headers: Option<&'a [(String, String)]>,
}

/// A cheap handle to one client session.
#[derive(Clone)]
pub struct Session {
    pub(crate) inner: Arc<SessionInner>,
}

impl Session {
    /// Opens a session on `gateway` whose outgoing messages go to `out`, as the stdio principal
    /// (stdio) or the anonymous one (HTTP without `[auth]`).
    pub fn open(gateway: &Gateway, out: crate::downstream::Sink, face: Face) -> Session {
        let principal = match face {
            Face::Stdio => gateway.policy().stdio_principal(),
            Face::Http => manifold_config::ANONYMOUS_PRINCIPAL.into(),
        };
        Self::open_as(gateway, out, face, principal)
    }

    /// Opens a session of `principal`.
    pub fn open_as(
        gateway: &Gateway,
        out: crate::downstream::Sink,
        face: Face,
        principal: Arc<str>,
    ) -> Session {
        let view = gateway.policy().view(&principal);
        let id = gateway.next_session_id();
        let upstreams = match face {
            Face::Http if gateway.has_private_servers() => gateway.private_set(id),
            Face::Stdio | Face::Http => gateway.shared.shared.clone(),
        };
        let session = Session {
            inner: Arc::new(SessionInner {
                gateway: gateway.clone(),
                id,
                upstreams,
                client: Mutex::new(ClientState::default()),
                downstream: Downstream::new(
                    out,
                    (face != Face::Stdio)
                        .then(|| gateway.metrics().dropped.with_label_values(&["session"])),
                ),
                face,
                principal,
                view: parking_lot::RwLock::new(view),
                closed: std::sync::atomic::AtomicBool::new(false),
                modern: tokio::sync::OnceCell::new(),
                listeners: Mutex::new(Vec::new()),
            }),
        };
        gateway.register(&session);
        gateway
            .metrics()
            .sessions
            .with_label_values(&[session.transport()])
            .inc();
        session
    }

    /// Answers one client request; its request-scoped messages (progress, relayed requests) go
    /// out with the session's other messages.
    pub async fn handle(&self, request: &Request) -> Result<Box<RawValue>, ErrorObject> {
        let sink = self.inner.downstream.sender();
        self.handle_scoped(request, &sink).await
    }

    /// Answers one client request, sending its request-scoped messages to `sink`: in the era
    /// its `_meta` asks for, or the one the session's first request fixed.
    pub async fn handle_scoped(
        &self,
        request: &Request,
        sink: &crate::downstream::Sink,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let asked = crate::modern::era_of(self, request).map_err(|e| e.into_error_object())?;
        crate::dispatch::serve(self, request, sink, asked, None).await
    }

    /// [`Session::handle_scoped`] for a 2026-07-28 HTTP request with its `Mcp-Param-*` headers
    /// (lowercase names): checked against the arguments of the tool it calls, and those naming
    /// no argument Manifold knows forwarded to a 2026-07-28 HTTP upstream.
    pub async fn handle_with_param_headers(
        &self,
        request: &Request,
        sink: &crate::downstream::Sink,
        param_headers: &[(String, String)],
    ) -> Result<Box<RawValue>, ErrorObject> {
        let asked = crate::modern::era_of(self, request).map_err(|e| e.into_error_object())?;
        crate::dispatch::serve(self, request, sink, asked, Some(param_headers)).await
    }

    /// Whether this is a modern (2026-07-28) client's session: it is sent no notifications of
    /// its own and no requests, only what belongs to one of its requests.
    pub(crate) fn is_modern(&self) -> bool {
        self.inner.modern.initialized()
    }

    pub(crate) fn client_initialized(&self) -> bool {
        self.client().initialized
    }

    /// The negotiated protocol version ("" before initialize).
    pub fn negotiated_version(&self) -> String {
        self.client().version.clone()
    }

    /// Ends the session: it gets no more messages, and requests relayed to it fail.
    pub fn close(&self) {
        if self
            .inner
            .closed
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            return;
        }
        let metrics = self.inner.gateway.metrics();
        metrics
            .sessions
            .with_label_values(&[self.transport()])
            .dec();
        let gateway = &self.inner.gateway;
        gateway.unregister(self.inner.id);
        if tokio::runtime::Handle::try_current().is_ok() {
            gateway.session_ended(self.inner.id, self.inner.upstreams.clone());
        }
        self.inner.downstream.fail_all();
    }

    /// The `transport` label of this session.
    fn transport(&self) -> &'static str {
        match self.inner.face {
            Face::Stdio => "stdio",
            Face::Http => "http",
        }
    }

    /// Who the client is.
    pub fn principal(&self) -> &Arc<str> {
        &self.inner.principal
    }

    /// What the client may see.
    pub(crate) fn view(&self) -> Arc<manifold_policy::View> {
        self.inner.view.read().clone()
    }

    /// Takes the principal's view from the (reloaded) policy and sends `list_changed` for each
    /// list that now shows something else.
    pub async fn refresh_view(&self) {
        let new = self.gateway().policy().view(&self.inner.principal);
        let old = std::mem::replace(&mut *self.inner.view.write(), new.clone());
        let catalog = self.inner.upstreams.catalog();
        let changed: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| {
                let (a, b) = (catalog.visible(*k, &old), catalog.visible(*k, &new));
                a.len() != b.len() || a.iter().zip(&b).any(|(x, y)| !std::ptr::eq(*x, *y))
            })
            .collect();
        if !changed.is_empty() {
            tracing::info!(principal = %self.inner.principal, "view changed by a reload");
            self.announce(&changed).await;
        }
    }

    /// The gateway this session belongs to.
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    pub(crate) fn client(&self) -> MutexGuard<'_, ClientState> {
        self.inner.client.lock()
    }

    /// Whether upstreams were initialized with this client's own identity and capabilities.
    pub fn owns_identity(&self) -> bool {
        self.inner.face == Face::Stdio || self.inner.upstreams.scope != Scope::Shared
    }

    /// Whether other clients use `slot` too (progress tokens are then rewritten).
    pub(crate) fn shares(&self, slot: &Slot) -> bool {
        slot.scope == Scope::Shared && self.inner.face != Face::Stdio
    }

    /// The upstream sessions this client routes to, and their catalog.
    pub(crate) fn upstreams(&self) -> &Arc<UpstreamSet> {
        &self.inner.upstreams
    }

    /// Sets the identity the upstream sessions initialized for this client get (its own, or,
    /// on stdio, the shared ones).
    pub(crate) fn set_identity(&self, identity: manifold_upstream::ClientIdentity) {
        self.inner.upstreams.identity.send_replace(Some(identity));
    }

    /// Forwards a client notification to every upstream session initialized with this client's
    /// identity that is up (the stdio client's shared ones, an HTTP client's own): shared
    /// upstream sessions of the HTTP face were not told about any one client.
    pub async fn broadcast(&self, method: &str, params: Option<&RawValue>) {
        let counter = self
            .gateway()
            .metrics()
            .notifications
            .with_label_values(&[manifold_metrics::method_label(method), "to_upstream"]);
        let own: Vec<&Arc<Slot>> = match self.inner.face {
            Face::Stdio => self.inner.upstreams.slots().collect(),
            Face::Http => self.inner.upstreams.own().collect(),
        };
        for slot in own {
            if slot.is_up() {
                slot.upstream.notify(method, params).await;
                counter.inc();
            }
        }
    }

    /// A client message that could not be decoded: the error to answer it with. A `tools/call`
    /// refused because a key repeats in it is audited, so the attempt is on the record.
    pub async fn refuse(&self, e: &DecodeError) -> ErrorObject {
        let error = e.to_error();
        if let DecodeError::Duplicate {
            method, key, path, ..
        } = e
        {
            tracing::warn!(principal = %self.inner.principal, %key, %path, "refused a client message with a repeated key");
            if method.as_deref() == Some(manifold_protocol::method::TOOLS_CALL) {
                self.gateway()
                    .policy()
                    .audit_refused(
                        &self.inner.principal,
                        self.inner.id,
                        "duplicate_key",
                        &error,
                    )
                    .await;
            }
        }
        error
    }

    /// The client's answer to a request Manifold relayed to it.
    pub fn complete(&self, response: Response) {
        self.inner.downstream.complete(response);
    }

    /// The client sent `notifications/initialized`: release held notifications.
    pub async fn client_ready(&self) {
        let held = {
            let mut client = self.client();
            client.ready = true;
            std::mem::take(&mut client.held)
        };
        let kinds = [Kind::Tools, Kind::Prompts, Kind::Resources];
        for (flag, kind) in held.iter().zip(kinds) {
            if *flag {
                self.send_notification(kind.list_changed(), None).await;
            }
        }
    }

    /// Whether the client declared the top-level capability `name`.
    pub(crate) fn declared(&self, name: &str) -> bool {
        self.client()
            .capabilities
            .get(name)
            .is_some_and(|v| !v.is_null())
    }

    /// A sender into the session's own queue (stdout, or the HTTP session's GET streams).
    pub fn sink(&self) -> crate::downstream::Sink {
        self.inner.downstream.sender()
    }

    /// Counts a message for this session dropped because its queue was full.
    pub(crate) fn count_dropped(&self) {
        self.gateway()
            .metrics()
            .dropped
            .with_label_values(&["session"])
            .inc();
    }

    /// Queues one encoded message on `sink` as this session's link does (waiting on stdio,
    /// dropping when full on HTTP).
    pub async fn send_via(&self, sink: &crate::downstream::Sink, text: String) {
        self.inner.downstream.send_via(sink, text).await;
    }

    /// Whether this session's queue drops messages when full rather than waiting.
    pub(crate) fn lossy(&self) -> bool {
        self.inner.face != Face::Stdio
    }

    /// Whether notifications may be sent to the client now.
    pub(crate) fn ready(&self) -> bool {
        self.client().ready
    }

    /// Sends a notification if the client is ready for them.
    pub(crate) async fn notify(&self, method: &str, params: Option<&RawValue>) {
        if self.ready() {
            self.send_notification(method, params).await;
        }
    }

    /// Sends a notification and counts it (`manifold_notifications_total`, `to_client`).
    async fn send_notification(&self, method: &str, params: Option<&RawValue>) {
        self.gateway().count_notification(method);
        self.inner.downstream.notify(method, params).await;
    }

    /// A listen stream of this session begins.
    pub(crate) fn add_listener(&self, listener: Arc<crate::listen::Listener>) {
        self.inner.listeners.lock().push(listener);
    }

    /// The listen stream with `key` ended.
    pub(crate) fn remove_listener(&self, key: u64) {
        self.inner.listeners.lock().retain(|l| l.key() != key);
    }

    /// Sends `list_changed` for the changed kinds, or holds them until the client is ready; a
    /// modern client gets them on the listen streams that asked for them, and only there.
    pub(crate) async fn announce(&self, changed: &[Kind]) {
        if self.is_modern() {
            let listeners = self.inner.listeners.lock().clone();
            let gateway = self.gateway();
            for listener in listeners {
                let mut sent = Vec::new();
                for kind in changed.iter().filter(|k| listener.wants(**k)) {
                    let method = kind.list_changed();
                    if !sent.contains(&method) {
                        listener.notify(gateway, method, None).await;
                        sent.push(method);
                    }
                }
            }
            return;
        }
        let mut send = Vec::new();
        {
            let mut client = self.client();
            for kind in changed {
                let slot = match kind {
                    Kind::Tools => 0,
                    Kind::Prompts => 1,
                    Kind::Resources | Kind::Templates => 2,
                };
                if client.ready {
                    if !send.contains(&kind.list_changed()) {
                        send.push(kind.list_changed());
                    }
                } else if client.initialized {
                    client.held[slot] = true;
                }
            }
        }
        for m in send {
            self.send_notification(m, None).await;
        }
    }
}
