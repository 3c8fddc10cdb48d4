//! Dispatch of every client request: the handshake, merged lists with Manifold's cursors, and
//! routing of calls, reads, prompts and completions to the one upstream that owns the name.

use manifold_protocol::object::empty_object;
use manifold_protocol::{method, version, ErrorObject, RawObject, RawValue, Request};
use manifold_upstream::{ClientIdentity, Health};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::catalog::{item_kind, Kind, Target};
use crate::error::RouteError;
use crate::forward::Forwarding;
use crate::gateway::{Gateway, Slot};
use crate::naming::split_uri;
use crate::session::{Scope, Session, SERVED_LOCALLY};
use crate::{cursor, rewrite};
use manifold_policy::{ItemKind, View};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use tracing::Instrument;

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

impl Session {
    /// Answers one client request; its request-scoped messages (progress, relayed requests) go
    /// out with the session's other messages.
    pub async fn handle(&self, request: &Request) -> Result<Box<RawValue>, ErrorObject> {
        let sink = self.inner.downstream.sender();
        self.handle_scoped(request, &sink).await
    }

    /// Answers one client request, sending its request-scoped messages to `sink`.
    pub async fn handle_scoped(
        &self,
        request: &Request,
        sink: &crate::downstream::Sink,
    ) -> Result<Box<RawValue>, ErrorObject> {
        let scope = Scope {
            session: self,
            sink,
            served_by: AtomicUsize::new(SERVED_LOCALLY),
        };
        let started = Instant::now();
        // The span of this client request: `mcp.upstream` spans of the calls it makes are its
        // children; `server` is recorded once the request is routed.
        let span = tracing::info_span!(
            "mcp.request",
            method = %request.method,
            server = tracing::field::Empty,
            session = self.inner.id,
            request_id = %request.id
        );
        let outcome = self.dispatch(request, &scope).instrument(span).await;
        let gateway = self.gateway();
        let server = match scope.served_by.load(Ordering::Relaxed) {
            SERVED_LOCALLY => "manifold",
            index => gateway.shared.slots[index].alias(),
        };
        let method = manifold_metrics::method_label(&request.method);
        let label = match &outcome {
            Ok(result) if manifold_policy::is_tool_error(result) => "tool_error",
            Ok(_) => "ok",
            Err(error) => error.outcome(),
        };
        let metrics = gateway.metrics();
        metrics
            .requests
            .with_label_values(&[method, server, label])
            .inc();
        metrics
            .request_duration
            .with_label_values(&[method, server])
            .observe(started.elapsed().as_secs_f64());
        // The one place a routing error becomes what the client receives.
        outcome.map_err(RouteError::into_error_object)
    }

    async fn dispatch(&self, request: &Request, scope: &Scope<'_>) -> Outcome {
        let params = request.params.as_deref();
        let initialized = self.client_initialized();
        match request.method.as_str() {
            method::INITIALIZE => self.initialize(params).await,
            method::PING => Ok(empty_object()),
            _ if !initialized => Err(RouteError::NotInitialized(request.method.clone())),
            method::TOOLS_LIST => self.gateway().list(Kind::Tools, params, &self.view()),
            method::PROMPTS_LIST => self.gateway().list(Kind::Prompts, params, &self.view()),
            method::RESOURCES_LIST => self.gateway().list(Kind::Resources, params, &self.view()),
            method::RESOURCES_TEMPLATES_LIST => {
                self.gateway().list(Kind::Templates, params, &self.view())
            }
            method::TOOLS_CALL => {
                self.gateway()
                    .call_named(Kind::Tools, method::TOOLS_CALL, params, scope)
                    .await
            }
            method::PROMPTS_GET => {
                self.gateway()
                    .call_named(Kind::Prompts, method::PROMPTS_GET, params, scope)
                    .await
            }
            method::RESOURCES_READ => {
                self.gateway()
                    .call_uri(method::RESOURCES_READ, params, scope)
                    .await
            }
            method::RESOURCES_SUBSCRIBE | method::RESOURCES_UNSUBSCRIBE => {
                let (_, uri) = routing_key(params, "uri")?;
                if !self.view().allows(ItemKind::Resource, &uri) {
                    return Err(RouteError::Denied {
                        kind: ItemKind::Resource,
                        name: uri,
                    });
                }
                let (index, original) = self.gateway().resolve_uri(&uri)?;
                scope.routed_to(&self.gateway().shared.slots[index], index);
                let on = request.method == method::RESOURCES_SUBSCRIBE;
                self.gateway()
                    .subscription(self, index, &original, on)
                    .await
            }
            method::COMPLETION_COMPLETE => self.gateway().complete(params, &self.view()).await,
            method::LOGGING_SET_LEVEL => self.gateway().set_level(params).await,
            other => Err(RouteError::MethodNotFound(other.to_string())),
        }
    }

