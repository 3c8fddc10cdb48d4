//! The answer to a 2026-07-28 request (mcp-spec.md §5.3): JSON when only its response comes
//! within `listen.sse_after_ms`, else an SSE stream of its request-scoped messages (progress, a
//! listen's notifications) and then its response. The era has no resumption, so the stream owns
//! its request: a client that closes it cancels the request, and what the request was waiting
//! for upstream is cancelled with it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use manifold_protocol::{encode_error, encode_result, Request};
use manifold_router::downstream::SinkReceiver;
use tokio::task::{AbortHandle, JoinHandle};

use super::post::json;
use super::store::HttpSession;
use super::App;

/// Messages a request may send before its response, held for its stream.
const STREAM_CAPACITY: usize = 64;

/// How often an SSE answer with nothing to say sends a comment, so intermediaries keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Serves `request` on `carrier` and answers it; `sse`: whether the client takes an SSE stream
/// (without, it gets the response alone, as JSON, whatever came before it).
pub(crate) async fn answer(
    app: &App,
    carrier: &Arc<HttpSession>,
    request: Request,
    param_headers: Vec<(String, String)>,
    sse: bool,
) -> Response {
    let (sink, mut rx) = manifold_router::downstream::sink(STREAM_CAPACITY, app.queue.1);
    let session = carrier.session.clone();
    // The sink moves into the task: once the task ends, the stream's receiver sees the end.
    let mut task = carrier.tasks.spawn_tracked(async move {
        match session
            .handle_with_param_headers(&request, &sink, &param_headers)
            .await
        {
            Ok(result) => (StatusCode::OK, encode_result(&request.id, &result)),
            Err(error) => (status_of(&error), encode_error(Some(&request.id), &error)),
        }
    });
    let owner = Owner(task.abort_handle());
    if !sse {
        // Only the response: what comes before it has nowhere to go.
        let drain = async { while rx.recv().await.is_some() {} };
        let (_, done) = tokio::join!(drain, &mut task);
        drop(owner);
        return finished(done);
    }
    // Messages first: one queued before the response makes the answer a stream (it must reach
    // the client, ahead of the response). The sink may outlive the request (a call parked for
    // input keeps a clone), so the request's end is watched for itself.
    let mut response = None;
    let first = tokio::select! {
        biased;
        message = rx.recv() => match message {
            Some(message) => Some(message),
            // Every sender is gone: the request ended with nothing before its response.
            None => return finished((&mut task).await),
        },
        done = &mut task => match rx.try_recv() {
            Ok(message) => {
                response = Some(done);
                Some(message)
            }
            Err(_) => return finished(done),
        },
        () = tokio::time::sleep(app.sse_after) => None,
    };
    stream(Streaming {
        first,
        rx,
        task,
        response,
        _owner: owner,
        done: false,
    })
}

/// The HTTP status the era gives an error: 400 for a capability the request needed but did not
/// declare (`-32021`) and for headers that disagree with the body (`-32020`, here the
/// `Mcp-Param-*` ones, checked once the tool is known); other errors of a served request are
/// answered 200.
fn status_of(error: &manifold_protocol::ErrorObject) -> StatusCode {
    if matches!(
        error.code,
        manifold_protocol::code::MISSING_CLIENT_CAPABILITY
            | manifold_protocol::code::HEADER_MISMATCH
    ) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// A JSON answer of a request that ended before anything else was sent.
fn finished(done: Result<(StatusCode, String), tokio::task::JoinError>) -> Response {
    match done {
        Ok((status, line)) => json(status, line),
        // Aborted (the gateway is shutting down): nothing to answer.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// Aborts the request when the answer is dropped (the client closed the stream).
struct Owner(AbortHandle);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What an SSE answer still has to send.
struct Streaming {
    first: Option<String>,
    rx: SinkReceiver,
    task: JoinHandle<(StatusCode, String)>,
    /// The request's answer, once it ended (what is still queued goes first).
    response: Option<Result<(StatusCode, String), tokio::task::JoinError>>,
    _owner: Owner,
    done: bool,
}

fn stream(state: Streaming) -> Response {
    let events = futures::stream::unfold(state, |mut state| async move {
        if let Some(first) = state.first.take() {
            return Some((Ok::<_, Infallible>(event(&first)), state));
        }
        loop {
            if state.done {
                return None;
            }
            if let Some(done) = state.response.take() {
                // Ended: what it queued before its response goes out first.
                if let Ok(message) = state.rx.try_recv() {
                    state.response = Some(done);
                    return Some((Ok(event(&message)), state));
                }
                state.done = true;
                return match done {
                    Ok((_, line)) => Some((Ok(event(&line)), state)),
                    Err(_) => None,
                };
            }
            tokio::select! {
                biased;
                message = state.rx.recv() => match message {
                    Some(message) => return Some((Ok(event(&message)), state)),
                    None => {
                        let done = (&mut state.task).await;
                        state.response = Some(done);
                    }
                },
                done = &mut state.task => state.response = Some(done),
                () = tokio::time::sleep(KEEP_ALIVE) => {
                    return Some((Ok(Bytes::from_static(b":\n\n")), state));
                }
            }
        }
    });
    let mut response = Response::new(Body::from_stream(events));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// One `message` event carrying `data` (a JSON text: its raw line breaks are whitespace between
/// tokens, and each line becomes a `data:` line the client joins back).
fn event(data: &str) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\n");
    for line in data.split(['\n', '\r']) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    Bytes::from(out)
}
