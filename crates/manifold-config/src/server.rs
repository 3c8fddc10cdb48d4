//! One `[servers.<alias>]` entry → `Server`: alias and namespace rules, the transport choice,
//! `${VAR}` expansion, path resolution against the config's directory, and the filters.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ConfigError, KeyMap};
use crate::expand::expand;
use crate::filter::Filter;
use crate::hosts::is_alias;
use crate::model::{
    Curate, HttpProtocol, HttpSpec, Server, Sharing, StdioSpec, Transport, UpstreamEra,
    DEFAULT_QUEUE_TIMEOUT,
};
use crate::raw::{RawFilter, RawServer, Text};
use crate::raw_policy::RawCurate;

/// What validation needs besides the raw values.
pub(crate) struct Context<'a> {
    /// File name for errors.
    pub(crate) file: &'a str,
    /// Absolute directory that relative `cwd` and `command` paths resolve against.
    pub(crate) base_dir: &'a Path,
    /// Variable lookup for `${VAR}`.
    pub(crate) lookup: &'a dyn Fn(&str) -> Option<String>,
    /// Key display for translated hosts' files.
    pub(crate) keys: &'a KeyMap,
}

impl Context<'_> {
    pub(crate) fn err(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::new(self.file, self.keys.display(key), problem)
    }

    pub(crate) fn expand(&self, key: &str, text: &Text) -> Result<String, ConfigError> {
        expand(&text.0, self.lookup).map_err(|e| self.err(key, e.to_string()))
    }

    /// `base_dir.join(path)`, made absolute with `.` components removed.
    pub(crate) fn resolve(&self, path: &str) -> PathBuf {
        let joined = self.base_dir.join(path);
        std::path::absolute(&joined).unwrap_or(joined)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stdio,
    Http,
}

/// Validates one server; `Ok(None)` when it is disabled. A disabled server is still checked for
/// shape (alias, transport, filters) but its values are not expanded, so a variable that is only
/// set where the server is used does not break the config elsewhere.
pub(crate) fn freeze_server(
    alias: &str,
    mut raw: RawServer,
    cx: &Context<'_>,
) -> Result<Option<Server>, ConfigError> {
    let prefix = format!("servers.{alias}");
    let key = |field: &str| format!("{prefix}.{field}");
    if !is_alias(alias) {
        return Err(cx.err(
            &prefix,
            format!("server alias `{alias}` must match [a-z0-9][a-z0-9-]* (lowercase letters, digits and '-'; '_' and '+' are reserved)"),
        ));
    }
    let namespace = match raw.namespace.as_deref() {
        None => alias.to_owned(),
        Some(ns) if ns.is_empty() || is_alias(ns) => ns.to_owned(),
        Some(ns) => {
            return Err(cx.err(
                &key("namespace"),
                format!("namespace `{ns}` must be \"\" (pass-through) or match [a-z0-9][a-z0-9-]*"),
            ))
        }
    };
    if raw.timeout_ms == Some(0) {
        return Err(cx.err(&key("timeout_ms"), "must be greater than 0"));
    }
    let kind = transport_kind(&raw, &prefix, cx)?;
    let tools = freeze_filter(raw.tools.take(), &key("tools"), cx)?;
    let prompts = freeze_filter(raw.prompts.take(), &key("prompts"), cx)?;
    let resources = freeze_filter(raw.resources.take(), &key("resources"), cx)?;
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    let sharing = match (raw.sharing.as_deref(), &kind) {
        (Some("shared"), _) | (None, Kind::Stdio) => Sharing::Shared,
        (Some("per-session"), _) | (None, Kind::Http) => Sharing::PerSession,
        (Some(other), _) => {
            return Err(cx.err(
                &key("sharing"),
                format!("`{other}` is not one of \"shared\", \"per-session\""),
            ))
        }
    };
    let era = match raw.protocol.as_deref() {
        None | Some("auto") => UpstreamEra::Auto,
        Some("legacy") => UpstreamEra::Legacy,
        Some("2026-07-28") => UpstreamEra::Modern,
        Some(other) => {
            return Err(cx.err(
                &key("protocol"),
                format!("`{other}` is not one of \"auto\", \"legacy\", \"2026-07-28\""),
            ))
        }
    };
    let transport = match kind {
        Kind::Stdio => Transport::Stdio(stdio(&raw, &prefix, cx)?),
        Kind::Http => Transport::Http(http(&raw, &prefix, cx)?),
    };
    let method_timeouts = crate::policy::method_timeouts(
        raw.method_timeouts_ms.take(),
        &key("method_timeouts_ms"),
        cx,
    )?;
    if raw.max_concurrency == Some(0) {
        return Err(cx.err(&key("max_concurrency"), "must be greater than 0"));
    }
    if raw.max_result_bytes.is_some_and(|n| n < 64) {
        return Err(cx.err(&key("max_result_bytes"), "must be at least 64"));
    }
    let curate = curate(raw.curate.take(), &key("curate"), cx)?;
    Ok(Some(Server {
        alias: alias.to_owned(),
        namespace,
        transport,
        timeout: raw.timeout_ms.map(Duration::from_millis),
        enabled: true,
        sharing,
        era,
        tools,
        prompts,
        resources,
        method_timeouts,
        max_concurrency: raw.max_concurrency,
        queue_timeout: raw
            .queue_timeout_ms
            .map_or(DEFAULT_QUEUE_TIMEOUT, Duration::from_millis),
        max_result_bytes: raw.max_result_bytes,
        truncate_results: raw.truncate_results.unwrap_or(false),
        validate_arguments: raw.validate_arguments.unwrap_or(true),
        curate,
    }))
}

