//! The admin listener: `/metrics` (Prometheus text), `/healthz` (alive), `/readyz` (enough
//! upstreams up). Served beside either face, on its own address, under the same header and idle
//! timeouts as the HTTP face and at most [`ADMIN_CONNECTIONS`] connections.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use manifold_router::Gateway;

use crate::background::Background;

/// Connections the admin listener serves at once (a scraper needs one or two).
pub const ADMIN_CONNECTIONS: usize = 64;

struct Admin {
    gateway: Gateway,
    min_upstreams: usize,
}

/// Serves the admin endpoints on `listener` until `background` shuts down.
pub(crate) fn spawn(
    listener: TcpListener,
    gateway: Gateway,
    config: &manifold_config::Config,
    background: &Background,
) {
    let limits = crate::http::Limits {
        max_connections: ADMIN_CONNECTIONS,
        header_timeout: config.listen.header_timeout,
        idle_timeout: config.listen.idle_timeout,
        tls: None,
        metrics: gateway.metrics().clone(),
    };
    let state = Arc::new(Admin {
        gateway,
        min_upstreams: config.admin.min_upstreams,
    });
    let router = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(state);
    let stop = background.stopping();
    background.spawn(async move {
        let (close, closing) = tokio::sync::watch::channel(false);
        let serving = crate::http::serve_connections(listener, router, limits, closing);
        tokio::pin!(serving);
        let served = tokio::select! {
            served = &mut serving => served,
            () = stop.cancelled() => {
                // Stop accepting; a scrape in progress finishes, idle connections close.
                let _ = close.send(true);
                serving.await
            }
        };
        if let Err(e) = served {
            tracing::warn!(error = %e, "admin listener stopped");
        }
    });
}

async fn metrics(State(admin): State<Arc<Admin>>) -> Response {
    let body = admin.gateway.metrics().render();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn ready(State(admin): State<Arc<Admin>>) -> Response {
    if admin.gateway.ready(admin.min_upstreams) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: too few upstreams up\n",
        )
            .into_response()
    }
}

/// Binds the admin address of `config`, if any. A failure to bind is logged, not fatal: Manifold
/// keeps serving MCP (several stdio instances on one machine cannot all have the default port).
pub async fn bind(config: &manifold_config::Config) -> Option<TcpListener> {
    let addr = config.admin.listen?;
    match TcpListener::bind(addr).await {
        Ok(listener) => {
            let bound = listener.local_addr().map_or(addr, |a| a);
            tracing::info!(address = %bound, "admin listener up (/metrics, /healthz, /readyz)");
            Some(listener)
        }
        Err(e) => {
            tracing::warn!(address = %addr, error = %e, "cannot bind the admin listener; continuing without it");
            None
        }
    }
}
