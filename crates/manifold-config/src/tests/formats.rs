//! The three formats load identically, file order is kept, defaults apply, values expand.

use std::path::PathBuf;
use std::time::Duration;

use super::*;

const TOML: &str = r#"
[gateway]
name = "gw"
separator = "."
page_size = 25
request_timeout_ms = 1500
startup_wait_ms = 0
max_message_bytes = 2048
shutdown_grace_ms = 10
[gateway.restart]
initial_backoff_ms = 10
max_backoff_ms = 20
unhealthy_after = 2
[listen]
http = "127.0.0.1:8080"
path = "/x"
[admin]
listen = "[::1]:9091"
[servers.zeta]
command = "manifold-testkit"
args = ["--name", "zeta"]
env = { TOKEN = "${ZETA_TOKEN}", PLAIN = "p" }
cwd = "work"
namespace = "z"
timeout_ms = 5000
tools = { include = ["get_*"], exclude = ["*_admin"] }
prompts = { exclude = ["x*"] }
resources = { include = ["file://*"] }
[servers.alpha]
url = "https://search.internal/mcp"
headers = { Authorization = "Bearer ${SEARCH_TOKEN:-none}" }
transport = "streamable-http"
[servers.mid]
command = "/usr/bin/mid"
namespace = ""
"#;

const YAML: &str = r#"
gateway:
  name: gw
  separator: "."
  page_size: 25
  request_timeout_ms: 1500
  startup_wait_ms: 0
  max_message_bytes: 2048
  shutdown_grace_ms: 10
  restart: { initial_backoff_ms: 10, max_backoff_ms: 20, unhealthy_after: 2 }
listen: { http: "127.0.0.1:8080", path: /x }
admin: { listen: "[::1]:9091" }
servers:
  zeta:
    command: manifold-testkit
    args: [--name, zeta]
    env: { TOKEN: "${ZETA_TOKEN}", PLAIN: p }
    cwd: work
    namespace: z
    timeout_ms: 5000
    tools: { include: ["get_*"], exclude: ["*_admin"] }
    prompts: { exclude: ["x*"] }
    resources: { include: ["file://*"] }
  alpha:
    url: https://search.internal/mcp
    headers: { Authorization: "Bearer ${SEARCH_TOKEN:-none}" }
    transport: streamable-http
  mid:
    command: /usr/bin/mid
    namespace: ""
"#;

const JSON: &str = r#"{
  "gateway": {
    "name": "gw", "separator": ".", "page_size": 25, "request_timeout_ms": 1500,
    "startup_wait_ms": 0, "max_message_bytes": 2048, "shutdown_grace_ms": 10,
    "restart": {"initial_backoff_ms": 10, "max_backoff_ms": 20, "unhealthy_after": 2}
  },
  "listen": {"http": "127.0.0.1:8080", "path": "/x"},
  "admin": {"listen": "[::1]:9091"},
  "servers": {
    "zeta": {
      "command": "manifold-testkit", "args": ["--name", "zeta"],
      "env": {"TOKEN": "${ZETA_TOKEN}", "PLAIN": "p"}, "cwd": "work", "namespace": "z",
      "timeout_ms": 5000,
      "tools": {"include": ["get_*"], "exclude": ["*_admin"]},
      "prompts": {"exclude": ["x*"]},
      "resources": {"include": ["file://*"]}
    },
    "alpha": {
      "url": "https://search.internal/mcp",
      "headers": {"Authorization": "Bearer ${SEARCH_TOKEN:-none}"},
      "transport": "streamable-http"
    },
    "mid": {"command": "/usr/bin/mid", "namespace": ""}
  }
}"#;

const VARS: &[(&str, &str)] = &[("ZETA_TOKEN", "z-secret")];

#[test]
fn toml_yaml_and_json_load_identically() {
    let toml = load_with(TOML, Format::Toml, VARS).unwrap();
    let yaml = load_with(YAML, Format::Yaml, VARS).unwrap();
    let json = load_with(JSON, Format::Json, VARS).unwrap();
    assert_eq!(format!("{toml:?}"), format!("{yaml:?}"));
    assert_eq!(format!("{toml:?}"), format!("{json:?}"));
}

