//! Slow, idle and too many HTTP clients, plain and over TLS: `listen.header_timeout_ms` (also
//! bounding TLS handshakes), `idle_timeout_ms`, `body_timeout_ms`, `max_connections`, the
//! `manifold_connections_{timed_out,refused}_total` counters, and normal clients served meanwhile.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Child;
use tokio::time::{sleep, timeout, Instant};

use crate::common::{self, eventually, http::Answer};

/// How long the server may take to close a connection once its deadline passed.
const CLOSED_WITHIN: Duration = Duration::from_secs(5);

/// A running `manifold serve` with the admin listener.
struct Gw {
    _child: Child,
    /// `127.0.0.1:PORT` of the MCP listener.
    addr: String,
    url: String,
    admin: String,
    /// The CA that signed the listener's certificate, over TLS.
    root: Option<reqwest::Certificate>,
    _dir: tempfile::TempDir,
}

impl Gw {
    /// Serves the testkit as `alpha` with `listen` in `[listen]` (plus a certificate if `tls`).
    async fn start(listen: &str, tls: bool) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        let (mut listen, mut root) = (listen.to_string(), None);
        if tls {
            let (cert, key, ca) = certificate(dir.path());
            listen += &format!("\ntls_cert = {cert:?}\ntls_key = {key:?}");
            root = Some(reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap());
        }
        let server = common::testkit_server("alpha", &["--name", "alpha"], "");
        let config = dir.path().join("manifold.toml");
        let text = format!("[listen]\n{listen}\n[admin]\nlisten = \"127.0.0.1:0\"\n{server}");
        std::fs::write(&config, text).unwrap();
        let (_child, url, mut rest) = common::serve_http(&config).await;
        let line = timeout(common::RECV_TIMEOUT, rest.recv()).await.unwrap();
        let line = line.expect("the admin address line");
        let admin = line.strip_prefix("admin listening on ").expect(&line);
        let addr = url.split("://").nth(1).unwrap().trim_end_matches("/mcp");
        let port = addr.rsplit(':').next().unwrap();
        let url = match tls {
            true => format!("https://localhost:{port}/mcp"),
            false => url.clone(),
        };
        let (addr, admin, _dir) = (addr.to_string(), admin.to_string(), dir);
        Gw {
            _child,
            addr,
            url,
            admin,
            root,
            _dir,
        }
    }

    /// A new HTTP client (its own connections) trusting the listener.
    fn client(&self) -> reqwest::Client {
        let mut builder =
            reqwest::Client::builder().resolve("localhost", self.addr.parse().unwrap());
        if let Some(root) = &self.root {
            builder = builder.add_root_certificate(root.clone());
        }
        builder.build().unwrap()
    }

    /// POSTs one message as `http` on session `sid`: the status, the answer and its session id.
    async fn post(
        &self,
        http: &reqwest::Client,
        sid: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value, Option<String>) {
        let req = common::http::post(http, &self.url, body);
        let answer = Answer::send(common::http::on_session(req, sid)).await;
        (answer.status, answer.json_or_null(), answer.session)
    }

    /// `initialize` + `notifications/initialized` as `http`; the session id.
    async fn open_session(&self, http: &reqwest::Client) -> String {
        let post = |sid: Option<&str>, body: &Value| {
            common::http::on_session(common::http::post(http, &self.url, body), sid)
        };
        common::http::open_session("slow-clients", post).await
    }

    /// Calls `alpha__<tool>` on session `sid`; the text it answered.
    async fn tool(&self, http: &reqwest::Client, sid: &str, tool: &str, args: Value) -> String {
        let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": format!("alpha__{tool}"), "arguments": args}});
        let (status, body, _) = self.post(http, Some(sid), call).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let text = body["result"]["content"][0]["text"].as_str();
        text.unwrap_or_else(|| panic!("{body}")).to_string()
    }

    /// A new client opens a session and gets `text` echoed.
    async fn served(&self, text: &str) {
        let http = self.client();
        let sid = self.open_session(&http).await;
        let echoed = self.tool(&http, &sid, "echo", json!({"text": text})).await;
        assert_eq!(echoed, text);
    }

    /// The value of one series on the admin listener's `/metrics` (0 when absent).
    async fn metric(&self, series: &str) -> f64 {
        let url = format!("{}/metrics", self.admin);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    async fn connect(&self) -> TcpStream {
        TcpStream::connect(&self.addr).await.expect("connect")
    }
}

