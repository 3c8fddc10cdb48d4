//! The routed methods: each finds the one upstream session that owns the name or URI in the
//! client's set, and hands the request to `forward` (`tools/call`, `prompts/get`,
//! `resources/read`), or asks that upstream itself (`completion/complete`, subscriptions) after
//! the same access check the stack makes (`manifold_policy::access::check`); `logging/setLevel`
//! goes to every upstream that logs.

use manifold_policy::{access, ItemKind};
use manifold_protocol::object::empty_object;
use manifold_protocol::{method, RawObject, RawValue};
use manifold_upstream::Health;
use serde_json::json;

use crate::catalog::{item_kind, Kind};
use crate::error::RouteError;
use crate::forward::{forward, Forwarding};
use crate::pool::Slot;
use crate::rewrite;
use crate::session::{Caller, Session};
use crate::set::not_found;

type Outcome = Result<Box<RawValue>, RouteError>;

/// What a routed method returns: `Err` when the request was refused before it was routed (bad
/// params, an unknown or hidden name); otherwise the upstream it went to and how it ended.
pub(crate) type Routed = Result<Served, RouteError>;

/// A routed request's answer, with the upstream that served it (the `server` metric label).
pub(crate) struct Served {
    /// The server's index in the configuration.
    pub(crate) server: usize,
    pub(crate) outcome: Outcome,
}

/// Names the upstream that serves the request on its `mcp.request` span, before the request goes
/// there (so what is logged on the way carries it).
pub(crate) fn routed_to(slot: &Slot) {
    tracing::Span::current().record("server", tracing::field::display(slot.alias()));
}

impl Served {
    fn by(slot: &Slot, outcome: Outcome) -> Served {
        Served {
            server: slot.server.index,
            outcome,
        }
    }
}

/// `tools/call` and `prompts/get`: routed by `params.name`. A tool call of a name nobody serves
/// is audited too.
pub(crate) async fn call_named(
    kind: Kind,
    method: &'static str,
    params: Option<&RawValue>,
    caller: &Caller<'_>,
) -> Routed {
    let session = caller.session;
    let (obj, name) = routing_key(params, "name")?;
    let target = match session.upstreams().resolve_name(kind, &name) {
        Ok(target) => target,
        Err(error) => {
            if kind == Kind::Tools {
                session
                    .gateway()
                    .policy()
                    .audit_unknown_tool(
                        session.principal(),
                        session.inner.id,
                        &name,
                        obj.get("arguments"),
                        error.outcome(),
                        error.clone().into_error_object(),
                    )
                    .await;
            }
            return Err(error);
        }
    };
    let slot = session.upstreams().resolved(target.upstream)?;
    routed_to(slot);
    let route = Forwarding {
        key: "name",
        downstream: &name,
        original: &target.original,
        kind: item_kind(kind),
        tool: target.tool.clone(),
        rewrite: Some(rewrite::content_result),
    };
    Ok(Served::by(
        slot,
        forward(slot, method, obj, route, caller).await,
    ))
}

/// `resources/read`: routed by `params.uri`.
pub(crate) async fn call_uri(
    method: &'static str,
    params: Option<&RawValue>,
    caller: &Caller<'_>,
) -> Routed {
    let upstreams = caller.session.upstreams();
    let (obj, uri) = routing_key(params, "uri")?;
    let (index, original) = upstreams.resolve_uri(&uri)?;
    let slot = upstreams.resolved(index)?;
    if !slot.server.resources.allows(&original) {
        // Filtered out: answered exactly as a resource that does not exist.
        return Err(not_found(&uri));
    }
    routed_to(slot);
    let route = Forwarding {
        key: "uri",
        downstream: &uri,
        original: &original,
        kind: ItemKind::Resource,
        tool: None,
        rewrite: (method == method::RESOURCES_READ).then_some(rewrite::read_result as _),
    };
    Ok(Served::by(
        slot,
        forward(slot, method, obj, route, caller).await,
    ))
}

/// `resources/subscribe` (`on`) and `resources/unsubscribe`: to the upstream owning the URI,
/// reference-counted across the clients sharing it.
pub(crate) async fn subscription(
    params: Option<&RawValue>,
    caller: &Caller<'_>,
    on: bool,
) -> Routed {
    let session = caller.session;
    let (_, uri) = routing_key(params, "uri")?;
    allowed(&session.view(), ItemKind::Resource, &uri)?;
    let upstreams = session.upstreams();
    let (index, original) = upstreams.resolve_uri(&uri)?;
    let slot = upstreams.resolved(index)?;
    routed_to(slot);
    let who = crate::subscriptions::Subscriber::session(session);
    let outcome = crate::subscriptions::change(slot, session.inner.id, who, &original, on).await;
    Ok(Served::by(slot, outcome))
}

