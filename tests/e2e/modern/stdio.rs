//! The stdio face in the 2026-07-28 era: the first request fixes it; discover, lists, calls,
//! reads, prompts and completions through legacy upstreams; progress on a request; the era's
//! errors. Every message Manifold writes is checked against the 2026-07-28 schema.

use serde_json::{json, Value};

use super::{assert_modern_result, meta, servers, with_meta};
use crate::common::{self, Gateway};

async fn modern_gateway() -> (Gateway, tempfile::TempDir) {
    modern_gateway_with("").await
}

async fn modern_gateway_with(extra: &str) -> (Gateway, tempfile::TempDir) {
    let (dir, config) = common::write_config(&format!("{extra}\n{}", servers()));
    let mut gateway = Gateway::spawn(&config);
    gateway.modern = true;
    (gateway, dir)
}

#[tokio::test]
async fn discover_then_stateless_requests_reach_legacy_upstreams() {
    let (mut gw, _dir) = modern_gateway().await;
    let discovered = gw
        .request(1, "server/discover", json!({"_meta": meta("probe")}))
        .await;
    let result = &discovered["result"];
    assert_modern_result(result);
    let versions: Vec<&str> = result["supportedVersions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(versions.contains(&"2026-07-28"), "{result}");
    assert!(versions.contains(&"2025-11-25"), "{result}");
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    // Nothing here depends on who asks: shared servers, no [[access]] views.
    assert_eq!(result["ttlMs"], 0);
    assert_eq!(result["cacheScope"], "public");

    let listed = gw
        .request(2, "tools/list", with_meta("probe", json!({})))
        .await;
    assert_modern_result(&listed["result"]);
    let names = common::names(&listed["result"], "tools", "name");
    assert!(names.contains(&"alpha__echo".to_string()), "{names:?}");
    assert!(names.contains(&"beta__echo".to_string()), "{names:?}");
    assert_eq!(listed["result"]["cacheScope"], "public");

    let called = gw
        .request(
            3,
            "tools/call",
            with_meta(
                "probe",
                json!({"name": "beta__echo", "arguments": {"text": "hi 1.50"}}),
            ),
        )
        .await;
    assert_modern_result(&called["result"]);
    assert_eq!(
        called["result"]["content"][0]["text"], "hi 1.50",
        "{called}"
    );

    let read = gw
        .request(
            4,
            "resources/read",
            with_meta("probe", json!({"uri": "alpha+testkit://alpha/res/0"})),
        )
        .await;
    assert_modern_result(&read["result"]);
    assert!(read["result"]["contents"].is_array(), "{read}");
    assert_eq!(read["result"]["ttlMs"], 0);

    let prompt = gw
        .request(
            5,
            "prompts/get",
            with_meta(
                "probe",
                json!({"name": "alpha__greet", "arguments": {"name": "x"}}),
            ),
        )
        .await;
    assert_modern_result(&prompt["result"]);
    assert!(prompt["result"]["messages"].is_array(), "{prompt}");

    let completed = gw
        .request(
            6,
            "completion/complete",
            with_meta(
                "probe",
                json!({"ref": {"type": "ref/prompt", "name": "alpha__greet"},
                       "argument": {"name": "name", "value": ""}}),
            ),
        )
        .await;
    assert_modern_result(&completed["result"]);
    assert!(
        completed["result"]["completion"]["values"].is_array(),
        "{completed}"
    );
    assert!(gw.seen.is_empty(), "nothing but answers: {:?}", gw.seen);
}

#[tokio::test]
async fn answers_that_depend_on_the_principal_are_private() {
    let (mut gw, _dir) =
        modern_gateway_with("[[access]]\nprincipal = \"*\"\ntools = { deny = [\"beta__*\"] }\n")
            .await;
    let listed = gw
        .request(1, "tools/list", with_meta("probe", json!({})))
        .await;
    assert_eq!(listed["result"]["cacheScope"], "private", "{listed}");
    let names = common::names(&listed["result"], "tools", "name");
    assert!(!names.iter().any(|n| n.starts_with("beta__")), "{names:?}");
    let called = gw
        .request(
            2,
            "tools/call",
            with_meta(
                "probe",
                json!({"name": "alpha__echo",
                                                          "arguments": {"text": "x"}}),
            ),
        )
        .await;
    assert!(
        called["result"].get("ttlMs").is_none(),
        "a call is not cacheable: {called}"
    );
}

#[tokio::test]
async fn a_missing_meta_another_version_or_a_removed_method_is_refused() {
    let (mut gw, _dir) = modern_gateway().await;
    // The first request fixes the era; it is modern here.
    let ok = gw
        .request(1, "tools/list", with_meta("probe", json!({})))
        .await;
    assert_modern_result(&ok["result"]);
    let bare = gw.request(2, "tools/list", json!({})).await;
    assert_eq!(bare["error"]["code"], -32602, "{bare}");
    let half = gw
        .request(
            3,
            "tools/list",
            json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
        )
        .await;
    assert_eq!(half["error"]["code"], -32602, "{half}");
    let mut future = meta("probe");
    future["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let other = gw.request(4, "tools/list", json!({"_meta": future})).await;
    assert_eq!(other["error"]["code"], -32022, "{other}");
    assert_eq!(other["error"]["data"]["requested"], "2099-01-01");
    assert!(other["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!("2026-07-28")));
    for (id, method) in [
        (5, "ping"),
        (6, "logging/setLevel"),
        (7, "resources/subscribe"),
    ] {
        let removed = gw
            .request(
                id,
                method,
                with_meta("probe", json!({"level": "info", "uri": "x"})),
            )
            .await;
        assert_eq!(removed["error"]["code"], -32601, "{method}: {removed}");
    }
    let unknown = gw
        .request(
            8,
            "tools/call",
            with_meta("probe", json!({"name": "nobody__here"})),
        )
        .await;
    assert_eq!(unknown["error"]["code"], -32602, "{unknown}");
    let missing = gw
        .request(
            9,
            "resources/read",
            with_meta("probe", json!({"uri": "alpha+testkit://alpha/res/999999"})),
        )
        .await;
    assert_eq!(
        missing["error"]["code"], -32602,
        "resource not found is -32602 in this era: {missing}"
    );
    // initialize on a connection the first request made modern.
    let init = gw
        .request(
            10,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "late", "version": "1"}}),
        )
        .await;
    assert_eq!(init["error"]["code"], -32022, "{init}");
}

#[tokio::test]
async fn a_legacy_first_request_keeps_the_connection_legacy() {
    let (dir, config) = common::write_config(&servers());
    let mut gw = Gateway::spawn(&config);
    gw.initialize().await;
    let modern = gw
        .request(1, "tools/list", with_meta("late", json!({})))
        .await;
    assert_eq!(modern["error"]["code"], -32600, "{modern}");
    let legacy = gw.request(2, "tools/list", json!({})).await;
    assert!(legacy["result"]["tools"].is_array(), "{legacy}");
    assert!(legacy["result"].get("resultType").is_none(), "{legacy}");
    drop(dir);
}

#[tokio::test]
async fn progress_of_a_modern_request_precedes_its_answer() {
    let (mut gw, _dir) = modern_gateway().await;
    let mut params = with_meta(
        "probe",
        json!({"name": "alpha__sleep", "arguments": {"ms": 30}}),
    );
    params["_meta"]["progressToken"] = json!("p-1");
    gw.send(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}))
        .await;
    let answer = gw.response(&json!(1)).await;
    assert_modern_result(&answer["result"]);
    let progress: Vec<&Value> = gw
        .seen
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert_eq!(progress.len(), 3, "{:?}", gw.seen);
    for p in progress {
        assert_eq!(p["params"]["progressToken"], "p-1", "{p}");
    }
}

