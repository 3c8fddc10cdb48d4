//! End-to-end: the command line — every example config loads with `manifold check`, invalid
//! files are reported with their file and key (exit 2), `manifold catalog --json` on the demo
//! config, and `--help`.

use crate::common;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use common::{manifold_bin, repo_root, write_config};
use serde_json::Value;
use tokio::process::Command;

/// Runs `manifold <args>` to completion (bounded), with `SEARCH_TOKEN` set for configs that need it.
async fn manifold(args: &[&str]) -> Output {
    let mut cmd = Command::new(manifold_bin());
    cmd.args(args)
        .env("SEARCH_TOKEN", "test-token")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("manifold {args:?} did not finish within 60 s"))
        .expect("run manifold")
}

fn describe(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn every_example_config_passes_check() {
    let dir = repo_root().join("config");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("config/ directory")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "expected the example configs in {}, found {files:?}",
        dir.display()
    );
    for file in &files {
        let path = file.display().to_string();
        let out = manifold(&["check", "--config", &path]).await;
        assert_eq!(
            out.status.code(),
            Some(0),
            "`manifold check --config {path}` failed:\n{}",
            describe(&out)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("servers ("),
            "check printed no server summary for {path}:\n{}",
            describe(&out)
        );
    }
}

/// Writes `text` to `name` in a fresh directory and runs `manifold check` on it.
async fn check_file(name: &str, text: &str) -> (tempfile::TempDir, String, Output) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write config");
    let path = path.display().to_string();
    let out = manifold(&["check", "--config", &path]).await;
    (dir, path, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_configs_exit_2_naming_file_and_key() {
    // (file name, contents, key that must be named)
    let cases = [
        (
            "unknown-gateway-key.toml",
            "[gateway]\nbogus_key = 1\n[servers.a]\ncommand = \"x\"\n",
            "bogus_key",
        ),
        (
            "unknown-server-key.toml",
            "[servers.a]\ncommand = \"x\"\ncomand = \"typo\"\n",
            "comand",
        ),
        (
            "bad-type.toml",
            "[gateway]\npage_size = \"ten\"\n[servers.a]\ncommand = \"x\"\n",
            "page_size",
        ),
        (
            "bad-timeout-type.toml",
            "[servers.a]\ncommand = \"x\"\ntimeout_ms = [1, 2]\n",
            "timeout_ms",
        ),
        (
            "bad-type.yaml",
            "gateway:\n  request_timeout_ms: soon\nservers:\n  a:\n    command: x\n",
            "request_timeout_ms",
        ),
    ];
    for (name, text, key) in cases {
        let (_dir, path, out) = check_file(name, text).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{name} should be rejected with exit 2:\n{}",
            describe(&out)
        );
        assert!(
            stderr.contains(&path),
            "stderr does not name the file {path}:\n{}",
            describe(&out)
        );
        assert!(
            stderr.contains(key),
            "stderr does not name the key `{key}`:\n{}",
            describe(&out)
        );
        // The error line has the documented shape `<file>: <key…>: <problem>`.
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&path))
            .unwrap_or_else(|| panic!("no line starting with the file name:\n{stderr}"));
        let rest = &line[path.len()..];
        assert!(
            rest.starts_with(": ") && rest[2..].contains(key) && rest[2..].contains(": "),
            "unexpected error line shape {line:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_temporary_config_passes_check() {
    // Guards the test above: the same shapes without the mistake pass.
    let (_dir, path) = write_config("[gateway]\npage_size = 10\n[servers.a]\ncommand = \"x\"\n");
    let out = manifold(&["check", "--config", &path.display().to_string()]).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_config_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("does-not-exist.toml");
    let out = manifold(&["check", "--config", &path.display().to_string()]).await;
    assert!(!out.status.success(), "{}", describe(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does-not-exist.toml"),
        "{}",
        describe(&out)
    );
}

fn names_of(catalog: &Value, field: &str, key: &str) -> Vec<String> {
    common::names(catalog, field, key)
}

#[tokio::test(flavor = "multi_thread")]
async fn catalog_json_of_the_demo_config() {
    let config = repo_root().join("config/demo.toml");
    assert!(Path::new(&config).exists());
    let out = manifold(&[
        "catalog",
        "--config",
        &config.display().to_string(),
        "--json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let catalog: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("catalog --json is not JSON ({e}):\n{}", describe(&out)));

    let servers = catalog["servers"].as_array().expect("servers array");
    let summary: Vec<(String, String, String)> = servers
        .iter()
        .map(|s| {
            (
                s["alias"].as_str().unwrap_or_default().to_string(),
                s["namespace"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("alpha".into(), "alpha".into(), "up".into()),
            ("beta".into(), "b".into(), "up".into())
        ],
        "{catalog}"
    );

    let tools = names_of(&catalog, "tools", "name");
    for expected in [
        "alpha__echo",
        "alpha__add",
        "alpha__hang",
        "alpha__crash",
        "alpha__gen_0",
        "alpha__gen_1",
        "alpha__gen_2",
        "b__echo",
        "b__add",
        "b__whoami",
    ] {
        assert!(
            tools.contains(&expected.to_string()),
            "{expected} missing from {tools:?}"
        );
    }
    // beta's filter excludes crash and hang; alpha has only 3 generated tools.
    for absent in ["b__crash", "b__hang", "alpha__gen_3", "beta__echo", "echo"] {
        assert!(
            !tools.contains(&absent.to_string()),
            "{absent} should not be in {tools:?}"
        );
    }
    // beta's 60-character tool stays within 64 characters once namespaced.
    let long: Vec<_> = tools.iter().filter(|t| t.starts_with("b__long_")).collect();
    assert_eq!(long.len(), 1, "{tools:?}");
    assert!(long[0].len() <= 64, "{}", long[0]);
    assert!(tools.iter().all(|t| t.len() <= 64), "{tools:?}");

    let prompts = names_of(&catalog, "prompts", "name");
    for expected in ["alpha__greet", "b__greet", "b__prompt_0", "b__prompt_1"] {
        assert!(
            prompts.contains(&expected.to_string()),
            "{expected} missing from {prompts:?}"
        );
    }

    // alpha serves 4 resources in pages of 2: all of them are discovered.
    let resources = names_of(&catalog, "resources", "uri");
    for i in 0..4 {
        let uri = format!("alpha+testkit://alpha/res/{i}");
        assert!(resources.contains(&uri), "{uri} missing from {resources:?}");
    }
    assert!(
        resources.contains(&"b+testkit://beta/res/0".to_string()),
        "{resources:?}"
    );
    let templates = names_of(&catalog, "resourceTemplates", "uriTemplate");
    assert!(
        templates.contains(&"alpha+testkit://alpha/tpl/{id}".to_string()),
        "{templates:?}"
    );
    assert!(
        templates.contains(&"b+testkit://beta/tpl/{id}".to_string()),
        "{templates:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn help_lists_the_commands() {
    let out = manifold(&["--help"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
    let help = String::from_utf8_lossy(&out.stdout);
    for command in ["serve", "check", "catalog"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(command)),
            "`{command}` missing from --help:\n{help}"
        );
    }
    for command in ["serve", "check", "catalog"] {
        let out = manifold(&[command, "--help"]).await;
        assert_eq!(out.status.code(), Some(0), "{}", describe(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--config"), "`{command} --help`:\n{help}");
    }
}
