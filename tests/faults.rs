//! End-to-end fault tests: upstreams that crash, hang, write garbage or huge messages, fail to
//! start, come up late, or speak Streamable HTTP with expiring sessions; client cancellation;
//! and Manifold's own death (`kill -9`, stdin EOF) taking every upstream process with it.
//! Every test runs at least two upstreams and shows the healthy one keeps serving.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use common::{pid_alive, testkit_bin, testkit_server, write_config, Gateway};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::{timeout, Instant};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn text_of(response: &Value) -> String {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("expected a text result, got {response}"))
        .to_string()
}

fn assert_echo(response: &Value, expected: &str) {
    assert!(
        response["result"]["isError"] != json!(true),
        "unexpected tool error: {response}"
    );
    assert_eq!(text_of(response), expected, "{response}");
}

fn error_of(response: &Value) -> &Value {
    let e = &response["error"];
    assert!(e.is_object(), "expected an error response, got {response}");
    e
}

/// A path for a testkit `--record` file inside `dir`.
fn record_path(dir: &tempfile::TempDir, name: &str) -> (PathBuf, String) {
    let p = dir.path().join(format!("{name}.record.jsonl"));
    let s = p.display().to_string();
    (p, s)
}

/// Every JSON line of a record file (HTTP `HEADERS …` and marker lines are skipped).
fn recorded(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (at most 5 s) until the record file holds a message matching `pred`, and returns it.
async fn wait_recorded(path: &Path, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(m) = recorded(path).into_iter().find(|m| pred(m)) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no {what} in {} within 5 s; it holds:\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The upstream id of the recorded `tools/call` of `tool` (the upstream's own name).
async fn upstream_call_id(path: &Path, tool: &str) -> Value {
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

fn is_cancel_of(m: &Value, id: &Value) -> bool {
    m["method"] == "notifications/cancelled" && &m["params"]["requestId"] == id
}

/// Calls a tool; the response must arrive within `limit`.
async fn call_within(gw: &mut Gateway, id: i64, name: &str, args: Value, limit: Duration) -> Value {
    timeout(limit, gw.call_tool(id, name, args))
        .await
        .unwrap_or_else(|_| panic!("no response to tools/call {name} within {limit:?}"))
}

/// Calls `name` (echo) until it answers successfully, at most `limit`. Returns the next free id.
async fn wait_until_answers(gw: &mut Gateway, name: &str, mut id: i64, limit: Duration) -> i64 {
    let deadline = Instant::now() + limit;
    let mut last = Value::Null;
    while Instant::now() < deadline {
        let r = gw.call_tool(id, name, json!({"text": "back"})).await;
        id += 1;
        if r.get("result").is_some() {
            assert_echo(&r, "back");
            return id;
        }
        last = r;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} did not answer again within {limit:?}; last response {last}");
}

/// Indexes in `gw.seen`, from `from` on, of notifications with `method`.
fn seen_notifications(gw: &Gateway, method: &str, from: usize) -> usize {
    gw.seen[from.min(gw.seen.len())..]
        .iter()
        .filter(|m| m["method"] == method && m.get("id").is_none())
        .count()
}

/// Waits (bounded) until at least `count` notifications `method` were seen after index `from`.
async fn wait_notifications(gw: &mut Gateway, method: &str, from: usize, count: usize) {
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

async fn tool_names(gw: &mut Gateway, id: i64) -> Vec<String> {
    let r = gw.request(id, "tools/list", json!({})).await;
    common::names(&r["result"], "tools", "name")
}

/// Pids of every live descendant of `root` (found through /proc's parent links).
fn descendants(root: u32) -> Vec<u32> {
    let mut parents = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.push((pid, ppid));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parents {
            if ppid == p && !found.contains(&pid) {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found.retain(|&p| pid_alive(p));
    found
}

/// Waits (at most 5 s) until none of `pids` is alive.
async fn assert_all_gone(pids: &[u32]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let alive: Vec<u32> = pids.iter().copied().filter(|&p| pid_alive(p)).collect();
        if alive.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "upstream processes still alive 5 s after manifold ended: {alive:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until manifold has started `n` upstream processes and returns their pids.
async fn upstream_pids(gw: &Gateway, n: usize) -> Vec<u32> {
    let manifold = gw.child.id().expect("manifold pid");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pids = descendants(manifold);
        if pids.len() >= n {
            return pids;
        }
        assert!(
            Instant::now() < deadline,
            "manifold (pid {manifold}) has {} upstream processes, expected {n}",
            pids.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

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

// ---------------------------------------------------------------------------------------------
// Crashes
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn crash_mid_call_fails_promptly_others_serve_and_it_comes_back() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let tools = tool_names(&mut gw, 1).await;
    assert!(tools.contains(&"a__crash".to_string()), "{tools:?}");
    let before = gw.seen.len();

    let r = call_within(&mut gw, 2, "a__crash", json!({}), Duration::from_secs(1)).await;
    let e = error_of(&r);
    assert_eq!(e["code"], -32603, "{r}");
    assert_eq!(e["data"]["server"], "a", "{r}");
    assert_eq!(e["data"]["reason"], "failed", "{r}");

    // The other upstream is untouched.
    let r = call_within(
        &mut gw,
        3,
        "b__echo",
        json!({"text": "still here"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "still here");

    // The crashed one is restarted and answers again; its tools are listed again.
    let next = wait_until_answers(&mut gw, "a__echo", 10, Duration::from_secs(10)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if tool_names(&mut gw, next)
            .await
            .contains(&"a__echo".to_string())
        {
            break;
        }
        assert!(Instant::now() < deadline, "a__echo not listed again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Down and up each changed the tool list: two list_changed after the crash.
    wait_notifications(&mut gw, "notifications/tools/list_changed", before, 2).await;
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_n_calls_fails_that_call_only() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a", "--crash-after", "2"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let before = gw.seen.len();

    let r = call_within(
        &mut gw,
        1,
        "a__echo",
        json!({"text": "one"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "one");
    let r = call_within(
        &mut gw,
        2,
        "a__echo",
        json!({"text": "two"}),
        Duration::from_secs(1),
    )
    .await;
    let e = error_of(&r);
    assert_eq!(e["code"], -32603, "{r}");
    assert_eq!(e["data"]["server"], "a", "{r}");

    let r = call_within(
        &mut gw,
        3,
        "b__add",
        json!({"a": 2, "b": 3}),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 5, "{r}");

    // Restarted (a fresh process, so its call counter starts again).
    wait_until_answers(&mut gw, "a__echo", 10, Duration::from_secs(10)).await;
    wait_notifications(&mut gw, "notifications/tools/list_changed", before, 1).await;
    assert!(gw.close().await.success());
}

// ---------------------------------------------------------------------------------------------
// Hangs and cancellation
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn hung_call_times_out_and_is_cancelled_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec_a, rec_a_arg) = record_path(&dir, "a");
    let (_cfg, config) = write_config(&format!(
        "{}{}",
        testkit_server(
            "a",
            &["--name", "a", "--record", &rec_a_arg],
            "timeout_ms = 300"
        ),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let r = call_within(&mut gw, 1, "a__hang", json!({}), Duration::from_secs(5)).await;
    let e = error_of(&r);
    assert_eq!(e["code"], -32603, "{r}");
    assert_eq!(e["data"]["server"], "a", "{r}");
    assert_eq!(e["data"]["reason"], "timeout", "{r}");
    assert_eq!(e["data"]["timeoutMs"], 300, "{r}");

    let upstream_id = upstream_call_id(&rec_a, "hang").await;
    let cancel = wait_recorded(&rec_a, "notifications/cancelled for the hung call", |m| {
        is_cancel_of(m, &upstream_id)
    })
    .await;
    assert_eq!(cancel["params"]["reason"], "timeout", "{cancel}");

    // Both upstreams keep serving.
    let r = call_within(
        &mut gw,
        2,
        "a__echo",
        json!({"text": "a ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "a ok");
    let r = call_within(
        &mut gw,
        3,
        "b__echo",
        json!({"text": "b ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "b ok");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn client_cancellation_reaches_exactly_the_serving_upstream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (rec_a, rec_a_arg) = record_path(&dir, "a");
    let (rec_b, rec_b_arg) = record_path(&dir, "b");
    let (_cfg, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a", "--record", &rec_a_arg], ""),
        testkit_server("b", &["--name", "b", "--record", &rec_b_arg], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    // One hung call on each upstream.
    gw.send(&json!({"jsonrpc": "2.0", "id": 41, "method": "tools/call",
                    "params": {"name": "b__hang", "arguments": {}}}))
        .await;
    gw.send(&json!({"jsonrpc": "2.0", "id": 42, "method": "tools/call",
                    "params": {"name": "a__hang", "arguments": {}}}))
        .await;
    let id_a = upstream_call_id(&rec_a, "hang").await;
    let id_b = upstream_call_id(&rec_b, "hang").await;

    gw.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 42, "reason": "user pressed stop"}}),
    )
    .await;
    wait_recorded(&rec_a, "notifications/cancelled for a's hang", |m| {
        is_cancel_of(m, &id_a)
    })
    .await;

    // No response for 42 (nor 41): the next message answering anything is the ping.
    let r = gw.request(43, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    let r = call_within(
        &mut gw,
        44,
        "b__echo",
        json!({"text": "b ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "b ok");
    let answered: Vec<&Value> = gw
        .seen
        .iter()
        .filter(|m| m["id"] == 42 || m["id"] == 41)
        .collect();
    assert!(
        answered.is_empty(),
        "responses for in-flight/cancelled calls: {answered:?}"
    );
    let cancels_b: Vec<Value> = recorded(&rec_b)
        .into_iter()
        .filter(|m| m["method"] == "notifications/cancelled")
        .collect();
    assert!(
        cancels_b.is_empty(),
        "b got a cancel meant for a: {cancels_b:?}"
    );

    // Cancelling 41 now reaches b with b's own id, and a gets nothing more.
    gw.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                    "params": {"requestId": 41}}),
    )
    .await;
    wait_recorded(&rec_b, "notifications/cancelled for b's hang", |m| {
        is_cancel_of(m, &id_b)
    })
    .await;
    let r = gw.request(45, "ping", json!({})).await;
    assert_eq!(r["result"], json!({}), "{r}");
    assert!(
        !gw.seen.iter().any(|m| m["id"] == 41 || m["id"] == 42),
        "a cancelled request was answered: {:?}",
        gw.seen
    );
    let cancels_a = recorded(&rec_a)
        .into_iter()
        .filter(|m| m["method"] == "notifications/cancelled")
        .count();
    assert_eq!(cancels_a, 1, "a got more than its own cancel");
    assert!(gw.close().await.success());
}

// ---------------------------------------------------------------------------------------------
// Garbage and oversized output
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn garbage_line_is_skipped_and_oversized_result_is_an_error() {
    let (_dir, config) = write_config(&format!(
        "[gateway]\nmax_message_bytes = 1000000\n\n{}{}",
        testkit_server("a", &["--name", "a"], "timeout_ms = 5000"),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;

    let r = call_within(&mut gw, 1, "a__garbage", json!({}), Duration::from_secs(5)).await;
    assert_echo(&r, "ok");

    // A 5 MB result over a 1 MB limit: an error within the server's 5 s timeout.
    let r = call_within(
        &mut gw,
        2,
        "a__big",
        json!({"bytes": 5_000_000}),
        Duration::from_millis(5000),
    )
    .await;
    let e = error_of(&r);
    assert_eq!(e["code"], -32603, "{r}");
    assert_eq!(e["data"]["server"], "a", "{r}");

    // A result under the limit still works, and both upstreams keep serving.
    let r = call_within(
        &mut gw,
        3,
        "a__big",
        json!({"bytes": 1000}),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(text_of(&r).len(), 1000);
    let r = call_within(
        &mut gw,
        4,
        "a__echo",
        json!({"text": "a ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "a ok");
    let r = call_within(
        &mut gw,
        5,
        "b__echo",
        json!({"text": "b ok"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "b ok");
    let r = call_within(&mut gw, 6, "a__garbage", json!({}), Duration::from_secs(5)).await;
    assert_echo(&r, "ok");
    assert!(gw.close().await.success());
}

// ---------------------------------------------------------------------------------------------
// Start-up
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn failing_and_hanging_upstreams_do_not_block_the_others() {
    let (_dir, config) = write_config(&format!(
        "[gateway]\nstartup_wait_ms = 1000\n\n{}{}{}",
        testkit_server("bad", &["--name", "bad", "--fail-start"], ""),
        testkit_server("slow", &["--name", "slow", "--hang-initialize"], ""),
        testkit_server("good", &["--name", "good"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    let init = timeout(Duration::from_secs(5), gw.initialize())
        .await
        .expect("initialize was not answered within 5 s (startup_wait_ms = 1000)");
    assert_eq!(init["serverInfo"]["name"], "manifold", "{init}");

    let tools = tool_names(&mut gw, 1).await;
    assert!(tools.contains(&"good__echo".to_string()), "{tools:?}");
    assert!(
        !tools
            .iter()
            .any(|t| t.starts_with("bad__") || t.starts_with("slow__")),
        "{tools:?}"
    );

    for (id, alias) in [(2, "bad"), (3, "slow")] {
        let name = format!("{alias}__echo");
        let r = call_within(
            &mut gw,
            id,
            &name,
            json!({"text": "x"}),
            Duration::from_secs(5),
        )
        .await;
        let e = error_of(&r);
        assert_eq!(e["code"], -32603, "{r}");
        assert_eq!(e["data"]["server"], alias, "{r}");
        assert_eq!(e["data"]["reason"], "unavailable", "{r}");
    }
    let r = call_within(
        &mut gw,
        4,
        "good__echo",
        json!({"text": "fine"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "fine");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn late_upstream_joins_and_list_changed_is_sent() {
    let (_dir, config) = write_config(&format!(
        "[gateway]\nstartup_wait_ms = 300\n\n{}{}",
        testkit_server("fast", &["--name", "fast"], ""),
        testkit_server("late", &["--name", "late", "--latency-ms", "1500"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    let init = timeout(Duration::from_secs(5), gw.initialize())
        .await
        .expect("initialize waited for the late upstream");
    assert_eq!(init["serverInfo"]["name"], "manifold");

    // Right after initialize the late server (answering after 1.5 s) is not there yet.
    let tools = tool_names(&mut gw, 1).await;
    assert!(tools.contains(&"fast__echo".to_string()), "{tools:?}");
    assert!(!tools.iter().any(|t| t.starts_with("late__")), "{tools:?}");
    let r = call_within(
        &mut gw,
        2,
        "late__echo",
        json!({"text": "x"}),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(error_of(&r)["data"]["server"], "late", "{r}");
    let after_first_list = gw.seen.len();

    // It joins: its tools appear and the client is told.
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut id = 3;
    loop {
        let tools = tool_names(&mut gw, id).await;
        id += 1;
        if tools.contains(&"late__echo".to_string()) {
            assert!(tools.contains(&"fast__echo".to_string()), "{tools:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "late__echo never appeared: {tools:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    wait_notifications(
        &mut gw,
        "notifications/tools/list_changed",
        after_first_list,
        1,
    )
    .await;
    let r = call_within(
        &mut gw,
        id,
        "late__echo",
        json!({"text": "joined"}),
        Duration::from_secs(10),
    )
    .await;
    assert_echo(&r, "joined");
    assert!(gw.close().await.success());
}

// ---------------------------------------------------------------------------------------------
// Manifold's own end
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_manifold_leaves_no_upstream_alive() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let r = call_within(
        &mut gw,
        1,
        "a__echo",
        json!({"text": "up"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "up");
    let pids = upstream_pids(&gw, 2).await;
    assert!(pids.iter().all(|&p| pid_alive(p)));

    // tokio's start_kill sends SIGKILL.
    gw.child.start_kill().expect("SIGKILL manifold");
    let status = timeout(Duration::from_secs(5), gw.child.wait())
        .await
        .expect("manifold did not die")
        .expect("wait");
    assert!(!status.success());
    assert_all_gone(&pids).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_eof_exits_0_and_ends_every_upstream() {
    let (_dir, config) = write_config(&format!(
        "{}{}",
        testkit_server("a", &["--name", "a"], ""),
        testkit_server("b", &["--name", "b"], "")
    ));
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let r = call_within(
        &mut gw,
        1,
        "b__echo",
        json!({"text": "up"}),
        Duration::from_secs(5),
    )
    .await;
    assert_echo(&r, "up");
    // One call still in flight when the client goes away.
    gw.send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": "a__hang", "arguments": {}}}))
        .await;
    let pids = upstream_pids(&gw, 2).await;

    let status = gw.close().await;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_all_gone(&pids).await;
}

// ---------------------------------------------------------------------------------------------
// Streamable HTTP upstreams
// ---------------------------------------------------------------------------------------------

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
