//! The 2026-07-28 era of `--profile conformance`: which requests belong to it, their `_meta`
//! (version, client capabilities, log level), the methods it serves, and how its results are
//! stamped (`resultType`, `_meta.serverInfo`, the cache hints of cacheable results).

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::catalog::paginate;
use crate::methods::{self, LOG_LEVELS};
use crate::rpc::{RpcError, MODERN_VERSION, SUPPORTED_VERSIONS};
use crate::session::{Reply, Session};
use crate::{conformance, listen, modern_catalog};

/// `_meta` key of the request's protocol version.
pub(crate) const VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
/// `_meta` key of the client's capabilities.
pub(crate) const CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
/// `_meta` key of the lowest log level the client wants (no `notifications/message` without it).
pub(crate) const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";
/// `_meta` key of a result's server identity.
pub(crate) const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Methods removed in 2026-07-28 (answered `-32601` like any unknown method).
pub(crate) const REMOVED: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Results that carry `ttlMs` and `cacheScope` (SEP-2549).
const CACHEABLE: [&str; 6] = [
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Every protocol version the fixture serves, newest first.
pub(crate) fn supported_versions() -> Vec<&'static str> {
    let mut all = vec![MODERN_VERSION];
    all.extend(SUPPORTED_VERSIONS.iter().rev());
    all
}

/// Whether a request is of the 2026-07-28 era by its body: its `_meta` names a protocol
/// version, or its method exists only in that era.
pub(crate) fn is_modern(method: &str, params: &Value) -> bool {
    let names_version = params
        .pointer("/_meta")
        .and_then(Value::as_object)
        .is_some_and(|meta| meta.contains_key(VERSION_KEY));
    names_version || matches!(method, "server/discover" | "subscriptions/listen")
}

/// The per-request `_meta` of a 2026-07-28 request.
#[derive(Debug, Clone)]
pub(crate) struct Meta {
    /// `io.modelcontextprotocol/protocolVersion`.
    pub(crate) version: String,
    capabilities: Map<String, Value>,
    /// Index in [`LOG_LEVELS`] of `io.modelcontextprotocol/logLevel`, if given.
    log_level: Option<usize>,
}

impl Meta {
    /// Reads the required fields (`-32602` when `_meta`, the version or the capabilities are
    /// missing, or the log level is not one). The version is checked by [`Meta::check_version`].
    pub(crate) fn parse(params: &Value) -> Result<Meta, RpcError> {
        let meta = params
            .get("_meta")
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params("missing _meta"))?;
        let version = meta
            .get(VERSION_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| RpcError::invalid_params(format!("_meta lacks {VERSION_KEY}")))?;
        let capabilities = meta
            .get(CAPABILITIES_KEY)
            .and_then(Value::as_object)
            .ok_or_else(|| RpcError::invalid_params(format!("_meta lacks {CAPABILITIES_KEY}")))?;
        let log_level = match meta.get(LOG_LEVEL_KEY) {
            None | Some(Value::Null) => None,
            Some(level) => Some(
                LOG_LEVELS
                    .iter()
                    .position(|l| Some(*l) == level.as_str())
                    .ok_or_else(|| {
                        RpcError::invalid_params(format!("unknown log level {level}"))
                    })?,
            ),
        };
        Ok(Meta {
            version: version.to_string(),
            capabilities: capabilities.clone(),
            log_level,
        })
    }

    /// `-32022` (with the versions served) unless the request is of version 2026-07-28.
    pub(crate) fn check_version(&self) -> Result<(), RpcError> {
        if self.version == MODERN_VERSION {
            Ok(())
        } else {
            Err(RpcError::unsupported_version(
                &self.version,
                &supported_versions(),
            ))
        }
    }

    /// Whether the client declared `capability` (`sampling`, `elicitation`, `roots`, …).
    pub(crate) fn declared(&self, capability: &str) -> bool {
        self.capabilities
            .get(capability)
            .is_some_and(|c| !c.is_null())
    }

    /// `-32021` naming every one of `capabilities` the client did not declare.
    pub(crate) fn require(&self, capabilities: &[&str]) -> Result<(), RpcError> {
        let missing: Map<String, Value> = capabilities
            .iter()
            .filter(|c| !self.declared(c))
            .map(|c| (c.to_string(), json!({})))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(RpcError::missing_capability(Value::Object(missing)))
        }
    }

    /// Whether a log message at `level` may be sent: only when the request asked for logs, at
    /// or above the level it gave.
    pub(crate) fn logs_at(&self, level: usize) -> bool {
        self.log_level.is_some_and(|min| level >= min)
    }
}

