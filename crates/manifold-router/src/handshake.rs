//! The handshake: `initialize` (version negotiation, the client's identity for the upstream
//! sessions initialized for it) and the merged capabilities and instructions it answers with.

use manifold_protocol::object::empty_object;
use manifold_protocol::{version, RawValue};
use manifold_upstream::{ClientIdentity, Health};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::error::RouteError;
use crate::session::Session;
use crate::set::UpstreamSet;

type Outcome = Result<Box<RawValue>, RouteError>;

/// Capabilities of the client that Manifold relays to upstreams (server→client features).
const RELAYED_CLIENT_CAPABILITIES: [&str; 3] = ["sampling", "elicitation", "roots"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitializeParams {
    protocol_version: String,
    #[serde(default)]
    capabilities: Value,
    #[serde(default)]
    client_info: Value,
}

/// `initialize`: negotiates the version, records what the client declared, initializes the
/// upstream sessions that are the client's own with its identity, and waits (at most
/// `startup_wait`) for the upstreams to settle before answering.
pub(crate) async fn initialize(session: &Session, params: Option<&RawValue>) -> Outcome {
    if session.client_initialized() {
        return Err(RouteError::AlreadyInitialized);
    }
    let p: InitializeParams = params
        .and_then(|p| serde_json::from_str(p.get()).ok())
        .ok_or_else(|| {
            RouteError::invalid_params(
                "initialize needs protocolVersion, capabilities and clientInfo",
            )
        })?;
    let negotiated = version::negotiate(&p.protocol_version);
    let mut relayed = serde_json::Map::new();
    for key in RELAYED_CLIENT_CAPABILITIES {
        if let Some(v) = p.capabilities.get(key).filter(|v| v.is_object()) {
            relayed.insert(key.to_string(), v.clone());
        }
    }
    let to_raw = |v: &Value| serde_json::value::to_raw_value(v).unwrap_or_else(|_| empty_object());
    {
        let mut client = session.client();
        client.version = negotiated.to_string();
        client.capabilities = p.capabilities.clone();
        client.stateless = Some(vec![
            (
                manifold_protocol::modern::CLIENT_CAPABILITIES,
                to_raw(&Value::Object(relayed.clone())),
            ),
            (
                manifold_protocol::modern::CLIENT_INFO,
                to_raw(&p.client_info),
            ),
        ]);
    }
    let gateway = session.gateway();
    if session.owns_identity() {
        // The only client of its upstreams: they are initialized with its identity and
        // capabilities.
        session.set_identity(ClientIdentity {
            protocol_version: negotiated.to_string(),
            capabilities: to_raw(&Value::Object(relayed)),
            client_info: to_raw(&p.client_info),
        });
    }
    let upstreams = session.upstreams();
    upstreams
        .wait_settled(gateway.shared.settings.startup_wait)
        .await;
    let result = initialize_result(&gateway.shared.settings.name, upstreams, negotiated);
    session.client().initialized = true;
    Ok(to_raw(&result))
}

/// The `initialize` result: the merged capabilities of the upstreams that are up, and their
/// instructions.
pub(crate) fn initialize_result(name: &str, upstreams: &UpstreamSet, negotiated: &str) -> Value {
    let mut logging = false;
    let mut subscribe = false;
    let mut instructions = Vec::new();
    for slot in upstreams.slots() {
        if let Health::Up(info) = slot.upstream.health() {
            logging |= info.has("logging");
            subscribe |= info
                .capabilities
                .get("resources")
                .and_then(|r| r.get("subscribe"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if let Some(text) = &info.instructions {
                let label = if slot.server.namespace.is_empty() {
                    slot.alias()
                } else {
                    &slot.server.namespace
                };
                instructions.push(format!("## {label}\n{text}"));
            }
        }
    }
    let mut capabilities = json!({
        "tools": { "listChanged": true },
        "prompts": { "listChanged": true },
        "resources": { "listChanged": true },
        "completions": {},
    });
    if logging {
        capabilities["logging"] = json!({});
    }
    if subscribe {
        // Subscriptions are routed and reference-counted across sessions.
        capabilities["resources"]["subscribe"] = json!(true);
    }
    if negotiated == "2024-11-05" {
        // `completions` arrived in 2025-03-26; 2024-11-05 clients call completion/complete ungated.
        if let Some(caps) = capabilities.as_object_mut() {
            caps.remove("completions");
        }
    }
    let mut result = json!({
        "protocolVersion": negotiated,
        "capabilities": capabilities,
        "serverInfo": { "name": name, "version": env!("CARGO_PKG_VERSION") },
    });
    if !instructions.is_empty() {
        result["instructions"] = Value::String(instructions.join("\n\n"));
    }
    result
}
