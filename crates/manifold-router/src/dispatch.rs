//! Dispatch of every client request: its span and metrics, then by method to the handshake, the
//! merged lists, or the routed methods; the one place a routing error becomes the wire error.

use manifold_protocol::object::empty_object;
use manifold_protocol::{method, ErrorObject, RawValue, Request};
use std::time::Instant;
use tracing::Instrument;

use crate::catalog::Kind;
use crate::error::RouteError;
use crate::routed::Served;
use crate::session::{Caller, Session};
use crate::{handshake, lists, routed};

type Outcome = Result<Box<RawValue>, RouteError>;

/// Answers one client request of `session`, sending its request-scoped messages to `sink`: in
/// its `mcp.request` span, counted and timed by method, server and outcome.
pub(crate) async fn serve(
    session: &Session,
    request: &Request,
    sink: &crate::downstream::Sink,
) -> Result<Box<RawValue>, ErrorObject> {
    let caller = Caller { session, sink };
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
    let (served_by, outcome) = dispatch(request, &caller).instrument(span).await;
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
    outcome.map_err(RouteError::into_error_object)
}

/// The answer to one request, by method, with the upstream that served it (`None`: Manifold
/// answered it itself, or refused it before it was routed).
async fn dispatch(request: &Request, caller: &Caller<'_>) -> (Option<usize>, Outcome) {
    let session = caller.session;
    let params = request.params.as_deref();
    let initialized = session.client_initialized();
    let local = |outcome: Outcome| (None, outcome);
    let routed = match request.method.as_str() {
        method::INITIALIZE => return local(handshake::initialize(session, params).await),
        method::PING => return local(Ok(empty_object())),
        _ if !initialized => return local(Err(RouteError::NotInitialized(request.method.clone()))),
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
