//! `RawConfig` → frozen `Config`: defaults, gateway/listen/admin checks, server order, and the
//! rules that span servers (unique namespaces).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::ConfigError;
use crate::model::{
    Admin, Config, Gateway, Listen, Restart, Tls, DEFAULT_ADMIN_LISTEN,
    DEFAULT_CLIENT_MAX_IN_FLIGHT, DEFAULT_CLIENT_QUEUE_BYTES, DEFAULT_HTTP_PATH,
    DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_NAME,
    DEFAULT_PING_INTERVAL, DEFAULT_REQUEST_TIMEOUT, DEFAULT_SEPARATOR, DEFAULT_SHUTDOWN_GRACE,
    DEFAULT_STARTUP_WAIT, DEFAULT_UNHEALTHY_AFTER, DEFAULT_UPSTREAM_QUEUE_BYTES,
    MIN_MAX_MESSAGE_BYTES,
};
use crate::raw::{RawAdmin, RawConfig, RawGateway, RawListen, Text};
use crate::server::{freeze_server, Context};

/// Validates and freezes. `order` lists server aliases in file order; servers not in it (added
/// by environment overrides) follow, sorted.
pub(crate) fn freeze(
    raw: RawConfig,
    order: &[String],
    cx: &Context<'_>,
    mut notices: Vec<String>,
) -> Result<Config, ConfigError> {
    let gateway = gateway(raw.gateway, cx)?;
    let listen = listen(raw.listen, cx)?;
    let admin = admin(raw.admin, cx)?;

    let mut raw_servers = raw.servers;
    let mut ordered = Vec::with_capacity(raw_servers.len());
    for alias in order {
        if let Some(server) = raw_servers.remove(alias) {
            ordered.push((alias.clone(), server));
        }
    }
    ordered.extend(raw_servers);

    let mut servers = Vec::with_capacity(ordered.len());
    let mut namespaces: HashMap<String, String> = HashMap::new();
    for (alias, raw_server) in ordered {
        let Some(server) = freeze_server(&alias, raw_server, cx)? else {
            notices.push(format!("server `{alias}` is disabled and was left out"));
            continue;
        };
        if !server.namespace.is_empty() {
            if let Some(other) = namespaces.insert(server.namespace.clone(), alias.clone()) {
                return Err(cx.err(
                    &format!("servers.{alias}.namespace"),
                    format!(
                        "namespace `{}` is already used by server `{other}`",
                        server.namespace
                    ),
                ));
            }
        }
        servers.push(server);
    }
    if servers.is_empty() {
        notices.push("no servers are configured".to_owned());
    }
    Ok(Config {
        gateway,
        servers,
        listen,
        admin,
        auth: crate::policy::auth(raw.auth, cx)?,
        access: crate::policy::access(raw.access, cx)?,
        limits: crate::policy::limits(raw.limits, cx)?,
        audit: crate::policy::audit(raw.audit, cx)?,
        source: None,
        notices,
    })
}