#[test]
fn every_value_lands_where_it_belongs() {
    let config = load_with(TOML, Format::Toml, VARS).unwrap();
    let g = &config.gateway;
    assert_eq!(g.name, "gw");
    assert_eq!(g.separator, ".");
    assert_eq!(g.page_size, 25);
    assert_eq!(g.request_timeout, Duration::from_millis(1500));
    assert_eq!(g.startup_wait, Duration::ZERO);
    assert_eq!(g.max_message_bytes, 2048);
    assert_eq!(g.shutdown_grace, Duration::from_millis(10));
    assert_eq!(g.restart.initial_backoff, Duration::from_millis(10));
    assert_eq!(g.restart.max_backoff, Duration::from_millis(20));
    assert_eq!(g.restart.unhealthy_after, 2);
    assert_eq!(config.listen.http, Some("127.0.0.1:8080".parse().unwrap()));
    assert_eq!(config.listen.path, "/x");
    assert_eq!(config.admin.listen, Some("[::1]:9091".parse().unwrap()));

    let zeta = server(&config, "zeta");
    assert_eq!(zeta.namespace, "z");
    assert_eq!(zeta.timeout, Some(Duration::from_millis(5000)));
    assert!(zeta.enabled);
    assert_eq!(zeta.transport.kind(), "stdio");
    let spec = stdio(zeta);
    assert_eq!(spec.command, "manifold-testkit");
    assert_eq!(spec.args, ["--name", "zeta"]);
    assert_eq!(spec.env, pairs(&[("PLAIN", "p"), ("TOKEN", "z-secret")]));
    assert_eq!(spec.cwd, Some(PathBuf::from("/base/dir/work")));
    assert!(zeta.tools.allows("get_user") && !zeta.tools.allows("get_admin"));
    assert!(!zeta.tools.allows("set_user"));
    assert!(zeta.prompts.allows("hello") && !zeta.prompts.allows("xray"));
    assert!(zeta.resources.allows("file:///etc/hosts") && !zeta.resources.allows("db://x"));

    let alpha = server(&config, "alpha");
    assert_eq!(alpha.namespace, "alpha");
    assert_eq!(alpha.timeout, None);
    assert_eq!(alpha.transport.kind(), "streamable-http");
    let spec = http(alpha);
    assert_eq!(spec.url, "https://search.internal/mcp");
    assert_eq!(spec.headers, pairs(&[("Authorization", "Bearer none")]));
    assert!(alpha.tools.is_trivial() && alpha.prompts.is_trivial());

    let mid = server(&config, "mid");
    assert!(mid.is_pass_through());
    assert_eq!(stdio(mid).command, "/usr/bin/mid");
    assert!(config.notices.is_empty(), "{:?}", config.notices);
}

#[test]
fn servers_keep_file_order_in_every_format() {
    for (text, format) in [
        (TOML, Format::Toml),
        (YAML, Format::Yaml),
        (JSON, Format::Json),
    ] {
        let config = load_with(text, format, VARS).unwrap();
        assert_eq!(aliases(&config), ["zeta", "alpha", "mid"], "{format:?}");
    }
    let many = "[servers.c]\nurl='http://c'\n[servers.a]\nurl='http://a'\n[servers.d]\nurl='http://d'\n[servers.b]\nurl='http://b'\n";
    assert_eq!(aliases(&toml_ok(many)), ["c", "a", "d", "b"]);
}

#[test]
fn empty_config_gets_the_defaults() {
    let config = toml_ok("");
    let g = &config.gateway;
    assert_eq!(g.name, "manifold");
    assert_eq!(g.separator, "__");
    assert_eq!(g.page_size, 0);
    assert_eq!(g.request_timeout, Duration::from_secs(60));
    assert_eq!(g.startup_wait, Duration::from_secs(5));
    assert_eq!(g.max_message_bytes, 4 * 1024 * 1024);
    assert_eq!(g.shutdown_grace, Duration::from_secs(2));
    assert_eq!(g.restart.initial_backoff, Duration::from_millis(250));
    assert_eq!(g.restart.max_backoff, Duration::from_secs(30));
    assert_eq!(g.restart.unhealthy_after, 5);
    assert_eq!(config.listen.http, None);
    assert_eq!(config.listen.path, "/mcp");
    assert_eq!(config.admin.listen, "127.0.0.1:9091".parse().ok());
    assert_eq!(config.admin.min_upstreams, 1);
    assert!(config.servers.is_empty());
    assert_eq!(config.notices, ["no servers are configured"]);
    assert!(load_with("", Format::Yaml, &[]).is_ok());
    assert!(load_with("{}", Format::Json, &[]).is_ok());
}

