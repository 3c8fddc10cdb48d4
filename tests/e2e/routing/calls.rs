//! Requests routed to their owner: tool calls with arguments and results intact, reads of
//! namespaced URIs, prompts, completions, and resource links that stay readable.

use rmcp::model::{
    CallToolRequestParams, ContentBlock, GetPromptRequestParams, ReadResourceRequestParams,
};
use serde_json::json;

use super::support::{
    args, call, connect, read, rpc_error, texts, three_upstreams, to_json, within,
};
use crate::common::write_config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_reach_each_upstream_with_arguments_and_results_intact() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let unicode = "héllo \"wörld\" \\ 🦀\nline two\t✓";
    let r = call(&client, "alpha__echo", json!({ "text": unicode })).await;
    assert_eq!(texts(&r.content), vec![unicode.to_string()]);
    assert_ne!(r.is_error, Some(true));

    let r = call(&client, "beta__add", json!({ "a": 2, "b": 40 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 42 })));
    assert_eq!(texts(&r.content), vec!["42".to_string()]);

    let r = call(&client, "rmcp__sum", json!({ "a": 1.25, "b": 2 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 3.25 })), "{r:?}");
    assert_eq!(texts(&r.content), vec!["3.25".to_string()]);

    let r = call(&client, "rmcp__shout", json!({ "text": "quiet, ünïcode" })).await;
    assert_eq!(texts(&r.content), vec!["QUIET, ÜNÏCODE".to_string()]);

    // Arbitrary argument shapes arrive exactly as sent (nested, null, big integers, order).
    let sent = json!({
        "zeta": 1, "alpha": [1, 2.5, "three", null, true, { "deep": { "deeper": [] } }],
        "big": 9007199254740993_u64, "neg": -17, "empty": {}, "s": "a\u{0000}b",
    });
    let r = call(&client, "rmcp__reflect", sent.clone()).await;
    let structured = r.structured_content.expect("structuredContent");
    assert_eq!(structured["arguments"], sent);
    assert_eq!(structured["server"], "rmcp-http");

    // Tool failures stay results; unknown tools are -32602.
    let r = call(&client, "alpha__fail", json!({ "message": "on purpose" })).await;
    assert_eq!(r.is_error, Some(true));
    assert_eq!(texts(&r.content), vec!["on purpose".to_string()]);
    let r = call(&client, "rmcp__sum", json!({ "a": "x", "b": 1 })).await;
    assert_eq!(r.is_error, Some(true), "{r:?}");
    for name in ["rmcp__nope", "nope", "gamma__echo", "sum"] {
        let e = rpc_error(
            within(
                name,
                client.call_tool(CallToolRequestParams::new(name.to_string())),
            )
            .await,
        );
        assert_eq!(e.code.0, -32602, "{name}: {e:?}");
        assert!(e.message.contains(name), "{name}: {e:?}");
    }

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_use_namespaced_uris_and_return_rewritten_contents() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let cases = [
        ("alpha+testkit://alpha/res/1", "resource 1 of alpha"),
        ("beta+testkit://beta/res/0", "resource 0 of beta"),
        ("beta+testkit://beta/tpl/42", "template 42 of beta"),
        ("rmcp+memo://notes/2", "note number 2"),
        // A template instance that is not in resources/list.
        ("rmcp+memo://notes/17", "note number 17"),
    ];
    for (uri, expected) in cases {
        let (got_uri, got_text) = read(&client, uri).await;
        assert_eq!(got_uri, uri, "contents uri must be the downstream one");
        assert_eq!(got_text, expected, "{uri}");
    }

    // Unknown resources come back as errors, not as empty contents.
    for uri in ["rmcp+memo://notes/0", "alpha+testkit://alpha/res/99"] {
        let e = rpc_error(
            within(
                uri,
                client.read_resource(ReadResourceRequestParams::new(uri)),
            )
            .await,
        );
        assert!(
            e.message.contains("memo://notes/0") || e.message.contains("res/99"),
            "{e:?}"
        );
    }

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_get_routes_to_the_owner_and_rewrites_links() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let mut greet = GetPromptRequestParams::new("beta__greet");
    greet.arguments = Some(args(json!({ "name": "Ada Lovelace" })));
    let r = within("prompts/get beta__greet", client.get_prompt(greet))
        .await
        .expect("prompts/get");
    let r = to_json(&r);
    assert_eq!(
        r["messages"][0]["content"]["text"], "Hello, Ada Lovelace!",
        "{r}"
    );

    let mut haiku = GetPromptRequestParams::new("rmcp__haiku");
    haiku.arguments = Some(args(json!({ "topic": "rust", "style": "terse" })));
    let r = within("prompts/get rmcp__haiku", client.get_prompt(haiku))
        .await
        .expect("prompts/get");
    let r = to_json(&r);
    assert_eq!(r["description"], "A terse haiku", "{r}");
    assert_eq!(r["messages"][0]["role"], "user", "{r}");
    assert_eq!(
        r["messages"][0]["content"]["text"], "Write a terse haiku about rust",
        "{r}"
    );
    assert_eq!(r["messages"][1]["content"]["type"], "resource_link", "{r}");
    assert_eq!(
        r["messages"][1]["content"]["uri"], "rmcp+memo://notes/1",
        "{r}"
    );

    // The upstream's own error for a missing required argument comes back as an error.
    let e = rpc_error(
        within(
            "prompts/get without topic",
            client.get_prompt(GetPromptRequestParams::new("rmcp__haiku")),
        )
        .await,
    );
    assert!(e.message.contains("topic"), "{e:?}");
    let e = rpc_error(
        within(
            "unknown prompt",
            client.get_prompt(GetPromptRequestParams::new("rmcp__limerick")),
        )
        .await,
    );
    assert_eq!(e.code.0, -32602, "{e:?}");

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_by_prompt_ref_and_by_template_ref() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let cases: [(&str, &str, &str, &[&str]); 3] = [
        ("alpha__greet", "name", "b", &["bob"]),
        ("rmcp__haiku", "topic", "r", &["rain", "river", "rust"]),
        (
            "rmcp__haiku",
            "topic",
            "",
            &["rain", "river", "rust", "snow"],
        ),
    ];
    for (prompt, arg, value, expected) in cases {
        let got = within(prompt, client.complete_prompt_simple(prompt, arg, value))
            .await
            .unwrap_or_else(|e| panic!("complete {prompt}.{arg}: {e}"));
        assert_eq!(got, expected, "{prompt}.{arg}={value:?}");
    }

    let cases: [(&str, &str, &[&str]); 3] = [
        ("beta+testkit://beta/tpl/{id}", "", &["1", "2", "3"]),
        ("rmcp+memo://notes/{id}", "", &["1", "2", "3"]),
        ("rmcp+memo://notes/{id}", "2", &["2"]),
    ];
    for (template, value, expected) in cases {
        let got = within(
            template,
            client.complete_resource_simple(template, "id", value),
        )
        .await
        .unwrap_or_else(|e| panic!("complete {template}: {e}"));
        assert_eq!(got, expected, "{template} id={value:?}");
    }

    let e = rpc_error(
        within(
            "complete an unknown prompt",
            client.complete_prompt_simple("rmcp__limerick", "topic", ""),
        )
        .await,
    );
    assert_eq!(e.code.0, -32602, "{e:?}");

    client.cancel().await.expect("client shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_in_tool_results_are_namespaced_and_readable() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let r = call(&client, "alpha__link", json!({})).await;
    let link = match &r.content[0] {
        ContentBlock::ResourceLink(link) => link.clone(),
        other => panic!("expected a resource_link, got {other:?}"),
    };
    assert_eq!(link.uri, "alpha+testkit://alpha/res/0");
    let embedded = to_json(&r.content[1]);
    assert_eq!(
        embedded["resource"]["uri"], "alpha+testkit://alpha/res/0",
        "{embedded}"
    );
    let (uri, text) = read(&client, &link.uri).await;
    assert_eq!(uri, link.uri);
    assert_eq!(text, "resource 0 of alpha");
    assert_eq!(embedded["resource"]["text"], text);

    let r = call(&client, "rmcp__note_link", json!({ "n": 3 })).await;
    assert_eq!(texts(&r.content), vec!["see note 3".to_string()]);
    let link = match &r.content[1] {
        ContentBlock::ResourceLink(link) => link.clone(),
        other => panic!("expected a resource_link, got {other:?}"),
    };
    assert_eq!(link.uri, "rmcp+memo://notes/3");
    assert_eq!(
        read(&client, &link.uri).await,
        (link.uri.clone(), "note number 3".into())
    );

    client.cancel().await.expect("client shutdown");
}
