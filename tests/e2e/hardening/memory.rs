//! Memory stays bounded whatever a client or upstream does: a stdio client that writes without
//! reading (backpressure), an HTTP upstream answering faster than that client reads, HTTP and
//! HTTP+SSE sessions whose streams are read or not (bounded outboxes, drops counted). Manifold's
//! own RSS is sampled from /proc meanwhile; afterwards everything that was not dropped arrives.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::process::{Child, ChildStdin, Command};

use crate::common::http::Answer;
use crate::common::{self, eventually, Gateway};

const MIB: u64 = 1024 * 1024;

/// VmRSS of `pid`, in bytes.
fn rss(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024)
}

/// Samples the RSS of a pid every 100 ms until [`Peak::stop`], which asserts that it never grew
/// by `bound` or more over what it was when the watch began: (pid, RSS then, stop, sampler).
struct Peak(u32, u64, Arc<AtomicBool>, tokio::task::JoinHandle<u64>);

impl Peak {
    fn watch(pid: u32) -> Peak {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            while !flag.load(Ordering::Relaxed) {
                peak = peak.max(rss(pid));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak.max(rss(pid))
        });
        Peak(pid, rss(pid), stop, task)
    }

    async fn stop(self, what: &str, bound: u64) {
        self.2.store(true, Ordering::Relaxed);
        let peak = self.3.await.expect("the RSS sampler");
        let (base, growth) = (self.1 / 1024, peak.saturating_sub(self.1) / 1024);
        let (now, bound) = (rss(self.0) / 1024, bound / 1024);
        println!("{what}: RSS {base} KiB before, peak +{growth} KiB, now {now} KiB");
        let why = format!("{what}: Manifold grew by {growth} KiB (bound {bound} KiB)");
        assert!(growth < bound, "{why}");
    }
}

/// `manifold.toml` holding `body`, with the audit log in a file beside it (not on stderr).
fn config(body: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let audit = dir.path().join("audit.jsonl").display().to_string();
    let path = dir.path().join("manifold.toml");
    std::fs::write(&path, format!("[audit]\nfile = {audit:?}\n{body}")).expect("config");
    (dir, path)
}

/// `manifold serve --stdio` (the shared harness, read without schema checks, as it reads
/// thousands of answers), initialized, whose stdin can be handed to a writer task.
struct StdioClient(Gateway);