#[test]
fn expansion_covers_every_expanding_key() {
    let text = r#"
[servers.s]
command = "${BIN}/server"
args = ["--token=${TOKEN}", "${MISSING:-fallback}", "$$HOME", "${EMPTY:-e}"]
env = { A = "${TOKEN}" }
cwd = "${DIR}/work"
[servers.h]
url = "https://${HOST}/mcp"
headers = { X-Key = "${TOKEN}" }
"#;
    let vars = [
        ("BIN", "/opt/bin"),
        ("TOKEN", "t0k"),
        ("DIR", "/srv"),
        ("HOST", "example.com"),
        ("EMPTY", ""),
    ];
    let config = load_with(text, Format::Toml, &vars).unwrap();
    let spec = stdio(server(&config, "s"));
    assert_eq!(spec.command, "/opt/bin/server");
    assert_eq!(spec.args, ["--token=t0k", "fallback", "$HOME", "e"]);
    assert_eq!(spec.env, pairs(&[("A", "t0k")]));
    assert_eq!(spec.cwd, Some(PathBuf::from("/srv/work")));
    let spec = http(server(&config, "h"));
    assert_eq!(spec.url, "https://example.com/mcp");
    assert_eq!(spec.headers, pairs(&[("X-Key", "t0k")]));
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let text = r#"
[servers.rel]
command = "./bin/server"
cwd = "data/../data"
[servers.bare]
command = "npx"
cwd = "/abs"
[servers.nested]
command = "tools/run"
"#;
    let config = toml_ok(text);
    let rel = stdio(server(&config, "rel"));
    assert_eq!(rel.command, "/base/dir/bin/server");
    assert_eq!(rel.cwd, Some(PathBuf::from("/base/dir/data/../data")));
    let bare = stdio(server(&config, "bare"));
    assert_eq!(bare.command, "npx");
    assert_eq!(bare.cwd, Some(PathBuf::from("/abs")));
    assert_eq!(
        stdio(server(&config, "nested")).command,
        "/base/dir/tools/run"
    );
}

#[test]
fn scalars_are_accepted_where_text_is_expected() {
    let text =
        "[servers.s]\ncommand = \"srv\"\nargs = [\"--port\", 8080, true]\nenv = { PORT = 8080 }\n";
    let spec = stdio(server(&toml_ok(text), "s")).clone();
    assert_eq!(spec.args, ["--port", "8080", "true"]);
    assert_eq!(spec.env, pairs(&[("PORT", "8080")]));
}

#[test]
fn disabled_servers_are_left_out_with_a_notice() {
    let text = r#"
[servers.on]
command = "a"
[servers.off]
command = "${NOT_SET_ANYWHERE}"
enabled = false
namespace = "on"
"#;
    let config = toml_ok(text);
    assert_eq!(aliases(&config), ["on"]);
    assert_eq!(
        config.notices,
        ["server `off` is disabled and was left out"]
    );
}

#[test]
fn public_load_str_works() {
    let config = crate::load_str(
        "[servers.a]\nurl = \"http://127.0.0.1:1/mcp\"\n",
        Format::Toml,
    )
    .unwrap();
    assert_eq!(aliases(&config), ["a"]);
    let err = crate::load_str("[servers.a]\n", Format::Toml).unwrap_err();
    assert_eq!(err.file, "<string>");
}

#[test]
fn summary_lists_every_server() {
    let config = load_with(TOML, Format::Toml, VARS).unwrap();
    let summary = config.summary();
    assert!(summary.contains("gateway `gw`"), "{summary}");
    assert!(
        summary.contains("listen: http 127.0.0.1:8080 at /x"),
        "{summary}"
    );
    assert!(summary.contains("admin: [::1]:9091"), "{summary}");
    assert!(summary.contains("servers (3):"), "{summary}");
    let lines: Vec<&str> = summary.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines.len(), 3, "{summary}");
    assert!(lines[0].contains("zeta") && lines[0].contains("namespace `z`"));
    assert!(lines[0].contains("stdio") && lines[0].contains("manifold-testkit (+2 args)"));
    assert!(lines[0].contains("filters: tools, prompts, resources"));
    assert!(lines[1].contains("alpha") && lines[1].contains("streamable-http"));
    assert!(lines[1].contains("https://search.internal/mcp") && !lines[1].contains("filters"));
    assert!(lines[2].contains("mid") && lines[2].contains("(pass-through)"));
    assert!(!summary.contains("z-secret"), "secrets stay out: {summary}");
}

#[test]
fn admin_listener_can_be_switched_off() {
    let config = load_with(
        "[admin]\nlisten = \"off\"\nmin_upstreams = 2",
        Format::Toml,
        &[],
    )
    .unwrap();
    assert_eq!(config.admin.listen, None);
    assert_eq!(config.admin.min_upstreams, 2);
}
