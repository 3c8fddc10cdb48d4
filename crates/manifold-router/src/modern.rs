//! The 2026-07-28 era on the client face (mcp-spec.md §1.2, §1.3): which era a request is served
//! in, the identity a modern client's own upstream sessions get, `server/discover`, the methods
//! the era removed, and what every modern result carries (`resultType`, `_meta` serverInfo, the
//! cache hints of the cacheable results).

use manifold_protocol::modern::{self as wire, RequestMeta};
use manifold_protocol::object::empty_object;
use manifold_protocol::{code, method, version, ErrorObject, RawObject, RawValue, Request};
use manifold_upstream::ClientIdentity;
use serde_json::{json, Value};

use crate::error::RouteError;
use crate::handshake;
use crate::session::Session;

/// The era a client request is served in.
pub(crate) enum Asked {
    /// After `initialize`, in the session it opened.
    Legacy,
    /// Stateless, with what its `_meta` says about the client.
    Modern(RequestMeta),
}

/// Which era a connection's requests are in; on stdio the first request fixes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    Legacy,
    Modern,
}

/// The era `request` is served in on `session`: a request with a modern `_meta` (or
/// `server/discover`) is modern, anything else legacy; once a request fixed the session's era,
/// a request of the other one is refused with that era's error (a modern session answers
/// `initialize` with `-32022`, a legacy one refuses modern requests with `-32600`).
pub(crate) fn era_of(session: &Session, request: &Request) -> Result<Asked, RouteError> {
    let meta = wire::read(request.params.as_deref()).map_err(RouteError::Era)?;
    let wants_modern = meta.is_some() || request.method == method::SERVER_DISCOVER;
    let fixed = {
        let mut client = session.client();
        let fixed = *client.era.get_or_insert(if wants_modern {
            Era::Modern
        } else {
            Era::Legacy
        });
        fixed
    };
    match (fixed, meta) {
        (Era::Modern, Some(meta)) => Ok(Asked::Modern(meta)),
        (Era::Legacy, None) => Ok(Asked::Legacy),
        (Era::Modern, None) if request.method == method::INITIALIZE => {
            let requested = request
                .params
                .as_deref()
                .and_then(|p| RawObject::parse(p).ok())
                .and_then(|p| p.get_str("protocolVersion"))
                .unwrap_or_default();
            let mut error = wire::unsupported(&requested);
            error.message = format!(
                "this connection speaks {} (its first request did); initialize is not served on it",
                version::MODERN
            );
            Err(RouteError::Era(error))
        }
        (Era::Modern, None) => Err(RouteError::Era(
            wire::require(request.params.as_deref())
                .err()
                .unwrap_or_else(|| ErrorObject::invalid_params("missing _meta")),
        )),
        (Era::Legacy, Some(_)) => Err(RouteError::Era(ErrorObject::new(
            code::INVALID_REQUEST,
            "this connection is in a legacy session (initialize came first): 2026-07-28 requests are not served on it",
        ))),
    }
}

/// Marks `session` as a modern client's (at its first modern request): the upstream sessions
/// that are its own are initialized for it — with the newest legacy version, its `clientInfo`,
/// and the sampling, elicitation and roots capabilities its first request declared (their
/// requests reach it as input, [`crate::mrtr`]) — and the first requests wait (at most
/// `startup_wait`) for the upstreams to settle, as `initialize` does.
pub(crate) async fn adopt(session: &Session, meta: &RequestMeta) {
    session
        .inner
        .modern
        .get_or_init(|| async {
            session.client().era = Some(Era::Modern);
            let gateway = session.gateway();
            if session.owns_identity() {
                let client_info = meta.client_info.clone().unwrap_or_else(|| {
                    raw(&json!({ "name": gateway.shared.settings.name, "version": "unknown" }))
                });
                session.set_identity(ClientIdentity {
                    protocol_version: version::LATEST.to_string(),
                    capabilities: relayed(&meta.client_capabilities),
                    client_info,
                });
            }
            session
                .upstreams()
                .wait_settled(gateway.shared.settings.startup_wait)
                .await;
        })
        .await;
}

/// The capabilities of `declared` that an upstream may use through Manifold.
fn relayed(declared: &RawValue) -> Box<RawValue> {
    let Ok(declared) = RawObject::parse(declared) else {
        return empty_object();
    };
    let mut kept = RawObject::default();
    for key in ["sampling", "elicitation", "roots"] {
        if let Some(value) = declared.get(key).filter(|v| v.get().starts_with('{')) {
            kept.set(key, value.to_owned());
        }
    }
    kept.to_raw()
}

/// `server/discover`: every version Manifold serves, the capabilities merged from the upstreams
/// that are up, and their instructions. Lists are announced without `listChanged`, and
/// resources without `subscribe`: in this era those go through `subscriptions/listen`.
pub(crate) fn discover(session: &Session) -> Result<Box<RawValue>, RouteError> {
    let gateway = session.gateway();
    let legacy = handshake::initialize_result(
        &gateway.shared.settings.name,
        session.upstreams(),
        version::LATEST,
    );
    let mut capabilities = legacy["capabilities"].clone();
    if let Some(caps) = capabilities.as_object_mut() {
        for list in ["tools", "prompts", "resources"] {
            caps.insert(list.to_string(), json!({}));
        }
    }
    let mut result = json!({
        "supportedVersions": version::SERVED,
        "capabilities": capabilities,
    });
    if let Some(instructions) = legacy.get("instructions") {
        result["instructions"] = instructions.clone();
    }
    Ok(raw(&result))
}

