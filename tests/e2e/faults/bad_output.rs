//! Upstreams writing garbage lines or results over `max_message_bytes`: the garbage is skipped,
//! the oversized result becomes an error, and both upstreams keep serving.

use std::time::Duration;

use serde_json::json;

use super::support::{assert_both_serve, assert_echo, call_within, error_of, text_of};
use crate::common::{testkit_server, write_config, Gateway};

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
    assert_both_serve(&mut gw, 4).await;
    let r = call_within(&mut gw, 6, "a__garbage", json!({}), Duration::from_secs(5)).await;
    assert_echo(&r, "ok");
    assert!(gw.close().await.success());
}
