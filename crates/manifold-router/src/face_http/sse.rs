//! The SSE answer to one POSTed request: the messages it produced before its response (progress,
//! relayed requests), then the response. Everything is recorded in a log with event ids
//! `<stream>-<seq>` as it is produced, independently of the connection, so a client whose POST
//! stream broke resumes it with `GET` + `Last-Event-ID` and gets the rest, nothing twice.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{mpsc, Notify};

use super::post::RequestTask;
use super::replay::{event_id, Replay};

/// Everything one request stream produced, and whether it is complete.
#[derive(Default)]
pub(crate) struct RequestLog {
    state: Mutex<(Replay, bool)>,
    changed: Notify,
}

impl RequestLog {
    fn record(&self, message: &str, capacity: usize) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .record(message, capacity);
        self.changed.notify_waiters();
    }

    fn finish(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.changed.notify_waiters();
    }

    /// Events after `seq`, and whether the stream is complete.
    fn after(&self, seq: u64) -> (Vec<(u64, String)>, bool) {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (state.0.after(seq), state.1)
    }
}

/// Records the request's messages and then its response into `log`, whatever happens to the
/// connection that started it.
pub(crate) fn record(
    log: Arc<RequestLog>,
    first: String,
    mut rx: mpsc::Receiver<String>,
    mut task: RequestTask,
    capacity: usize,
) {
    tokio::spawn(async move {
        log.record(&first, capacity);
        let response = loop {
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => log.record(&m, capacity),
                    None => break (&mut task).await,
                },
                response = &mut task => {
                    // Messages queued before the response still go first.
                    while let Ok(m) = rx.try_recv() {
                        log.record(&m, capacity);
                    }
                    break response;
                }
            }
        };
        if let Some(response) = response {
            log.record(&response, capacity);
        }
        log.finish();
    });
}

/// An SSE response following `log` from after `seq` to its end.
pub(crate) fn follow(log: Arc<RequestLog>, stream: u32, seq: u64) -> Response {
    let start = (log, seq, VecDeque::new());
    let events = futures::stream::unfold(start, move |(log, mut seq, mut pending)| async move {
        loop {
            if let Some((s, m)) = pending.pop_front() {
                seq = s;
                let event = Ok::<_, Infallible>(
                    Event::default()
                        .event("message")
                        .id(event_id(stream, s))
                        .data(m),
                );
                return Some((event, (log, seq, pending)));
            }
            let changed = log.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (fresh, done) = log.after(seq);
            if !fresh.is_empty() {
                pending.extend(fresh);
                continue;
            }
            if done {
                return None;
            }
            changed.await;
        }
    });
    Sse::new(events).into_response()
}
