//! The tools of the in-process stdio server, driven with raw JSON lines.

mod common;

use common::{names, opts, text, Client};
use manifold_testkit::{Crashed, Options, GARBAGE_LINE};
use serde_json::{json, Value};

#[tokio::test]
async fn tool_schemas_are_json_schema_objects() {
    let mut c = Client::ready(Options::default()).await;
    let r = c.call(1, "tools/list", json!({})).await;
    for tool in r["tools"].as_array().unwrap() {
        assert_eq!(tool["inputSchema"]["type"], "object", "{tool}");
    }
    let add = &r["tools"][1];
    assert_eq!(add["name"], "add");
    assert_eq!(add["outputSchema"]["properties"]["sum"]["type"], "number");
    assert_eq!(r["tools"][0]["inputSchema"]["required"], json!(["text"]));
}

#[tokio::test]
async fn echo_add_and_fail() {
    let mut c = Client::ready(Options::default()).await;
    let r = c.tool(1, "echo", json!({ "text": "hello" })).await;
    assert_eq!(text(&r), "hello");
    let r = c.tool(2, "add", json!({ "a": 2, "b": 3 })).await;
    assert_eq!(text(&r), "5");
    assert_eq!(r["structuredContent"], json!({ "sum": 5 }));
    let r = c.tool(3, "add", json!({ "a": 1.5, "b": 1 })).await;
    assert_eq!(r["structuredContent"]["sum"], 2.5);
    let r = c.tool(4, "fail", json!({})).await;
    assert_eq!(r["isError"], true);
    assert_eq!(text(&r), "failed on purpose");
    let r = c.tool(5, "fail", json!({ "message": "boom" })).await;
    assert_eq!((text(&r), &r["isError"]), ("boom", &json!(true)));
    let r = c.tool(6, "echo", json!({})).await;
    assert_eq!(r["isError"], true);
}

#[tokio::test]
async fn sample_tool_absent_without_sampling_capability() {
    let mut c = Client::ready(Options::default()).await;
    let r = c.call(1, "tools/list", json!({})).await;
    assert!(!names(&r, "tools").contains(&"sample".to_string()));
    let code = c
        .error_code(
            2,
            "tools/call",
            json!({ "name": "sample", "arguments": { "prompt": "hi" } }),
        )
        .await;
    assert_eq!(code, -32602);
}

#[tokio::test]
async fn sample_tool_round_trips_through_the_client() {
    let mut c = Client::start(Options::default());
    c.initialize(json!({ "sampling": {} })).await;
    let r = c.call(1, "tools/list", json!({})).await;
    assert!(names(&r, "tools").contains(&"sample".to_string()));
    c.send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "sample", "arguments": { "prompt": "say hi" } } }))
        .await;
    let req = c.recv().await;
    assert_eq!(req["method"], "sampling/createMessage");
    assert_eq!(req["params"]["messages"][0]["content"]["text"], "say hi");
    c.send(json!({ "jsonrpc": "2.0", "id": req["id"], "result": {
        "role": "assistant", "content": { "type": "text", "text": "hi there" }, "model": "fake" } }))
        .await;
    let resp = c.response_to(&json!(2)).await;
    assert_eq!(text(&resp["result"]), "hi there");
}

#[tokio::test]
async fn cancellation_suppresses_the_response() {
    let mut c = Client::ready(Options::default()).await;
    c.send(json!({ "jsonrpc": "2.0", "id": "h", "method": "tools/call", "params": { "name": "hang" } }))
        .await;
    c.send(
        json!({ "jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": { "requestId": "h", "reason": "test" } }),
    )
    .await;
    assert_eq!(c.call(2, "ping", json!({})).await, json!({}));
    assert!(c.recv_within(200).await.is_none());
    assert!(c.skipped.is_empty(), "{:?}", c.skipped);
    c.finish().await.unwrap();
}

#[tokio::test]
async fn slow_calls_do_not_block_others_and_report_progress() {
    let mut c = Client::ready(Options::default()).await;
    c.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": { "name": "sleep", "arguments": { "ms": 500 }, "_meta": { "progressToken": "tok" } } }))
        .await;
    let r = c.tool(2, "echo", json!({ "text": "fast" })).await;
    assert_eq!(text(&r), "fast");
    let r = c.response_to(&json!(1)).await;
    assert_eq!(text(&r["result"]), "slept 500ms");
    let progress: Vec<&Value> = c
        .skipped
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3);
    for (i, p) in progress.iter().enumerate() {
        assert_eq!(
            p["params"],
            json!({ "progressToken": "tok", "progress": i + 1, "total": 3 })
        );
    }
}

