//! What the HTTP load generators share: settings from the environment, the release binaries they
//! run, an MCP session over Streamable HTTP, and the measurement of echo calls on it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// `name` from the environment as a number, else `default`.
pub(crate) fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The binary `name` from `LOAD_BIN_DIR`, else from the bench's own `target/<profile>/`; exits
/// with a hint when it is not built.
pub(crate) fn bin(name: &str) -> PathBuf {
    let dir = std::env::var_os("LOAD_BIN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("current_exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("target/<profile>/deps")
                .to_path_buf()
        });
    let path = dir.join(name);
    if !path.is_file() {
        eprintln!(
            "error: {} is missing; run `cargo build --release --workspace --bins` first",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

/// Spawns a child that prints `listening on <url>` first; returns it and the URL (its other
/// output is read and dropped, its stderr discarded).
pub(crate) async fn start(mut cmd: Command) -> (Child, String) {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next_line().await.unwrap().expect("address line");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let url = line.strip_prefix("listening on ").expect("address");
    (child, url.to_string())
}

/// `manifold serve --listen 127.0.0.1:0` on `config` (admin listener off, `RUST_LOG=error`),
/// written with `files` (name, contents) beside it; the child, its MCP URL and the directory.
pub(crate) async fn gateway(
    config: &str,
    files: &[(&str, &str)],
) -> (Child, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifold.toml");
    std::fs::write(&path, format!("[admin]\nlisten = \"off\"\n{config}")).unwrap();
    for (name, contents) in files {
        std::fs::write(dir.path().join(name), contents).unwrap();
    }
    let mut cmd = Command::new(bin("manifold"));
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .env("RUST_LOG", "error");
    let (child, url) = start(cmd).await;
    (child, url, dir)
}

/// A keep-alive HTTP client with room for `callers` concurrent connections.
pub(crate) fn client(callers: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(callers + 4)
        .build()
        .unwrap()
}

/// Runs `run` on a single-threaded runtime, so the client takes as little CPU as possible away
/// from the processes under test.
pub(crate) fn block_on<F: std::future::Future>(run: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run)
}

/// One MCP session over Streamable HTTP (optionally with a bearer token).
pub(crate) struct Session {
    http: reqwest::Client,
    url: String,
    token: Option<String>,
    pub(crate) id: String,
}

impl Session {
    /// `initialize` + `notifications/initialized` on `url`.
    pub(crate) async fn open(http: &reqwest::Client, url: &str, token: Option<&str>) -> Session {
        let mut s = Session {
            http: http.clone(),
            url: url.to_string(),
            token: token.map(String::from),
            id: String::new(),
        };
        let r = s
            .request(
                &json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"}}}),
            )
            .send()
            .await
            .expect("initialize");
        assert_eq!(r.status(), 200, "initialize");
        s.id = r.headers()["mcp-session-id"].to_str().unwrap().to_string();
        let _ = r.bytes().await;
        s.post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        s
    }

    fn request(&self, body: &Value) -> reqwest::RequestBuilder {
        let mut r = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .body(body.to_string());
        if !self.id.is_empty() {
            r = r.header("mcp-session-id", &self.id);
        }
        if let Some(token) = &self.token {
            r = r.bearer_auth(token);
        }
        r
    }

    /// POSTs `body`; the JSON-RPC answer (`Null` for none), whether sent as JSON or as SSE.
    pub(crate) async fn post(&self, body: Value) -> Value {
        let r = self.request(&body).send().await.expect("request");
        let sse = r
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let bytes = r.bytes().await.expect("body");
        if sse {
            // Clients take either answer form; the response is the stream's last event.
            let text = String::from_utf8_lossy(&bytes);
            let last = text
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .next_back()
                .unwrap_or("null");
            return serde_json::from_str(last.trim()).unwrap_or(Value::Null);
        }
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// Calls the echo tool `tool` with `arguments` and checks it echoed `arguments.text`.
    pub(crate) async fn echo(&self, id: usize, tool: &str, arguments: &Value) {
        let r = self
            .post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                         "params": {"name": tool, "arguments": arguments}}))
            .await;
        assert_eq!(r["result"]["content"][0]["text"], arguments["text"], "{r}");
    }
}

/// Throughput and latency of one measurement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Latency {
    pub(crate) per_sec: f64,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
}

/// `n` echo calls by `c` concurrent callers on `session`.
pub(crate) async fn measure(
    session: Arc<Session>,
    tool: &'static str,
    arguments: Arc<Value>,
    n: usize,
    c: usize,
) -> Latency {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..c {
        let (session, arguments) = (session.clone(), arguments.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            for i in (worker..n).step_by(c) {
                let t = Instant::now();
                session.echo(i + 1, tool, &arguments).await;
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut all: Vec<Duration> = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let wall = started.elapsed();
    all.sort();
    let pct =
        |p: f64| all[((all.len() as f64 * p) as usize).min(all.len() - 1)].as_secs_f64() * 1e6;
    Latency {
        per_sec: all.len() as f64 / wall.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}
