//! The 2026-07-28 request `_meta` (mcp-spec.md §1.2): what a stateless request says about its
//! client, the errors for what it lacks, and the keys a legacy peer must not be sent.

use serde_json::json;
use serde_json::value::RawValue;

use crate::error::{code, ErrorObject};
use crate::method;
use crate::object::RawObject;
use crate::version;

/// The request's protocol version (required on every modern request).
pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The client's capabilities (required; `{}` declares none).
pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The client's self-reported `Implementation`.
pub const CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// The lowest `notifications/message` level the request wants (none without it).
pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
/// The server's `Implementation`, on results.
pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
/// The listen request a subscription notification belongs to.
pub const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// The requests a 2026-07-28 client may send (the era's `ClientRequest`).
pub const REQUESTS: &[&str] = &[
    method::SERVER_DISCOVER,
    method::TOOLS_LIST,
    method::TOOLS_CALL,
    method::PROMPTS_LIST,
    method::PROMPTS_GET,
    method::RESOURCES_LIST,
    method::RESOURCES_TEMPLATES_LIST,
    method::RESOURCES_READ,
    method::COMPLETION_COMPLETE,
    method::SUBSCRIPTIONS_LISTEN,
];

/// Whether the 2026-07-28 era removed `method` (a legacy-era request it no longer has).
pub fn removed(name: &str) -> bool {
    matches!(
        name,
        method::INITIALIZE
            | method::PING
            | method::LOGGING_SET_LEVEL
            | method::RESOURCES_SUBSCRIBE
            | method::RESOURCES_UNSUBSCRIBE
    )
}

/// The params member a request is routed by, which HTTP mirrors in `Mcp-Name`.
pub fn name_key(name: &str) -> Option<&'static str> {
    match name {
        method::TOOLS_CALL | method::PROMPTS_GET => Some("name"),
        method::RESOURCES_READ => Some("uri"),
        _ => None,
    }
}

/// The keys of a request's `_meta` that only the modern era defines.
const REQUEST_KEYS: [&str; 4] = [
    PROTOCOL_VERSION,
    CLIENT_CAPABILITIES,
    CLIENT_INFO,
    LOG_LEVEL,
];

/// What a modern request's `_meta` says about its client.
#[derive(Debug, Clone)]
pub struct RequestMeta {
    /// `io.modelcontextprotocol/protocolVersion` (always [`version::MODERN`] once read).
    pub protocol_version: String,
    /// `io.modelcontextprotocol/clientCapabilities`, as sent.
    pub client_capabilities: Box<RawValue>,
    /// `io.modelcontextprotocol/clientInfo`, as sent.
    pub client_info: Option<Box<RawValue>>,
    /// `io.modelcontextprotocol/logLevel`.
    pub log_level: Option<String>,
}

/// Reads the modern `_meta` of `params`: `Ok(None)` when it carries neither required key (a
/// legacy-era request), the request's client when it carries both and a served version, and
/// the error to answer with otherwise (`-32602` for a missing or malformed key, `-32022` for a
/// version not served per request).
pub fn read(params: Option<&RawValue>) -> Result<Option<RequestMeta>, ErrorObject> {
    if !params.is_some_and(|p| may_name_a_modern_key(p.get())) {
        // A legacy request, known without parsing it.
        return Ok(None);
    }
    let Some(meta) = params
        .and_then(|p| RawObject::parse(p).ok())
        .and_then(|p| p.get("_meta").map(|m| m.to_owned()))
    else {
        return Ok(None);
    };
    let Ok(meta) = RawObject::parse(&meta) else {
        return Ok(None);
    };
    let version = meta.get(PROTOCOL_VERSION);
    let capabilities = meta.get(CLIENT_CAPABILITIES);
    if version.is_none() && capabilities.is_none() {
        return Ok(None);
    }
    let version = match version {
        None => return Err(missing(PROTOCOL_VERSION)),
        Some(raw) => serde_json::from_str::<String>(raw.get()).map_err(|_| {
            ErrorObject::invalid_params(format!("_meta[\"{PROTOCOL_VERSION}\"] must be a string"))
        })?,
    };
    if version != version::MODERN {
        return Err(unsupported(&version));
    }
    let capabilities = match capabilities {
        Some(raw) if raw.get().trim_start().starts_with('{') => raw.to_owned(),
        Some(_) => {
            return Err(ErrorObject::invalid_params(format!(
                "_meta[\"{CLIENT_CAPABILITIES}\"] must be an object"
            )))
        }
        None => return Err(missing(CLIENT_CAPABILITIES)),
    };
    let log_level = match meta.get(LOG_LEVEL) {
        Some(raw) => Some(serde_json::from_str::<String>(raw.get()).map_err(|_| {
            ErrorObject::invalid_params(format!("_meta[\"{LOG_LEVEL}\"] must be a string"))
        })?),
        None => None,
    };
    Ok(Some(RequestMeta {
        protocol_version: version,
        client_capabilities: capabilities,
        client_info: meta.get(CLIENT_INFO).map(|raw| raw.to_owned()),
        log_level,
    }))
}