impl StdioClient {
    async fn start(config: &std::path::Path) -> StdioClient {
        let mut client = StdioClient(Gateway::spawn_with(config, &[("RUST_LOG", "error")]));
        let init = json!({"jsonrpc": "2.0", "id": "init", "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "memory", "version": "1"}}});
        let ready = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        client.0.send_raw(&format!("{init}\n{ready}")).await;
        let answer = client.next().await;
        assert!(answer["result"]["serverInfo"].is_object(), "{answer}");
        client
    }

    /// The next message, unchecked.
    async fn next(&mut self) -> Value {
        self.0.recv_unchecked().await.1
    }

    /// Writes `lines` from a task of its own (writes block while Manifold reads no further); the
    /// task gives stdin back once all are written (closing it would cancel what is in flight).
    fn write_from_task(&mut self, lines: Vec<String>) -> tokio::task::JoinHandle<ChildStdin> {
        let stdin = self.0.take_stdin();
        tokio::spawn(async move {
            let mut out = BufWriter::new(stdin);
            for line in lines {
                out.write_all(format!("{line}\n").as_bytes())
                    .await
                    .expect("write");
            }
            out.flush().await.expect("flush");
            out.into_inner()
        })
    }

    /// Reads until every id in `0..count` was answered, each exactly once; the answers by id.
    async fn answers(&mut self, count: usize) -> Vec<Value> {
        let (mut answers, mut got) = (vec![None; count], 0);
        while got < count {
            let m = self.next().await;
            if m.get("method").is_some() {
                continue; // a notification
            }
            got += 1;
            let id = m["id"].as_u64().unwrap_or_else(|| panic!("{}", short(&m)));
            let slot = answers.get_mut(id as usize).expect("an id that was sent");
            assert!(slot.replace(m).is_none(), "id {id} answered twice");
        }
        answers.into_iter().map(Option::unwrap).collect()
    }
}

fn call(id: usize, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
}

/// The start of a message, for assertion messages.
fn short(message: &Value) -> String {
    message.to_string().chars().take(300).collect()
}

fn text_of(answer: &Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a text result: {}", short(answer)))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stdio_client_that_does_not_read_blocks_on_its_writes_instead_of_growing_manifold() {
    const CALLS: usize = 10_000;
    let (_dir, config) = config(&common::testkit_server("a", &["--name", "a"], ""));
    let mut client = StdioClient::start(&config).await;
    let text = |i: usize| format!("{i:05}-{}", "m".repeat(1000));
    let lines = (0..CALLS)
        .map(|i| call(i, "a__echo", json!({"text": text(i)})).to_string())
        .collect();
    let peak = Peak::watch(client.0.child.id().unwrap());
    let writer = client.write_from_task(lines);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!writer.is_finished(), "all {CALLS} calls were taken in");
    peak.stop("10,000 calls, stdout unread for 5 s", 32 * MIB)
        .await;
    for (i, answer) in client.answers(CALLS).await.iter().enumerate() {
        assert_eq!(text_of(answer), text(i), "the answer to id {i}");
    }
    drop(writer.await.expect("the writer task"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_upstream_answering_faster_than_the_stdio_client_reads_is_read_no_further() {
    const CALLS: usize = 300;
    const BYTES: usize = 1_000_000;
    let mut testkit = Command::new(common::testkit_bin());
    testkit.args(["--http", "127.0.0.1:0", "--name", "a"]);
    let (_upstream, url, _) = common::spawn_listening(testkit).await;
    // The stdio face announces no admin address: use a port that was free a moment ago.
    let admin = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    // Answers waiting for the client are held by at most client_max_in_flight requests: the
    // bound is client_queue_bytes + client_max_in_flight × the answer (README, Hardening).
    let (_dir, config) = config(&format!(
        "[gateway]\nclient_max_in_flight = 16\n[admin]\nlisten = \"{admin}\"\n[servers.a]\nurl = \"{url}\"\n"
    ));
    let mut client = StdioClient::start(&config).await;
    let lines = (0..CALLS)
        .map(|i| call(i, "a__big", json!({"bytes": BYTES})).to_string())
        .collect();
    let peak = Peak::watch(client.0.child.id().unwrap());
    let writer = client.write_from_task(lines);
    // Until the calls sent upstream are all answered, or for 10 s no more are (the upstream is
    // held back): whatever Manifold lets pile up has piled up by then.
    let (http, admin) = (reqwest::Client::new(), format!("http://{admin}"));
    let series = "manifold_inflight_requests{server=\"a\"}";
    let left = settled(&http, &admin, series, Duration::from_secs(10)).await;
    println!("calls in flight upstream once settled: {left}");
    // 300 MB are answered in all. What may wait meanwhile: the client's queue (16 MiB), the 16
    // answers in hand, each maybe held twice (as received and re-encoded) for a moment.
    peak.stop("300 answers of 1 MB, stdout unread", 96 * MIB)
        .await;
    for answer in client.answers(CALLS).await {
        let text = text_of(&answer);
        assert!(text.len() == BYTES && text.bytes().all(|b| b == b'x'));
    }
    drop(writer.await.expect("the writer task"));
}

/// `manifold serve --listen` with the admin listener: (config dir, child, MCP URL, admin URL).
async fn serve_with_admin() -> (tempfile::TempDir, Child, String, String) {
    let servers = common::testkit_server("a", &["--name", "a"], "");
    let (dir, path) = config(&format!("[admin]\nlisten = \"127.0.0.1:0\"\n{servers}"));
    let (child, url, mut rest) = common::serve_http(&path).await;
    let line = tokio::time::timeout(common::RECV_TIMEOUT, rest.recv())
        .await
        .expect("the admin address")
        .expect("a second line");
    let admin = line.strip_prefix("admin listening on ").map(str::to_string);
    (dir, child, url, admin.unwrap_or_else(|| panic!("{line}")))
}

const DROPPED: &str = "manifold_dropped_messages_total{queue=\"session\"}";

/// The value of `series` on /metrics (0 without a series yet).
async fn metric(http: &reqwest::Client, admin: &str, series: &str) -> u64 {
    let url = format!("{admin}/metrics");
    let text = http.get(url).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse::<f64>().expect("a number") as u64)
}

/// Waits until `series` has been above 0 and then has not moved for `quiet` (or is back to 0).
async fn settled(http: &reqwest::Client, admin: &str, series: &str, quiet: Duration) -> u64 {
    let (mut seen, mut last, mut since) = (false, u64::MAX, tokio::time::Instant::now());
    eventually(
        &format!("{series} settled"),
        Duration::from_secs(90),
        async || {
            let now = metric(http, admin, series).await;
            seen |= now > 0;
            if now != last {
                (last, since) = (now, tokio::time::Instant::now());
            } else if seen && (now == 0 || since.elapsed() >= quiet) {
                return Ok(now);
            }
            Err(format!("{series} stays at {now}"))
        },
    )
    .await
}

/// POSTs one message to the Streamable HTTP endpoint, taking JSON answers only; the answer
/// (`Null` for 202) and the session id it names.
async fn post(http: &reqwest::Client, url: &str, sid: &str, body: Value) -> (Value, String) {
    let req = common::http::post_accepting(http, url, common::http::ACCEPT_JSON, body)
        .header("mcp-protocol-version", common::http::VERSION);
    let req = common::http::on_session(req, (!sid.is_empty()).then_some(sid));
    let answer = Answer::send(req).await;
    assert!(
        answer.status.is_success(),
        "{}: {:.300}",
        answer.status,
        answer.text
    );
    (answer.json_or_null(), answer.session.unwrap_or_default())
}

async fn http_session(http: &reqwest::Client, url: &str) -> String {
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "memory", "version": "1"}}});
    let (_, sid) = post(http, url, "", init).await;
    assert!(!sid.is_empty(), "no session id");
    let ready = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    post(http, url, &sid, ready).await;
    sid
}

