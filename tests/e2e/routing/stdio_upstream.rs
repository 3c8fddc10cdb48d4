//! The rmcp example binary (`examples/rmcp_upstream.rs`) as a stdio upstream next to a testkit
//! and the same server over HTTP: instructions, paged discovery, calls, reads, prompts, completion.

use std::path::PathBuf;
use std::sync::OnceLock;

use rmcp::model::GetPromptRequestParams;
use serde_json::json;

use super::rmcp_upstream::RmcpUpstream;
use super::support::{
    all_tool_names, args, call, connect, http_server, prefixed, read, set_of, start_rmcp_http,
    testkit_tools, to_json, within,
};
use crate::common::{self, testkit_server, write_config};

/// The `rmcp_upstream` example binary, (re)built once per test process: `cargo test --test
/// routing` does not build examples by itself.
fn rmcp_example_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let bin = common::manifold_bin()
                .with_file_name("examples")
                .join("rmcp_upstream");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = std::process::Command::new(cargo)
                .args([
                    "build",
                    "--quiet",
                    "--example",
                    "rmcp_upstream",
                    "--manifest-path",
                ])
                .arg(common::repo_root().join("Cargo.toml"))
                .status()
                .expect("run cargo build --example rmcp_upstream");
            assert!(
                status.success(),
                "cargo build --example rmcp_upstream failed"
            );
            assert!(bin.exists(), "{} missing after the build", bin.display());
            bin
        })
        .clone()
}

/// A `[servers.<alias>]` block running the rmcp example over stdio.
fn rmcp_stdio_server(alias: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
    format!(
        "[servers.{alias}]\ncommand = {:?}\nargs = [{}]\n{extra}\n",
        rmcp_example_bin().display().to_string(),
        args.join(", ")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_stdio_upstream_from_the_example_binary() {
    let rmcp = start_rmcp_http(0).await;
    let text = format!(
        "{}{}{}",
        rmcp_stdio_server("local", &["--page-size", "1", "--label", "stdio"], ""),
        testkit_server("alpha", &["--name", "alpha"], ""),
        http_server("remote", &rmcp.url, ""),
    );
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let info = to_json(&*client.peer_info().expect("server info"));
    let instructions = info["instructions"].as_str().unwrap_or_default();
    assert!(
        instructions.contains("## local\nrmcp upstream stdio"),
        "{instructions:?}"
    );
    assert!(
        instructions.contains("## remote\nrmcp upstream http"),
        "{instructions:?}"
    );

    // Discovery followed the example's one-item pages.
    let names = all_tool_names(&client).await;
    let mut expected = prefixed("local", &RmcpUpstream::tool_names());
    expected.extend(prefixed("alpha", &testkit_tools(&[])));
    expected.extend(prefixed("remote", &RmcpUpstream::tool_names()));
    assert_eq!(set_of("tools", names), set_of("expected", expected));

    let r = call(&client, "local__sum", json!({ "a": 20, "b": 22 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 42 })));
    let r = call(
        &client,
        "local__reflect",
        json!({ "k": [1, { "v": null }] }),
    )
    .await;
    let structured = r.structured_content.expect("structuredContent");
    assert_eq!(structured["arguments"], json!({ "k": [1, { "v": null }] }));
    assert_eq!(structured["server"], "rmcp-stdio");
    let r = call(&client, "local__client_info", json!({})).await;
    let seen = r.structured_content.expect("client_info");
    assert_eq!(seen["clientInfo"]["name"], "rmcp-e2e-client", "{seen}");

    assert_eq!(
        read(&client, "local+memo://notes/2").await,
        (
            "local+memo://notes/2".to_string(),
            "note number 2".to_string()
        )
    );
    let mut haiku = GetPromptRequestParams::new("local__haiku");
    haiku.arguments = Some(args(json!({ "topic": "snow" })));
    let r = to_json(
        &within("haiku", client.get_prompt(haiku))
            .await
            .expect("prompts/get"),
    );
    assert_eq!(
        r["messages"][0]["content"]["text"], "Write a plain haiku about snow",
        "{r}"
    );
    assert_eq!(
        r["messages"][1]["content"]["uri"], "local+memo://notes/1",
        "{r}"
    );
    let got = within(
        "complete",
        client.complete_resource_simple("local+memo://notes/{id}", "id", "3"),
    )
    .await
    .expect("completion/complete");
    assert_eq!(got, vec!["3".to_string()]);

    client.cancel().await.expect("client shutdown");
}
