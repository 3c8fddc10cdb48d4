//! The downstream Streamable HTTP face (protocol 2025-03-26 … 2025-11-25, mcp-spec.md §5.2): one
//! endpoint taking POST (client messages), GET (the session's stream of server-initiated messages)
//! and DELETE (end of session); sessions identified by `Mcp-Session-Id`; `Host`/`Origin` checked.

mod answer;
mod body;
mod guard;
mod legacy;
mod post;
mod replay;
mod server;
mod sse;
mod stateless;
mod store;
mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::post as post_route;
use axum::Router;
use manifold_config::Config;
use manifold_protocol::version;
use manifold_upstream::ClientIdentity;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;

use axum::Extension;
use manifold_policy::auth::{AuthLayer, Authenticator, Principal, METADATA_PATH};
use manifold_policy::Policy;
use manifold_router::{Clients, Gateway};

use crate::background::Background;
pub(crate) use server::{serve as serve_connections, Limits};
use store::Store;

pub(crate) const SESSION_HEADER: &str = "mcp-session-id";
pub(crate) const VERSION_HEADER: &str = "mcp-protocol-version";

/// Shared state of the HTTP face.
pub(crate) struct App {
    /// Upstreams shared by every session (all of them unless every server is per-session).
    pub(crate) gateway: Gateway,
    pub(crate) store: Store,
    allowed_hosts: Vec<String>,
    /// Bounds of each session's queue of server-initiated messages, and of each POST's SSE
    /// stream: messages, bytes.
    pub(crate) queue: (usize, usize),
    /// What each stream keeps for `Last-Event-ID` resumption: events and bytes.
    pub(crate) replay: replay::Bound,
    /// A POST answer not ready by then becomes an SSE stream (`listen.sse_after_ms`).
    pub(crate) sse_after: Duration,
    /// The `retry` advice of Manifold's SSE streams (`listen.sse_retry_ms`).
    pub(crate) sse_retry: Duration,
    closing: watch::Receiver<bool>,
    auth: Arc<Authenticator>,
}

