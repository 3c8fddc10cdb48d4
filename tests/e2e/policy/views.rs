//! Per-principal views: what `[[access]]` hides is absent from that principal's lists and fails
//! exactly like a name that does not exist; another principal sees and calls it.

use serde_json::json;

use super::{server, stdio, Face, ALICE, BOB, TWO_PRINCIPALS};

fn config(sharing: &str) -> String {
    format!(
        r#"{TWO_PRINCIPALS}
[[access]]
principal = "bob"
tools = {{ deny = ["a__add", "a__gen_*"] }}
prompts = {{ allow = ["a__greet"] }}
resources = {{ deny = ["a+testkit://a/res/1"] }}
[[access]]
principal = "*"
{}"#,
        server(
            "a",
            &["--tools", "2", "--prompts", "2", "--resources", "2"],
            &format!("sharing = \"{sharing}\"")
        )
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hidden_tool_is_absent_and_unknown_for_one_principal_only() {
    hidden_for_one_principal("shared").await;
}

/// The same with upstream sessions of each session's own (views live in the session, whatever
/// gateway serves it).
#[tokio::test(flavor = "multi_thread")]
async fn views_hold_with_per_session_upstreams() {
    hidden_for_one_principal("per-session").await;
}

async fn hidden_for_one_principal(sharing: &str) {
    let face = Face::start(&config(sharing)).await;
    let alice = face.open(ALICE).await;
    let bob = face.open(BOB).await;

    let alice_tools = alice.names("tools/list", "tools", "name").await;
    let bob_tools = bob.names("tools/list", "tools", "name").await;
    for hidden in ["a__add", "a__gen_0", "a__gen_1"] {
        assert!(alice_tools.contains(&hidden.to_string()), "{alice_tools:?}");
        assert!(!bob_tools.contains(&hidden.to_string()), "{bob_tools:?}");
    }
    assert!(bob_tools.contains(&"a__echo".to_string()));
    assert_eq!(alice_tools.len(), bob_tools.len() + 3);

    // Calling it: the very error of a tool that does not exist, name aside.
    let denied = bob.call("a__add", json!({"a": 1, "b": 2})).await;
    let unknown = bob.call("a__nope", json!({})).await;
    assert_eq!(denied["error"]["code"], -32602, "{denied}");
    assert_eq!(denied["error"]["message"], "Unknown tool: a__add");
    assert_eq!(unknown["error"]["message"], "Unknown tool: a__nope");
    assert_eq!(denied["error"].get("data"), unknown["error"].get("data"));
    let allowed = alice.call("a__add", json!({"a": 1, "b": 2})).await;
    assert_eq!(
        allowed["result"]["structuredContent"]["sum"], 3,
        "{allowed}"
    );

    // Prompts: an allow list.
    let bob_prompts = bob.names("prompts/list", "prompts", "name").await;
    assert_eq!(bob_prompts, ["a__greet"]);
    let alice_prompts = alice.names("prompts/list", "prompts", "name").await;
    assert!(alice_prompts.len() > 1, "{alice_prompts:?}");
    let r = bob
        .request("prompts/get", json!({"name": "a__prompt_0"}))
        .await;
    assert_eq!(r["error"]["message"], "Unknown prompt: a__prompt_0");
    let complete = |name: &str| json!({"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": "name", "value": "a"}});
    let r = bob
        .request("completion/complete", complete("a__prompt_0"))
        .await;
    assert_eq!(r["error"]["message"], "Unknown prompt: a__prompt_0", "{r}");
    let r = alice
        .request("completion/complete", complete("a__prompt_0"))
        .await;
    assert!(r["result"]["completion"].is_object(), "{r}");
    let complete = |name: &str| json!({"ref": {"type": "ref/prompt", "name": name}, "argument": {"name": "name", "value": "a"}});
    let r = bob
        .request("completion/complete", complete("a__prompt_0"))
        .await;
    assert_eq!(r["error"]["message"], "Unknown prompt: a__prompt_0", "{r}");
    let r = alice
        .request("completion/complete", complete("a__prompt_0"))
        .await;
    assert!(r["result"]["completion"].is_object(), "{r}");

    // Resources: hidden from the list, read, subscription and completion alike.
    let uri = "a+testkit://a/res/1";
    let bob_resources = bob.names("resources/list", "resources", "uri").await;
    assert!(
        !bob_resources.contains(&uri.to_string()),
        "{bob_resources:?}"
    );
    assert!(alice
        .names("resources/list", "resources", "uri")
        .await
        .contains(&uri.to_string()));
    let denied = bob.request("resources/read", json!({"uri": uri})).await;
    let missing = bob
        .request("resources/read", json!({"uri": "a+testkit://a/res/99"}))
        .await;
    assert_eq!(
        denied["error"]["code"], missing["error"]["code"],
        "{denied}"
    );
    assert_eq!(
        denied["error"]["message"],
        format!("Resource not found: {uri}")
    );
    let read = alice.request("resources/read", json!({"uri": uri})).await;
    assert!(read["result"]["contents"].is_array(), "{read}");
    let sub = bob
        .request("resources/subscribe", json!({"uri": uri}))
        .await;
    assert_eq!(sub["error"]["code"], missing["error"]["code"], "{sub}");

    // The denial is counted as such, not as an unknown name.
    let metrics = face.metrics().await;
    assert!(
        metrics
            .contains(r#"manifold_tool_calls_total{outcome="denied",server="a",tool="a__add"} 1"#),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_stdio_face_runs_as_its_configured_principal() {
    let toml = format!(
        "[auth]\nstdio_principal = \"ci-bot\"\n[[access]]\nprincipal = \"ci-bot\"\ntools = {{ allow = [\"a__echo\"] }}\n{}",
        server("a", &[], "")
    );
    let (mut gateway, _dir, _path) = stdio(&toml).await;
    let list = gateway.request(2, "tools/list", json!({})).await;
    assert_eq!(
        crate::common::names(&list["result"], "tools", "name"),
        ["a__echo"]
    );
    let r = gateway
        .call_tool(3, "a__add", json!({"a": 1, "b": 1}))
        .await;
    assert_eq!(r["error"]["message"], "Unknown tool: a__add", "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reloaded_view_sends_list_changed() {
    let tools = server("a", &[], "");
    let narrow =
        format!("[[access]]\nprincipal = \"local\"\ntools = {{ allow = [\"a__echo\"] }}\n{tools}");
    let (mut gateway, _dir, path) = stdio(&narrow).await;
    gateway
        .send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    let list = gateway.request(2, "tools/list", json!({})).await;
    assert_eq!(
        crate::common::names(&list["result"], "tools", "name"),
        ["a__echo"]
    );
    let pid = gateway.child.id().expect("pid");

    // The rule is gone from the file: after SIGHUP everything is visible.
    std::fs::write(&path, format!("[admin]\nlisten = \"off\"\n{tools}")).unwrap();
    assert_eq!(hangup(pid), 0);
    let note = gateway.recv().await;
    assert_eq!(note["method"], "notifications/tools/list_changed", "{note}");
    let list = gateway.request(3, "tools/list", json!({})).await;
    let names = crate::common::names(&list["result"], "tools", "name");
    assert!(names.contains(&"a__add".to_string()), "{names:?}");
    let r = gateway
        .call_tool(4, "a__add", json!({"a": 1, "b": 1}))
        .await;
    assert_eq!(r["result"]["structuredContent"]["sum"], 2, "{r}");
}

/// Sends SIGHUP to `pid`; the exit code of `kill`.
fn hangup(pid: u32) -> i32 {
    std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill")
        .code()
        .unwrap_or(-1)
}
