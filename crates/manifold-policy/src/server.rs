//! [`ServerPolicy`]: what the policy knows about one upstream — its deadlines per method, its
//! concurrency slots, its largest accepted result, whether its tool arguments are validated.
//! One per configured server, shared by every session's gateway.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use manifold_config::{Config, Server};
use tokio::sync::Semaphore;

/// The policy of one upstream.
#[derive(Debug)]
pub struct ServerPolicy {
    /// The server's alias (the `server` label).
    pub alias: Arc<str>,
    /// Deadline per method, server-specific first, then gateway-wide.
    timeouts: BTreeMap<String, Duration>,
    /// Deadline of any other method.
    default_timeout: Duration,
    /// Slots for requests in flight (`max_concurrency`).
    pub(crate) slots: Option<(Arc<Semaphore>, usize)>,
    /// How long a request waits for a slot.
    pub(crate) queue_timeout: Duration,
    /// Largest accepted result.
    pub(crate) max_result_bytes: Option<usize>,
    /// Shorten tool results over the limit instead of failing them.
    pub(crate) truncate: bool,
    /// Whether `tools/call` arguments are checked against the tool's schema.
    pub validate_arguments: bool,
}

impl ServerPolicy {
    /// The policy of `server` under the gateway-wide settings of `config`.
    pub fn new(config: &Config, server: &Server) -> ServerPolicy {
        let mut timeouts = config.gateway.method_timeouts.clone();
        timeouts.extend(server.method_timeouts.iter().map(|(m, d)| (m.clone(), *d)));
        // A server's own `timeout_ms` beats gateway-wide per-method deadlines.
        if let Some(t) = server.timeout {
            for (method, d) in timeouts.iter_mut() {
                if !server.method_timeouts.contains_key(method) {
                    *d = t;
                }
            }
        }
        ServerPolicy {
            alias: server.alias.as_str().into(),
            timeouts,
            default_timeout: server.timeout.unwrap_or(config.gateway.request_timeout),
            slots: server
                .max_concurrency
                .map(|n| (Arc::new(Semaphore::new(n)), n)),
            queue_timeout: server.queue_timeout,
            max_result_bytes: server.max_result_bytes,
            truncate: server.truncate_results,
            validate_arguments: server.validate_arguments,
        }
    }

    /// A policy with no limits (for requests to a server missing from the config).
    pub fn unlimited(alias: &str, timeout: Duration) -> ServerPolicy {
        ServerPolicy {
            alias: alias.into(),
            timeouts: BTreeMap::new(),
            default_timeout: timeout,
            slots: None,
            queue_timeout: Duration::ZERO,
            max_result_bytes: None,
            truncate: false,
            validate_arguments: true,
        }
    }

    /// The deadline of `method` on this server: its `method_timeouts_ms`, then its `timeout_ms`,
    /// then `gateway.method_timeouts_ms`, then `gateway.request_timeout_ms`.
    pub fn timeout(&self, method: &str) -> Duration {
        self.timeouts
            .get(method)
            .copied()
            .unwrap_or(self.default_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_precedence() {
        let config = manifold_config::load_str(
            r#"
            [gateway]
            request_timeout_ms = 1000
            method_timeouts_ms = { "tools/call" = 2000, "prompts/get" = 3000 }
            [servers.a]
            command = "x"
            timeout_ms = 4000
            method_timeouts_ms = { "tools/call" = 5000 }
            [servers.b]
            command = "x"
            "#,
            manifold_config::Format::Toml,
        )
        .unwrap();
        let a = ServerPolicy::new(&config, &config.servers[0]);
        let b = ServerPolicy::new(&config, &config.servers[1]);
        assert_eq!(a.timeout("tools/call"), Duration::from_millis(5000));
        assert_eq!(a.timeout("prompts/get"), Duration::from_millis(4000));
        assert_eq!(a.timeout("resources/read"), Duration::from_millis(4000));
        assert_eq!(b.timeout("tools/call"), Duration::from_millis(2000));
        assert_eq!(b.timeout("prompts/get"), Duration::from_millis(3000));
        assert_eq!(b.timeout("resources/read"), Duration::from_millis(1000));
    }
}
