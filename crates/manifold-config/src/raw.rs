//! The serde shapes of a Manifold config file as written (`RawConfig` and friends). Every struct
//! denies unknown keys; defaults and checks are applied later by `validate`.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub(crate) gateway: RawGateway,
    #[serde(default)]
    pub(crate) listen: RawListen,
    #[serde(default)]
    pub(crate) admin: RawAdmin,
    #[serde(default)]
    pub(crate) servers: BTreeMap<String, RawServer>,
    #[serde(default)]
    pub(crate) auth: crate::raw_policy::RawAuth,
    #[serde(default)]
    pub(crate) access: Vec<crate::raw_policy::RawAccess>,
    #[serde(default)]
    pub(crate) limits: Vec<crate::raw_policy::RawLimit>,
    #[serde(default)]
    pub(crate) audit: crate::raw_policy::RawAudit,
}

/// `[gateway]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGateway {
    pub(crate) name: Option<Text>,
    pub(crate) separator: Option<Text>,
    pub(crate) page_size: Option<usize>,
    pub(crate) request_timeout_ms: Option<u64>,
    pub(crate) startup_wait_ms: Option<u64>,
    pub(crate) max_message_bytes: Option<usize>,
    #[serde(default)]
    pub(crate) restart: RawRestart,
    pub(crate) shutdown_grace_ms: Option<u64>,
    pub(crate) ping_interval_ms: Option<u64>,
    pub(crate) method_timeouts_ms: Option<BTreeMap<String, u64>>,
    pub(crate) client_max_in_flight: Option<usize>,
    pub(crate) client_queue_bytes: Option<usize>,
    pub(crate) upstream_queue_bytes: Option<usize>,
    pub(crate) request_state_keys: Option<Vec<Text>>,
}

/// `[gateway.restart]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRestart {
    pub(crate) initial_backoff_ms: Option<u64>,
    pub(crate) max_backoff_ms: Option<u64>,
    pub(crate) unhealthy_after: Option<u32>,
}

/// `[listen]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawListen {
    pub(crate) http: Option<Text>,
    pub(crate) path: Option<Text>,
    pub(crate) allowed_hosts: Option<Vec<Text>>,
    pub(crate) session_idle_ms: Option<u64>,
    pub(crate) session_queue: Option<usize>,
    pub(crate) session_queue_bytes: Option<usize>,
    pub(crate) header_timeout_ms: Option<u64>,
    pub(crate) body_timeout_ms: Option<u64>,
    pub(crate) idle_timeout_ms: Option<u64>,
    pub(crate) max_connections: Option<usize>,
    pub(crate) sse_after_ms: Option<u64>,
    pub(crate) sse_retry_ms: Option<u64>,
    pub(crate) drain_ms: Option<u64>,
    pub(crate) replay_buffer: Option<usize>,
    pub(crate) tls_cert: Option<Text>,
    pub(crate) tls_key: Option<Text>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    pub(crate) listen: Option<Text>,
    pub(crate) min_upstreams: Option<usize>,
}

/// `[servers.<alias>]`. Also serialized: a hosts' `mcpServers` entry is translated into this shape
/// before environment overrides are merged on top.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) command: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) args: Option<Vec<Text>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) env: Option<BTreeMap<String, Text>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cwd: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) headers: Option<BTreeMap<String, Text>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) transport: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) namespace: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sharing: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tools: Option<RawFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) prompts: Option<RawFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resources: Option<RawFilter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) method_timeouts_ms: Option<BTreeMap<String, u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_concurrency: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) queue_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) max_result_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) truncate_results: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) validate_arguments: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) curate: Option<BTreeMap<String, crate::raw_policy::RawCurate>>,
}

/// `tools = { include = [...], exclude = [...] }` (and the same for prompts, resources).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) include: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) exclude: Option<Vec<String>>,
}

/// A string that also accepts a scalar and keeps its text: environment overrides arrive parsed
/// (`MANIFOLD_SERVERS__A__ENV__PORT=8080` is a number), and an argument or env value must not
/// fail for looking like one. Floats come back in Rust's spelling (`1.0` → `"1"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub(crate) struct Text(pub(crate) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl Visitor<'_> for TextVisitor {
    type Value = Text;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
        Ok(Text(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
        Ok(Text(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_f32<E: de::Error>(self, v: f32) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
        Ok(Text(v.to_string()))
    }
}
