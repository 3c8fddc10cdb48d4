//! End-to-end routing through `manifold serve --stdio`, driven by a real MCP client: `rmcp`, the
//! official Rust SDK, spawning Manifold with its `TokioChildProcess` transport.
//!
//! Behind Manifold: two testkit upstreams (stdio) and an `rmcp` server
//! (`examples/rmcp_upstream.rs`), served in-process over Streamable HTTP (rmcp's
//! `StreamableHttpService` under axum, so Manifold's HTTP upstream path is covered too) and, in
//! one test, run as the example binary over stdio.
//!
//! Covered: namespaced lists from every upstream, calls with arguments/results/structured content
//! intact, reads with namespaced URIs and rewritten contents, prompts, completions by prompt and
//! by template reference, Manifold's own pagination walked with rmcp's cursor API, include/exclude
//! filters, collisions between pass-through servers, shortened long names, the client identity
//! forwarded upstream, and resource links that stay readable through Manifold.

mod common;
#[path = "../examples/rmcp_upstream.rs"]
mod rmcp_upstream;

use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ContentBlock, GetPromptRequestParams,
    PaginatedRequestParams, ReadResourceRequestParams, ResourceContents,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

use common::{testkit_server, write_config, RECV_TIMEOUT};
use rmcp_upstream::{from_json, RmcpUpstream};

type Client = RunningService<RoleClient, ClientConfig>;

/// Fails the test if `fut` takes longer than the harness's per-message timeout.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(RECV_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {RECV_TIMEOUT:?}: {what}"))
}

/// The identity and capabilities the rmcp client declares (sampling and roots included, so the
/// forwarding of client capabilities to upstreams is visible).
fn client_config() -> ClientConfig {
    from_json(json!({
        "protocolVersion": "2025-11-25",
        "capabilities": { "sampling": {}, "roots": { "listChanged": true } },
        "clientInfo": { "name": "rmcp-e2e-client", "version": "9.8.7" },
    }))
}

/// Spawns `manifold serve --stdio --config <config>` through rmcp's child-process transport and
/// completes the MCP handshake with `handler`'s identity.
async fn connect_with(config: &Path, handler: ClientConfig) -> Client {
    let mut cmd = tokio::process::Command::new(common::manifold_bin());
    cmd.args(["serve", "--stdio", "--config"]).arg(config);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let transport = TokioChildProcess::new(cmd).expect("spawn manifold");
    within("the initialize handshake", handler.serve(transport))
        .await
        .expect("rmcp client initializes against manifold")
}

async fn connect(config: &Path) -> Client {
    connect_with(config, client_config()).await
}

/// An rmcp server (`RmcpUpstream`) serving Streamable HTTP at `url` until the test ends.
struct RmcpHttp {
    url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RmcpHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_rmcp_http(page_size: usize) -> RmcpHttp {
    let service: StreamableHttpService<RmcpUpstream, LocalSessionManager> =
        StreamableHttpService::new(
            move || Ok(RmcpUpstream::new(page_size, "http")),
            Arc::default(),
            StreamableHttpServerConfig::default().with_sse_keep_alive(None),
        );
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("axum serve");
    });
    RmcpHttp {
        url: format!("http://{addr}/mcp"),
        task,
    }
}

/// A `[servers.<alias>]` block for a Streamable HTTP upstream.
fn http_server(alias: &str, url: &str, extra: &str) -> String {
    format!("[servers.{alias}]\nurl = {url:?}\n{extra}\n")
}

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

/// The testkit's tool names for a client that declared sampling (so `sample` is listed).
fn testkit_tools(extra: &[&str]) -> Vec<String> {
    let mut names: Vec<String> = [
        "echo", "add", "fail", "sleep", "hang", "crash", "garbage", "big", "link", "whoami",
        "toggle", "sample",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.extend(extra.iter().map(|s| s.to_string()));
    names
}

fn prefixed(ns: &str, names: &[impl AsRef<str>]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("{ns}__{}", n.as_ref()))
        .collect()
}

