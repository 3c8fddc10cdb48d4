//! Deadlines and limits per server: per-method timeouts (gateway-wide, overridden per server),
//! a concurrency limit with a bounded wait, and a maximum result size (an error, or text
//! truncated with a marker).

use serde_json::{json, Value};

use super::{server, stdio, text};

fn reason(response: &Value) -> &str {
    response["error"]["data"]["reason"]
        .as_str()
        .unwrap_or_else(|| panic!("no error reason in {response}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn per_method_timeouts_gateway_wide_and_per_server() {
    let toml = format!(
        "[gateway]\nmethod_timeouts_ms = {{ \"tools/call\" = 300 }}\n{}{}",
        server("a", &[], ""),
        server("b", &[], "method_timeouts_ms = { \"tools/call\" = 10000 }")
    );
    let (mut gateway, _dir, _path) = stdio(&toml).await;
    let r = gateway.call_tool(2, "a__sleep", json!({"ms": 3000})).await;
    assert_eq!(reason(&r), "timeout", "{r}");
    assert_eq!(r["error"]["data"]["timeoutMs"], 300, "{r}");
    let r = gateway.call_tool(3, "b__sleep", json!({"ms": 600})).await;
    assert!(r["result"].is_object(), "{r}");
    // Other methods keep the default deadline.
    let r = gateway
        .request(4, "resources/read", json!({"uri": "a+testkit://a/res/0"}))
        .await;
    assert!(r["result"].is_object(), "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_server_makes_requests_wait_then_fail() {
    let toml = server("c", &[], "max_concurrency = 1\nqueue_timeout_ms = 200");
    let (mut gateway, _dir, _path) = stdio(&toml).await;
    gateway
        .send(&json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "c__sleep", "arguments": {"ms": 1500}}}))
        .await;
    // Give the first call its slot before the second asks for one.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let r = gateway.call_tool(3, "c__echo", json!({"text": "x"})).await;
    assert_eq!(r["error"]["code"], -32000, "{r}");
    assert_eq!(reason(&r), "overloaded", "{r}");
    assert_eq!(r["error"]["data"]["maxConcurrency"], 1, "{r}");
    let first = gateway.response(&json!(2)).await;
    assert!(first["result"].is_object(), "{first}");
    // The slot is free again.
    let r = gateway.call_tool(4, "c__echo", json!({"text": "x"})).await;
    assert_eq!(text(&r), "x");
}

#[tokio::test(flavor = "multi_thread")]
async fn results_over_the_limit_fail_or_are_truncated() {
    let toml = format!(
        "{}{}",
        server("a", &[], "max_result_bytes = 1000"),
        server("t", &[], "max_result_bytes = 1000\ntruncate_results = true")
    );
    let (mut gateway, _dir, _path) = stdio(&toml).await;
    let r = gateway.call_tool(2, "a__big", json!({"bytes": 500})).await;
    assert_eq!(text(&r).len(), 500);
    let r = gateway.call_tool(3, "a__big", json!({"bytes": 5000})).await;
    assert_eq!(reason(&r), "result_too_large", "{r}");
    assert_eq!(r["error"]["data"]["limit"], 1000, "{r}");
    let r = gateway.call_tool(4, "t__big", json!({"bytes": 5000})).await;
    let t = text(&r);
    assert!(t.starts_with("xxxx"), "{t}");
    assert!(t.ends_with("of 5000 bytes shown]"), "{t}");
    assert!(r["result"].to_string().len() <= 1000, "{r}");
}
