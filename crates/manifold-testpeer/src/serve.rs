//! Serving a [`TestServer`] in-process: a fresh `tokio::io::duplex` pipe per connection, the
//! server on one end (through a relay the `crash` tool can cut) and a Manifold connection on the
//! other.

use manifold_transport::{connect_duplex, Connection, DuplexParams};
use rmcp::ServiceExt;
use tokio::io::DuplexStream;
use tokio_util::sync::CancellationToken;

use crate::record::Seen;
use crate::server::TestServer;

/// Bytes each direction of a pipe buffers before its writer waits.
const PIPE_BYTES: usize = 64 * 1024;

/// The most a message from the server may weigh, and what may queue towards it.
const MESSAGE_BYTES: usize = 4 * 1024 * 1024;

impl TestServer {
    /// Starts a new life of the server on a fresh pipe and returns Manifold's end of it. Must
    /// be called within a Tokio runtime.
    pub fn connect(&self) -> Connection {
        let (ours, near) = tokio::io::duplex(PIPE_BYTES);
        let (far, server_end) = tokio::io::duplex(PIPE_BYTES);
        let (cut, life) = (CancellationToken::new(), CancellationToken::new());
        let server = TestServer {
            cut: cut.clone(),
            life: life.clone(),
            ..self.clone()
        };
        let service_life = life.clone();
        let record = self.record.clone();
        tokio::spawn(async move {
            // Fails when the client goes before `initialize`: nothing to serve then.
            if let Ok(running) = server.serve_with_ct(server_end, service_life).await {
                let _ = running.waiting().await;
            }
            record.push(Seen::Ended);
        });
        tokio::spawn(relay(near, far, cut, life));
        let (reader, writer) = tokio::io::split(ours);
        let params = DuplexParams {
            alias: self.name.clone(),
            max_message_bytes: MESSAGE_BYTES,
            queue_bytes: MESSAGE_BYTES,
        };
        connect_duplex(reader, writer, &params)
    }
}

/// Copies between Manifold's end and the server's until both sides have ended or `cut` is
/// cancelled, then drops both ends (Manifold reads end of input at once, as from a process that
/// exited) and only then ends the server's `life`, so nothing it answers afterwards gets through.
async fn relay(
    mut near: DuplexStream,
    mut far: DuplexStream,
    cut: CancellationToken,
    life: CancellationToken,
) {
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut near, &mut far) => {}
        () = cut.cancelled() => {}
    }
    drop((near, far));
    life.cancel();
}
