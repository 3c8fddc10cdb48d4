//! The client's identity, protocol version and capabilities as negotiated with Manifold and
//! forwarded to every upstream.

use rmcp::model::ClientConfig;
use serde_json::json;

use super::rmcp_upstream::from_json;
use super::support::{all_tool_names, call, connect, connect_with, three_upstreams};
use crate::common::write_config;

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

    // The rmcp upstream (over HTTP; rmcp 3 serves both eras, so the probe finds it modern) got
    // the same identity with each request.
    let r = call(&client, "rmcp__client_info", json!({})).await;
    let seen = r.structured_content.expect("client_info structuredContent");
    assert_eq!(seen["clientInfo"]["name"], "rmcp-e2e-client", "{seen}");
    assert_eq!(seen["clientInfo"]["version"], "9.8.7", "{seen}");
    assert_eq!(seen["protocolVersion"], "2026-07-28", "{seen}");
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
