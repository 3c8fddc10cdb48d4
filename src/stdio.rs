//! Manifold's own stdin/stdout as async streams. Whatever the host connected them to — pipes
//! (most hosts), UNIX socketpairs (Node- and Electron-based hosts: Claude Desktop, Claude Code,
//! VS Code, Cursor, the TypeScript SDK's `StdioClientTransport`) or FIFOs — they are driven by the
//! reactor directly. Tokio's `stdin()`/`stdout()` would hand every read and write to a
//! blocking-pool thread, a thread hand-off per message (benches/README.md); they remain the
//! fallback for what cannot be polled: a terminal, a regular file, `/dev/null`.

use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::unix::pipe;

/// What a standard stream is connected to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A pipe or FIFO.
    Pipe,
    /// A stream socket (a socketpair end, say).
    Socket,
    /// Anything the reactor cannot drive.
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Pipe => "pipe",
            Kind::Socket => "socket",
            Kind::Other => "other",
        }
    }
}

/// Classifies `fd`, giving it back.
fn classify(fd: OwnedFd) -> (Kind, OwnedFd) {
    let file = File::from(fd);
    let kind = match file.metadata().map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => Kind::Pipe,
        Ok(t) if t.is_socket() => Kind::Socket,
        _ => Kind::Other,
    };
    (kind, OwnedFd::from(file))
}

/// A stream socket on `fd`, registered with the reactor.
fn socket(fd: OwnedFd) -> std::io::Result<tokio::net::UnixStream> {
    let stream = std::os::unix::net::UnixStream::from(fd);
    stream.set_nonblocking(true)?;
    tokio::net::UnixStream::from_std(stream)
}

type Reader = Box<dyn AsyncRead + Unpin + Send>;
type Writer = Box<dyn AsyncWrite + Unpin + Send>;

fn polled_reader(fd: OwnedFd) -> std::io::Result<(Kind, Reader)> {
    match classify(fd) {
        (Kind::Pipe, fd) => Ok((Kind::Pipe, Box::new(pipe::Receiver::from_owned_fd(fd)?))),
        (Kind::Socket, fd) => Ok((Kind::Socket, Box::new(socket(fd)?))),
        (Kind::Other, _) => Err(std::io::ErrorKind::Unsupported.into()),
    }
}

fn polled_writer(fd: OwnedFd) -> std::io::Result<(Kind, Writer)> {
    match classify(fd) {
        (Kind::Pipe, fd) => Ok((Kind::Pipe, Box::new(pipe::Sender::from_owned_fd(fd)?))),
        (Kind::Socket, fd) => Ok((Kind::Socket, Box::new(socket(fd)?))),
        (Kind::Other, _) => Err(std::io::ErrorKind::Unsupported.into()),
    }
}

/// The reading half for stdin.
pub(crate) fn input() -> Reader {
    let polled = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(polled_reader);
    match polled {
        Ok((kind, reader)) => {
            tracing::debug!(kind = kind.name(), "stdin is driven by the reactor");
            reader
        }
        Err(_) => {
            tracing::debug!("stdin is read through the blocking pool");
            Box::new(tokio::io::stdin())
        }
    }
}

/// The writing half for stdout.
pub(crate) fn output() -> Writer {
    let polled = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .and_then(polled_writer);
    match polled {
        Ok((kind, writer)) => {
            tracing::debug!(kind = kind.name(), "stdout is driven by the reactor");
            writer
        }
        Err(_) => {
            tracing::debug!("stdout is written through the blocking pool");
            Box::new(tokio::io::stdout())
        }
    }
}
