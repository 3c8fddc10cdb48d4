//! Every file under the workspace's `config/` loads (variables get placeholder values).

use std::path::{Path, PathBuf};

use super::*;

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

fn load_example(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).unwrap();
    let file = path.display().to_string();
    load_input(&Input {
        text: &text,
        format: Format::from_path(path),
        file: &file,
        base_dir: std::path::absolute(config_dir()).unwrap(),
        env_overrides: false,
        lookup: &|name| Some(format!("<{name}>")),
    })
}

#[test]
fn every_example_config_loads() {
    let mut count = 0;
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let config = load_example(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!config.servers.is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 4, "expected the example configs, found {count}");
}

#[test]
fn toml_and_yaml_examples_agree() {
    let toml = load_example(&config_dir().join("manifold.toml")).unwrap();
    let yaml = load_example(&config_dir().join("manifold.yaml")).unwrap();
    assert_eq!(format!("{toml:?}"), format!("{yaml:?}"));
    assert_eq!(aliases(&toml), ["alpha", "search"]);
    assert_eq!(
        toml.notices,
        ["server `legacy` is disabled and was left out"]
    );
}

#[test]
fn hosts_example_is_normalised() {
    let config = load_example(&config_dir().join("claude_desktop_config.json")).unwrap();
    assert_eq!(aliases(&config), ["memory-server", "filesystem", "search"]);
    assert!(config
        .notices
        .iter()
        .any(|n| n.contains("`Memory_Server` normalised to `memory-server`")));
}