/// Serves the Streamable HTTP face on `listener` until `shutdown` resolves, then stops accepting,
/// lets in-flight requests finish (up to `listen.drain_ms`), ends every session and upstream.
pub async fn serve_http<S>(
    config: &Config,
    listener: TcpListener,
    shutdown: S,
    admin: Option<TcpListener>,
) -> std::io::Result<()>
where
    S: Future<Output = ()> + Send + 'static,
{
    // One gateway and one policy for the process: shared servers run once for every session,
    // per-session servers once for each session; limits and concurrency slots count across all.
    let metrics = Arc::new(manifold_metrics::Metrics::new());
    let policy = Arc::new(Policy::new(config, metrics.clone())?);
    let gateway = Gateway::start_with(config, metrics, policy, Clients::Many);
    let auth = Arc::new(Authenticator::new(config));
    let background = Background::default();
    if let Some(listener) = admin {
        crate::admin::spawn(listener, gateway.clone(), config, &background);
    }
    // Shared upstreams serve every HTTP session: they are told about Manifold itself, offering
    // the client capabilities Manifold routes to the one client a request belongs to.
    let raw = |v: serde_json::Value| {
        serde_json::value::to_raw_value(&v)
            .unwrap_or_else(|_| manifold_protocol::object::empty_object())
    };
    gateway.set_identity(ClientIdentity {
        protocol_version: version::LATEST.to_string(),
        // What a client may answer through Manifold: a legacy session that declared it gets the
        // request relayed, a modern client's call gets it as input (MRTR); any other is refused.
        capabilities: raw(json!({ "sampling": {}, "elicitation": {}, "roots": {} })),
        client_info: raw(
            json!({ "name": config.gateway.name, "version": env!("CARGO_PKG_VERSION") }),
        ),
    });
    let (closing_tx, closing) = watch::channel(false);
    let app = Arc::new(App {
        gateway: gateway.clone(),
        store: Store::default(),
        allowed_hosts: config.listen.allowed_hosts.clone(),
        queue: (
            config.listen.session_queue,
            config.listen.session_queue_bytes,
        ),
        replay: replay::Bound {
            events: config.listen.replay_buffer,
            bytes: config.listen.session_queue_bytes,
        },
        sse_after: config.listen.sse_after,
        sse_retry: config.listen.sse_retry,
        closing,
        auth: auth.clone(),
    });
    {
        // The idle-session sweeper, owned with the other background tasks.
        let (app, idle, stop) = (
            app.clone(),
            config.listen.session_idle,
            background.stopping(),
        );
        background.spawn(async move {
            tokio::select! {
                () = expire_idle(app, idle) => {}
                () = stop.cancelled() => {}
            }
        });
    }
    {
        let app = app.clone();
        crate::reload::on_sighup(config, &background, move |new| {
            let app = app.clone();
            async move {
                app.gateway.policy().reload(&new);
                app.auth.reload(&new);
                for entry in app.store.all() {
                    entry.session.refresh_view().await;
                }
            }
        });
    }
    let path = &config.listen.path;
    let body_limits = body::BodyLimits {
        max_bytes: config.gateway.max_message_bytes,
        timeout: config.listen.body_timeout,
        metrics: gateway.metrics().clone(),
    };
    let router = Router::new()
        .route(
            path,
            post_route(post::handle).get(stream).delete(end_session),
        )
        .route("/sse", axum::routing::get(legacy::open))
        .route(legacy::MESSAGES_PATH, post_route(legacy::message))
        // Bodies are read whole, within their size and time bounds, once the client is known.
        .route_layer(axum::middleware::from_fn_with_state(
            body_limits,
            body::read_whole,
        ))
        // Every MCP route needs a principal: a valid bearer token, or anonymous without `[auth]`.
        .route_layer(AuthLayer::new(auth))
        .route(METADATA_PATH, axum::routing::get(metadata))
        .route(
            &format!("{METADATA_PATH}{path}"),
            axum::routing::get(metadata),
        )
        // Before anything else, authentication included: DNS-rebinding protection.
        .layer(axum::middleware::from_fn_with_state(app.clone(), guarded))
        .layer(DefaultBodyLimit::max(config.gateway.max_message_bytes))
        .with_state(app.clone());
    let drain = config.listen.drain;
    {
        // Waits for the shutdown signal (or for the face to end first).
        let stop = background.stopping();
        background.spawn(async move {
            tokio::select! {
                () = shutdown => {
                    tracing::info!("shutting down: no new connections; draining in-flight requests");
                    let _ = closing_tx.send(true);
                }
                () = stop.cancelled() => {}
            }
        });
    }
    let limits = server::Limits {
        max_connections: config.listen.max_connections,
        header_timeout: config.listen.header_timeout,
        idle_timeout: config.listen.idle_timeout,
        tls: config.listen.tls.as_ref().map(tls::acceptor).transpose()?,
        metrics: gateway.metrics().clone(),
    };
    let server = server::serve(listener, router, limits, app.closing.clone());
    let mut closing = app.closing.clone();
    let served = tokio::select! {
        r = server => r,
        // Once shutdown began, in-flight requests get `drain` to finish.
        _ = async {
            let _ = closing.wait_for(|c| *c).await;
            tokio::time::sleep(drain).await;
        } => {
            tracing::warn!("drain deadline passed; ending remaining requests");
            Ok(())
        }
    };
    background.shutdown().await;
    app.store.shutdown().await;
    gateway.shutdown().await;
    gateway.policy().flush().await;
    served
}

async fn expire_idle(app: Arc<App>, idle: Duration) {
    let period = (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(30));
    loop {
        tokio::time::sleep(period).await;
        let n = app.store.expire(idle);
        if n > 0 {
            tracing::debug!(expired = n, "idle sessions ended");
        }
    }
}

