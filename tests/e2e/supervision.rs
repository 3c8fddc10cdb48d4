//! Supervision of crashing upstreams: restarts back off instead of looping tightly, a
//! crash-looping upstream is reported unhealthy, and the others keep serving.

use crate::common::{self, eventually};

use std::time::Duration;

use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_looping_upstream_backs_off_and_is_reported_unhealthy() {
    let dir = tempfile::tempdir().unwrap();
    let starts = dir.path().join("starts");
    let config = format!(
        "[gateway]\nstartup_wait_ms = 500\n[gateway.restart]\ninitial_backoff_ms = 50\nmax_backoff_ms = 200\nunhealthy_after = 3\n\
         [servers.broken]\ncommand = \"sh\"\nargs = [\"-c\", \"echo start >> {}; exit 1\"]\n{}",
        starts.display(),
        common::testkit_server("ok", &["--name", "ok"], ""),
    );
    let (_cfg, path) = common::write_config(&config);
    let mut gw = common::Gateway::spawn(&path);
    gw.initialize().await;
    // Calls to it report it unhealthy, naming it.
    let mut id = 1;
    let error = eventually(
        "broken reported unhealthy",
        Duration::from_secs(10),
        async || {
            let r = gw.call_tool(id, "broken__echo", json!({"text": "x"})).await;
            id += 1;
            let e = r["error"].clone();
            assert_eq!(e["code"], -32603, "{r}");
            assert_eq!(e["data"]["server"], "broken", "{r}");
            if e["data"]["unhealthy"] == true {
                Ok(e)
            } else {
                Err(r.to_string())
            }
        },
    )
    .await;
    assert!(
        error["message"].as_str().unwrap().contains("unhealthy"),
        "{error}"
    );
    // The other upstream is unaffected.
    let r = gw.call_tool(id, "ok__echo", json!({"text": "fine"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "fine", "{r}");
    // Over two more seconds the broken one is retried at the capped backoff (200 ms), not in a
    // tight loop: a handful of starts, not thousands.
    let before = std::fs::read_to_string(&starts).unwrap().lines().count();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let during = std::fs::read_to_string(&starts).unwrap().lines().count() - before;
    assert!((2..=20).contains(&during), "{during} starts in 2 s");
    assert!(gw.close().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn subscriptions_are_renewed_after_an_upstream_restart() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("a.jsonl");
    let (_cfg, path) = common::write_config(&format!(
        "[gateway.restart]\ninitial_backoff_ms = 50\n{}",
        common::testkit_server(
            "a",
            &["--name", "a", "--record", record.to_str().unwrap()],
            ""
        )
    ));
    let mut gw = common::Gateway::spawn(&path);
    gw.initialize().await;
    let r = gw
        .request(
            1,
            "resources/subscribe",
            json!({"uri": "a+testkit://a/res/0"}),
        )
        .await;
    assert!(r["result"].is_object(), "{r}");
    let subscribes = || {
        std::fs::read_to_string(&record)
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                l.contains("\"method\":\"resources/subscribe\"") && l.contains("testkit://a/res/0")
            })
            .count()
    };
    assert_eq!(subscribes(), 1);
    let r = gw.call_tool(2, "a__crash", json!({})).await;
    assert_eq!(r["error"]["code"], -32603, "{r}");
    eventually(
        "the subscription renewed",
        Duration::from_secs(10),
        async || (subscribes() >= 2).then_some(()),
    )
    .await;
    assert!(gw.close().await.success());
}
