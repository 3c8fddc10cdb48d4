//! Resumable POST event streams (SEP-1699), used by `--profile conformance --sse`: a stream
//! opens with a priming event (an id, `retry`, empty data), every event carries an id
//! `<stream>-<n>`, and a GET with `Last-Event-ID` receives what the stream produced after
//! that event, including a response produced while no connection was listening.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;

use crate::session::Out;

/// The reconnection delay advertised in the priming event (`retry`), in milliseconds.
const RETRY_MS: u64 = 1000;

/// The resumable streams of one HTTP session.
#[derive(Default)]
pub(crate) struct Streams {
    next: AtomicU64,
    map: Mutex<HashMap<u64, Stream>>,
}

struct Stream {
    /// Events sent so far (not the priming one): sequence number and SSE chunk.
    events: Vec<(u64, Bytes)>,
    /// The connection currently receiving the stream, if any.
    sink: Option<mpsc::UnboundedSender<Bytes>>,
    /// The response is among `events`.
    done: bool,
}

impl Streams {
    /// The body answering a POSTed request: the priming event, then what the request
    /// sends on `rx` until its response (or until it detaches the stream).
    pub(crate) fn post_body(self: &Arc<Self>, rx: mpsc::UnboundedReceiver<Out>) -> Body {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, body) = mpsc::unbounded_channel();
        let priming = format!("id: {id}-0\nretry: {RETRY_MS}\ndata: \n\n");
        let _ = tx.send(Bytes::from(priming));
        let stream = Stream {
            events: Vec::new(),
            sink: Some(tx),
            done: false,
        };
        self.map.lock().insert(id, stream);
        tokio::spawn(pump(Arc::clone(self), id, rx));
        body_of(body)
    }

    /// The body of a GET resuming after `last_event_id`; `None` if that names no stream.
    pub(crate) fn resume(&self, last_event_id: &str) -> Option<Body> {
        let (stream_id, seq) = last_event_id.trim().split_once('-')?;
        let (stream_id, seq) = (stream_id.parse::<u64>().ok()?, seq.parse::<u64>().ok()?);
        let mut map = self.map.lock();
        let stream = map.get_mut(&stream_id)?;
        let (tx, body) = mpsc::unbounded_channel();
        for (_, chunk) in stream.events.iter().filter(|(n, _)| *n > seq) {
            let _ = tx.send(chunk.clone());
        }
        if stream.done {
            map.remove(&stream_id);
        } else {
            stream.sink = Some(tx);
        }
        Some(body_of(body))
    }
}

/// Numbers, keeps and forwards the output of one request until its response.
async fn pump(streams: Arc<Streams>, id: u64, mut rx: mpsc::UnboundedReceiver<Out>) {
    let mut seq = 0;
    while let Some(out) = rx.recv().await {
        let mut map = streams.map.lock();
        let Some(stream) = map.get_mut(&id) else {
            return;
        };
        let (data, last) = match out {
            Out::Message(data) => (data, false),
            Out::Response(data) => (data, true),
            Out::Detach => {
                stream.sink = None;
                continue;
            }
            Out::Close => break,
        };
        seq += 1;
        let chunk = Bytes::from(format!("id: {id}-{seq}\nevent: message\ndata: {data}\n\n"));
        stream.events.push((seq, chunk.clone()));
        let delivered = stream
            .sink
            .as_ref()
            .is_some_and(|sink| sink.send(chunk).is_ok());
        if !delivered {
            stream.sink = None;
        }
        if last {
            stream.done = true;
            if delivered {
                map.remove(&id);
            }
            return;
        }
    }
    // The request ended without a response (cancelled): end the stream, forget it.
    streams.map.lock().remove(&id);
}

fn body_of(rx: mpsc::UnboundedReceiver<Bytes>) -> Body {
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let chunk = rx.recv().await?;
        Some((Ok::<_, Infallible>(chunk), rx))
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn text(body: Body) -> String {
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn detached_stream_resumes_with_the_rest() {
        let streams = Arc::new(Streams::default());
        let (tx, rx) = mpsc::unbounded_channel();
        let post = streams.post_body(rx);
        tx.send(Out::Message("{\"a\":1}".into())).unwrap();
        tx.send(Out::Detach).unwrap();
        tx.send(Out::Message("{\"b\":2}".into())).unwrap();
        tx.send(Out::Response("{\"c\":3}".into())).unwrap();
        let first = text(post).await;
        assert_eq!(
            first,
            "id: 1-0\nretry: 1000\ndata: \n\nid: 1-1\nevent: message\ndata: {\"a\":1}\n\n"
        );
        assert!(streams.resume("2-0").is_none());
        let rest = text(streams.resume("1-1").unwrap()).await;
        assert_eq!(
            rest,
            "id: 1-2\nevent: message\ndata: {\"b\":2}\n\nid: 1-3\nevent: message\ndata: {\"c\":3}\n\n"
        );
        assert!(streams.resume("1-1").is_none(), "forgotten once replayed");
    }
}
