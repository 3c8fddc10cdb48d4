//! The handshake with an upstream, in its era: the `auto` probe (`server/discover`, then
//! `initialize` if it is not modern), and the legacy handshake — `initialize` carrying the
//! downstream client's identity, version check, `notifications/initialized` (mcp-spec.md §1.1).

use manifold_protocol::{method, version};
use serde::Deserialize;

use crate::modern::{discover, Probed};
use crate::{ClientIdentity, Era, ServerInfo, TransportSpec, Upstream};
use manifold_transport::HttpProtocol;

/// Opens the session on the current connection in the upstream's era. An `auto` upstream is
/// probed once and the verdict kept for its later starts (per process on stdio, per server URL
/// over HTTP); a stdio one that fails during the probe (some servers exit on any request before
/// `initialize`) is started again as legacy.
pub(crate) async fn handshake(
    up: &Upstream,
    identity: &ClientIdentity,
) -> Result<ServerInfo, String> {
    let spec = &up.inner.spec;
    let http = matches!(spec.transport, TransportSpec::Http(_));
    // The deprecated HTTP+SSE transport has no 2026-07-28 era to probe for.
    let http_sse =
        matches!(&spec.transport, TransportSpec::Http(p) if p.protocol == HttpProtocol::LegacySse);
    let verdict = *up.inner.verdict.lock();
    let modern = match (spec.era, verdict) {
        (Era::Legacy, _) => false,
        (Era::Auto, _) if http_sse => false,
        (Era::Modern, _) => true,
        (Era::Auto, Some(known)) => known,
        (Era::Auto, None) => {
            let probed = discover(up, identity, true).await;
            return match probed {
                Ok(Probed::Modern(info)) => {
                    *up.inner.verdict.lock() = Some(true);
                    tracing::info!("upstream speaks 2026-07-28");
                    Ok(info)
                }
                Ok(Probed::Legacy) => {
                    *up.inner.verdict.lock() = Some(false);
                    initialize(up, identity).await
                }
                // An HTTP server that failed the probe (a legacy one answering 400 without a
                // JSON-RPC error, say) is asked to `initialize` at once; only its success
                // makes the verdict, so a server that was down is probed again next time.
                Err(e) if http => {
                    let info = initialize(up, identity)
                        .await
                        .map_err(|i| format!("{e}; then {i}"))?;
                    *up.inner.verdict.lock() = Some(false);
                    Ok(info)
                }
                Err(e) => {
                    *up.inner.verdict.lock() = Some(false);
                    Err(format!(
                        "{e} (during the era probe: it starts again as legacy)"
                    ))
                }
            };
        }
    };
    if modern {
        match discover(up, identity, false).await? {
            Probed::Modern(info) => Ok(info),
            Probed::Legacy => Err("upstream is not a 2026-07-28 server".to_string()),
        }
    } else {
        initialize(up, identity).await
    }
}

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
    if let Some(sender) = up.inner.live.lock().sender.clone() {
        // After a probe over HTTP: the legacy era again, with its session.
        sender.set_modern(false);
    }
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