/// `[servers.<alias>.curate.<tool>]`: renames must be valid, distinct tool names.
fn curate(
    raw: Option<std::collections::BTreeMap<String, RawCurate>>,
    key: &str,
    cx: &Context<'_>,
) -> Result<std::collections::BTreeMap<String, Curate>, ConfigError> {
    let mut out = std::collections::BTreeMap::new();
    let mut renamed = std::collections::HashSet::new();
    for (tool, c) in raw.unwrap_or_default() {
        if let Some(name) = &c.rename {
            let valid = !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !valid {
                return Err(cx.err(
                    &format!("{key}.{tool}.rename"),
                    "must be 1-64 characters of [A-Za-z0-9_.-]",
                ));
            }
            if !renamed.insert(name.clone()) {
                return Err(cx.err(
                    &format!("{key}.{tool}.rename"),
                    format!("`{name}` is already the new name of another tool"),
                ));
            }
        }
        out.insert(
            tool,
            Curate {
                rename: c.rename,
                description: c.description.map(|t| t.0),
                fixed_arguments: c.fixed_arguments.unwrap_or_default(),
            },
        );
    }
    Ok(out)
}

/// Exactly one of `command`/`url`, agreeing with `transport` when given; no keys of the other kind.
fn transport_kind(raw: &RawServer, prefix: &str, cx: &Context<'_>) -> Result<Kind, ConfigError> {
    let kind = match (&raw.command, &raw.url) {
        (Some(_), Some(_)) => {
            return Err(cx.err(
                prefix,
                "has both `command` and `url`; a server is either a process to run or an endpoint",
            ))
        }
        (None, None) => return Err(cx.err(
            prefix,
            "needs `command` (a process to run over stdio) or `url` (a Streamable HTTP endpoint)",
        )),
        (Some(_), None) => Kind::Stdio,
        (None, Some(_)) => Kind::Http,
    };
    let transport_key = format!("{prefix}.transport");
    let declared = match raw.transport.as_deref() {
        None => kind,
        Some("stdio") => Kind::Stdio,
        Some("streamable-http" | "sse") => Kind::Http,
        Some(other) => {
            return Err(cx.err(
                &transport_key,
                format!(
                    "unknown transport `{other}`; expected `stdio`, `streamable-http` or `sse`"
                ),
            ))
        }
    };
    if declared != kind {
        let needs = if declared == Kind::Stdio {
            "`command`"
        } else {
            "`url`"
        };
        return Err(cx.err(&transport_key, format!("this transport needs {needs}")));
    }
    let misplaced: &[(bool, &str)] = match kind {
        Kind::Stdio => &[(raw.headers.is_some(), "headers")],
        Kind::Http => &[
            (raw.args.is_some(), "args"),
            (raw.env.is_some(), "env"),
            (raw.cwd.is_some(), "cwd"),
        ],
    };
    if let Some((_, field)) = misplaced.iter().find(|(present, _)| *present) {
        let applies = if kind == Kind::Stdio {
            "HTTP servers (`url`)"
        } else {
            "stdio servers (`command`)"
        };
        return Err(cx.err(
            &format!("{prefix}.{field}"),
            format!("applies only to {applies}"),
        ));
    }
    Ok(kind)
}

