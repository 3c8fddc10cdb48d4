//! The handshake (identity, capabilities, merged instructions) and the namespaced tool, prompt,
//! resource and template lists from two testkits and rmcp over HTTP.

use serde_json::json;

use super::rmcp_upstream::RmcpUpstream;
use super::support::{connect, prefixed, set_of, testkit_tools, three_upstreams, to_json, within};
use crate::common::write_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_namespaced_lists_from_two_testkits_and_rmcp_over_http() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let info = client.peer_info().expect("server info after initialize");
    let info = to_json(&*info);
    assert_eq!(info["protocolVersion"], "2025-11-25", "{info}");
    assert_eq!(info["serverInfo"]["name"], "manifold", "{info}");
    for cap in ["tools", "prompts", "resources"] {
        assert_eq!(info["capabilities"][cap]["listChanged"], true, "{info}");
    }
    assert!(info["capabilities"]["completions"].is_object(), "{info}");
    let instructions = info["instructions"].as_str().unwrap_or_default();
    assert!(
        instructions.contains("## alpha\nalpha rules"),
        "{instructions:?}"
    );
    assert!(
        instructions.contains("## rmcp\nrmcp upstream http"),
        "{instructions:?}"
    );

    // Tools: the rmcp server pages its list (2 per page); Manifold must have followed it.
    let tools = within("tools/list", client.list_tools(None))
        .await
        .expect("tools/list");
    assert!(tools.next_cursor.is_none(), "page_size 0 means one page");
    let names: Vec<String> = tools.tools.iter().map(|t| t.name.to_string()).collect();
    let mut expected = prefixed("alpha", &testkit_tools(&[]));
    expected.extend(prefixed("beta", &testkit_tools(&[])));
    expected.extend(prefixed("rmcp", &RmcpUpstream::tool_names()));
    assert_eq!(set_of("tools", names), set_of("expected tools", expected));

    // Schemas and descriptions survive the trip, including rmcp's outputSchema.
    let sum = tools
        .tools
        .iter()
        .find(|t| t.name == "rmcp__sum")
        .expect("rmcp__sum");
    let sum = to_json(sum);
    assert_eq!(sum["description"], "Adds a and b");
    assert_eq!(sum["inputSchema"]["required"], json!(["a", "b"]));
    assert_eq!(sum["outputSchema"]["properties"]["sum"]["type"], "number");
    let add = tools
        .tools
        .iter()
        .find(|t| t.name == "beta__add")
        .expect("beta__add");
    assert_eq!(to_json(add)["outputSchema"]["required"], json!(["sum"]));

    let prompts = within("prompts/list", client.list_all_prompts())
        .await
        .expect("prompts/list");
    let names: Vec<String> = prompts.iter().map(|p| p.name.clone()).collect();
    assert_eq!(
        set_of("prompts", names),
        set_of(
            "expected prompts",
            vec![
                "alpha__greet".into(),
                "beta__greet".into(),
                "rmcp__haiku".into(),
                "rmcp__summary".into()
            ]
        )
    );
    let haiku = to_json(
        prompts
            .iter()
            .find(|p| p.name == "rmcp__haiku")
            .expect("haiku"),
    );
    assert_eq!(haiku["arguments"][0]["name"], "topic", "{haiku}");
    assert_eq!(haiku["arguments"][0]["required"], true, "{haiku}");

    let resources = within("resources/list", client.list_all_resources())
        .await
        .expect("resources/list");
    let uris: Vec<String> = resources.iter().map(|r| r.uri.clone()).collect();
    let mut expected: Vec<String> = Vec::new();
    for ns in ["alpha", "beta"] {
        expected.extend((0..3).map(|i| format!("{ns}+testkit://{ns}/res/{i}")));
    }
    expected.extend((1..=3).map(|n| format!("rmcp+memo://notes/{n}")));
    assert_eq!(
        set_of("resources", uris),
        set_of("expected resources", expected)
    );
    let note = resources
        .iter()
        .find(|r| r.uri == "rmcp+memo://notes/2")
        .expect("note 2");
    assert_eq!(note.name, "note-2");
    assert_eq!(note.mime_type.as_deref(), Some("text/plain"));

    let templates = within(
        "resources/templates/list",
        client.list_all_resource_templates(),
    )
    .await
    .expect("resources/templates/list");
    let uris: Vec<String> = templates.iter().map(|t| t.uri_template.clone()).collect();
    assert_eq!(
        set_of("templates", uris),
        set_of(
            "expected templates",
            vec![
                "alpha+testkit://alpha/tpl/{id}".into(),
                "beta+testkit://beta/tpl/{id}".into(),
                "rmcp+memo://notes/{id}".into(),
            ]
        )
    );

    client.cancel().await.expect("client shutdown");
}
