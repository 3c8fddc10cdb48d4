//! Rate limits (`[[limits]]`): GCRA buckets from `governor`, one per rule and scope key
//! (principal, session, or one for everyone). Over the limit a request gets `-32000` with
//! `data: {"reason": "rate_limited", "retryAfterMs": N, "rule": NAME}` and never reaches the
//! upstream. Every matching rule applies, in config order; the first that refuses answers.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::Either;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use manifold_config::{LimitRule, LimitScope};
use manifold_metrics::Metrics;
use manifold_protocol::ErrorObject;
use serde_json::json;
use tower::{Layer, Service};

use crate::call::{Call, Failure, Infallible, ItemKind, Reply};

/// JSON-RPC code of a rate-limited request (DESIGN.md § Interfaces).
pub const RATE_LIMITED: i64 = -32000;

/// Keyed buckets are swept of idle keys once per this many checks.
const SWEEP_EVERY: u64 = 4096;

enum Buckets {
    Global(RateLimiter<NotKeyed, InMemoryState, DefaultClock>),
    Keyed(RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>),
}

/// Every rule with its buckets.
pub struct Limiter {
    rules: Vec<(LimitRule, Buckets)>,
    clock: DefaultClock,
    checks: AtomicU64,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("rules", &self.rules.len())
            .finish()
    }
}

impl Limiter {
    /// Buckets for `rules`, counting refusals into `metrics`.
    pub fn new(rules: &[LimitRule], metrics: Arc<Metrics>) -> Limiter {
        let clock = DefaultClock::default();
        let rules = rules
            .iter()
            .map(|rule| {
                let quota = quota(rule);
                let buckets = match rule.scope {
                    LimitScope::Global => {
                        Buckets::Global(RateLimiter::direct_with_clock(quota, clock.clone()))
                    }
                    LimitScope::Principal | LimitScope::Session => {
                        Buckets::Keyed(RateLimiter::dashmap_with_clock(quota, clock.clone()))
                    }
                };
                (rule.clone(), buckets)
            })
            .collect();
        Limiter {
            rules,
            clock,
            checks: AtomicU64::new(0),
            metrics,
        }
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Takes `call`'s cost from every matching rule's bucket, or refuses it.
    pub fn check(&self, call: &Call) -> Result<(), Failure> {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        for (rule, buckets) in &self.rules {
            if !matches(rule, call) {
                continue;
            }
            let cost = cost(rule, call);
            let verdict = match buckets {
                Buckets::Global(b) => b.check_n(cost),
                Buckets::Keyed(b) => {
                    if n % SWEEP_EVERY == SWEEP_EVERY - 1 {
                        b.retain_recent();
                    }
                    let key = match rule.scope {
                        LimitScope::Session => call.session.to_string(),
                        _ => call.principal.to_string(),
                    };
                    b.check_key_n(&key, cost)
                }
            };
            let wait = match verdict {
                Ok(Ok(())) => continue,
                Ok(Err(not_until)) => not_until.wait_time_from(self.clock.now()),
                // Costs are validated to fit the burst; this is only reached if they do not.
                Err(_) => rule.per,
            };
            self.metrics
                .rate_limited
                .with_label_values(&[rule.name.as_str()])
                .inc();
            return Err(refusal(&rule.name, wait));
        }
        Ok(())
    }
}

fn quota(rule: &LimitRule) -> Quota {
    let period = (rule.per / rule.rate).max(Duration::from_nanos(1));
    let burst = NonZeroU32::new(rule.burst).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst)
}

fn matches(rule: &LimitRule, call: &Call) -> bool {
    if !rule.principal.allows(&call.principal)
        || !rule.server.allows(&call.server.alias)
        || !rule.method.allows(call.method)
    {
        return false;
    }
    let narrowed = rule.tools.is_some() || rule.prompts.is_some() || rule.resources.is_some();
    if !narrowed {
        return true;
    }
    let filter = match call.kind {
        ItemKind::Tool => &rule.tools,
        ItemKind::Prompt => &rule.prompts,
        ItemKind::Resource => &rule.resources,
    };
    filter.as_ref().is_some_and(|f| f.allows(&call.name))
}

fn cost(rule: &LimitRule, call: &Call) -> NonZeroU32 {
    let weight = if call.kind == ItemKind::Tool {
        rule.costs
            .iter()
            .filter(|(f, _)| f.allows(&call.name))
            .map(|(_, w)| *w)
            .max()
            .unwrap_or(1)
    } else {
        1
    };
    NonZeroU32::new(weight).unwrap_or(NonZeroU32::MIN)
}

