//! Every validation error names the file and the key path.

use super::*;
use crate::UpstreamEra;

/// Asserts the error's key and that its problem mentions `needle`.
fn assert_err(text: &str, key: &str, needle: &str) {
    let err = toml_err(text);
    assert_eq!(err.key, key, "{err}");
    assert!(err.problem.contains(needle), "`{needle}` not in: {err}");
    assert_eq!(err.file, "test.toml");
}

const OK_SERVER: &str = "[servers.alpha]\ncommand = \"a\"\n";

#[test]
fn display_is_file_key_problem() {
    let err = toml_err("[gateway]\npage_size = \"ten\"\n");
    let shown = err.to_string();
    assert!(
        shown.starts_with("test.toml: gateway.page_size: invalid type"),
        "{shown}"
    );
    let err = ConfigError {
        file: "f".into(),
        key: String::new(),
        problem: "p".into(),
    };
    assert_eq!(err.to_string(), "f: p");
    let _: &dyn std::error::Error = &err;
}

#[test]
fn unknown_keys_are_errors_with_their_path() {
    assert_err("[gatway]\nname = \"x\"\n", "gatway", "unknown key");
    assert_err("[gateway]\npagesize = 1\n", "gateway.pagesize", "page_size");
    assert_err(
        "[gateway.restart]\nbackoff = 1\n",
        "gateway.restart.backoff",
        "unknown key",
    );
    assert_err("[listen]\nhttps = \"x\"\n", "listen.https", "unknown key");
    assert_err("[admin]\nport = 1\n", "admin.port", "unknown key");
    assert_err(
        "[servers.alpha]\ncomand = \"a\"\n",
        "servers.alpha.comand",
        "unknown key",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\ntools = { includes = [\"x\"] }\n",
        "servers.alpha.tools.includes",
        "unknown key",
    );
}

#[test]
fn type_errors_name_the_key() {
    assert_err(
        "[gateway]\npage_size = \"ten\"\n",
        "gateway.page_size",
        "invalid type",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\ntimeout_ms = \"fast\"\n",
        "servers.alpha.timeout_ms",
        "invalid type",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nargs = \"--x\"\n",
        "servers.alpha.args",
        "invalid type",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nargs = [\"ok\", [\"nested\"]]\n",
        "servers.alpha.args.1",
        "invalid type",
    );
    assert_err("[gateway]\npage_size = -1\n", "gateway.page_size", "");
    assert_err("servers = 3\n", "servers", "invalid type");
}

#[test]
fn syntax_errors_name_the_file() {
    let err = toml_err("[servers.alpha\ncommand = 1");
    assert_eq!(err.file, "test.toml");
    assert!(err.key.is_empty());
}

#[test]
fn a_server_needs_exactly_one_of_command_and_url() {
    assert_err(
        "[servers.alpha]\nargs = []\n",
        "servers.alpha",
        "needs `command`",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nurl = \"http://x\"\n",
        "servers.alpha",
        "both `command` and `url`",
    );
}

#[test]
fn transport_must_agree() {
    let key = "servers.alpha.transport";
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\ntransport = \"streamable-http\"\n",
        key,
        "needs `url`",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\ntransport = \"stdio\"\n",
        key,
        "needs `command`",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\ntransport = \"sse\"\n",
        key,
        "needs `url`",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\ntransport = \"grpc\"\n",
        key,
        "unknown transport",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\nargs = [\"a\"]\n",
        "servers.alpha.args",
        "stdio servers",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\ncwd = \".\"\n",
        "servers.alpha.cwd",
        "stdio servers",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nheaders = { A = \"b\" }\n",
        "servers.alpha.headers",
        "HTTP servers",
    );
}

#[test]
fn bad_aliases() {
    assert_err(
        "[servers.My_Server]\ncommand = \"a\"\n",
        "servers.My_Server",
        "[a-z0-9][a-z0-9-]*",
    );
    assert_err(
        "[servers.\"a+b\"]\ncommand = \"a\"\n",
        "servers.a+b",
        "reserved",
    );
    assert_err(
        "[servers.\"-a\"]\ncommand = \"a\"\n",
        "servers.-a",
        "must match",
    );
}

#[test]
fn bad_namespaces() {
    for ns in ["A", "a_b", "-x", "a.b"] {
        let text = format!("[servers.alpha]\ncommand = \"a\"\nnamespace = \"{ns}\"\n");
        assert_err(&text, "servers.alpha.namespace", "pass-through");
    }
}

#[test]
fn duplicate_namespaces() {
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nnamespace = \"x\"\n[servers.beta]\ncommand = \"b\"\nnamespace = \"x\"\n",
        "servers.beta.namespace",
        "already used by server `alpha`",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\n[servers.beta]\ncommand = \"b\"\nnamespace = \"alpha\"\n",
        "servers.beta.namespace",
        "namespace `alpha`",
    );
    let two_pass_through = "[servers.alpha]\ncommand = \"a\"\nnamespace = \"\"\n[servers.beta]\ncommand = \"b\"\nnamespace = \"\"\n";
    let config = toml_ok(two_pass_through);
    assert!(config.servers.iter().all(|s| s.is_pass_through()));
}

#[test]
fn bad_globs() {
    assert_err(
        &format!("{OK_SERVER}tools = {{ include = [\"[a\"] }}\n"),
        "servers.alpha.tools.include",
        "[a",
    );
    assert_err(
        &format!("{OK_SERVER}resources = {{ exclude = [\"ok\", \"{{a\"] }}\n"),
        "servers.alpha.resources.exclude",
        "{a",
    );
}

#[test]
fn bad_socket_addresses() {
    assert_err(
        "[listen]\nhttp = \"localhost:8080\"\n",
        "listen.http",
        "not a socket address",
    );
    assert_err("[listen]\nhttp = \"127.0.0.1\"\n", "listen.http", "IP:port");
    assert_err(
        "[admin]\nlisten = \"9091\"\n",
        "admin.listen",
        "not a socket address",
    );
    assert_err(
        "[listen]\npath = \"mcp\"\n",
        "listen.path",
        "must start with '/'",
    );
}

#[test]
fn zero_timeouts() {
    assert_err(
        "[gateway]\nrequest_timeout_ms = 0\n",
        "gateway.request_timeout_ms",
        "greater than 0",
    );
    assert_err(
        &format!("{OK_SERVER}timeout_ms = 0\n"),
        "servers.alpha.timeout_ms",
        "greater than 0",
    );
    assert_err(
        "[gateway.restart]\ninitial_backoff_ms = 0\n",
        "gateway.restart.initial_backoff_ms",
        "greater than 0",
    );
    assert_err(
        "[gateway.restart]\ninitial_backoff_ms = 50\nmax_backoff_ms = 10\n",
        "gateway.restart.max_backoff_ms",
        "initial_backoff_ms",
    );
    assert_err(
        "[gateway.restart]\nunhealthy_after = 0\n",
        "gateway.restart.unhealthy_after",
        "at least 1",
    );
}

#[test]
fn gateway_limits() {
    assert_err(
        "[gateway]\nmax_message_bytes = 100\n",
        "gateway.max_message_bytes",
        "1024",
    );
    assert_err("[gateway]\nname = \"  \"\n", "gateway.name", "empty");
}

#[test]
fn separator_rules() {
    let key = "gateway.separator";
    assert_err("[gateway]\nseparator = \"\"\n", key, "empty");
    assert_err("[gateway]\nseparator = \"::\"\n", key, "`:` is not allowed");
    assert_err("[gateway]\nseparator = \"_/\"\n", key, "`/` is not allowed");
    assert_err(
        "[gateway]\nseparator = \"-\"\n",
        key,
        "could be part of a namespace",
    );
    for ok in ["__", ".", "_", "-_", "X"] {
        let config = toml_ok(&format!("[gateway]\nseparator = \"{ok}\"\n"));
        assert_eq!(config.gateway.separator, ok);
    }
}

#[test]
fn expansion_errors_name_key_and_variable() {
    let err =
        toml_err("[servers.alpha]\ncommand = \"a\"\nenv = { T = \"${ALPHA_TOKEN_UNSET}\" }\n");
    assert_eq!(err.key, "servers.alpha.env.T");
    assert!(err.problem.contains("ALPHA_TOKEN_UNSET"), "{err}");
    let err = toml_err("[servers.alpha]\ncommand = \"a\"\nargs = [\"ok\", \"${NOPE_UNSET}\"]\n");
    assert_eq!(err.key, "servers.alpha.args.1");
    assert!(err.problem.contains("NOPE_UNSET"), "{err}");
    assert_err(
        "[servers.alpha]\nurl = \"${URL_UNSET}\"\n",
        "servers.alpha.url",
        "URL_UNSET",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\nheaders = { A = \"${H_UNSET}\" }\n",
        "servers.alpha.headers.A",
        "H_UNSET",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\ncwd = \"${CWD_UNSET}\"\n",
        "servers.alpha.cwd",
        "CWD_UNSET",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"${oops\"\n",
        "servers.alpha.command",
        "closing",
    );
}

#[test]
fn url_and_header_rules() {
    assert_err(
        "[servers.alpha]\nurl = \"ftp://x\"\n",
        "servers.alpha.url",
        "http:// or https://",
    );
    assert_err(
        "[servers.alpha]\nurl = \"https://\"\n",
        "servers.alpha.url",
        "with a host",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\nheaders = { \"Bad Name\" = \"v\" }\n",
        "servers.alpha.headers.Bad Name",
        "header name",
    );
    assert_err(
        "[servers.alpha]\nurl = \"http://x\"\nheaders = { A = \"a\\nb\" }\n",
        "servers.alpha.headers.A",
        "CR, LF",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"\"\n",
        "servers.alpha.command",
        "empty",
    );
    assert_err(
        "[servers.alpha]\ncommand = \"a\"\nenv = { \"A=B\" = \"v\" }\n",
        "servers.alpha.env.A=B",
        "'='",
    );
    let config = toml_ok("[servers.alpha]\nurl = \"HTTP://Example.com\"\n");
    assert_eq!(http(server(&config, "alpha")).url, "HTTP://Example.com");
}

#[test]
fn protocol_names_an_era() {
    let config = toml_ok(&format!("{OK_SERVER}protocol = \"2026-07-28\"\n"));
    assert_eq!(config.servers[0].era, UpstreamEra::Modern);
    let config = toml_ok(OK_SERVER);
    assert_eq!(config.servers[0].era, UpstreamEra::Auto, "auto by default");
    let config = toml_ok(&format!("{OK_SERVER}protocol = \"legacy\"\n"));
    assert_eq!(config.servers[0].era, UpstreamEra::Legacy);
    assert_err(
        &format!("{OK_SERVER}protocol = \"2025\"\n"),
        "servers.alpha.protocol",
        "is not one of",
    );
    let config =
        toml_ok("[servers.web]\nurl = \"http://127.0.0.1:1/mcp\"\nprotocol = \"2026-07-28\"\n");
    assert_eq!(
        config.servers[0].era,
        UpstreamEra::Modern,
        "over Streamable HTTP too"
    );
}

#[test]
fn request_state_keys_are_32_bytes_of_base64_and_never_shown() {
    let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let config = toml_ok(&format!(
        "[gateway]\nrequest_state_keys = [\"{key}\", \"\"]\n{OK_SERVER}"
    ));
    assert_eq!(
        config.gateway.request_state_keys.len(),
        1,
        "an empty one is left out"
    );
    assert_eq!(config.gateway.request_state_keys[0].bytes(), &[1u8; 32]);
    let shown = format!("{:?}", config.gateway);
    assert!(
        !shown.contains(key) && shown.contains("redacted"),
        "{shown}"
    );
    assert_err(
        &format!("[gateway]\nrequest_state_keys = [\"c2hvcnQ=\"]\n{OK_SERVER}"),
        "gateway.request_state_keys[0]",
        "must be 32 bytes",
    );
    let err = toml_err(&format!(
        "[gateway]\nrequest_state_keys = [\"{key}!\"]\n{OK_SERVER}"
    ));
    assert!(!err.to_string().contains(key), "{err}");
}