/// `completion/complete`: to the upstream owning the referenced prompt or resource template,
/// with the reference rewritten to the upstream's own name.
pub(crate) async fn complete(session: &Session, params: Option<&RawValue>) -> Routed {
    let view = session.view();
    let upstreams = session.upstreams();
    let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
    let mut obj = RawObject::parse(params)
        .map_err(|_| RouteError::invalid_params("params must be an object"))?;
    let reference = obj
        .get("ref")
        .and_then(|r| RawObject::parse(r).ok())
        .ok_or_else(|| RouteError::invalid_params("params.ref is required"))?;
    let (index, field, original) = match reference.get_str("type").as_deref() {
        Some("ref/prompt") => {
            let name = reference.get_str("name").unwrap_or_default();
            allowed(&view, ItemKind::Prompt, &name)?;
            let t = upstreams.resolve_name(Kind::Prompts, &name)?;
            (t.upstream, "name", t.original)
        }
        Some("ref/resource") => {
            let uri = reference.get_str("uri").unwrap_or_default();
            allowed(&view, ItemKind::Resource, &uri)?;
            let (i, original) = match upstreams.catalog().lookup(Kind::Templates, &uri) {
                Some(t) => (t.upstream, t.original.clone()),
                None => upstreams.resolve_uri(&uri)?,
            };
            (i, "uri", original)
        }
        _ => {
            return Err(RouteError::invalid_params(
                "ref.type must be ref/prompt or ref/resource",
            ))
        }
    };
    let mut reference = reference;
    reference.set_str(field, &original);
    let reference = reference.to_raw();
    obj.set("ref", reference);
    let slot = upstreams.resolved(index)?;
    routed_to(slot);
    if let Health::Up(info) = slot.upstream.health() {
        if !info.has("completions") && info.protocol_version.as_str() != "2024-11-05" {
            let none = serde_json::value::to_raw_value(
                &json!({ "completion": { "values": [], "hasMore": false } }),
            )
            .map_err(|e| RouteError::Internal(e.to_string()));
            return Ok(Served::by(slot, none));
        }
    }
    let params = obj.to_raw();
    let outcome = slot
        .upstream
        .request(
            method::COMPLETION_COMPLETE,
            Some(&params),
            Some(slot.server.policy.timeout(method::COMPLETION_COMPLETE)),
        )
        .await
        .map_err(RouteError::from);
    Ok(Served::by(slot, outcome))
}

/// `logging/setLevel`: to every upstream of the client's set that declared `logging`; answered
/// once all have answered (their failures are logged, not returned).
pub(crate) async fn set_level(session: &Session, params: Option<&RawValue>) -> Outcome {
    let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
    let mut calls = Vec::new();
    for slot in session.upstreams().slots() {
        if let Health::Up(info) = slot.upstream.health() {
            if info.has("logging") {
                calls.push(slot.upstream.request(
                    method::LOGGING_SET_LEVEL,
                    Some(params),
                    Some(slot.server.policy.timeout(method::LOGGING_SET_LEVEL)),
                ));
            }
        }
    }
    for outcome in futures::future::join_all(calls).await {
        if let Err(e) = outcome {
            tracing::debug!(error = %e, "logging/setLevel failed upstream");
        }
    }
    Ok(empty_object())
}

/// The stack's access check for a request that does not pass the stack: what the view hides is
/// [`RouteError::Denied`] (answered as an unknown name).
pub(crate) fn allowed(
    view: &manifold_policy::View,
    kind: ItemKind,
    name: &str,
) -> Result<(), RouteError> {
    access::check(view, kind, name).map_err(|_| RouteError::Denied {
        kind,
        name: name.to_string(),
    })
}

/// Parses `params` as an object and reads the string field that decides where it goes.
fn routing_key<'a>(
    params: Option<&'a RawValue>,
    key: &str,
) -> Result<(RawObject<'a>, String), RouteError> {
    let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
    let obj = RawObject::parse(params)
        .map_err(|_| RouteError::invalid_params("params must be an object"))?;
    let value = obj
        .get_str(key)
        .ok_or_else(|| RouteError::invalid_params(format!("params.{key} must be a string")))?;
    Ok((obj, value))
}
