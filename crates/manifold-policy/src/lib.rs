//! Manifold's policy, as tower layers over routed requests ([`Call`] → [`Reply`]), one module per
//! concern: `auth` (inbound bearer tokens and JWT, an HTTP layer), `access` (per-principal views),
//! `rate_limit`, `validate` (arguments against `inputSchema`), `timeout`, `concurrency`,
//! `result_size`, `audit` and `observe` (tool call metrics). [`Policy::stack`] assembles them.

pub mod access;
pub mod audit;
pub mod auth;
mod call;
pub mod concurrency;
mod jwks;
pub mod observe;
pub mod rate_limit;
pub mod result_size;
mod server;
pub mod timeout;
pub mod validate;

#[cfg(test)]
mod testing;

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use manifold_config::{AccessRule, Config};
use manifold_metrics::Metrics;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceBuilder, ServiceExt};

pub use access::View;
pub use call::{
    is_tool_error, outcome, BoxFuture, BoxReply, Call, Failure, Forward, Infallible, ItemKind,
    Outcome, Reply,
};
pub use server::ServerPolicy;
pub use validate::ArgumentSchema;

/// The policy stack around the innermost service that forwards a call upstream.
pub type Stack = BoxCloneSyncService<Call, Reply, Infallible>;

/// Principals whose views are remembered before the cache starts over.
const VIEW_CACHE: usize = 10_000;

/// The process-wide policy: built once from the config, shared by every session's gateway (so
/// rate limits and concurrency slots count across all of them).
pub struct Policy {
    metrics: Arc<Metrics>,
    /// Replaced whole by a reload (buckets start full again).
    limiter: RwLock<Arc<rate_limit::Limiter>>,
    /// The layers every routed call passes, built once (and again, with the new limits, by a
    /// reload; calls in flight finish on the stack they started on).
    stack: RwLock<Stack>,
    audit: Option<audit::AuditLog>,
    /// Replaced whole by a reload.
    access: RwLock<Arc<Vec<AccessRule>>>,
    views: Mutex<HashMap<Arc<str>, Arc<View>>>,
    servers: HashMap<String, Arc<ServerPolicy>>,
    default_timeout: Duration,
    stdio_principal: Arc<str>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("servers", &self.servers.len())
            .field("access", &self.access_rules().len())
            .field("limits", &self.limiter())
            .field("audit", &self.audit.is_some())
            .finish()
    }
}

