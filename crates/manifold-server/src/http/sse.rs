//! The SSE answer to one POSTed request: a priming event (an id, the `retry` advice, empty data:
//! 2025-11-25, SEP-1699), the messages the request produced before its response (progress,
//! relayed requests), then the response. Everything is recorded in a log with event ids
//! `<stream>-<seq>` as it is produced, independently of the connection, so a client whose POST
//! stream broke resumes it with `GET` + `Last-Event-ID` and gets the rest, nothing twice.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tokio::sync::Notify;

use super::post::RequestTask;
use super::replay::{event_id, Bound, Replay};

/// Everything one request stream produced, whether it is complete, and how far a client has
/// read it.
#[derive(Default)]
pub(crate) struct RequestLog {
    state: Mutex<LogState>,
    /// A new event, or the end.
    changed: Notify,
    /// A client read further.
    read: Notify,
}

#[derive(Default)]
struct LogState {
    replay: Replay,
    done: bool,
    /// The last event a client was sent.
    delivered: u64,
    /// The last event recorded.
    last: u64,
}

impl RequestLog {
    fn record(&self, message: &str, bound: Bound) {
        {
            let mut state = self.state.lock();
            let delivered = state.delivered;
            state.last = state.replay.record_keeping(message, bound, delivered);
        }
        self.changed.notify_waiters();
    }

    /// Waits while what no client has read yet is over `bound` (backpressure: the request's own
    /// sink fills, and then drops what comes).
    async fn room(&self, bound: Bound) {
        loop {
            let read = self.read.notified();
            tokio::pin!(read);
            read.as_mut().enable();
            {
                let state = self.state.lock();
                if state.replay.bytes_after(state.delivered) <= bound.bytes {
                    return;
                }
            }
            read.await;
        }
    }

    fn finish(&self) {
        self.state.lock().done = true;
        self.changed.notify_waiters();
    }

    /// Events after `seq`, and whether the stream is complete.
    fn after(&self, seq: u64) -> (Vec<(u64, String)>, bool) {
        let state = self.state.lock();
        (state.replay.after(seq), state.done)
    }

    /// A client was sent everything up to `seq`: older events may be forgotten past `bound`.
    fn delivered(&self, seq: u64, bound: Bound) {
        {
            let mut state = self.state.lock();
            state.delivered = state.delivered.max(seq);
            let delivered = state.delivered;
            state.replay.forget(bound, delivered);
        }
        self.read.notify_waiters();
    }

    /// The bytes it holds for resumption.
    pub(crate) fn bytes(&self) -> usize {
        self.state.lock().replay.bytes()
    }

    /// Whether it may be forgotten: complete, and read to its end.
    pub(crate) fn forgettable(&self) -> bool {
        let state = self.state.lock();
        state.done && state.delivered >= state.last
    }
}

/// Records the request's messages and then its response into `log`, whatever happens to the
/// connection that started it, as one of the face's tasks.
pub(crate) fn record(
    tasks: &crate::background::Background,
    log: Arc<RequestLog>,
    first: Option<String>,
    mut rx: manifold_router::downstream::SinkReceiver,
    mut task: RequestTask,
    bound: Bound,
) {
    tasks.spawn_until_stopped(async move {
        if let Some(first) = first {
            log.record(&first, bound);
        }
        let response = loop {
            log.room(bound).await;
            tokio::select! {
                biased;
                m = rx.recv() => match m {
                    Some(m) => log.record(&m, bound),
                    None => break (&mut task).await,
                },
                response = &mut task => {
                    // Messages queued before the response still go first.
                    while let Ok(m) = rx.try_recv() {
                        log.record(&m, bound);
                    }
                    break response;
                }
            }
        };
        if let Some(response) = response {
            log.record(&response, bound);
        }
        log.finish();
    });
}

/// An SSE response following `log` from after `seq` to its end; a new stream (`prime`) starts
/// with the priming event advising that `retry`.
pub(crate) fn follow(
    log: Arc<RequestLog>,
    stream: u32,
    seq: u64,
    prime: Option<std::time::Duration>,
    bound: Bound,
) -> Response {
    let priming = prime.map(|retry| priming_event(&event_id(stream, 0), retry));
    let start = (log, seq, VecDeque::<(u64, String)>::new());
    let events = futures::stream::unfold(start, move |(log, mut seq, mut pending)| async move {
        loop {
            if let Some((s, m)) = pending.pop_front() {
                // The one before is written out by now: it may be forgotten.
                log.delivered(seq, bound);
                seq = s;
                let event = Ok::<_, Infallible>(message_event(&event_id(stream, s), &m));
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
                log.delivered(seq, bound);
                return None;
            }
            changed.await;
        }
    });
    let first = futures::stream::iter(priming.map(Ok::<_, Infallible>));
    event_stream(Body::from_stream(futures::StreamExt::chain(first, events)))
}

/// A `text/event-stream` response with `body`.
fn event_stream(body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The event priming a client to resume: its id, the `retry` advice and empty data.
fn priming_event(id: &str, retry: std::time::Duration) -> Bytes {
    Bytes::from(format!(
        "id: {id}\nretry: {}\ndata: \n\n",
        retry.as_millis()
    ))
}

/// One `message` event carrying `data`. A JSON text has raw line breaks only as whitespace
/// between tokens; each line of it becomes a `data:` line, which the client joins back.
pub(crate) fn message_event(id: &str, data: &str) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + id.len() + 32);
    out.extend_from_slice(b"id: ");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\nevent: message\n");
    for line in data.split(['\n', '\r']) {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_framed_for_any_sse_parser() {
        let event = message_event("3-1", "{\"a\":\r\n1}");
        assert_eq!(
            &event[..],
            b"id: 3-1\nevent: message\ndata: {\"a\":\ndata: \ndata: 1}\n\n"
        );
        let mut decoder = manifold_protocol::sse::SseDecoder::new(1 << 20);
        let mut out = Vec::new();
        decoder.feed(
            &priming_event("3-0", std::time::Duration::from_millis(500)),
            &mut out,
        );
        decoder.feed(&event, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].data, "");
        assert_eq!(decoder.retry(), Some(500));
        let json: serde_json::Value = serde_json::from_str(&out[1].data).unwrap();
        assert_eq!(json["a"], 1);
        assert_eq!(decoder.last_event_id(), Some("3-1"));
    }
}