fn initialize() -> Value {
    common::http::initialize("slow-clients")
}

fn timed_out(phase: &str) -> String {
    format!("manifold_connections_timed_out_total{{phase=\"{phase}\"}}")
}

const REFUSED: &str = "manifold_connections_refused_total{listener=\"http\"}";

/// A whole POST of `body` on `/mcp` (JSON answers only) with `headers`, keeping the connection.
fn post_request(body: &Value, headers: &str) -> String {
    let body = body.to_string();
    format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Accept: application/json\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The start of a request whose header [`trickle`] then never finishes.
const SLOW_HEADER: &[u8] = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";

/// Asserts that `answer` starts with the status line of `status`.
fn assert_status(answer: &str, status: u16) {
    let line = format!("HTTP/1.1 {status} ");
    assert!(answer.starts_with(&line), "expected {status}: {answer}");
}

/// Whether `answer`'s head has this header line (lower-case `name: value`).
fn has_header(answer: &str, line: &str) -> bool {
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase();
    head.split("\r\n").any(|l| l == line)
}

/// Sends `request` (if any) on `tcp` and reads the answer, pausing `pause` once its head came,
/// asserting it is a 200; its body.
async fn exchange(tcp: &mut TcpStream, request: &str, pause: Duration) -> Value {
    tcp.write_all(request.as_bytes()).await.unwrap();
    let (head, body) = response(tcp, pause).await;
    assert_status(&head, 200);
    serde_json::from_slice(&body).expect("a JSON answer")
}

/// Reads until the server closes the connection (EOF or reset), failing after [`CLOSED_WITHIN`];
/// everything it sent.
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        while let Ok(n @ 1..) = stream.read(&mut buf).await {
            got.extend_from_slice(&buf[..n]);
        }
    };
    timeout(CLOSED_WITHIN, read)
        .await
        .expect("the server closed the connection");
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads one answer with a `Content-Length` body, pausing `pause` once its head came: its head
/// (status line and headers) and body.
async fn response(stream: &mut TcpStream, pause: Duration) -> (String, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    let end = loop {
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = timeout(common::RECV_TIMEOUT, stream.read(&mut buf)).await;
        let n = n.unwrap().unwrap();
        assert!(n > 0, "closed in a head: {got:?}");
        got.extend_from_slice(&buf[..n]);
    };
    sleep(pause).await;
    let mut body = got.split_off(end);
    let head = String::from_utf8_lossy(&got).into_owned();
    let length = head.to_ascii_lowercase().split("\r\n").find_map(|l| {
        let value = l.strip_prefix("content-length: ")?;
        value.parse::<usize>().ok()
    });
    let mut rest = vec![0; length.expect(&head) - body.len()];
    let read = timeout(common::RECV_TIMEOUT, stream.read_exact(&mut rest)).await;
    let why = format!("the whole answer of {length:?} bytes: {head}");
    read.unwrap().expect(&why);
    body.extend(rest);
    (head, body)
}

/// Writes `prefix` at once, then one byte of `trickle` (repeated) every 100 ms until the server
/// closes the connection; returns what the server sent and how long it took from `started` (an
/// instant before the server's timer for this request can have started: before connecting, or
/// before the request's first byte) to the close. The server's timeout lies within that span,
/// so a busy machine can only lengthen it.
async fn trickle(
    stream: TcpStream,
    started: Instant,
    prefix: &'static [u8],
    trickle: u8,
) -> (String, Duration) {
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let mut sent = write.write_all(prefix).await;
        while sent.is_ok() {
            sleep(Duration::from_millis(100)).await;
            sent = write.write_all(&[trickle]).await;
        }
    });
    let got = until_closed(&mut read).await;
    writer.abort();
    (got, started.elapsed())
}

