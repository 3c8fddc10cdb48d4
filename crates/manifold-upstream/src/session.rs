//! The [`Upstream`] handle: calls with timeouts and cancel-on-drop, notifications, replies to
//! server→client requests, health, and shutdown.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use manifold_protocol::{
    encode_error, encode_notification, encode_request, encode_result, ErrorObject, Id, RawValue,
};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::pending::{Live, Pending};
use crate::{supervisor, CallError, ClientIdentity, Health, InlineHook, UpstreamSpec};

/// A cheap, cloneable handle to one supervised upstream session.
#[derive(Clone)]
pub struct Upstream {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) index: usize,
    pub(crate) spec: UpstreamSpec,
    next_id: AtomicI64,
    pub(crate) live: Mutex<Live>,
    pub(crate) health: watch::Sender<Health>,
    pub(crate) events: crate::EventSender,
    pub(crate) inline: Option<InlineHook>,
    pub(crate) stop: watch::Sender<bool>,
    /// Set while an HTTP session is transparently re-initialized: new calls wait for it.
    pub(crate) paused: watch::Sender<bool>,
    /// What the `auto` probe found (`Some(true)`: modern), kept across restarts.
    pub(crate) verdict: Mutex<Option<bool>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("alias", &self.inner.spec.alias)
            .finish()
    }
}

impl Upstream {
    /// Starts supervising an upstream. Its process (or HTTP client) starts at once; the handshake
    /// waits until `identity` holds the downstream client's identity.
    pub fn start(
        index: usize,
        spec: UpstreamSpec,
        identity: watch::Receiver<Option<ClientIdentity>>,
        events: crate::EventSender,
        inline: Option<InlineHook>,
    ) -> Upstream {
        let (health, _) = watch::channel(Health::Starting);
        let (stop, _) = watch::channel(false);
        let (paused, _) = watch::channel(false);
        let up = Upstream {
            inner: Arc::new(Inner {
                index,
                spec,
                next_id: AtomicI64::new(1),
                live: Mutex::new(Live::default()),
                health,
                events,
                inline,
                stop,
                paused,
                verdict: Mutex::new(None),
                task: Mutex::new(None),
            }),
        };
        let task = tokio::spawn(supervisor::run(up.clone(), identity));
        *up.inner.task.lock() = Some(task);
        up
    }

    /// The config alias.
    pub fn alias(&self) -> &str {
        &self.inner.spec.alias
    }

    /// The index given at start.
    pub fn index(&self) -> usize {
        self.inner.index
    }

    /// Current health.
    pub fn health(&self) -> Health {
        self.inner.health.borrow().clone()
    }

    /// Whether its current connection speaks 2026-07-28 (requests are stateless, each carrying
    /// its client's `_meta`).
    pub fn is_modern(&self) -> bool {
        self.inner.live.lock().modern_meta.is_some()
    }

    /// A receiver that sees every health change.
    pub fn watch_health(&self) -> watch::Receiver<Health> {
        self.inner.health.subscribe()
    }

