//! The rmcp client with sampling, elicitation and roots handlers, through Manifold's stdio face to
//! the official `server-everything`: its client-feature tools reach the client and come back.
// Sampling and roots are deprecated in rmcp (SEP-2577) but are part of the 2025-11-25 protocol
// Manifold relays, so the test uses them.
#![allow(deprecated)]

use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ElicitRequestParams, ElicitResult,
    ListRootsResult,
};
use rmcp::service::{RequestContext, RoleClient};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, ServiceExt};
use serde_json::json;

use super::rmcp_upstream::from_json;
use super::support::{call, texts, within};
use crate::common::{manifold_bin, repo_root, write_config};

/// A client that can sample, elicit and list roots.
#[derive(Clone)]
struct FeatureClient;

impl ClientHandler for FeatureClient {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        from_json(json!({
            "protocolVersion": "2025-11-25",
            "capabilities": { "sampling": {}, "elicitation": {}, "roots": { "listChanged": true } },
            "clientInfo": { "name": "rmcp-features", "version": "1.0.0" },
        }))
    }

    async fn create_message(
        &self,
        _params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        Ok(from_json(json!({
            "role": "assistant", "content": { "type": "text", "text": "sampled by rmcp" }, "model": "rmcp-test"
        })))
    }

    async fn create_elicitation(
        &self,
        _request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        Ok(from_json(
            json!({ "action": "accept", "content": { "name": "rmcp" } }),
        ))
    }

    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(from_json(
            json!({ "roots": [{ "uri": "file:///tmp/rmcp-root", "name": "root" }] }),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sampling_elicitation_and_roots_reach_the_rmcp_client() {
    let everything = repo_root()
        .join("tests/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        everything.exists(),
        "run `scripts/test` (npm ci --prefix tests/npm)"
    );
    let (_dir, config) = write_config(&format!(
        "[servers.ev]\ncommand = \"node\"\nargs = [{:?}, \"stdio\"]\n",
        everything.display().to_string()
    ));
    let mut cmd = tokio::process::Command::new(manifold_bin());
    cmd.args(["serve", "--stdio", "--config"])
        .arg(&config)
        .env("RUST_LOG", "warn");
    let transport = TokioChildProcess::new(cmd).expect("spawn manifold");
    let client = within("the initialize handshake", FeatureClient.serve(transport))
        .await
        .expect("rmcp client initializes against manifold");
    let r = call(
        &client,
        "ev__trigger-sampling-request",
        json!({ "prompt": "hi" }),
    )
    .await;
    assert!(
        texts(&r.content).concat().contains("sampled by rmcp"),
        "{r:?}"
    );
    let r = call(&client, "ev__trigger-elicitation-request", json!({})).await;
    assert!(texts(&r.content).concat().contains("rmcp"), "{r:?}");
    let r = call(&client, "ev__get-roots-list", json!({})).await;
    assert!(
        texts(&r.content).concat().contains("file:///tmp/rmcp-root"),
        "{r:?}"
    );
    client.cancel().await.expect("client shutdown");
}
