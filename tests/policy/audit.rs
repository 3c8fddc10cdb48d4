//! The audit log: one JSON line per tool call (unknown names included) with who, where, what
//! (secrets redacted, or a digest), how it ended, how long it took and how big the answer was.

use serde_json::{json, Value};

use crate::{server, stdio};

/// The audit file's lines once it holds `n` of them.
async fn lines(path: &std::path::Path, n: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + crate::common::RECV_TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
            .collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(tokio::time::Instant::now() < deadline, "{lines:?}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_line_per_call_with_secrets_redacted() {
    let toml = format!(
        "[audit]\nfile = \"audit.jsonl\"\nredact = [\"token\", \"note\"]\n{}",
        server("a", &[], "")
    );
    let (mut gateway, dir, _path) = stdio(&toml).await;
    let args = json!({"text": "hello", "api_token": "s3cret-value", "meta": {"note": "private", "keep": 1}});
    let r = gateway.call_tool(2, "a__echo", args).await;
    assert_eq!(crate::text(&r), "hello");
    let r = gateway.call_tool(3, "a__fail", json!({})).await;
    assert_eq!(r["result"]["isError"], true);
    let r = gateway.call_tool(4, "a__add", json!({"a": "x"})).await;
    assert_eq!(r["result"]["isError"], true);
    let r = gateway
        .call_tool(5, "zz__probe", json!({"token": "s3cret-value"}))
        .await;
    assert_eq!(r["error"]["code"], -32602);

    let path = dir.path().join("audit.jsonl");
    let lines = lines(&path, 4).await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    let first = &lines[0];
    for field in [
        "time",
        "principal",
        "session",
        "server",
        "tool",
        "outcome",
        "durationMs",
        "resultBytes",
    ] {
        assert!(first.get(field).is_some(), "{field} missing in {first}");
    }
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    assert_eq!(first["principal"], "local");
    assert_eq!(first["server"], "a");
    assert_eq!(first["tool"], "a__echo");
    assert_eq!(first["outcome"], "ok");
    assert!(first["resultBytes"].as_u64().unwrap() > 0);
    assert_eq!(first["arguments"]["text"], "hello");
    assert_eq!(first["arguments"]["api_token"], "[redacted]");
    assert_eq!(first["arguments"]["meta"]["note"], "[redacted]");
    assert_eq!(first["arguments"]["meta"]["keep"], 1);
    assert_eq!(lines[1]["outcome"], "tool_error");
    // Refused by validation: audited too.
    assert_eq!(lines[2]["tool"], "a__add");
    assert_eq!(lines[2]["outcome"], "tool_error");
    // A name no upstream serves: on the record too, with no server.
    assert_eq!(lines[3]["tool"], "zz__probe");
    assert_eq!(lines[3]["server"], serde_json::Value::Null);
    assert_eq!(lines[3]["outcome"], "error");
    assert_eq!(lines[3]["errorCode"], -32602);
    assert_eq!(lines[3]["arguments"]["token"], "[redacted]");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("s3cret-value") && !text.contains("private"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_mode_records_no_arguments() {
    let toml = format!(
        "[audit]\nfile = \"audit.jsonl\"\narguments = \"digest\"\nresults = \"digest\"\n{}",
        server("a", &[], "")
    );
    let (mut gateway, dir, _path) = stdio(&toml).await;
    gateway
        .call_tool(2, "a__echo", json!({"text": "top secret"}))
        .await;
    let lines = lines(&dir.path().join("audit.jsonl"), 1).await;
    let digest = lines[0]["argumentsDigest"].as_str().expect("a digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 7 + 64,
        "{digest}"
    );
    assert!(lines[0].get("arguments").is_none());
    let digest = lines[0]["resultDigest"].as_str().expect("a result digest");
    assert!(
        digest.starts_with("sha256:") && digest.len() == 7 + 64,
        "{digest}"
    );
    assert!(lines[0].get("result").is_none());
    assert!(!lines[0].to_string().contains("top secret"));
}
