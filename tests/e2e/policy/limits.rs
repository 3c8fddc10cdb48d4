//! Rate limits: a burst passes, the next call is refused with `-32000` and the wait until a
//! token is back; principals have buckets of their own; the upstream never sees a refused call.

use serde_json::{json, Value};

use super::{recorded_calls, sample, server, stdio, Face, ALICE, BOB, TWO_PRINCIPALS};

fn refusal(response: &Value) -> &Value {
    assert_eq!(response["error"]["code"], -32000, "{response}");
    let data = &response["error"]["data"];
    assert_eq!(data["reason"], "rate_limited", "{response}");
    data
}

#[tokio::test(flavor = "multi_thread")]
async fn burst_then_refusal_per_principal_and_the_upstream_saw_none_of_it() {
    let record = tempfile::NamedTempFile::new().unwrap();
    let record_arg = record.path().display().to_string();
    let face = Face::start(&format!(
        r#"{TWO_PRINCIPALS}
[[limits]]
name = "echo-per-principal"
tools = ["a__echo"]
rate = 1
per_ms = 60000
burst = 2
{}"#,
        server("a", &["--record", &record_arg], "")
    ))
    .await;
    let alice = face.open(ALICE).await;
    let bob = face.open(BOB).await;

    for n in 0..2 {
        let r = alice
            .call("a__echo", json!({"text": format!("alice {n}")}))
            .await;
        assert_eq!(super::text(&r), format!("alice {n}"));
    }
    let refused = alice.call("a__echo", json!({"text": "alice 2"})).await;
    let data = refusal(&refused);
    assert_eq!(data["rule"], "echo-per-principal");
    let wait = data["retryAfterMs"].as_u64().expect("retryAfterMs");
    // One token per minute, two taken just now: the next is a minute (less the time spent) away.
    assert!((55_000..=60_000).contains(&wait), "{wait}");
    // Other tools are not limited by this rule.
    let add = alice.call("a__add", json!({"a": 1, "b": 1})).await;
    assert!(add["result"].is_object(), "{add}");
    // Bob's bucket is his own.
    let r = bob.call("a__echo", json!({"text": "bob 0"})).await;
    assert_eq!(super::text(&r), "bob 0");

    let echoes: Vec<Value> = recorded_calls(record.path())
        .into_iter()
        .filter(|(name, _)| name == "echo")
        .map(|(_, args)| args)
        .collect();
    assert_eq!(
        echoes,
        [
            json!({"text": "alice 0"}),
            json!({"text": "alice 1"}),
            json!({"text": "bob 0"})
        ]
    );
    let metrics = face.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            r#"manifold_rate_limited_total{rule="echo-per-principal"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"manifold_tool_calls_total{outcome="rate_limited",server="a",tool="a__echo"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn costs_weigh_tools_and_global_rules_hold_for_everyone() {
    let toml = format!(
        r#"
[[limits]]
name = "budget"
scope = "global"
server = "a"
rate = 10
per_ms = 3600000
costs = {{ "a__big" = 6 }}
{}"#,
        server("a", &[], "")
    );
    let (mut gateway, _dir, _path) = stdio(&toml).await;
    let r = gateway.call_tool(2, "a__big", json!({"bytes": 10})).await;
    assert!(r["result"].is_object(), "{r}");
    // 6 of 10 spent: another 6 does not fit, four echoes do.
    let r = gateway.call_tool(3, "a__big", json!({"bytes": 10})).await;
    assert_eq!(refusal(&r)["rule"], "budget");
    for id in 4..8 {
        let r = gateway.call_tool(id, "a__echo", json!({"text": "x"})).await;
        assert!(r["result"].is_object(), "{r}");
    }
    let r = gateway.call_tool(9, "a__echo", json!({"text": "x"})).await;
    let wait = refusal(&r)["retryAfterMs"].as_u64().unwrap();
    // 10 per hour: one every 360 s.
    assert!((300_000..=360_000).contains(&wait), "{wait}");
}
