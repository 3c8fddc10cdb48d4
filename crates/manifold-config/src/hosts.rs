//! The hosts' `{"mcpServers": {...}}` format (Claude Desktop, Claude Code, Cursor): detection,
//! alias normalisation, and translation of each entry into Manifold's own `servers` shape.

use std::collections::{BTreeMap, HashMap};

use figment::value::{Dict, Value};
use serde::de::IgnoredAny;
use serde::Deserialize;

use crate::error::{ConfigError, KeyMap};
use crate::raw::{RawServer, Text};

/// The top-level key that marks a hosts' file.
pub(crate) const HOSTS_KEY: &str = "mcpServers";

/// Top-level sections of Manifold's own format that a hosts' file may also carry.
const MANIFOLD_SECTIONS: [&str; 3] = ["gateway", "listen", "admin"];

/// One `mcpServers` entry as the hosts write it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostEntry {
    command: Option<Text>,
    args: Option<Vec<Text>>,
    env: Option<BTreeMap<String, Text>>,
    cwd: Option<Text>,
    url: Option<Text>,
    headers: Option<BTreeMap<String, Text>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    disabled: Option<bool>,
    timeout: Option<u64>,
    #[serde(rename = "autoApprove")]
    auto_approve: Option<IgnoredAny>,
    #[serde(rename = "alwaysAllow")]
    always_allow: Option<IgnoredAny>,
    description: Option<IgnoredAny>,
}

/// A hosts' file rewritten into Manifold's shape.
#[derive(Debug)]
pub(crate) struct Translated {
    /// Top level with `servers` (keyed by alias) instead of `mcpServers`.
    pub(crate) dict: Dict,
    /// Aliases in file order.
    pub(crate) order: Vec<String>,
    /// How to show keys of these servers in errors.
    pub(crate) keys: KeyMap,
    pub(crate) notices: Vec<String>,
}

/// True when the file is a hosts' file.
pub(crate) fn is_hosts_file(dict: &Dict) -> bool {
    dict.contains_key(HOSTS_KEY)
}

/// Rewrites a hosts' file; `order` lists the `mcpServers` names in file order.
pub(crate) fn translate(
    mut dict: Dict,
    order: &[String],
    file: &str,
) -> Result<Translated, ConfigError> {
    let entries = match dict.remove(HOSTS_KEY) {
        Some(Value::Dict(_, entries)) => entries,
        Some(_) => {
            return Err(ConfigError::new(
                file,
                HOSTS_KEY,
                "expected a table of servers",
            ))
        }
        None => Dict::new(),
    };
    if dict.contains_key("servers") {
        return Err(ConfigError::new(
            file,
            "servers",
            "a hosts' file lists its servers under `mcpServers`; `servers` cannot be used beside it",
        ));
    }
    let mut notices = Vec::new();
    let ignored: Vec<String> = dict
        .keys()
        .filter(|key| !MANIFOLD_SECTIONS.contains(&key.as_str()))
        .cloned()
        .collect();
    for key in ignored {
        dict.remove(&key);
        notices.push(format!(
            "top-level key `{key}` is not used by Manifold and was ignored"
        ));
    }

    let mut names: Vec<&String> = order.iter().filter(|n| entries.contains_key(*n)).collect();
    let mut rest: Vec<&String> = entries.keys().filter(|n| !order.contains(n)).collect();
    names.append(&mut rest);

    let mut servers = Dict::new();
    let mut aliases = Vec::new();
    let mut keys = KeyMap::default();
    let mut seen: HashMap<String, &str> = HashMap::new();
    for name in names {
        let key = format!("{HOSTS_KEY}.{name}");
        let entry: HostEntry = entries[name].deserialize().map_err(|mut e| {
            e.path.splice(0..0, [HOSTS_KEY.to_owned(), name.clone()]);
            ConfigError::from_figment(file, e, &KeyMap::default())
        })?;
        let alias = if is_alias(name) {
            name.clone()
        } else {
            let alias = normalise_alias(name);
            if alias.is_empty() {
                return Err(ConfigError::new(
                    file,
                    key,
                    "server name has no letters or digits to make an alias from",
                ));
            }
            notices.push(format!("server name `{name}` normalised to `{alias}`"));
            alias
        };
        if let Some(other) = seen.insert(alias.clone(), name) {
            return Err(ConfigError::new(
                file,
                key,
                format!("server names `{other}` and `{name}` both become the alias `{alias}`"),
            ));
        }
        let server = entry_to_server(entry, &alias, &key, file, &mut notices)?;
        let value = Value::serialize(&server)
            .map_err(|e| ConfigError::from_figment(file, e, &KeyMap::default()))?;
        servers.insert(alias.clone(), value);
        keys.insert(&alias, name);
        aliases.push(alias);
    }
    dict.insert("servers".to_owned(), Value::from(servers));
    Ok(Translated {
        dict,
        order: aliases,
        keys,
        notices,
    })
}

fn entry_to_server(
    entry: HostEntry,
    alias: &str,
    key: &str,
    file: &str,
    notices: &mut Vec<String>,
) -> Result<RawServer, ConfigError> {
    let transport = match entry.kind.as_deref() {
        None => None,
        Some("stdio") => Some("stdio".to_owned()),
        Some("http" | "streamable-http") => Some("streamable-http".to_owned()),
        Some("sse") => Some("sse".to_owned()),
        Some(other) => {
            return Err(ConfigError::new(
                file,
                format!("{key}.type"),
                format!(
                    "unknown type `{other}`; expected `stdio`, `http`, `streamable-http` or `sse`"
                ),
            ))
        }
    };
    for (present, host_key) in [
        (entry.auto_approve.is_some(), "autoApprove"),
        (entry.always_allow.is_some(), "alwaysAllow"),
        (entry.description.is_some(), "description"),
    ] {
        if present {
            notices.push(format!(
                "server `{alias}`: host-specific key `{host_key}` is ignored"
            ));
        }
    }
    Ok(RawServer {
        command: entry.command,
        args: entry.args,
        env: entry.env,
        cwd: entry.cwd,
        url: entry.url,
        headers: entry.headers,
        transport,
        timeout_ms: entry.timeout,
        enabled: entry.disabled.map(|disabled| !disabled),
        ..RawServer::default()
    })
}

/// True when `name` matches `[a-z0-9][a-z0-9-]*` (aliases and namespaces).
pub(crate) fn is_alias(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Lowercases, turns every run of characters outside `[a-z0-9]` into one `-`, trims `-`.
pub(crate) fn normalise_alias(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut gap = false;
    for c in name.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if gap && !out.is_empty() {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_rule() {
        assert!(is_alias("alpha"));
        assert!(is_alias("0day-2"));
        assert!(is_alias("a--b"));
        assert!(!is_alias(""));
        assert!(!is_alias("-a"));
        assert!(!is_alias("My_Server"));
        assert!(!is_alias("a_b"));
        assert!(!is_alias("a+b"));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalise_alias("My_Server"), "my-server");
        assert_eq!(normalise_alias("  GitHub (work)  "), "github-work");
        assert_eq!(normalise_alias("a__b..c"), "a-b-c");
        assert_eq!(normalise_alias("_x_"), "x");
        assert_eq!(normalise_alias("Ünïcode"), "n-code");
        assert_eq!(normalise_alias("___"), "");
    }
}