/// Sorted, asserting there are no duplicates.
fn set_of(what: &str, names: Vec<String>) -> BTreeSet<String> {
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(set.len(), names.len(), "duplicate {what} in {names:?}");
    set
}

fn args(value: Value) -> rmcp::model::JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, not {other}"),
    }
}

async fn call(client: &Client, name: &str, arguments: Value) -> CallToolResult {
    within(
        &format!("tools/call {name}"),
        client.call_tool(
            CallToolRequestParams::new(name.to_string()).with_arguments(args(arguments)),
        ),
    )
    .await
    .unwrap_or_else(|e| panic!("tools/call {name} failed: {e}"))
}

/// The JSON-RPC error of a request that must fail.
fn rpc_error<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> rmcp::ErrorData {
    match result {
        Err(ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error response, got {other:?}"),
    }
}

fn texts(content: &[ContentBlock]) -> Vec<String> {
    content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .collect()
}

/// The whole result as JSON (the wire form is what the assertions are about).
fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialize")
}

async fn read(client: &Client, uri: &str) -> (String, String) {
    let result = within(
        &format!("resources/read {uri}"),
        client.read_resource(ReadResourceRequestParams::new(uri)),
    )
    .await
    .unwrap_or_else(|e| panic!("resources/read {uri} failed: {e}"));
    assert_eq!(result.contents.len(), 1, "{result:?}");
    match &result.contents[0] {
        ResourceContents::TextResourceContents { uri, text, .. } => (uri.clone(), text.clone()),
        other => panic!("expected text contents, got {other:?}"),
    }
}

/// Every tool name through rmcp's own cursor-following helper.
async fn all_tool_names(client: &Client) -> Vec<String> {
    within("list_all_tools", client.list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// The standard fixture: testkits `alpha` and `beta`, the rmcp server `rmcp` over HTTP.
async fn three_upstreams(
    gateway: &str,
    alpha: &[&str],
    beta: &[&str],
    rmcp_extra: &str,
) -> (RmcpHttp, String) {
    let rmcp = start_rmcp_http(2).await;
    let mut alpha_args = vec!["--name", "alpha", "--instructions", "alpha rules"];
    alpha_args.extend_from_slice(alpha);
    let mut beta_args = vec!["--name", "beta"];
    beta_args.extend_from_slice(beta);
    let config = format!(
        "[gateway]\n{gateway}\n\n{}{}{}",
        testkit_server("alpha", &alpha_args, ""),
        testkit_server("beta", &beta_args, ""),
        http_server("rmcp", &rmcp.url, rmcp_extra),
    );
    (rmcp, config)
}

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

type Page = Result<(Vec<String>, Option<String>), ServiceError>;

async fn tool_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_tools(p).await?;
    Ok((
        r.tools.iter().map(|t| t.name.to_string()).collect(),
        r.next_cursor,
    ))
}

async fn prompt_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_prompts(p).await?;
    Ok((
        r.prompts.iter().map(|t| t.name.clone()).collect(),
        r.next_cursor,
    ))
}

async fn resource_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_resources(p).await?;
    Ok((
        r.resources.iter().map(|t| t.uri.clone()).collect(),
        r.next_cursor,
    ))
}

async fn template_page(c: &Client, p: Option<PaginatedRequestParams>) -> Page {
    let r = c.list_resource_templates(p).await?;
    let uris = r
        .resource_templates
        .iter()
        .map(|t| t.uri_template.clone())
        .collect();
    Ok((uris, r.next_cursor))
}

