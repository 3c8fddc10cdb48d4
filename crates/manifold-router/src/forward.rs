//! Sending one routed request upstream: pinned arguments set, in-flight tracking (so progress
//! and server→client requests find their client), then the policy stack around the upstream
//! request itself.

use std::sync::Arc;

use manifold_policy::{ArgumentSchema, Call, Failure, ItemKind, Reply};
use manifold_protocol::{RawObject, RawValue};
use serde_json::Value;

use crate::catalog::ToolInfo;
use crate::error::RouteError;
use crate::pool::Slot;
use crate::return_path::Prepared;
use crate::session::{Caller, Session};

type Outcome = Result<Box<RawValue>, RouteError>;

/// Sends a routed request to `slot`'s upstream, through the policy stack, with its routing field
/// set to the upstream's own value and any pinned arguments set.
pub(crate) async fn forward(
    slot: &Arc<Slot>,
    method: &'static str,
    mut obj: RawObject<'_>,
    route: Forwarding<'_>,
    caller: &Caller<'_>,
) -> Outcome {
    if route.original != route.downstream {
        obj.set_str(route.key, route.original);
    }
    if caller.retry_of.is_some_and(|server| server != slot.alias()) {
        // The round was another server's: its state is no state of this one.
        return Err(RouteError::invalid_params(
            "Invalid or expired requestState",
        ));
    }
    let session = caller.session;
    let gateway = session.gateway();
    let policy = gateway.policy();
    let (arguments, schema) = match (&route.tool, route.kind) {
        (Some(tool), ItemKind::Tool) => tool_arguments(
            &mut obj,
            tool,
            route.downstream,
            slot,
            policy.audits_arguments(),
        )?,
        _ => (None, None),
    };
    let param_headers = match param_headers(slot, &obj, route.tool.as_deref(), caller.param_headers)
    {
        Ok(headers) => headers,
        Err(refused) => {
            // A refused tool call is audited too.
            let error = refused.clone().into_error_object();
            policy
                .audit_refused(
                    session.principal(),
                    session.inner.id,
                    "header_mismatch",
                    &error,
                )
                .await;
            return Err(refused);
        }
    };
    // The audit log records the arguments as they are sent, numbers as written.
    let arguments_text = (route.kind == ItemKind::Tool && policy.audits_arguments())
        .then(|| obj.get("arguments").map(|raw| raw.to_owned()))
        .flatten();
    // Progress tokens are rewritten now; the request counts as in flight (for metrics, and
    // for routing what the upstream sends back) only once it is really sent.
    let prepared = slot.return_path.prepare(&mut obj, session.shares(slot));
    // A modern upstream is told who the client is as the client said it, request by request:
    // a modern client's `_meta`, or what a legacy one said in `initialize` when the upstream
    // serves others too (one that is its own already carries its identity).
    if slot.upstream.is_modern() {
        let members = match caller.meta {
            Some(meta) => Some(manifold_protocol::modern::members(meta)),
            None if session.shares(slot) => session.client().stateless.clone(),
            None => None,
        };
        if let Some(members) = members {
            let merged = manifold_protocol::modern::meta_with(obj.get("_meta"), &members);
            obj.set("_meta", merged);
        }
    }
    let sending = Sending {
        slot: slot.clone(),
        inflight: gateway
            .metrics()
            .inflight
            .with_label_values(&[slot.alias()]),
        prepared: Some(prepared),
        session: session.clone(),
        sink: caller.sink.clone(),
        params: obj.to_raw(),
        param_headers,
        rewrite: route
            .rewrite
            .filter(|_| !slot.server.namespace.is_empty())
            .map(|f| (f, slot.server.namespace.clone())),
        // A modern client's call may be asked for its input (sampling, elicitation, roots).
        input_from: caller
            .meta
            .map(|meta| (meta.client_capabilities.clone(), meta.log_level.clone())),
    };
    let call = Call {
        principal: session.principal().clone(),
        session: session.inner.id,
        view: session.view(),
        method,
        kind: route.kind,
        name: route.downstream.to_string(),
        server: slot.server.policy.clone(),
        arguments_text,
        arguments,
        schema,
        timeout: None,
        // The innermost service: the upstream request itself, under the deadline the stack set.
        forward: Some(Box::new(move |call: &Call| {
            let (method, timeout) = (call.method, call.timeout);
            Box::pin(async move { sending.send(method, timeout).await })
        })),
    };
    policy.call(call).await.map_err(RouteError::Failed)
}

