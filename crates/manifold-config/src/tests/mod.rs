//! Loader tests: formats and order, validation errors, hosts' files, environment overrides,
//! and the example configs under `config/`.

mod env;
mod examples;
mod formats;
mod hosts_file;
mod policy;
mod validation;

use std::path::PathBuf;

use crate::{load_input, Config, ConfigError, Format, Input, Server, Transport};

/// Directory that relative paths resolve against in these tests.
const BASE: &str = "/base/dir";

/// Loads `text` without environment overrides, with `vars` as the only variables.
fn load_with(text: &str, format: Format, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let lookup = |name: &str| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    };
    load_input(&Input {
        text,
        format,
        file: "test.toml",
        base_dir: PathBuf::from(BASE),
        env_overrides: false,
        lookup: &lookup,
    })
}

fn toml_ok(text: &str) -> Config {
    load_with(text, Format::Toml, &[]).unwrap_or_else(|e| panic!("should load: {e}"))
}

fn toml_err(text: &str) -> ConfigError {
    match load_with(text, Format::Toml, &[]) {
        Ok(config) => panic!("should fail, loaded {config:?}"),
        Err(e) => e,
    }
}

fn aliases(config: &Config) -> Vec<&str> {
    config.servers.iter().map(|s| s.alias.as_str()).collect()
}

fn server<'c>(config: &'c Config, alias: &str) -> &'c Server {
    config
        .servers
        .iter()
        .find(|s| s.alias == alias)
        .unwrap_or_else(|| panic!("no server `{alias}`"))
}

fn stdio(server: &Server) -> &crate::StdioSpec {
    match &server.transport {
        Transport::Stdio(spec) => spec,
        other => panic!("expected stdio, got {other:?}"),
    }
}

fn http(server: &Server) -> &crate::HttpSpec {
    match &server.transport {
        Transport::Http(spec) => spec,
        other => panic!("expected http, got {other:?}"),
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}
