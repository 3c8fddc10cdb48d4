//! The 2026-07-28 era on the client face, in front of legacy upstreams: `server/discover`,
//! stateless requests whose `_meta` carries the client, the era's errors, what every result
//! carries — on stdio (`stdio`), on Streamable HTTP without sessions (`http`) — checked against
//! the 2026-07-28 schema; `subscriptions/listen` (`listen`); and driven by the official TypeScript v2
//! client (`sdk`); the MRTR bridge from legacy upstreams (`mrtr`); 2026-07-28 upstreams
//! over stdio (`upstreams`) and Streamable HTTP (`http_upstreams`), and what Manifold stands in for
//! when a legacy client uses one (`stand_ins`), and how their `ttlMs` is honoured (`upstream_ttl`).

mod http;
mod http_upstreams;
mod listen;
mod mrtr;
mod sdk;
mod stand_ins;
mod stdio;
mod upstream_ttl;
mod upstreams;

use serde_json::{json, Value};

/// The `_meta` of a 2026-07-28 request from client `name` (no capabilities).
pub(crate) fn meta(name: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": name, "version": "1"},
    })
}

/// `params` with the modern `_meta` of client `name` added.
pub(crate) fn with_meta(name: &str, mut params: Value) -> Value {
    params["_meta"] = meta(name);
    params
}

/// What every modern result Manifold sends carries: `resultType` and its serverInfo.
pub(crate) fn assert_modern_result(result: &Value) {
    assert_eq!(result["resultType"], "complete", "{result}");
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"], "manifold",
        "{result}"
    );
}

/// Two testkit upstreams under namespaces, the second over nothing but its own name.
pub(crate) fn servers() -> String {
    format!(
        "{}{}",
        crate::common::testkit_server("alpha", &["--name", "alpha"], ""),
        crate::common::testkit_server("beta", &["--name", "beta"], ""),
    )
}