/// Everything the innermost service needs to send one request upstream.
pub(crate) struct Sending {
    /// The upstream session it goes to (whose return path tracks it while in flight).
    slot: Arc<Slot>,
    inflight: manifold_metrics::IntGauge,
    /// Its route, until it is registered as in flight.
    prepared: Option<Prepared>,
    session: Session,
    sink: crate::downstream::Sink,
    params: Box<RawValue>,
    /// Its `Mcp-Param-*` headers (for a 2026-07-28 HTTP upstream).
    param_headers: Vec<(String, String)>,
    /// Rewrites the URIs of the result for the server's namespace, before the policy layers
    /// (the result-size limit among them) see it.
    rewrite: Option<(ResultRewrite, String)>,
    /// A modern client's declared capabilities and log level: its call may then be parked for
    /// its input ([`crate::mrtr`]) and gets the log messages it asked for.
    input_from: Option<(Box<RawValue>, Option<String>)>,
}

/// Rewrites a result's URIs for a namespace (see [`crate::rewrite`]).
pub(crate) type ResultRewrite = fn(Box<RawValue>, &str) -> Box<RawValue>;

impl Sending {
    async fn send(mut self, method: &'static str, timeout: Option<std::time::Duration>) -> Reply {
        match self.input_from.take() {
            Some((capabilities, level)) => {
                crate::mrtr::drive(self, capabilities, level.as_deref(), method, timeout).await
            }
            None => self.request(method, timeout, None).await,
        }
    }

    /// The gateway it is sent through.
    pub(crate) fn gateway(&self) -> &crate::gateway::Gateway {
        self.session.gateway()
    }

    /// Who it is sent for.
    pub(crate) fn principal(&self) -> &str {
        self.session.principal()
    }

    /// The upstream request itself, tracked in the slot's return path while in flight (with
    /// `input`, where the upstream's requests for a modern client's input go).
    pub(crate) async fn request(
        mut self,
        method: &'static str,
        timeout: Option<std::time::Duration>,
        input: Option<crate::mrtr::Inputs>,
    ) -> Reply {
        self.inflight.inc();
        let _inflight = DecOnDrop(self.inflight.clone());
        let modern_client = input.is_some();
        // While in flight, the upstream's progress and requests can be traced back to this client.
        let _tracked =
            self.slot
                .return_path
                .register(self.prepared.take(), &self.session, &self.sink, input);
        let result = self.upstream_request(method, &self.params, timeout).await?;
        let result = if !crate::input_bridge::is_input_required(&result) {
            result
        } else if modern_client {
            // A modern upstream's input round, for a modern client: passed on, its state sealed.
            crate::input_relay::wrap(self.gateway(), self.principal(), self.slot.alias(), result)?
        } else {
            // For a legacy client: asked of it as requests.
            crate::input_bridge::fulfil(&self, method, timeout, result).await?
        };
        Ok(match &self.rewrite {
            Some((rewrite, namespace)) => rewrite(result, namespace),
            None => result,
        })
    }
}

impl Sending {
    /// One upstream request of this call with `params`.
    pub(crate) async fn upstream_request(
        &self,
        method: &'static str,
        params: &RawValue,
        timeout: Option<std::time::Duration>,
    ) -> Reply {
        self.slot
            .upstream
            .request_with_headers(method, Some(params), timeout, self.param_headers.clone())
            .await
            .map_err(|e| Failure {
                outcome: e.outcome(),
                error: e.to_error(),
            })
    }

    /// The params it was sent with.
    pub(crate) fn params(&self) -> &RawValue {
        &self.params
    }

    /// Its client's session and the stream its request-scoped messages go on.
    pub(crate) fn client(&self) -> (&Session, &crate::downstream::Sink) {
        (&self.session, &self.sink)
    }
}

/// Decrements an in-flight gauge however the request ends.
struct DecOnDrop(manifold_metrics::IntGauge);

