//! Hosts' `{"mcpServers": {...}}` files (Claude Desktop, Claude Code, Cursor) load as-is.

use std::time::Duration;

use super::*;

const CLAUDE_DESKTOP: &str = r#"{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "zz-files": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
      "env": {"DEBUG": "1"},
      "autoApprove": ["read_file"],
      "alwaysAllow": ["list_directory"]
    },
    "My_Server": {
      "type": "stdio",
      "command": "./run.sh",
      "cwd": "srv",
      "timeout": 1500,
      "description": "mine"
    },
    "search": {
      "type": "http",
      "url": "https://search.internal/mcp",
      "headers": {"Authorization": "Bearer ${SEARCH_TOKEN}"}
    },
    "remote": {"type": "streamable-http", "url": "http://127.0.0.1:9000/mcp"},
    "old": {"command": "old-server", "disabled": true},
    "kept": {"command": "kept-server", "disabled": false}
  }
}"#;

fn hosts_err(text: &str) -> ConfigError {
    match load_with(text, Format::Json, &[]) {
        Ok(config) => panic!("should fail, loaded {config:?}"),
        Err(e) => e,
    }
}

#[test]
fn claude_desktop_file_loads() {
    let config = load_with(CLAUDE_DESKTOP, Format::Json, &[("SEARCH_TOKEN", "s")]).unwrap();
    assert_eq!(
        aliases(&config),
        ["zz-files", "my-server", "search", "remote", "kept"]
    );
    let files = server(&config, "zz-files");
    assert_eq!(files.namespace, "zz-files");
    let spec = stdio(files);
    assert_eq!(spec.command, "npx");
    assert_eq!(spec.args.len(), 3);
    assert_eq!(spec.env, pairs(&[("DEBUG", "1")]));

    let mine = server(&config, "my-server");
    assert_eq!(mine.namespace, "my-server");
    assert_eq!(mine.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(stdio(mine).command, "/base/dir/run.sh");
    assert_eq!(stdio(mine).cwd, Some("/base/dir/srv".into()));

    let search = server(&config, "search");
    assert_eq!(search.transport.kind(), "streamable-http");
    assert_eq!(
        http(search).headers,
        pairs(&[("Authorization", "Bearer s")])
    );
    assert_eq!(
        server(&config, "remote").transport.kind(),
        "streamable-http"
    );

    let notices = config.notices.join("\n");
    for needle in [
        "top-level key `globalShortcut` is not used by Manifold and was ignored",
        "server name `My_Server` normalised to `my-server`",
        "server `zz-files`: host-specific key `autoApprove` is ignored",
        "server `zz-files`: host-specific key `alwaysAllow` is ignored",
        "server `my-server`: host-specific key `description` is ignored",
        "server `old` is disabled and was left out",
    ] {
        assert!(notices.contains(needle), "`{needle}` not in:\n{notices}");
    }
    assert!(config.summary().contains("my-server"));
}

#[test]
fn sse_entries_are_legacy_http_sse_upstreams() {
    let config = crate::load_str(
        r#"{"mcpServers": {"old": {"type": "sse", "url": "http://x/sse"}}}"#,
        crate::Format::Json,
    )
    .unwrap();
    match &config.servers[0].transport {
        crate::Transport::Http(h) => assert_eq!(h.protocol, crate::HttpProtocol::LegacySse),
        other => panic!("{other:?}"),
    }
    let err = hosts_err(r#"{"mcpServers": {"old": {"type": "ws", "url": "http://x"}}}"#);
    assert_eq!(err.key, "mcpServers.old.type");
}

#[test]
fn unknown_entry_keys_are_errors() {
    let err = hosts_err(r#"{"mcpServers": {"My_Server": {"command": "x", "autoStart": true}}}"#);
    assert_eq!(err.key, "mcpServers.My_Server.autoStart");
    assert!(err.problem.contains("unknown key"), "{err}");
}

#[test]
fn entry_type_errors_keep_the_host_spelling() {
    let err = hosts_err(r#"{"mcpServers": {"My_Server": {"command": "x", "args": "y"}}}"#);
    assert_eq!(err.key, "mcpServers.My_Server.args");
    let err = hosts_err(r#"{"mcpServers": {"a": {"command": "x", "timeout": "slow"}}}"#);
    assert_eq!(err.key, "mcpServers.a.timeout");
}

#[test]
fn validation_errors_keep_the_host_spelling() {
    let err = hosts_err(r#"{"mcpServers": {"My_Server": {"args": ["y"]}}}"#);
    assert_eq!(err.key, "mcpServers.My_Server");
    assert!(err.problem.contains("needs `command`"), "{err}");
    let err = hosts_err(r#"{"mcpServers": {"My_Server": {"command": "x", "timeout": 0}}}"#);
    assert_eq!(err.key, "mcpServers.My_Server.timeout");
    let err = hosts_err(r#"{"mcpServers": {"s": {"type": "stdio", "url": "http://x"}}}"#);
    assert_eq!(err.key, "mcpServers.s.type");
    let err =
        hosts_err(r#"{"mcpServers": {"s": {"command": "x", "env": {"T": "${HOSTS_UNSET}"}}}}"#);
    assert_eq!(err.key, "mcpServers.s.env.T");
    assert!(err.problem.contains("HOSTS_UNSET"));
}

#[test]
fn names_that_normalise_alike_collide() {
    let err = hosts_err(
        r#"{"mcpServers": {"My_Server": {"command": "a"}, "my-server": {"command": "b"}}}"#,
    );
    assert!(
        err.problem.contains("both become the alias `my-server`"),
        "{err}"
    );
    let err = hosts_err(r#"{"mcpServers": {"__": {"command": "a"}}}"#);
    assert_eq!(err.key, "mcpServers.__");
}

#[test]
fn manifold_sections_are_honoured_and_servers_are_not_mixed() {
    let text = r#"{"gateway": {"page_size": 7}, "listen": {"http": "127.0.0.1:1"},
                   "mcpServers": {"a": {"command": "x"}}}"#;
    let config = load_with(text, Format::Json, &[]).unwrap();
    assert_eq!(config.gateway.page_size, 7);
    assert!(config.listen.http.is_some());
    let err = hosts_err(r#"{"gateway": {"pagesize": 7}, "mcpServers": {}}"#);
    assert_eq!(err.key, "gateway.pagesize");
    let err = hosts_err(r#"{"servers": {}, "mcpServers": {"a": {"command": "x"}}}"#);
    assert_eq!(err.key, "servers");
    let err = hosts_err(r#"{"mcpServers": []}"#);
    assert_eq!(err.key, "mcpServers");
}

#[test]
fn mcp_servers_works_in_any_format() {
    let yaml = "mcpServers:\n  Zed_Tool:\n    command: zed\n  abc:\n    url: http://x/mcp\n";
    let config = load_with(yaml, Format::Yaml, &[]).unwrap();
    assert_eq!(aliases(&config), ["zed-tool", "abc"]);
}