/// Whether `text` could hold a modern `_meta` key: it has the keys' common part as written, or
/// an escape that could spell it otherwise (`\u…`, `\/`), in which case it is parsed to know.
fn may_name_a_modern_key(text: &str) -> bool {
    text.contains("modelcontextprotocol") || text.contains("\\u") || text.contains("\\/")
}

/// Reads the modern `_meta` of a request known to be of the modern era: one without it is
/// refused with `-32602`.
pub fn require(params: Option<&RawValue>) -> Result<RequestMeta, ErrorObject> {
    read(params)?.ok_or_else(|| missing(PROTOCOL_VERSION))
}

/// `-32602` for a required `_meta` key that is missing.
fn missing(key: &str) -> ErrorObject {
    ErrorObject::invalid_params(format!(
        "a 2026-07-28 request needs _meta[\"{key}\"] (and _meta[\"{}\"])",
        if key == PROTOCOL_VERSION {
            CLIENT_CAPABILITIES
        } else {
            PROTOCOL_VERSION
        }
    ))
}

/// `-32022` for a version Manifold does not serve per request, naming every version it serves.
pub fn unsupported(requested: &str) -> ErrorObject {
    let message = if version::is_supported(requested) {
        format!("protocol version {requested} is served after initialize, not per request")
    } else {
        format!("unsupported protocol version {requested}")
    };
    ErrorObject::with_data(
        code::UNSUPPORTED_PROTOCOL_VERSION,
        message,
        json!({ "supported": version::SERVED, "requested": requested }),
    )
}

/// The `_meta` members that say who a modern request's client is, as it sent them: what a
/// 2026-07-28 upstream is told on its behalf.
pub fn members(meta: &RequestMeta) -> Vec<(&'static str, Box<RawValue>)> {
    let text = |s: &str| serde_json::value::to_raw_value(s).ok();
    let mut members = Vec::with_capacity(4);
    members.extend(text(&meta.protocol_version).map(|v| (PROTOCOL_VERSION, v)));
    members.push((CLIENT_CAPABILITIES, meta.client_capabilities.clone()));
    if let Some(info) = &meta.client_info {
        members.push((CLIENT_INFO, info.clone()));
    }
    if let Some(level) = meta.log_level.as_deref().and_then(text) {
        members.push((LOG_LEVEL, level));
    }
    members
}

/// `params` with `members` set in its `_meta` where it has none of that name: every other byte
/// as it was.
pub fn with_members(params: Option<&RawValue>, members: &[(&str, Box<RawValue>)]) -> Box<RawValue> {
    let mut object = params
        .and_then(|p| RawObject::parse(p).ok())
        .unwrap_or_default();
    let meta = meta_with(object.get("_meta"), members);
    object.set("_meta", meta);
    object.to_raw()
}

/// A `_meta` object (`None`: an empty one) with `members` set where it has none of that name.
pub fn meta_with(meta: Option<&RawValue>, members: &[(&str, Box<RawValue>)]) -> Box<RawValue> {
    let mut meta = meta
        .and_then(|m| RawObject::parse(m).ok())
        .unwrap_or_default();
    for (key, value) in members {
        if meta.get(key).is_none() {
            meta.set(key, value.clone());
        }
    }
    meta.to_raw()
}

/// `value` as a mirrored header (`Mcp-Name`, `Mcp-Param-*`) carries it: as is when it is plain
/// visible ASCII (inner spaces allowed) and could not be taken for the sentinel, else
/// `=?base64?<base64 of its UTF-8>?=`.
pub fn header_value(value: &str) -> String {
    use base64::Engine as _;
    let plain = !value.is_empty()
        && value.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !value.starts_with(' ')
        && !value.ends_with(' ')
        && !value.starts_with("=?");
    if plain {
        value.to_string()
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_bytes());
        format!("=?base64?{encoded}?=")
    }
}

