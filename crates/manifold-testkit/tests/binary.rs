//! The `manifold-testkit` binary: exit codes, stderr banner, HTTP listening line, --help.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_manifold-testkit");

fn run_stdio(args: &[&str], input: &str) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

#[test]
fn stdio_answers_then_exits_0_on_eof() {
    let out = run_stdio(&["--name", "bin"], &format!("{INIT}\n"));
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.contains(r#""protocolVersion":"2025-06-18""#),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("testkit bin started"));
}

#[test]
fn crash_tool_exits_3_without_answering() {
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"crash"}}"#;
    let mut child = Command::new(BIN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{INIT}\n{call}").unwrap();
    // Keep stdin open: the exit must come from the crash, not from EOF.
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut rest).unwrap();
    assert!(!rest.contains(r#""id":2"#), "{rest}");
}

#[test]
fn fail_start_exits_1() {
    let out = run_stdio(&["--fail-start"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn http_mode_prints_the_listening_line() {
    let mut child = Command::new(BIN)
        .args(["--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap();
    let addr = addr.strip_suffix("/mcp").unwrap();
    assert!(addr.parse::<std::net::SocketAddr>().unwrap().port() > 0);
}

#[test]
fn help_lists_every_flag() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--name",
        "--instructions",
        "--tools",
        "--resources",
        "--prompts",
        "--page-size",
        "--long-names",
        "--tool-prefix",
        "--latency-ms",
        "--crash-after",
        "--hang-initialize",
        "--fail-start",
        "--record",
        "--http",
        "--sse",
        "--session-ttl-requests",
        "--config",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