impl Drop for DecOnDrop {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Where a routed request goes and what it names.
pub(crate) struct Forwarding<'a> {
    /// The params field holding the name (`name` or `uri`).
    pub(crate) key: &'static str,
    /// The name as the client sent it.
    pub(crate) downstream: &'a str,
    /// The upstream's own name.
    pub(crate) original: &'a str,
    pub(crate) kind: ItemKind,
    pub(crate) tool: Option<Arc<ToolInfo>>,
    /// How URIs in the result are rewritten, if they are.
    pub(crate) rewrite: Option<ResultRewrite>,
}

/// A tool call's arguments with pinned values set (spliced into `obj`'s own `arguments` when
/// there are any, so the client's other arguments go upstream as written), parsed for the
/// validation and audit layers when they look at them, and the tool's compiled schema when the
/// server's calls are validated.
fn tool_arguments(
    obj: &mut RawObject<'_>,
    tool: &ToolInfo,
    name: &str,
    slot: &Slot,
    audited: bool,
) -> Result<(Option<Value>, Option<Arc<ArgumentSchema>>), RouteError> {
    let validated = slot.server.policy.validate_arguments;
    if !tool.fixed.is_empty() {
        let pinned = pin_arguments(obj.get("arguments"), &tool.fixed)?;
        obj.set("arguments", pinned);
    }
    if !validated && !audited {
        // Nobody looks at them: forwarded as they came, never parsed.
        return Ok((None, None));
    }
    let arguments: Option<Value> = match obj.get("arguments") {
        Some(raw) => Some(
            serde_json::from_str(raw.get())
                .map_err(|_| RouteError::invalid_params("params.arguments is not valid JSON"))?,
        ),
        None => None,
    };
    let schema = validated.then(|| tool.compiled(name));
    Ok((arguments, schema))
}

/// The `Mcp-Param-*` headers of a call: a 2026-07-28 HTTP client's are checked against the
/// arguments it sent (a disagreement is `-32020`); a 2026-07-28 HTTP upstream is sent those of
/// the arguments as forwarded (pinned ones included), and the client's that name no argument
/// Manifold knows, as they came.
fn param_headers(
    slot: &Slot,
    obj: &RawObject<'_>,
    tool: Option<&ToolInfo>,
    given: Option<&[(String, String)]>,
) -> Result<Vec<(String, String)>, RouteError> {
    use manifold_protocol::param_headers::{check, headers, PREFIX};
    let upstream = slot.upstream.mirrors_arguments();
    let mirrors = tool.map(|t| t.mirrors.as_slice()).unwrap_or_default();
    let mut out = Vec::new();
    if !mirrors.is_empty() && (given.is_some() || upstream) {
        let sent = obj
            .get("arguments")
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .unwrap_or(Value::Null);
        if let (Some(given), Some(tool)) = (given, tool) {
            // Pinned arguments are Manifold's, not the client's: it sent no header for them.
            let own: Vec<_> = mirrors
                .iter()
                .filter(|m| !m.path.first().is_some_and(|p| tool.fixed.contains_key(p)))
                .cloned()
                .collect();
            check(&own, &sent, given).map_err(|why| {
                RouteError::Era(manifold_protocol::ErrorObject::new(
                    manifold_protocol::code::HEADER_MISMATCH,
                    format!("the request headers and body disagree: {why}"),
                ))
            })?;
        }
        if upstream {
            out = headers(mirrors, &sent);
        }
    }
    if upstream {
        let known = |name: &str| {
            mirrors
                .iter()
                .any(|m| name.strip_prefix(PREFIX) == Some(m.header.to_ascii_lowercase().as_str()))
        };
        out.extend(
            given
                .unwrap_or_default()
                .iter()
                .filter(|(name, _)| !known(name))
                .cloned(),
        );
    }
    Ok(out)
}

/// The client's `arguments` with each pinned key set to its configured value.
fn pin_arguments(
    arguments: Option<&RawValue>,
    fixed: &serde_json::Map<String, Value>,
) -> Result<Box<RawValue>, RouteError> {
    let not_object = || RouteError::invalid_params("params.arguments must be an object");
    let mut args = match arguments.filter(|raw| raw.get() != "null") {
        Some(raw) => RawObject::parse(raw).map_err(|_| not_object())?,
        None => RawObject::default(),
    };
    for (key, value) in fixed {
        let raw = serde_json::value::to_raw_value(value)
            .map_err(|e| RouteError::Internal(e.to_string()))?;
        args.set(key, raw);
    }
    Ok(args.to_raw())
}
