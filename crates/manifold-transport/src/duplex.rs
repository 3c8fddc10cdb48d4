//! An in-process peer: newline-delimited JSON-RPC over any byte-stream pair (one end of
//! `tokio::io::duplex`, say), framed and decoded exactly as stdio is, with no process behind it.

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::lines::{write_lines, LineReader};
use crate::{
    Closer, CloserKind, Connection, InboundKind, InboundStream, Sender, SenderKind,
    INBOUND_CAPACITY,
};

/// What the peer writes, behind one type whatever stream carries it.
pub(crate) type PeerReader = LineReader<Pin<Box<dyn AsyncRead + Send>>>;

/// How to talk to an in-process peer.
#[derive(Debug, Clone)]
pub struct DuplexParams {
    /// The peer's name, used in logs.
    pub alias: String,
    /// Largest message accepted from the peer, in bytes.
    pub max_message_bytes: usize,
    /// Bytes of messages that may wait for the peer to read them.
    pub queue_bytes: usize,
}

/// A connection to a peer over `reader` (what the peer writes) and `writer` (what it reads): the
/// two halves of one end of a `tokio::io::duplex` pipe, say. Closing it shuts `writer` down, so
/// the peer reads end of input. Must be called within a Tokio runtime: the writer is a task.
pub fn connect_duplex<R, W>(reader: R, writer: W, params: &DuplexParams) -> Connection
where
    R: AsyncRead + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = crate::queue::queue::<String>(INBOUND_CAPACITY, params.queue_bytes);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let writer = tokio::spawn(async move {
        let mut writer = writer;
        write_lines(&mut writer, out_rx, stop_rx).await;
        // Dropping one half of a split stream does not end it while the other half lives.
        let _ = writer.shutdown().await;
    });
    let reader: Pin<Box<dyn AsyncRead + Send>> = Box::pin(reader);
    Connection {
        sender: Sender {
            inner: SenderKind::Lines(out_tx),
        },
        inbound: InboundStream {
            inner: InboundKind::Duplex(LineReader::new(
                params.alias.clone(),
                reader,
                params.max_message_bytes,
            )),
        },
        closer: Closer {
            inner: CloserKind::Duplex(stop_tx, writer),
        },
    }
}