/// One byte every 100 ms of a header that never ends, on a new connection or as the next
/// request of a kept-alive one: each is closed, unanswered, by the header timeout (counted from
/// accept or from the next request's first byte, not reset by each byte; long before the idle
/// timeout); a normal client is served meanwhile and after.
#[tokio::test(flavor = "multi_thread")]
async fn slowloris_headers_are_cut_while_other_clients_are_served() {
    let gw = Gw::start("header_timeout_ms = 600\nidle_timeout_ms = 60000", false).await;
    let connecting = Instant::now();
    let fresh = tokio::spawn(trickle(gw.connect().await, connecting, SLOW_HEADER, b'a'));
    let mut kept = gw.connect().await;
    exchange(&mut kept, &post_request(&initialize(), ""), Duration::ZERO).await;
    let kept = tokio::spawn(trickle(kept, Instant::now(), SLOW_HEADER, b'a'));
    sleep(Duration::from_millis(200)).await;
    gw.served("meanwhile").await;
    for slow in [fresh, kept] {
        let (got, lasted) = slow.await.unwrap();
        assert_eq!(got, "", "a header that never completed got an answer");
        assert!(lasted >= Duration::from_millis(300), "cut after {lasted:?}");
    }
    assert_eq!(gw.metric(&timed_out("headers")).await, 2.0);
    assert_eq!(gw.metric(&timed_out("idle")).await, 0.0);
    gw.served("after").await;
}

/// Over TLS the handshake is bounded the same way: a connection that never sends a ClientHello,
/// and one that sends a handshake record one byte every 100 ms, are both closed; an HTTPS client
/// is served meanwhile and after.
#[tokio::test(flavor = "multi_thread")]
async fn tls_handshakes_must_complete_within_the_header_timeout() {
    let gw = Gw::start("header_timeout_ms = 600\nidle_timeout_ms = 5000", true).await;
    let mut silent = gw.connect().await;
    // A handshake record announcing 512 bytes of ClientHello, which never all arrive.
    let connecting = Instant::now();
    let slow = tokio::spawn(trickle(
        gw.connect().await,
        connecting,
        &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
        0,
    ));
    gw.served("meanwhile").await;
    assert_eq!(until_closed(&mut silent).await, "");
    let (got, lasted) = slow.await.unwrap();
    assert_eq!(got, "", "a handshake that never completed got an answer");
    assert!(lasted >= Duration::from_millis(300), "cut after {lasted:?}");
    assert!(gw.metric(&timed_out("headers")).await >= 2.0);
    gw.served("after").await;
}

/// A body that stops arriving gets 408 and its connection is closed, declared by length or
/// chunked; a declared length over `gateway.max_message_bytes` gets 413 without waiting. A body
/// arriving slowly, over longer than the header timeout but within the body timeout, is a request
/// in progress: it is read and answered.
#[tokio::test(flavor = "multi_thread")]
async fn stalled_bodies_get_408_oversized_ones_413_and_slow_ones_are_read() {
    let gw = Gw::start("body_timeout_ms = 1500\nheader_timeout_ms = 300", false).await;
    let head = "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    for (framing, sent, status) in [
        ("Content-Length: 1000", "{\"jsonrpc\"", 408),
        ("Transfer-Encoding: chunked", "a\r\n{\"jsonrpc\"\r\n", 408),
        ("Content-Length: 104857600", "", 413),
    ] {
        let mut tcp = gw.connect().await;
        let request = format!("{head}{framing}\r\n\r\n{sent}");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let answer = until_closed(&mut tcp).await;
        assert_status(&answer, status);
        assert!(
            has_header(&answer, "connection: close"),
            "{framing}: {answer}"
        );
    }
    assert_eq!(gw.metric(&timed_out("body")).await, 2.0);
    let mut tcp = gw.connect().await;
    let request = post_request(&initialize(), "");
    let (head, body) = request.split_at(request.find("\r\n\r\n").unwrap() + 4);
    tcp.write_all(head.as_bytes()).await.unwrap();
    for piece in body.as_bytes().chunks(body.len() / 5 + 1) {
        sleep(Duration::from_millis(150)).await;
        tcp.write_all(piece).await.unwrap();
    }
    let answer = exchange(&mut tcp, "", Duration::ZERO).await;
    assert!(answer["result"]["protocolVersion"].is_string(), "{answer}");
    assert_eq!(gw.metric(&timed_out("body")).await, 2.0);
    assert_eq!(gw.metric(&timed_out("headers")).await, 0.0);
}