/// `params` without the modern keys of its `_meta`, for a legacy-era peer (which may refuse a
/// request carrying them); `None` when there are none to take out. Every other byte of `params`,
/// and every other member of `_meta` (`progressToken`, trace context …), stays as sent.
pub fn strip(params: &RawValue) -> Option<Box<RawValue>> {
    let mut object = RawObject::parse(params).ok()?;
    let meta = RawObject::parse(object.get("_meta")?).ok()?;
    if !meta.keys().any(|k| REQUEST_KEYS.contains(&k)) {
        return None;
    }
    let mut kept = RawObject::default();
    for key in meta.keys().filter(|k| !REQUEST_KEYS.contains(k)) {
        if let Some(value) = meta.get(key) {
            kept.set(key, value.to_owned());
        }
    }
    object.set("_meta", kept.to_raw());
    Some(object.to_raw())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_are_not_plain_visible_ascii_are_encoded() {
        assert_eq!(header_value("get_weather"), "get_weather");
        assert_eq!(header_value("a b"), "a b");
        assert_eq!(header_value(" lead"), "=?base64?IGxlYWQ=?=");
        assert_eq!(header_value("=?base64?x?="), "=?base64?PT9iYXNlNjQ/eD89?=");
        assert_eq!(header_value("tab\there"), "=?base64?dGFiCWhlcmU=?=");
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_string()).unwrap()
    }

    const META: &str = r#"{"name":"t","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"sampling":{}},"io.modelcontextprotocol/clientInfo":{"name":"c","version":"1"},"progressToken":7}}"#;

    #[test]
    fn a_modern_request_says_who_its_client_is() {
        let meta = read(Some(&raw(META))).unwrap().expect("modern");
        assert_eq!(meta.protocol_version, "2026-07-28");
        assert_eq!(meta.client_capabilities.get(), r#"{"sampling":{}}"#);
        assert_eq!(
            meta.client_info.unwrap().get(),
            r#"{"name":"c","version":"1"}"#
        );
        assert!(meta.log_level.is_none());
    }

    #[test]
    fn a_request_without_modern_keys_is_legacy() {
        assert!(read(None).unwrap().is_none());
        assert!(read(Some(&raw(r#"{"name":"t"}"#))).unwrap().is_none());
        assert!(read(Some(&raw(r#"{"_meta":{"progressToken":1}}"#)))
            .unwrap()
            .is_none());
        let error = require(Some(&raw(r#"{"name":"t"}"#))).unwrap_err();
        assert_eq!(error.code, code::INVALID_PARAMS);
    }

    #[test]
    fn an_escaped_key_is_read_as_the_key_it_spells() {
        let escaped = r#"{"_meta":{"io.modelcontextprotocol\/protocolVersion":"2026-07-28","io.modelcontext\u0070rotocol/clientCapabilities":{}}}"#;
        let meta = read(Some(&raw(escaped))).unwrap().expect("modern");
        assert_eq!(meta.protocol_version, "2026-07-28");
        assert!(!may_name_a_modern_key(
            r#"{"name":"t","arguments":{"x":1}}"#
        ));
    }

    #[test]
    fn half_a_modern_meta_or_another_version_is_refused() {
        let only_version = r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}"#;
        let error = read(Some(&raw(only_version))).unwrap_err();
        assert_eq!(error.code, code::INVALID_PARAMS);
        assert!(error.message.contains(CLIENT_CAPABILITIES), "{error:?}");
        let only_caps = r#"{"_meta":{"io.modelcontextprotocol/clientCapabilities":{}}}"#;
        assert_eq!(
            read(Some(&raw(only_caps))).unwrap_err().code,
            code::INVALID_PARAMS
        );
        let future = r#"{"_meta":{"io.modelcontextprotocol/protocolVersion":"2027-01-01","io.modelcontextprotocol/clientCapabilities":{}}}"#;
        let error = read(Some(&raw(future))).unwrap_err();
        assert_eq!(error.code, code::UNSUPPORTED_PROTOCOL_VERSION);
        let data: serde_json::Value = serde_json::from_str(error.data.unwrap().get()).unwrap();
        assert_eq!(data["requested"], "2027-01-01");
        assert_eq!(data["supported"], json!(version::SERVED));
    }

    #[test]
    fn the_removed_methods_are_not_requests_of_the_era() {
        for m in [
            "initialize",
            "ping",
            "logging/setLevel",
            "resources/subscribe",
        ] {
            assert!(removed(m), "{m}");
            assert!(!REQUESTS.contains(&m), "{m}");
        }
        assert!(!removed("tools/call"));
        assert!(REQUESTS.contains(&"server/discover"));
        assert_eq!(name_key("resources/read"), Some("uri"));
        assert_eq!(name_key("tools/list"), None);
    }

    #[test]
    fn stripping_keeps_every_other_byte() {
        let stripped = strip(&raw(META)).unwrap();
        assert_eq!(
            stripped.get(),
            r#"{"name":"t","_meta":{"progressToken":7}}"#
        );
        assert!(strip(&raw(r#"{"name":"t","_meta":{"progressToken":7}}"#)).is_none());
        assert!(strip(&raw(r#"{"name":"t"}"#)).is_none());
    }
}