/// The `-32000` answer of a refused request.
pub fn refusal(rule: &str, wait: Duration) -> Failure {
    // Rounded up: retrying after `retryAfterMs` must succeed.
    let ms = wait.as_nanos().div_ceil(1_000_000).max(1) as u64;
    Failure {
        error: ErrorObject::with_data(
            RATE_LIMITED,
            format!("rate limited by rule `{rule}`: retry in {ms} ms"),
            json!({ "reason": "rate_limited", "retryAfterMs": ms, "rule": rule }),
        ),
        outcome: "rate_limited",
    }
}

/// Applies the [`Limiter`] before anything is forwarded.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limiter: Arc<Limiter>,
}

impl RateLimitLayer {
    /// A layer checking `limiter`.
    pub fn new(limiter: Arc<Limiter>) -> RateLimitLayer {
        RateLimitLayer { limiter }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;
    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

/// The service of [`RateLimitLayer`].
#[derive(Debug, Clone)]
pub struct RateLimit<S> {
    inner: S,
    limiter: Arc<Limiter>,
}

impl<S> Service<Call> for RateLimit<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = Either<std::future::Ready<Result<Reply, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        match self.limiter.check(&call) {
            Ok(()) => Either::Right(self.inner.call(call)),
            Err(refused) => Either::Left(std::future::ready(Ok(Err(refused)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::call;

    fn limiter(toml: &str) -> Limiter {
        let config = manifold_config::load_str(toml, manifold_config::Format::Toml).unwrap();
        Limiter::new(&config.limits, Arc::new(Metrics::new()))
    }

    fn retry_after(f: &Failure) -> u64 {
        let data: serde_json::Value =
            serde_json::from_str(f.error.data.as_ref().unwrap().get()).unwrap();
        assert_eq!(data["reason"], "rate_limited");
        data["retryAfterMs"].as_u64().unwrap()
    }

    #[test]
    fn burst_then_refusal_with_the_wait() {
        let l = limiter("[[limits]]\nname = \"slow\"\nrate = 1\nper_ms = 60000\nburst = 3\n");
        for _ in 0..3 {
            assert!(l.check(&call("alice", 1, "a__echo")).is_ok());
        }
        let refused = l.check(&call("alice", 1, "a__echo")).unwrap_err();
        let ms = retry_after(&refused);
        assert!((59_000..=60_000).contains(&ms), "{ms}");
        assert_eq!(refused.error.code, RATE_LIMITED);
        // Another principal has a bucket of its own.
        assert!(l.check(&call("bob", 2, "a__echo")).is_ok());
    }

    #[test]
    fn scopes_and_matching() {
        let l = limiter(
            r#"
            [[limits]]
            name = "global"
            scope = "global"
            tools = ["a__*"]
            rate = 2
            per_ms = 60000
            [[limits]]
            name = "session"
            scope = "session"
            server = "b"
            rate = 1
            per_ms = 60000
            [[limits]]
            name = "costly"
            tools = ["c__*"]
            rate = 10
            per_ms = 60000
            costs = { "c__deep*" = 6 }
            "#,
        );
        assert!(l.check(&call("alice", 1, "a__x")).is_ok());
        assert!(l.check(&call("bob", 2, "a__y")).is_ok());
        assert!(l.check(&call("carol", 3, "a__z")).is_err(), "global bucket");
        assert!(
            l.check(&call("alice", 1, "other__x")).is_ok(),
            "not matched"
        );
        let mut b = call("alice", 1, "b__x");
        b.server = Arc::new(crate::ServerPolicy::unlimited("b", Duration::from_secs(1)));
        assert!(l.check(&b).is_ok());
        let mut b2 = call("alice", 1, "b__x");
        b2.server = b.server.clone();
        assert!(l.check(&b2).is_err(), "same session");
        let mut b3 = call("alice", 9, "b__x");
        b3.server = b.server.clone();
        assert!(l.check(&b3).is_ok(), "another session");
        assert!(l.check(&call("dan", 4, "c__deep_search")).is_ok());
        assert!(
            l.check(&call("dan", 4, "c__deep_search")).is_err(),
            "6+6 > 10"
        );
        assert!(l.check(&call("dan", 4, "c__cheap")).is_ok());
    }
}
