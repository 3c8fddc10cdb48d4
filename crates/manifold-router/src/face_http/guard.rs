//! DNS-rebinding protection for the HTTP face (mcp-spec.md §5.2, "Servers MUST validate
//! Origin"): the `Host` header and, when present, the `Origin` header must name an allowed host.

use axum::http::HeaderMap;

/// Why a request is refused with 403.
pub(crate) fn check(headers: &HeaderMap, allowed: &[String]) -> Result<(), String> {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .ok_or("missing Host header")?;
    if !allowed_host(strip_port(host), allowed) {
        return Err(format!("Host `{host}` is not allowed"));
    }
    if let Some(origin) = headers.get(axum::http::header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| "unreadable Origin header")?;
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .ok_or_else(|| format!("Origin `{origin}` is not allowed"))?;
        if !allowed_host(strip_port(authority), allowed) {
            return Err(format!("Origin `{origin}` is not allowed"));
        }
    }
    Ok(())
}

fn allowed_host(host: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| a.eq_ignore_ascii_case(host))
}

/// `host:port` → `host`; `[::1]:8080` → `[::1]`.
fn strip_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue};

    use super::*;

    fn headers(host: &str, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).unwrap());
        if let Some(o) = origin {
            h.insert("origin", HeaderValue::from_str(o).unwrap());
        }
        h
    }

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        let allowed: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .map(String::from)
            .to_vec();
        assert!(check(&headers("localhost:8080", None), &allowed).is_ok());
        assert!(check(
            &headers("127.0.0.1:1", Some("http://localhost:3000")),
            &allowed
        )
        .is_ok());
        assert!(check(&headers("[::1]:9", Some("https://[::1]")), &allowed).is_ok());
        assert!(check(&headers("evil.example:8080", None), &allowed).is_err());
        assert!(check(
            &headers("localhost:8080", Some("http://evil.example")),
            &allowed
        )
        .is_err());
        assert!(check(&headers("localhost", Some("null")), &allowed).is_err());
    }
}
