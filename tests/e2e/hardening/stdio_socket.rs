//! The stdio of Node- and Electron-based hosts (Claude Desktop, Claude Code, VS Code, Cursor, the
//! TypeScript SDK's `StdioClientTransport`): UNIX socketpairs, not pipes, as stdin and stdout.
//! Manifold drives them from the reactor like pipes (it says so at debug level) and serves a
//! client on them; a regular file as stdin still works, through the blocking-pool fallback.

use std::os::unix::net::UnixStream;
use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common;

/// `manifold serve --stdio` with stdin and stdout each one end of a socketpair; stderr (the
/// debug log) collected.
#[tokio::test(flavor = "multi_thread")]
async fn socketpair_stdio_is_driven_by_the_reactor_and_serves() {
    let (_dir, path) = common::write_config(&common::testkit_server("a", &["--name", "a"], ""));
    let (ours_in, theirs_in) = UnixStream::pair().unwrap();
    let (ours_out, theirs_out) = UnixStream::pair().unwrap();
    let mut child = tokio::process::Command::new(common::manifold_bin())
        .args(["serve", "--stdio", "--config"])
        .arg(&path)
        .env("RUST_LOG", "manifold=debug,warn")
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs_in)))
        .stdout(Stdio::from(std::os::fd::OwnedFd::from(theirs_out)))
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn manifold");
    let mut stderr = child.stderr.take().expect("stderr");
    ours_in.set_nonblocking(true).unwrap();
    ours_out.set_nonblocking(true).unwrap();
    let mut input = tokio::net::UnixStream::from_std(ours_in).unwrap();
    let mut output = BufReader::new(tokio::net::UnixStream::from_std(ours_out).unwrap()).lines();

    let messages = [
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",
            "capabilities":{},"clientInfo":{"name":"node-like","version":"1"}}}),
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"a__echo","arguments":{"text":"over a socket"}}}),
    ];
    for m in &messages {
        input.write_all(format!("{m}\n").as_bytes()).await.unwrap();
    }
    let mut answers = Vec::new();
    while answers.len() < 2 {
        let line = tokio::time::timeout(common::RECV_TIMEOUT, output.next_line())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("stdout open");
        let v: Value = serde_json::from_str(&line).unwrap();
        if v.get("id").is_some() {
            answers.push(v);
        }
    }
    assert_eq!(
        answers[1]["result"]["content"][0]["text"], "over a socket",
        "{:?}",
        answers
    );
    drop(input);
    let status = tokio::time::timeout(common::RECV_TIMEOUT, child.wait())
        .await
        .expect("exit after end of input")
        .unwrap();
    assert!(status.success());
    let mut log = String::new();
    stderr.read_to_string(&mut log).await.unwrap();
    assert!(
        log.contains("stdin is driven by the reactor") && log.contains("kind=\"socket\""),
        "{log}"
    );
    assert!(log.contains("stdout is driven by the reactor"), "{log}");
}

/// A regular file as stdin takes the fallback, and its requests are still answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_as_stdin_takes_the_fallback() {
    let (dir, path) = common::write_config(&common::testkit_server("a", &["--name", "a"], ""));
    let input = dir.path().join("input.jsonl");
    let lines = [
        json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25",
            "capabilities":{},"clientInfo":{"name":"file","version":"1"}}}),
        json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let out = tokio::process::Command::new(common::manifold_bin())
        .args(["serve", "--stdio", "--config"])
        .arg(&path)
        .env("RUST_LOG", "manifold=debug,warn")
        .stdin(std::fs::File::open(&input).unwrap())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stdin is read through the blocking pool"),
        "{stderr}"
    );
    assert!(stdout.lines().any(|l| l.contains(r#""id":0"#)), "{stdout}");
}