/// Walks a list page by page with explicit cursors; returns every page's item names.
async fn walk_pages<F, Fut>(what: &str, mut page: F) -> Vec<Vec<String>>
where
    F: FnMut(Option<PaginatedRequestParams>) -> Fut,
    Fut: Future<Output = Page>,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let params = cursor
            .clone()
            .map(|c| PaginatedRequestParams::default().with_cursor(Some(c)));
        let (items, next) = within(what, page(params))
            .await
            .unwrap_or_else(|e| panic!("{what} (cursor {cursor:?}): {e}"));
        pages.push(items);
        match next {
            Some(next) => {
                assert_ne!(
                    Some(&next),
                    cursor.as_ref(),
                    "{what}: cursor did not advance"
                );
                cursor = Some(next);
            }
            None => return pages,
        }
        assert!(pages.len() < 100, "{what}: more than 100 pages");
    }
}

fn assert_paged(what: &str, pages: &[Vec<String>], unpaged: &[String], page_size: usize) {
    let (last, full) = pages.split_last().expect("at least one page");
    for p in full {
        assert_eq!(
            p.len(),
            page_size,
            "{what}: every page but the last is full: {pages:?}"
        );
    }
    assert!(
        !last.is_empty() && last.len() <= page_size,
        "{what}: last page {last:?}"
    );
    let walked: Vec<String> = pages.concat();
    assert_eq!(
        set_of(what, walked.clone()),
        set_of(what, unpaged.to_vec()),
        "{what}: paged union differs from the one-page list"
    );
    assert_eq!(walked, unpaged, "{what}: pages keep the merged order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagination_walks_every_page_across_upstreams() {
    // Upstream pages of 2 (testkit --page-size 2, rmcp 2) under Manifold pages of 3.
    let upstream = [
        "--page-size",
        "2",
        "--tools",
        "5",
        "--prompts",
        "4",
        "--resources",
        "4",
    ];
    let (_rmcp_paged, paged) = three_upstreams("page_size = 3", &upstream, &upstream, "").await;
    let (_rmcp_flat, flat) = three_upstreams("page_size = 0", &upstream, &upstream, "").await;
    let (_d1, paged) = write_config(&paged);
    let (_d2, flat) = write_config(&flat);
    let (client, reference) = tokio::join!(connect(&paged), connect(&flat));

    let unpaged = walk_pages("flat tools/list", |p| tool_page(&reference, p)).await;
    assert_eq!(unpaged.len(), 1, "page_size 0 serves one page");
    let unpaged = unpaged.concat();
    let mut expected = prefixed(
        "alpha",
        &testkit_tools(&["gen_0", "gen_1", "gen_2", "gen_3", "gen_4"]),
    );
    expected.extend(prefixed(
        "beta",
        &testkit_tools(&["gen_0", "gen_1", "gen_2", "gen_3", "gen_4"]),
    ));
    expected.extend(prefixed("rmcp", &RmcpUpstream::tool_names()));
    assert_eq!(
        set_of("tools", unpaged.clone()),
        set_of("expected", expected)
    );
    let pages = walk_pages("tools/list", |p| tool_page(&client, p)).await;
    assert_eq!(pages.len(), unpaged.len().div_ceil(3), "{pages:?}");
    assert_paged("tools", &pages, &unpaged, 3);
    // rmcp's own cursor-following helper agrees.
    assert_eq!(all_tool_names(&client).await, unpaged);

    let unpaged = walk_pages("flat prompts/list", |p| prompt_page(&reference, p))
        .await
        .concat();
    assert_eq!(unpaged.len(), 2 * 5 + 2, "{unpaged:?}");
    let pages = walk_pages("prompts/list", |p| prompt_page(&client, p)).await;
    assert_paged("prompts", &pages, &unpaged, 3);

    let unpaged = walk_pages("flat resources/list", |p| resource_page(&reference, p))
        .await
        .concat();
    assert_eq!(unpaged.len(), 2 * 4 + 3, "{unpaged:?}");
    let pages = walk_pages("resources/list", |p| resource_page(&client, p)).await;
    assert_paged("resources", &pages, &unpaged, 3);

    let unpaged = walk_pages("flat templates", |p| template_page(&reference, p))
        .await
        .concat();
    let pages = walk_pages("templates", |p| template_page(&client, p)).await;
    assert_eq!(pages.len(), 1, "3 templates fit one page of 3: {pages:?}");
    assert_paged("templates", &pages, &unpaged, 3);

    // A cursor Manifold never issued is -32602.
    let bad = PaginatedRequestParams::default().with_cursor(Some("not-a-cursor".into()));
    let e = rpc_error(within("bad cursor", client.list_tools(Some(bad))).await);
    assert_eq!(e.code.0, -32602, "{e:?}");

    client.cancel().await.expect("client shutdown");
    reference.cancel().await.expect("client shutdown");
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whoami_shows_the_rmcp_clients_identity_and_capabilities_upstream() {
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect(&config).await;

    let r = call(&client, "alpha__whoami", json!({})).await;
    let who = r.structured_content.expect("whoami structuredContent");
    assert_eq!(who["clientInfo"]["name"], "rmcp-e2e-client", "{who}");
    assert_eq!(who["clientInfo"]["version"], "9.8.7", "{who}");
    assert_eq!(who["protocolVersion"], "2025-11-25", "{who}");
    assert!(who["capabilities"]["sampling"].is_object(), "{who}");
    assert!(who["capabilities"]["roots"].is_object(), "{who}");
    assert!(
        who["capabilities"].get("elicitation").is_none(),
        "not declared: {who}"
    );

    // The rmcp upstream (over HTTP) got the same identity.
    let r = call(&client, "rmcp__client_info", json!({})).await;
    let seen = r.structured_content.expect("client_info structuredContent");
    assert_eq!(seen["clientInfo"]["name"], "rmcp-e2e-client", "{seen}");
    assert_eq!(seen["clientInfo"]["version"], "9.8.7", "{seen}");
    assert_eq!(seen["protocolVersion"], "2025-11-25", "{seen}");
    assert!(seen["capabilities"]["sampling"].is_object(), "{seen}");
    assert!(seen["capabilities"]["roots"].is_object(), "{seen}");

    client.cancel().await.expect("client shutdown");

    // A client declaring nothing: nothing is declared upstream (`sample` is then not listed).
    let plain: ClientConfig = from_json(json!({
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": { "name": "bare", "version": "0" },
    }));
    let client = connect_with(&config, plain).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.protocol_version.to_string(), "2025-06-18");
    let r = call(&client, "beta__whoami", json!({})).await;
    let who = r.structured_content.expect("whoami structuredContent");
    assert_eq!(who["clientInfo"]["name"], "bare", "{who}");
    assert_eq!(who["protocolVersion"], "2025-06-18", "{who}");
    for cap in ["sampling", "roots", "elicitation"] {
        assert!(who["capabilities"].get(cap).is_none(), "{cap}: {who}");
    }
    let names = all_tool_names(&client).await;
    assert!(!names.iter().any(|n| n.ends_with("__sample")), "{names:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_rmcp_client_negotiates_a_version_manifold_supports() {
    // rmcp's default client asks for its newest protocol version; Manifold answers with one it
    // supports and the session works.
    let (_rmcp, text) = three_upstreams("", &[], &[], "").await;
    let (_dir, config) = write_config(&text);
    let client = connect_with(&config, ClientConfig::default()).await;
    let info = client.peer_info().expect("server info");
    assert_eq!(info.protocol_version.to_string(), "2025-11-25");
    let r = call(&client, "rmcp__sum", json!({ "a": -1, "b": 1 })).await;
    assert_eq!(r.structured_content, Some(json!({ "sum": 0 })));
    let r = call(&client, "alpha__whoami", json!({})).await;
    let who = r.structured_content.expect("whoami");
    assert_eq!(who["protocolVersion"], "2025-11-25", "{who}");
    client.cancel().await.expect("client shutdown");
}

// ---------------------------------------------------------------------------------------------
// Every message Manifold writes on its stdio face, checked against the official JSON Schema.
// ---------------------------------------------------------------------------------------------

/// The MCP 2025-11-25 JSON Schema, with a validator for the keywords it uses (an unknown keyword
/// fails the test rather than being skipped).
struct SpecSchema {
    root: Value,
}

impl SpecSchema {
    fn load() -> SpecSchema {
        let rel = "spec-schemas/2025-11-25/schema.json";
        let candidates = [
            common::repo_root().join("../shared").join(rel),
            PathBuf::from("/work/shared").join(rel),
        ];
        let path = candidates
            .iter()
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("the MCP JSON Schema is not at any of {candidates:?}"));
        let text = std::fs::read_to_string(path).expect("read schema.json");
        SpecSchema {
            root: serde_json::from_str(&text).expect("schema.json is JSON"),
        }
    }

    fn def(&self, name: &str) -> &Value {
        self.root["$defs"]
            .get(name)
            .unwrap_or_else(|| panic!("schema has no $defs/{name}"))
    }

    /// Checks `value` against `$defs/<def>`.
    fn validate(&self, def: &str, value: &Value) -> Result<(), String> {
        self.check(self.def(def), value, def)
    }

    fn check(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let Some(schema) = schema.as_object() else {
            return match schema {
                Value::Bool(true) => Ok(()),
                _ => Err(format!("{at}: unsupported schema {schema}")),
            };
        };
        for (key, rule) in schema {
            match key.as_str() {
                "description" | "format" | "$schema" | "title" | "default" => {}
                "$ref" => {
                    let name = rule
                        .as_str()
                        .and_then(|r| r.strip_prefix("#/$defs/"))
                        .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                    self.check(self.def(name), v, &format!("{at}→{name}"))?;
                }
                "type" => {
                    let types: Vec<&str> = match rule {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => panic!("unsupported type rule {rule}"),
                    };
                    if !types.iter().any(|t| type_matches(t, v)) {
                        return Err(format!("{at}: expected {types:?}, got {v}"));
                    }
                }
                "const" => {
                    if v != rule {
                        return Err(format!("{at}: expected {rule}, got {v}"));
                    }
                }
                "enum" => {
                    if !rule.as_array().is_some_and(|options| options.contains(v)) {
                        return Err(format!("{at}: {v} is not one of {rule}"));
                    }
                }
                "required" => {
                    if let Some(obj) = v.as_object() {
                        for name in rule.as_array().into_iter().flatten() {
                            let name = name.as_str().unwrap_or_default();
                            if !obj.contains_key(name) {
                                return Err(format!("{at}: missing required `{name}` in {v}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(obj), Some(props)) = (v.as_object(), rule.as_object()) {
                        for (name, sub) in props {
                            if let Some(item) = obj.get(name) {
                                self.check(sub, item, &format!("{at}.{name}"))?;
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(obj) = v.as_object() {
                        let known = schema.get("properties").and_then(Value::as_object);
                        for (name, item) in obj {
                            if known.is_some_and(|k| k.contains_key(name)) {
                                continue;
                            }
                            match rule {
                                Value::Bool(false) => {
                                    return Err(format!("{at}: unexpected property `{name}`"))
                                }
                                Value::Bool(true) => {}
                                sub => self.check(sub, item, &format!("{at}.{name}"))?,
                            }
                        }
                    }
                }
                "items" => {
                    for (i, item) in v.as_array().into_iter().flatten().enumerate() {
                        self.check(rule, item, &format!("{at}[{i}]"))?;
                    }
                }
                "anyOf" => {
                    let options = rule.as_array().expect("anyOf array");
                    let errors: Vec<String> = options
                        .iter()
                        .filter_map(|o| self.check(o, v, at).err())
                        .collect();
                    if errors.len() == options.len() {
                        return Err(format!("{at}: matches no anyOf option: {errors:?}"));
                    }
                }
                "allOf" => {
                    for o in rule.as_array().expect("allOf array") {
                        self.check(o, v, at)?;
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(x), Some(limit)) = (v.as_f64(), rule.as_f64()) {
                        let ok = if key == "minimum" {
                            x >= limit
                        } else {
                            x <= limit
                        };
                        if !ok {
                            return Err(format!("{at}: {x} violates {key} {limit}"));
                        }
                    }
                }
                other => panic!("schema keyword `{other}` is not supported by this validator"),
            }
        }
        Ok(())
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => panic!("unsupported type {other}"),
    }
}

/// Which schema definition the result of `method` must satisfy.
fn result_def(method: &str) -> &'static str {
    match method {
        "initialize" => "InitializeResult",
        "ping" => "EmptyResult",
        "tools/list" => "ListToolsResult",
        "tools/call" => "CallToolResult",
        "prompts/list" => "ListPromptsResult",
        "prompts/get" => "GetPromptResult",
        "resources/list" => "ListResourcesResult",
        "resources/templates/list" => "ListResourceTemplatesResult",
        "resources/read" => "ReadResourceResult",
        "completion/complete" => "CompleteResult",
        other => panic!("no result definition for {other}"),
    }
}

/// One line seen on Manifold's stdio: `true` when Manifold wrote it.
type Tap = Arc<std::sync::Mutex<Vec<(bool, String)>>>;

/// Like [`connect`], but every line in both directions passes through (and is recorded by) a tap
/// between rmcp and Manifold's stdin/stdout.
async fn connect_tapped(config: &Path) -> (Client, Tap, tokio::process::Child) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let mut cmd = tokio::process::Command::new(common::manifold_bin());
    cmd.args(["serve", "--stdio", "--config"])
        .arg(config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let mut child = cmd.spawn().expect("spawn manifold");
    let mut to_manifold = child.stdin.take().expect("stdin");
    let from_manifold = child.stdout.take().expect("stdout");
    let (client_end, tap_end) = tokio::io::duplex(1 << 20);
    let (tap_read, mut tap_write) = tokio::io::split(tap_end);
    let tap: Tap = Arc::default();

    let log = tap.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(tap_read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push((false, line.clone()));
            if to_manifold
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
        // Dropping stdin is the EOF that shuts Manifold down.
    });
    let log = tap.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(from_manifold).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            log.lock().unwrap().push((true, line.clone()));
            if tap_write
                .write_all(format!("{line}\n").as_bytes())
                .await
                .is_err()
            {
                break;
            }
        }
    });

    let (read, write) = tokio::io::split(client_end);
    let client = within(
        "the initialize handshake",
        client_config().serve((read, write)),
    )
    .await
    .expect("rmcp client initializes against manifold");
    (client, tap, child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_manifold_writes_matches_the_mcp_schema() {
    let schema = SpecSchema::load();
    // Sanity: the validator rejects what the schema forbids.
    assert!(schema
        .validate("ListToolsResult", &json!({ "tools": [{}] }))
        .is_err());
    assert!(schema
        .validate(
            "CallToolResult",
            &json!({ "content": [{ "type": "text" }] })
        )
        .is_err());
    assert!(schema
        .validate(
            "JSONRPCMessage",
            &json!({ "jsonrpc": "1.0", "id": 1, "result": {} })
        )
        .is_err());

    let (_rmcp, text) = three_upstreams("page_size = 3", &["--tools", "2"], &[], "").await;
    let (_dir, config) = write_config(&text);
    let (client, tap, mut child) = connect_tapped(&config).await;

    // A workout touching every kind of response, including errors.
    walk_pages("tools", |p| tool_page(&client, p)).await;
    walk_pages("prompts", |p| prompt_page(&client, p)).await;
    walk_pages("resources", |p| resource_page(&client, p)).await;
    walk_pages("templates", |p| template_page(&client, p)).await;
    for (name, arguments) in [
        ("alpha__echo", json!({ "text": "schema" })),
        ("alpha__add", json!({ "a": 1, "b": 2 })),
        ("alpha__fail", json!({})),
        ("alpha__link", json!({})),
        ("beta__whoami", json!({})),
        ("rmcp__sum", json!({ "a": 1, "b": 2 })),
        ("rmcp__note_link", json!({ "n": 2 })),
    ] {
        call(&client, name, arguments).await;
    }
    let mut haiku = GetPromptRequestParams::new("rmcp__haiku");
    haiku.arguments = Some(args(json!({ "topic": "rain" })));
    within("prompt", client.get_prompt(haiku))
        .await
        .expect("prompts/get");
    let mut greet = GetPromptRequestParams::new("alpha__greet");
    greet.arguments = Some(args(json!({ "name": "x" })));
    within("prompt", client.get_prompt(greet))
        .await
        .expect("prompts/get");
    read(&client, "alpha+testkit://alpha/res/0").await;
    read(&client, "rmcp+memo://notes/1").await;
    within(
        "complete",
        client.complete_prompt_simple("alpha__greet", "name", ""),
    )
    .await
    .expect("complete");
    within(
        "complete",
        client.complete_resource_simple("rmcp+memo://notes/{id}", "id", ""),
    )
    .await
    .expect("complete");
    let _ = within(
        "unknown tool",
        client.call_tool(CallToolRequestParams::new("nope")),
    )
    .await;
    let bad = PaginatedRequestParams::default().with_cursor(Some("bad".into()));
    let _ = within("bad cursor", client.list_prompts(Some(bad))).await;
    let _ = within(
        "unknown resource",
        client.read_resource(ReadResourceRequestParams::new("rmcp+memo://notes/0")),
    )
    .await;

    client.cancel().await.expect("client shutdown");
    let status = within("manifold exit after EOF", child.wait())
        .await
        .expect("wait");
    assert!(status.success(), "manifold exited with {status}");

    let log = tap.lock().unwrap().clone();
    let mut methods = std::collections::HashMap::new();
    for (from_manifold, line) in &log {
        let m: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        if !from_manifold {
            if let (Some(id), Some(method)) = (m.get("id"), m["method"].as_str()) {
                methods.insert(id.to_string(), method.to_string());
            }
        }
    }
    let (mut results, mut errors) = (0, 0);
    let mut answered = BTreeSet::new();
    for (from_manifold, line) in log.iter().filter(|(out, _)| *out) {
        assert!(from_manifold);
        let m: Value = serde_json::from_str(line).expect("JSON");
        schema
            .validate("JSONRPCMessage", &m)
            .unwrap_or_else(|e| panic!("not a JSON-RPC message: {line}\n{e}"));
        if let Some(method) = m["method"].as_str() {
            let def = if m.get("id").is_some() {
                "ServerRequest"
            } else {
                "ServerNotification"
            };
            schema
                .validate(def, &m)
                .unwrap_or_else(|e| panic!("{method}: not a valid {def}: {line}\n{e}"));
            continue;
        }
        let id = m["id"].to_string();
        assert!(answered.insert(id.clone()), "two responses for id {id}");
        if m.get("error").is_some() {
            errors += 1;
            schema
                .validate("JSONRPCErrorResponse", &m)
                .unwrap_or_else(|e| panic!("{line}\n{e}"));
            continue;
        }
        results += 1;
        let method = methods
            .get(&id)
            .unwrap_or_else(|| panic!("response to an id the client never used: {line}"));
        let def = result_def(method);
        schema
            .validate(def, &m["result"])
            .unwrap_or_else(|e| panic!("{method} result is not a valid {def}: {line}\n{e}"));
    }
    assert_eq!(
        answered.len(),
        methods.len(),
        "every request answered exactly once"
    );
    assert!(results >= 20, "only {results} results checked");
    assert_eq!(errors, 3, "the three failing requests");
}
