//! Upstreams that crash mid-call or after a number of calls: the call fails promptly, the other
//! upstream keeps serving, and the crashed one is restarted and listed again.

use std::time::Duration;

use serde_json::json;

use super::support::{
    assert_echo, call_within, error_of, tool_names, wait_notifications, wait_until_answers,
};
use crate::common::{eventually, testkit_server, write_config, Gateway};

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
    eventually(
        "a__echo listed again",
        Duration::from_secs(10),
        async || {
            let tools = tool_names(&mut gw, next).await;
            tools.contains(&"a__echo".to_string()).then_some(())
        },
    )
    .await;
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
