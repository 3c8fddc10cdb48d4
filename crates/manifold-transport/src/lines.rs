//! Newline-delimited JSON-RPC over a byte stream, shared by the stdio and in-process transports:
//! the reader that frames and decodes the peer's output on demand, and the writer task that
//! sends queued messages with one flush per batch.

use std::collections::VecDeque;

use manifold_protocol::codec::to_line;
use manifold_protocol::{Frame, LineDecoder};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use crate::queue::QueueReceiver;
use crate::{frame_to_inbound, Inbound};

/// Bytes read from the peer at a time, and the write buffer towards it.
const CHUNK: usize = 64 * 1024;

/// Reads and frames what the peer writes, on demand: whoever awaits [`LineReader::next`] does
/// the reading and decoding (no task, no queue).
pub(crate) struct LineReader<R> {
    alias: String,
    reader: R,
    decoder: LineDecoder,
    buf: Box<[u8]>,
    ready: VecDeque<Frame>,
    eof: bool,
}

impl<R> std::fmt::Debug for LineReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineReader")
            .field("alias", &self.alias)
            .field("ready", &self.ready.len())
            .field("eof", &self.eof)
            .finish()
    }
}

impl<R: AsyncRead + Unpin> LineReader<R> {
    /// A reader of `reader`, a peer known in logs as `alias`, taking lines of at most `max` bytes.
    pub(crate) fn new(alias: String, reader: R, max: usize) -> Self {
        LineReader {
            alias,
            reader,
            decoder: LineDecoder::new(max),
            buf: vec![0u8; CHUNK].into_boxed_slice(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// The next event from the peer; `None` after end of its output.
    pub(crate) async fn next(&mut self) -> Option<Inbound> {
        let mut frames = Vec::new();
        loop {
            while let Some(frame) = self.ready.pop_front() {
                if let Some(event) = frame_to_inbound(frame, &self.alias) {
                    return Some(event);
                }
            }
            if self.eof {
                return None;
            }
            match self.reader.read(&mut self.buf).await {
                Ok(0) | Err(_) => {
                    self.eof = true;
                    self.decoder.finish(&mut frames);
                }
                Ok(n) => self.decoder.feed(&self.buf[..n], &mut frames),
            }
            self.ready.extend(frames.drain(..));
        }
    }
}

/// Writes every message queued on `rx` to `writer` as one line each, until the queue ends, a
/// write fails or `stop` fires. Under load several messages are queued: they are all written,
/// then flushed once.
pub(crate) async fn write_lines<W: AsyncWrite + Unpin>(
    writer: W,
    mut rx: QueueReceiver<String>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut writer = tokio::io::BufWriter::with_capacity(CHUNK, writer);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if writer.write_all(to_line(msg).as_bytes()).await.is_err() {
                    break;
                }
                let mut failed = false;
                while let Ok(more) = rx.try_recv() {
                    if writer.write_all(to_line(more).as_bytes()).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || writer.flush().await.is_err() {
                    break;
                }
            }
            _ = &mut stop => break,
        }
    }
}
