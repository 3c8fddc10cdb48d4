//! Strict `Host`/`Origin`/`Content-Type` parsing on every HTTP face (`/mcp`, legacy `GET /sse`
//! and `POST /messages`), with raw requests so that repeated headers and absolute-form targets
//! can be sent: loose spellings are 403, missing or repeated headers 400, non-JSON bodies 415,
//! and well-formed loopback names still pass.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Child;

use crate::common;

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"origin","version":"1"}}}"#;
const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
const JSON: &str = "Content-Type: application/json";
const ACCEPT: &str = "Accept: application/json, text/event-stream";

/// Host spellings that name no allowed host, or not only one: each gets 403.
const BAD_HOSTS: &[&str] = &[
    "evil.example",
    "[::1].evil.com",
    "[::1]evil",
    "[::1]:",
    "[nonsense]",
    "localhost:evil",
    "localhost:1:2",
    "localhost:",
    "localhost:123456",
    "user@localhost",
    "localhost@evil.com",
    "local host",
    "localhost.",
];

/// Origins that are not `http(s)://` + an allowed authority and nothing else: each gets 403.
const BAD_ORIGINS: &[&str] = &[
    "http://evil.example",
    "http://localhost:1@evil.com",
    "http://[::1]evil.com",
    "http://localhost:evil",
    "http://localhost/path",
    "http://localhost:3000/",
    "ftp://localhost",
    "null",
    "localhost",
    "http://",
];

/// A running `manifold serve` with the testkit as `alpha`.
struct Gw {
    _child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Gw {
    async fn start(extra: &str) -> Gw {
        let server = common::testkit_server("alpha", &["--name", "alpha"], "");
        let (dir, path) =
            common::write_config(&format!("{extra}\n[admin]\nlisten = \"off\"\n{server}"));
        let (child, url, _) = common::serve_http(&path).await;
        let port = url.trim_end_matches("/mcp").rsplit(':').next().unwrap();
        Gw {
            _child: child,
            port: port.parse().unwrap(),
            _dir: dir,
        }
    }

    /// The `Host` header a client connecting to the listener sends.
    fn host(&self) -> String {
        format!("Host: 127.0.0.1:{}", self.port)
    }

    /// Sends `request_line`, `headers` (whole lines) and `body` on a new connection; the status.
    async fn send(&self, request_line: &str, headers: &[&str], body: &str) -> u16 {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let mut request = format!("{request_line} HTTP/1.1\r\n");
        for h in headers {
            request += &format!("{h}\r\n");
        }
        if !request_line.starts_with("GET ") {
            request += &format!("Content-Length: {}\r\n", body.len());
        }
        request += &format!("Connection: close\r\n\r\n{body}");
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut status = String::new();
        let mut reader = BufReader::new(&mut tcp);
        let read = reader.read_line(&mut status);
        tokio::time::timeout(common::RECV_TIMEOUT, read)
            .await
            .unwrap()
            .unwrap();
        let code = status.strip_prefix("HTTP/1.1 ").and_then(|s| s.get(..3));
        code.and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("not a status line: {status:?} for {request:?}"))
    }

    /// `POST /mcp` with an `initialize` body, `headers` and a JSON Content-Type; the status.
    async fn init(&self, headers: &[&str]) -> u16 {
        self.send("POST /mcp", &[headers, &[JSON, ACCEPT]].concat(), INIT)
            .await
    }

    /// `GET /sse` (opening a legacy session) with `headers`; the status.
    async fn sse(&self, headers: &[&str]) -> u16 {
        let accept = ["Accept: text/event-stream"];
        self.send("GET /sse", &[headers, &accept].concat(), "")
            .await
    }

    /// `POST /messages?sessionId=<sid>` of a ping with `headers` (Content-Type included); the status.
    async fn message(&self, sid: &str, headers: &[&str]) -> u16 {
        let target = format!("POST /messages?sessionId={sid}");
        self.send(&target, headers, PING).await
    }

