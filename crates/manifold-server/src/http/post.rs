//! POST on the MCP endpoint: one JSON-RPC message (or, with 2025-03-26, a batch) from the client.
//! Requests are answered with a JSON body; notifications and responses get 202. A 2026-07-28
//! POST goes to [`super::stateless`].

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use manifold_protocol::{
    code, decode_client, decode_one_client, encode_error, encode_result, method, version,
    DecodeError, Decoded, ErrorObject, Message, Request,
};

use super::store::HttpSession;
use super::{refuse, App, Refusal, SESSION_HEADER, VERSION_HEADER};
use axum::Extension;
use manifold_policy::auth::Principal;

pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_content_headers(&headers) {
        return r.into_response();
    }
    let decoded = match decode_client(&body) {
        Ok(d) => d,
        Err(e) => {
            let error = refused(&app, &headers, &principal, &e).await;
            return json(StatusCode::BAD_REQUEST, encode_error(e.id(), &error));
        }
    };
    if super::stateless::is_modern(&headers) {
        return super::stateless::handle(&app, &principal, &headers, decoded).await;
    }
    if let Some(refusal) = super::stateless::unsupported_version(&headers, &decoded) {
        return refusal;
    }
    match decoded {
        Decoded::Single(Message::Request(r))
            if r.method == method::INITIALIZE && !headers.contains_key(SESSION_HEADER) =>
        {
            initialize(&app, r, &principal).await
        }
        Decoded::Single(message) => {
            let session = match session_for(&app, &headers, &principal) {
                Ok(s) => s,
                Err(r) => return r.into_response(),
            };
            match message {
                Message::Request(request) => {
                    respond(&app, &session, request, accepts_sse(&headers)).await
                }
                other => {
                    on_message(&session, other).await;
                    StatusCode::ACCEPTED.into_response()
                }
            }
        }
        Decoded::Batch(items) => {
            let session = match session_for(&app, &headers, &principal) {
                Ok(s) => s,
                Err(r) => return r.into_response(),
            };
            batch(&session, items).await
        }
    }
}

/// The error for a body that is not one acceptable message, audited (as a refused tool call)
/// against the session it names, if any.
async fn refused(
    app: &App,
    headers: &HeaderMap,
    principal: &Principal,
    e: &DecodeError,
) -> ErrorObject {
    match app.session_of_refused(headers, principal) {
        Some(session) => session.session.refuse(e).await,
        None => {
            let error = e.to_error();
            if let DecodeError::Duplicate {
                method: Some(m), ..
            } = e
            {
                if m == method::TOOLS_CALL {
                    let policy = app.gateway.policy();
                    policy
                        .audit_refused(&principal.0, 0, "duplicate_key", &error)
                        .await;
                }
            }
            error
        }
    }
}

/// `Content-Type` must be JSON — `application/json`, with parameters such as `charset` or
/// without, nothing else and only once; `Accept` (when given) must allow JSON or SSE.
pub(crate) fn check_content_headers(headers: &HeaderMap) -> Result<(), Refusal> {
    let mut types = headers.get_all(header::CONTENT_TYPE).iter();
    let content_type = match (types.next(), types.next()) {
        (Some(t), None) => t.to_str().unwrap_or(""),
        (None, _) => "",
        (Some(_), Some(_)) => {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                "more than one Content-Type header",
            ));
        }
    };
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json",
        ));
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let ok = [
            "application/json",
            "text/event-stream",
            "*/*",
            "application/*",
        ]
        .iter()
        .any(|t| accept.contains(t));
        if !ok {
            return Err(refuse(
                StatusCode::NOT_ACCEPTABLE,
                "Accept must allow application/json or text/event-stream",
            ));
        }
    }
    Ok(())
}

/// The session named by the request, with its `MCP-Protocol-Version` checked.
fn session_for(
    app: &App,
    headers: &HeaderMap,
    principal: &Principal,
) -> Result<Arc<HttpSession>, Refusal> {
    if let Some(v) = headers.get(VERSION_HEADER) {
        let v = v.to_str().unwrap_or("");
        if !version::is_supported(v) {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("unsupported MCP-Protocol-Version `{v}`"),
            ));
        }
    }
    app.session(headers, principal)
}

async fn initialize(app: &App, request: Request, principal: &Principal) -> Response {
    let (id, entry) = match app.new_session(principal) {
        Ok(created) => created,
        Err(e) => {
            let why = format!("cannot create a session: {e}");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, why).into_response();
        }
    };
    match entry.session.handle(&request).await {
        Ok(result) => {
            let mut response = json(StatusCode::OK, encode_result(&request.id, &result));
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(SESSION_HEADER, value);
            }
            tracing::debug!(sessions = app.store.len(), "session opened");
            response
        }
        Err(error) => {
            app.store.remove(&id);
            json(StatusCode::OK, encode_error(Some(&request.id), &error))
        }
    }
}

/// Whether the client takes an SSE stream as the answer to a POST.
pub(crate) fn accepts_sse(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/event-stream"))
}

/// Streams of answered POSTs each session keeps for resumption.
const REQUEST_STREAMS_KEPT: usize = 64;

/// Messages a request may send before its response, held for its SSE stream.
const REQUEST_STREAM_CAPACITY: usize = 64;

