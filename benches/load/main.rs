//! Load generator: `tools/call echo` against a testkit upstream directly, and through Manifold.
//!
//! In one run it measures, with the same client:
//! - **direct**: `manifold-testkit` spawned as a stdio child, spoken to in JSON lines;
//! - **manifold**: `manifold serve --stdio` spawned with a temporary config whose only upstream is
//!   that same testkit (namespace `t`, so every call also goes through the name rewrite
//!   `t__echo` → `echo`), with `RUST_LOG=error` and the audit log off;
//! - **manifold, audit log on**: the same with the default policy (argument validation, the
//!   audit log with redaction), the audit log going to a file;
//! - **manifold, socketpair stdio**: the first again, but with stdin and stdout UNIX socketpairs
//!   instead of pipes, as Node- and Electron-based hosts (and the TypeScript SDK's
//!   `StdioClientTransport`) spawn servers;
//!
//! each for `LOAD_N` sequential calls (one in flight) and for `LOAD_C` concurrent callers sharing
//! the one stdio connection (requests pipelined, ids unique), and prints Markdown tables: calls/s,
//! p50 and p99 in microseconds; the manifold/direct ratios; and the CPU time (user + system) per
//! call of the testkit, the gateway and the load client, read from `/proc/<pid>/stat`.
//!
//! The binaries must be built first, in release mode, next to this bench's executable:
//!
//! ```text
//! cargo build --release --workspace --bins
//! cargo bench --bench load
//! ```
//!
//! Environment: `LOAD_N` (calls per measurement, default 20000), `LOAD_C` (concurrent callers,
//! default 32), `LOAD_WARMUP` (calls before each measurement, default 1000), `LOAD_ROUNDS`
//! (repetitions of the whole matrix; the median round by throughput is reported, default 1),
//! `LOAD_BIN_DIR` (where `manifold` and `manifold-testkit` are, default: the bench's
//! `target/<profile>/`), `LOAD_EXTRA=1` (also measure two experimental gateways built from the
//! same router crate by this executable; see [`serve_nonblocking`]).
//!
//! The client runs on a single-threaded tokio runtime so that it takes as little CPU as possible
//! away from the processes under test (on a 2-core machine, the manifold mode runs three
//! processes on two cores; the direct mode two).

mod gateway;
mod procfs;

use gateway::serve_nonblocking;
use procfs::{children_of, clock_ticks, Servers};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};

/// The echo argument: a small string.
const TEXT: &str = "hello, manifold";
/// The longest any single response may take before the bench gives up.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

type Waiters = Arc<Mutex<HashMap<i64, oneshot::Sender<Reply>>>>;

/// What came back for one request.
struct Reply {
    at: Instant,
    ok: bool,
    body: String,
}

#[derive(Deserialize)]
struct Incoming<'a> {
    #[serde(default)]
    id: Option<i64>,
    #[serde(borrow, default)]
    method: Option<&'a str>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
}

/// A JSON-lines client on a child's stdin/stdout, with any number of requests in flight.
struct Client {
    name: &'static str,
    child: Child,
    out: Option<mpsc::UnboundedSender<String>>,
    waiters: Waiters,
    next_id: AtomicI64,
    writer: tokio::task::JoinHandle<()>,
    reader: tokio::task::JoinHandle<()>,
    tool: String,
}

/// What the child's stdin and stdout are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wiring {
    Pipes,
    Socketpairs,
}

