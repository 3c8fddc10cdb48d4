//! The policy sections, frozen: `[auth]` (static bearer tokens, JWT), `[[access]]` (per-principal
//! views), `[[limits]]` (rate limit rules) and `[audit]`. Token values are read here, at load,
//! and kept in [`Secret`], which never prints.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::ConfigError;
use crate::filter::Filter;
use crate::raw::Text;
use crate::raw_policy::{RawAccess, RawAllowDeny, RawAudit, RawAuth, RawJwt, RawLimit};
use crate::server::Context;

/// Default `auth.stdio_principal`.
pub const DEFAULT_STDIO_PRINCIPAL: &str = "local";
/// The principal of HTTP clients when `[auth]` configures no tokens and no JWT.
pub const ANONYMOUS_PRINCIPAL: &str = "anonymous";
/// Default `auth.jwt.principal_claim`.
pub const DEFAULT_PRINCIPAL_CLAIM: &str = "sub";
/// Default `auth.jwt.jwks_refresh_ms`.
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);
/// Default `auth.jwt.leeway_ms`.
pub const DEFAULT_JWT_LEEWAY: Duration = Duration::from_secs(30);
/// Default `audit.redact`: argument keys containing any of these (case-insensitively) are redacted.
pub const DEFAULT_REDACT: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "private_key",
];

/// A secret value (a bearer token): its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for a constant-time comparison.
    pub fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Inbound authentication of the HTTP face (`[auth]`).
#[derive(Debug, Clone)]
pub struct Auth {
    /// The principal the stdio face runs as.
    pub stdio_principal: String,
    /// Static bearer tokens.
    pub tokens: Vec<StaticToken>,
    /// JWT bearer validation.
    pub jwt: Option<Jwt>,
    /// This server's resource identifier in the RFC 9728 metadata (default: from the request's
    /// `Host` and the MCP path).
    pub resource: Option<String>,
    /// `authorization_servers` of the metadata (default: the JWT issuer, if any).
    pub authorization_servers: Vec<String>,
    /// `scopes_supported` of the metadata.
    pub scopes: Vec<String>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            stdio_principal: DEFAULT_STDIO_PRINCIPAL.to_owned(),
            tokens: Vec::new(),
            jwt: None,
            resource: None,
            authorization_servers: Vec::new(),
            scopes: Vec::new(),
        }
    }
}

impl Auth {
    /// Whether HTTP clients must present a bearer token.
    pub fn required(&self) -> bool {
        !self.tokens.is_empty() || self.jwt.is_some()
    }
}

/// One static bearer token and the principal it stands for.
#[derive(Debug, Clone)]
pub struct StaticToken {
    /// Who presents it.
    pub principal: String,
    /// The token.
    pub token: Secret,
}

/// JWT bearer validation (`[auth.jwt]`).
#[derive(Debug, Clone)]
pub struct Jwt {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud` (one of).
    pub audience: String,
    /// Where the signing keys come from.
    pub jwks: JwksSource,
    /// The claim naming the principal.
    pub principal_claim: String,
    /// How often the key set is fetched again.
    pub refresh: Duration,
    /// Clock skew tolerated on `exp`/`nbf`.
    pub leeway: Duration,
    /// Scopes a token must grant (`scope` or `scp` claim); without them: 403.
    pub required_scopes: Vec<String>,
}

/// A JSON Web Key Set location.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A local file (re-read on refresh).
    File(PathBuf),
    /// An `https://` (or `http://`) URL.
    Url(String),
}

/// One `[[access]]` rule: what the principals it matches see.
#[derive(Debug, Clone)]
pub struct AccessRule {
    /// The principal glob as written.
    pub principal_pattern: String,
    /// Matches principals.
    pub principal: Filter,
    /// Downstream tool names visible (allow) and hidden (deny).
    pub tools: Filter,
    /// Downstream prompt names.
    pub prompts: Filter,
    /// Downstream resource URIs and URI templates.
    pub resources: Filter,
}

/// How a rate limit's buckets are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitScope {
    /// One bucket per principal.
    Principal,
    /// One bucket per downstream session.
    Session,
    /// One bucket for everyone.
    Global,
}

