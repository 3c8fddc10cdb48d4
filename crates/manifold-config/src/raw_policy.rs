//! The serde shapes of the policy sections as written: `[auth]`, `[[access]]`, `[[limits]]`,
//! `[audit]`, and a server's per-tool curation. Checked and frozen by `policy`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::raw::Text;

/// `[auth]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAuth {
    pub(crate) stdio_principal: Option<Text>,
    pub(crate) tokens: Option<Vec<RawToken>>,
    pub(crate) jwt: Option<RawJwt>,
    pub(crate) resource: Option<Text>,
    pub(crate) authorization_servers: Option<Vec<Text>>,
    pub(crate) scopes: Option<Vec<Text>>,
}

/// `[[auth.tokens]]`: one static bearer token, read from an environment variable or a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToken {
    pub(crate) principal: Text,
    pub(crate) env: Option<String>,
    pub(crate) file: Option<Text>,
}

/// `[auth.jwt]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawJwt {
    pub(crate) issuer: Text,
    pub(crate) audience: Text,
    pub(crate) jwks_file: Option<Text>,
    pub(crate) jwks_url: Option<Text>,
    pub(crate) principal_claim: Option<Text>,
    pub(crate) jwks_refresh_ms: Option<u64>,
    pub(crate) leeway_ms: Option<u64>,
    pub(crate) required_scopes: Option<Vec<Text>>,
}

/// `[[access]]`: the view of the principals matching `principal`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccess {
    pub(crate) principal: String,
    pub(crate) tools: Option<RawAllowDeny>,
    pub(crate) prompts: Option<RawAllowDeny>,
    pub(crate) resources: Option<RawAllowDeny>,
}

/// `{ allow = [...], deny = [...] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAllowDeny {
    pub(crate) allow: Option<Vec<String>>,
    pub(crate) deny: Option<Vec<String>>,
}

/// `[[limits]]`: one rate limit rule.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLimit {
    pub(crate) name: String,
    pub(crate) principal: Option<String>,
    pub(crate) server: Option<String>,
    pub(crate) method: Option<String>,
    pub(crate) tools: Option<Vec<String>>,
    pub(crate) prompts: Option<Vec<String>>,
    pub(crate) resources: Option<Vec<String>>,
    pub(crate) rate: u32,
    pub(crate) per_ms: Option<u64>,
    pub(crate) burst: Option<u32>,
    pub(crate) scope: Option<String>,
    pub(crate) costs: Option<BTreeMap<String, u32>>,
}

/// `[audit]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAudit {
    pub(crate) enabled: Option<bool>,
    pub(crate) file: Option<Text>,
    pub(crate) arguments: Option<String>,
    pub(crate) redact: Option<Vec<String>>,
    pub(crate) results: Option<String>,
    pub(crate) result_max_bytes: Option<usize>,
}

/// `[servers.<alias>.curate.<tool>]`: how one upstream tool is presented.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCurate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rename: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fixed_arguments: Option<serde_json::Map<String, serde_json::Value>>,
}