impl Client {
    fn spawn(name: &'static str, mut cmd: Command, tool: &str, wiring: Wiring) -> Client {
        cmd.stderr(Stdio::inherit()).kill_on_drop(true);
        let (tx, rx) = mpsc::unbounded_channel();
        let waiters: Waiters = Arc::default();
        let spawn_err = |e: std::io::Error| panic!("cannot start the {name} process: {e}");
        let (child, writer, reader) = match wiring {
            Wiring::Pipes => {
                cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
                let mut child = cmd.spawn().unwrap_or_else(spawn_err);
                let stdin = child.stdin.take().expect("piped stdin");
                let stdout = child.stdout.take().expect("piped stdout");
                let writer = tokio::spawn(write_lines(stdin, rx));
                let reader = tokio::spawn(read_lines(stdout, waiters.clone()));
                (child, writer, reader)
            }
            Wiring::Socketpairs => {
                let (ours_in, theirs_in) =
                    std::os::unix::net::UnixStream::pair().expect("socketpair");
                let (ours_out, theirs_out) =
                    std::os::unix::net::UnixStream::pair().expect("socketpair");
                cmd.stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs_in)))
                    .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)));
                let child = cmd.spawn().unwrap_or_else(spawn_err);
                let socket = |s: std::os::unix::net::UnixStream| {
                    s.set_nonblocking(true).expect("non-blocking");
                    tokio::net::UnixStream::from_std(s).expect("registered socket")
                };
                let writer = tokio::spawn(write_lines(socket(ours_in), rx));
                let reader = tokio::spawn(read_lines(socket(ours_out), waiters.clone()));
                (child, writer, reader)
            }
        };
        Client {
            name,
            child,
            out: Some(tx),
            waiters,
            next_id: AtomicI64::new(1),
            writer,
            reader,
            tool: tool.to_string(),
        }
    }

    /// Sends one request and waits for its response.
    async fn request(&self, method: &str, params: &str) -> Reply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(id, tx);
        let line =
            format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"{method}","params":{params}}}"#);
        self.out
            .as_ref()
            .expect("client open")
            .send(line)
            .unwrap_or_else(|_| panic!("{}: the writer is gone", self.name));
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => panic!("{}: connection closed while waiting for id {id}", self.name),
            Err(_) => panic!(
                "{}: no response to id {id} within {CALL_TIMEOUT:?}",
                self.name
            ),
        }
    }

    fn notify(&self, method: &str) {
        let line = format!(r#"{{"jsonrpc":"2.0","method":"{method}"}}"#);
        let _ = self.out.as_ref().expect("client open").send(line);
    }

    async fn initialize(&self) {
        let reply = self
            .request(
                "initialize",
                r#"{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"manifold-load","version":"0"}}"#,
            )
            .await;
        assert!(reply.ok, "{}: initialize failed: {}", self.name, reply.body);
        self.notify("notifications/initialized");
        // The result must be the echo: checks the whole path once before measuring.
        let reply = self.call().await;
        assert!(
            reply.ok && reply.body.contains(TEXT) && !reply.body.contains("\"isError\":true"),
            "{}: tools/call {} did not echo: {}",
            self.name,
            self.tool,
            reply.body
        );
    }

    /// One `tools/call`; returns its latency.
    async fn call(&self) -> Reply {
        let params = format!(
            r#"{{"name":"{}","arguments":{{"text":"{TEXT}"}}}}"#,
            self.tool
        );
        self.request("tools/call", &params).await
    }

    async fn timed_call(&self) -> Duration {
        let start = Instant::now();
        let reply = self.call().await;
        assert!(reply.ok, "{}: tools/call failed: {}", self.name, reply.body);
        reply.at.saturating_duration_since(start)
    }

    /// Ends input and waits for the process to exit.
    async fn close(mut self) {
        self.out = None;
        let _ = self.writer.await;
        match tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await {
            Ok(Ok(status)) if status.success() => {}
            Ok(Ok(status)) => eprintln!("warning: {} exited with {status}", self.name),
            Ok(Err(e)) => eprintln!("warning: waiting for {} failed: {e}", self.name),
            Err(_) => {
                eprintln!("warning: {} did not exit within 10 s of EOF", self.name);
                let _ = self.child.kill().await;
            }
        }
        self.reader.abort();
    }
}

/// Writes queued lines, flushing only when the queue is empty (batches writes under load), or
/// after every line with `LOAD_FLUSH_EACH=1`.
async fn write_lines<W: AsyncWrite + Unpin>(stdin: W, mut rx: mpsc::UnboundedReceiver<String>) {
    let flush_each = env_usize("LOAD_FLUSH_EACH", 0) > 0;
    let mut out = BufWriter::with_capacity(64 * 1024, stdin);
    while let Some(line) = rx.recv().await {
        let mut next = Some(line);
        while let Some(line) = next {
            if out.write_all(line.as_bytes()).await.is_err() || out.write_all(b"\n").await.is_err()
            {
                return;
            }
            next = if flush_each { None } else { rx.try_recv().ok() };
        }
        if out.flush().await.is_err() {
            return;
        }
    }
    let _ = out.shutdown().await;
}

async fn read_lines<R: AsyncRead + Unpin>(stdout: R, waiters: Waiters) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let at = Instant::now();
        let Ok(msg) = serde_json::from_slice::<Incoming<'_>>(&line) else {
            eprintln!(
                "warning: unreadable line: {}",
                String::from_utf8_lossy(&line)
            );
            continue;
        };
        let (Some(id), None) = (msg.id, msg.method) else {
            continue; // a notification or a server→client request: not ours to time
        };
        if let Some(tx) = waiters.lock().unwrap().remove(&id) {
            let _ = tx.send(Reply {
                at,
                ok: msg.result.is_some(),
                body: String::from_utf8_lossy(&line).into_owned(),
            });
        }
    }
}

/// One measurement: throughput and latency percentiles.
#[derive(Clone, Copy)]
struct Stats {
    calls: usize,
    per_sec: f64,
    p50_us: f64,
    p99_us: f64,
    /// (user, system) CPU microseconds per call of the testkit, the gateway and the client.
    cpu_us: [(f64, f64); 3],
}