    /// Opens a legacy HTTP+SSE session; its stream (kept open by the caller) and its id.
    async fn legacy_session(&self) -> (TcpStream, String) {
        let mut tcp = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
        let request = format!(
            "GET /sse HTTP/1.1\r\n{}\r\nAccept: text/event-stream\r\n\r\n",
            self.host()
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if let Some(at) = text.find("sessionId=") {
                let id: String = text[at + 10..]
                    .chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect();
                if text[at + 10 + id.len()..].contains('\n') {
                    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
                    return (tcp, id);
                }
            }
            let read = tcp.read(&mut buf);
            let n = tokio::time::timeout(common::RECV_TIMEOUT, read)
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "the legacy stream ended: {text:?}");
            seen.extend_from_slice(&buf[..n]);
        }
    }
}

/// A bad `Host` is 403 on `/mcp`, on `GET /sse` and on `POST /messages` of a live session.
#[tokio::test(flavor = "multi_thread")]
async fn loose_host_spellings_are_forbidden_on_every_face() {
    let gw = Gw::start("").await;
    let (_stream, sid) = gw.legacy_session().await;
    for bad in BAD_HOSTS {
        let host = format!("Host: {bad}");
        assert_eq!(gw.init(&[&host]).await, 403, "POST /mcp {host}");
        assert_eq!(gw.sse(&[&host]).await, 403, "GET /sse {host}");
        assert_eq!(
            gw.message(&sid, &[&host, JSON]).await,
            403,
            "POST /messages {host}"
        );
    }
    // The session itself is fine: a well-formed request on it is accepted.
    assert_eq!(gw.message(&sid, &[&gw.host(), JSON]).await, 202);
}

/// A bad `Origin` is 403 on every face, whatever the (good) `Host`.
#[tokio::test(flavor = "multi_thread")]
async fn loose_origins_are_forbidden_on_every_face() {
    let gw = Gw::start("").await;
    let (_stream, sid) = gw.legacy_session().await;
    let host = gw.host();
    for bad in BAD_ORIGINS {
        let origin = format!("Origin: {bad}");
        assert_eq!(gw.init(&[&host, &origin]).await, 403, "POST /mcp {origin}");
        assert_eq!(gw.sse(&[&host, &origin]).await, 403, "GET /sse {origin}");
        let status = gw.message(&sid, &[&host, &origin, JSON]).await;
        assert_eq!(status, 403, "POST /messages {origin}");
    }
}

/// No `Host`, two `Host` headers (even equal ones) or two `Origin` headers: 400 on every face.
#[tokio::test(flavor = "multi_thread")]
async fn missing_or_repeated_host_and_origin_are_bad_requests() {
    let gw = Gw::start("").await;
    let (_stream, sid) = gw.legacy_session().await;
    let host = gw.host();
    let cases: [&[&str]; 5] = [
        &[],
        &[&host, &host],
        &[&host, "Host: evil.example"],
        &["Host: evil.example", &host],
        &[
            &host,
            "Origin: http://localhost",
            "Origin: http://evil.example",
        ],
    ];
    for headers in cases {
        assert_eq!(gw.init(headers).await, 400, "POST /mcp {headers:?}");
        assert_eq!(gw.sse(headers).await, 400, "GET /sse {headers:?}");
        let with_type = [headers, &[JSON]].concat();
        assert_eq!(
            gw.message(&sid, &with_type).await,
            400,
            "POST /messages {headers:?}"
        );
    }
    let twice = [
        host.as_str(),
        "Origin: http://localhost",
        "Origin: http://localhost",
    ];
    assert_eq!(gw.init(&twice).await, 400, "the same Origin twice");
}

/// An absolute-form target names its host itself: another host is 403 even with a good `Host`;
/// the listener's own address in that form is accepted.
#[tokio::test(flavor = "multi_thread")]
async fn absolute_form_targets_naming_another_host_are_forbidden() {
    let gw = Gw::start("").await;
    let (_stream, sid) = gw.legacy_session().await;
    let both = [JSON, ACCEPT];
    for host in ["Host: 127.0.0.1", &gw.host()] {
        let headers = [&[host][..], &both].concat();
        for target in [
            "http://evil.com/mcp",
            "http://localhost@evil.com/mcp",
            "ftp://127.0.0.1/mcp",
        ] {
            let status = gw.send(&format!("POST {target}"), &headers, INIT).await;
            assert_eq!(status, 403, "POST {target} with {host}");
        }
        let status = gw
            .send(
                "GET http://evil.com/sse",
                &[host, "Accept: text/event-stream"],
                "",
            )
            .await;
        assert_eq!(status, 403, "GET http://evil.com/sse with {host}");
        let target = format!("POST http://evil.com/messages?sessionId={sid}");
        assert_eq!(gw.send(&target, &[host, JSON], PING).await, 403, "{target}");
    }
    let own = format!("POST http://127.0.0.1:{}/mcp", gw.port);
    let host = gw.host();
    let headers = [&[host.as_str()][..], &both].concat();
    assert_eq!(gw.send(&own, &headers, INIT).await, 200, "{own}");
}

