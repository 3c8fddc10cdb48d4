//! The link to the downstream client: a bounded queue of outgoing lines, and the table of
//! server→client requests Manifold relayed to it (ids minted here, answers routed back).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use manifold_protocol::{encode_notification, encode_request, ErrorObject, Id, RawValue, Response};
use tokio::sync::{mpsc, oneshot};

type Reply = oneshot::Sender<Result<Box<RawValue>, ErrorObject>>;

/// Sends to the client and correlates the client's answers to relayed requests.
#[derive(Debug)]
pub struct Downstream {
    out: mpsc::Sender<String>,
    /// Drop messages when the queue is full instead of waiting (HTTP sessions: one absent client
    /// must never stall the gateway's event loop for everyone).
    lossy: bool,
    next_id: AtomicI64,
    pending: Mutex<HashMap<i64, Reply>>,
}

impl Downstream {
    /// A link writing encoded messages (one JSON text each) into `out`.
    pub fn new(out: mpsc::Sender<String>, lossy: bool) -> Self {
        Downstream {
            out,
            lossy,
            next_id: AtomicI64::new(1),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// A sender into this link's queue (the default sink of request-scoped messages).
    pub fn sender(&self) -> mpsc::Sender<String> {
        self.out.clone()
    }

    /// Queues one encoded message. A stdio client's slowness is backpressure (this waits); an
    /// HTTP session whose queue is full loses the message, with a warning.
    pub async fn send(&self, text: String) {
        send_to(&self.out, text, self.lossy).await;
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
        sink: &mpsc::Sender<String>,
        method: &str,
        params: Option<&RawValue>,
        on_id: impl FnOnce(i64),
    ) -> Result<Box<RawValue>, ErrorObject> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(id, tx);
        on_id(id);
        let guard = Forget { link: self, id };
        send_to(
            sink,
            encode_request(&Id::Num(id), method, params),
            self.lossy,
        )
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
        if let Some(tx) = self.lock().remove(&id) {
            let _ = tx.send(response.outcome);
        }
    }

    /// Fails every relayed request (the client is gone).
    pub fn fail_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Reply>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Queues `text` on `sink`: waiting while it is full, or (`lossy`) dropping it with a warning so
/// one slow HTTP client never stalls the others.
pub(crate) async fn send_to(sink: &mpsc::Sender<String>, text: String, lossy: bool) {
    if !lossy {
        let _ = sink.send(text).await;
    } else if let Err(mpsc::error::TrySendError::Full(_)) = sink.try_send(text) {
        tracing::warn!("client queue full; message dropped");
    }
}

/// Drops the pending entry however the relayed request ends.
struct Forget<'a> {
    link: &'a Downstream,
    id: i64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        self.link.lock().remove(&self.id);
    }
}
