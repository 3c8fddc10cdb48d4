//! Inbound authentication of the HTTP face (`[auth]`): static and JWT bearer tokens, the 401
//! challenge pointing at the RFC 9728 metadata, sessions bound to their principal (Streamable
//! HTTP and legacy SSE), and the client's token never reaching an upstream or the log.
//!
//! JWT tests are in `jwt`. The RSA keys under `tests/fixtures/auth/` are test-only keys
//! generated for this repository.

use crate::common::http::{self, HttpGateway, SseReader};
use crate::common::{self, eventually};
mod jwt;

use jwt::{jwks_file, jwt_auth};

use std::path::{Path, PathBuf};
use std::process::Stdio;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

const ALICE_ENV: &str = "MANIFOLD_AUTH_TEST_ALICE";
const ALICE: &str = "alice-static-token-0f3b9c1d";
const BOB: &str = "bob-static-token-7a2e5d4c";
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "manifold";
/// The `kid` of `signing.pem` in `jwks.json`.
const KID: &str = "manifold-test-1";
const UPSTREAM_AUTH: &str = "Bearer upstream-secret-0000";

/// `[[auth.tokens]]`: alice's token from `ALICE_ENV`, bob's from `bob.token` beside the config.
const STATIC_TOKENS: &str = "[[auth.tokens]]
principal = \"alice\"
env = \"MANIFOLD_AUTH_TEST_ALICE\"
[[auth.tokens]]
principal = \"bob\"
file = \"bob.token\"
";

fn fixture(name: &str) -> PathBuf {
    common::repo_root().join("tests/fixtures/auth").join(name)
}

/// `manifold serve --listen 127.0.0.1:0` with alice's token in its environment.
fn manifold(config: &Path) -> Command {
    http::serve_command(config, &[(ALICE_ENV, ALICE)])
}

/// Writes the config (and `bob.token` beside it, padded to show it is trimmed) and serves it;
/// returns the child, the MCP URL and the directory guard.
async fn serve(toml: &str) -> (Child, String, tempfile::TempDir) {
    let bob = format!("  {BOB}\n");
    let files = [("bob.token", bob.as_str())];
    let gateway = HttpGateway::start_with(toml, &files, &[(ALICE_ENV, ALICE)]).await;
    (gateway.child, gateway.url, gateway.dir)
}

/// `http://127.0.0.1:PORT` of an MCP URL ending in `/mcp`.
fn origin(url: &str) -> &str {
    url.strip_suffix("/mcp").expect("an MCP URL ends in /mcp")
}

/// A POST of one JSON-RPC message, as `token` on session `sid` when given.
fn post(url: &str, token: Option<&str>, sid: Option<&str>, body: &Value) -> RequestBuilder {
    let mut req = http::post(&reqwest::Client::new(), url, body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(sid) = sid {
        req = req
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", http::VERSION);
    }
    req
}

fn initialize() -> Value {
    http::initialize("auth-e2e")
}

/// `initialize` + `notifications/initialized` as `token`; the session id.
async fn open_session(url: &str, token: &str) -> String {
    http::open_session("auth-e2e", |sid, body| post(url, Some(token), sid, body)).await
}

/// `tools/call up__echo {text}` as `token` on session `sid`: the status, and the echoed text.
async fn echo(url: &str, token: &str, sid: &str, text: &str) -> (StatusCode, Option<String>) {
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "up__echo", "arguments": {"text": text}}});
    let r = post(url, Some(token), Some(sid), &call)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    let echoed = body["result"]["content"][0]["text"]
        .as_str()
        .map(String::from);
    (status, echoed)
}

/// Sends `req` (carrying `token`, if any) and asserts a 401 whose `WWW-Authenticate` points at
/// the metadata of `url`, with `error="invalid_token"` exactly when a token was sent, and that
/// the token is echoed nowhere. Returns the `WWW-Authenticate` value.
async fn assert_refused(req: RequestBuilder, url: &str, token: Option<&str>) -> String {
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let metadata = format!("{}/.well-known/oauth-protected-resource/mcp", origin(url));
    assert!(
        challenge.starts_with(&format!("Bearer resource_metadata=\"{metadata}\"")),
        "{challenge}"
    );
    assert_eq!(
        challenge.contains("error=\"invalid_token\""),
        token.is_some(),
        "{challenge}"
    );
    let body = r.text().await.unwrap();
    if let Some(token) = token {
        assert!(
            !challenge.contains(token) && !body.contains(token),
            "{body}"
        );
    }
    challenge
}

