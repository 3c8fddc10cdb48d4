//! The bridge from a legacy upstream to a modern client (MRTR): `server-everything` (legacy, npm)
//! asks for sampling and elicitation while serving a call of the official TypeScript v2 client
//! (2026-07-28 pinned); Manifold parks the call and answers `input_required` with a sealed
//! `requestState`, the SDK runs its handlers and retries, and the call completes with what they
//! returned. Raw-wire tests cover a tampered `requestState` and a client that did not declare the
//! capability the upstream needs (`-32021`).

use serde_json::{json, Value};

use super::with_meta;
use crate::common::{self, Gateway};
use crate::reference_servers::node_server;

/// Runs tests/npm/ts_modern_mrtr.mjs against `target` with `plan`; its JSON summary.
async fn run_client(target: &str, plan: &Value) -> Value {
    crate::common::node::run_script(
        "ts_modern_mrtr.mjs",
        target,
        plan,
        std::time::Duration::from_secs(90),
    )
    .await
}

fn everything() -> (tempfile::TempDir, std::path::PathBuf) {
    common::write_config(&format!(
        "[admin]\nlisten = \"off\"\n{}",
        node_server(
            "everything",
            "server-everything",
            &["stdio"],
            "namespace = \"ev\""
        ),
    ))
}

fn text_of(call: &Value) -> String {
    call["result"]["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn sampling_and_elicitation_reach_a_modern_client_as_input_requests() {
    let (_dir, config) = everything();
    let plan = json!({
        "command": common::manifold_bin(),
        "args": ["serve", "--stdio", "--config", config],
        "calls": {
            "ev__trigger-sampling-request": {"prompt": "hello", "maxTokens": 10},
            "ev__trigger-elicitation-request": {},
        },
    });
    let out = run_client("stdio", &plan).await;
    assert_eq!(out["era"], "modern", "{out}");
    let sampled = &out["calls"]["ev__trigger-sampling-request"];
    assert!(
        text_of(sampled).contains("sampled through MRTR"),
        "the upstream got the client's sampling answer: {out}"
    );
    let elicited = &out["calls"]["ev__trigger-elicitation-request"];
    assert!(text_of(elicited).contains("Ada"), "{out}");
    assert_eq!(
        out["handled"],
        json!({"sampling": 1, "elicitation": 1}),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tampered_state_is_refused_and_a_missing_capability_is_32021() {
    let (_dir, config) = everything();
    let mut gw = Gateway::spawn(&config);
    gw.modern = true;
    // The first request declares sampling: the upstream is initialized offering it.
    let mut sampling = with_meta("raw", json!({}));
    sampling["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"sampling": {}});
    let listed = gw.request(1, "tools/list", sampling.clone()).await;
    let names = common::names(&listed["result"], "tools", "name");
    assert!(
        names.contains(&"ev__trigger-sampling-request".to_string()),
        "{names:?}"
    );
    let mut call = sampling.clone();
    call["name"] = json!("ev__trigger-sampling-request");
    call["arguments"] = json!({"prompt": "hi", "maxTokens": 5});
    let asked = gw.request(2, "tools/call", call.clone()).await;
    let result = &asked["result"];
    assert_eq!(result["resultType"], "input_required", "{asked}");
    let (key, request) = result["inputRequests"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one input request");
    assert_eq!(request["method"], "sampling/createMessage", "{asked}");
    let state = result["requestState"].as_str().unwrap().to_string();
    // A state changed by one character does not open.
    let mut tampered = state.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let mut retry = call.clone();
    retry["requestState"] = json!(String::from_utf8(tampered).unwrap());
    retry["inputResponses"] = json!({ key.clone(): {"role": "assistant",
        "content": {"type": "text", "text": "x"}, "model": "m"} });
    let refused = gw.request(3, "tools/call", retry.clone()).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    // The real state, answered, completes the call.
    retry["requestState"] = json!(state);
    retry["inputResponses"] = json!({ key.clone(): {"role": "assistant",
        "content": {"type": "text", "text": "raw answer"}, "model": "m"} });
    let done = gw.request(4, "tools/call", retry.clone()).await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    assert!(
        done["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("raw answer"),
        "{done}"
    );
    // A state is good for one retry.
    let again = gw.request(5, "tools/call", retry).await;
    assert_eq!(again["error"]["code"], -32602, "{again}");
    // A request that does not declare sampling, for a tool that needs it: -32021.
    let mut bare = with_meta(
        "raw",
        json!({"name": "ev__trigger-sampling-request",
                                           "arguments": {"prompt": "hi", "maxTokens": 5}}),
    );
    bare["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({});
    let missing = gw.request(6, "tools/call", bare).await;
    assert_eq!(missing["error"]["code"], -32021, "{missing}");
    assert_eq!(
        missing["error"]["data"]["requiredCapabilities"],
        json!({"sampling": {}}),
        "{missing}"
    );
}

/// A `roots/list` a legacy upstream sends during the call of a modern client that declared no
/// roots is refused upstream, and the call goes on (servers ask for roots of their own accord);
/// with roots declared it is asked of the client as input like sampling.
#[tokio::test(flavor = "multi_thread")]
async fn an_undeclared_roots_request_is_refused_upstream_and_the_call_goes_on() {
    let (_dir, config) =
        common::write_config(&common::testkit_server("alpha", &["--roots-tool"], ""));
    let mut gw = Gateway::spawn(&config);
    gw.modern = true;
    let mut declared = with_meta("roots", json!({"name": "alpha__roots", "arguments": {}}));
    declared["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"roots": {}});
    let asked = gw.request(1, "tools/call", declared.clone()).await;
    assert_eq!(asked["result"]["resultType"], "input_required", "{asked}");
    let (key, request) = asked["result"]["inputRequests"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("one input request");
    assert_eq!(request["method"], "roots/list", "{asked}");
    declared["inputResponses"] = json!({ key.clone(): {"roots": [{"uri": "file:///work"}]} });
    declared["requestState"] = asked["result"]["requestState"].clone();
    let done = gw.request(2, "tools/call", declared).await;
    assert!(
        text_of(&done).contains("file:///work"),
        "the upstream got the client's roots: {done}"
    );
    let bare = with_meta("roots", json!({"name": "alpha__roots", "arguments": {}}));
    let refused = gw.request(3, "tools/call", bare).await;
    assert_eq!(refused["result"]["resultType"], "complete", "{refused}");
    assert!(
        text_of(&refused).starts_with("no roots:"),
        "the upstream was refused, the call went on: {refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bridge_works_over_http_through_a_shared_upstream() {
    let (_dir, config) = everything();
    let (_gateway, url, _) = common::serve_http(&config).await;
    let plan = json!({
        "calls": {"ev__trigger-sampling-request": {"prompt": "over http", "maxTokens": 10}},
    });
    let out = run_client(&url, &plan).await;
    assert_eq!(out["era"], "modern", "{out}");
    let sampled = &out["calls"]["ev__trigger-sampling-request"];
    assert!(text_of(sampled).contains("sampled through MRTR"), "{out}");
    assert_eq!(out["handled"]["sampling"], 1, "{out}");
}

/// A parked call's later rounds report on the retry's own stream: the first round's answer (an
/// HTTP response) is gone by then. Raw 2026-07-28 POSTs to the HTTP face, a testkit upstream
/// whose `sample` tool reports progress once the client's sample came back.
#[tokio::test(flavor = "multi_thread")]
async fn progress_after_the_input_goes_on_the_retrys_stream() {
    use crate::common::http::{Answer, HttpGateway};
    let gw = HttpGateway::start(&common::testkit_server("alpha", &["--name", "alpha"], "")).await;
    let post = |id: i64, params: &Value| {
        gw.post(json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params}))
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "alpha__sample")
    };
    let mut call = with_meta(
        "raw",
        json!({"name": "alpha__sample", "arguments": {"prompt": "p"}}),
    );
    call["_meta"]["io.modelcontextprotocol/clientCapabilities"] = json!({"sampling": {}});
    call["_meta"]["progressToken"] = json!("p-9");
    let first = Answer::send(post(1, &call)).await;
    let result = first.json()["result"].clone();
    assert_eq!(result["resultType"], "input_required", "{}", first.text);
    let key = result["inputRequests"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let mut retry = call.clone();
    retry["requestState"] = result["requestState"].clone();
    retry["inputResponses"] = json!({ key: {"role": "assistant",
        "content": {"type": "text", "text": "from the retry"}, "model": "m"} });
    let answer = Answer::send(post(2, &retry)).await;
    let messages = answer.sse();
    let progress: Vec<&Value> = messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 1, "{}", answer.text);
    assert_eq!(
        progress[0]["params"]["progressToken"], "p-9",
        "{}",
        answer.text
    );
    let last = messages.last().expect("the result last");
    assert_eq!(last["id"], 2);
    assert_eq!(
        last["result"]["content"][0]["text"], "from the retry",
        "{}",
        answer.text
    );
}