/// What a modern client receives for `outcome` of `method`: a result marked complete (unless it
/// says what it is), carrying Manifold's serverInfo, and — for the cacheable results — the
/// cache hints unless already there: `ttlMs: 0` (Manifold's lists change whenever an upstream's
/// do), and `cacheScope` [`scope`]; an error as the modern era spells it (resource not found is
/// `-32602`, no longer `-32002`).
pub(crate) fn finish(
    session: &Session,
    method: &str,
    outcome: Result<Box<RawValue>, ErrorObject>,
) -> Result<Box<RawValue>, ErrorObject> {
    match outcome {
        Ok(result) => {
            let scope = cacheable(method).then(|| scope(session));
            Ok(complete(result, &server_info(session), scope))
        }
        Err(mut error) => {
            if error.code == code::RESOURCE_NOT_FOUND {
                error.code = code::INVALID_PARAMS;
            }
            Err(error)
        }
    }
}

/// The results the era requires cache hints on.
fn cacheable(method: &str) -> bool {
    matches!(
        method,
        method::SERVER_DISCOVER
            | method::TOOLS_LIST
            | method::PROMPTS_LIST
            | method::RESOURCES_LIST
            | method::RESOURCES_TEMPLATES_LIST
            | method::RESOURCES_READ
    )
}

/// The `cacheScope` of what Manifold answers itself: `private` when the answer can depend on who
/// asks — `[[access]]` views, or per-session servers initialized with the client's identity —
/// and `public` otherwise.
fn scope(session: &Session) -> &'static str {
    let gateway = session.gateway();
    if gateway.policy().views_vary() || gateway.has_private_servers() {
        "private"
    } else {
        "public"
    }
}

/// Manifold's `Implementation`, as results carry it.
fn server_info(session: &Session) -> Box<RawValue> {
    raw(&json!({
        "name": session.gateway().shared.settings.name,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `result` with the members every modern result has, added by splicing (every other byte stays
/// as sent).
fn complete(
    result: Box<RawValue>,
    server_info: &RawValue,
    scope: Option<&'static str>,
) -> Box<RawValue> {
    let Ok(mut object) = RawObject::parse(&result) else {
        return result;
    };
    if object.get("resultType").is_none() {
        object.set("resultType", raw(&Value::from("complete")));
    }
    // An input-required answer is never cacheable.
    let input_required = object
        .get("resultType")
        .is_some_and(|t| t.get() == "\"input_required\"");
    if let Some(scope) = scope.filter(|_| !input_required) {
        if object.get("ttlMs").is_none() {
            object.set("ttlMs", raw(&Value::from(0)));
        }
        if object.get("cacheScope").is_none() {
            object.set("cacheScope", raw(&Value::from(scope)));
        }
    }
    // The client's server is Manifold: its serverInfo replaces an upstream's.
    let meta = match object.get("_meta").map(RawObject::parse) {
        Some(Ok(mut meta)) => {
            meta.set(wire::SERVER_INFO, server_info.to_owned());
            Some(meta.to_raw())
        }
        Some(Err(_)) => None,
        None => {
            let mut meta = RawObject::default();
            meta.set(wire::SERVER_INFO, server_info.to_owned());
            Some(meta.to_raw())
        }
    };
    if let Some(meta) = meta {
        object.set("_meta", meta);
    }
    object.to_raw()
}

fn raw(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| empty_object())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &str) -> Box<RawValue> {
        RawValue::from_string(value.to_string()).unwrap()
    }

    #[test]
    fn a_result_gains_what_the_era_requires_and_keeps_its_bytes() {
        let info = text(r#"{"name":"m","version":"1"}"#);
        let done = complete(text(r#"{"content":[{"n":1.50}]}"#), &info, None);
        assert_eq!(
            done.get(),
            r#"{"content":[{"n":1.50}],"resultType":"complete","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"m","version":"1"}}}"#
        );
        let listed = complete(
            text(r#"{"tools":[],"_meta":{"k":2}}"#),
            &info,
            Some("private"),
        );
        let listed: Value = serde_json::from_str(listed.get()).unwrap();
        assert_eq!(listed["ttlMs"], 0);
        assert_eq!(listed["cacheScope"], "private");
        assert_eq!(listed["_meta"]["k"], 2);
        assert_eq!(listed["_meta"][wire::SERVER_INFO]["name"], "m");
        let own = complete(
            text(r#"{"resultType":"input_required","ttlMs":5}"#),
            &info,
            Some("public"),
        );
        let own: Value = serde_json::from_str(own.get()).unwrap();
        assert_eq!(own["resultType"], "input_required");
        assert_eq!(own["ttlMs"], 5);
        assert!(own.get("cacheScope").is_none(), "never cacheable: {own}");
    }
}
