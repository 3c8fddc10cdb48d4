//! The in-process stdio server driven with raw JSON lines.

mod common;

use common::{init_params, names, opts, Client};
use manifold_testkit::Options;
use serde_json::{json, Value};

#[tokio::test]
async fn initialize_declares_capabilities_and_negotiates_versions() {
    let mut c = Client::start(opts(|o| {
        o.name = "alpha".into();
        o.instructions = Some("be nice".into());
    }));
    let r = c
        .call(1, "initialize", init_params("2025-03-26", json!({})))
        .await;
    assert_eq!(r["protocolVersion"], "2025-03-26");
    assert_eq!(
        r["serverInfo"],
        json!({ "name": "alpha", "version": "0.1.0" })
    );
    assert_eq!(r["instructions"], "be nice");
    assert_eq!(
        r["capabilities"],
        json!({
            "tools": { "listChanged": true },
            "prompts": { "listChanged": true },
            "resources": { "subscribe": true, "listChanged": true },
            "completions": {},
            "logging": {},
        })
    );
    let r = c
        .call(2, "initialize", init_params("1999-01-01", json!({})))
        .await;
    assert_eq!(r["protocolVersion"], "2025-11-25");
    assert_eq!(c.call(3, "ping", json!({})).await, json!({}));
    c.finish().await.unwrap();
}

#[tokio::test]
async fn tools_list_paginates_across_all_pages() {
    let mut c = Client::ready(opts(|o| {
        o.page_size = 2;
        o.tools = 3;
    }))
    .await;
    let mut all = Vec::new();
    let mut cursor: Option<Value> = None;
    let mut pages = 0;
    loop {
        let params = match &cursor {
            Some(cur) => json!({ "cursor": cur }),
            None => json!({}),
        };
        let r = c.call(10 + pages, "tools/list", params).await;
        let page = names(&r, "tools");
        assert!(page.len() <= 2 && !page.is_empty());
        all.extend(page);
        pages += 1;
        match r.get("nextCursor") {
            Some(next) => cursor = Some(next.clone()),
            None => break,
        }
    }
    // 11 fixed tools (no `sample` without the sampling capability) + 3 generated.
    assert_eq!(all.len(), 14);
    assert_eq!(pages, 7);
    assert_eq!(all[0], "echo");
    assert!(all.contains(&"gen_2".to_string()) && !all.contains(&"sample".to_string()));
    let bad = c
        .error_code(99, "tools/list", json!({ "cursor": "nonsense" }))
        .await;
    assert_eq!(bad, -32602);
    c.finish().await.unwrap();
}