/// A refused request: its status and a plain-text reason.
pub(crate) struct Refusal(StatusCode, String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

/// A plain-text refusal.
pub(crate) fn refuse(status: StatusCode, why: impl Into<String>) -> Refusal {
    Refusal(status, why.into())
}

impl App {
    /// Opens a session; with per-session servers, it gets upstream sessions of its own.
    pub(crate) fn new_session(
        &self,
        principal: &Principal,
    ) -> std::io::Result<(String, Arc<store::HttpSession>)> {
        self.store
            .create(&self.gateway, self.queue, principal.0.clone())
    }

    /// The `Host`/`Origin` check every request passes first.
    pub(crate) fn guard(&self, uri: &axum::http::Uri, headers: &HeaderMap) -> Result<(), Refusal> {
        guard::check(uri, headers, &self.allowed_hosts).map_err(|refused| {
            tracing::warn!(why = %refused.why, "refused request (DNS-rebinding protection)");
            refuse(refused.status, refused.why)
        })
    }

    /// The session a request names: 400 without the header, 404 when unknown or expired — or
    /// when it belongs to another principal (a session is bound to who opened it, and another
    /// principal cannot even learn that it exists).
    pub(crate) fn session(
        &self,
        headers: &HeaderMap,
        principal: &Principal,
    ) -> Result<Arc<store::HttpSession>, Refusal> {
        let id = headers
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "Mcp-Session-Id header is required"))?;
        self.session_by_id(id, principal)
    }

    /// The session a refused request names, if `principal` opened it — without counting the
    /// request as activity (a refused request never keeps a session alive).
    pub(crate) fn session_of_refused(
        &self,
        headers: &HeaderMap,
        principal: &Principal,
    ) -> Option<Arc<store::HttpSession>> {
        let id = headers.get(SESSION_HEADER)?.to_str().ok()?;
        self.store
            .get(id)
            .filter(|s| *s.session.principal() == principal.0)
    }

    /// The session with this id, if `principal` opened it; only then does the request count as
    /// activity that keeps the session from expiring.
    pub(crate) fn session_by_id(
        &self,
        id: &str,
        principal: &Principal,
    ) -> Result<Arc<store::HttpSession>, Refusal> {
        let session = self
            .store
            .get(id)
            .filter(|s| *s.session.principal() == principal.0)
            .ok_or_else(|| refuse(StatusCode::NOT_FOUND, "unknown or expired session"))?;
        session.touch();
        Ok(session)
    }
}

/// GET: the session's stream of server-initiated messages. Several streams may be open; each
/// message goes to exactly one of them.
async fn stream(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    let accepts = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream") || a.contains("*/*"));
    if !accepts {
        let why = "GET needs Accept: text/event-stream";
        return refuse(StatusCode::NOT_ACCEPTABLE, why).into_response();
    }
    let session = match app.session(&headers, &principal) {
        Ok(s) => s,
        Err(r) => return r.into_response(),
    };
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    // Resuming a broken POST stream: the rest of that request's answer.
    if let Some((stream, log, seq)) = last_event_id.and_then(|id| session.streams.request(id)) {
        return sse::follow(log, stream, seq, None, app.replay);
    }
    let (stream_id, replay, missed) = session.streams.open(last_event_id);
    let capacity = app.replay;
    let missed = futures::stream::iter(
        missed
            .into_iter()
            .map(move |(seq, m)| event(replay::event_id(stream_id, seq), m)),
    );
    let closing = app.closing.clone();
    let live = futures::stream::unfold(
        (session, closing, replay),
        move |(session, mut closing, replay)| async move {
            let message = tokio::select! {
                m = session.outbox.recv() => m,
                _ = closing.wait_for(|c| *c) => None,
            }?;
            session.touch();
            // Recorded before it is sent: if the connection drops, a reconnect gets it again.
            let seq = replay.lock().record(&message, capacity);
            let event = event(replay::event_id(stream_id, seq), message);
            Some((event, (session, closing, replay)))
        },
    );
    let events = futures::StreamExt::chain(missed, live);
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// Refuses (403) requests whose `Host` or `Origin` is not allowed.
async fn guarded(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match app.guard(request.uri(), request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refused) => refused.into_response(),
    }
}

/// The RFC 9728 protected resource metadata (404 when no `[auth]` is configured).
async fn metadata(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.auth.required() {
        return refuse(StatusCode::NOT_FOUND, "no authorization is configured").into_response();
    }
    axum::Json(app.auth.metadata(&headers)).into_response()
}

fn event(id: String, data: String) -> Result<Event, std::convert::Infallible> {
    Ok(Event::default().event("message").id(id).data(data))
}

/// DELETE: ends the session and everything Manifold holds for it.
async fn end_session(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
) -> Response {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        return refuse(StatusCode::BAD_REQUEST, "Mcp-Session-Id header is required")
            .into_response();
    };
    if app.session_by_id(id, &principal).is_ok() && app.store.remove(id) {
        tracing::debug!(sessions = app.store.len(), "session ended by DELETE");
        StatusCode::OK.into_response()
    } else {
        refuse(StatusCode::NOT_FOUND, "unknown or expired session").into_response()
    }
}
