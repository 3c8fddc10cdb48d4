//! The frozen, validated configuration types other crates code against, and their defaults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::filter::Filter;

/// Default `gateway.name`: the `serverInfo.name` Manifold reports.
pub const DEFAULT_NAME: &str = "manifold";
/// Default `gateway.separator` between namespace and tool/prompt name.
pub const DEFAULT_SEPARATOR: &str = "__";
/// Default `gateway.request_timeout_ms`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(60_000);
/// Default `gateway.startup_wait_ms`.
pub const DEFAULT_STARTUP_WAIT: Duration = Duration::from_millis(5_000);
/// Default `gateway.max_message_bytes` (4 MiB).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
/// Smallest accepted `gateway.max_message_bytes`.
pub const MIN_MAX_MESSAGE_BYTES: usize = 1024;
/// Default `gateway.ping_interval_ms`.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_millis(30_000);
/// Default `gateway.shutdown_grace_ms`.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_millis(2_000);
/// Default `gateway.restart.initial_backoff_ms`.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// Default `gateway.restart.max_backoff_ms`.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_millis(30_000);
/// Default `gateway.restart.unhealthy_after`.
pub const DEFAULT_UNHEALTHY_AFTER: u32 = 5;
/// Default `gateway.client_max_in_flight`.
pub const DEFAULT_CLIENT_MAX_IN_FLIGHT: usize = 64;
/// Default `gateway.client_queue_bytes` (16 MiB).
pub const DEFAULT_CLIENT_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Default `gateway.upstream_queue_bytes` (16 MiB).
pub const DEFAULT_UPSTREAM_QUEUE_BYTES: usize = 16 * 1024 * 1024;
/// Default `listen.path` of the Streamable HTTP endpoint.
pub const DEFAULT_HTTP_PATH: &str = "/mcp";

/// The whole validated configuration. Built only by [`crate::load`] / [`crate::load_str`]
/// (or `Default` in tests of other crates); immutable afterwards.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Gateway-wide settings (`[gateway]`).
    pub gateway: Gateway,
    /// Enabled upstream servers in file order (the order decides name collisions);
    /// servers added only through environment overrides come last, sorted by alias.
    pub servers: Vec<Server>,
    /// Where the Streamable HTTP face listens (`[listen]`).
    pub listen: Listen,
    /// The admin endpoint: metrics, health (`[admin]`).
    pub admin: Admin,
    /// Inbound authentication (`[auth]`).
    pub auth: crate::policy::Auth,
    /// Per-principal views, first match wins (`[[access]]`).
    pub access: Vec<crate::policy::AccessRule>,
    /// Rate limit rules; every matching rule applies (`[[limits]]`).
    pub limits: Vec<crate::policy::LimitRule>,
    /// The audit log of tool calls (`[audit]`).
    pub audit: crate::policy::Audit,
    /// The file it was loaded from (`None` for configs built from a string); a reload reads it
    /// again.
    pub source: Option<PathBuf>,
    /// Human-readable notes produced while loading (normalised names, ignored keys, disabled servers).
    pub notices: Vec<String>,
}

