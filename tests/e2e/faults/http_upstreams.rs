//! Streamable HTTP upstreams (a testkit with `--http`) next to a stdio one: JSON and SSE
//! responses, and session expiry handled transparently by re-initializing.

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::timeout;

use super::support::{assert_echo, call_within, record_path, recorded, tool_names};
use crate::common::{testkit_bin, testkit_server, write_config, Gateway};

/// A testkit serving Streamable HTTP on an ephemeral port; returns the child and its URL.
async fn http_testkit(args: &[&str]) -> (Child, String) {
    let mut child = Command::new(testkit_bin())
        .args(["--http", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn testkit --http");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let url = timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.expect("read testkit stdout") {
            if let Some(url) = line.trim().strip_prefix("listening on ") {
                return url.to_string();
            }
        }
        panic!("testkit --http exited without printing `listening on`");
    })
    .await
    .expect("testkit --http did not print its URL within 10 s");
    // Keep draining its stdout so later output never hits a closed pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"),
        "{url}"
    );
    (child, url)
}

/// Lists and calls through Manifold to an HTTP testkit `h` next to a stdio testkit `s`.
async fn http_upstream_roundtrip(extra: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec, rec_arg) = record_path(&dir, "h");
    let mut args = vec!["--name", "h", "--record", &rec_arg];
    args.extend_from_slice(extra);
    let (_server, url) = http_testkit(&args).await;
    let (_cfg, config) = write_config(&format!(
        "[servers.h]\nurl = {url:?}\n\n{}",
        testkit_server("s", &["--name", "s"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let tools = tool_names(&mut gw, 1).await;
    for t in ["h__echo", "h__add", "s__echo"] {
        assert!(tools.contains(&t.to_string()), "{t} missing from {tools:?}");
    }
    let r = call_within(
        &mut gw,
        2,
        "h__echo",
        json!({"text": "over http"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "over http");
    let r = call_within(
        &mut gw,
        3,
        "h__add",
        json!({"a": 40, "b": 2}),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 42, "{r}");
    let r = call_within(
        &mut gw,
        4,
        "s__echo",
        json!({"text": "over stdio"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "over stdio");
    let r = gw
        .request(5, "resources/read", json!({"uri": "h+testkit://h/res/0"}))
        .await;
    assert_eq!(
        r["result"]["contents"][0]["uri"], "h+testkit://h/res/0",
        "{r}"
    );
    assert!(gw.close().await.success());
    let calls = recorded(&rec)
        .into_iter()
        .filter(|m| m["method"] == "tools/call")
        .count();
    assert_eq!(
        calls, 2,
        "the HTTP server should have seen exactly the two calls"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http_upstream_json_responses() {
    http_upstream_roundtrip(&[]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_upstream_sse_responses() {
    http_upstream_roundtrip(&["--sse"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn http_upstream_session_expiry_is_transparent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec, rec_arg) = record_path(&dir, "h");
    let (_server, url) = http_testkit(&[
        "--name",
        "h",
        "--record",
        &rec_arg,
        "--session-ttl-requests",
        "3",
    ])
    .await;
    let (_cfg, config) = write_config(&format!(
        "[servers.h]\nurl = {url:?}\n\n{}",
        testkit_server("s", &["--name", "s"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let tools = tool_names(&mut gw, 1).await;
    assert!(tools.contains(&"h__echo".to_string()), "{tools:?}");

    for i in 0..12 {
        let text = format!("call {i}");
        let r = call_within(
            &mut gw,
            10 + i,
            "h__echo",
            json!({"text": text}),
            Duration::from_secs(10),
        )
        .await;
        assert_echo(&r, &text);
    }
    let r = call_within(
        &mut gw,
        50,
        "s__echo",
        json!({"text": "stdio"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "stdio");

    let inits = recorded(&rec)
        .into_iter()
        .filter(|m| m["method"] == "initialize")
        .count();
    assert!(
        inits > 1,
        "12 calls with a 3-request session TTL should have needed re-initialization; initialize seen {inits}×"
    );
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_calls_survive_a_session_expiry() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec, rec_arg) = record_path(&dir, "h");
    let (_server, url) = http_testkit(&[
        "--name",
        "h",
        "--record",
        &rec_arg,
        "--session-ttl-requests",
        "5",
    ])
    .await;
    let (_cfg, config) = write_config(&format!("[servers.h]\nurl = {url:?}\n"));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    // 20 calls in flight at once: the session expires in the middle of them.
    for i in 0..20 {
        gw.send(
            &json!({"jsonrpc": "2.0", "id": 100 + i, "method": "tools/call",
                        "params": {"name": "h__echo", "arguments": {"text": format!("c{i}")}}}),
        )
        .await;
    }
    // Answers come in any order: collect them by id.
    let mut answers = std::collections::HashMap::new();
    while answers.len() < 20 {
        let m = tokio::time::timeout(Duration::from_secs(10), gw.recv())
            .await
            .expect("every call answered");
        if let Some(id) = m["id"].as_i64() {
            assert!(answers.insert(id, m).is_none(), "two answers for one id");
        }
    }
    for i in 0..20 {
        assert_echo(&answers[&(100 + i)], &format!("c{i}"));
    }
    let inits = recorded(&rec)
        .into_iter()
        .filter(|m| m["method"] == "initialize")
        .count();
    assert!(inits > 1, "the session never expired ({inits} initialize)");
    assert!(gw.close().await.success());
}
