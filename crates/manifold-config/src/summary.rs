//! `Config::summary`: the human-readable overview `manifold check` prints. Never prints env
//! values, header values or arguments (they may hold expanded secrets).

use std::fmt::Write as _;
use std::time::Duration;

use crate::model::{Config, Server, Transport};

impl Config {
    /// The policy lines of the summary: auth, access, limits, audit (never a token).
    fn policy_summary(&self) -> String {
        let a = &self.auth;
        let mut auth = Vec::new();
        if !a.tokens.is_empty() {
            auth.push(format!("{} static token(s)", a.tokens.len()));
        }
        if let Some(jwt) = &a.jwt {
            auth.push(format!("JWT from `{}` for `{}`", jwt.issuer, jwt.audience));
        }
        let auth = if auth.is_empty() {
            "off (HTTP clients are `anonymous`)".to_owned()
        } else {
            auth.join(", ")
        };
        let limits: Vec<&str> = self.limits.iter().map(|l| l.name.as_str()).collect();
        let arguments = match self.audit.arguments {
            crate::AuditArguments::Full => "full (redacted)",
            crate::AuditArguments::Digest => "digest",
            crate::AuditArguments::None => "none",
        };
        let audit = match (&self.audit.enabled, &self.audit.file) {
            (false, _) => "off".to_owned(),
            (true, None) => format!("stderr, arguments {arguments}"),
            (true, Some(f)) => format!("{}, arguments {arguments}", f.display()),
        };
        format!(
            "auth: {auth}; stdio principal `{}`\naccess: {} rule(s); limits: {}\naudit: {}\n",
            a.stdio_principal,
            self.access.len(),
            if limits.is_empty() {
                "none".to_owned()
            } else {
                limits.join(", ")
            },
            audit,
        )
    }

    /// A multi-line summary: gateway settings, listeners, one line per server (alias, namespace
    /// or `(pass-through)`, transport kind and command/URL, filters present), then the notices.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let g = &self.gateway;
        let page = if g.page_size == 0 {
            "all in one page".to_owned()
        } else {
            g.page_size.to_string()
        };
        let _ = writeln!(
            out,
            "gateway `{}`: separator `{}`, page size {page}, request timeout {}, startup wait {}, max message {} bytes",
            g.name,
            g.separator,
            millis(g.request_timeout),
            millis(g.startup_wait),
            g.max_message_bytes,
        );
        match self.listen.http {
            Some(addr) => {
                let _ = writeln!(out, "listen: http {addr} at {}", self.listen.path);
            }
            None => out.push_str("listen: no HTTP face (stdio only)\n"),
        }
        match self.admin.listen {
            Some(addr) => {
                let _ = writeln!(out, "admin: {addr}");
            }
            None => out.push_str("admin: off\n"),
        }
        out.push_str(&self.policy_summary());
        let _ = writeln!(out, "servers ({}):", self.servers.len());
        let alias_width = self
            .servers
            .iter()
            .map(|s| s.alias.len())
            .max()
            .unwrap_or(0);
        let ns_width = self
            .servers
            .iter()
            .map(|s| namespace(s).len())
            .max()
            .unwrap_or(0);
        for server in &self.servers {
            let _ = writeln!(
                out,
                "  {:alias_width$}  {:ns_width$}  {:15}  {}",
                server.alias,
                namespace(server),
                server.transport.kind(),
                details(server),
            );
        }
        if !self.notices.is_empty() {
            let _ = writeln!(out, "notices ({}):", self.notices.len());
            for notice in &self.notices {
                let _ = writeln!(out, "  - {notice}");
            }
        }
        out
    }
}

fn namespace(server: &Server) -> String {
    if server.namespace.is_empty() {
        "(pass-through)".to_owned()
    } else {
        format!("namespace `{}`", server.namespace)
    }
}

fn details(server: &Server) -> String {
    let mut out = match &server.transport {
        Transport::Stdio(spec) => {
            let mut s = spec.command.clone();
            if !spec.args.is_empty() {
                let _ = write!(s, " (+{} args)", spec.args.len());
            }
            s
        }
        Transport::Http(spec) => spec.url.clone(),
    };
    if let Some(timeout) = server.timeout {
        let _ = write!(out, ", timeout {}", millis(timeout));
    }
    let filters: Vec<&str> = [
        ("tools", &server.tools),
        ("prompts", &server.prompts),
        ("resources", &server.resources),
    ]
    .into_iter()
    .filter(|(_, filter)| !filter.is_trivial())
    .map(|(name, _)| name)
    .collect();
    if !filters.is_empty() {
        let _ = write!(out, ", filters: {}", filters.join(", "));
    }
    out
}

fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}