/// A raw HTTP/1.1 GET of `path` (with a small receive buffer) read up to its headers, or for
/// `/sse` up to its `endpoint` event, and then never again; the socket and what was read.
async fn unread_stream(url: &str, path: &str, headers: &str) -> (tokio::net::TcpStream, String) {
    let addr = url.trim_start_matches("http://").split('/').next().unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut tcp = socket
        .connect(addr.parse().unwrap())
        .await
        .expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{headers}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let done = |seen: &str| match seen.split_once("sessionId=") {
        _ if path != "/sse" => seen.contains("\r\n\r\n"),
        Some((_, rest)) => rest.contains('\n'),
        None => false,
    };
    let (mut seen, mut buf) = (String::new(), [0u8; 1024]);
    while !done(&seen) {
        let read = tokio::time::timeout(common::RECV_TIMEOUT, tcp.read(&mut buf));
        let n = read.await.expect("the stream's first bytes").unwrap();
        assert!(n > 0, "the stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    (tcp, seen)
}

/// A GET stream of session `sid` read to its end by a task; counts its `notifications/message`.
async fn read_stream(http: &reqwest::Client, url: &str, sid: &str) -> Arc<AtomicU64> {
    let get = http.get(url).header("accept", "text/event-stream");
    let mut stream = get.header("mcp-session-id", sid).send().await.expect("GET");
    assert_eq!(stream.status(), reqwest::StatusCode::OK);
    let count = Arc::new(AtomicU64::new(0));
    let total = count.clone();
    tokio::spawn(async move {
        let (mut head, mut last) = (Vec::new(), 0u8);
        while let Ok(Some(chunk)) = stream.chunk().await {
            for &b in chunk.iter() {
                if b == b'\n' && last == b'\n' {
                    let event = String::from_utf8_lossy(&head);
                    if event.contains("\"notifications/message\"") {
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                    head.clear();
                } else if head.len() < 256 {
                    head.push(b);
                }
                last = b;
            }
        }
    });
    count
}

/// 100 log notifications of 2 MB each to one HTTP session, relayed while its calls run (their
/// POSTs take JSON only, so the messages go to the session's GET-stream queue); that stream is
/// read (`read`) or never read.
async fn notifications_to_a_session(read: bool) {
    let (_dir, child, url, admin) = serve_with_admin().await;
    let http = reqwest::Client::new();
    let sid = http_session(&http, &url).await;
    let headers = format!("mcp-session-id: {sid}\r\nmcp-protocol-version: 2025-11-25\r\n");
    let (_unread, received) = match read {
        false => (Some(unread_stream(&url, "/mcp", &headers).await), None),
        true => (None, Some(read_stream(&http, &url, &sid).await)),
    };
    let data = "d".repeat(2_000_000);
    let peak = Peak::watch(child.id().unwrap());
    for i in 1..=100 {
        let args = json!({"text": format!("call {i}"), "notify": "notifications/message",
                          "notify_params": {"level": "info", "data": data}});
        let (answer, _) = post(&http, &url, &sid, call(i, "a__echo", args)).await;
        assert_eq!(text_of(&answer), format!("call {i}"));
    }
    let (got, dropped) = if let Some(received) = received {
        // Read: every one arrives or is counted as dropped, none is lost silently.
        let what = "every notification read or dropped";
        let (got, dropped) = eventually(what, Duration::from_secs(60), async || {
            let got = received.load(Ordering::Relaxed);
            let dropped = metric(&http, &admin, DROPPED).await;
            if got + dropped >= 100 {
                Ok((got, dropped))
            } else {
                Err(format!("{got} read, {dropped} dropped"))
            }
        })
        .await;
        assert_eq!(got + dropped, 100, "{got} read, {dropped} dropped");
        (got, dropped)
    } else {
        // Unread: past the queue's bound, they are dropped and counted.
        let dropped = settled(&http, &admin, DROPPED, Duration::from_secs(1)).await;
        assert!(dropped <= 100, "{dropped} drops for 100 notifications");
        (0, dropped)
    };
    println!("of 100 notifications: {got} read, {dropped} dropped");
    let what = format!("100 notifications of 2 MB, GET stream read: {read}");
    peak.stop(&what, 64 * MIB).await;
    let still = call(101, "a__echo", json!({"text": "ok"}));
    let (answer, _) = post(&http, &url, &sid, still).await;
    assert_eq!(text_of(&answer), "ok", "the session still answers");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_session_nobody_reads_drops_what_exceeds_its_queue_bytes() {
    notifications_to_a_session(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_session_reading_its_stream_keeps_memory_bounded_too() {
    notifications_to_a_session(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_legacy_sse_session_nobody_reads_drops_what_exceeds_its_queue_bytes() {
    let (_dir, child, url, admin) = serve_with_admin().await;
    let (_unread, seen) = unread_stream(&url, "/sse", "").await;
    let endpoint = seen.split("data: ").nth(1).unwrap().lines().next().unwrap();
    assert!(endpoint.starts_with("/messages?sessionId="), "{seen}");
    let target = format!("{}{endpoint}", url.trim_end_matches("/mcp"));
    let http = reqwest::Client::new();
    let send = |body: Value| {
        let r = common::http::post_legacy(&http, &target, body);
        async move {
            let r = r.send().await.expect("POST /messages");
            assert_eq!(r.status(), reqwest::StatusCode::ACCEPTED);
        }
    };
    send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2024-11-05", "capabilities": {},
        "clientInfo": {"name": "memory", "version": "1"}}}),
    )
    .await;
    send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = Peak::watch(child.id().unwrap());
    for i in 1..=100 {
        send(call(i, "a__big", json!({"bytes": 2_000_000}))).await;
    }
    let dropped = settled(&http, &admin, DROPPED, Duration::from_secs(1)).await;
    println!("of 100 answers on the unread /sse stream, {dropped} dropped");
    assert!(dropped <= 100, "{dropped} drops for 100 answers");
    peak.stop("100 answers of 2 MB, /sse unread", 64 * MIB)
        .await;
    // Another client is served normally.
    let sid = http_session(&http, &url).await;
    let (answer, _) = post(
        &http,
        &url,
        &sid,
        call(1, "a__echo", json!({"text": "other"})),
    )
    .await;
    assert_eq!(text_of(&answer), "other");
}