/// Runs one 2026-07-28 request and stamps its result. `subscriptions/listen` never returns
/// (it ends when cancelled).
pub(crate) async fn execute(
    session: &Arc<Session>,
    id: &Value,
    method: &str,
    params: &Value,
    reply: &Reply,
) -> Result<Value, RpcError> {
    let meta = Meta::parse(params)?;
    meta.check_version()?;
    let page = session.opts().page_size;
    let hub = &session.shared.hub;
    let result = match method {
        "server/discover" => discover(session),
        "tools/list" => paginate(modern_catalog::tools(hub), params, page, "tools")?,
        "tools/call" => modern_catalog::call(session, &meta, params, reply).await?,
        "prompts/list" => paginate(modern_catalog::prompts(hub), params, page, "prompts")?,
        "prompts/get" => modern_catalog::get_prompt(hub, &meta, params)?,
        "resources/read" => conformance::read_resource(methods::str_param(params, "uri")?)
            .map_err(not_found_is_invalid_params)?,
        "resources/list" | "resources/templates/list" | "completion/complete" => {
            conformance::execute(session, method, params, reply).await?
        }
        "subscriptions/listen" => listen::listen(session, id, params, reply).await?,
        other if REMOVED.contains(&other) => {
            return Err(RpcError::method_not_found(other).with_data(json!({
                "reason": format!("{other} was removed in protocol version {MODERN_VERSION}"),
            })))
        }
        other => return Err(RpcError::method_not_found(other)),
    };
    Ok(stamp(session, method, result))
}

/// `-32002` (resource not found) became `-32602` with the same `data.uri` (SEP-2164).
fn not_found_is_invalid_params(err: RpcError) -> RpcError {
    if err.code != -32002 {
        return err;
    }
    let uri = err
        .data
        .as_ref()
        .and_then(|d| d.get("uri"))
        .cloned()
        .unwrap_or(Value::Null);
    RpcError::invalid_params(format!("unknown resource {uri}")).with_data(json!({ "uri": uri }))
}

/// The `DiscoverResult` (stamped like every result).
fn discover(session: &Session) -> Value {
    let mut result = json!({
        "supportedVersions": supported_versions(),
        "capabilities": methods::capabilities(),
    });
    if let Some(text) = &session.opts().instructions {
        result["instructions"] = json!(text);
    }
    result
}

/// Adds `resultType` (`complete` unless set), the server's identity in `_meta`, and for a
/// complete cacheable result `ttlMs` and `cacheScope` (lists may change: `ttlMs` 0, or
/// `--list-ttl-ms`).
pub(crate) fn stamp(session: &Session, method: &str, mut result: Value) -> Value {
    let Some(obj) = result.as_object_mut() else {
        return result;
    };
    let kind = obj
        .entry("resultType")
        .or_insert_with(|| json!("complete"))
        .clone();
    let meta = obj.entry("_meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(SERVER_INFO_KEY.into(), methods::server_info(session.opts()));
    }
    if kind == "complete" && CACHEABLE.contains(&method) {
        let ttl = if method == "server/discover" {
            60_000
        } else if method.ends_with("/list") {
            session.opts().list_ttl_ms
        } else {
            0
        };
        obj.entry("ttlMs").or_insert_with(|| json!(ttl));
        obj.entry("cacheScope").or_insert_with(|| json!("public"));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(m: Value) -> Value {
        json!({ "_meta": m })
    }

    #[test]
    fn meta_needs_version_and_capabilities() {
        assert_eq!(Meta::parse(&json!({})).unwrap_err().code, -32602);
        let no_caps = meta(json!({ VERSION_KEY: MODERN_VERSION }));
        assert_eq!(Meta::parse(&no_caps).unwrap_err().code, -32602);
        let bad_level = meta(json!({
            VERSION_KEY: MODERN_VERSION, CAPABILITIES_KEY: {}, LOG_LEVEL_KEY: "loud",
        }));
        assert_eq!(Meta::parse(&bad_level).unwrap_err().code, -32602);
        let old = Meta::parse(&meta(json!({ VERSION_KEY: "v9", CAPABILITIES_KEY: {} }))).unwrap();
        let err = old.check_version().unwrap_err();
        assert_eq!(err.code, -32022);
        assert_eq!(err.data.unwrap()["requested"], "v9");
    }

    #[test]
    fn capabilities_and_log_level() {
        let m = Meta::parse(&meta(json!({
            VERSION_KEY: MODERN_VERSION,
            CAPABILITIES_KEY: { "sampling": {} },
            LOG_LEVEL_KEY: "warning",
        })))
        .unwrap();
        assert!(m.declared("sampling") && !m.declared("elicitation"));
        let err = m.require(&["sampling", "roots"]).unwrap_err();
        assert_eq!(
            (err.code, err.data),
            (
                -32021,
                Some(json!({ "requiredCapabilities": { "roots": {} } }))
            )
        );
        assert!(!m.logs_at(1) && m.logs_at(3) && m.logs_at(4));
        let quiet = Meta::parse(&meta(
            json!({ VERSION_KEY: MODERN_VERSION, CAPABILITIES_KEY: {} }),
        ))
        .unwrap();
        assert!(!quiet.logs_at(7));
    }

    #[test]
    fn era_is_told_by_the_body() {
        assert!(is_modern("server/discover", &json!({})));
        assert!(is_modern("initialize", &meta(json!({ VERSION_KEY: "x" }))));
        assert!(!is_modern(
            "initialize",
            &json!({ "protocolVersion": "2025-11-25" })
        ));
        assert!(!is_modern(
            "tools/list",
            &meta(json!({ "progressToken": 1 }))
        ));
    }
}