/// Gateway-wide settings (`[gateway]`).
#[derive(Debug, Clone)]
pub struct Gateway {
    /// `serverInfo.name` Manifold reports to its clients.
    pub name: String,
    /// Separator between namespace and tool/prompt name; non-empty, from `[A-Za-z0-9_.-]`.
    pub separator: String,
    /// Page size of Manifold's own list pagination; 0 = everything in one page.
    pub page_size: usize,
    /// Default deadline of a forwarded request (`request_timeout_ms`).
    pub request_timeout: Duration,
    /// How long a client's `initialize` waits for upstreams to come up (`startup_wait_ms`).
    pub startup_wait: Duration,
    /// Largest accepted JSON-RPC message, in bytes.
    pub max_message_bytes: usize,
    /// Restart policy of upstream processes/sessions (`[gateway.restart]`).
    pub restart: Restart,
    /// Each step of the shutdown of a stdio child: stdin close → SIGTERM → SIGKILL (`shutdown_grace_ms`).
    pub shutdown_grace: Duration,
    /// How often a `ping` checks that an idle upstream still answers; an upstream that does not
    /// answer within its request timeout is restarted. Zero disables it (`ping_interval_ms`).
    pub ping_interval: Duration,
    /// Deadlines per method (`method_timeouts_ms`), over `request_timeout`.
    pub method_timeouts: BTreeMap<String, Duration>,
    /// Requests of the stdio client read but not yet answered; past it, Manifold stops reading
    /// its input until answers go out (`client_max_in_flight`).
    pub client_max_in_flight: usize,
    /// Bytes of answers and notifications queued for the stdio client; past it, the same
    /// (`client_queue_bytes`).
    pub client_queue_bytes: usize,
    /// Bytes of messages from one HTTP upstream waiting to be processed; past it, its responses
    /// are read no further until they are (`upstream_queue_bytes`).
    pub upstream_queue_bytes: usize,
    /// The keys `requestState` is sealed with (`request_state_keys`, base64 of 32 bytes each):
    /// the first seals, every one opens, so a key can be rotated in while the old one still
    /// opens what it sealed. Empty: a key generated at start.
    pub request_state_keys: Vec<SecretKey>,
}

/// A 256-bit key, never shown (its `Debug` is redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(pub(crate) [u8; 32]);

impl SecretKey {
    /// A key of these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            name: DEFAULT_NAME.to_owned(),
            separator: DEFAULT_SEPARATOR.to_owned(),
            page_size: 0,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            startup_wait: DEFAULT_STARTUP_WAIT,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            restart: Restart::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            ping_interval: DEFAULT_PING_INTERVAL,
            method_timeouts: BTreeMap::new(),
            client_max_in_flight: DEFAULT_CLIENT_MAX_IN_FLIGHT,
            client_queue_bytes: DEFAULT_CLIENT_QUEUE_BYTES,
            upstream_queue_bytes: DEFAULT_UPSTREAM_QUEUE_BYTES,
            request_state_keys: Vec::new(),
        }
    }
}

/// Restart policy (`[gateway.restart]`): exponential backoff between failed starts.
#[derive(Debug, Clone)]
pub struct Restart {
    /// First backoff after a failure (`initial_backoff_ms`).
    pub initial_backoff: Duration,
    /// Cap of the backoff (`max_backoff_ms`).
    pub max_backoff: Duration,
    /// Consecutive failed starts after which an upstream is reported unhealthy.
    pub unhealthy_after: u32,
}

impl Default for Restart {
    fn default() -> Self {
        Restart {
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            unhealthy_after: DEFAULT_UNHEALTHY_AFTER,
        }
    }
}

/// The Streamable HTTP face (`[listen]`).
#[derive(Debug, Clone)]
pub struct Listen {
    /// Address to bind; `None` = no HTTP face.
    pub http: Option<SocketAddr>,
    /// Path of the MCP endpoint (starts with `/`).
    pub path: String,
    /// Host names (without port) accepted in `Host` and `Origin` (DNS-rebinding protection);
    /// loopback names by default (`allowed_hosts`).
    pub allowed_hosts: Vec<String>,
    /// A session unused this long is ended (`session_idle_ms`).
    pub session_idle: Duration,
    /// Server-initiated messages queued per session for its GET stream before new ones are
    /// dropped (`session_queue`).
    pub session_queue: usize,
    /// The same bound in bytes (`session_queue_bytes`): what a session nobody reads may hold.
    pub session_queue_bytes: usize,
    /// A connection must send a request's whole header within this (`header_timeout_ms`).
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this (`body_timeout_ms`); otherwise 408.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request in progress is closed after this
    /// (`idle_timeout_ms`). Open GET/SSE streams are requests in progress.
    pub idle_timeout: Duration,
    /// Connections open at once on the listener; past it, new ones get 503 and are closed
    /// (`max_connections`).
    pub max_connections: usize,
    /// A POST answer not ready within this becomes a resumable SSE stream when the client
    /// accepts one (`sse_after_ms`; 0 = always).
    pub sse_after: Duration,
    /// The `retry` (ms) Manifold's SSE streams advise clients to wait before reconnecting
    /// (`sse_retry_ms`).
    pub sse_retry: Duration,
    /// How long a shutdown waits for in-flight requests (`drain_ms`).
    pub drain: Duration,
    /// Events kept per GET stream for resumption with `Last-Event-ID` (`replay_buffer`).
    pub replay_buffer: usize,
    /// Serve HTTPS with this certificate chain and key (PEM files; `tls_cert`, `tls_key`).
    pub tls: Option<Tls>,
}