fn stats(mut latencies: Vec<Duration>, wall: Duration) -> Stats {
    latencies.sort_unstable();
    let pick = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i].as_secs_f64() * 1e6
    };
    Stats {
        calls: latencies.len(),
        per_sec: latencies.len() as f64 / wall.as_secs_f64(),
        p50_us: pick(0.50),
        p99_us: pick(0.99),
        cpu_us: [(0.0, 0.0); 3],
    }
}

/// `n` calls by `c` callers sharing the connection (each caller keeps one call in flight).
async fn run(client: &Arc<Client>, servers: &Servers, n: usize, c: usize) -> Stats {
    let c = c.clamp(1, n.max(1));
    let cpu_before = servers.cpu();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(c);
    for k in 0..c {
        let share = n / c + usize::from(k < n % c);
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(share);
            for _ in 0..share {
                lat.push(client.timed_call().await);
            }
            lat
        }));
    }
    let mut latencies = Vec::with_capacity(n);
    for t in tasks {
        latencies.extend(t.await.expect("caller task"));
    }
    let wall = start.elapsed();
    let mut s = stats(latencies, wall);
    for (i, (after, before)) in servers.cpu().iter().zip(cpu_before).enumerate() {
        let per_call =
            |a: Duration, b: Duration| a.saturating_sub(b).as_secs_f64() * 1e6 / n as f64;
        s.cpu_us[i] = (per_call(after.0, before.0), per_call(after.1, before.1));
    }
    s
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a non-negative integer")),
        Err(_) => default,
    }
}

/// `target/<profile>/`: this executable is `target/<profile>/deps/load-<hash>`.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LOAD_BIN_DIR") {
        return PathBuf::from(dir);
    }
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .expect("the bench executable lives in target/<profile>/deps/")
}

fn require(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    if !path.is_file() {
        eprintln!(
            "error: {} is missing.\n\
             Build the binaries first: `cargo build --release --workspace --bins`, then `cargo bench --bench load`\n\
             (or point LOAD_BIN_DIR at a directory holding `manifold` and `manifold-testkit`).",
            path.display()
        );
        std::process::exit(2);
    }
    path
}

/// Median-throughput measurement of a cell over the rounds.
fn median(mut runs: Vec<Stats>) -> Stats {
    runs.sort_by(|a, b| a.per_sec.total_cmp(&b.per_sec));
    runs[runs.len() / 2]
}

