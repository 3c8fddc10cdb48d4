//! A 2026-07-28 upstream (mcp-spec.md §1.2, §1.3): the era probe, `server/discover` in place of
//! `initialize`, and the `_meta` every stateless request carries (its client's protocol
//! version, capabilities and `clientInfo`), spliced into the request's own params.

use manifold_protocol::modern::{CLIENT_CAPABILITIES, CLIENT_INFO, PROTOCOL_VERSION};
use manifold_protocol::{code, method, version, RawValue};
use serde::Deserialize;

use crate::{CallError, ClientIdentity, ServerInfo, Upstream};

/// How long the `auto` probe waits on a silent stdio upstream before calling it legacy.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the `auto` probe found.
pub(crate) enum Probed {
    /// A modern server: what it discovered.
    Modern(ServerInfo),
    /// A legacy server (it refused or ignored the probe): `initialize` goes next.
    Legacy,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiscoverResult {
    #[serde(default)]
    supported_versions: Vec<String>,
    #[serde(default)]
    capabilities: serde_json::Value,
    #[serde(default)]
    instructions: Option<String>,
    #[serde(default, rename = "_meta")]
    meta: serde_json::Value,
}

/// The `_meta` members of every request to a modern upstream on behalf of `identity`.
pub(crate) fn meta_of(identity: &ClientIdentity) -> Vec<(&'static str, Box<RawValue>)> {
    let version = serde_json::value::to_raw_value(version::MODERN)
        .unwrap_or_else(|_| manifold_protocol::object::empty_object());
    vec![
        (PROTOCOL_VERSION, version),
        (CLIENT_CAPABILITIES, identity.capabilities.clone()),
        (CLIENT_INFO, identity.client_info.clone()),
    ]
}

/// `server/discover` on the current connection, as `identity`'s gateway: the upstream's
/// capabilities and identity. `probing`: an error or silence means legacy, not failure.
pub(crate) async fn discover(
    up: &Upstream,
    identity: &ClientIdentity,
    probing: bool,
) -> Result<Probed, String> {
    let members = meta_of(identity);
    let params = manifold_protocol::modern::with_members(None, &members);
    let sender = up.inner.live.lock().sender.clone();
    if let Some(sender) = &sender {
        // Over HTTP the probe itself is a 2026-07-28 POST (version and method headers).
        sender.set_modern(true);
    }
    let wait = probing.then_some(PROBE_WAIT.min(up.inner.spec.timeout));
    let raw = match up
        .call(method::SERVER_DISCOVER, Some(&params), wait, false)
        .await
    {
        Ok(raw) => raw,
        Err(CallError::Rpc(error)) if probing && !is_modern_error(&error) => {
            return Ok(Probed::Legacy)
        }
        Err(CallError::Timeout { .. }) if probing => return Ok(Probed::Legacy),
        Err(e) => return Err(format!("server/discover failed: {e}")),
    };
    let result: DiscoverResult = serde_json::from_str(raw.get())
        .map_err(|e| format!("malformed server/discover result: {e}"))?;
    if !result
        .supported_versions
        .iter()
        .any(|v| v == version::MODERN)
    {
        if probing {
            return Ok(Probed::Legacy);
        }
        return Err(format!(
            "upstream supports {:?}, not {}",
            result.supported_versions,
            version::MODERN
        ));
    }
    up.inner.live.lock().modern_meta = Some(members);
    Ok(Probed::Modern(ServerInfo {
        protocol_version: version::MODERN.to_string(),
        capabilities: result.capabilities,
        server_info: result
            .meta
            .get(manifold_protocol::modern::SERVER_INFO)
            .cloned()
            .unwrap_or_default(),
        instructions: result.instructions.filter(|s| !s.trim().is_empty()),
    }))
}

/// An error only a modern server answers a modern request with (`-32020` … `-32022`).
fn is_modern_error(error: &manifold_protocol::ErrorObject) -> bool {
    matches!(
        error.code,
        code::HEADER_MISMATCH
            | code::MISSING_CLIENT_CAPABILITY
            | code::UNSUPPORTED_PROTOCOL_VERSION
    )
}