/// One `[[limits]]` rule.
#[derive(Debug, Clone)]
pub struct LimitRule {
    /// Its name (the `rule` label and the error's `data.rule`).
    pub name: String,
    /// Matches principals.
    pub principal: Filter,
    /// Matches server aliases.
    pub server: Filter,
    /// Matches methods (`tools/call`, `prompts/get`, `resources/read`, …).
    pub method: Filter,
    /// When set, only these downstream tool names count.
    pub tools: Option<Filter>,
    /// When set, only these downstream prompt names count.
    pub prompts: Option<Filter>,
    /// When set, only these downstream resource URIs count.
    pub resources: Option<Filter>,
    /// Requests (cost units) allowed per `per`.
    pub rate: u32,
    /// The period `rate` refers to.
    pub per: Duration,
    /// Bucket size: how many may come at once.
    pub burst: u32,
    /// Whose bucket a request takes from.
    pub scope: LimitScope,
    /// Cost of matching tools (the highest matching weight; 1 when none matches).
    pub costs: Vec<(Filter, u32)>,
}

/// What the audit log records of a call's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditArguments {
    /// The arguments, with keys matching `redact` replaced by `"[redacted]"`.
    Full,
    /// A SHA-256 digest of the arguments as received.
    Digest,
    /// Nothing.
    None,
}

/// What the audit log records of a call's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditResults {
    /// Its `content` and `structuredContent`, with keys matching `redact` replaced, cut at
    /// `result_max_bytes` with a marker and the full size.
    Full,
    /// A SHA-256 digest of the result as the upstream sent it.
    Digest,
    /// Only its size.
    None,
}

/// Default `audit.result_max_bytes`.
pub const DEFAULT_AUDIT_RESULT_MAX_BYTES: usize = 4096;

/// The audit log (`[audit]`).
#[derive(Debug, Clone)]
pub struct Audit {
    /// On by default.
    pub enabled: bool,
    /// Append to this file; `None` = stderr.
    pub file: Option<PathBuf>,
    /// How arguments are recorded.
    pub arguments: AuditArguments,
    /// Lowercased key fragments whose values are redacted.
    pub redact: Vec<String>,
    /// How results are recorded.
    pub results: AuditResults,
    /// The most of a result recorded in full mode.
    pub result_max_bytes: usize,
}

impl Default for Audit {
    fn default() -> Self {
        Audit {
            enabled: true,
            file: None,
            arguments: AuditArguments::Full,
            redact: DEFAULT_REDACT.iter().map(|s| s.to_string()).collect(),
            results: AuditResults::Full,
            result_max_bytes: DEFAULT_AUDIT_RESULT_MAX_BYTES,
        }
    }
}