    /// Sends a request and waits for its result, failing fast if the upstream is not up.
    /// Dropping the returned future cancels the request upstream (`notifications/cancelled`).
    pub async fn request(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, CallError> {
        // A child of the client request's `mcp.request` span when there is one.
        let span = tracing::info_span!(
            "mcp.upstream",
            server = %self.alias(),
            %method,
            id = tracing::field::Empty
        );
        tracing::Instrument::instrument(self.call(method, params, timeout, true), span).await
    }

    /// [`Upstream::request`] with `headers` added to its POST when the upstream is a 2026-07-28
    /// Streamable HTTP one (its `Mcp-Param-*` headers); elsewhere they are not sent.
    pub async fn request_with_headers(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Option<Duration>,
        headers: Vec<(String, String)>,
    ) -> Result<Box<RawValue>, CallError> {
        let span = tracing::info_span!(
            "mcp.upstream",
            server = %self.alias(),
            %method,
            id = tracing::field::Empty
        );
        let call = self.call_with(method, params, timeout, true, headers);
        tracing::Instrument::instrument(call, span).await
    }

    /// Whether requests to it mirror tool arguments in `Mcp-Param-*` headers: a 2026-07-28
    /// Streamable HTTP upstream.
    pub fn mirrors_arguments(&self) -> bool {
        matches!(self.inner.spec.transport, crate::TransportSpec::Http(_)) && self.is_modern()
    }

    pub(crate) async fn call(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Option<Duration>,
        require_up: bool,
    ) -> Result<Box<RawValue>, CallError> {
        self.call_with(method, params, timeout, require_up, Vec::new())
            .await
    }

    async fn call_with(
        &self,
        method: &str,
        params: Option<&RawValue>,
        timeout: Option<Duration>,
        require_up: bool,
        headers: Vec<(String, String)>,
    ) -> Result<Box<RawValue>, CallError> {
        let deadline = timeout.unwrap_or(self.inner.spec.timeout);
        if require_up && *self.inner.paused.borrow() {
            let mut resumed = self.inner.paused.subscribe();
            let _ = tokio::time::timeout(deadline, resumed.wait_for(|p| !*p)).await;
        }
        let (meta, log_level) = {
            let live = self.inner.live.lock();
            (live.modern_meta.clone(), live.log_level.clone())
        };
        if meta.is_some() {
            if let Some(answer) = crate::modern_compat::stand_in(self, method, params) {
                return answer;
            }
        }
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        tracing::Span::current().record("id", id);
        let stateless = meta.map(|mut meta| {
            if let Some(level) = log_level {
                meta.push((manifold_protocol::modern::LOG_LEVEL, level));
            }
            manifold_protocol::modern::with_members(params, &meta)
        });
        let params = stateless.as_deref().or(params);
        let text = encode_request(&Id::Num(id), method, params);
        let (tx, rx) = oneshot::channel();
        let sender = {
            let mut live = self.inner.live.lock();
            let sender = match (&live.sender, live.up || !require_up) {
                (Some(sender), true) => sender.clone(),
                _ => {
                    return Err(CallError::Unavailable {
                        alias: self.alias().to_string(),
                        reason: if live.down_reason.is_empty() {
                            "starting".to_string()
                        } else {
                            live.down_reason.clone()
                        },
                    })
                }
            };
            let kept = live.keep_text.then(|| text.clone());
            live.pending.insert(
                id,
                Pending {
                    reply: tx,
                    text: kept,
                },
            );
            sender
        };
        let mut guard = CancelGuard {
            inner: &self.inner,
            id,
            reason: "request cancelled by the client",
            armed: true,
        };
        if sender
            .send_with_headers(text, Some(Id::Num(id)), headers)
            .await
            .is_err()
        {
            guard.armed = false;
            self.inner.live.lock().pending.remove(&id);
            return Err(self.failed("connection closed"));
        }
        tracing::debug!("request sent upstream");
        match tokio::time::timeout(deadline, rx).await {
            Ok(Ok(outcome)) => {
                guard.armed = false;
                tracing::debug!(ok = outcome.is_ok(), "upstream answered");
                outcome
            }
            Ok(Err(_)) => {
                guard.armed = false;
                Err(self.failed("connection closed"))
            }
            Err(_) => {
                guard.reason = "timeout";
                drop(guard);
                Err(CallError::Timeout {
                    alias: self.alias().to_string(),
                    ms: deadline.as_millis(),
                })
            }
        }
    }

    fn failed(&self, reason: &str) -> CallError {
        CallError::Failed {
            alias: self.alias().to_string(),
            reason: reason.to_string(),
        }
    }

    /// Sends a notification (dropped if the upstream is not connected).
    pub async fn notify(&self, method: &str, params: Option<&RawValue>) {
        self.send_raw(encode_notification(method, params), None)
            .await;
    }

    /// Answers a server→client request the upstream sent, with the upstream's own id.
    pub async fn respond(&self, id: &Id, outcome: Result<Box<RawValue>, ErrorObject>) {
        let text = match outcome {
            Ok(result) => encode_result(id, &result),
            Err(e) => encode_error(Some(id), &e),
        };
        self.send_raw(text, None).await;
    }

    /// Sends an encoded message; `request_id` names the request it carries, if any.
    pub(crate) async fn send_raw(&self, text: String, request_id: Option<Id>) {
        let sender = self.inner.live.lock().sender.clone();
        if let Some(sender) = sender {
            let _ = sender.send(text, request_id).await;
        }
    }

    /// Completes the pending request `id` (called by the connection pump).
    pub(crate) fn complete(&self, id: &Id, outcome: Result<Box<RawValue>, CallError>) {
        let Id::Num(n) = id else { return };
        let pending = self.inner.live.lock().pending.remove(n);
        match pending {
            Some(p) => {
                let _ = p.reply.send(outcome);
            }
            None => {
                tracing::debug!(server = %self.alias(), %id, "response for no pending request (late or cancelled)")
            }
        }
    }

    /// Stops the upstream for good: ends its session and process, waits until it is gone.
    pub async fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
        let task = self.inner.task.lock().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Removes a request from the pending table and cancels it upstream unless it completed.
struct CancelGuard<'a> {
    inner: &'a Arc<Inner>,
    id: i64,
    reason: &'static str,
    armed: bool,
}

impl Drop for CancelGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let (removed, sender) = {
            let mut live = self.inner.live.lock();
            (live.pending.remove(&self.id).is_some(), live.sender.clone())
        };
        let (true, Some(sender)) = (removed, sender) else {
            return;
        };
        let params = serde_json::json!({ "requestId": self.id, "reason": self.reason });
        let text = encode_notification(
            manifold_protocol::method::CANCELLED,
            serde_json::value::to_raw_value(&params).ok().as_deref(),
        );
        tracing::debug!(server = %self.inner.spec.alias, id = self.id, reason = self.reason, "cancelling upstream request");
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let _ = sender.send(text, None).await;
            });
        }
    }
}
