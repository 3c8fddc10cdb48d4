//! Transports move JSON-RPC messages to and from one peer and do nothing else: no ids, no pending
//! table, no handshake (those belong to the session above). Each transport yields a
//! [`Connection`]: a cloneable [`Sender`], a bounded stream of [`Inbound`] events, and a [`Closer`].

mod command;
mod duplex;
mod http;
mod legacy_sse;
mod lines;
mod mirrored;
mod modern_http;
mod process_group;
pub mod queue;
mod stdio;

use std::time::Duration;

use manifold_protocol::{Id, Message};

use crate::queue::{QueueReceiver, QueueSender, Weigh};

pub use duplex::{connect_duplex, DuplexParams};
pub use http::{connect_http, HttpParams, HttpProtocol};
pub use stdio::{spawn_stdio, StdioParams};

/// Messages each queue to or from a peer holds: a peer that floods us is read no faster than we
/// process. Each queue is bounded in bytes too (`upstream_queue_bytes` in the transport params).
pub const INBOUND_CAPACITY: usize = 256;

/// What arrives from the peer.
#[derive(Debug)]
pub enum Inbound {
    /// A well-formed message.
    Message(Message),
    /// A frame that is not a JSON-RPC message (garbage on stdout, say); already logged.
    Invalid {
        /// Why it was rejected.
        reason: String,
    },
    /// A message over the size limit was discarded; `id` is the request it probably answered.
    Oversized {
        /// Its size in bytes.
        len: usize,
        /// The id read from its first bytes, if any.
        id: Option<Id>,
    },
    /// Sending a request failed at the transport level (HTTP status, connection refused).
    SendFailed {
        /// The request that could not be delivered.
        id: Id,
        /// Why.
        reason: String,
    },
    /// The transport ended (the legacy HTTP+SSE stream closed): the session must reconnect.
    Closed {
        /// Why.
        reason: String,
    },
    /// The HTTP server no longer knows our session (404): the session must re-initialize and
    /// send the rejected request again.
    SessionExpired {
        /// The session id the server rejected.
        session_id: String,
        /// The request it rejected, if the message was a request.
        request_id: Option<Id>,
    },
}

/// Why a transport could not start or send.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The process could not be started.
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A bad URL or header.
    #[error("invalid HTTP settings: {0}")]
    InvalidHttp(String),
    /// The transport has ended.
    #[error("transport closed")]
    Closed,
}

/// Sends encoded messages (one JSON text, no trailing newline) to the peer.
#[derive(Clone, Debug)]
pub struct Sender {
    inner: SenderKind,
}

#[derive(Clone, Debug)]
enum SenderKind {
    /// A writer task sending lines: stdio and in-process peers.
    Lines(QueueSender<String>),
    Http(std::sync::Arc<http::HttpShared>),
}

impl Sender {
    /// Queues `text` for the peer; `request_id` names the request it carries, if it is one, so a
    /// delivery failure can be reported against it. Waits while the outbound queue is full.
    pub async fn send(&self, text: String, request_id: Option<Id>) -> Result<(), TransportError> {
        self.send_with_headers(text, request_id, Vec::new()).await
    }

    /// [`Sender::send`], with `headers` added to a 2026-07-28 HTTP POST (`Mcp-Param-*`); other
    /// transports, and the legacy era, have no use for them.
    pub async fn send_with_headers(
        &self,
        text: String,
        request_id: Option<Id>,
        headers: Vec<(String, String)>,
    ) -> Result<(), TransportError> {
        match &self.inner {
            SenderKind::Lines(tx) => tx.send(text).await.map_err(|_| TransportError::Closed),
            SenderKind::Http(shared) => shared.post(text, request_id, headers),
        }
    }

    /// Tells the transport the negotiated protocol version (sent as `MCP-Protocol-Version`).
    /// Speaks the 2026-07-28 era over Streamable HTTP from now on (`true`: every request a
    /// stateless POST of its own), or the legacy one; stdio has nothing to switch.
    pub fn set_modern(&self, modern: bool) {
        if let SenderKind::Http(shared) = &self.inner {
            shared.set_modern(modern);
        }
    }

    pub fn set_protocol_version(&self, version: &str) {
        if let SenderKind::Http(shared) = &self.inner {
            shared.set_protocol_version(version);
        }
    }

    /// HTTP: the current session id (`None` before initialize or after expiry); otherwise
    /// `None`.
    pub fn session_id(&self) -> Option<String> {
        match &self.inner {
            SenderKind::Http(shared) => shared.session_id(),
            SenderKind::Lines(_) => None,
        }
    }

    /// HTTP: opens the GET stream for server-initiated messages once the session is ready.
    pub fn open_event_stream(&self) {
        if let SenderKind::Http(shared) = &self.inner {
            http::HttpShared::open_event_stream(shared);
        }
    }
}