/// The listener's TLS certificate chain and private key, as PEM files.
#[derive(Debug, Clone)]
pub struct Tls {
    /// Certificate chain (leaf first).
    pub cert: PathBuf,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Default `listen.allowed_hosts`.
pub const DEFAULT_ALLOWED_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];
/// Default `listen.session_idle_ms`.
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// Default `listen.session_queue`.
pub const DEFAULT_SESSION_QUEUE: usize = 1024;
/// Default `listen.session_queue_bytes` (8 MiB).
pub const DEFAULT_SESSION_QUEUE_BYTES: usize = 8 * 1024 * 1024;
/// Default `listen.header_timeout_ms`.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default `listen.body_timeout_ms`.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `listen.idle_timeout_ms`.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default `listen.max_connections`.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default `listen.sse_after_ms`.
pub const DEFAULT_SSE_AFTER: Duration = Duration::from_millis(1000);
/// Default `listen.sse_retry_ms`.
pub const DEFAULT_SSE_RETRY: Duration = Duration::from_millis(1000);
/// Default `listen.replay_buffer`.
pub const DEFAULT_REPLAY_BUFFER: usize = 256;
/// Default `listen.drain_ms`.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(10);

impl Default for Listen {
    fn default() -> Self {
        Listen {
            http: None,
            path: DEFAULT_HTTP_PATH.to_owned(),
            allowed_hosts: DEFAULT_ALLOWED_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            session_idle: DEFAULT_SESSION_IDLE,
            session_queue: DEFAULT_SESSION_QUEUE,
            session_queue_bytes: DEFAULT_SESSION_QUEUE_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            sse_after: DEFAULT_SSE_AFTER,
            sse_retry: DEFAULT_SSE_RETRY,
            drain: DEFAULT_DRAIN,
            replay_buffer: DEFAULT_REPLAY_BUFFER,
            tls: None,
        }
    }
}

/// The admin endpoint (`[admin]`).
#[derive(Debug, Clone, Default)]
pub struct Admin {
    /// Address to bind (default `127.0.0.1:9091`); `None` (`listen = "off"`) = no admin endpoint.
    pub listen: Option<SocketAddr>,
    /// `/readyz` answers 200 once this many upstreams are up (`min_upstreams`, default 1, at
    /// most the number of servers).
    pub min_upstreams: usize,
}

/// Default `admin.listen`.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9091";

/// One upstream MCP server (`[servers.<alias>]`).
#[derive(Debug, Clone)]
pub struct Server {
    /// The config key; matches `[a-z0-9][a-z0-9-]*`.
    pub alias: String,
    /// Prefix of this server's names; `""` = pass-through.
    pub namespace: String,
    /// How to reach it.
    pub transport: Transport,
    /// Per-server request deadline overriding `gateway.request_timeout`.
    pub timeout: Option<Duration>,
    /// Always `true` in [`Config::servers`] (disabled servers are left out).
    pub enabled: bool,
    /// Whether HTTP-face sessions share one session to this server or get their own (`sharing`;
    /// default: shared for stdio servers, per-session for HTTP ones).
    pub sharing: Sharing,
    /// Which protocol era Manifold speaks to it (`protocol`; default `auto`).
    pub era: UpstreamEra,
    /// Which tools (un-namespaced names) are exposed.
    pub tools: Filter,
    /// Which prompts (un-namespaced names) are exposed.
    pub prompts: Filter,
    /// Which resources and templates (un-namespaced URIs) are exposed.
    pub resources: Filter,
    /// Deadlines per method for this server (`method_timeouts_ms`), over every other timeout.
    pub method_timeouts: BTreeMap<String, Duration>,
    /// At most this many requests in flight to it (`max_concurrency`); more wait.
    pub max_concurrency: Option<usize>,
    /// How long a request waits for a concurrency slot before it fails (`queue_timeout_ms`).
    pub queue_timeout: Duration,
    /// Largest result accepted from it, in bytes (`max_result_bytes`).
    pub max_result_bytes: Option<usize>,
    /// Over `max_result_bytes`, shorten a tool result's text instead of failing
    /// (`truncate_results`).
    pub truncate_results: bool,
    /// Check `tools/call` arguments against the tool's `inputSchema` (`validate_arguments`,
    /// default on).
    pub validate_arguments: bool,
    /// How each of its tools is presented, by the upstream's tool name (`[servers.x.curate.tool]`).
    pub curate: BTreeMap<String, Curate>,
}

