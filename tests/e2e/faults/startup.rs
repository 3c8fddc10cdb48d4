//! Start-up: upstreams that fail to start or hang in `initialize` do not block the others, and an
//! upstream that comes up late joins with a `tools/list_changed` notification.

use std::time::Duration;

use serde_json::json;
use tokio::time::timeout;

use super::support::{assert_echo, call_within, error_of, tool_names, wait_notifications};
use crate::common::{eventually, testkit_server, write_config, Gateway};

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
    let mut id = 3;
    eventually("late__echo listed", Duration::from_secs(15), async || {
        let tools = tool_names(&mut gw, id).await;
        id += 1;
        if tools.contains(&"late__echo".to_string()) {
            assert!(tools.contains(&"fast__echo".to_string()), "{tools:?}");
            return Ok(());
        }
        Err(format!("{tools:?}"))
    })
    .await;
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
