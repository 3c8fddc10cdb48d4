//! Shared helpers for the fault tests: reading responses, testkit `--record` files, bounded
//! calls and waits for answers and notifications.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::{timeout, Instant};

use crate::common::{self, eventually, Gateway};

pub(crate) fn text_of(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a text result, got {response}"))
        .to_string()
}

pub(crate) fn assert_echo(response: &Value, expected: &str) {
    assert!(
        response["result"]["isError"] != json!(true),
        "unexpected tool error: {response}"
    );
    assert_eq!(text_of(response), expected, "{response}");
}

pub(crate) fn error_of(response: &Value) -> &Value {
    let e = &response["error"];
    assert!(e.is_object(), "expected an error response, got {response}");
    e
}

/// A path for a testkit `--record` file inside `dir`.
pub(crate) fn record_path(dir: &tempfile::TempDir, name: &str) -> (PathBuf, String) {
    let p = dir.path().join(format!("{name}.record.jsonl"));
    let s = p.display().to_string();
    (p, s)
}

/// Every JSON line of a record file (HTTP `HEADERS …` and marker lines are skipped).
pub(crate) fn recorded(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (at most 5 s) until the record file holds a message matching `pred`, and returns it.
pub(crate) async fn wait_recorded(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let what = format!("a {what} in {}", path.display());
    eventually(&what, Duration::from_secs(5), async || {
        match recorded(path).into_iter().find(|m| pred(m)) {
            Some(m) => Ok(m),
            None => Err(format!(
                "it holds:\n{}",
                std::fs::read_to_string(path).unwrap_or_default()
            )),
        }
    })
    .await
}

/// The upstream id of the recorded `tools/call` of `tool` (the upstream's own name).
pub(crate) async fn upstream_call_id(path: &Path, tool: &str) -> Value {
    let m = wait_recorded(path, &format!("tools/call of {tool}"), |m| {
        m["method"] == "tools/call" && m["params"]["name"] == tool
    })
    .await;
    assert!(
        m["id"].is_number() || m["id"].is_string(),
        "recorded call has no id: {m}"
    );
    m["id"].clone()
}

pub(crate) fn is_cancel_of(m: &Value, id: &Value) -> bool {
    m["method"] == "notifications/cancelled" && &m["params"]["requestId"] == id
}

/// Calls a tool; the response must arrive within `limit`.
pub(crate) async fn call_within(
    gw: &mut Gateway,
    id: i64,
    name: &str,
    args: Value,
    limit: Duration,
) -> Value {
    timeout(limit, gw.call_tool(id, name, args))
        .await
        .unwrap_or_else(|_| panic!("no response to tools/call {name} within {limit:?}"))
}

/// Calls `name` (echo) until it answers successfully, at most `limit`. Returns the next free id.
pub(crate) async fn wait_until_answers(
    gw: &mut Gateway,
    name: &str,
    mut id: i64,
    limit: Duration,
) -> i64 {
    let what = format!("{name} answering again");
    eventually(&what, limit, async || {
        let r = gw.call_tool(id, name, json!({"text": "back"})).await;
        id += 1;
        if r.get("result").is_some() {
            assert_echo(&r, "back");
            return Ok(id);
        }
        Err(format!("response {r}"))
    })
    .await
}

/// Indexes in `gw.seen`, from `from` on, of notifications with `method`.
fn seen_notifications(gw: &Gateway, method: &str, from: usize) -> usize {
    gw.seen[from.min(gw.seen.len())..]
        .iter()
        .filter(|m| m["method"] == method && m.get("id").is_none())
        .count()
}

/// Waits (bounded) until at least `count` notifications `method` were seen after index `from`.
pub(crate) async fn wait_notifications(gw: &mut Gateway, method: &str, from: usize, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while seen_notifications(gw, method, from) < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match timeout(left, gw.recv()).await {
            Ok(m) => gw.seen.push(m),
            Err(_) => panic!(
                "expected {count} × {method} after message #{from} within 10 s; seen: {:?}",
                &gw.seen[from.min(gw.seen.len())..]
            ),
        }
    }
}

pub(crate) async fn tool_names(gw: &mut Gateway, id: i64) -> Vec<String> {
    let r = gw.request(id, "tools/list", json!({})).await;
    common::names(&r["result"], "tools", "name")
}

/// Checks that both upstreams `a` and `b` still answer an echo (ids `id` and `id + 1`).
pub(crate) async fn assert_both_serve(gw: &mut Gateway, id: i64) {
    for (n, server) in ["a", "b"].into_iter().enumerate() {
        let text = format!("{server} ok");
        let r = call_within(
            gw,
            id + n as i64,
            &format!("{server}__echo"),
            json!({ "text": text }),
            Duration::from_secs(5),
        )
        .await;
        assert_echo(&r, &text);
    }
}
