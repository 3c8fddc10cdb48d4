//! Server-sent-event bodies for the HTTP transport.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant};

use crate::session::Out;

/// Interval between keep-alive comments on the GET stream.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// One `event: message` SSE event carrying `data` (a single line).
pub(crate) fn event(data: &str) -> Bytes {
    Bytes::from(format!("event: message\ndata: {data}\n\n"))
}

/// The body answering a POSTed request in `--sse` mode: the messages sent while the
/// request runs, then its response; it ends after the response (or when the request
/// is cancelled).
pub(crate) fn response_body(rx: mpsc::UnboundedReceiver<Out>) -> Body {
    let stream = futures::stream::unfold(Some(rx), |rx| async move {
        let mut rx = rx?;
        loop {
            match rx.recv().await? {
                Out::Message(s) => return Some((Ok::<_, Infallible>(event(&s)), Some(rx))),
                Out::Response(s) => return Some((Ok(event(&s)), None)),
                // Not resumable: keep the stream, or the response would be lost.
                Out::Detach => {}
                Out::Close => return None,
            }
        }
    });
    Body::from_stream(stream)
}

/// The body of the GET stream: unsolicited messages plus a comment every 15 s; it
/// ends when the session drops its sender.
pub(crate) fn event_stream_body(rx: mpsc::UnboundedReceiver<Out>) -> Body {
    let ticker = interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    let stream = futures::stream::unfold((rx, ticker), |(mut rx, mut ticker)| async move {
        let chunk = tokio::select! {
            out = rx.recv() => match out? {
                Out::Message(s) | Out::Response(s) => event(&s),
                Out::Detach => Bytes::new(),
                Out::Close => return None,
            },
            _ = ticker.tick() => Bytes::from_static(b": keep-alive\n\n"),
        };
        Some((Ok::<_, Infallible>(chunk), (rx, ticker)))
    });
    Body::from_stream(stream)
}
