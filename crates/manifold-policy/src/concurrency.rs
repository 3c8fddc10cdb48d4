//! Per-server concurrency limits (`max_concurrency`): a request waits at most `queue_timeout_ms`
//! for a slot, then fails with `-32000` (`data.reason = "overloaded"`) without reaching the
//! upstream. The slot is held until the upstream answers.

use std::task::{Context, Poll};

use manifold_protocol::ErrorObject;
use serde_json::json;
use tower::{Layer, Service};

use crate::call::{BoxReply, Call, Failure, Infallible, Reply};

/// JSON-RPC code of a request refused for want of a slot.
pub const OVERLOADED: i64 = -32000;

/// Waits for a slot of the call's server.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConcurrencyLayer;

impl<S> Layer<S> for ConcurrencyLayer {
    type Service = Concurrency<S>;
    fn layer(&self, inner: S) -> Concurrency<S> {
        Concurrency { inner }
    }
}

/// The service of [`ConcurrencyLayer`].
#[derive(Debug, Clone)]
pub struct Concurrency<S> {
    inner: S,
}

impl<S> Service<Call> for Concurrency<S>
where
    S: Service<Call, Response = Reply, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = futures::future::Either<S::Future, BoxReply>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let Some((slots, max)) = call.server.slots.clone() else {
            return futures::future::Either::Left(self.inner.call(call));
        };
        // The readied service answers this call; a clone takes its place (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        futures::future::Either::Right(Box::pin(async move {
            let wait = call.server.queue_timeout;
            let permit = match tokio::time::timeout(wait, slots.acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    let alias = &call.server.alias;
                    let error = ErrorObject::with_data(
                        OVERLOADED,
                        format!(
                            "upstream `{alias}` is at its limit of {max} requests in flight; waited {} ms",
                            wait.as_millis()
                        ),
                        json!({ "reason": "overloaded", "server": &**alias, "maxConcurrency": max }),
                    );
                    return Ok(Err(Failure {
                        error,
                        outcome: "unavailable",
                    }));
                }
            };
            let reply = inner.call(call).await;
            drop(permit);
            reply
        }))
    }
}