    pub(crate) fn client_initialized(&self) -> bool {
        self.client().initialized
    }

    /// The negotiated protocol version ("" before initialize).
    pub fn negotiated_version(&self) -> String {
        self.client().version.clone()
    }

    async fn initialize(&self, params: Option<&RawValue>) -> Outcome {
        if self.client_initialized() {
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
        {
            let mut client = self.client();
            client.version = negotiated.to_string();
            client.capabilities = p.capabilities.clone();
        }
        let to_raw =
            |v: &Value| serde_json::value::to_raw_value(v).unwrap_or_else(|_| empty_object());
        let gateway = self.gateway();
        if self.owns_identity() {
            // The only client: upstreams are initialized with its identity and capabilities.
            gateway.set_identity(ClientIdentity {
                protocol_version: negotiated.to_string(),
                capabilities: to_raw(&Value::Object(relayed)),
                client_info: to_raw(&p.client_info),
            });
        }
        gateway
            .wait_settled(gateway.shared.settings.startup_wait)
            .await;
        let result = gateway.initialize_result(negotiated);
        self.client().initialized = true;
        Ok(to_raw(&result))
    }
}

impl Gateway {
    pub(crate) fn initialize_result(&self, negotiated: &str) -> Value {
        let mut logging = false;
        let mut subscribe = false;
        let mut instructions = Vec::new();
        for slot in &self.shared.slots {
            if let Health::Up(info) = slot.upstream.health() {
                logging |= info.has("logging");
                subscribe |= info
                    .capabilities
                    .get("resources")
                    .and_then(|r| r.get("subscribe"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                if let Some(text) = &info.instructions {
                    let label = if slot.namespace.is_empty() {
                        slot.alias()
                    } else {
                        &slot.namespace
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
            "serverInfo": { "name": self.shared.settings.name, "version": env!("CARGO_PKG_VERSION") },
        });
        if !instructions.is_empty() {
            result["instructions"] = Value::String(instructions.join("\n\n"));
        }
        result
    }

    pub(crate) fn list(&self, kind: Kind, params: Option<&RawValue>, view: &View) -> Outcome {
        let catalog = self.catalog();
        let items: Vec<&RawValue> = if view.is_everything() {
            catalog.list(kind).json.iter().map(|j| &**j).collect()
        } else {
            catalog.visible(kind, view)
        };
        let offset = match params.map(RawObject::parse) {
            Some(Ok(obj)) => match obj.get("cursor") {
                None => 0,
                Some(raw) if raw.get() == "null" => 0,
                Some(raw) => {
                    let c: String =
                        serde_json::from_str(raw.get()).map_err(|_| invalid_cursor())?;
                    cursor::decode(&c, items.len()).ok_or_else(invalid_cursor)?
                }
            },
            Some(Err(_)) => return Err(RouteError::invalid_params("params must be an object")),
            None => 0,
        };
        let (range, next) = cursor::page(offset, self.shared.settings.page_size, items.len());
        // Splice the pre-serialised items; nothing is re-encoded per request.
        let mut out = String::with_capacity(64 + range.len() * 128);
        out.push_str("{\"");
        out.push_str(kind.field());
        out.push_str("\":[");
        for (n, item) in items[range].iter().enumerate() {
            if n > 0 {
                out.push(',');
            }
            out.push_str(item.get());
        }
        out.push(']');
        if let Some(next) = next {
            out.push_str(",\"nextCursor\":");
            out.push_str(&serde_json::to_string(&next).unwrap_or_default());
        }
        out.push('}');
        RawValue::from_string(out).map_err(|e| RouteError::Internal(e.to_string()))
    }

    pub(crate) async fn call_named(
        &self,
        kind: Kind,
        method: &'static str,
        params: Option<&RawValue>,
        scope: &Scope<'_>,
    ) -> Outcome {
        let (obj, name) = routing_key(params, "name")?;
        let target = match self.resolve_name(kind, &name) {
            Ok(target) => target,
            Err(error) => {
                if kind == Kind::Tools {
                    let session = scope.session;
                    self.shared
                        .policy
                        .audit_unknown_tool(
                            session.principal(),
                            session.inner.id,
                            &name,
                            obj.get("arguments"),
                            error.outcome(),
                            error.clone().into_error_object(),
                        )
                        .await;
                }
                return Err(error);
            }
        };
        let index = target.upstream;
        let route = Forwarding {
            key: "name",
            downstream: &name,
            original: &target.original,
            kind: item_kind(kind),
            tool: target.tool.clone(),
            rewrite: Some(rewrite::content_result),
        };
        self.forward(index, method, obj, route, scope).await
    }

    fn resolve_name(&self, kind: Kind, name: &str) -> Result<Target, RouteError> {
        if let Some(target) = self.catalog().lookup(kind, name) {
            return Ok(target.clone());
        }
        let separator = &self.shared.settings.separator;
        for slot in &self.shared.slots {
            let owns = if slot.namespace.is_empty() {
                true
            } else {
                name.strip_prefix(slot.namespace.as_str())
                    .is_some_and(|rest| rest.starts_with(separator.as_str()))
            };
            if owns && !slot.is_up() {
                return Err(unavailable(slot));
            }
        }
        Err(RouteError::Unknown {
            kind: item_kind(kind),
            name: name.to_string(),
        })
    }

    /// Finds the upstream owning a downstream URI and the URI to send it.
    pub(crate) fn resolve_uri(&self, uri: &str) -> Result<(usize, String), RouteError> {
        let slots = &self.shared.slots;
        if let Some((ns, rest)) = split_uri(uri) {
            if let Some(i) = slots.iter().position(|s| s.namespace == ns) {
                return if slots[i].is_up() {
                    Ok((i, rest.to_string()))
                } else {
                    Err(unavailable(&slots[i]))
                };
            }
        }
        let catalog = self.catalog();
        if let Some(t) = catalog.lookup(Kind::Resources, uri) {
            return Ok((t.upstream, t.original.clone()));
        }
        let mut passthrough = slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.namespace.is_empty());
        match passthrough.next() {
            Some((i, slot)) if slot.is_up() => Ok((i, uri.to_string())),
            Some((_, slot)) => Err(unavailable(slot)),
            None => Err(not_found(uri)),
        }
    }

    pub(crate) async fn call_uri(
        &self,
        method: &'static str,
        params: Option<&RawValue>,
        scope: &Scope<'_>,
    ) -> Outcome {
        let (obj, uri) = routing_key(params, "uri")?;
        let (index, original) = self.resolve_uri(&uri)?;
        let slot = &self.shared.slots[index];
        if !slot.resources.allows(&original) {
            // Filtered out: answered exactly as a resource that does not exist.
            return Err(not_found(&uri));
        }
        let route = Forwarding {
            key: "uri",
            downstream: &uri,
            original: &original,
            kind: ItemKind::Resource,
            tool: None,
            rewrite: (method == method::RESOURCES_READ).then_some(rewrite::read_result as _),
        };
        self.forward(index, method, obj, route, scope).await
    }

    pub(crate) async fn complete(&self, params: Option<&RawValue>, view: &View) -> Outcome {
        let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
        let mut obj = RawObject::parse(params)
            .map_err(|_| RouteError::invalid_params("params must be an object"))?;
        let reference = obj
            .get("ref")
            .and_then(|r| RawObject::parse(r).ok())
            .ok_or_else(|| RouteError::invalid_params("params.ref is required"))?;
        let (index, field, original) = match reference.get_str("type").as_deref() {
            Some("ref/prompt") => {
                let name = reference.get_str("name").unwrap_or_default();
                if !view.allows(ItemKind::Prompt, &name) {
                    return Err(RouteError::Unknown {
                        kind: ItemKind::Prompt,
                        name,
                    });
                }
                let t = self.resolve_name(Kind::Prompts, &name)?;
                (t.upstream, "name", t.original)
            }
            Some("ref/resource") => {
                let uri = reference.get_str("uri").unwrap_or_default();
                if !view.allows(ItemKind::Resource, &uri) {
                    return Err(not_found(&uri));
                }
                let (i, original) = match self.catalog().lookup(Kind::Templates, &uri) {
                    Some(t) => (t.upstream, t.original.clone()),
                    None => self.resolve_uri(&uri)?,
                };
                (i, "uri", original)
            }
            _ => {
                return Err(RouteError::invalid_params(
                    "ref.type must be ref/prompt or ref/resource",
                ))
            }
        };
        let mut reference = reference;
        reference.set_str(field, &original);
        let reference = reference.to_raw();
        obj.set("ref", reference);
        let slot = &self.shared.slots[index];
        if let Health::Up(info) = slot.upstream.health() {
            if !info.has("completions") && info.protocol_version.as_str() != "2024-11-05" {
                return serde_json::value::to_raw_value(
                    &json!({ "completion": { "values": [], "hasMore": false } }),
                )
                .map_err(|e| RouteError::Internal(e.to_string()));
            }
        }
        let params = obj.to_raw();
        slot.upstream
            .request(
                method::COMPLETION_COMPLETE,
                Some(&params),
                Some(slot.policy.timeout(method::COMPLETION_COMPLETE)),
            )
            .await
            .map_err(RouteError::from)
    }

    pub(crate) async fn set_level(&self, params: Option<&RawValue>) -> Outcome {
        let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
        let mut calls = Vec::new();
        for slot in &self.shared.slots {
            if let Health::Up(info) = slot.upstream.health() {
                if info.has("logging") {
                    calls.push(slot.upstream.request(
                        method::LOGGING_SET_LEVEL,
                        Some(params),
                        Some(slot.policy.timeout(method::LOGGING_SET_LEVEL)),
                    ));
                }
            }
        }
        for outcome in futures::future::join_all(calls).await {
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "logging/setLevel failed upstream");
            }
        }
        Ok(empty_object())
    }
}

/// Parses `params` as an object and reads the string field that decides where it goes.
fn routing_key<'a>(
    params: Option<&'a RawValue>,
    key: &str,
) -> Result<(RawObject<'a>, String), RouteError> {
    let params = params.ok_or_else(|| RouteError::invalid_params("missing params"))?;
    let obj = RawObject::parse(params)
        .map_err(|_| RouteError::invalid_params("params must be an object"))?;
    let value = obj
        .get_str(key)
        .ok_or_else(|| RouteError::invalid_params(format!("params.{key} must be a string")))?;
    Ok((obj, value))
}

fn not_found(uri: &str) -> RouteError {
    RouteError::Unknown {
        kind: ItemKind::Resource,
        name: uri.to_string(),
    }
}

fn invalid_cursor() -> RouteError {
    RouteError::invalid_params("Invalid cursor")
}

fn unavailable(slot: &Slot) -> RouteError {
    let (reason, unhealthy) = match slot.upstream.health() {
        Health::Down { reason, unhealthy } => (reason, unhealthy),
        Health::Starting => ("starting".to_string(), false),
        Health::Stopped => ("stopped".to_string(), false),
        Health::Up(_) => ("up".to_string(), false),
    };
    RouteError::Unavailable {
        server: slot.alias().to_string(),
        reason,
        unhealthy,
    }
}
