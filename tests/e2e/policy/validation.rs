//! Argument validation: calls whose arguments break the tool's `inputSchema` (draft-07 or
//! 2020-12) get an `isError` result naming each failing path and never reach the upstream;
//! valid calls pass untouched; `validate_arguments = false` turns it off for one server.

use serde_json::{json, Value};

use super::{recorded_calls, server, stdio, text};

fn refused_paths(response: &Value) -> String {
    assert_eq!(response["result"]["isError"], true, "{response}");
    let t = text(response);
    assert!(t.starts_with("Invalid arguments for tool"), "{t}");
    t.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_arguments_are_refused_with_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let strict_record = dir.path().join("strict.jsonl");
    let plain_record = dir.path().join("plain.jsonl");
    let off_record = dir.path().join("off.jsonl");
    let toml = [
        server(
            "strict",
            &[
                "--strict-schemas",
                "--record",
                &strict_record.display().to_string(),
            ],
            "",
        ),
        server(
            "plain",
            &["--record", &plain_record.display().to_string()],
            "",
        ),
        server(
            "off",
            &[
                "--strict-schemas",
                "--record",
                &off_record.display().to_string(),
            ],
            "validate_arguments = false",
        ),
    ]
    .concat();
    let (mut gateway, _dir, _path) = stdio(&toml).await;

    // draft-07 with additionalProperties: false.
    let wrong_type = gateway
        .call_tool(2, "strict__add", json!({"a": "one", "b": 2}))
        .await;
    assert!(
        refused_paths(&wrong_type).contains("- /a: "),
        "{wrong_type}"
    );
    let missing = gateway.call_tool(3, "strict__add", json!({"a": 1})).await;
    let m = refused_paths(&missing);
    assert!(m.contains("- /: ") && m.contains("\"b\""), "{m}");
    let extra = gateway
        .call_tool(4, "strict__echo", json!({"text": "hi", "loud": true}))
        .await;
    let e = refused_paths(&extra);
    assert!(e.contains("loud"), "{e}");
    let several = gateway
        .call_tool(5, "strict__add", json!({"a": "x", "b": "y", "c": 1}))
        .await;
    let s = refused_paths(&several);
    assert!(
        s.contains("- /a: ") && s.contains("- /b: ") && s.contains("'c'"),
        "{s}"
    );
    // The failing value itself is not echoed back.
    assert!(!refused_paths(&wrong_type).contains("one"), "{wrong_type}");

    // 2020-12 (no $schema): a minimum.
    let below = gateway
        .call_tool(6, "plain__sleep", json!({"ms": -5}))
        .await;
    assert!(refused_paths(&below).contains("- /ms: "), "{below}");

    // Valid calls pass, their arguments untouched.
    let args = json!({"a": 2, "b": 40});
    let ok = gateway.call_tool(7, "strict__add", args.clone()).await;
    assert_eq!(ok["result"]["structuredContent"]["sum"], 42, "{ok}");
    let ok = gateway.call_tool(8, "plain__sleep", json!({"ms": 1})).await;
    assert!(ok["result"]["isError"].is_null(), "{ok}");

    // Switched off: the upstream gets the call and answers in its own way.
    let theirs = gateway
        .call_tool(9, "off__add", json!({"a": "one", "b": 2}))
        .await;
    assert_eq!(theirs["result"]["isError"], true, "{theirs}");
    assert!(!text(&theirs).starts_with("Invalid arguments"), "{theirs}");

    assert_eq!(recorded_calls(&strict_record), [("add".to_string(), args)]);
    assert_eq!(
        recorded_calls(&plain_record),
        [("sleep".to_string(), json!({"ms": 1}))]
    );
    assert_eq!(recorded_calls(&off_record).len(), 1);
}