#[tokio::test]
async fn log_messages_reach_only_the_requests_that_asked_for_their_level() {
    let (mut gw, _dir) = modern_gateway().await;
    let echo = |level: Option<&str>| {
        let mut params = with_meta(
            "probe",
            json!({"name": "alpha__echo", "arguments": {
                "text": "logged",
                "notify": "notifications/message",
                "notify_params": {"level": "warning", "logger": "t", "data": "careful"},
            }}),
        );
        if let Some(level) = level {
            params["_meta"]["io.modelcontextprotocol/logLevel"] = json!(level);
        }
        params
    };
    let messages = |gw: &mut Gateway| {
        let found: Vec<Value> = gw
            .seen
            .drain(..)
            .filter(|m| m["method"] == "notifications/message")
            .collect();
        found
    };
    let answer = gw.request(1, "tools/call", echo(Some("info"))).await;
    assert_modern_result(&answer["result"]);
    let seen = messages(&mut gw);
    assert_eq!(
        seen.len(),
        1,
        "a warning reaches a request at info: {seen:?}"
    );
    assert_eq!(seen[0]["params"]["data"], "careful");
    assert_eq!(seen[0]["params"]["logger"], "alpha/t", "namespaced as ever");
    gw.request(2, "tools/call", echo(Some("error"))).await;
    assert!(messages(&mut gw).is_empty(), "a warning is below error");
    gw.request(3, "tools/call", echo(None)).await;
    assert!(messages(&mut gw).is_empty(), "no logLevel, no log messages");
}
