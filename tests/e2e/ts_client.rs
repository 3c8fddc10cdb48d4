//! The official TypeScript SDK client (`@modelcontextprotocol/sdk`, pinned in tests/npm) over
//! Streamable HTTP through Manifold to stdio upstreams: list, call (with progress and a sampling
//! round trip), read, prompts, and session termination.

use crate::common;

use serde_json::{json, Value};

/// How many progress notifications the SDK reported for a call. The SDK handles notifications a
/// microtask after the responses that arrive with them, so the last progress of a call can be
/// discarded on its side when it arrives in the same read as the response; Manifold's order and
/// completeness are asserted exactly by tests/e2e/progress.rs and tests/e2e/http_face/.
fn progress_seen(call: &Value) -> usize {
    call["progress"].as_array().map_or(0, Vec::len)
}

/// Runs tests/npm/ts_client.mjs against `target` with `plan`; its JSON summary.
pub(crate) async fn run_client(target: &str, plan: &Value) -> Value {
    crate::common::node::run_script(
        "ts_client.mjs",
        target,
        plan,
        std::time::Duration::from_secs(60),
    )
    .await
}

/// Manifold's HTTP face fronting two per-session testkits; returns it and its MCP URL.
async fn gateway() -> (tokio::process::Child, String, tempfile::TempDir) {
    let servers = format!(
        "{}{}",
        common::testkit_server("alpha", &["--name", "alpha"], "sharing = \"per-session\""),
        common::testkit_server("beta", &["--name", "beta"], "sharing = \"per-session\""),
    );
    let (dir, config) = common::write_config(&format!("[admin]\nlisten = \"off\"\n{servers}"));
    let (gateway, url, _) = common::serve_http(&config).await;
    (gateway, url, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_client_through_the_http_face() {
    let (_gateway, url, _dir) = gateway().await;

    let plan = json!({
        "calls": {
            "alpha__add": {"a": 2, "b": 40},
            "beta__sleep": {"ms": 200},
            "alpha__sample": {"prompt": "write a haiku"},
            "beta__fail": {}
        },
        "reads": ["alpha+testkit://alpha/res/2", "beta+testkit://beta/tpl/9"],
        "prompts": {"beta__greet": {"name": "Ada"}}
    });
    let out = run_client(&url, &plan).await;
    assert_eq!(out["server"]["name"], "manifold", "{out}");
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for name in ["alpha__echo", "alpha__sample", "beta__add", "beta__sleep"] {
        assert!(tools.contains(&name), "{name} in {tools:?}");
    }
    let calls = &out["calls"];
    assert_eq!(
        calls["alpha__add"]["result"]["structuredContent"]["sum"], 42,
        "{calls}"
    );
    assert_eq!(
        calls["beta__sleep"]["result"]["content"][0]["text"], "slept 200ms",
        "{calls}"
    );
    let seen = progress_seen(&calls["beta__sleep"]);
    assert!((2..=3).contains(&seen), "progress reached the SDK: {calls}");
    assert_eq!(
        calls["alpha__sample"]["result"]["content"][0]["text"], "sampled by ts",
        "{calls}"
    );
    assert_eq!(calls["beta__fail"]["result"]["isError"], true, "{calls}");
    let reads = &out["reads"];
    assert_eq!(
        reads["alpha+testkit://alpha/res/2"]["contents"][0]["text"], "resource 2 of alpha",
        "{reads}"
    );
    assert_eq!(
        reads["beta+testkit://beta/tpl/9"]["contents"][0]["uri"], "beta+testkit://beta/tpl/9",
        "{reads}"
    );
    assert_eq!(
        out["prompts"]["beta__greet"]["messages"][0]["content"]["text"], "Hello, Ada!",
        "{out}"
    );
    // The SDK terminated its session with DELETE: the id is now unknown.
    let sid = out["sessionId"].as_str().expect("a session id");
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let r = common::http::post(&reqwest::Client::new(), &url, ping)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn typescript_sdk_client_over_legacy_http_sse() {
    let (_gateway, url, _dir) = gateway().await;
    let sse_url = url.replace("/mcp", "/sse");
    let plan = json!({
        "transport": "sse",
        "calls": {"alpha__add": {"a": 1, "b": 2}, "beta__sleep": {"ms": 100}, "alpha__sample": {"prompt": "p"}},
        "reads": ["alpha+testkit://alpha/res/0"],
        "prompts": {"alpha__greet": {"name": "SSE"}}
    });
    let out = run_client(&sse_url, &plan).await;
    assert_eq!(out["server"]["name"], "manifold", "{out}");
    let calls = &out["calls"];
    assert_eq!(
        calls["alpha__add"]["result"]["structuredContent"]["sum"], 3,
        "{calls}"
    );
    let seen = progress_seen(&calls["beta__sleep"]);
    assert!((2..=3).contains(&seen), "{calls}");
    assert_eq!(
        calls["alpha__sample"]["result"]["content"][0]["text"], "sampled by ts",
        "{calls}"
    );
    assert_eq!(
        out["reads"]["alpha+testkit://alpha/res/0"]["contents"][0]["text"],
        "resource 0 of alpha"
    );
    assert_eq!(
        out["prompts"]["alpha__greet"]["messages"][0]["content"]["text"],
        "Hello, SSE!"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_everything_client_features_through_manifold() {
    // The reference server's sampling, elicitation, roots and progress tools, per session.
    let everything = common::repo_root()
        .join("tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let servers = format!(
        "[admin]\nlisten = \"off\"\n[servers.ev]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\nsharing = \"per-session\"\n",
        everything.display().to_string()
    );
    let (_dir, config) = common::write_config(&servers);
    let (_gateway, url, _) = common::serve_http(&config).await;
    let plan = json!({
        "allCapabilities": true,
        "calls": {
            "ev__trigger-sampling-request": {"prompt": "say hi"},
            "ev__trigger-elicitation-request": {},
            "ev__get-roots-list": {},
            "ev__trigger-long-running-operation": {"duration": 1, "steps": 3}
        }
    });
    let out = run_client(&url, &plan).await;
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    for name in [
        "ev__trigger-sampling-request",
        "ev__trigger-elicitation-request",
        "ev__get-roots-list",
    ] {
        assert!(
            tools.contains(&name),
            "the client's capabilities reached the server: {tools:?}"
        );
    }
    let calls = &out["calls"];
    let text = |name: &str| calls[name]["result"]["content"].to_string();
    assert!(
        text("ev__trigger-sampling-request").contains("sampled by ts"),
        "{calls}"
    );
    assert!(
        text("ev__trigger-elicitation-request").contains("ts"),
        "{calls}"
    );
    assert!(
        text("ev__get-roots-list").contains("file:///tmp/ts-root"),
        "{calls}"
    );
    let seen = progress_seen(&calls["ev__trigger-long-running-operation"]);
    assert!((2..=3).contains(&seen), "{calls}");
}
