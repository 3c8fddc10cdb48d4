//! `load` from a file with `MANIFOLD_…` environment overrides (inside `figment::Jail`, which
//! serialises these tests and restores the environment and current directory).

// `Jail::expect_with` closures must return `figment::Result`, whose error is large.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::time::Duration;

use figment::Jail;

use super::*;
use crate::load;

const FILE: &str = r#"
[gateway]
page_size = 3
[servers.mmm]
command = "m"
[servers.alpha]
command = "a"
cwd = "work"
env = { T = "${JAIL_TOKEN}" }
"#;

#[test]
fn env_overrides_apply() {
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        jail.set_env("MANIFOLD_GATEWAY__PAGE_SIZE", 10);
        jail.set_env("MANIFOLD_SERVERS__ALPHA__TIMEOUT_MS", 100);
        jail.set_env("MANIFOLD_SERVERS__ALPHA__ARGS", "[--port, 8080]");
        jail.set_env("MANIFOLD_LISTEN__HTTP", "127.0.0.1:8080");
        let config = load(Path::new("manifold.toml")).unwrap();
        assert_eq!(config.gateway.page_size, 10);
        let alpha = server(&config, "alpha");
        assert_eq!(alpha.timeout, Some(Duration::from_millis(100)));
        assert_eq!(stdio(alpha).args, ["--port", "8080"]);
        assert_eq!(stdio(alpha).env, pairs(&[("T", "tok")]));
        assert_eq!(config.listen.http, Some("127.0.0.1:8080".parse().unwrap()));
        Ok(())
    });
}

#[test]
fn env_only_servers_come_after_file_servers_sorted() {
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        jail.set_env("MANIFOLD_SERVERS__ZZZ__URL", "http://127.0.0.1:1/mcp");
        jail.set_env("MANIFOLD_SERVERS__AAA__COMMAND", "aaa");
        let config = load(Path::new("manifold.toml")).unwrap();
        assert_eq!(aliases(&config), ["mmm", "alpha", "aaa", "zzz"]);
        Ok(())
    });
}

#[test]
fn env_errors_name_the_variable() {
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        jail.set_env("MANIFOLD_GATEWAY__PAGE_SIZE", "ten");
        let err = load(Path::new("manifold.toml")).unwrap_err();
        assert_eq!(err.file, "manifold.toml");
        assert_eq!(err.key, "gateway.page_size");
        assert!(err.problem.contains("MANIFOLD_GATEWAY__PAGE_SIZE"), "{err}");
        Ok(())
    });
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        jail.set_env("MANIFOLD_SERVERS__ALPHA__TIMEOUTMS", 5);
        let err = load(Path::new("manifold.toml")).unwrap_err();
        assert_eq!(err.key, "servers.alpha.timeoutms");
        assert!(
            err.problem.contains("MANIFOLD_SERVERS__ALPHA__TIMEOUTMS"),
            "{err}"
        );
        Ok(())
    });
}

#[test]
fn other_manifold_variables_are_not_overrides() {
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        jail.set_env("MANIFOLD_CONFIG", "/elsewhere.toml");
        jail.set_env("MANIFOLD_LOG", "debug");
        assert!(load(Path::new("manifold.toml")).is_ok());
        Ok(())
    });
}

#[test]
fn unset_variable_fails_the_load() {
    Jail::expect_with(|jail| {
        jail.create_file("manifold.toml", FILE)?;
        let err = load(Path::new("manifold.toml")).unwrap_err();
        assert_eq!(err.key, "servers.alpha.env.T");
        assert!(err.problem.contains("JAIL_TOKEN"), "{err}");
        Ok(())
    });
}

#[test]
fn relative_paths_resolve_against_the_file_directory() {
    Jail::expect_with(|jail| {
        jail.create_dir("conf")?;
        jail.create_file("conf/manifold.toml", FILE)?;
        jail.set_env("JAIL_TOKEN", "tok");
        let config = load(Path::new("conf/manifold.toml")).unwrap();
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            stdio(server(&config, "alpha")).cwd,
            Some(here.join("conf/work"))
        );
        Ok(())
    });
}

#[test]
fn format_follows_the_extension() {
    Jail::expect_with(|jail| {
        jail.create_file("m.yml", "servers:\n  b: {command: b}\n  a: {command: a}\n")?;
        jail.create_file(
            "m.json",
            r#"{"servers": {"b": {"command": "b"}, "a": {"command": "a"}}}"#,
        )?;
        jail.create_file(
            "m.conf",
            "[servers.b]\ncommand = 'b'\n[servers.a]\ncommand = 'a'\n",
        )?;
        for file in ["m.yml", "m.json", "m.conf"] {
            let config = load(Path::new(file)).unwrap();
            assert_eq!(aliases(&config), ["b", "a"], "{file}");
        }
        Ok(())
    });
}

#[test]
fn hosts_file_takes_overrides_by_alias() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "claude.json",
            r#"{"mcpServers": {"GitHub": {"command": "gh-mcp", "disabled": true}}}"#,
        )?;
        assert!(load(Path::new("claude.json")).unwrap().servers.is_empty());
        jail.set_env("MANIFOLD_SERVERS__GITHUB__ENABLED", "true");
        jail.set_env("MANIFOLD_SERVERS__GITHUB__NAMESPACE", "gh");
        let config = load(Path::new("claude.json")).unwrap();
        assert_eq!(aliases(&config), ["github"]);
        assert_eq!(config.servers[0].namespace, "gh");
        Ok(())
    });
}

#[test]
fn missing_file_is_an_error() {
    let err = load(Path::new("/nonexistent/manifold.toml")).unwrap_err();
    assert_eq!(err.file, "/nonexistent/manifold.toml");
    assert!(err.problem.contains("cannot read"), "{err}");
}
