//! Shared fixtures for the routing tests: the rmcp client connecting to `manifold serve --stdio`,
//! the in-process rmcp Streamable HTTP upstream, the standard three-upstream config, and small
//! helpers for calls, reads and name sets.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ContentBlock, ReadResourceRequestParams,
    ResourceContents,
};
use rmcp::service::{RoleClient, RunningService, ServiceError};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::transport::TokioChildProcess;
use rmcp::ServiceExt;
use serde_json::{json, Value};

use super::rmcp_upstream::{from_json, RmcpUpstream};
use crate::common::{self, testkit_server, RECV_TIMEOUT};

pub(crate) type Client = RunningService<RoleClient, ClientConfig>;

/// Fails the test if `fut` takes longer than the harness's per-message timeout.
pub(crate) async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(RECV_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {RECV_TIMEOUT:?}: {what}"))
}

/// The identity and capabilities the rmcp client declares (sampling and roots included, so the
/// forwarding of client capabilities to upstreams is visible).
pub(crate) fn client_config() -> ClientConfig {
    from_json(json!({
        "protocolVersion": "2025-11-25",
        "capabilities": { "sampling": {}, "roots": { "listChanged": true } },
        "clientInfo": { "name": "rmcp-e2e-client", "version": "9.8.7" },
    }))
}

/// Spawns `manifold serve --stdio --config <config>` through rmcp's child-process transport and
/// completes the MCP handshake with `handler`'s identity.
pub(crate) async fn connect_with(config: &Path, handler: ClientConfig) -> Client {
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

pub(crate) async fn connect(config: &Path) -> Client {
    connect_with(config, client_config()).await
}

/// An rmcp server (`RmcpUpstream`) serving Streamable HTTP at `url` until the test ends.
pub(crate) struct RmcpHttp {
    pub(crate) url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RmcpHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) async fn start_rmcp_http(page_size: usize) -> RmcpHttp {
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
pub(crate) fn http_server(alias: &str, url: &str, extra: &str) -> String {
    format!("[servers.{alias}]\nurl = {url:?}\n{extra}\n")
}

/// The testkit's tool names for a client that declared sampling (so `sample` is listed).
pub(crate) fn testkit_tools(extra: &[&str]) -> Vec<String> {
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

pub(crate) fn prefixed(ns: &str, names: &[impl AsRef<str>]) -> Vec<String> {
    names
        .iter()
        .map(|n| format!("{ns}__{}", n.as_ref()))
        .collect()
}

/// Sorted, asserting there are no duplicates.
pub(crate) fn set_of(what: &str, names: Vec<String>) -> BTreeSet<String> {
    let set: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(set.len(), names.len(), "duplicate {what} in {names:?}");
    set
}

pub(crate) fn args(value: Value) -> rmcp::model::JsonObject {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, not {other}"),
    }
}

pub(crate) async fn call<H: rmcp::ClientHandler>(
    client: &RunningService<RoleClient, H>,
    name: &str,
    arguments: Value,
) -> CallToolResult {
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
pub(crate) fn rpc_error<T: std::fmt::Debug>(result: Result<T, ServiceError>) -> rmcp::ErrorData {
    match result {
        Err(ServiceError::McpError(e)) => e,
        other => panic!("expected a JSON-RPC error response, got {other:?}"),
    }
}

pub(crate) fn texts(content: &[ContentBlock]) -> Vec<String> {
    content
        .iter()
        .filter_map(|c| match c {
            ContentBlock::Text(t) => Some(t.text.clone()),
            _ => None,
        })
        .collect()
}

/// The whole result as JSON (the wire form is what the assertions are about).
pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialize")
}

pub(crate) async fn read(client: &Client, uri: &str) -> (String, String) {
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
pub(crate) async fn all_tool_names(client: &Client) -> Vec<String> {
    within("list_all_tools", client.list_all_tools())
        .await
        .expect("tools/list")
        .into_iter()
        .map(|t| t.name.to_string())
        .collect()
}

/// The standard fixture: testkits `alpha` and `beta`, the rmcp server `rmcp` over HTTP.
pub(crate) async fn three_upstreams(
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
