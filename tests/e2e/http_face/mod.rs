//! The Streamable HTTP face of `manifold serve` (no `--stdio`), driven with raw HTTP requests.
//! Each submodule holds one concern: `sessions` (session rules, status codes,
//! DNS-rebinding protection, limits, expiry), `streams` (the GET stream, progress, SSE answers,
//! resumption), `private` (per-session upstreams and relayed sampling) and `lifecycle` (drain on
//! SIGTERM, TLS). The gateway is the shared `common::http::HttpGateway`.

use crate::common;

mod lifecycle;
mod private;
mod sessions;
mod streams;
mod subscriptions;

use crate::common::http::HttpGateway;

/// `manifold serve` on HTTP with `extra_toml` and `servers` as its config.
pub(crate) async fn start(extra_toml: &str, servers: &str) -> HttpGateway {
    HttpGateway::start(&format!("{extra_toml}\n{servers}")).await
}

pub(crate) fn testkit(alias: &str, args: &[&str]) -> String {
    common::testkit_server(alias, args, "")
}
