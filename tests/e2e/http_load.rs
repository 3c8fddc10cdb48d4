//! Load on the HTTP face: 1,000 concurrent sessions, each initializing and calling a tool on a
//! shared stdio upstream; every answer must be the right one. Manifold's RSS is printed before and
//! after (figures, not assertions; benches/ measures).

use crate::common::{self, http, http::Answer};

use std::sync::Arc;

use serde_json::{json, Value};

const SESSIONS: usize = 1_000;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    sid: Option<&str>,
    body: Value,
) -> (Option<String>, Value) {
    let answer = Answer::send(http::on_session(http::post(http, url, body), sid)).await;
    (answer.session.clone(), answer.json_or_null())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_concurrent_sessions_are_all_answered_correctly() {
    let servers = common::testkit_server("alpha", &["--name", "alpha"], "sharing = \"shared\"");
    let (_dir, config) = common::write_config(&format!("[admin]\nlisten = \"off\"\n{servers}"));
    let (gateway, url, _) = common::serve_http(&config).await;
    let pid = gateway.id().unwrap();
    let before = rss_kib(pid);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let limit = Arc::new(tokio::sync::Semaphore::new(256));
    let mut tasks = Vec::with_capacity(SESSIONS);
    for n in 0..SESSIONS {
        let (http, url, limit) = (http.clone(), url.clone(), limit.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await.unwrap();
            let (sid, init) = post(
                &http,
                &url,
                None,
                json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                           "clientInfo": {"name": format!("load-{n}"), "version": "1"}}}),
            )
            .await;
            assert_eq!(init["result"]["serverInfo"]["name"], "manifold", "{init}");
            let sid = sid.expect("session id");
            post(
                &http,
                &url,
                Some(&sid),
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
            let text = format!("session {n}");
            let (_, r) = post(
                &http,
                &url,
                Some(&sid),
                json!({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                "params": {"name": "alpha__echo", "arguments": {"text": text}}}),
            )
            .await;
            assert_eq!(r["id"], n, "{r}");
            assert_eq!(r["result"]["content"][0]["text"], text, "{r}");
            sid
        }));
    }
    let mut sids = std::collections::HashSet::new();
    for t in tasks {
        sids.insert(t.await.expect("a session task"));
    }
    assert_eq!(sids.len(), SESSIONS, "every session got its own id");
    let after = rss_kib(pid);
    println!(
        "RSS: {before} KiB before, {after} KiB with {SESSIONS} open sessions (~{} B per session)",
        (after.saturating_sub(before) * 1024) / SESSIONS as u64
    );
}