#[tokio::test(flavor = "multi_thread")]
async fn static_tokens_gate_the_endpoint_and_bind_sessions_to_their_principal() {
    let up = common::testkit_server("up", &[], "");
    let (_child, url, _dir) = serve(&format!("{STATIC_TOKENS}\n{up}")).await;

    assert_refused(post(&url, None, None, &initialize()), &url, None).await;
    let wrong = "not-a-configured-token-123456";
    assert_refused(
        post(&url, Some(wrong), None, &initialize()),
        &url,
        Some(wrong),
    )
    .await;
    let basic = post(&url, None, None, &initialize()).basic_auth("alice", Some(ALICE));
    assert_refused(basic, &url, None).await;

    let alice = open_session(&url, ALICE).await;
    let echoed = echo(&url, ALICE, &alice, "hi").await;
    assert_eq!(echoed, (StatusCode::OK, Some("hi".into())));

    // Bob's token is valid, but alice's session is not his: POST, GET and DELETE all get 404.
    assert_eq!(echo(&url, BOB, &alice, "x").await.0, StatusCode::NOT_FOUND);
    let client = reqwest::Client::new();
    let get = client
        .get(&url)
        .bearer_auth(BOB)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &alice);
    assert_eq!(get.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let delete = client
        .delete(&url)
        .bearer_auth(BOB)
        .header("mcp-session-id", &alice);
    assert_eq!(delete.send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Without a token, the session id alone gets nowhere either.
    let call = post(
        &url,
        None,
        Some(&alice),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
    );
    assert_refused(call, &url, None).await;

    let bob = open_session(&url, BOB).await;
    assert_eq!(
        echo(&url, BOB, &bob, "b").await,
        (StatusCode::OK, Some("b".into()))
    );
    assert_eq!(echo(&url, ALICE, &bob, "x").await.0, StatusCode::NOT_FOUND);
    // Alice's session survived bob's attempts.
    assert_eq!(
        echo(&url, ALICE, &alice, "a").await,
        (StatusCode::OK, Some("a".into()))
    );
}

/// GET of `path` on the origin of `url`, without a token: the status and the JSON body.
async fn get_json(url: &str, path: &str) -> (StatusCode, Value) {
    let r = reqwest::get(format!("{}{path}", origin(url)))
        .await
        .unwrap();
    let status = r.status();
    let body = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
    (status, body)
}

const METADATA_PATHS: [&str; 2] = [
    "/.well-known/oauth-protected-resource",
    "/.well-known/oauth-protected-resource/mcp",
];

#[tokio::test(flavor = "multi_thread")]
async fn metadata_is_served_at_both_paths_with_the_configured_fields() {
    let toml = format!(
        "[gateway]\nname = \"auth-gateway\"\n\n[auth]\nresource = \"https://mcp.example/mcp\"\n\
         authorization_servers = [\"https://issuer.example\"]\nscopes = [\"mcp\"]\n{STATIC_TOKENS}"
    );
    let (_child, url, _dir) = serve(&toml).await;
    for path in METADATA_PATHS {
        let (status, doc) = get_json(&url, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            doc,
            json!({
                "resource": "https://mcp.example/mcp",
                "authorization_servers": ["https://issuer.example"],
                "bearer_methods_supported": ["header"],
                "resource_name": "auth-gateway",
                "scopes_supported": ["mcp"],
            }),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_defaults_to_the_request_host_and_the_jwt_issuer() {
    let (_child, url, _dir) = serve(&jwt_auth(&jwks_file())).await;
    for path in METADATA_PATHS {
        let (status, doc) = get_json(&url, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            doc,
            json!({
                "resource": url,
                "authorization_servers": [ISSUER],
                "bearer_methods_supported": ["header"],
                "resource_name": "manifold",
            }),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_auth_requests_are_anonymous_and_there_is_no_metadata() {
    let up = common::testkit_server("up", &[], "");
    let (_child, url, _dir) = serve(&up).await;
    for path in METADATA_PATHS {
        assert_eq!(
            get_json(&url, path).await.0,
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    // Any bearer token is ignored: every client is the same anonymous principal.
    let sid = open_session(&url, "whatever-token").await;
    assert_eq!(
        echo(&url, "another-token", &sid, "o").await,
        (StatusCode::OK, Some("o".into()))
    );
    let r = post(&url, None, None, &initialize()).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_token_reaches_neither_the_upstream_nor_the_log() {
    let work = tempfile::tempdir().unwrap();
    let record = work.path().join("up.record");
    let mut testkit = Command::new(common::testkit_bin());
    testkit
        .args(["--name", "up", "--http", "127.0.0.1:0", "--record"])
        .arg(&record)
        .stdin(Stdio::null());
    let (_upstream, up_url, _) = common::spawn_listening(testkit).await;
    let (_cfg, config) = common::write_config(&format!(
        "{STATIC_TOKENS}\n[servers.up]\nurl = {up_url:?}\n\
         headers = {{ Authorization = {UPSTREAM_AUTH:?} }}\n"
    ));
    std::fs::write(config.with_file_name("bob.token"), BOB).unwrap();
    let log = work.path().join("manifold.log");
    let mut cmd = manifold(&config);
    cmd.env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log).unwrap());
    let (_child, url, _) = common::spawn_listening(cmd).await;

    let wrong = "wrong-client-token-5c8e1f0a";
    assert_refused(
        post(&url, Some(wrong), None, &initialize()),
        &url,
        Some(wrong),
    )
    .await;
    let sid = open_session(&url, ALICE).await;
    let echoed = echo(&url, ALICE, &sid, "via-http").await;
    assert_eq!(echoed, (StatusCode::OK, Some("via-http".into())));

    let recorded = std::fs::read_to_string(&record).unwrap();
    assert!(
        recorded.contains("tools/call") && recorded.contains("via-http"),
        "the call did not reach the recording upstream:\n{recorded}"
    );
    let headers: Vec<Value> = recorded
        .lines()
        .filter_map(|l| l.strip_prefix("HEADERS "))
        .map(|h| serde_json::from_str(h).unwrap())
        .collect();
    assert!(!headers.is_empty(), "{recorded}");
    for h in &headers {
        assert_eq!(h["authorization"], UPSTREAM_AUTH, "{h}");
    }
    assert!(!recorded.contains(ALICE), "{recorded}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.is_empty(), "RUST_LOG=debug wrote nothing");
    assert!(!log.contains(ALICE) && !log.contains(wrong), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_sse_needs_a_token_and_binds_its_session() {
    let up = common::testkit_server("up", &[], "");
    let (_child, url, _dir) = serve(&format!("{STATIC_TOKENS}\n{up}")).await;
    let client = reqwest::Client::new();
    let sse = format!("{}/sse", origin(&url));
    let open = |token: Option<&str>| {
        let req = client.get(&sse).header("accept", "text/event-stream");
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    };
    assert_refused(open(None), &url, None).await;
    let wrong = "not-a-configured-token-123456";
    assert_refused(open(Some(wrong)), &url, Some(wrong)).await;

    let stream = open(Some(ALICE)).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // The stream stays open (and the legacy session with it) to the end of the test.
    let mut events = SseReader::new(stream);
    let endpoint = events.next_event().await.data.trim().to_string();
    assert!(endpoint.starts_with("/messages?sessionId="), "{endpoint}");
    let messages = format!("{}{endpoint}", origin(&url));
    let send = |token: Option<&str>| post(&messages, token, None, &initialize());
    assert_refused(send(None), &url, None).await;
    let r = send(Some(BOB)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = send(Some(ALICE)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::ACCEPTED);
}

/// Bob's token rotated in its file: after SIGHUP the old one is refused and the new one works,
/// with no restart (alice's, from the environment, is untouched).
#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_token_takes_effect_on_sighup() {
    let up = common::testkit_server("up", &[], "");
    let (child, url, dir) = serve(&format!("{STATIC_TOKENS}\n{up}")).await;
    let bob_session = open_session(&url, BOB).await;
    let rotated = "bob-rotated-token-0123456789";
    std::fs::write(dir.path().join("bob.token"), rotated).unwrap();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &child.id().expect("pid").to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    // The reload runs in the background: wait (bounded) for the new token to be accepted.
    eventually(
        "the rotated token accepted",
        common::RECV_TIMEOUT,
        async || {
            let r = post(&url, Some(rotated), None, &initialize())
                .send()
                .await
                .unwrap();
            if r.status() == StatusCode::OK {
                return Some(());
            }
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            None
        },
    )
    .await;
    assert_refused(post(&url, Some(BOB), None, &initialize()), &url, Some(BOB)).await;
    // Bob's session is still his, reached with his new token.
    let (status, echoed) = echo(&url, rotated, &bob_session, "still bob").await;
    assert_eq!(
        (status, echoed.as_deref()),
        (StatusCode::OK, Some("still bob"))
    );
    let alice = open_session(&url, ALICE).await;
    assert_eq!(echo(&url, ALICE, &alice, "a").await.0, StatusCode::OK);
}
