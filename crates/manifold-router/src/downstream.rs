//! The link to the downstream client: a queue of outgoing lines bounded in messages and bytes,
//! and the table of server→client requests Manifold relayed to it (ids minted here, answers
//! routed back).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};

use manifold_protocol::{encode_notification, encode_request, ErrorObject, Id, RawValue, Response};
use manifold_transport::queue::{QueueReceiver, QueueSender, TrySendError};
use tokio::sync::oneshot;

/// Where one client's outgoing messages queue (its stdout, an HTTP session's streams, or one
/// POST's SSE stream).
pub type Sink = QueueSender<String>;
/// The receiving end of a [`Sink`].
pub type SinkReceiver = QueueReceiver<String>;

/// The receiving end of a [`shared_sink`], which several streams take from at once.
pub type SharedSinkReceiver = manifold_transport::queue::SharedReceiver<String>;

/// A sink and its receiver, bounded at `messages` and `bytes`.
pub fn sink(messages: usize, bytes: usize) -> (Sink, SinkReceiver) {
    manifold_transport::queue::queue(messages, bytes)
}

/// A sink whose messages several consumers take (an HTTP session's GET streams: each message
/// goes to exactly one of them), bounded at `messages` and `bytes`.
pub fn shared_sink(messages: usize, bytes: usize) -> (Sink, SharedSinkReceiver) {
    manifold_transport::queue::shared_queue(messages, bytes)
}

type Reply = oneshot::Sender<Result<Box<RawValue>, ErrorObject>>;

/// Sends to the client and correlates the client's answers to relayed requests.
#[derive(Debug)]
pub struct Downstream {
    out: Sink,
    /// Drop messages when the queue is full instead of waiting (HTTP sessions: one absent client
    /// must never stall the gateway's event loop for everyone), counting them here.
    lossy: Option<manifold_metrics::IntCounter>,
    next_id: AtomicI64,
    pending: Mutex<HashMap<i64, Reply>>,
}

impl Downstream {
    /// A link writing encoded messages (one JSON text each) into `out`; with `lossy`, a full
    /// queue drops them, counted there.
    pub fn new(out: Sink, lossy: Option<manifold_metrics::IntCounter>) -> Self {
        Downstream {
            out,
            lossy,
            next_id: AtomicI64::new(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// A sender into this link's queue (the default sink of request-scoped messages).
    pub fn sender(&self) -> Sink {
        self.out.clone()
    }

    /// Queues one encoded message. A stdio client's slowness is backpressure (this waits); an
    /// HTTP session whose queue is full loses the message, with a warning.
    pub async fn send(&self, text: String) {
        self.send_via(&self.out, text).await;
    }

    /// Queues one encoded message on `sink` (this link's queue or one request's own stream),
    /// waiting for room or, on a lossy link, dropping it with a warning when it is full.
    pub async fn send_via(&self, sink: &Sink, text: String) {
        send_to(sink, text, self.lossy.as_ref()).await;
    }

    /// Sends a notification.
    pub async fn notify(&self, method: &str, params: Option<&RawValue>) {
        self.send(encode_notification(method, params)).await;
    }

    /// Sends a request to the client through `sink` (this link's queue, or one request's own
    /// stream) and waits for its answer, which arrives through [`Downstream::complete`]. Returns
    /// the downstream id through `on_id` first, so the caller can cancel it.
    pub async fn request(
        &self,
        sink: &Sink,
        method: &str,
        params: Option<&RawValue>,
        on_id: impl FnOnce(i64),
    ) -> Result<Box<RawValue>, ErrorObject> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().insert(id, tx);
        on_id(id);
        let guard = Forget { link: self, id };
        self.send_via(sink, encode_request(&Id::Num(id), method, params))
            .await;
        let outcome = rx.await.unwrap_or_else(|_| {
            Err(ErrorObject::new(
                manifold_protocol::code::INTERNAL_ERROR,
                "client went away before answering",
            ))
        });
        drop(guard);
        outcome
    }

    /// Routes the client's answer to the relayed request it belongs to.
    pub fn complete(&self, response: Response) {
        let Some(Id::Num(id)) = response.id else {
            return;
        };
        if let Some(tx) = self.pending.lock().remove(&id) {
            let _ = tx.send(response.outcome);
        }
    }

    /// Fails every relayed request (the client is gone).
    pub fn fail_all(&self) {
        self.pending.lock().clear();
    }
}

/// Queues `text` on `sink`: waiting while it is full, or (`lossy`) dropping it with a warning and
/// counting it, so one slow HTTP client never stalls the others.
pub(crate) async fn send_to(
    sink: &Sink,
    text: String,
    lossy: Option<&manifold_metrics::IntCounter>,
) {
    match lossy {
        None => {
            let _ = sink.send(text).await;
        }
        Some(dropped) => {
            if let Err(TrySendError::Full(text)) = sink.try_send(text) {
                dropped.inc();
                tracing::warn!(
                    bytes = text.len(),
                    "client queue full (messages or bytes); message dropped"
                );
            }
        }
    }
}

/// Drops the pending entry however the relayed request ends.
struct Forget<'a> {
    link: &'a Downstream,
    id: i64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.link.pending.lock().remove(&self.id);
    }
}