/// How one upstream tool is presented (`[servers.<alias>.curate.<tool>]`).
#[derive(Debug, Clone, Default)]
pub struct Curate {
    /// The name clients see (before the namespace).
    pub rename: Option<String>,
    /// The description clients see.
    pub description: Option<String>,
    /// Arguments pinned to these values: hidden from the schema clients see, set on every call.
    pub fixed_arguments: serde_json::Map<String, serde_json::Value>,
}

/// Default `servers.<alias>.queue_timeout_ms`.
pub const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which protocol era an upstream is spoken to in (`protocol = "auto" | "legacy" | "2026-07-28"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamEra {
    /// Probed with `server/discover`: modern when it answers as a modern server, legacy
    /// (`initialize`) otherwise; the verdict is kept for the upstream's later starts.
    #[default]
    Auto,
    /// Always `initialize` (2024-11-05 … 2025-11-25).
    Legacy,
    /// Always 2026-07-28: `server/discover`, stateless requests.
    Modern,
}

/// How downstream HTTP sessions use one upstream (`sharing = "shared" | "per-session"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// One upstream session (one process for stdio) serves every downstream session.
    Shared,
    /// Each downstream session gets its own upstream session, initialized with that client's
    /// identity and capabilities.
    PerSession,
}

impl Server {
    /// True when the server is exposed without a namespace.
    pub fn is_pass_through(&self) -> bool {
        self.namespace.is_empty()
    }
}

/// How an upstream is reached.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout.
    Stdio(StdioSpec),
    /// A Streamable HTTP endpoint.
    Http(HttpSpec),
}

impl Transport {
    /// `"stdio"` or `"streamable-http"`: the spelling used in config files, logs and summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Transport::Stdio(_) => "stdio",
            Transport::Http(_) => "streamable-http",
        }
    }
}

/// A stdio upstream: the process to spawn. `${VAR}` already expanded, paths already resolved.
#[derive(Debug, Clone)]
pub struct StdioSpec {
    /// Program to run; a relative path containing `/` is already resolved against the config's directory.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables (sorted by name).
    pub env: Vec<(String, String)>,
    /// Working directory (absolute), if set.
    pub cwd: Option<PathBuf>,
}

/// A Streamable HTTP upstream. `${VAR}` already expanded.
#[derive(Debug, Clone)]
pub struct HttpSpec {
    /// Endpoint URL (`http://` or `https://`).
    pub url: String,
    /// Extra request headers (sorted by name).
    pub headers: Vec<(String, String)>,
    /// Which HTTP transport the server speaks.
    pub protocol: HttpProtocol,
}

/// The HTTP transport of an upstream (`transport`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProtocol {
    /// Not given: Streamable HTTP, falling back to HTTP+SSE when the server answers the first
    /// POST with a 4xx (the spec's backwards-compatibility rule).
    Auto,
    /// `streamable-http`: Streamable HTTP only.
    Streamable,
    /// `sse`: the deprecated HTTP+SSE transport (2024-11-05).
    LegacySse,
}