#[tokio::test]
async fn protocol_errors() {
    let mut c = Client::ready(Options::default()).await;
    assert_eq!(
        c.error_code(1, "tools/call", json!({ "name": "nope" }))
            .await,
        -32602
    );
    assert_eq!(c.error_code(2, "no/such/method", json!({})).await, -32601);
    c.send_raw("{ this is not json").await;
    let r = c.recv().await;
    assert_eq!(r["id"], Value::Null);
    assert_eq!(r["error"]["code"], -32700);
    c.send_raw(r#"{"jsonrpc":"2.0","id":7}"#).await;
    let r = c.recv().await;
    assert_eq!(
        (r["id"].clone(), r["error"]["code"].clone()),
        (json!(7), json!(-32600))
    );
}

#[tokio::test]
async fn resources_and_templates() {
    let mut c = Client::ready(opts(|o| o.name = "srv".into())).await;
    let r = c.call(1, "resources/list", json!({})).await;
    assert_eq!(names(&r, "resources"), ["res-0", "res-1", "res-2"]);
    assert_eq!(r["resources"][1]["uri"], "testkit://srv/res/1");
    let r = c.call(2, "resources/templates/list", json!({})).await;
    assert_eq!(
        r["resourceTemplates"][0]["uriTemplate"],
        "testkit://srv/tpl/{id}"
    );
    let r = c
        .call(3, "resources/read", json!({ "uri": "testkit://srv/res/1" }))
        .await;
    assert_eq!(
        r["contents"],
        json!([{ "uri": "testkit://srv/res/1", "mimeType": "text/plain", "text": "resource 1 of srv" }])
    );
    let r = c
        .call(
            4,
            "resources/read",
            json!({ "uri": "testkit://srv/tpl/abc" }),
        )
        .await;
    assert_eq!(r["contents"][0]["text"], "template abc of srv");
    let code = c
        .error_code(5, "resources/read", json!({ "uri": "testkit://srv/res/3" }))
        .await;
    assert_eq!(code, -32002);
    let r = c
        .call(
            6,
            "resources/subscribe",
            json!({ "uri": "testkit://srv/res/0" }),
        )
        .await;
    assert_eq!(r, json!({}));
    let r = c
        .call(
            7,
            "resources/unsubscribe",
            json!({ "uri": "testkit://srv/res/0" }),
        )
        .await;
    assert_eq!(r, json!({}));
}

#[tokio::test]
async fn prompts_list_and_get() {
    let mut c = Client::ready(opts(|o| o.prompts = 2)).await;
    let r = c.call(1, "prompts/list", json!({})).await;
    assert_eq!(names(&r, "prompts"), ["greet", "prompt_0", "prompt_1"]);
    let r = c
        .call(
            2,
            "prompts/get",
            json!({ "name": "greet", "arguments": { "name": "Ann" } }),
        )
        .await;
    assert_eq!(
        r["messages"],
        json!([{ "role": "user", "content": { "type": "text", "text": "Hello, Ann!" } }])
    );
    assert_eq!(
        c.error_code(3, "prompts/get", json!({ "name": "greet" }))
            .await,
        -32602
    );
    assert_eq!(
        c.error_code(4, "prompts/get", json!({ "name": "nope" }))
            .await,
        -32602
    );
    let r = c
        .call(5, "prompts/get", json!({ "name": "prompt_1" }))
        .await;
    assert_eq!(r["messages"][0]["role"], "user");
}

#[tokio::test]
async fn completion_for_prompt_and_template() {
    let mut c = Client::ready(Options::default()).await;
    let prompt_ref = json!({ "type": "ref/prompt", "name": "greet" });
    let r = c
        .call(
            1,
            "completion/complete",
            json!({ "ref": prompt_ref, "argument": { "name": "name", "value": "b" } }),
        )
        .await;
    assert_eq!(r["completion"]["values"], json!(["bob"]));
    let r = c
        .call(
            2,
            "completion/complete",
            json!({ "ref": prompt_ref, "argument": { "name": "name", "value": "" } }),
        )
        .await;
    assert_eq!(r["completion"]["values"], json!(["alice", "bob", "carol"]));
    let tpl_ref = json!({ "type": "ref/resource", "uri": "testkit://testkit/tpl/{id}" });
    let r = c
        .call(
            3,
            "completion/complete",
            json!({ "ref": tpl_ref, "argument": { "name": "id", "value": "2" } }),
        )
        .await;
    assert_eq!(r["completion"]["values"], json!(["2"]));
    let unknown = json!({ "ref": { "type": "ref/prompt", "name": "zzz" }, "argument": { "name": "x", "value": "" } });
    assert_eq!(
        c.error_code(4, "completion/complete", unknown).await,
        -32602
    );
}

#[tokio::test]
async fn hang_initialize_and_latency() {
    let mut c = Client::start(opts(|o| o.hang_initialize = true));
    c.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init_params("2025-11-25", json!({})) }))
        .await;
    assert!(c.recv_within(200).await.is_none());
    assert_eq!(c.call(2, "ping", json!({})).await, json!({}));

    let mut c = Client::ready(opts(|o| o.latency_ms = 150)).await;
    let start = std::time::Instant::now();
    c.call(1, "ping", json!({})).await;
    assert!(start.elapsed() >= std::time::Duration::from_millis(150));
}

#[tokio::test]
async fn eof_ends_the_server_and_fail_start_errors() {
    let c = Client::ready(Options::default()).await;
    c.finish().await.unwrap();
    let err = Client::start(opts(|o| o.fail_start = true))
        .finish()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fail-start"));
}

#[tokio::test]
async fn record_file_captures_every_line_and_early_requests() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rec.jsonl");
    let mut c = Client::start(opts(|o| o.record = Some(path.clone())));
    c.call(1, "tools/list", json!({})).await;
    c.initialize(json!({ "sampling": {} })).await;
    c.send_raw("not json").await;
    c.recv().await;
    c.finish().await.unwrap();
    let rec = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = rec.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}"#
    );
    assert_eq!(
        lines[1],
        r#"BEFORE_INITIALIZE {"method":"tools/list","id":1}"#
    );
    assert!(lines[2].contains(r#""method":"initialize""#) && lines[2].contains(r#""sampling":{}"#));
    assert_eq!(
        lines[3],
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#
    );
    assert_eq!(lines[4], "not json");
    assert_eq!(lines.len(), 5);
}

#[tokio::test]
async fn logging_set_level() {
    let mut c = Client::ready(Options::default()).await;
    assert_eq!(
        c.call(1, "logging/setLevel", json!({ "level": "debug" }))
            .await,
        json!({})
    );
    assert_eq!(
        c.error_code(2, "logging/setLevel", json!({ "level": "loud" }))
            .await,
        -32602
    );
}