pub(crate) fn auth(raw: RawAuth, cx: &Context<'_>) -> Result<Auth, ConfigError> {
    let mut auth = Auth::default();
    if let Some(p) = raw.stdio_principal {
        auth.stdio_principal = non_empty(p, "auth.stdio_principal", cx)?;
    }
    for (i, t) in raw.tokens.unwrap_or_default().into_iter().enumerate() {
        let key = format!("auth.tokens[{i}]");
        let principal = non_empty(t.principal, &format!("{key}.principal"), cx)?;
        let value = match (t.env, t.file) {
            (Some(var), None) => (cx.lookup)(&var).ok_or_else(|| {
                cx.err(
                    &format!("{key}.env"),
                    format!("environment variable `{var}` is not set"),
                )
            })?,
            (None, Some(file)) => {
                let path = cx.resolve(&file.0);
                std::fs::read_to_string(&path).map_err(|e| {
                    cx.err(
                        &format!("{key}.file"),
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?
            }
            _ => return Err(cx.err(&key, "give exactly one of `env` and `file`")),
        };
        let value = value.trim().to_owned();
        if value.len() < 16 {
            return Err(cx.err(&key, "the token must be at least 16 characters"));
        }
        auth.tokens.push(StaticToken {
            principal,
            token: Secret(value),
        });
    }
    if let Some(jwt) = raw.jwt {
        auth.jwt = Some(freeze_jwt(jwt, cx)?);
    }
    auth.resource = raw.resource.map(|t| t.0);
    auth.authorization_servers = texts(raw.authorization_servers);
    if auth.authorization_servers.is_empty() {
        if let Some(jwt) = &auth.jwt {
            auth.authorization_servers.push(jwt.issuer.clone());
        }
    }
    auth.scopes = texts(raw.scopes);
    Ok(auth)
}

fn freeze_jwt(raw: RawJwt, cx: &Context<'_>) -> Result<Jwt, ConfigError> {
    let jwks = match (raw.jwks_file, raw.jwks_url) {
        (Some(file), None) => JwksSource::File(cx.resolve(&file.0)),
        (None, Some(url)) if url.0.starts_with("https://") || url.0.starts_with("http://") => {
            JwksSource::Url(url.0)
        }
        (None, Some(_)) => {
            return Err(cx.err("auth.jwt.jwks_url", "must be an http:// or https:// URL"))
        }
        _ => return Err(cx.err("auth.jwt", "give exactly one of `jwks_file` and `jwks_url`")),
    };
    let refresh = raw
        .jwks_refresh_ms
        .map_or(DEFAULT_JWKS_REFRESH, Duration::from_millis);
    if refresh < Duration::from_secs(1) {
        return Err(cx.err("auth.jwt.jwks_refresh_ms", "must be at least 1000"));
    }
    Ok(Jwt {
        issuer: non_empty(raw.issuer, "auth.jwt.issuer", cx)?,
        audience: non_empty(raw.audience, "auth.jwt.audience", cx)?,
        jwks,
        principal_claim: raw
            .principal_claim
            .map_or_else(|| DEFAULT_PRINCIPAL_CLAIM.to_owned(), |t| t.0),
        refresh,
        leeway: raw
            .leeway_ms
            .map_or(DEFAULT_JWT_LEEWAY, Duration::from_millis),
        required_scopes: texts(raw.required_scopes),
    })
}

pub(crate) fn access(
    raw: Vec<RawAccess>,
    cx: &Context<'_>,
) -> Result<Vec<AccessRule>, ConfigError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, r)| {
            let key = format!("access[{i}]");
            Ok(AccessRule {
                principal: glob(&r.principal, &format!("{key}.principal"), cx)?,
                principal_pattern: r.principal,
                tools: allow_deny(r.tools, &format!("{key}.tools"), cx)?,
                prompts: allow_deny(r.prompts, &format!("{key}.prompts"), cx)?,
                resources: allow_deny(r.resources, &format!("{key}.resources"), cx)?,
            })
        })
        .collect()
}

pub(crate) fn limits(raw: Vec<RawLimit>, cx: &Context<'_>) -> Result<Vec<LimitRule>, ConfigError> {
    let mut rules: Vec<LimitRule> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let key = format!("limits[{i}]");
        let k = |field: &str| format!("{key}.{field}");
        let name_ok = !r.name.is_empty()
            && r.name.len() <= 64
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !name_ok {
            return Err(cx.err(&k("name"), "must be 1-64 characters of [A-Za-z0-9_.-]"));
        }
        if rules.iter().any(|x| x.name == r.name) {
            return Err(cx.err(&k("name"), format!("`{}` is used by another rule", r.name)));
        }
        if r.rate == 0 {
            return Err(cx.err(&k("rate"), "must be greater than 0"));
        }
        let per = Duration::from_millis(r.per_ms.unwrap_or(1000));
        if per.is_zero() {
            return Err(cx.err(&k("per_ms"), "must be greater than 0"));
        }
        let burst = r.burst.unwrap_or(r.rate);
        if burst == 0 {
            return Err(cx.err(&k("burst"), "must be greater than 0"));
        }
        let scope = match r.scope.as_deref() {
            None | Some("principal") => LimitScope::Principal,
            Some("session") => LimitScope::Session,
            Some("global") => LimitScope::Global,
            Some(other) => {
                return Err(cx.err(
                    &k("scope"),
                    format!("`{other}` is not one of \"principal\", \"session\", \"global\""),
                ))
            }
        };
        let mut costs = Vec::new();
        for (pattern, weight) in r.costs.unwrap_or_default() {
            if weight == 0 || weight > burst {
                return Err(cx.err(
                    &k("costs"),
                    format!("the cost of `{pattern}` must be between 1 and the burst ({burst})"),
                ));
            }
            costs.push((glob(&pattern, &k("costs"), cx)?, weight));
        }
        let any = |p: Option<String>, field: &str| glob(p.as_deref().unwrap_or("*"), &k(field), cx);
        let list = |p: Option<Vec<String>>, field: &str| {
            p.map(|globs| {
                Filter::from_patterns(Some(globs), Vec::new())
                    .map_err(|(_, e)| cx.err(&k(field), e.to_string()))
            })
            .transpose()
        };
        rules.push(LimitRule {
            principal: any(r.principal, "principal")?,
            server: any(r.server, "server")?,
            method: any(r.method, "method")?,
            tools: list(r.tools, "tools")?,
            prompts: list(r.prompts, "prompts")?,
            resources: list(r.resources, "resources")?,
            name: r.name,
            rate: r.rate,
            per,
            burst,
            scope,
            costs,
        });
    }
    Ok(rules)
}

