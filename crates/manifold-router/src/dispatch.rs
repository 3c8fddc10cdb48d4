//! Dispatch of every client request, of either era: its span and metrics, then by method to the
//! handshake (legacy) or `server/discover` (modern), the merged lists, or the routed methods; the
//! one place a routing error becomes the wire error.

use manifold_protocol::object::empty_object;
use manifold_protocol::{method, ErrorObject, RawValue, Request};
use std::time::Instant;
use tracing::Instrument;

use crate::catalog::Kind;
use crate::error::RouteError;
use crate::modern::Asked;
use crate::routed::Served;
use crate::session::{Caller, Session};
use crate::{handshake, lists, modern, routed};

type Outcome = Result<Box<RawValue>, RouteError>;

/// Answers one client request of `session`, sending its request-scoped messages to `sink`: in
/// its `mcp.request` span, counted and timed by method, server and outcome.
pub(crate) async fn serve(
    session: &Session,
    request: &Request,
    sink: &crate::downstream::Sink,
    asked: Asked,
    param_headers: Option<&[(String, String)]>,
) -> Result<Box<RawValue>, ErrorObject> {
    let meta = match &asked {
        Asked::Modern(meta) => Some(meta),
        Asked::Legacy => None,
    };
    let caller = Caller {
        session,
        sink,
        meta,
        retry_of: None,
        param_headers,
    };
    let started = Instant::now();
    // The span of this client request: `mcp.upstream` spans of the calls it makes are its
    // children; `server` is recorded once the request is routed.
    let span = tracing::info_span!(
        "mcp.request",
        method = %request.method,
        server = tracing::field::Empty,
        session = session.inner.id,
        request_id = %request.id
    );
    let modern = meta.is_some();
    let (served_by, outcome) = dispatch(request, &caller, &asked).instrument(span).await;
    let gateway = session.gateway();
    let server = match served_by {
        Some(index) => gateway.alias(index),
        None => "manifold",
    };
    let method = manifold_metrics::method_label(&request.method);
    let label = match &outcome {
        Ok(result) if manifold_policy::is_tool_error(result) => "tool_error",
        Ok(_) => "ok",
        Err(error) => error.outcome(),
    };
    let metrics = gateway.metrics();
    metrics
        .requests
        .with_label_values(&[method, server, label])
        .inc();
    metrics
        .request_duration
        .with_label_values(&[method, server])
        .observe(started.elapsed().as_secs_f64());
    // The one place a routing error becomes what the client receives.
    let answer = outcome.map_err(RouteError::into_error_object);
    if modern {
        modern::finish(session, &request.method, answer)
    } else {
        answer
    }
}

/// The answer to one request, by method, with the upstream that served it (`None`: Manifold
/// answered it itself, or refused it before it was routed). A modern request is first given its
/// client (`modern::adopt`) and is routed without the modern keys of its `_meta` (a legacy
/// upstream may refuse them; `forward` gives a modern upstream the client's own again).
async fn dispatch(
    request: &Request,
    caller: &Caller<'_>,
    asked: &Asked,
) -> (Option<usize>, Outcome) {
    let session = caller.session;
    let local = |outcome: Outcome| (None, outcome);
    let method = request.method.as_str();
    let stripped;
    let restored;
    let retrying;
    let mut caller = caller;
    let mut params = request.params.as_deref();
    match asked {
        Asked::Legacy => match method {
            method::INITIALIZE => return local(handshake::initialize(session, params).await),
            method::PING => return local(Ok(empty_object())),
            method::SERVER_DISCOVER => {
                return local(Err(RouteError::MethodNotFound(method.to_string())))
            }
            _ if !session.client_initialized() => {
                return local(Err(RouteError::NotInitialized(method.to_string())))
            }
            _ => {}
        },
        Asked::Modern(meta) => {
            modern::adopt(session, meta).await;
            if method == method::SERVER_DISCOVER {
                return local(modern::discover(session));
            }
            if method == method::SUBSCRIPTIONS_LISTEN {
                return local(crate::listen::listen(caller, &request.id, params).await);
            }
            if manifold_protocol::modern::removed(method) {
                return local(Err(RouteError::Removed(method.to_string())));
            }
            stripped = params.and_then(manifold_protocol::modern::strip);
            if let Some(p) = stripped.as_deref() {
                params = Some(p);
            }
            if matches!(
                method,
                method::TOOLS_CALL | method::PROMPTS_GET | method::RESOURCES_READ
            ) {
                match crate::mrtr::resume(caller, params).await {
                    crate::mrtr::Retry::New => {}
                    // The retry of a call parked for the client's input goes on with that call.
                    crate::mrtr::Retry::Answered(outcome) => return local(outcome),
                    // That of an upstream's round goes back to that upstream.
                    crate::mrtr::Retry::ToUpstream { server, params: p } => {
                        restored = (server, p);
                        params = Some(&restored.1);
                        retrying = Caller {
                            retry_of: Some(&restored.0),
                            ..*caller
                        };
                        caller = &retrying;
                    }
                }
            }
        }
    }
    let routed = match method {
        method::TOOLS_LIST => return local(lists::list(session, Kind::Tools, params)),
        method::PROMPTS_LIST => return local(lists::list(session, Kind::Prompts, params)),
        method::RESOURCES_LIST => return local(lists::list(session, Kind::Resources, params)),
        method::RESOURCES_TEMPLATES_LIST => {
            return local(lists::list(session, Kind::Templates, params))
        }
        method::LOGGING_SET_LEVEL => return local(routed::set_level(session, params).await),
        method::TOOLS_CALL => {
            routed::call_named(Kind::Tools, method::TOOLS_CALL, params, caller).await
        }
        method::PROMPTS_GET => {
            routed::call_named(Kind::Prompts, method::PROMPTS_GET, params, caller).await
        }
        method::RESOURCES_READ => routed::call_uri(method::RESOURCES_READ, params, caller).await,
        method::RESOURCES_SUBSCRIBE => routed::subscription(params, caller, true).await,
        method::RESOURCES_UNSUBSCRIBE => routed::subscription(params, caller, false).await,
        method::COMPLETION_COMPLETE => routed::complete(session, params).await,
        other => return local(Err(RouteError::MethodNotFound(other.to_string()))),
    };
    match routed {
        Ok(Served { server, outcome }) => (Some(server), outcome),
        Err(refused) => local(Err(refused)),
    }
}