fn gateway(raw: RawGateway, cx: &Context<'_>) -> Result<Gateway, ConfigError> {
    let name = raw.name.map_or_else(|| DEFAULT_NAME.to_owned(), |t| t.0);
    if name.trim().is_empty() {
        return Err(cx.err("gateway.name", "must not be empty"));
    }
    let separator = raw
        .separator
        .map_or_else(|| DEFAULT_SEPARATOR.to_owned(), |t| t.0);
    check_separator(&separator).map_err(|problem| cx.err("gateway.separator", problem))?;
    let request_timeout = raw
        .request_timeout_ms
        .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis);
    if request_timeout.is_zero() {
        return Err(cx.err("gateway.request_timeout_ms", "must be greater than 0"));
    }
    let max_message_bytes = raw.max_message_bytes.unwrap_or(DEFAULT_MAX_MESSAGE_BYTES);
    if max_message_bytes < MIN_MAX_MESSAGE_BYTES {
        return Err(cx.err(
            "gateway.max_message_bytes",
            format!("must be at least {MIN_MAX_MESSAGE_BYTES}"),
        ));
    }
    let initial_backoff = raw
        .restart
        .initial_backoff_ms
        .map_or(DEFAULT_INITIAL_BACKOFF, Duration::from_millis);
    if initial_backoff.is_zero() {
        return Err(cx.err(
            "gateway.restart.initial_backoff_ms",
            "must be greater than 0",
        ));
    }
    let max_backoff = raw.restart.max_backoff_ms.map_or(
        DEFAULT_MAX_BACKOFF.max(initial_backoff),
        Duration::from_millis,
    );
    if max_backoff < initial_backoff {
        return Err(cx.err(
            "gateway.restart.max_backoff_ms",
            "must not be smaller than initial_backoff_ms",
        ));
    }
    let unhealthy_after = raw
        .restart
        .unhealthy_after
        .unwrap_or(DEFAULT_UNHEALTHY_AFTER);
    if unhealthy_after == 0 {
        return Err(cx.err("gateway.restart.unhealthy_after", "must be at least 1"));
    }
    let method_timeouts =
        crate::policy::method_timeouts(raw.method_timeouts_ms, "gateway.method_timeouts_ms", cx)?;
    let client_max_in_flight = at_least_one(
        raw.client_max_in_flight,
        DEFAULT_CLIENT_MAX_IN_FLIGHT,
        "gateway.client_max_in_flight",
        cx,
    )?;
    let client_queue_bytes = bytes_bound(
        raw.client_queue_bytes,
        DEFAULT_CLIENT_QUEUE_BYTES,
        "gateway.client_queue_bytes",
        cx,
    )?;
    let upstream_queue_bytes = bytes_bound(
        raw.upstream_queue_bytes,
        DEFAULT_UPSTREAM_QUEUE_BYTES,
        "gateway.upstream_queue_bytes",
        cx,
    )?;
    let request_state_keys = request_state_keys(raw.request_state_keys, cx)?;
    Ok(Gateway {
        request_state_keys,
        name,
        separator,
        page_size: raw.page_size.unwrap_or(0),
        request_timeout,
        startup_wait: raw
            .startup_wait_ms
            .map_or(DEFAULT_STARTUP_WAIT, Duration::from_millis),
        max_message_bytes,
        restart: Restart {
            initial_backoff,
            max_backoff,
            unhealthy_after,
        },
        shutdown_grace: raw
            .shutdown_grace_ms
            .map_or(DEFAULT_SHUTDOWN_GRACE, Duration::from_millis),
        ping_interval: raw
            .ping_interval_ms
            .map_or(DEFAULT_PING_INTERVAL, Duration::from_millis),
        method_timeouts,
        client_max_in_flight,
        client_queue_bytes,
        upstream_queue_bytes,
    })
}

/// `gateway.request_state_keys`: each, after `${VAR}` expansion, the base64 (standard or URL-safe)
/// of 32 bytes; an empty one (an unset optional variable) is left out. Errors never show a key.
fn request_state_keys(
    raw: Option<Vec<crate::raw::Text>>,
    cx: &Context<'_>,
) -> Result<Vec<crate::model::SecretKey>, ConfigError> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine as _;
    let mut keys = Vec::new();
    for (i, text) in raw.unwrap_or_default().iter().enumerate() {
        let key = format!("gateway.request_state_keys[{i}]");
        let value = cx.expand(&key, text)?;
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let bytes = STANDARD
            .decode(value)
            .or_else(|_| URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')))
            .map_err(|_| cx.err(&key, "must be base64"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
            cx.err(
                &key,
                "must be 32 bytes (the base64 of a random 256-bit key)",
            )
        })?;
        keys.push(crate::model::SecretKey(bytes));
    }
    Ok(keys)
}

/// Non-empty, from `[A-Za-z0-9_.-]`, and holding at least one character a namespace cannot
/// contain (`_`, `.` or an uppercase letter), so `<namespace><separator><name>` splits unambiguously.
fn check_separator(separator: &str) -> Result<(), String> {
    if separator.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if let Some(bad) = separator
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(format!(
            "`{bad}` is not allowed: tool and prompt names are limited to [A-Za-z0-9_.-]"
        ));
    }
    if !separator
        .chars()
        .any(|c| c == '_' || c == '.' || c.is_ascii_uppercase())
    {
        return Err(format!(
            "`{separator}` could be part of a namespace; include `_`, `.` or an uppercase letter"
        ));
    }
    Ok(())
}

