//! Shared helpers: an in-process stdio client speaking raw JSON lines.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use manifold_testkit::{serve_stdio, Options};
use serde_json::{json, Value};
use tokio::io::{
    AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines, ReadHalf, WriteHalf,
};
use tokio::task::JoinHandle;

/// How long a test waits for any single message.
pub const WAIT: Duration = Duration::from_secs(5);

/// A raw JSON-lines client connected to an in-process server over `tokio::io::duplex`.
pub struct Client {
    writer: WriteHalf<DuplexStream>,
    lines: Lines<BufReader<ReadHalf<DuplexStream>>>,
    /// Non-response messages skipped by [`Client::request`].
    pub skipped: Vec<Value>,
    pub server: JoinHandle<anyhow::Result<()>>,
}

impl Client {
    /// Starts `serve_stdio` with `opts`.
    pub fn start(opts: Options) -> Client {
        let (client_side, server_side) = tokio::io::duplex(1 << 20);
        let (server_read, server_write) = tokio::io::split(server_side);
        let server = tokio::spawn(serve_stdio(opts, server_read, server_write));
        let (read, writer) = tokio::io::split(client_side);
        Client {
            writer,
            lines: BufReader::new(read).lines(),
            skipped: Vec::new(),
            server,
        }
    }

    /// Starts a server and performs initialize + notifications/initialized.
    pub async fn ready(opts: Options) -> Client {
        let mut client = Client::start(opts);
        client.initialize(json!({})).await;
        client
    }

    pub async fn send_raw(&mut self, line: &str) {
        self.writer.write_all(line.as_bytes()).await.unwrap();
        self.writer.write_all(b"\n").await.unwrap();
        self.writer.flush().await.unwrap();
    }

    pub async fn send(&mut self, msg: Value) {
        self.send_raw(&msg.to_string()).await;
    }

    /// Next raw line from the server (panics after [`WAIT`] or on EOF).
    pub async fn recv_line(&mut self) -> String {
        tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("timed out waiting for the server")
            .unwrap()
            .expect("server closed its output")
    }

    /// Every line until the server closes its output.
    pub async fn read_to_eof(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(line) = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("timed out waiting for EOF")
            .unwrap()
        {
            out.push(line);
        }
        out
    }

    /// Next message from the server.
    pub async fn recv(&mut self) -> Value {
        let line = self.recv_line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad JSON {line:?}: {e}"))
    }

    /// Next message if one arrives within `ms` milliseconds.
    pub async fn recv_within(&mut self, ms: u64) -> Option<Value> {
        let line = tokio::time::timeout(Duration::from_millis(ms), self.lines.next_line())
            .await
            .ok()?
            .unwrap()?;
        Some(serde_json::from_str(&line).unwrap())
    }

    /// Sends a request and returns its response, keeping other messages in `skipped`.
    pub async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({ "jsonrpc": "2.0", "id": id, "method": method, "params": params }))
            .await;
        self.response_to(&id).await
    }

    /// Waits for the response with `id`, keeping other messages in `skipped`.
    pub async fn response_to(&mut self, id: &Value) -> Value {
        loop {
            let msg = self.recv().await;
            if msg.get("id") == Some(id) && msg.get("method").is_none() {
                return msg;
            }
            self.skipped.push(msg);
        }
    }

    /// The `result` of a request (panics on an error response).
    pub async fn call(&mut self, id: i64, method: &str, params: Value) -> Value {
        let resp = self.request(json!(id), method, params).await;
        match resp.get("result") {
            Some(result) => result.clone(),
            None => panic!("{method} failed: {resp}"),
        }
    }

    /// The error code of a request that must fail.
    pub async fn error_code(&mut self, id: i64, method: &str, params: Value) -> i64 {
        let resp = self.request(json!(id), method, params).await;
        resp.pointer("/error/code")
            .and_then(Value::as_i64)
            .unwrap_or_else(|| panic!("{method} should fail: {resp}"))
    }

    /// `tools/call` result.
    pub async fn tool(&mut self, id: i64, name: &str, arguments: Value) -> Value {
        self.call(
            id,
            "tools/call",
            json!({ "name": name, "arguments": arguments }),
        )
        .await
    }

    /// Sends initialize (with these client capabilities) and notifications/initialized.
    pub async fn initialize(&mut self, capabilities: Value) -> Value {
        let result = self
            .call(0, "initialize", init_params("2025-11-25", capabilities))
            .await;
        self.send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        result
    }

    /// Closes the input and waits for the server to return.
    pub async fn finish(mut self) -> anyhow::Result<()> {
        let _ = self.writer.shutdown().await;
        tokio::time::timeout(WAIT, self.server)
            .await
            .expect("server did not stop")
            .unwrap()
    }
}

pub fn init_params(version: &str, capabilities: Value) -> Value {
    json!({
        "protocolVersion": version,
        "capabilities": capabilities,
        "clientInfo": { "name": "test-client", "version": "9.9" },
    })
}

/// Options with the given tweaks applied to the defaults.
pub fn opts(f: impl FnOnce(&mut Options)) -> Options {
    let mut o = Options::default();
    f(&mut o);
    o
}

/// The text of the first content block of a tool result.
pub fn text(result: &Value) -> &str {
    result
        .pointer("/content/0/text")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no text in {result}"))
}

/// Tool names in a tools/list result.
pub fn names(result: &Value, key: &str) -> Vec<String> {
    result[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}
