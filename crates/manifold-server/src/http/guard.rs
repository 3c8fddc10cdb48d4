//! DNS-rebinding protection for the HTTP face (mcp-spec.md §5.2, "Servers MUST validate
//! Origin"): the `Host` header, an absolute-form request target and, when present, the `Origin`
//! header must each name an allowed host. Each is parsed strictly as an RFC 3986 authority —
//! `host [":" port]`, no userinfo, a port of digits only, an IP literal in brackets that really is
//! one — so that no spelling a browser or a lenient parser would read as another host slips
//! through. A header given twice is refused outright: which one counts is ambiguous.

use axum::http::{header, HeaderMap, StatusCode, Uri};

/// Why a request is refused, and with which status.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) status: StatusCode,
    pub(crate) why: String,
}

fn forbidden(why: String) -> Refused {
    Refused {
        status: StatusCode::FORBIDDEN,
        why,
    }
}

fn bad_request(why: &str) -> Refused {
    Refused {
        status: StatusCode::BAD_REQUEST,
        why: why.to_string(),
    }
}

/// Checks one request's target and headers against the allowed host names.
pub(crate) fn check(uri: &Uri, headers: &HeaderMap, allowed: &[String]) -> Result<(), Refused> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = match (hosts.next(), hosts.next()) {
        (Some(host), None) => host,
        (None, _) => return Err(bad_request("missing Host header")),
        (Some(_), Some(_)) => return Err(bad_request("more than one Host header")),
    };
    let host = host.to_str().unwrap_or("\u{fffd}");
    if !authority_allowed(host, allowed) {
        return Err(forbidden(format!("Host `{host}` is not allowed")));
    }
    // An absolute-form target (`POST http://evil.example/mcp`) names its host itself.
    if let Some(authority) = uri.authority() {
        let scheme_ok = matches!(uri.scheme_str(), Some("http") | Some("https"));
        if !scheme_ok || !authority_allowed(authority.as_str(), allowed) {
            return Err(forbidden(format!("request target `{uri}` is not allowed")));
        }
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    match (origins.next(), origins.next()) {
        (None, _) => Ok(()),
        (Some(_), Some(_)) => Err(bad_request("more than one Origin header")),
        (Some(origin), None) => {
            let origin = origin.to_str().unwrap_or("\u{fffd}");
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            match authority {
                Some(authority) if authority_allowed(authority, allowed) => Ok(()),
                _ => Err(forbidden(format!("Origin `{origin}` is not allowed"))),
            }
        }
    }
}

/// Whether `authority` is a well-formed `host[:port]` whose host is in `allowed`.
fn authority_allowed(authority: &str, allowed: &[String]) -> bool {
    parse_host(authority).is_some_and(|host| allowed.iter().any(|a| a.eq_ignore_ascii_case(host)))
}

/// The host of an RFC 3986 authority without userinfo (`[::1]` keeps its brackets); `None` if
/// it is not exactly `host [":" 1*DIGIT]`.
fn parse_host(authority: &str) -> Option<&str> {
    let (host, rest) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let literal = &authority[1..end - 1];
        literal.parse::<std::net::Ipv6Addr>().ok()?;
        (&authority[..end], &authority[end..])
    } else {
        let end = authority.find(':').unwrap_or(authority.len());
        let host = &authority[..end];
        let name_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !name_ok {
            return None;
        }
        (host, &authority[end..])
    };
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Some(host),
        Some(port)
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(host)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn allowed() -> Vec<String> {
        ["localhost", "127.0.0.1", "[::1]"]
            .map(String::from)
            .to_vec()
    }

    fn headers(host: &[&str], origin: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in host {
            h.append("host", HeaderValue::from_str(v).unwrap());
        }
        for v in origin {
            h.append("origin", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn status(uri: &str, host: &[&str], origin: &[&str]) -> Option<StatusCode> {
        let uri: Uri = uri.parse().unwrap();
        check(&uri, &headers(host, origin), &allowed())
            .err()
            .map(|r| r.status)
    }

    #[test]
    fn loopback_names_pass() {
        assert_eq!(status("/mcp", &["localhost:8080"], &[]), None);
        assert_eq!(status("/mcp", &["LOCALHOST"], &[]), None);
        assert_eq!(
            status("/mcp", &["127.0.0.1:1"], &["http://localhost:3000"]),
            None
        );
        assert_eq!(status("/mcp", &["[::1]:9"], &["https://[::1]"]), None);
        assert_eq!(
            status("http://127.0.0.1:8/mcp", &["127.0.0.1:8"], &[]),
            None
        );
    }

    #[test]
    fn other_hosts_and_every_loose_spelling_are_forbidden() {
        let forbidden = Some(StatusCode::FORBIDDEN);
        for host in [
            "evil.example:8080",
            "[::1].evil.com",
            "[::1]evil",
            "[::1]:",
            "[nonsense]",
            "localhost:evil",
            "localhost:1:2",
            "localhost:",
            "localhost:123456",
            "user@localhost",
            "localhost@evil.com",
            "",
            "local host",
        ] {
            assert_eq!(status("/mcp", &[host], &[]), forbidden, "Host {host:?}");
        }
        for origin in [
            "http://evil.example",
            "http://localhost:1@evil.com",
            "http://[::1]evil.com",
            "http://localhost:evil",
            "http://localhost/path",
            "ftp://localhost",
            "null",
            "localhost",
        ] {
            assert_eq!(
                status("/mcp", &["localhost"], &[origin]),
                forbidden,
                "Origin {origin:?}"
            );
        }
        assert_eq!(
            status("http://evil.com/mcp", &["127.0.0.1"], &[]),
            forbidden
        );
    }

    #[test]
    fn missing_or_repeated_headers_are_bad_requests() {
        let bad = Some(StatusCode::BAD_REQUEST);
        assert_eq!(status("/mcp", &[], &[]), bad);
        assert_eq!(status("/mcp", &["localhost", "evil.example"], &[]), bad);
        assert_eq!(status("/mcp", &["localhost", "localhost"], &[]), bad);
        assert_eq!(
            status(
                "/mcp",
                &["localhost"],
                &["http://localhost", "http://evil.example"]
            ),
            bad
        );
    }
}