/// One way of reaching the testkit.
struct Mode {
    label: &'static str,
    client: Arc<Client>,
    servers: Servers,
}

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter); only the self-spawned gateway takes
    // arguments of its own.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--serve-nonblocking") {
        let config = args
            .get(i + 1)
            .expect("--serve-nonblocking CONFIG [multi|current]");
        let flavor = args.get(i + 2).map_or("multi", String::as_str);
        serve_nonblocking(Path::new(config), flavor);
    }
    let n = env_usize("LOAD_N", 20_000).max(1);
    let c = env_usize("LOAD_C", 32).max(1);
    let warmup = env_usize("LOAD_WARMUP", 1_000);
    let rounds = env_usize("LOAD_ROUNDS", 1).max(1);
    let extra = env_usize("LOAD_EXTRA", 0) > 0;
    let dir = bin_dir();
    let manifold = require(&dir, "manifold");
    let testkit = require(&dir, "manifold-testkit");

    let config_dir = tempfile::tempdir().expect("tempdir");
    let server = format!(
        "[servers.t]\ncommand = {:?}\nargs = []\nnamespace = \"t\"\n",
        testkit.display().to_string()
    );
    // The relay alone (no audit log); and as configured by default, whose audit log goes to a
    // file here rather than to the terminal.
    let config = config_dir.path().join("manifold.toml");
    std::fs::write(&config, format!("[audit]\nenabled = false\n{server}")).expect("write config");
    let audited = config_dir.path().join("audited.toml");
    std::fs::write(
        &audited,
        format!("[audit]\nfile = \"audit.jsonl\"\n{server}"),
    )
    .expect("write config");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let tick = clock_ticks();
        let mut modes = Vec::new();
        let direct = Arc::new(Client::spawn(
            "direct",
            Command::new(&testkit),
            "echo",
            Wiring::Pipes,
        ));
        direct.initialize().await;
        modes.push(Mode {
            label: "direct",
            servers: Servers::new(direct.child.id(), None, tick),
            client: direct,
        });
        let mut gateways = Vec::new();
        let mut cmd = Command::new(&manifold);
        cmd.args(["serve", "--stdio", "--config"]).arg(&config);
        gateways.push(("manifold", cmd, Wiring::Pipes));
        let mut cmd = Command::new(&manifold);
        cmd.args(["serve", "--stdio", "--config"]).arg(&audited);
        gateways.push(("manifold, audit log on", cmd, Wiring::Pipes));
        let mut cmd = Command::new(&manifold);
        cmd.args(["serve", "--stdio", "--config"]).arg(&config);
        gateways.push(("manifold, socketpair stdio", cmd, Wiring::Socketpairs));
        if extra {
            let me = std::env::current_exe().expect("current_exe");
            for (label, flavor) in [
                ("router, non-blocking stdio", "multi"),
                ("router, non-blocking stdio, current_thread", "current"),
            ] {
                let mut cmd = Command::new(&me);
                cmd.arg("--serve-nonblocking").arg(&config).arg(flavor);
                gateways.push((label, cmd, Wiring::Pipes));
            }
        }
        for (label, mut cmd, wiring) in gateways {
            cmd.env("RUST_LOG", "error");
            let client = Arc::new(Client::spawn(label, cmd, "t__echo", wiring));
            client.initialize().await;
            let gateway = client.child.id();
            let upstream = match gateway.map(children_of).as_deref() {
                Some([pid]) => Some(*pid),
                _ => {
                    eprintln!("warning: cannot tell the testkit child of {label}; its CPU is not counted");
                    None
                }
            };
            modes.push(Mode {
                label,
                servers: Servers::new(upstream, gateway, tick),
                client,
            });
        }

        eprintln!(
            "load: N={n} C={c} warmup={warmup} rounds={rounds}; binaries in {}",
            dir.display()
        );
        // cells[mode][pattern] over the rounds; modes and patterns interleave so that a disturbance
        // (another build on the machine) hits every mode alike.
        let mut cells: Vec<[Vec<Stats>; 2]> = modes.iter().map(|_| Default::default()).collect();
        for round in 0..rounds {
            for (p, callers) in [1, c].into_iter().enumerate() {
                for (m, mode) in modes.iter().enumerate() {
                    if warmup > 0 {
                        run(&mode.client, &mode.servers, warmup, callers).await;
                    }
                    let s = run(&mode.client, &mode.servers, n, callers).await;
                    eprintln!(
                        "  round {} {:<42} C={callers:<3} {:>9.0} calls/s  p50 {:>7.1} µs  p99 {:>7.1} µs",
                        round + 1,
                        mode.label,
                        s.per_sec,
                        s.p50_us,
                        s.p99_us
                    );
                    cells[m][p].push(s);
                }
            }
        }
        let results: Vec<[Stats; 2]> = cells.into_iter().map(|row| row.map(median)).collect();

        let patterns = ["sequential".to_string(), format!("concurrent (C={c})")];
        println!();
        println!("| mode | pattern | calls | calls/s | p50 (µs) | p99 (µs) |");
        println!("|---|---|---:|---:|---:|---:|");
        for (p, pattern) in patterns.iter().enumerate() {
            for (mode, r) in modes.iter().zip(&results) {
                let s = r[p];
                println!(
                    "| {} | {pattern} | {} | {:.0} | {:.1} | {:.1} |",
                    mode.label, s.calls, s.per_sec, s.p50_us, s.p99_us
                );
            }
        }
        println!();
        println!("| mode | pattern | throughput vs direct | cost | added p50 (µs) | added p99 (µs) |");
        println!("|---|---|---:|---:|---:|---:|");
        for (p, pattern) in patterns.iter().enumerate() {
            let d = results[0][p];
            for (mode, r) in modes.iter().zip(&results).skip(1) {
                let s = r[p];
                let ratio = s.per_sec / d.per_sec;
                println!(
                    "| {} | {pattern} | {ratio:.3} | {:.1} % | {:+.1} | {:+.1} |",
                    mode.label,
                    (1.0 - ratio) * 100.0,
                    s.p50_us - d.p50_us,
                    s.p99_us - d.p99_us
                );
            }
        }
        println!();
        println!("CPU time per call, user + system (µs), from /proc/<pid>/stat (10 ms ticks):");
        println!();
        println!("| mode | pattern | testkit | gateway | testkit + gateway | load client |");
        println!("|---|---|---:|---:|---:|---:|");
        for (p, pattern) in patterns.iter().enumerate() {
            for (mode, r) in modes.iter().zip(&results) {
                let cpu = r[p].cpu_us;
                let cell = |(u, k): (f64, f64)| format!("{u:.1} + {k:.1}");
                let gateway = if mode.servers.pids[1].is_some() {
                    cell(cpu[1])
                } else {
                    "–".to_string()
                };
                let servers: f64 = cpu[..2].iter().map(|(u, k)| u + k).sum();
                println!(
                    "| {} | {pattern} | {} | {gateway} | {servers:.1} | {} |",
                    mode.label,
                    cell(cpu[0]),
                    cell(cpu[2])
                );
            }
        }
        println!();

        for mode in modes.into_iter().rev() {
            let client = Arc::try_unwrap(mode.client)
                .ok()
                .expect("no caller left");
            client.close().await;
        }
    });
}
