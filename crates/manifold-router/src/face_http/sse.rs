//! The SSE answer to one POSTed request: the messages it produced before its response (progress,
//! relayed requests), then the response, then the end of the stream.

use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use super::post::RequestTask;

enum State {
    /// The request runs; `first` is a message already taken from its queue.
    Running {
        first: Option<String>,
        rx: mpsc::Receiver<String>,
        task: RequestTask,
    },
    /// The request finished: what is still queued goes out, then its response (`None`:
    /// cancelled, no response).
    Draining {
        rx: mpsc::Receiver<String>,
        response: Option<String>,
    },
    Done,
}

/// A stream starting with `first` (if any), then whatever else the request sends, then its
/// response. A request cancelled by the client ends the stream without a response.
pub(crate) fn request_stream(
    first: Option<String>,
    rx: mpsc::Receiver<String>,
    task: RequestTask,
) -> Response {
    let start = State::Running { first, rx, task };
    let events = futures::stream::unfold(start, |state| async move {
        match state {
            State::Running {
                first: Some(m),
                rx,
                task,
            } => Some((
                event(m),
                State::Running {
                    first: None,
                    rx,
                    task,
                },
            )),
            State::Running {
                first: None,
                mut rx,
                mut task,
            } => {
                tokio::select! {
                    biased;
                    m = rx.recv() => match m {
                        Some(m) => Some((event(m), State::Running { first: None, rx, task })),
                        None => {
                            let response = (&mut task).await;
                            response.map(|r| (event(r), State::Done))
                        }
                    },
                    response = &mut task => drain(rx, response),
                }
            }
            State::Draining { rx, response } => drain(rx, response),
            State::Done => None,
        }
    });
    Sse::new(events).into_response()
}

fn drain(
    mut rx: mpsc::Receiver<String>,
    response: Option<String>,
) -> Option<(Result<Event, Infallible>, State)> {
    match rx.try_recv() {
        Ok(m) => Some((event(m), State::Draining { rx, response })),
        Err(_) => response.map(|r| (event(r), State::Done)),
    }
}

fn event(data: String) -> Result<Event, Infallible> {
    Ok(Event::default().event("message").data(data))
}
