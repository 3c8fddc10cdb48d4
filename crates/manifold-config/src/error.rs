//! `ConfigError` (what is wrong, in which file, at which key path), the conversion from figment's
//! errors, and `KeyMap`, which shows keys of a translated hosts' file as the user wrote them.

use std::collections::HashMap;

use figment::error::{Kind, OneOf};

/// A configuration problem: `"<file>: <key>: <problem>"`.
///
/// `key` is a dotted path such as `servers.alpha.timeout_ms`; it is empty for problems of the
/// file as a whole (unreadable, not valid TOML/YAML/JSON).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{problem}", key_part(.key))]
pub struct ConfigError {
    /// The configuration file (or `<string>` for [`crate::load_str`]).
    pub file: String,
    /// Dotted key path of the offending value; may be empty.
    pub key: String,
    /// What is wrong, in words.
    pub problem: String,
}

fn key_part(key: &str) -> String {
    if key.is_empty() {
        String::new()
    } else {
        format!("{key}: ")
    }
}

impl ConfigError {
    pub(crate) fn new(file: &str, key: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError {
            file: file.to_owned(),
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// Converts figment's error (the first of a chain), keeping its key path. A value that came
    /// from an environment override names the variable.
    pub(crate) fn from_figment(file: &str, error: figment::Error, keys: &KeyMap) -> Self {
        let error = error
            .into_iter()
            .next()
            .expect("a figment error has one entry");
        let mut path = error.path.clone();
        let mut problem = match &error.kind {
            Kind::UnknownField(_, expected) => format!("unknown key; expected {}", OneOf(expected)),
            Kind::MissingField(field) => {
                path.push(field.to_string());
                "required key is missing".to_owned()
            }
            other => other.to_string(),
        };
        let from_env = error
            .metadata
            .as_ref()
            .is_some_and(|md| md.name.contains("environment"));
        let key = path.join(".");
        let key = if from_env {
            let var = format!("MANIFOLD_{}", path.join("__")).to_ascii_uppercase();
            problem.push_str(&format!(" (from environment variable {var})"));
            key
        } else {
            keys.display(&key)
        };
        ConfigError::new(file, key, problem)
    }
}

/// Maps the internal key paths of servers translated from a hosts' `mcpServers` file
/// (`servers.my-server.timeout_ms`) back to what the file says (`mcpServers.My_Server.timeout`).
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyMap {
    /// alias → original `mcpServers` entry name.
    hosts: HashMap<String, String>,
}

impl KeyMap {
    pub(crate) fn insert(&mut self, alias: &str, original: &str) {
        self.hosts.insert(alias.to_owned(), original.to_owned());
    }

    /// The key path as the user wrote it.
    pub(crate) fn display(&self, key: &str) -> String {
        let mut parts = key.splitn(3, '.');
        let (Some("servers"), Some(alias)) = (parts.next(), parts.next()) else {
            return key.to_owned();
        };
        let Some(original) = self.hosts.get(alias) else {
            return key.to_owned();
        };
        match parts.next() {
            None => format!("mcpServers.{original}"),
            Some(rest) => {
                let (field, tail) = rest.split_once('.').unwrap_or((rest, ""));
                let field = match field {
                    "enabled" => "disabled",
                    "transport" => "type",
                    "timeout_ms" => "timeout",
                    other => other,
                };
                let tail = if tail.is_empty() {
                    String::new()
                } else {
                    format!(".{tail}")
                };
                format!("mcpServers.{original}.{field}{tail}")
            }
        }
    }
}
