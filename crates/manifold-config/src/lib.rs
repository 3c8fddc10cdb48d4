//! Manifold's configuration: load (figment: TOML/YAML/JSON file + `MANIFOLD_` environment
//! overrides) → validate → freeze into an immutable [`Config`].
//!
//! A hosts' `{"mcpServers": {...}}` file (Claude Desktop, Claude Code, Cursor) loads as-is.
//! Servers keep the order of the file: it decides name collisions later on.

mod error;
mod expand;
mod filter;
mod hosts;
mod model;
mod policy;
mod raw;
mod raw_policy;
mod server;
mod source;
mod summary;
mod validate;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use figment::providers::{Env, Serialized};
use figment::Figment;

pub use error::ConfigError;
pub use filter::Filter;
pub use model::{
    Admin, Config, Curate, Gateway, HttpProtocol, HttpSpec, Listen, Restart, SecretKey, Server,
    Sharing, StdioSpec, Tls, Transport, UpstreamEra, DEFAULT_ADMIN_LISTEN, DEFAULT_ALLOWED_HOSTS,
    DEFAULT_BODY_TIMEOUT, DEFAULT_CLIENT_MAX_IN_FLIGHT, DEFAULT_CLIENT_QUEUE_BYTES, DEFAULT_DRAIN,
    DEFAULT_HEADER_TIMEOUT, DEFAULT_HTTP_PATH, DEFAULT_IDLE_TIMEOUT, DEFAULT_INITIAL_BACKOFF,
    DEFAULT_MAX_BACKOFF, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_NAME,
    DEFAULT_PING_INTERVAL, DEFAULT_QUEUE_TIMEOUT, DEFAULT_REPLAY_BUFFER, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_SEPARATOR, DEFAULT_SESSION_IDLE, DEFAULT_SESSION_QUEUE, DEFAULT_SESSION_QUEUE_BYTES,
    DEFAULT_SHUTDOWN_GRACE, DEFAULT_SSE_AFTER, DEFAULT_SSE_RETRY, DEFAULT_STARTUP_WAIT,
    DEFAULT_UNHEALTHY_AFTER, DEFAULT_UPSTREAM_QUEUE_BYTES, MIN_MAX_MESSAGE_BYTES,
};
pub use policy::{
    AccessRule, Audit, AuditArguments, AuditResults, Auth, JwksSource, Jwt, LimitRule, LimitScope,
    Secret, StaticToken, ANONYMOUS_PRINCIPAL, DEFAULT_AUDIT_RESULT_MAX_BYTES, DEFAULT_JWKS_REFRESH,
    DEFAULT_JWT_LEEWAY, DEFAULT_PRINCIPAL_CLAIM, DEFAULT_REDACT, DEFAULT_STDIO_PRINCIPAL,
};
pub use source::Format;

use error::KeyMap;
use raw::RawConfig;
use server::Context;

/// Prefix of environment overrides: `MANIFOLD_GATEWAY__PAGE_SIZE=10`.
pub const ENV_PREFIX: &str = "MANIFOLD_";

/// Top-level sections an environment override may address. Other `MANIFOLD_*` variables
/// (such as ones the CLI reads) are not configuration overrides and are left alone.
const ENV_SECTIONS: [&str; 6] = ["gateway", "listen", "admin", "servers", "auth", "audit"];

/// Loads `path` (format from its extension), applies `MANIFOLD_…` environment overrides
/// (`__` separates key levels; keys are lowercased), expands `${VAR}` from the process
/// environment, and validates. Relative paths in the file resolve against its directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::new(&file, "", format!("cannot read the file: {e}")))?;
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::path::absolute(parent),
        _ => std::env::current_dir(),
    }
    .map_err(|e| ConfigError::new(&file, "", format!("cannot resolve its directory: {e}")))?;
    let mut config = load_input(&Input {
        text: &text,
        format: Format::from_path(path),
        file: &file,
        base_dir: dir,
        env_overrides: true,
        lookup: &process_env,
    })?;
    config.source = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    Ok(config)
}

/// Loads configuration text without a file and without `MANIFOLD_…` overrides (for tests and
/// embedding). `${VAR}` still expands from the process environment; relative paths resolve
/// against the current directory.
pub fn load_str(text: &str, format: Format) -> Result<Config, ConfigError> {
    let file = "<string>";
    let dir = std::env::current_dir().map_err(|e| {
        ConfigError::new(
            file,
            "",
            format!("cannot resolve the current directory: {e}"),
        )
    })?;
    load_input(&Input {
        text,
        format,
        file,
        base_dir: dir,
        env_overrides: false,
        lookup: &process_env,
    })
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Everything one load needs; tests build it directly to choose the lookup and directory.
pub(crate) struct Input<'a> {
    pub(crate) text: &'a str,
    pub(crate) format: Format,
    pub(crate) file: &'a str,
    /// Absolute directory for relative `cwd`/`command`.
    pub(crate) base_dir: PathBuf,
    pub(crate) env_overrides: bool,
    pub(crate) lookup: &'a dyn Fn(&str) -> Option<String>,
}

/// Parse → (translate a hosts' file) → merge overrides → extract → validate → freeze.
pub(crate) fn load_input(input: &Input<'_>) -> Result<Config, ConfigError> {
    let file = input.file;
    let dict = source::parse(input.text, input.format, file)?;
    let (dict, order, keys, notices) = if hosts::is_hosts_file(&dict) {
        let names = source::key_order(input.text, input.format, hosts::HOSTS_KEY);
        let translated = hosts::translate(dict, &names, file)?;
        (
            translated.dict,
            translated.order,
            translated.keys,
            translated.notices,
        )
    } else {
        let order = source::key_order(input.text, input.format, "servers");
        (dict, order, KeyMap::default(), Vec::new())
    };
    let mut figment = Figment::from(Serialized::defaults(dict));
    if input.env_overrides {
        figment = figment.merge(env_overrides());
    }
    let raw: RawConfig = figment
        .extract()
        .map_err(|e| ConfigError::from_figment(file, e, &keys))?;
    let cx = Context {
        file,
        base_dir: &input.base_dir,
        lookup: input.lookup,
        keys: &keys,
    };
    validate::freeze(raw, &order, &cx, notices)
}

/// `MANIFOLD_<SECTION>__<KEY>…` → `<section>.<key>…` (lowercased).
fn env_overrides() -> Env {
    Env::prefixed(ENV_PREFIX)
        .filter(|key| {
            let section = key.as_str().split("__").next().unwrap_or_default();
            ENV_SECTIONS.iter().any(|s| s.eq_ignore_ascii_case(section))
        })
        .split("__")
}