/// Over TLS too, a stalled body gets 408 and an oversized one 413.
#[tokio::test(flavor = "multi_thread")]
async fn tls_stalled_and_oversized_bodies_are_refused() {
    let gw = Gw::start("body_timeout_ms = 500", true).await;
    for (length, status) in [
        ("1000", StatusCode::REQUEST_TIMEOUT),
        ("104857600", StatusCode::PAYLOAD_TOO_LARGE),
    ] {
        let first = bytes::Bytes::from_static(b"{\"jsonrpc\"");
        let first = futures::stream::iter([Ok::<_, std::io::Error>(first)]);
        let stalled = reqwest::Body::wrap_stream(first.chain(futures::stream::pending()));
        let send = gw
            .client()
            .post(&gw.url)
            .header("content-type", "application/json")
            .header("content-length", length)
            .body(stalled)
            .send();
        let r = timeout(CLOSED_WITHIN, send).await.expect("an answer");
        let r = r.expect("a response");
        assert_eq!(r.status(), status, "Content-Length: {length}");
    }
    assert_eq!(gw.metric(&timed_out("body")).await, 1.0);
}

/// After an answer, a keep-alive connection waits for the idle timeout (longer here than the
/// header timeout) — a second request on it is served — and is then closed when silent.
#[tokio::test(flavor = "multi_thread")]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let gw = Gw::start("header_timeout_ms = 400\nidle_timeout_ms = 1500", false).await;
    let mut tcp = gw.connect().await;
    exchange(&mut tcp, &post_request(&initialize(), ""), Duration::ZERO).await;
    sleep(Duration::from_millis(800)).await;
    // Timed from before the request: the server's idle timer starts within that span (once its
    // answer is written), so a busy machine can only lengthen it.
    let asked = Instant::now();
    exchange(&mut tcp, &post_request(&initialize(), ""), Duration::ZERO).await;
    assert_eq!(until_closed(&mut tcp).await, "");
    let lasted = asked.elapsed();
    assert!(lasted >= Duration::from_millis(750), "cut after {lasted:?}");
    assert_eq!(gw.metric(&timed_out("idle")).await, 1.0);
}

/// An answer being written is a request in progress too: a client that stops reading a large
/// answer (once its head came) for longer than the header timeout, but less than the idle
/// timeout, still gets all of it. One that takes nothing for longer than the idle timeout is cut
/// then (`phase="write"`), so an absent reader cannot hold a connection and its answer forever.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_answer_to_a_paused_reader_arrives_whole() {
    let limits = "header_timeout_ms = 300\nidle_timeout_ms = 3000\n\
                  [gateway]\nmax_message_bytes = 33554432";
    let gw = Gw::start(limits, false).await;
    let sid = gw.open_session(&gw.client()).await;
    // Most of the answer waits in Manifold: the kernel's buffers take a few MB.
    let big = 12_000_000;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "alpha__big", "arguments": {"bytes": big}}});
    let request = post_request(&call, &format!("Mcp-Session-Id: {sid}\r\n"));
    let mut tcp = gw.connect().await;
    let body = exchange(&mut tcp, &request, Duration::from_millis(1000)).await;
    let text = body["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(text.len(), big);
    assert_eq!(gw.metric(&timed_out("write")).await, 0.0);

    // Nothing read at all: once the socket is full, the write stalls and, past the idle timeout,
    // the connection is cut with the answer unsent. Nothing is read until Manifold says so.
    let mut tcp = gw.connect().await;
    tcp.write_all(request.as_bytes()).await.unwrap();
    eventually("the stalled write cut", common::RECV_TIMEOUT, async || {
        (gw.metric(&timed_out("write")).await >= 1.0).then_some(())
    })
    .await;
    let got = until_closed(&mut tcp).await;
    assert!(got.len() < big, "{} bytes arrived", got.len());
    assert_eq!(gw.metric(&timed_out("write")).await, 1.0);
}

/// An open GET stream is a request in progress: left open (and read) past the idle and header
/// timeouts, it still carries the `list_changed` that a `toggle` call makes the upstream send.
/// Plain and over TLS.
#[tokio::test(flavor = "multi_thread")]
async fn an_sse_stream_outlives_the_idle_timeout() {
    for tls in [false, true] {
        sse_stream_outlives_the_idle_timeout(tls).await;
    }
}