fn stdio(raw: &RawServer, prefix: &str, cx: &Context<'_>) -> Result<StdioSpec, ConfigError> {
    let command_key = format!("{prefix}.command");
    let command = raw.command.as_ref().expect("stdio servers have a command");
    let mut command = cx.expand(&command_key, command)?;
    if command.trim().is_empty() {
        return Err(cx.err(&command_key, "must not be empty"));
    }
    if command.contains('/') && Path::new(&command).is_relative() {
        command = cx.resolve(&command).to_string_lossy().into_owned();
    }
    let args = raw
        .args
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, arg)| cx.expand(&format!("{prefix}.args.{i}"), arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut env = Vec::new();
    for (name, value) in raw.env.iter().flatten() {
        let key = format!("{prefix}.env.{name}");
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(cx.err(
                &key,
                "environment variable names must be non-empty, without '=' or NUL",
            ));
        }
        env.push((name.clone(), cx.expand(&key, value)?));
    }
    let cwd = match &raw.cwd {
        None => None,
        Some(cwd) => {
            let key = format!("{prefix}.cwd");
            let cwd = cx.expand(&key, cwd)?;
            if cwd.is_empty() {
                return Err(cx.err(&key, "must not be empty"));
            }
            Some(cx.resolve(&cwd))
        }
    };
    Ok(StdioSpec {
        command,
        args,
        env,
        cwd,
    })
}

fn http(raw: &RawServer, prefix: &str, cx: &Context<'_>) -> Result<HttpSpec, ConfigError> {
    let url_key = format!("{prefix}.url");
    let url = raw.url.as_ref().expect("HTTP servers have a url");
    let url = cx.expand(&url_key, url)?;
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
        _ => {
            return Err(cx.err(
                &url_key,
                format!("`{url}` is not an http:// or https:// URL with a host"),
            ))
        }
    }
    let protocol = match raw.transport.as_deref() {
        Some("streamable-http") => HttpProtocol::Streamable,
        Some("sse") => HttpProtocol::LegacySse,
        _ => HttpProtocol::Auto,
    };
    let mut headers = Vec::new();
    for (name, value) in raw.headers.iter().flatten() {
        let key = format!("{prefix}.headers.{name}");
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(cx.err(&key, "not a valid HTTP header name"));
        }
        let value = cx.expand(&key, value)?;
        if value.contains(['\r', '\n', '\0']) {
            return Err(cx.err(&key, "header values must not contain CR, LF or NUL"));
        }
        headers.push((name.clone(), value));
    }
    Ok(HttpSpec {
        url,
        headers,
        protocol,
    })
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn freeze_filter(
    raw: Option<RawFilter>,
    key: &str,
    cx: &Context<'_>,
) -> Result<Filter, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Filter::default());
    };
    Filter::from_patterns(raw.include, raw.exclude.unwrap_or_default())
        .map_err(|(list, e)| cx.err(&format!("{key}.{list}"), e.to_string()))
}
