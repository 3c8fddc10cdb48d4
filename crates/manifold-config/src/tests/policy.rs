//! The policy sections: `[auth]`, `[[access]]`, `[[limits]]`, `[audit]`, per-method timeouts and
//! per-tool curation — defaults, what loads, and every refusal with its key.

use std::time::Duration;

use super::*;
use crate::{AuditArguments, JwksSource, LimitScope};

fn assert_err(text: &str, vars: &[(&str, &str)], key: &str, needle: &str) {
    let err = load_with(text, Format::Toml, vars).expect_err("should fail");
    assert_eq!(err.key, key, "{err}");
    assert!(err.problem.contains(needle), "`{needle}` not in: {err}");
}

#[test]
fn defaults_are_open_local_and_audited() {
    let c = toml_ok("");
    assert!(!c.auth.required());
    assert_eq!(c.auth.stdio_principal, "local");
    assert!(c.access.is_empty() && c.limits.is_empty());
    assert!(c.audit.enabled && c.audit.file.is_none());
    assert_eq!(c.audit.arguments, AuditArguments::Full);
    assert!(c.audit.redact.iter().any(|k| k == "password"));
}

#[test]
fn tokens_come_from_the_environment_and_never_print() {
    let text = "[[auth.tokens]]\nprincipal = \"alice\"\nenv = \"ALICE\"\n";
    let c = load_with(text, Format::Toml, &[("ALICE", "  a-long-enough-token \n")]).unwrap();
    assert!(c.auth.required());
    assert_eq!(c.auth.tokens[0].principal, "alice");
    assert_eq!(c.auth.tokens[0].token.expose(), b"a-long-enough-token");
    assert!(!format!("{c:?}").contains("a-long-enough-token"));
    assert_err(text, &[], "auth.tokens[0].env", "`ALICE` is not set");
    assert_err(text, &[("ALICE", "short")], "auth.tokens[0]", "at least 16");
    assert_err(
        "[[auth.tokens]]\nprincipal = \"a\"\n",
        &[],
        "auth.tokens[0]",
        "exactly one of `env` and `file`",
    );
}

#[test]
fn jwt_settings() {
    let c = toml_ok(
        "[auth.jwt]\nissuer = \"https://i\"\naudience = \"m\"\njwks_file = \"k.json\"\nleeway_ms = 0\n",
    );
    let jwt = c.auth.jwt.as_ref().unwrap();
    assert!(matches!(&jwt.jwks, JwksSource::File(p) if p == &PathBuf::from("/base/dir/k.json")));
    assert_eq!(jwt.principal_claim, "sub");
    assert_eq!(jwt.leeway, Duration::ZERO);
    assert!(jwt.required_scopes.is_empty());
    assert_eq!(c.auth.authorization_servers, ["https://i"]);
    assert_err(
        "[auth.jwt]\nissuer = \"i\"\naudience = \"m\"\n",
        &[],
        "auth.jwt",
        "exactly one of `jwks_file` and `jwks_url`",
    );
    assert_err(
        "[auth.jwt]\nissuer = \"i\"\naudience = \"m\"\njwks_url = \"ftp://x\"\n",
        &[],
        "auth.jwt.jwks_url",
        "http",
    );
}

#[test]
fn limits_are_checked() {
    let c = toml_ok("[[limits]]\nname = \"r\"\nrate = 5\n");
    let r = &c.limits[0];
    assert_eq!((r.rate, r.burst, r.per), (5, 5, Duration::from_secs(1)));
    assert_eq!(r.scope, LimitScope::Principal);
    assert!(r.tools.is_none());
    assert_err(
        "[[limits]]\nname = \"r\"\nrate = 0\n",
        &[],
        "limits[0].rate",
        "greater than 0",
    );
    assert_err(
        "[[limits]]\nname = \"r\"\nrate = 1\n[[limits]]\nname = \"r\"\nrate = 1\n",
        &[],
        "limits[1].name",
        "used by another rule",
    );
    assert_err(
        "[[limits]]\nname = \"a b\"\nrate = 1\n",
        &[],
        "limits[0].name",
        "[A-Za-z0-9_.-]",
    );
    assert_err(
        "[[limits]]\nname = \"r\"\nrate = 1\nscope = \"planet\"\n",
        &[],
        "limits[0].scope",
        "not one of",
    );
    assert_err(
        "[[limits]]\nname = \"r\"\nrate = 2\nburst = 2\ncosts = { \"x\" = 3 }\n",
        &[],
        "limits[0].costs",
        "between 1 and the burst",
    );
}

#[test]
fn access_audit_and_timeouts() {
    let c = toml_ok(
        r#"
[[access]]
principal = "bob"
tools = { allow = ["a__*"], deny = ["a__x"] }
[audit]
arguments = "digest"
file = "audit.jsonl"
redact = ["PIN"]
[gateway]
method_timeouts_ms = { "tools/call" = 5 }
"#,
    );
    assert!(c.access[0].principal.allows("bob"));
    assert!(c.access[0].tools.allows("a__y") && !c.access[0].tools.allows("a__x"));
    assert_eq!(c.audit.arguments, AuditArguments::Digest);
    assert_eq!(c.audit.file, Some(PathBuf::from("/base/dir/audit.jsonl")));
    assert_eq!(c.audit.redact, ["pin"]);
    assert_eq!(
        c.gateway.method_timeouts["tools/call"],
        Duration::from_millis(5)
    );
    assert_err(
        "[audit]\narguments = \"some\"\n",
        &[],
        "audit.arguments",
        "not one of",
    );
    assert_err(
        "[gateway]\nmethod_timeouts_ms = { \"tools/call\" = 0 }\n",
        &[],
        "gateway.method_timeouts_ms.tools/call",
        "greater than 0",
    );
}

#[test]
fn per_server_limits_and_curation() {
    let c = toml_ok(
        r#"
[servers.a]
command = "x"
max_concurrency = 2
max_result_bytes = 1000
truncate_results = true
validate_arguments = false
[servers.a.curate.echo]
rename = "say"
description = "d"
fixed_arguments = { n = 1 }
"#,
    );
    let a = server(&c, "a");
    assert_eq!(a.max_concurrency, Some(2));
    assert_eq!(a.queue_timeout, crate::DEFAULT_QUEUE_TIMEOUT);
    assert!(a.truncate_results && !a.validate_arguments);
    let echo = &a.curate["echo"];
    assert_eq!(echo.rename.as_deref(), Some("say"));
    assert_eq!(echo.fixed_arguments["n"], 1);
    assert!(server(&toml_ok(OK), "a").validate_arguments);
    assert_err(
        &format!("{OK}max_concurrency = 0\n"),
        &[],
        "servers.a.max_concurrency",
        "greater than 0",
    );
    assert_err(
        &format!("{OK}[servers.a.curate.echo]\nrename = \"no spaces\"\n"),
        &[],
        "servers.a.curate.echo.rename",
        "[A-Za-z0-9_.-]",
    );
    assert_err(
        &format!(
            "{OK}[servers.a.curate.one]\nrename = \"x\"\n[servers.a.curate.two]\nrename = \"x\"\n"
        ),
        &[],
        "servers.a.curate.two.rename",
        "already the new name",
    );
}

const OK: &str = "[servers.a]\ncommand = \"x\"\n";
