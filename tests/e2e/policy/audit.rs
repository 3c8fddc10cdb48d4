//! The audit log: one JSON line per tool call (unknown names included) with who, where, what
//! (secrets redacted, or a digest), how it ended, how long it took, how big the answer was and
//! what it was (redacted and cut, or a digest).

use serde_json::json;

use super::{server, stdio};
use crate::common::audit_lines;

#[tokio::test(flavor = "multi_thread")]
async fn one_line_per_call_with_secrets_redacted() {
    let toml = format!(
        "[audit]\nfile = \"audit.jsonl\"\nredact = [\"token\", \"note\"]\n{}",
        server("a", &[], "")
    );
    let (mut gateway, dir, _path) = stdio(&toml).await;
    let args = json!({"text": "hello", "api_token": "s3cret-value", "meta": {"note": "private", "keep": 1}});
    let r = gateway.call_tool(2, "a__echo", args).await;
    assert_eq!(super::text(&r), "hello");
    let r = gateway.call_tool(3, "a__fail", json!({})).await;
    assert_eq!(r["result"]["isError"], true);
    let r = gateway.call_tool(4, "a__add", json!({"a": "x"})).await;
    assert_eq!(r["result"]["isError"], true);
    let r = gateway
        .call_tool(5, "zz__probe", json!({"token": "s3cret-value"}))
        .await;
    assert_eq!(r["error"]["code"], -32602);

    let path = dir.path().join("audit.jsonl");
    let lines = audit_lines(&path, 4).await;
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
    let lines = audit_lines(&dir.path().join("audit.jsonl"), 1).await;
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

/// What a tool answered is on the record: `content`, `structuredContent` and `isError`, with the
/// same redaction as arguments and numbers as the upstream wrote them, cut at
/// `audit.result_max_bytes` with a marker and the full size.
#[tokio::test(flavor = "multi_thread")]
async fn results_are_recorded_redacted_and_cut() {
    let toml = format!(
        "[audit]\nfile = \"audit.jsonl\"\nresult_max_bytes = 256\n{}",
        server("a", &["--raw"], "")
    );
    let (mut gateway, dir, _path) = stdio(&toml).await;
    let result = r#"{"content":[{"type":"text","text":"ok"}],"structuredContent":{"password":"p4ss-word","n":12345678901234567890123,"keep":2.50},"_meta":{"skip":1}}"#;
    gateway
        .call_tool(2, "a__raw", json!({ "result": result }))
        .await;
    let failed = r#"{"content":[{"type":"text","text":"it broke"}],"isError":true}"#;
    gateway
        .call_tool(3, "a__raw", json!({ "result": failed }))
        .await;
    let r = gateway
        .call_tool(4, "a__big", json!({ "bytes": 5000 }))
        .await;
    assert_eq!(super::text(&r).len(), 5000);
    let path = dir.path().join("audit.jsonl");
    let lines = audit_lines(&path, 3).await;
    let recorded = &lines[0]["result"];
    assert_eq!(recorded["content"][0]["text"], "ok", "{recorded}");
    assert_eq!(
        recorded["structuredContent"]["password"], "[redacted]",
        "{recorded}"
    );
    assert!(recorded.get("_meta").is_none(), "{recorded}");
    let text = std::fs::read_to_string(&path).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.contains(r#""n":12345678901234567890123,"keep":2.50"#),
        "{first}"
    );
    // (The raw tool's own argument holds the result as a string; the recorded result does not
    // hold the secret.)
    assert!(!recorded.to_string().contains("p4ss-word"), "{recorded}");
    assert_eq!(lines[1]["outcome"], "tool_error");
    assert_eq!(lines[1]["result"]["isError"], true);
    assert_eq!(lines[1]["result"]["content"][0]["text"], "it broke");
    // Past result_max_bytes: the first 256 bytes, a marker and the size of the whole record.
    let cut = lines[2]["result"]
        .as_str()
        .expect("a cut result is a string");
    assert!(
        cut.starts_with(r#"{"content":[{"type":"text","text":"xxx"#),
        "{cut}"
    );
    assert!(
        cut.ends_with(" bytes]") && cut.contains("[truncated by Manifold: 256 of 50"),
        "{cut}"
    );
    assert_eq!(
        lines[2]["resultBytes"],
        5000 + r#"{"content":[{"type":"text","text":""}]}"#.len()
    );
}

/// `results = "digest"` records a SHA-256 of the result instead; `"none"` only its size.
#[tokio::test(flavor = "multi_thread")]
async fn results_as_a_digest_or_not_at_all() {
    for (mode, digested) in [("digest", true), ("none", false)] {
        let toml = format!(
            "[audit]\nfile = \"audit.jsonl\"\nresults = \"{mode}\"\n{}",
            server("a", &[], "")
        );
        let (mut gateway, dir, _path) = stdio(&toml).await;
        for (id, text) in [(2, "same"), (3, "same"), (4, "other")] {
            gateway
                .call_tool(id, "a__echo", json!({ "text": text }))
                .await;
        }
        let lines = audit_lines(&dir.path().join("audit.jsonl"), 3).await;
        for line in &lines {
            assert!(line.get("result").is_none(), "{line}");
            assert!(line["resultBytes"].as_u64().is_some(), "{line}");
            assert_eq!(line.get("resultDigest").is_some(), digested, "{line}");
        }
        if digested {
            let digest = |i: usize| lines[i]["resultDigest"].as_str().unwrap().to_string();
            assert!(digest(0).starts_with("sha256:") && digest(0).len() == 7 + 64);
            assert_eq!(digest(0), digest(1));
            assert_ne!(digest(0), digest(2));
        }
    }
}
