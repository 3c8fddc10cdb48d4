//! Names Manifold serves: include/exclude filters, pass-through collisions decided by file order,
//! and long names shortened to 64 characters.

use rmcp::model::{CallToolRequestParams, GetPromptRequestParams, ReadResourceRequestParams};
use serde_json::json;

use super::rmcp_upstream::RmcpUpstream;
use super::support::{
    all_tool_names, call, connect, http_server, prefixed, read, rpc_error, set_of, start_rmcp_http,
    testkit_tools, texts, to_json, within,
};
use crate::common::{testkit_server, write_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_and_exclude_filters_hide_items_and_their_calls() {
    let rmcp = start_rmcp_http(2).await;
    let text = format!(
        "{}{}{}",
        testkit_server(
            "alpha",
            &["--name", "alpha"],
            "tools = { include = [\"e*\", \"whoami\"] }\nresources = { exclude = [\"*/res/1\"] }",
        ),
        testkit_server(
            "beta",
            &["--name", "beta", "--tools", "3"],
            "tools = { exclude = [\"gen_*\", \"crash\", \"hang\"] }\nprompts = { exclude = [\"greet\"] }",
        ),
        http_server(
            "rmcp",
            &rmcp.url,
            "tools = { include = [\"s*\"], exclude = [\"shout\"] }\nprompts = { include = [\"haiku\"] }",
        ),
    );
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let names = all_tool_names(&client).await;
    let mut expected: Vec<String> = vec!["alpha__echo".into(), "alpha__whoami".into()];
    expected.extend(prefixed(
        "beta",
        &[
            "echo", "add", "fail", "sleep", "garbage", "big", "link", "whoami", "toggle", "sample",
        ],
    ));
    expected.push("rmcp__sum".into());
    assert_eq!(set_of("tools", names), set_of("expected", expected));

    for name in [
        "alpha__add",
        "beta__gen_0",
        "beta__crash",
        "rmcp__shout",
        "rmcp__reflect",
    ] {
        let e = rpc_error(
            within(
                name,
                client.call_tool(CallToolRequestParams::new(name.to_string())),
            )
            .await,
        );
        assert_eq!(e.code.0, -32602, "{name}: {e:?}");
    }
    // What is left still works.
    let r = call(&client, "rmcp__sum", json!({ "a": 1, "b": 1 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 2 })));
    let r = call(&client, "alpha__echo", json!({ "text": "kept" })).await;
    assert_eq!(texts(&r.content), vec!["kept".to_string()]);

    let prompts: Vec<String> = within("prompts", client.list_all_prompts())
        .await
        .expect("prompts/list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        set_of("prompts", prompts),
        set_of(
            "expected",
            vec!["alpha__greet".into(), "rmcp__haiku".into()]
        )
    );
    let e = rpc_error(
        within(
            "excluded prompt",
            client.get_prompt(GetPromptRequestParams::new("beta__greet")),
        )
        .await,
    );
    assert_eq!(e.code.0, -32602, "{e:?}");

    let resources: Vec<String> = within("resources", client.list_all_resources())
        .await
        .expect("resources/list")
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert!(
        !resources.contains(&"alpha+testkit://alpha/res/1".to_string()),
        "{resources:?}"
    );
    assert!(
        resources.contains(&"alpha+testkit://alpha/res/0".to_string()),
        "{resources:?}"
    );
    assert!(
        resources.contains(&"beta+testkit://beta/res/1".to_string()),
        "{resources:?}"
    );

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_resources_are_not_readable() {
    let text = testkit_server(
        "alpha",
        &["--name", "alpha"],
        "resources = { exclude = [\"*/res/1\"] }",
    );
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;
    // Listed ones read fine; the excluded one must fail like an excluded tool or prompt does.
    assert_eq!(
        read(&client, "alpha+testkit://alpha/res/0").await.1,
        "resource 0 of alpha"
    );
    let hidden = "alpha+testkit://alpha/res/1";
    let result = within(
        hidden,
        client.read_resource(ReadResourceRequestParams::new(hidden)),
    )
    .await;
    let e = rpc_error(result);
    assert!(e.message.contains("res/1"), "{e:?}");
    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pass_through_collisions_go_to_the_earlier_server_in_file_order() {
    // `zeta` comes first in the file but last alphabetically: file order must decide.
    let rmcp = start_rmcp_http(2).await;
    let text = format!(
        "{}{}{}",
        testkit_server("zeta", &["--name", "zeta"], "namespace = \"\""),
        testkit_server(
            "alpha",
            &["--name", "alpha", "--tools", "1"],
            "namespace = \"\""
        ),
        http_server("rmcp", &rmcp.url, "namespace = \"\""),
    );
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let names = all_tool_names(&client).await;
    let mut expected = testkit_tools(&["gen_0"]);
    expected.extend(RmcpUpstream::tool_names().iter().map(|s| s.to_string()));
    assert_eq!(set_of("tools", names), set_of("expected", expected));

    // `link` exists on both testkits: zeta's answers (its URIs name it), unrewritten.
    let r = call(&client, "link", json!({})).await;
    let r = to_json(&r);
    assert_eq!(r["content"][0]["uri"], "testkit://zeta/res/0", "{r}");
    // alpha's only-once tool is reachable, and so are rmcp's.
    let r = call(&client, "gen_0", json!({ "text": "from alpha" })).await;
    assert_eq!(texts(&r.content), vec!["from alpha".to_string()]);
    let r = call(&client, "shout", json!({ "text": "pass" })).await;
    assert_eq!(texts(&r.content), vec!["PASS".to_string()]);

    // Prompts collide too (`greet` once); resources don't (their URIs differ).
    let prompts: Vec<String> = within("prompts", client.list_all_prompts())
        .await
        .expect("prompts/list")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        set_of("prompts", prompts),
        set_of(
            "expected",
            vec!["greet".into(), "haiku".into(), "summary".into()]
        )
    );
    let resources = within("resources", client.list_all_resources())
        .await
        .expect("resources/list");
    assert_eq!(resources.len(), 3 + 3 + 3, "{resources:?}");
    assert_eq!(
        read(&client, "testkit://alpha/res/2").await.1,
        "resource 2 of alpha"
    );
    assert_eq!(
        read(&client, "testkit://zeta/res/2").await.1,
        "resource 2 of zeta"
    );
    let (uri, text) = read(&client, "memo://notes/3").await;
    assert_eq!(
        (uri.as_str(), text.as_str()),
        ("memo://notes/3", "note number 3")
    );

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_names_are_shortened_within_64_characters_and_callable() {
    let alias = "a-rather-long-namespace-for-tests";
    let text = format!(
        "{}{}",
        testkit_server(alias, &["--long-names"], ""),
        testkit_server("beta", &["--name", "beta", "--long-names"], ""),
    );
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let upstream_long = format!("long_{}", "x".repeat(55));
    let names = all_tool_names(&client).await;
    for name in &names {
        assert!(name.len() <= 64, "{name} is {} characters", name.len());
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)),
            "{name}"
        );
    }
    let full = format!("{alias}__{upstream_long}");
    assert!(full.len() > 64);
    let short: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with(&format!("{alias}__long_")))
        .collect();
    assert_eq!(short.len(), 1, "{names:?}");
    let short = short[0].clone();
    assert_eq!(short.len(), 64, "{short}");
    assert_eq!(&short[..55], &full[..55]);
    assert_eq!(&short[55..56], "_");
    assert!(
        short[56..].chars().all(|c| c.is_ascii_hexdigit()),
        "{short}"
    );
    // "beta__" + 60 characters is 66: shortened too, and differently.
    let beta: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("beta__long_"))
        .collect();
    assert_eq!(beta.len(), 1, "{names:?}");
    assert_ne!(beta[0], &short);

    let r = call(&client, &short, json!({ "text": "through the short name" })).await;
    assert_eq!(
        texts(&r.content),
        vec!["through the short name".to_string()]
    );
    let r = call(&client, beta[0], json!({})).await;
    assert_eq!(texts(&r.content), vec![upstream_long.clone()]);
    // The unshortened name is not a name Manifold serves.
    let e = rpc_error(
        within(
            "full name",
            client.call_tool(CallToolRequestParams::new(full.clone())),
        )
        .await,
    );
    assert_eq!(e.code.0, -32602, "{e:?}");

    client.cancel().await.expect("client shutdown");
}
