//! Deadlines: the timeout layer gives each call its deadline — the server's per-method timeout,
//! its own `timeout_ms`, the gateway's per-method timeout, or `request_timeout_ms`, in that order.
//! The upstream session enforces it, and on expiry sends `notifications/cancelled` upstream and
//! answers `-32603` with `data.reason = "timeout"`.

use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::call::{Call, Infallible, Reply};

/// Sets [`Call::timeout`].
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeoutLayer;

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;
    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout { inner }
    }
}

/// The service of [`TimeoutLayer`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
}

impl<S> Service<Call> for Timeout<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut call: Call) -> Self::Future {
        call.timeout = Some(call.server.timeout(call.method));
        self.inner.call(call)
    }
}