impl Policy {
    /// The policy of `config`, counting into `metrics`. Opens the audit log and starts its writer
    /// thread; fails only when the audit file cannot be opened. JWT keys, if any, are loaded by
    /// the [`auth::Authenticator`], which needs the Tokio runtime.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> std::io::Result<Policy> {
        let limiter = Arc::new(rate_limit::Limiter::new(&config.limits, metrics.clone()));
        let audit = audit::AuditLog::open(&config.audit)?;
        Ok(Policy {
            stack: RwLock::new(build_stack(&metrics, audit.clone(), limiter.clone())),
            limiter: RwLock::new(limiter),
            audit,
            access: RwLock::new(Arc::new(config.access.clone())),
            views: Mutex::new(HashMap::new()),
            servers: config
                .servers
                .iter()
                .map(|s| (s.alias.clone(), Arc::new(ServerPolicy::new(config, s))))
                .collect(),
            default_timeout: config.gateway.request_timeout,
            stdio_principal: config.auth.stdio_principal.as_str().into(),
            metrics,
        })
    }

    /// Takes `[[access]]` and `[[limits]]` from a reloaded `config` (rate-limit buckets start
    /// full again): the stack is rebuilt and swapped in whole. Other sections need a restart.
    pub fn reload(&self, config: &Config) {
        let limiter = Arc::new(rate_limit::Limiter::new(
            &config.limits,
            self.metrics.clone(),
        ));
        let stack = build_stack(&self.metrics, self.audit.clone(), limiter.clone());
        *self.limiter.write() = limiter;
        *self.stack.write() = stack;
        *self.access.write() = Arc::new(config.access.clone());
        self.views.lock().clear();
    }

    /// Runs `call` through the policy stack; its [`Call::forward`] sends it upstream if every
    /// layer lets it through.
    pub async fn call(&self, call: Call) -> Reply {
        let stack = self.stack.read().clone();
        let Ok(reply) = stack.oneshot(call).await;
        reply
    }

    fn limiter(&self) -> Arc<rate_limit::Limiter> {
        self.limiter.read().clone()
    }

    fn access_rules(&self) -> Arc<Vec<AccessRule>> {
        self.access.read().clone()
    }

    /// Audits a `tools/call` of a name no upstream serves (or whose upstream is down), answered
    /// with `error` and counted as `outcome`.
    pub async fn audit_unknown_tool(
        &self,
        principal: &str,
        session: u64,
        tool: &str,
        arguments: Option<&manifold_protocol::RawValue>,
        outcome: Outcome,
        error: manifold_protocol::ErrorObject,
    ) {
        let Some(log) = &self.audit else { return };
        let failure = Failure { error, outcome };
        log.unknown_tool(principal, session, tool, arguments, failure)
            .await;
    }

    /// Audits a `tools/call` refused before routing (`reason`, e.g. `duplicate_key`), answered
    /// with `error`.
    pub async fn audit_refused(
        &self,
        principal: &str,
        session: u64,
        reason: &str,
        error: &manifold_protocol::ErrorObject,
    ) {
        if let Some(log) = &self.audit {
            let failure = Failure {
                error: error.clone(),
                outcome: "error",
            };
            log.refused(principal, session, reason, failure).await;
        }
    }

    /// Whether the audit log records call arguments (so they must be parsed).
    pub fn audits_arguments(&self) -> bool {
        self.audit
            .as_ref()
            .is_some_and(audit::AuditLog::records_arguments)
    }

    /// Writes out every audit line queued so far (at shutdown).
    pub async fn flush(&self) {
        if let Some(log) = &self.audit {
            log.flush().await;
        }
    }

    /// The principal the stdio face runs as.
    pub fn stdio_principal(&self) -> Arc<str> {
        self.stdio_principal.clone()
    }

    /// The policy of the server with this alias.
    pub fn server(&self, alias: &str) -> Arc<ServerPolicy> {
        self.servers
            .get(alias)
            .cloned()
            .unwrap_or_else(|| Arc::new(ServerPolicy::unlimited(alias, self.default_timeout)))
    }

    /// Whether what a client sees can depend on who it is: `[[access]]` rules exist.
    pub fn views_vary(&self) -> bool {
        !self.access_rules().is_empty()
    }

    /// What `principal` may see.
    pub fn view(&self, principal: &str) -> Arc<View> {
        let mut views = self.views.lock();
        if let Some(v) = views.get(principal) {
            return v.clone();
        }
        if views.len() >= VIEW_CACHE {
            views.clear();
        }
        let view = Arc::new(View::of(principal, &self.access_rules()));
        views.insert(principal.into(), view.clone());
        view
    }
}

/// The policy stack around the service that forwards a call upstream. Outermost first, so each
/// layer sees what the ones before it let through:
fn build_stack(
    metrics: &Arc<Metrics>,
    audit: Option<audit::AuditLog>,
    limiter: Arc<rate_limit::Limiter>,
) -> Stack {
    let stack = ServiceBuilder::new()
        // 1. Every tool call is counted, refused ones too.
        .layer(observe::ObserveLayer::new(metrics.clone()))
        // 2. Every tool call is audited with what was asked and how it ended.
        .option_layer(audit.map(audit::AuditLayer::new))
        // 3. What the principal's view hides fails as if it did not exist.
        .layer(access::AccessLayer)
        // 4. Rate limits, before anything is spent on the call.
        .option_layer((!limiter.is_empty()).then(|| rate_limit::RateLimitLayer::new(limiter)))
        // 5. Arguments against the tool's inputSchema; invalid ones never leave.
        .layer(validate::ValidateLayer)
        // 6. The deadline the upstream session enforces (and cancels upstream at).
        .layer(timeout::TimeoutLayer)
        // 7. A slot of the server's concurrency limit, waited for a bounded time.
        .layer(concurrency::ConcurrencyLayer)
        // 8. The size of what comes back.
        .layer(result_size::ResultSizeLayer)
        .service(Forwarder);
    BoxCloneSyncService::new(stack)
}

/// The innermost service: hands the call to its [`Call::forward`].
#[derive(Debug, Clone, Copy)]
struct Forwarder;

impl Service<Call> for Forwarder {
    type Response = Reply;
    type Error = Infallible;
    /// The forward's own future, not boxed again.
    type Future = futures::future::Either<
        futures::future::Map<BoxFuture, fn(Reply) -> Result<Reply, Infallible>>,
        std::future::Ready<Result<Reply, Infallible>>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut call: Call) -> Self::Future {
        use futures::FutureExt;
        match call.forward.take() {
            Some(forward) => futures::future::Either::Left(forward(&call).map(Ok as fn(_) -> _)),
            None => futures::future::Either::Right(std::future::ready(Ok(Err(Failure {
                error: manifold_protocol::ErrorObject::new(
                    manifold_protocol::code::INTERNAL_ERROR,
                    "a routed call with nothing to send upstream",
                ),
                outcome: "error",
            })))),
        }
    }
}
