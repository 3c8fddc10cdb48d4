//! Manifold's own stdin/stdout as async streams. When they are pipes (as a host launches an MCP
//! server) they are driven by the reactor directly; tokio's `stdin()`/`stdout()` would hand every
//! read and write to a blocking-pool thread, which costs a thread hand-off per message
//! (benches/README.md). Anything else (a terminal, a file) falls back to those.

use std::os::fd::AsFd;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

/// The reading half for stdin.
pub(crate) fn input() -> Box<dyn AsyncRead + Unpin + Send> {
    let pipe = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Receiver::from_owned_fd);
    match pipe {
        Ok(rx) => Box::new(rx),
        Err(_) => Box::new(tokio::io::stdin()),
    }
}

/// The writing half for stdout.
pub(crate) fn output() -> Box<dyn AsyncWrite + Unpin + Send> {
    let pipe = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(pipe::Sender::from_owned_fd);
    match pipe {
        Ok(tx) => Box::new(tx),
        Err(_) => Box::new(tokio::io::stdout()),
    }
}
