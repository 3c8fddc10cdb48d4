//! Supervision of crashing upstreams: restarts back off instead of looping tightly (each one at
//! least its backoff after the one before, asserted without bounding counts by elapsed time), a
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
         [servers.broken]\ncommand = \"sh\"\nargs = [\"-c\", \"date +%s%N >> {}; exit 1\"]\n{}",
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
    // The broken one goes on being retried, and never in a tight loop: each start comes at
    // least the backoff after the one before (50 ms, 100 ms, then the 200 ms cap), which holds
    // however slow the machine is (a busy one only makes the gaps longer).
    let recorded = || -> Vec<u128> {
        let text = std::fs::read_to_string(&starts).unwrap();
        text.lines()
            .map(|l| l.parse().expect("ns since the epoch"))
            .collect()
    };
    let before = recorded().len();
    let what = "two more starts of the broken upstream";
    let times = eventually(what, Duration::from_secs(20), async || {
        let all = recorded();
        (all.len() >= before + 2).then_some(all)
    })
    .await;
    for (n, pair) in times.windows(2).enumerate() {
        // The start after the (n + 1)th failure waits `initial × 2ⁿ`, at most the cap.
        let backoff = Duration::from_millis((50u64 << n.min(16)).min(200));
        let gap = Duration::from_nanos(pair[1].saturating_sub(pair[0]) as u64);
        assert!(
            gap >= backoff,
            "start {} came {gap:?} after the one before, sooner than the {backoff:?} backoff",
            n + 2
        );
    }
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
