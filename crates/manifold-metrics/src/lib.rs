//! Manifold's Prometheus metrics (names from DESIGN.md § Interfaces), in a registry Manifold owns
//! and injects where it counts: nothing global. Label values come only from closed sets (methods,
//! outcomes, transports, directions) or from configured names (server aliases, tool names in the
//! catalog), never from arguments.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};
pub use prometheus::{IntCounter, IntGauge};

/// Every metric Manifold exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `manifold_requests_total{method,server,outcome}`.
    pub requests: IntCounterVec,
    /// `manifold_request_duration_seconds{method,server}`.
    pub request_duration: HistogramVec,
    /// `manifold_tool_calls_total{server,tool,outcome}`.
    pub tool_calls: IntCounterVec,
    /// `manifold_upstream_up{server}`: 1 while the upstream serves.
    pub upstream_up: IntGaugeVec,
    /// `manifold_upstream_restarts_total{server}`.
    pub upstream_restarts: IntCounterVec,
    /// `manifold_sessions{transport}`: open downstream sessions.
    pub sessions: IntGaugeVec,
    /// `manifold_inflight_requests{server}`.
    pub inflight: IntGaugeVec,
    /// `manifold_notifications_total{method,direction}`.
    pub notifications: IntCounterVec,
    /// `manifold_rate_limited_total{rule}`.
    pub rate_limited: IntCounterVec,
    /// `manifold_unroutable_total{method}`: server→client requests refused because no single
    /// client could be identified (never guessed).
    pub unroutable: IntCounterVec,
    /// `manifold_dropped_messages_total{queue}`: messages for a client dropped because its queue
    /// was at its message or byte bound (`session`: an HTTP session's GET/SSE stream;
    /// `request`: one POST's SSE stream).
    pub dropped: IntCounterVec,
    /// `manifold_connections_refused_total{listener}`: connections refused at
    /// `listen.max_connections`.
    pub connections_refused: IntCounterVec,
    /// `manifold_connections_timed_out_total{phase}`: HTTP connections closed by a timeout
    /// (`headers`, `body`, `idle`, `write`: the client read nothing of its answer).
    pub connections_timed_out: IntCounterVec,
}

/// MCP methods Manifold labels by name; anything else is `other`.
const KNOWN_METHODS: &[&str] = &[
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "completion/complete",
    "logging/setLevel",
    "notifications/progress",
    "notifications/message",
    "notifications/cancelled",
    "notifications/tools/list_changed",
    "notifications/prompts/list_changed",
    "notifications/resources/list_changed",
    "notifications/resources/updated",
    "notifications/roots/list_changed",
    "notifications/elicitation/complete",
    "sampling/createMessage",
    "elicitation/create",
    "roots/list",
];

/// The label value for a method: itself if it is a known MCP method, else `other`, so a client
/// cannot grow the label set.
pub fn method_label(method: &str) -> &str {
    KNOWN_METHODS
        .iter()
        .copied()
        .find(|m| *m == method)
        .unwrap_or("other")
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(c.clone()))
                .expect("registered once");
            c
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
            registry
                .register(Box::new(g.clone()))
                .expect("registered once");
            g
        };
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "manifold_request_duration_seconds",
                "Time from a client request to its answer.",
            )
            .buckets(vec![
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["method", "server"],
        )
        .expect("valid metric");
        registry
            .register(Box::new(request_duration.clone()))
            .expect("registered once");
        Metrics {
            requests: counter(
                "manifold_requests_total",
                "Client requests answered, by method, upstream and outcome.",
                &["method", "server", "outcome"],
            ),
            request_duration,
            tool_calls: counter(
                "manifold_tool_calls_total",
                "tools/call requests, by upstream, tool and outcome.",
                &["server", "tool", "outcome"],
            ),
            upstream_up: gauge(
                "manifold_upstream_up",
                "1 while the upstream is up and serving.",
                &["server"],
            ),
            upstream_restarts: counter(
                "manifold_upstream_restarts_total",
                "Times an upstream came back up after being down.",
                &["server"],
            ),
            sessions: gauge(
                "manifold_sessions",
                "Open downstream sessions, by transport.",
                &["transport"],
            ),
            inflight: gauge(
                "manifold_inflight_requests",
                "Requests in flight to each upstream.",
                &["server"],
            ),
            notifications: counter(
                "manifold_notifications_total",
                "Notifications relayed, by method and direction.",
                &["method", "direction"],
            ),
            rate_limited: counter(
                "manifold_rate_limited_total",
                "Requests refused by a rate limit rule.",
                &["rule"],
            ),
            unroutable: counter(
                "manifold_unroutable_total",
                "Server-to-client requests refused because no single client could be identified.",
                &["method"],
            ),
            dropped: counter(
                "manifold_dropped_messages_total",
                "Messages for a client dropped because its queue was full, by queue.",
                &["queue"],
            ),
            connections_refused: counter(
                "manifold_connections_refused_total",
                "Connections refused because the listener was at listen.max_connections.",
                &["listener"],
            ),
            connections_timed_out: counter(
                "manifold_connections_timed_out_total",
                "HTTP connections closed by a timeout, by phase (headers, body, idle, write).",
                &["phase"],
            ),
            registry,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let families = self.registry.gather();
        if TextEncoder::new().encode(&families, &mut out).is_err() {
            return String::new();
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_carries_names_and_labels() {
        let m = Metrics::new();
        m.requests
            .with_label_values(&["tools/call", "alpha", "ok"])
            .inc();
        m.upstream_up.with_label_values(&["alpha"]).set(1);
        let text = m.render();
        assert!(
            text.contains(
                r#"manifold_requests_total{method="tools/call",outcome="ok",server="alpha"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"manifold_upstream_up{server="alpha"} 1"#),
            "{text}"
        );
        assert_eq!(method_label("tools/call"), "tools/call");
        assert_eq!(method_label("attacker/chosen"), "other");
    }
}
