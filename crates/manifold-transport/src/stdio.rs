//! A stdio upstream: a child process in its own process group, newline-delimited JSON-RPC on its
//! stdin/stdout, stderr captured into Manifold's log under the server's alias.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use manifold_protocol::codec::to_line;
use manifold_protocol::{Frame, LineDecoder};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::{
    command, frame_to_inbound, process_group, Closer, CloserKind, Connection, Inbound, Sender,
    SenderKind, TransportError, INBOUND_CAPACITY,
};

/// How to start a stdio upstream.
#[derive(Debug, Clone)]
pub struct StdioParams {
    /// The server's alias, used in logs.
    pub alias: String,
    /// Program to run (looked up on PATH, then beside the Manifold executable).
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: Option<PathBuf>,
    /// Largest message accepted from the child, in bytes.
    pub max_message_bytes: usize,
    /// Bytes of messages that may wait for the child to read them.
    pub queue_bytes: usize,
}

/// Starts the child and wires its pipes.
pub fn spawn_stdio(params: &StdioParams) -> Result<Connection, TransportError> {
    let program = command::resolve(&params.command);
    let mut cmd = Command::new(&program);
    cmd.args(&params.args)
        .envs(params.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &params.cwd {
        cmd.current_dir(cwd);
    }
    process_group::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| TransportError::Spawn {
        command: params.command.clone(),
        source,
    })?;
    let alias = params.alias.clone();
    tracing::debug!(server = %alias, pid = child.id(), program = %program.display(), "started upstream process");

    let stdin = child.stdin.take().ok_or(TransportError::Closed)?;
    let stdout = child.stdout.take().ok_or(TransportError::Closed)?;
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(log_stderr(alias.clone(), stderr));
    }
    let (out_tx, out_rx) = crate::queue::queue::<String>(INBOUND_CAPACITY, params.queue_bytes);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    tokio::spawn(write_stdin(stdin, out_rx, stop_rx));
    let reader = StdoutReader::new(alias.clone(), stdout, params.max_message_bytes);
    let (close_tx, close_rx) = oneshot::channel();
    let watcher = tokio::spawn(watch(alias, child, close_rx, stop_tx));
    Ok(Connection {
        sender: Sender {
            inner: SenderKind::Stdio(out_tx),
        },
        inbound: crate::InboundStream {
            inner: crate::InboundKind::Stdio(reader),
        },
        closer: Closer {
            inner: CloserKind::Stdio(close_tx, watcher),
        },
    })
}

async fn write_stdin(
    stdin: ChildStdin,
    mut rx: crate::queue::QueueReceiver<String>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut stdin = tokio::io::BufWriter::with_capacity(64 * 1024, stdin);
    loop {
        tokio::select! {
            msg = rx.recv() => {
                let Some(msg) = msg else { break };
                if stdin.write_all(to_line(msg).as_bytes()).await.is_err() {
                    break;
                }
                // Under load several messages are queued: write them all, flush once.
                let mut failed = false;
                while let Ok(more) = rx.try_recv() {
                    if stdin.write_all(to_line(more).as_bytes()).await.is_err() {
                        failed = true;
                        break;
                    }
                }
                if failed || stdin.flush().await.is_err() {
                    break;
                }
            }
            _ = &mut stop => break,
        }
    }
    // Dropping stdin closes the pipe: the polite first step of shutdown.
}

/// Reads and frames the child's stdout on demand.
#[derive(Debug)]
pub(crate) struct StdoutReader {
    alias: String,
    stdout: ChildStdout,
    decoder: LineDecoder,
    buf: Box<[u8]>,
    ready: VecDeque<Frame>,
    eof: bool,
}

impl StdoutReader {
    fn new(alias: String, stdout: ChildStdout, max: usize) -> Self {
        StdoutReader {
            alias,
            stdout,
            decoder: LineDecoder::new(max),
            buf: vec![0u8; 64 * 1024].into_boxed_slice(),
            ready: VecDeque::new(),
            eof: false,
        }
    }

    /// The next event from the child; `None` after end of output.
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
            match self.stdout.read(&mut self.buf).await {
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

async fn log_stderr(alias: String, stderr: tokio::process::ChildStderr) {
    let mut lines = BufReader::new(stderr).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        tracing::info!(target: "manifold::upstream::stderr", server = %alias, "{line}");
    }
}

/// Owns the child: reaps it when it exits by itself, or runs the shutdown sequence when asked.
async fn watch(
    alias: String,
    mut child: Child,
    close: oneshot::Receiver<Duration>,
    stop_stdin: oneshot::Sender<()>,
) {
    let pid = child.id();
    let grace = tokio::select! {
        status = child.wait() => {
            log_exit(&alias, status);
            // The leader is gone; make sure nothing it left in its group lingers.
            if let Some(pid) = pid {
                process_group::signal_group(pid, libc::SIGKILL);
            }
            return;
        }
        grace = close => grace.unwrap_or(Duration::from_secs(2)),
    };
    let _ = stop_stdin.send(());
    if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
        log_exit(&alias, status);
        if let Some(pid) = pid {
            process_group::signal_group(pid, libc::SIGKILL);
        }
        return;
    }
    if let Some(pid) = pid {
        tracing::debug!(server = %alias, "upstream did not exit on stdin close; SIGTERM");
        process_group::signal_group(pid, libc::SIGTERM);
        if let Ok(status) = tokio::time::timeout(grace, child.wait()).await {
            log_exit(&alias, status);
            process_group::signal_group(pid, libc::SIGKILL);
            return;
        }
        tracing::warn!(server = %alias, "upstream ignored SIGTERM; SIGKILL");
        process_group::signal_group(pid, libc::SIGKILL);
    }
    let _ = child.kill().await;
}

fn log_exit(alias: &str, status: std::io::Result<std::process::ExitStatus>) {
    match status {
        Ok(s) => tracing::debug!(server = %alias, status = %s, "upstream process exited"),
        Err(e) => {
            tracing::warn!(server = %alias, error = %e, "waiting for upstream process failed")
        }
    }
}