/// A POST's `Content-Type` is `application/json` (any case, parameters allowed) exactly once:
/// other types and a missing one are 415, two headers 400 — on `/mcp` and `/messages`.
#[tokio::test(flavor = "multi_thread")]
async fn content_type_must_be_json_exactly_once() {
    let gw = Gw::start("").await;
    let (_stream, sid) = gw.legacy_session().await;
    let host = gw.host();
    let cases: [(&[&str], u16); 9] = [
        (&[JSON], 200),
        (&["Content-Type: application/json; charset=utf-8"], 200),
        (&["Content-Type: Application/JSON"], 200),
        (&["Content-Type: application/jsonx"], 415),
        (&["Content-Type: application/json-patch+json"], 415),
        (&["Content-Type: text/plain"], 415),
        (&["Content-Type: text/plain; x=application/json"], 415),
        (&[], 415),
        (&[JSON, JSON], 400),
    ];
    for (types, expected) in cases {
        let headers = [&[host.as_str(), ACCEPT][..], types].concat();
        let status = gw.send("POST /mcp", &headers, INIT).await;
        assert_eq!(status, expected, "POST /mcp {types:?}");
        let legacy = if expected == 200 { 202 } else { expected };
        let headers = [&[host.as_str()][..], types].concat();
        assert_eq!(
            gw.message(&sid, &headers).await,
            legacy,
            "POST /messages {types:?}"
        );
    }
    let mixed = [host.as_str(), ACCEPT, JSON, "Content-Type: text/plain"];
    assert_eq!(
        gw.send("POST /mcp", &mixed, INIT).await,
        400,
        "two different types"
    );
}

/// Well-formed loopback names, with or without a port, in any case, and loopback origins pass.
#[tokio::test(flavor = "multi_thread")]
async fn well_formed_loopback_hosts_and_origins_are_accepted() {
    let gw = Gw::start("").await;
    let port = gw.port;
    let hosts = [
        format!("Host: localhost:{port}"),
        format!("Host: 127.0.0.1:{port}"),
        format!("Host: [::1]:{port}"),
        format!("Host: LocalHost:{port}"),
        "Host: localhost".to_string(),
    ];
    for host in &hosts {
        assert_eq!(gw.init(&[host]).await, 200, "{host}");
        assert_eq!(gw.sse(&[host]).await, 200, "GET /sse {host}");
    }
    let host = gw.host();
    for origin in [
        "http://localhost:3000",
        "https://127.0.0.1",
        "http://[::1]:8080",
        "http://LOCALHOST",
    ] {
        let origin = format!("Origin: {origin}");
        assert_eq!(gw.init(&[&host, &origin]).await, 200, "{origin}");
    }
}

/// `listen.allowed_hosts` replaces the loopback names: the configured one passes (with a port),
/// a loopback name and a name extending the allowed one do not.
#[tokio::test(flavor = "multi_thread")]
async fn configured_allowed_hosts_replace_the_defaults() {
    let gw = Gw::start("[listen]\nallowed_hosts = [\"mcp.internal\"]").await;
    assert_eq!(gw.init(&["Host: mcp.internal:8443"]).await, 200);
    assert_eq!(gw.init(&["Host: MCP.internal"]).await, 200);
    let origin = "Origin: https://mcp.internal";
    assert_eq!(gw.init(&["Host: mcp.internal", origin]).await, 200);
    for host in [
        "localhost",
        "127.0.0.1",
        "mcp.internal.evil.com",
        "evil.mcp.internal",
    ] {
        assert_eq!(gw.init(&[&format!("Host: {host}")]).await, 403, "{host}");
    }
    let origin = "Origin: http://localhost:3000";
    assert_eq!(gw.init(&["Host: mcp.internal", origin]).await, 403);
}
