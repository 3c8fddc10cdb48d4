//! The file as text: its `Format`, parsing it into a figment dictionary, and recovering the
//! order of a table's keys (figment's dictionaries are sorted; server order matters).

use std::path::Path;

use figment::providers::{self, Format as _};
use figment::value::Dict;
use figment::Figment;

use crate::error::{ConfigError, KeyMap};

/// Syntax of a configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// TOML (the default).
    Toml,
    /// YAML.
    Yaml,
    /// JSON (also the hosts' `mcpServers` files).
    Json,
}

impl Format {
    /// Chooses by extension: `.yaml`/`.yml` → YAML, `.json` → JSON, anything else → TOML.
    pub fn from_path(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|ext| ext.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("yaml" | "yml") => Format::Yaml,
            Some("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

/// Parses `text` into its top-level dictionary.
pub(crate) fn parse(text: &str, format: Format, file: &str) -> Result<Dict, ConfigError> {
    if text.trim().is_empty() {
        return Ok(Dict::new());
    }
    let figment = match format {
        Format::Toml => Figment::from(providers::Toml::string(text)),
        Format::Yaml => Figment::from(providers::Yaml::string(text)),
        Format::Json => Figment::from(providers::Json::string(text)),
    };
    figment
        .extract::<Dict>()
        .map_err(|e| ConfigError::from_figment(file, e, &KeyMap::default()))
}

/// The keys of the top-level table `table`, in the order the file lists them. Empty when the
/// table is absent (or the text does not parse, which `parse` reports on its own).
pub(crate) fn key_order(text: &str, format: Format, table: &str) -> Vec<String> {
    // All three parsers hand maps to the visitor in document order, and serde_json's `Value`
    // keeps that order (`preserve_order`).
    let value: Option<serde_json::Value> = match format {
        Format::Toml => toml::from_str(text).ok(),
        Format::Yaml => serde_yaml::from_str(text).ok(),
        Format::Json => serde_json::from_str(text).ok(),
    };
    value
        .as_ref()
        .and_then(|value| value.get(table)?.as_object())
        .map(|map| map.keys().cloned().collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_from_extension() {
        assert_eq!(Format::from_path(Path::new("a/m.toml")), Format::Toml);
        assert_eq!(Format::from_path(Path::new("m.YAML")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("m.yml")), Format::Yaml);
        assert_eq!(Format::from_path(Path::new("m.json")), Format::Json);
        assert_eq!(Format::from_path(Path::new("m.conf")), Format::Toml);
        assert_eq!(Format::from_path(Path::new("manifold")), Format::Toml);
    }

    #[test]
    fn key_order_follows_the_document() {
        let toml = "[servers.zeta]\nurl='http://z'\n[servers.alpha]\nurl='http://a'\n[servers.mid]\nurl='http://m'\n";
        assert_eq!(
            key_order(toml, Format::Toml, "servers"),
            ["zeta", "alpha", "mid"]
        );
        let yaml = "servers:\n  zeta: {url: x}\n  alpha: {url: y}\n";
        assert_eq!(key_order(yaml, Format::Yaml, "servers"), ["zeta", "alpha"]);
        let json = r#"{"mcpServers": {"zeta": {}, "alpha": {}}}"#;
        assert_eq!(
            key_order(json, Format::Json, "mcpServers"),
            ["zeta", "alpha"]
        );
        assert!(key_order(json, Format::Json, "servers").is_empty());
        assert!(key_order("not [valid", Format::Toml, "servers").is_empty());
    }

    #[test]
    fn syntax_errors_name_the_file() {
        let err = parse("servers = [", Format::Toml, "m.toml").unwrap_err();
        assert_eq!(err.file, "m.toml");
        assert!(err.key.is_empty());
    }
}
