//! `--profile conformance` over stdio in the 2026-07-28 era: stateless requests carrying the
//! era's `_meta`, as Manifold sends them to a modern upstream, beside the legacy session.

mod common;

use common::{opts, text, Client};
use manifold_testkit::{Options, Profile};
use serde_json::{json, Value};

fn conformance() -> Options {
    opts(|o| o.profile = Profile::Conformance)
}

/// The era's `_meta` with these client capabilities, plus `extra` keys.
fn meta(capabilities: Value, extra: Value) -> Value {
    let mut m = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": { "name": "stdio-test", "version": "1" },
        "io.modelcontextprotocol/clientCapabilities": capabilities,
    });
    if let Value::Object(extra) = extra {
        m.as_object_mut().unwrap().extend(extra);
    }
    m
}

fn all_caps() -> Value {
    json!({ "sampling": {}, "elicitation": {}, "roots": {} })
}

fn call_params(name: &str, extra: Value) -> Value {
    let mut p = json!({ "name": name, "arguments": {}, "_meta": meta(all_caps(), json!({})) });
    if let Value::Object(extra) = extra {
        p.as_object_mut().unwrap().extend(extra);
    }
    p
}

#[tokio::test]
async fn discover_first_then_stateless_requests() {
    let mut c = Client::start(conformance());
    c.send_raw(r#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#).await;
    let r = c.recv().await;
    assert_eq!(r["id"], 1);
    let d = &r["result"];
    assert_eq!(d["resultType"], "complete");
    assert_eq!(d["supportedVersions"][0], "2026-07-28");
    assert!(d["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("2025-11-25")));
    assert_eq!(d["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(
        d["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "testkit"
    );
    assert!(d["ttlMs"].as_u64().is_some() && d["cacheScope"] == "public");

    let list = c
        .call(
            2,
            "tools/list",
            json!({ "_meta": meta(json!({}), json!({})) }),
        )
        .await;
    let names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for tool in [
        "test_simple_text",
        "test_input_required_result_multi_round",
        "test_missing_capability",
        "test_trigger_tool_change",
    ] {
        assert!(names.contains(&tool), "{tool} in {names:?}");
    }
    assert_eq!(list["resultType"], "complete");
    assert_eq!(list["ttlMs"], 0);

    let r = c
        .call(3, "tools/call", call_params("test_simple_text", json!({})))
        .await;
    assert_eq!(text(&r), "This is a simple text response for testing.");
    assert_eq!(r["resultType"], "complete");
    c.finish().await.unwrap();
}

#[tokio::test]
async fn mrtr_rounds_complete_and_tampering_is_refused() {
    let mut c = Client::start(conformance());
    let name = "test_input_required_result_multi_round";
    let r1 = c.call(1, "tools/call", call_params(name, json!({}))).await;
    assert_eq!(r1["resultType"], "input_required");
    assert_eq!(r1["inputRequests"]["step1"]["method"], "elicitation/create");
    let state1 = r1["requestState"].as_str().unwrap().to_string();

    // A retry without the answer is asked again, not refused.
    let again =
        json!({ "requestState": state1, "inputResponses": { "other": { "action": "accept" } } });
    let r = c.call(2, "tools/call", call_params(name, again)).await;
    assert_eq!(r["resultType"], "input_required");
    assert!(r["inputRequests"]["step1"].is_object());

    let answer = |key: &str, field: &str, value: &str| json!({ "inputResponses": { key: { "action": "accept", "content": { field: value } } } });
    let mut retry = answer("step1", "name", "Ann");
    retry["requestState"] = json!(state1);
    let r2 = c.call(3, "tools/call", call_params(name, retry)).await;
    assert_eq!(r2["resultType"], "input_required");
    let state2 = r2["requestState"].as_str().unwrap().to_string();
    assert_ne!(state1, state2);

    let mut retry = answer("step2", "color", "blue");
    retry["requestState"] = json!(state2);
    let r3 = c
        .call(4, "tools/call", call_params(name, retry.clone()))
        .await;
    assert_eq!(r3["resultType"], "complete");
    assert_eq!(text(&r3), "Ann's favorite color is blue");

    retry["requestState"] = json!(format!("{state2}-TAMPERED"));
    let code = c
        .error_code(5, "tools/call", call_params(name, retry))
        .await;
    assert_eq!(code, -32602);
}

#[tokio::test]
async fn capabilities_are_read_from_each_request() {
    let mut c = Client::start(conformance());
    let mut params = call_params("test_missing_capability", json!({}));
    params["_meta"] = meta(json!({}), json!({}));
    let resp = c.request(json!(1), "tools/call", params.clone()).await;
    assert_eq!(resp["id"], 1);
    assert_eq!(resp["error"]["code"], -32021);
    assert_eq!(
        resp["error"]["data"]["requiredCapabilities"],
        json!({ "sampling": {} })
    );
    params["_meta"] = meta(json!({ "sampling": {} }), json!({}));
    let r = c.call(2, "tools/call", params).await;
    assert_eq!(r["resultType"], "complete");

    let mut params = call_params("test_input_required_result_capabilities", json!({}));
    params["_meta"] = meta(json!({ "sampling": {} }), json!({}));
    let r = c.call(3, "tools/call", params).await;
    let asked: Vec<&str> = r["inputRequests"]
        .as_object()
        .unwrap()
        .values()
        .map(|q| q["method"].as_str().unwrap())
        .collect();
    assert_eq!(asked, ["sampling/createMessage"]);
}

#[tokio::test]
async fn progress_and_logs_precede_the_response() {
    let mut c = Client::start(conformance());
    let mut params = call_params("test_tool_with_logging", json!({}));
    params["_meta"] = meta(
        json!({}),
        json!({ "io.modelcontextprotocol/logLevel": "info" }),
    );
    c.call(1, "tools/call", params).await;
    let logs: Vec<&Value> = c
        .skipped
        .iter()
        .filter(|m| m["method"] == "notifications/message")
        .collect();
    assert_eq!(logs.len(), 3, "{:?}", c.skipped);
    c.skipped.clear();

    // No logLevel: no log message; above the level: none either.
    c.call(
        2,
        "tools/call",
        call_params("test_tool_with_logging", json!({})),
    )
    .await;
    let mut params = call_params("test_logging_tool", json!({}));
    params["_meta"] = meta(
        json!({}),
        json!({ "io.modelcontextprotocol/logLevel": "error" }),
    );
    c.call(3, "tools/call", params).await;
    assert!(c.skipped.is_empty(), "{:?}", c.skipped);

    let mut params = call_params("test_tool_with_progress", json!({}));
    params["_meta"] = meta(json!({}), json!({ "progressToken": "tok" }));
    c.call(4, "tools/call", params).await;
    let progress: Vec<i64> = c
        .skipped
        .iter()
        .filter(|m| {
            m["method"] == "notifications/progress" && m["params"]["progressToken"] == "tok"
        })
        .map(|m| m["params"]["progress"].as_i64().unwrap())
        .collect();
    assert_eq!(progress, [0, 50, 100]);
}

#[tokio::test]
async fn listen_is_acknowledged_then_tagged_until_cancelled() {
    let mut c = Client::start(conformance());
    let listen = json!({
        "notifications": { "toolsListChanged": true },
        "_meta": meta(json!({}), json!({})),
    });
    c.send(json!({ "jsonrpc": "2.0", "id": "listen-1", "method": "subscriptions/listen", "params": listen }))
        .await;
    let ack = c.recv().await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "listen-1"
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({ "toolsListChanged": true })
    );

    // A prompt change is not asked for; a tool change is, and lists the dynamic tool.
    c.call(
        1,
        "tools/call",
        call_params("test_trigger_prompt_change", json!({})),
    )
    .await;
    c.call(
        2,
        "tools/call",
        call_params("test_trigger_tool_change", json!({})),
    )
    .await;
    let notes: Vec<Value> = std::mem::take(&mut c.skipped);
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["method"], "notifications/tools/list_changed");
    assert_eq!(
        notes[0]["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        "listen-1"
    );
    let list = c
        .call(
            3,
            "tools/list",
            json!({ "_meta": meta(json!({}), json!({})) }),
        )
        .await;
    assert!(list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "test_dynamic_tool"));

    c.send(json!({ "jsonrpc": "2.0", "method": "notifications/cancelled", "params": { "requestId": "listen-1" } }))
        .await;
    c.call(
        4,
        "tools/call",
        call_params("test_trigger_tool_change", json!({})),
    )
    .await;
    assert!(
        c.skipped.is_empty(),
        "cancelled listen still told: {:?}",
        c.skipped
    );
    assert!(
        c.recv_within(200).await.is_none(),
        "the listen is never answered"
    );
}

#[tokio::test]
async fn era_errors_carry_the_request_id() {
    let mut c = Client::start(conformance());
    for (id, method) in [
        (1, "ping"),
        (2, "logging/setLevel"),
        (3, "initialize"),
        (4, "nope/nope"),
    ] {
        let resp = c
            .request(
                json!(id),
                method,
                json!({ "_meta": meta(json!({}), json!({})) }),
            )
            .await;
        assert_eq!(
            (resp["id"].clone(), resp["error"]["code"].clone()),
            (json!(id), json!(-32601))
        );
    }
    let resp = c.request(json!(5), "server/discover", json!({})).await;
    assert_eq!(resp["error"]["code"], -32602);
    let mut old = meta(json!({}), json!({}));
    old["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let resp = c
        .request(json!(6), "server/discover", json!({ "_meta": old }))
        .await;
    assert_eq!(resp["error"]["code"], -32022);
    assert_eq!(resp["error"]["data"]["requested"], "2099-01-01");
    assert!(resp["error"]["data"]["supported"].is_array());
    let resp = c
        .request(
            json!(7),
            "resources/read",
            json!({ "uri": "test://nope", "_meta": meta(json!({}), json!({})) }),
        )
        .await;
    assert_eq!(resp["error"]["code"], -32602);
    assert_eq!(resp["error"]["data"]["uri"], "test://nope");
}

#[tokio::test]
async fn the_legacy_era_is_unchanged_on_the_same_connection() {
    let mut c = Client::ready(conformance()).await;
    let list = c.call(1, "tools/list", json!({})).await;
    let names: Vec<&str> = list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"test_reconnection"));
    assert!(!names.iter().any(|n| n.starts_with("test_input_required")));
    assert!(list.get("resultType").is_none());
    assert_eq!(c.call(2, "ping", json!({})).await, json!({}));
    let modern = c
        .call(3, "tools/call", call_params("test_simple_text", json!({})))
        .await;
    assert_eq!(modern["resultType"], "complete");
    let code = c
        .error_code(4, "resources/read", json!({ "uri": "test://nope" }))
        .await;
    assert_eq!(code, -32002);
}