fn listen(raw: RawListen, cx: &Context<'_>) -> Result<Listen, ConfigError> {
    let http = socket_addr(raw.http, "listen.http", cx)?;
    let path = raw
        .path
        .map_or_else(|| DEFAULT_HTTP_PATH.to_owned(), |t| t.0);
    if !path.starts_with('/') || path.contains(char::is_whitespace) {
        return Err(cx.err("listen.path", "must start with '/' and contain no spaces"));
    }
    let defaults = Listen::default();
    let allowed_hosts = match raw.allowed_hosts {
        Some(hosts) if hosts.is_empty() => {
            return Err(cx.err("listen.allowed_hosts", "must name at least one host"));
        }
        Some(hosts) => hosts
            .into_iter()
            .map(|h| h.0.to_ascii_lowercase())
            .collect(),
        None => defaults.allowed_hosts,
    };
    let session_queue = raw.session_queue.unwrap_or(defaults.session_queue);
    if session_queue == 0 {
        return Err(cx.err("listen.session_queue", "must be at least 1"));
    }
    let session_queue_bytes = bytes_bound(
        raw.session_queue_bytes,
        defaults.session_queue_bytes,
        "listen.session_queue_bytes",
        cx,
    )?;
    let header_timeout = positive_ms(
        raw.header_timeout_ms,
        defaults.header_timeout,
        "listen.header_timeout_ms",
        cx,
    )?;
    let body_timeout = positive_ms(
        raw.body_timeout_ms,
        defaults.body_timeout,
        "listen.body_timeout_ms",
        cx,
    )?;
    let idle_timeout = positive_ms(
        raw.idle_timeout_ms,
        defaults.idle_timeout,
        "listen.idle_timeout_ms",
        cx,
    )?;
    let max_connections = at_least_one(
        raw.max_connections,
        defaults.max_connections,
        "listen.max_connections",
        cx,
    )?;
    let sse_retry = positive_ms(
        raw.sse_retry_ms,
        defaults.sse_retry,
        "listen.sse_retry_ms",
        cx,
    )?;
    Ok(Listen {
        http,
        path,
        allowed_hosts,
        session_idle: raw
            .session_idle_ms
            .map_or(defaults.session_idle, Duration::from_millis),
        session_queue,
        session_queue_bytes,
        header_timeout,
        body_timeout,
        idle_timeout,
        max_connections,
        sse_after: raw
            .sse_after_ms
            .map_or(defaults.sse_after, Duration::from_millis),
        sse_retry,
        drain: raw.drain_ms.map_or(defaults.drain, Duration::from_millis),
        replay_buffer: raw.replay_buffer.unwrap_or(defaults.replay_buffer),
        tls: match (raw.tls_cert, raw.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(Tls {
                cert: cx.resolve(&cert.0),
                key: cx.resolve(&key.0),
            }),
            (Some(_), None) => {
                return Err(cx.err("listen.tls_key", "is required with listen.tls_cert"))
            }
            (None, Some(_)) => {
                return Err(cx.err("listen.tls_cert", "is required with listen.tls_key"))
            }
        },
    })
}

fn admin(raw: RawAdmin, cx: &Context<'_>) -> Result<Admin, ConfigError> {
    let listen = match raw.listen {
        Some(t) if t.0 == "off" => None,
        Some(t) => socket_addr(Some(t), "admin.listen", cx)?,
        None => DEFAULT_ADMIN_LISTEN.parse().ok(),
    };
    Ok(Admin {
        listen,
        min_upstreams: raw.min_upstreams.unwrap_or(1),
    })
}

fn socket_addr(
    raw: Option<Text>,
    key: &str,
    cx: &Context<'_>,
) -> Result<Option<SocketAddr>, ConfigError> {
    raw.map(|text| {
        text.0.parse::<SocketAddr>().map_err(|_| {
            cx.err(
                key,
                format!(
                    "`{}` is not a socket address; expected IP:port such as 127.0.0.1:8080 or [::1]:8080",
                    text.0
                ),
            )
        })
    })
    .transpose()
}

/// A count that must be at least 1.
fn at_least_one(
    value: Option<usize>,
    default: usize,
    key: &str,
    cx: &Context<'_>,
) -> Result<usize, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(cx.err(key, "must be at least 1")),
        n => Ok(n),
    }
}

/// A queue's byte bound: at least [`MIN_MAX_MESSAGE_BYTES`], at most 1 GiB.
fn bytes_bound(
    value: Option<usize>,
    default: usize,
    key: &str,
    cx: &Context<'_>,
) -> Result<usize, ConfigError> {
    let n = value.unwrap_or(default);
    if !(MIN_MAX_MESSAGE_BYTES..=1 << 30).contains(&n) {
        return Err(cx.err(
            key,
            format!("must be between {MIN_MAX_MESSAGE_BYTES} and 1073741824"),
        ));
    }
    Ok(n)
}

/// A duration in milliseconds that must be greater than 0.
fn positive_ms(
    value: Option<u64>,
    default: Duration,
    key: &str,
    cx: &Context<'_>,
) -> Result<Duration, ConfigError> {
    let d = value.map_or(default, Duration::from_millis);
    if d.is_zero() {
        return Err(cx.err(key, "must be greater than 0"));
    }
    Ok(d)
}