#[tokio::test]
async fn toggle_adds_a_tool_and_notifies() {
    let mut c = Client::ready(Options::default()).await;
    c.tool(1, "toggle", json!({})).await;
    assert!(c
        .skipped
        .iter()
        .any(|m| m["method"] == "notifications/tools/list_changed"));
    let r = c.call(2, "tools/list", json!({})).await;
    assert!(names(&r, "tools").contains(&"toggled".to_string()));
    assert_eq!(text(&c.tool(3, "toggled", json!({})).await), "toggled");
    c.tool(4, "toggle", json!({})).await;
    let r = c.call(5, "tools/list", json!({})).await;
    assert!(!names(&r, "tools").contains(&"toggled".to_string()));
}

#[tokio::test]
async fn whoami_reports_what_initialize_carried() {
    let mut c = Client::start(Options::default());
    c.initialize(json!({ "roots": { "listChanged": true } }))
        .await;
    let r = c.tool(1, "whoami", json!({})).await;
    let expected = json!({
        "clientInfo": { "name": "test-client", "version": "9.9" },
        "capabilities": { "roots": { "listChanged": true } },
        "protocolVersion": "2025-11-25",
    });
    assert_eq!(r["structuredContent"], expected);
    assert_eq!(serde_json::from_str::<Value>(text(&r)).unwrap(), expected);
}

#[tokio::test]
async fn prefix_long_names_and_generated_tools() {
    let mut c = Client::ready(opts(|o| {
        o.tool_prefix = "p_".into();
        o.long_names = true;
        o.tools = 2;
    }))
    .await;
    let r = c.call(1, "tools/list", json!({})).await;
    let list = names(&r, "tools");
    assert!(list.iter().all(|n| n.starts_with("p_")));
    let long = format!("p_long_{}", "x".repeat(55));
    assert!(list.contains(&long));
    assert_eq!(long.len() - 2, 60);
    let gen = &r["tools"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (gen["name"].as_str(), gen["description"].as_str()),
        (Some("p_gen_1"), Some("generated tool 1"))
    );
    assert_eq!(
        text(&c.tool(2, "p_echo", json!({ "text": "x" })).await),
        "x"
    );
    assert_eq!(
        text(&c.tool(3, "p_gen_0", json!({ "text": "g" })).await),
        "g"
    );
    assert_eq!(
        c.error_code(
            4,
            "tools/call",
            json!({ "name": "echo", "arguments": { "text": "x" } })
        )
        .await,
        -32602
    );
    assert_eq!(
        c.error_code(5, "tools/call", json!({ "name": "p_gen_2" }))
            .await,
        -32602
    );
}

#[tokio::test]
async fn garbage_big_and_link() {
    let mut c = Client::ready(opts(|o| o.name = "n".into())).await;
    c.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "garbage" } }))
        .await;
    assert_eq!(c.recv_line().await, GARBAGE_LINE);
    assert_eq!(text(&c.recv().await["result"]), "ok");
    let r = c.tool(2, "big", json!({ "bytes": 100_000 })).await;
    let body = text(&r);
    assert_eq!(body.len(), 100_000);
    assert!(body.bytes().all(|b| b == b'x'));
    let r = c.tool(3, "link", json!({})).await;
    assert_eq!(r["content"][0]["type"], "resource_link");
    assert_eq!(r["content"][0]["uri"], "testkit://n/res/0");
    assert_eq!(r["content"][1]["type"], "resource");
    assert_eq!(r["content"][1]["resource"]["text"], "resource 0 of n");
}

#[tokio::test]
async fn crash_tool_makes_serve_stdio_return_crashed() {
    let mut c = Client::ready(Options::default()).await;
    c.send(
        json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": { "name": "crash" } }),
    )
    .await;
    let err = c.finish().await.unwrap_err();
    assert!(err.downcast_ref::<Crashed>().is_some(), "{err}");
}

#[tokio::test]
async fn crash_after_n_tool_calls() {
    let mut c = Client::ready(opts(|o| o.crash_after = Some(2))).await;
    assert_eq!(text(&c.tool(1, "echo", json!({ "text": "a" })).await), "a");
    c.send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": { "name": "echo", "arguments": { "text": "b" } } }))
        .await;
    let rest = c.read_to_eof().await;
    assert!(rest.is_empty(), "unexpected output {rest:?}");
    let err = c.finish().await.unwrap_err();
    assert!(err.downcast_ref::<Crashed>().is_some(), "{err}");
}
