//! One session to one upstream MCP server: the legacy handshake and version negotiation, id
//! allocation and the pending-request table, per-request timeouts that cancel upstream, and
//! supervision (restart with bounded exponential backoff, unhealthy after repeated failures).

mod connector;
mod error;
mod handshake;
mod listen;
mod modern;
mod modern_compat;
mod pending;
mod session;
mod supervisor;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use manifold_protocol::{Notification, RawValue, Request};
use manifold_transport::{HttpParams, StdioParams};

pub use connector::Connector;
pub use error::CallError;
pub use session::Upstream;

/// How to reach an upstream.
#[derive(Debug, Clone)]
pub enum TransportSpec {
    /// A child process speaking stdio.
    Stdio(StdioParams),
    /// A Streamable HTTP endpoint.
    Http(HttpParams),
    /// A peer in this process (embedding, and unit tests), reached through a fresh connection
    /// for every life of the upstream.
    InProcess(Connector),
}

/// Which protocol era an upstream is spoken to in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Era {
    /// Probed with `server/discover` at its first start; the verdict is kept for later starts.
    #[default]
    Auto,
    /// `initialize` (2024-11-05 … 2025-11-25).
    Legacy,
    /// 2026-07-28: `server/discover`, then every request stateless.
    Modern,
}

/// Restart policy for a failed upstream.
#[derive(Debug, Clone, Copy)]
pub struct RestartPolicy {
    /// Delay before the first restart.
    pub initial_backoff: Duration,
    /// Ceiling of the doubling delay.
    pub max_backoff: Duration,
    /// Consecutive failed starts after which the upstream is reported unhealthy.
    pub unhealthy_after: u32,
}

/// Everything needed to run one upstream session.
#[derive(Debug, Clone)]
pub struct UpstreamSpec {
    /// Config alias, used in logs and errors.
    pub alias: String,
    /// Transport.
    pub transport: TransportSpec,
    /// Default per-request timeout.
    pub timeout: Duration,
    /// Restart policy.
    pub restart: RestartPolicy,
    /// Step between stdin close, SIGTERM and SIGKILL at shutdown.
    pub shutdown_grace: Duration,
    /// Interval of health pings while up (zero: none). An upstream that leaves a ping unanswered
    /// past `timeout` is restarted. A modern upstream is pinged with `server/discover`.
    pub ping_interval: Duration,
    /// Which era it is spoken to in.
    pub era: Era,
}

/// What Manifold tells an upstream about its client in `initialize`: the downstream client's own
/// declared capabilities (only those Manifold can relay), its identity and protocol version.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// Protocol version to request.
    pub protocol_version: String,
    /// `capabilities` object to declare.
    pub capabilities: Box<RawValue>,
    /// `clientInfo` object to send.
    pub client_info: Box<RawValue>,
}

/// What an upstream said about itself in its `initialize` result.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    /// Negotiated protocol version.
    pub protocol_version: String,
    /// Its `capabilities` object.
    pub capabilities: serde_json::Value,
    /// Its `serverInfo`.
    pub server_info: serde_json::Value,
    /// Its `instructions`, if any.
    pub instructions: Option<String>,
}

impl ServerInfo {
    /// Whether the upstream declared the top-level capability `name` (`tools`, `prompts`, ...).
    pub fn has(&self, name: &str) -> bool {
        self.capabilities.get(name).is_some_and(|v| !v.is_null())
    }
}

/// The health of one upstream.
#[derive(Debug, Clone)]
pub enum Health {
    /// Starting or waiting for the client's `initialize`.
    Starting,
    /// Handshake done; serving.
    Up(Arc<ServerInfo>),
    /// Not serving; will be restarted after a backoff unless stopped.
    Down {
        /// Why.
        reason: String,
        /// Set after `unhealthy_after` consecutive failed starts.
        unhealthy: bool,
    },
    /// Shut down for good.
    Stopped,
}

/// What an [`InlineHook`] did with a notification.
pub enum Inline {
    /// Not its business: the notification is queued as an event.
    Pass,
    /// Handled.
    Done,
    /// Handled once this completes; the connection reads nothing further until then, so what
    /// the upstream sent after the notification (the response it precedes) cannot overtake it.
    Wait(std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>),
}

/// A notification handler run by the connection itself, in order with responses: what it
/// handles is never queued as an event. Used for request-scoped notifications such as progress,
/// which must reach the client before the response they precede. It must not block; it returns
/// [`Inline::Wait`] when it must wait (a stdio client reading slowly).
pub type InlineHook = Arc<dyn Fn(usize, &Notification) -> Inline + Send + Sync>;

/// Events an upstream reports to the router, tagged with the upstream's index.
#[derive(Debug)]
pub enum UpstreamEvent {
    /// The upstream completed its handshake (first start or restart).
    Up(usize),
    /// The upstream stopped serving.
    Down(usize),
    /// A notification from the upstream.
    Notification(usize, Notification),
    /// A server→client request from the upstream.
    Request(usize, Request),
}

impl manifold_transport::queue::Weigh for UpstreamEvent {
    /// What a queued event keeps alive: a message's params (its largest part).
    fn weight(&self) -> usize {
        let params = match self {
            UpstreamEvent::Notification(_, n) => n.params.as_ref(),
            UpstreamEvent::Request(_, r) => r.params.as_ref(),
            UpstreamEvent::Up(_) | UpstreamEvent::Down(_) => None,
        };
        64 + params.map_or(0, |p| p.get().len())
    }
}

/// The queue an upstream reports its events on.
pub type EventSender = manifold_transport::queue::QueueSender<UpstreamEvent>;