/// Ends the transport: stdio closes stdin, then SIGTERM, then SIGKILL to the process group;
/// HTTP sends DELETE for its session; an in-process peer's input is shut down.
#[derive(Debug)]
pub struct Closer {
    inner: CloserKind,
}

#[derive(Debug)]
enum CloserKind {
    Stdio(
        tokio::sync::oneshot::Sender<Duration>,
        tokio::task::JoinHandle<()>,
    ),
    Http(std::sync::Arc<http::HttpShared>),
    /// Stops the writer of an in-process peer, which then shuts its stream down.
    Duplex(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
}

impl Closer {
    /// Shuts the peer down, waiting `grace` between escalation steps. Returns once it is gone.
    pub async fn close(self, grace: Duration) {
        match self.inner {
            CloserKind::Stdio(tx, watcher) => {
                let _ = tx.send(grace);
                let _ = watcher.await;
            }
            CloserKind::Http(shared) => shared.close().await,
            CloserKind::Duplex(stop, writer) => {
                let _ = stop.send(());
                let _ = writer.await;
            }
        }
    }
}

/// A live transport to one peer.
#[derive(Debug)]
pub struct Connection {
    /// Cloneable sending half.
    pub sender: Sender,
    /// Everything the peer sends; ends when the transport ends.
    pub inbound: InboundStream,
    /// Shuts the transport down.
    pub closer: Closer,
}

/// What the peer sends, read by whoever awaits [`InboundStream::recv`]. A stdio peer's stdout (and
/// an in-process peer's stream) is read and decoded right in that call (no reader task, no queue,
/// no extra wake-up per message); HTTP responses arrive from their request tasks through a
/// bounded queue.
#[derive(Debug)]
pub struct InboundStream {
    inner: InboundKind,
}

#[derive(Debug)]
enum InboundKind {
    Stdio(stdio::StdoutReader),
    Duplex(duplex::PeerReader),
    Queue(QueueReceiver<Inbound>),
}

impl InboundStream {
    /// The next event; `None` once the peer has closed its side.
    pub async fn recv(&mut self) -> Option<Inbound> {
        match &mut self.inner {
            InboundKind::Stdio(reader) => reader.next().await,
            InboundKind::Duplex(reader) => reader.next().await,
            InboundKind::Queue(rx) => rx.recv().await,
        }
    }
}

impl Weigh for Inbound {
    /// What a queued event keeps alive: a message's params or result (its largest parts).
    fn weight(&self) -> usize {
        let raw_len = |raw: &Option<Box<manifold_protocol::RawValue>>| {
            raw.as_ref().map_or(0, |r| r.get().len())
        };
        let body = match self {
            Inbound::Message(Message::Request(r)) => r.method.len() + raw_len(&r.params),
            Inbound::Message(Message::Notification(n)) => n.method.len() + raw_len(&n.params),
            Inbound::Message(Message::Response(r)) => match &r.outcome {
                Ok(result) => result.get().len(),
                Err(e) => e.message.len() + e.data.as_ref().map_or(0, |d| d.get().len()),
            },
            Inbound::Invalid { reason } | Inbound::Closed { reason } => reason.len(),
            Inbound::SendFailed { reason, .. } => reason.len(),
            Inbound::Oversized { .. } | Inbound::SessionExpired { .. } => 0,
        };
        body + 64
    }
}

/// Turns one frame into an inbound event, logging what is dropped.
fn frame_to_inbound(frame: manifold_protocol::Frame, peer: &str) -> Option<Inbound> {
    use manifold_protocol::{decode, Decoded, Frame};
    match frame {
        Frame::Line(line) => match decode(&line) {
            Ok(Decoded::Single(m)) => Some(Inbound::Message(m)),
            Ok(Decoded::Batch(_)) => {
                tracing::warn!(server = peer, "upstream sent a JSON-RPC batch; ignored");
                Some(Inbound::Invalid {
                    reason: "batch from upstream".into(),
                })
            }
            Err(e) => {
                let shown: String = String::from_utf8_lossy(&line).chars().take(200).collect();
                tracing::warn!(server = peer, error = %e, line = %shown, "dropping invalid message from upstream");
                Some(Inbound::Invalid {
                    reason: e.to_string(),
                })
            }
        },
        Frame::Oversized { prefix, len } => {
            let id = manifold_protocol::codec::sniff_id(&prefix);
            tracing::warn!(
                server = peer,
                len,
                ?id,
                "dropping oversized message from upstream"
            );
            Some(Inbound::Oversized { len, id })
        }
    }
}

#[cfg(test)]
mod duplex_tests;
#[cfg(test)]
mod http_tests;
#[cfg(test)]
mod modern_http_tests;
#[cfg(test)]
mod tests;
