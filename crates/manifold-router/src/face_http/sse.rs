//! The SSE answer to one POSTed request: a priming event (an id, the `retry` advice, empty data:
//! 2025-11-25, SEP-1699), the messages the request produced before its response (progress,
//! relayed requests), then the response. Everything is recorded in a log with event ids
//! `<stream>-<seq>` as it is produced, independently of the connection, so a client whose POST
//! stream broke resumes it with `GET` + `Last-Event-ID` and gets the rest, nothing twice.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tokio::sync::Notify;

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
    first: Option<String>,
    mut rx: crate::downstream::SinkReceiver,
    mut task: RequestTask,
    capacity: usize,
) {
    tokio::spawn(async move {
        if let Some(first) = first {
            log.record(&first, capacity);
        }
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

/// An SSE response following `log` from after `seq` to its end; a new stream (`prime`) starts
/// with the priming event advising that `retry`.
pub(crate) fn follow(
    log: Arc<RequestLog>,
    stream: u32,
    seq: u64,
    prime: Option<std::time::Duration>,
) -> Response {
    let priming = prime.map(|retry| priming_event(&event_id(stream, 0), retry));
    let start = (log, seq, VecDeque::<(u64, String)>::new());
    let events = futures::stream::unfold(start, move |(log, mut seq, mut pending)| async move {
        loop {
            if let Some((s, m)) = pending.pop_front() {
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
