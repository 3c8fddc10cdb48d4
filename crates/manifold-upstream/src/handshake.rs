//! The legacy handshake with an upstream: `initialize` carrying the downstream client's identity,
//! version check, `notifications/initialized` (mcp-spec.md §1.1).

use manifold_protocol::{method, version};
use serde::Deserialize;

use crate::{ClientIdentity, ServerInfo, Upstream};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeResult {
    protocol_version: String,
    #[serde(default)]
    capabilities: serde_json::Value,
    #[serde(default)]
    server_info: serde_json::Value,
    #[serde(default)]
    instructions: Option<String>,
}

/// Runs the handshake on the current connection; returns what the upstream said or why it failed.
pub(crate) async fn initialize(
    up: &Upstream,
    identity: &ClientIdentity,
) -> Result<ServerInfo, String> {
    let params = serde_json::json!({
        "protocolVersion": identity.protocol_version,
        "capabilities": identity.capabilities,
        "clientInfo": identity.client_info,
    });
    let params = serde_json::value::to_raw_value(&params).map_err(|e| e.to_string())?;
    let raw = up
        .call(method::INITIALIZE, Some(&params), None, false)
        .await
        .map_err(|e| format!("initialize failed: {e}"))?;
    let result: InitializeResult =
        serde_json::from_str(raw.get()).map_err(|e| format!("malformed initialize result: {e}"))?;
    if !version::is_supported(&result.protocol_version) {
        return Err(format!(
            "upstream chose protocol version {:?}, which Manifold does not speak",
            result.protocol_version
        ));
    }
    let sender = up.inner.live.lock().sender.clone();
    if let Some(sender) = &sender {
        sender.set_protocol_version(&result.protocol_version);
    }
    up.notify(method::INITIALIZED, None).await;
    if let Some(sender) = &sender {
        sender.open_event_stream();
    }
    Ok(ServerInfo {
        protocol_version: result.protocol_version,
        capabilities: result.capabilities,
        server_info: result.server_info,
        instructions: result.instructions.filter(|s| !s.trim().is_empty()),
    })
}
