//! A refused request does not keep a session alive: another principal naming a session (POST,
//! GET stream, DELETE, legacy POST /messages) gets 404 and the session still expires after
//! `listen.session_idle_ms`; so do requests refused for their token, Host/Origin, Content-Type or
//! protocol version; only the owner's own requests keep it open.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::time::{sleep, Instant};

use crate::common::{self, http, http::HttpGateway};

const ALICE: &str = "alice-hardening-token-3c9e1f07";
const BOB: &str = "bob-hardening-token-8d42a6b5";
/// `listen.session_idle_ms`; the sweeper runs every quarter of it.
const IDLE: Duration = Duration::from_millis(600);
/// How long the requests that must not count go on: several idle periods.
const HAMMER: Duration = Duration::from_millis(2000);

/// A running `manifold serve` with static tokens for alice and bob.
struct Gw(HttpGateway);

impl Gw {
    async fn start() -> Gw {
        let toml = format!(
            "[listen]\nsession_idle_ms = {}\n[admin]\nlisten = \"off\"\n\n\
             [[auth.tokens]]\nprincipal = \"alice\"\nenv = \"MANIFOLD_HARDENING_ALICE\"\n\
             [[auth.tokens]]\nprincipal = \"bob\"\nenv = \"MANIFOLD_HARDENING_BOB\"\n\n{}",
            IDLE.as_millis(),
            common::testkit_server("alpha", &["--name", "alpha"], "")
        );
        let env = [
            ("MANIFOLD_HARDENING_ALICE", ALICE),
            ("MANIFOLD_HARDENING_BOB", BOB),
        ];
        Gw(HttpGateway::start_with(&toml, &[], &env).await)
    }

    /// `method` on the MCP endpoint naming session `sid`, as `token` when given.
    fn request(&self, method: Method, token: Option<&str>, sid: &str) -> RequestBuilder {
        let mut req = self
            .0
            .http
            .request(method, &self.0.url)
            .header("mcp-session-id", sid);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req
    }

    /// A JSON-RPC `ping` POST naming `sid`, with this Content-Type and MCP-Protocol-Version.
    fn post(
        &self,
        token: Option<&str>,
        sid: &str,
        content_type: &str,
        version: &str,
    ) -> RequestBuilder {
        self.request(Method::POST, token, sid)
            .header("content-type", content_type)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", version)
            .body(json!({"jsonrpc": "2.0", "id": 7, "method": "ping"}).to_string())
    }

    /// A well-formed JSON-RPC `ping` POST naming `sid`.
    fn ping(&self, token: Option<&str>, sid: &str) -> RequestBuilder {
        self.post(token, sid, "application/json", "2025-11-25")
    }

    /// `initialize` + `notifications/initialized` as `token`; the session id.
    async fn open_session(&self, token: &str) -> String {
        let post = |sid: Option<&str>, body: &Value| match sid {
            None => self.0.post(body).bearer_auth(token),
            Some(sid) => self.ping(Some(token), sid).body(body.to_string()),
        };
        http::open_session("hardening-sessions", post).await
    }

    /// The owner pings its session; the status (200 while it lives, 404 once it expired).
    async fn owner_ping(&self, sid: &str) -> StatusCode {
        status(self.ping(Some(ALICE), sid)).await
    }