/// Answers a request. A request that only produces its response, within `listen.sse_after_ms`,
/// gets a JSON body. When the client accepts SSE, one that first produces request-scoped
/// messages (progress, a relayed sampling request), or takes longer, gets an SSE stream — primed
/// for resumption — carrying them and then its response; without SSE those messages go to the
/// session's GET stream.
pub(crate) async fn respond(
    app: &App,
    session: &Arc<HttpSession>,
    request: Request,
    sse: bool,
) -> Response {
    let replay = app.replay;
    let (sink, mut scoped) = if sse {
        let (tx, rx) = manifold_router::downstream::sink(REQUEST_STREAM_CAPACITY, app.queue.1);
        (tx, Some(rx))
    } else {
        (session.session.sink(), None)
    };
    let mut task = spawn_request(session, request, sink);
    // A client that drops its connection before a JSON answer cancels the request (an SSE answer
    // keeps running: it can be resumed with Last-Event-ID).
    let mut abandon = AbortOnDrop(Some(task.0.abort_handle()));
    let first = match scoped.as_mut() {
        Some(rx) => tokio::select! {
            biased;
            done = &mut task => Err(done),
            message = rx.recv() => match message {
                Some(m) => Ok(Some(m)),
                // Every sender is gone: the request finished; answer with its response.
                None => Err((&mut task).await),
            },
            // Slow to answer: a resumable stream, so a dropped connection loses nothing.
            () = tokio::time::sleep(app.sse_after) => Ok(None),
        },
        None => Err((&mut task).await),
    };
    match first {
        Err(done) => match done {
            Some(line) => json(StatusCode::OK, line),
            // Cancelled by the client: there is no response to send.
            None => StatusCode::ACCEPTED.into_response(),
        },
        Ok(first) => {
            abandon.0 = None;
            let rx = scoped.take().expect("SSE mode");
            let (stream, log) = session
                .streams
                .new_request(REQUEST_STREAMS_KEPT, replay.bytes);
            super::sse::record(&session.tasks, log.clone(), first, rx, task, replay);
            super::sse::follow(log, stream, 0, Some(app.sse_retry), replay)
        }
    }
}

/// Runs one request as its own task (one of the face's, so shutdown ends it), registered so a
/// client's cancel can stop it. Its output is the encoded response, or `None` if it was
/// cancelled.
pub(crate) fn spawn_request(
    session: &Arc<HttpSession>,
    request: Request,
    sink: manifold_router::downstream::Sink,
) -> RequestTask {
    let id = request.id.clone();
    let entry = session.clone();
    // Registered before it can finish, so its own removal always finds it.
    let mut in_flight = session.in_flight.lock();
    // Tracked, and aborted through `in_flight` when its session ends (shutdown ends them all).
    let task = session.tasks.spawn_tracked(async move {
        let line = match entry.session.handle_scoped(&request, &sink).await {
            Ok(result) => encode_result(&request.id, &result),
            Err(error) => encode_error(Some(&request.id), &error),
        };
        entry.in_flight.lock().remove(&request.id);
        line
    });
    in_flight.insert(id, task.abort_handle());
    RequestTask(task)
}

/// Aborts a request whose client went away, unless disarmed.
struct AbortOnDrop(Option<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

/// A request being served; resolves to its encoded response (`None` if cancelled).
pub(crate) struct RequestTask(tokio::task::JoinHandle<String>);

impl std::future::Future for RequestTask {
    type Output = Option<String>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(Result::ok)
    }
}

/// Runs a request to completion for a batch (no streaming); `None` if it was cancelled.
async fn serve_request(session: &Arc<HttpSession>, request: Request) -> Option<String> {
    let sink = session.session.sink();
    spawn_request(session, request, sink).await
}

pub(crate) async fn on_message(session: &HttpSession, message: Message) {
    match message {
        Message::Notification(n) => match n.method.as_str() {
            method::INITIALIZED => session.session.client_ready().await,
            method::CANCELLED => {
                if let Some(task) = n
                    .cancelled_request()
                    .and_then(|id| session.in_flight.lock().remove(&id))
                {
                    task.abort();
                }
            }
            // Only upstreams initialized with this client's identity hear about its roots.
            method::ROOTS_LIST_CHANGED if session.session.owns_identity() => {
                session
                    .session
                    .broadcast(&n.method, n.params.as_deref())
                    .await;
            }
            _ => tracing::debug!(method = %n.method, "ignoring client notification"),
        },
        Message::Response(r) => session.session.complete(r),
        Message::Request(_) => {}
    }
}

/// A JSON-RPC batch: only when 2025-03-26 was negotiated (mcp-spec.md §3.2).
async fn batch(
    session: &Arc<HttpSession>,
    items: Vec<Box<manifold_protocol::RawValue>>,
) -> Response {
    if !version::allows_batches(&session.session.negotiated_version()) || items.is_empty() {
        let error = ErrorObject::new(
            code::INVALID_REQUEST,
            "JSON-RPC batches are only accepted when protocol version 2025-03-26 is negotiated",
        );
        return json(StatusCode::BAD_REQUEST, encode_error(None, &error));
    }
    let mut answers = Vec::new();
    for item in items {
        match decode_one_client(&item) {
            Ok(Message::Request(r)) => answers.extend(serve_request(session, r).await),
            Ok(other) => on_message(session, other).await,
            Err(e) => {
                let error = session.session.refuse(&e).await;
                answers.push(encode_error(e.id(), &error));
            }
        }
    }
    if answers.is_empty() {
        return StatusCode::ACCEPTED.into_response();
    }
    json(StatusCode::OK, format!("[{}]", answers.join(",")))
}

pub(crate) fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
