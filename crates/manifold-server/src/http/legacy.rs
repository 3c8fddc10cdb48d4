//! The deprecated HTTP+SSE transport (protocol 2024-11-05, mcp-spec.md §5.4), for older clients:
//! `GET /sse` opens a session whose stream first names, in an `endpoint` event, where to POST;
//! `POST /messages?sessionId=…` takes one message (202); every answer and server message travels
//! on the stream. The session ends when the stream does.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use manifold_protocol::{decode_client, encode_error, Decoded, Message};
use serde::Deserialize;

use super::{post, refuse, App};
use axum::Extension;
use manifold_policy::auth::Principal;

/// The path of the message endpoint announced to legacy clients.
pub(crate) const MESSAGES_PATH: &str = "/messages";

/// Ends the session when its stream is dropped (the client went away).
struct EndOnDrop(Arc<App>, String);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.store.remove(&self.1);
    }
}

/// `GET /sse`: opens a session and streams everything for it.
pub(crate) async fn open(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
) -> Response {
    let (id, entry) = match app.new_session(&principal) {
        Ok(created) => created,
        Err(e) => {
            let why = format!("cannot create a session: {e}");
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, why).into_response();
        }
    };
    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("{MESSAGES_PATH}?sessionId={id}"));
    let first = futures::stream::iter([Ok::<_, std::convert::Infallible>(endpoint)]);
    let closing = app.closing.clone();
    let guard = Arc::new(EndOnDrop(app.clone(), id));
    let live = futures::stream::unfold(
        (entry, closing, guard),
        |(entry, mut closing, guard)| async move {
            let message = tokio::select! {
                m = entry.outbox.recv() => m,
                _ = closing.wait_for(|c| *c) => None,
            }?;
            entry.touch();
            let event = Event::default().event("message").data(message);
            Some((Ok(event), (entry, closing, guard)))
        },
    );
    Sse::new(futures::StreamExt::chain(first, live))
        .keep_alive(KeepAlive::new().interval(std::time::Duration::from_secs(15)))
        .into_response()
}

#[derive(Deserialize)]
pub(crate) struct Target {
    #[serde(rename = "sessionId")]
    session_id: String,
}

/// `POST /messages?sessionId=…`: one client message; the answer goes on the session's stream.
pub(crate) async fn message(
    State(app): State<Arc<App>>,
    Extension(principal): Extension<Principal>,
    Query(target): Query<Target>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = post::check_content_headers(&headers) {
        return r.into_response();
    }
    let entry = match app.session_by_id(&target.session_id, &principal) {
        Ok(entry) => entry,
        Err(r) => return r.into_response(),
    };
    let sink = entry.session.sink();
    match decode_client(&body) {
        Err(e) => {
            let error = entry.session.refuse(&e).await;
            entry
                .session
                .send_via(&sink, encode_error(e.id(), &error))
                .await;
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
        Ok(Decoded::Batch(_)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "batches are not part of HTTP+SSE (2024-11-05)",
            )
            .into_response();
        }
        Ok(Decoded::Single(Message::Request(request))) => {
            // Registered like any HTTP request, so the client's `notifications/cancelled` and the
            // end of the session stop it; a cancelled request sends no answer.
            let task = post::spawn_request(&entry, request, sink.clone());
            let session = entry.session.clone();
            entry.tasks.spawn_tracked(async move {
                if let Some(line) = task.await {
                    session.send_via(&sink, line).await;
                }
            });
        }
        Ok(Decoded::Single(other)) => post::on_message(&entry, other).await,
    }
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "text/plain")],
        "Accepted",
    )
        .into_response()
}
