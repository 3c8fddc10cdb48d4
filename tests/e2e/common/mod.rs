//! Shared harness for the end-to-end tests: locating the built binaries, writing configs, the one
//! stdio harness (a raw JSON-lines client driving `manifold serve --stdio` as a child process,
//! [`Gateway`]); the one HTTP harness is in `http`, the one wait in `wait`.
#![allow(dead_code, unreachable_pub)]

pub mod http;
pub mod node;
pub mod python;
pub mod schema;
pub mod wait;

pub use wait::eventually;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long any single expected message may take before the test fails.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(20);

/// The `manifold` binary under test.
pub fn manifold_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_manifold"))
}

/// The `manifold-testkit` binary (built by `cargo test --workspace` next to `manifold`).
pub fn testkit_bin() -> PathBuf {
    let path = manifold_bin().with_file_name("manifold-testkit");
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace` so the testkit binary is built",
        path.display()
    );
    path
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `text` as `manifold.toml` in a fresh temporary directory (kept alive by the returned guard).
pub fn write_config(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("manifold.toml");
    std::fs::write(&path, text).expect("write config");
    (dir, path)
}

/// A TOML `[servers.<alias>]` block running the testkit with `args`.
pub fn testkit_server(alias: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[servers.{alias}]\ncommand = {:?}\nargs = [{}]\n{extra}\n",
        testkit_bin().display().to_string(),
        args.join(", ")
    )
}

/// A running `manifold serve --stdio` with a JSON-lines client attached.
pub struct Gateway {
    pub child: Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    /// Notifications and server→client requests seen while waiting for responses.
    pub seen: Vec<Value>,
    /// Whether the client speaks 2026-07-28: what Manifold sends is then checked against that
    /// revision's schema (and must never be a request).
    pub modern: bool,
}

impl Gateway {
    /// Starts `manifold serve --stdio --config <path>` (logs go to the test's stderr).
    pub fn spawn(config: &Path) -> Gateway {
        Self::spawn_with(config, &[])
    }

    /// Same, with extra environment variables (a `RUST_LOG` among them wins over the test's).
    pub fn spawn_with(config: &Path, env: &[(&str, &str)]) -> Gateway {
        let mut cmd = Command::new(manifold_bin());
        cmd.args(["serve", "--stdio", "--config"])
            .arg(config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn");
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn manifold");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout");
        Gateway {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            seen: Vec::new(),
            modern: false,
        }
    }

    /// Writes one raw line (a newline is appended).
    pub async fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.write_all(b"\n").await.expect("write");
        stdin.flush().await.expect("flush");
    }

    /// Writes one JSON message.
    pub async fn send(&mut self, message: &Value) {
        self.send_raw(&message.to_string()).await;
    }

    /// Reads the next message, whatever it is.
    pub async fn recv(&mut self) -> Value {
        self.recv_raw().await.1
    }

    /// Reads the next message: its exact text, and its JSON.
    pub async fn recv_raw(&mut self) -> (String, Value) {
        let (line, message) = self.recv_unchecked().await;
        self.check(&message, None);
        (line, message)
    }

    /// Reads the next line as JSON, unchecked by the schema (for what is no single message of
    /// it: batch answers, errors whose id could not be read; or for reading in bulk): its exact
    /// text, and its JSON.
    pub async fn recv_unchecked(&mut self) -> (String, Value) {
        let line = tokio::time::timeout(RECV_TIMEOUT, self.lines.next_line())
            .await
            .expect("timed out waiting for a message from manifold")
            .expect("read")
            .expect("manifold closed stdout");
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("manifold wrote invalid JSON {line:?}: {e}"));
        (line, message)
    }

    /// Takes stdin, e.g. for a writer task of its own (dropping it closes stdin).
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin open")
    }

    /// Reads until the response with `id` (others kept in `seen`): its exact text, and its JSON.
    pub async fn response_raw(&mut self, id: &Value) -> (String, Value) {
        loop {
            let (line, m) = self.recv_raw().await;
            if m.get("id") == Some(id) && m.get("method").is_none() {
                return (line, m);
            }
            self.seen.push(m);
        }
    }

    /// Reads until the response with `id`, keeping everything else in `seen`.
    pub async fn response(&mut self, id: &Value) -> Value {
        loop {
            let m = self.recv().await;
            if m.get("id") == Some(id) && m.get("method").is_none() {
                return m;
            }
            self.seen.push(m);
        }
    }

    /// The first notification `method` seen (kept in `seen`), reading on until one comes.
    pub async fn notification(&mut self, method: &str) -> Value {
        loop {
            if let Some(m) = self.seen.iter().find(|m| m["method"] == method) {
                return m.clone();
            }
            let m = self.recv().await;
            self.seen.push(m);
        }
    }

    /// Sends a request and returns its response.
    pub async fn request(&mut self, id: impl Into<Value>, method: &str, params: Value) -> Value {
        let id = id.into();
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let response = self.response(&id).await;
        self.check(&response, Some(method));
        response
    }

    /// Checks a message Manifold sent against the schema of the client's revision.
    fn check(&self, message: &Value, method: Option<&str>) {
        if self.modern {
            schema::check_outgoing_modern(message, method);
        } else {
            schema::check_outgoing(message, method);
        }
    }

    /// `initialize` + `notifications/initialized` with the given client capabilities; returns the result.
    pub async fn initialize_with(&mut self, capabilities: Value) -> Value {
        let r = self
            .request(
                0,
                "initialize",
                json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
                       "clientInfo": {"name": "e2e", "version": "1.0.0"}}),
            )
            .await;
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        r["result"].clone()
    }

    /// `initialize` with no optional capabilities.
    pub async fn initialize(&mut self) -> Value {
        self.initialize_with(json!({})).await
    }

    /// Calls a tool and returns the whole response.
    pub async fn call_tool(&mut self, id: i64, name: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": name, "arguments": arguments}),
        )
        .await
    }

    /// Closes stdin (EOF) and waits for a clean exit.
    pub async fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("manifold did not exit after EOF")
            .expect("wait")
    }
}

/// Every name in a `tools/list`-style result array.
pub fn names(result: &Value, field: &str, key: &str) -> Vec<String> {
    result[field]
        .as_array()
        .unwrap_or_else(|| panic!("no {field} array in {result}"))
        .iter()
        .map(|item| item[key].as_str().expect("name").to_string())
        .collect()
}

/// Whether a process with this pid is still alive (and not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Spawns `cmd` with stdout piped and returns once it printed `listening on <url>`: the child,
/// the URL, and the lines it prints after that (e.g. the admin address). Stdout keeps being read,
/// so the child never blocks on it.
pub async fn spawn_listening(
    mut cmd: Command,
) -> (Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = tokio::time::timeout(RECV_TIMEOUT, lines.next_line())
        .await
        .expect("the child printed its address")
        .expect("read")
        .expect("a first line");
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("not an address line: {line}"))
        .to_string();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (child, url, rx)
}

/// `manifold serve --listen 127.0.0.1:0 --config <config>` (RUST_LOG from the environment, else
/// `warn`), started with [`spawn_listening`].
pub async fn serve_http(
    config: &Path,
) -> (Child, String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let mut cmd = Command::new(manifold_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(config)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        );
    spawn_listening(cmd).await
}

/// The lines of the audit log at `path`, each one JSON, once it holds at least `n` of them
/// (waiting, up to the receive timeout, for the writer thread to write them).
pub async fn audit_lines(path: &Path, n: usize) -> Vec<Value> {
    eventually("the audit lines", RECV_TIMEOUT, async || {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        if lines.len() >= n {
            Ok(lines)
        } else {
            Err(format!("only {} of {n} audit lines: {text}", lines.len()))
        }
    })
    .await
}
