//! A stdio upstream: a child process in its own process group, newline-delimited JSON-RPC on its
//! stdin/stdout, stderr captured into Manifold's log under the server's alias.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::oneshot;

use crate::lines::{write_lines, LineReader};
use crate::{
    command, process_group, Closer, CloserKind, Connection, Sender, SenderKind, TransportError,
    INBOUND_CAPACITY,
};

/// The child's stdout, read and decoded by whoever awaits the connection's inbound stream.
pub(crate) type StdoutReader = LineReader<ChildStdout>;

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
    // The writer ends (dropping stdin closes the pipe: the polite first step of shutdown) when
    // the watcher stops it.
    tokio::spawn(write_lines(stdin, out_rx, stop_rx));
    let reader = StdoutReader::new(alias.clone(), stdout, params.max_message_bytes);
    let (close_tx, close_rx) = oneshot::channel();
    let watcher = tokio::spawn(watch(alias, child, close_rx, stop_tx));
    Ok(Connection {
        sender: Sender {
            inner: SenderKind::Lines(out_tx),
        },
        inbound: crate::InboundStream {
            inner: crate::InboundKind::Stdio(reader),
        },
        closer: Closer {
            inner: CloserKind::Stdio(close_tx, watcher),
        },
    })
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
