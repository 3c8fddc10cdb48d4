//! Curation: a renamed tool is listed and called under its new name only; a description
//! override is what clients read; pinned arguments vanish from the schema clients see and are
//! set on every call, whatever the client sent.

use serde_json::{json, Value};

use super::{recorded_calls, server, stdio};

#[tokio::test(flavor = "multi_thread")]
async fn rename_description_and_fixed_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl");
    let curate = r#"
[servers.a.curate.echo]
rename = "say"
description = "Says it back."
[servers.a.curate.add]
fixed_arguments = { b = 100 }
"#;
    let toml = format!(
        "{}{curate}",
        server("a", &["--record", &record.display().to_string()], "")
    );
    let (mut gateway, _dir, _path) = stdio(&toml).await;

    let list = gateway.request(2, "tools/list", json!({})).await;
    let tools = list["result"]["tools"].as_array().unwrap();
    let find = |name: &str| tools.iter().find(|t| t["name"] == name).cloned();
    assert!(find("a__echo").is_none(), "{list}");
    let say = find("a__say").expect("renamed tool listed");
    assert_eq!(say["description"], "Says it back.");
    let add = find("a__add").expect("add listed");
    let schema = &add["inputSchema"];
    assert!(schema["properties"].get("b").is_none(), "{schema}");
    assert!(schema["properties"].get("a").is_some(), "{schema}");
    assert_eq!(schema["required"], json!(["a"]));

    let r = gateway
        .call_tool(3, "a__say", json!({"text": "hello"}))
        .await;
    assert_eq!(super::text(&r), "hello");
    let r = gateway
        .call_tool(4, "a__echo", json!({"text": "hello"}))
        .await;
    assert_eq!(r["error"]["message"], "Unknown tool: a__echo", "{r}");
    let r = gateway.call_tool(5, "a__add", json!({"a": 1})).await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 101, "{r}");
    // A client cannot override a pinned value.
    let r = gateway
        .call_tool(6, "a__add", json!({"a": 1, "b": 5}))
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 101, "{r}");

    let calls: Vec<(String, Value)> = recorded_calls(&record);
    assert_eq!(
        calls,
        [
            ("echo".to_string(), json!({"text": "hello"})),
            ("add".to_string(), json!({"a": 1, "b": 100})),
            ("add".to_string(), json!({"a": 1, "b": 100})),
        ]
    );
}