async fn sse_stream_outlives_the_idle_timeout(tls: bool) {
    let gw = Gw::start("header_timeout_ms = 300\nidle_timeout_ms = 800", tls).await;
    let http = gw.client();
    let sid = gw.open_session(&http).await;
    let mut stream = http
        .get(&gw.url)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .send()
        .await
        .expect("GET stream");
    assert_eq!(stream.status(), StatusCode::OK);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(chunk)) = stream.chunk().await {
            let _ = tx.send(Some(String::from_utf8_lossy(&chunk).into_owned()));
        }
        let _ = tx.send(None);
    });
    sleep(Duration::from_millis(2000)).await;
    while let Ok(chunk) = rx.try_recv() {
        assert!(chunk.is_some(), "the GET stream ended while idle");
    }
    let text = gw.tool(&gw.client(), &sid, "toggle", json!({})).await;
    assert_eq!(text, "toggled on");
    let mut seen = String::new();
    let deadline = Instant::now() + CLOSED_WITHIN;
    while !seen.contains("\"notifications/tools/list_changed\"") {
        let chunk = timeout(deadline - Instant::now(), rx.recv()).await;
        let chunk = chunk.expect("list_changed on the GET stream").flatten();
        seen += &chunk.unwrap_or_else(|| panic!("the GET stream ended: {seen:?}"));
    }
}

/// With `max_connections = 8`: a client's connection and 7 idle ones fill the listener; a 9th
/// is refused (503 on plain HTTP, closed without a handshake over TLS) and counted; the client
/// keeps being served; once the idle ones are closed by the header timeout, a new client is.
#[tokio::test(flavor = "multi_thread")]
async fn connections_past_max_connections_are_refused() {
    for tls in [false, true] {
        connections_past_the_limit_are_refused(tls).await;
    }
}

async fn connections_past_the_limit_are_refused(tls: bool) {
    let limits = "max_connections = 8\nheader_timeout_ms = 1500\nidle_timeout_ms = 10000";
    let gw = Gw::start(limits, tls).await;
    let http = gw.client();
    let (status, _, sid) = gw.post(&http, None, initialize()).await;
    assert_eq!(status, StatusCode::OK);
    let sid = sid.unwrap();
    let mut idle = Vec::new();
    for _ in 0..7 {
        idle.push(gw.connect().await);
    }
    let mut ninth = gw.connect().await;
    let answer = until_closed(&mut ninth).await;
    if tls {
        assert_eq!(answer, "", "a TLS connection past the limit got an answer");
    } else {
        assert!(
            answer.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{answer}"
        );
        assert!(has_header(&answer, "retry-after: 1"), "{answer}");
        assert!(has_header(&answer, "connection: close"), "{answer}");
    }
    assert_eq!(gw.metric(REFUSED).await, 1.0);
    let echoed = gw.tool(&http, &sid, "echo", json!({"text": "held"})).await;
    assert_eq!(echoed, "held");
    for tcp in &mut idle {
        assert_eq!(until_closed(tcp).await, "");
    }
    // The closing side drops its slot just after the close we saw.
    sleep(Duration::from_millis(200)).await;
    gw.served("after").await;
    assert_eq!(gw.metric(REFUSED).await, 1.0);
}

/// A throwaway CA and a certificate for localhost signed by it (as `http_face::lifecycle`):
/// the certificate, key and CA PEM paths.
fn certificate(dir: &Path) -> (String, String, String) {
    let path = |name: &str| dir.join(name).display().to_string();
    let ext = "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    std::fs::write(path("ext.cnf"), ext).unwrap();
    let [ca, ca_key, cert, key, csr] =
        ["ca.pem", "ca.key", "cert.pem", "key.pem", "a.csr"].map(path);
    for args in [
        format!("req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=manifold-test-ca -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -keyout {ca_key} -out {ca}"),
        format!("req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout {key} -out {csr}"),
        format!("x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -days 1 -extfile {} -out {cert}", path("ext.cnf")),
    ] {
        let made = std::process::Command::new("openssl")
            .args(args.split_whitespace())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(made.success(), "openssl {args}");
    }
    (cert, key, ca)
}