pub(crate) fn audit(raw: RawAudit, cx: &Context<'_>) -> Result<Audit, ConfigError> {
    let mut audit = Audit::default();
    if let Some(enabled) = raw.enabled {
        audit.enabled = enabled;
    }
    audit.file = raw.file.map(|f| cx.resolve(&f.0));
    audit.arguments = match raw.arguments.as_deref() {
        None | Some("full") => AuditArguments::Full,
        Some("digest") => AuditArguments::Digest,
        Some("none") => AuditArguments::None,
        Some(other) => {
            return Err(cx.err(
                "audit.arguments",
                format!("`{other}` is not one of \"full\", \"digest\", \"none\""),
            ))
        }
    };
    if let Some(redact) = raw.redact {
        audit.redact = redact.into_iter().map(|k| k.to_lowercase()).collect();
    }
    audit.results = match raw.results.as_deref() {
        None | Some("full") => AuditResults::Full,
        Some("digest") => AuditResults::Digest,
        Some("none") => AuditResults::None,
        Some(other) => {
            return Err(cx.err(
                "audit.results",
                format!("`{other}` is not one of \"full\", \"digest\", \"none\""),
            ))
        }
    };
    if let Some(max) = raw.result_max_bytes {
        if max < 64 {
            return Err(cx.err("audit.result_max_bytes", "must be at least 64"));
        }
        audit.result_max_bytes = max;
    }
    Ok(audit)
}

/// Parses `{ "tools/call" = 30000 }` style per-method timeouts.
pub(crate) fn method_timeouts(
    raw: Option<BTreeMap<String, u64>>,
    key: &str,
    cx: &Context<'_>,
) -> Result<BTreeMap<String, Duration>, ConfigError> {
    let mut out = BTreeMap::new();
    for (method, ms) in raw.unwrap_or_default() {
        if ms == 0 {
            return Err(cx.err(&format!("{key}.{method}"), "must be greater than 0"));
        }
        out.insert(method, Duration::from_millis(ms));
    }
    Ok(out)
}

fn glob(pattern: &str, key: &str, cx: &Context<'_>) -> Result<Filter, ConfigError> {
    Filter::from_patterns(Some(vec![pattern.to_owned()]), Vec::new())
        .map_err(|(_, e)| cx.err(key, e.to_string()))
}

fn allow_deny(
    raw: Option<RawAllowDeny>,
    key: &str,
    cx: &Context<'_>,
) -> Result<Filter, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Filter::default());
    };
    Filter::from_patterns(raw.allow, raw.deny.unwrap_or_default()).map_err(|(list, e)| {
        let list = if list == "include" { "allow" } else { "deny" };
        cx.err(&format!("{key}.{list}"), e.to_string())
    })
}

fn non_empty(t: Text, key: &str, cx: &Context<'_>) -> Result<String, ConfigError> {
    if t.0.trim().is_empty() {
        Err(cx.err(key, "must not be empty"))
    } else {
        Ok(t.0)
    }
}

fn texts(v: Option<Vec<Text>>) -> Vec<String> {
    v.unwrap_or_default().into_iter().map(|t| t.0).collect()
}
