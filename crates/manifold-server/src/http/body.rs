//! Request bodies, read whole before any handler runs, under two bounds: `gateway.max_message_bytes`
//! (a declared `Content-Length` over it is refused at once with 413, a body growing past it too)
//! and `listen.body_timeout_ms` (a body that has not fully arrived by then — a stalled upload, a
//! chunked body that never ends — gets 408 and its connection is closed).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use manifold_metrics::Metrics;

/// The bounds of one request body.
#[derive(Clone)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: usize,
    pub(crate) timeout: Duration,
    pub(crate) metrics: Arc<Metrics>,
}

/// Middleware: reads the body within its bounds, then hands the request on with it in memory.
pub(crate) async fn read_whole(
    State(limits): State<BodyLimits>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes as u64) {
        return too_large(limits.max_bytes);
    }
    let (parts, body) = request.into_parts();
    let read = axum::body::to_bytes(body, limits.max_bytes);
    let bytes = match tokio::time::timeout(limits.timeout, read).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            let over = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if over {
                return too_large(limits.max_bytes);
            }
            return closing(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {e}"),
            );
        }
        Err(_) => {
            limits
                .metrics
                .connections_timed_out
                .with_label_values(&["body"])
                .inc();
            let why = format!(
                "the request body did not arrive within {} ms (listen.body_timeout_ms)",
                limits.timeout.as_millis()
            );
            return closing(StatusCode::REQUEST_TIMEOUT, why);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large(max: usize) -> Response {
    let why = format!("the request body exceeds {max} bytes (gateway.max_message_bytes)");
    closing(StatusCode::PAYLOAD_TOO_LARGE, why)
}

/// A plain-text refusal after which the connection is closed (its body was not read to its end).
fn closing(status: StatusCode, why: String) -> Response {
    let mut response = (status, why).into_response();
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
