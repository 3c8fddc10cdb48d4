//! Tracing spans: every client request runs in an `mcp.request` span (method, server, session,
//! request id), and the call it makes upstream in an `mcp.upstream` span that is its child, so a
//! log line written during the call names both.

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common;

#[tokio::test(flavor = "multi_thread")]
async fn a_call_logs_inside_its_request_span_and_the_upstream_span_under_it() {
    let (_dir, path) = common::write_config(&common::testkit_server("a", &["--name", "a"], ""));
    let mut child = tokio::process::Command::new(common::manifold_bin())
        .args(["serve", "--stdio", "--config"])
        .arg(&path)
        .env(
            "RUST_LOG",
            "warn,manifold_router=info,manifold_upstream=debug",
        )
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn manifold");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let messages = [
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",
            "capabilities":{},"clientInfo":{"name":"spans","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":"call-7","method":"tools/call",
            "params":{"name":"a__echo","arguments":{"text":"traced"}}}),
    ];
    for message in &messages {
        stdin
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
    }
    stdin.flush().await.unwrap();
    loop {
        let line = stdout
            .next_line()
            .await
            .unwrap()
            .expect("an answer to the call");
        let answer: Value = serde_json::from_str(&line).unwrap();
        if answer["id"] == "call-7" {
            assert_eq!(answer["result"]["content"][0]["text"], "traced", "{answer}");
            break;
        }
    }
    drop(stdin);
    assert!(child.wait().await.unwrap().success());
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.unwrap();
    let sent = log
        .lines()
        .find(|l| l.contains("request sent upstream") && l.contains("method=tools/call"))
        .unwrap_or_else(|| panic!("no line for the upstream call in:\n{log}"));
    let request = sent.find("mcp.request{").expect(sent);
    let upstream = sent.find(":mcp.upstream{").expect(sent);
    assert!(
        request < upstream,
        "the upstream span is the request span's child: {sent}"
    );
    let request_fields = &sent[request..upstream];
    for field in [
        "method=tools/call",
        "server=a",
        "session=",
        "request_id=\"call-7\"",
    ] {
        assert!(request_fields.contains(field), "{field} in {sent}");
    }
    assert!(sent[upstream..].contains("server=a"), "{sent}");
}
