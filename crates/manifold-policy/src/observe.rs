//! Counts every tool call in `manifold_tool_calls_total{server,tool,outcome}`, refused ones
//! included. Tool names come from the catalog (never from arguments), so the label set is bounded.

use std::sync::Arc;
use std::task::{Context, Poll};

use manifold_metrics::Metrics;
use tower::{Layer, Service};

use crate::call::{outcome, BoxReply, Call, Infallible, ItemKind, Reply};

/// Counts tool calls by outcome.
#[derive(Debug, Clone)]
pub struct ObserveLayer {
    metrics: Arc<Metrics>,
}

impl ObserveLayer {
    /// A layer counting into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> ObserveLayer {
        ObserveLayer { metrics }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;
    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service of [`ObserveLayer`].
#[derive(Debug, Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Call> for Observe<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = futures::future::Either<S::Future, BoxReply>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        if call.kind != ItemKind::Tool {
            return futures::future::Either::Left(self.inner.call(call));
        }
        let counter = self.metrics.tool_calls.clone();
        let (server, tool) = (call.server.alias.clone(), call.name.clone());
        let future = self.inner.call(call);
        futures::future::Either::Right(Box::pin(async move {
            let reply = future.await?;
            counter
                .with_label_values(&[&*server, tool.as_str(), outcome(&reply)])
                .inc();
            Ok(reply)
        }))
    }
}
