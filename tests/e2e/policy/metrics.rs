//! `/metrics` after known traffic: the exposition is parsed, and the counters, the histogram and
//! every label are checked — label values only from closed sets and configured names.

use std::collections::BTreeMap;

use serde_json::json;

use super::{server, Face, ALICE, TWO_PRINCIPALS};

/// One sample: metric name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(exposition: &str) -> Vec<Sample> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_string(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split("\",")
                        .filter(|p| !p.is_empty())
                        .map(|pair| {
                            let (k, v) = pair.split_once("=\"").expect("k=\"v\"");
                            (k.to_string(), v.trim_end_matches('"').to_string())
                        })
                        .collect();
                    (name.to_string(), labels)
                }
            };
            (name, labels, value)
        })
        .collect()
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, _, v)| *v)
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_histogram_and_labels_after_known_traffic() {
    let face = Face::start(&format!(
        "{TWO_PRINCIPALS}\n[[limits]]\nname = \"fail-once\"\ntools = [\"a__fail\"]\nrate = 1\nper_ms = 60000\nburst = 1\n{}",
        server("a", &[], "")
    ))
    .await;
    let alice = face.open(ALICE).await;
    for _ in 0..2 {
        alice.call("a__echo", json!({"text": "secret-arg"})).await;
    }
    alice.call("a__fail", json!({})).await;
    let limited = alice.call("a__fail", json!({})).await;
    assert_eq!(limited["error"]["data"]["reason"], "rate_limited");
    let unknown = alice.call("zz__nope", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602);

    let text = face.metrics().await;
    let samples = parse(&text);
    let tool = |tool: &str, outcome: &str| {
        value(
            &samples,
            "manifold_tool_calls_total",
            &[("server", "a"), ("tool", tool), ("outcome", outcome)],
        )
    };
    assert_eq!(tool("a__echo", "ok"), Some(2.0), "{text}");
    assert_eq!(tool("a__fail", "tool_error"), Some(1.0), "{text}");
    assert_eq!(tool("a__fail", "rate_limited"), Some(1.0), "{text}");
    let requests = |server: &str, outcome: &str| {
        value(
            &samples,
            "manifold_requests_total",
            &[
                ("method", "tools/call"),
                ("server", server),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(requests("a", "ok"), Some(2.0), "{text}");
    assert_eq!(requests("a", "tool_error"), Some(1.0), "{text}");
    assert_eq!(requests("a", "rate_limited"), Some(1.0), "{text}");
    assert_eq!(requests("manifold", "error"), Some(1.0), "{text}");
    assert_eq!(
        value(
            &samples,
            "manifold_rate_limited_total",
            &[("rule", "fail-once")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "manifold_sessions", &[("transport", "http")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "manifold_upstream_up", &[("server", "a")]),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "manifold_inflight_requests", &[("server", "a")]),
        Some(0.0)
    );

    // The histogram: cumulative buckets ending in +Inf = _count, and a _sum.
    let labels = [("method", "tools/call"), ("server", "a")];
    let count = value(&samples, "manifold_request_duration_seconds_count", &labels);
    assert_eq!(count, Some(4.0), "{text}");
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|(n, l, _)| {
            n == "manifold_request_duration_seconds_bucket"
                && l.get("method").map(String::as_str) == Some("tools/call")
                && l.get("server").map(String::as_str) == Some("a")
        })
        .map(|(_, l, v)| {
            let le = l["le"].as_str();
            (
                if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap()
                },
                *v,
            )
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 10, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 4.0));
    let sum = value(&samples, "manifold_request_duration_seconds_sum", &labels).unwrap();
    assert!(sum > 0.0 && sum < 60.0, "{sum}");

    // Labels come from closed sets and configured names only; never from arguments.
    let outcomes = [
        "ok",
        "error",
        "tool_error",
        "timeout",
        "rate_limited",
        "denied",
        "unavailable",
    ];
    for (name, labels, _) in samples
        .iter()
        .filter(|(n, _, _)| n.starts_with("manifold_"))
    {
        for (k, v) in labels {
            let allowed = match k.as_str() {
                "server" => ["a", "manifold"].contains(&v.as_str()),
                "outcome" => outcomes.contains(&v.as_str()),
                "transport" => ["stdio", "http"].contains(&v.as_str()),
                "direction" => ["to_client", "to_upstream"].contains(&v.as_str()),
                "rule" => v == "fail-once",
                "tool" => v.starts_with("a__"),
                "method" => {
                    v.contains('/') || ["initialize", "ping", "other"].contains(&v.as_str())
                }
                "le" => true,
                "queue" => ["session", "request"].contains(&v.as_str()),
                "listener" => v == "http",
                "phase" => ["headers", "body", "idle", "write"].contains(&v.as_str()),
                _ => false,
            };
            assert!(allowed, "{name}: label {k}={v:?}");
            assert!(!v.contains("secret-arg"), "{name}: {k}={v}");
        }
    }
}