    /// One round of bob's requests naming alice's session: 404 for each (and 400 for a body
    /// that is not JSON, as on no session at all).
    async fn bob_round(&self, sid: &str) {
        let stream = self
            .request(Method::GET, Some(BOB), sid)
            .header("accept", "text/event-stream");
        let endpoint = (self.0.url).replace("/mcp", &format!("/messages?sessionId={sid}"));
        let ping = json!({"jsonrpc": "2.0", "id": 8, "method": "ping"});
        let legacy = http::post_legacy(&self.0.http, &endpoint, ping).bearer_auth(BOB);
        let not_found = StatusCode::NOT_FOUND;
        for (what, req, expected) in [
            ("POST ping", self.ping(Some(BOB), sid), not_found),
            ("GET stream", stream, not_found),
            (
                "DELETE",
                self.request(Method::DELETE, Some(BOB), sid),
                not_found,
            ),
            ("POST /messages", legacy, not_found),
            (
                "not JSON",
                self.ping(Some(BOB), sid).body("{oops"),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            assert_eq!(status(req).await, expected, "bob's {what}");
        }
    }

    /// One round of requests naming alice's session that are refused before it is looked up:
    /// no token or a wrong one (401), alice's token with a foreign Origin or Host (403), with a
    /// text body (415) or an unsupported protocol version (400).
    async fn refused_round(&self, sid: &str) {
        let wrong = "not-a-token-of-anyone-0000";
        for (what, req, expected) in [
            ("no token", self.ping(None, sid), StatusCode::UNAUTHORIZED),
            (
                "a wrong token",
                self.ping(Some(wrong), sid),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "a foreign Origin",
                self.ping(Some(ALICE), sid)
                    .header("origin", "http://evil.example"),
                StatusCode::FORBIDDEN,
            ),
            (
                "a foreign Host",
                self.ping(Some(ALICE), sid).header("host", "evil.example"),
                StatusCode::FORBIDDEN,
            ),
            (
                "a text body",
                self.post(Some(ALICE), sid, "text/plain", "2025-11-25"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            (
                "an unsupported protocol version",
                self.post(Some(ALICE), sid, "application/json", "1999-01-01"),
                StatusCode::BAD_REQUEST,
            ),
            (
                "a GET stream without a token",
                self.request(Method::GET, None, sid)
                    .header("accept", "text/event-stream"),
                StatusCode::UNAUTHORIZED,
            ),
            (
                "the owner's malformed JSON",
                self.ping(Some(ALICE), sid).body("{not json"),
                StatusCode::BAD_REQUEST,
            ),
            (
                "the owner's message with a repeated key",
                self.ping(Some(ALICE), sid)
                    .body(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}"#),
                StatusCode::BAD_REQUEST,
            ),
        ] {
            assert_eq!(status(req).await, expected, "{what}");
        }
    }
}

/// Sends `req`; its status (the body, an SSE stream on success of a GET, is dropped).
async fn status(req: RequestBuilder) -> StatusCode {
    let r = tokio::time::timeout(common::RECV_TIMEOUT, req.send()).await;
    r.expect("an answer").expect("a response").status()
}

/// Runs `round` every 100 ms for `duration`.
async fn every_100ms<F: std::future::Future<Output = ()>>(
    duration: Duration,
    mut round: impl FnMut() -> F,
) {
    let deadline = Instant::now() + duration;
    while Instant::now() < deadline {
        round().await;
        sleep(Duration::from_millis(100)).await;
    }
}

/// Bob's 404s naming alice's session neither end it (alice is still served after a short burst
/// of them) nor keep it alive (after a long one, well past the idle time, it has expired).
#[tokio::test(flavor = "multi_thread")]
async fn another_principals_requests_neither_end_nor_keep_a_session() {
    let gw = Gw::start().await;
    let sid = gw.open_session(ALICE).await;
    every_100ms(Duration::from_millis(300), || gw.bob_round(&sid)).await;
    assert_eq!(
        gw.owner_ping(&sid).await,
        StatusCode::OK,
        "bob's requests ended the session"
    );
    let last_own = Instant::now();
    every_100ms(HAMMER, || gw.bob_round(&sid)).await;
    assert!(last_own.elapsed() > IDLE * 3);
    assert_eq!(
        gw.owner_ping(&sid).await,
        StatusCode::NOT_FOUND,
        "bob's refused requests kept alice's session alive"
    );
}

/// Requests refused for their token or their Host/Origin do not keep a session alive either.
#[tokio::test(flavor = "multi_thread")]
async fn requests_refused_before_the_session_do_not_keep_it_alive() {
    let gw = Gw::start().await;
    let sid = gw.open_session(ALICE).await;
    every_100ms(Duration::from_millis(300), || gw.refused_round(&sid)).await;
    assert_eq!(gw.owner_ping(&sid).await, StatusCode::OK);
    let last_own = Instant::now();
    every_100ms(HAMMER, || gw.refused_round(&sid)).await;
    assert!(last_own.elapsed() > IDLE * 3);
    assert_eq!(
        gw.owner_ping(&sid).await,
        StatusCode::NOT_FOUND,
        "refused requests kept the session alive"
    );
}

/// The control: the owner's own requests (pings, GET streams) every 100 ms keep the session open
/// well past the idle time, with bob's 404s in between; left alone, it then expires.
#[tokio::test(flavor = "multi_thread")]
async fn the_owners_own_requests_keep_its_session_alive() {
    let gw = Gw::start().await;
    let sid = gw.open_session(ALICE).await;
    let started = Instant::now();
    every_100ms(HAMMER, || async {
        assert_eq!(
            gw.owner_ping(&sid).await,
            StatusCode::OK,
            "after {:?}",
            started.elapsed()
        );
        let stream = gw
            .request(Method::GET, Some(ALICE), &sid)
            .header("accept", "text/event-stream");
        assert_eq!(status(stream).await, StatusCode::OK);
        gw.bob_round(&sid).await;
    })
    .await;
    assert!(started.elapsed() > IDLE * 3);
    assert_eq!(gw.owner_ping(&sid).await, StatusCode::OK);
    sleep(IDLE * 3).await;
    assert_eq!(gw.owner_ping(&sid).await, StatusCode::NOT_FOUND);
}
