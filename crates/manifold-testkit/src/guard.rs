//! DNS-rebinding protection of the HTTP transport: a server bound to a loopback address
//! accepts only local `Host` and `Origin` headers (`localhost` or a loopback IP such as
//! `127.0.0.1` or `[::1]`, with any port); a missing header is accepted.

use std::net::IpAddr;

use axum::http::{header, HeaderMap};

/// Whether a request's `Host` and `Origin` are acceptable for a server bound to `bound`
/// (checks apply only when `bound` is a loopback address).
pub(crate) fn allowed(bound: IpAddr, headers: &HeaderMap) -> bool {
    if !bound.is_loopback() {
        return true;
    }
    let host_ok = headers
        .get(header::HOST)
        .is_none_or(|v| v.to_str().is_ok_and(is_local));
    let origin_ok = headers.get(header::ORIGIN).is_none_or(|v| {
        v.to_str().is_ok_and(|o| {
            let authority = o
                .strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"));
            authority.is_some_and(|a| is_local(a.trim_end_matches('/')))
        })
    });
    host_ok && origin_ok
}

/// Whether `authority` (`host[:port]`) names the loopback interface.
fn is_local(authority: &str) -> bool {
    let (host, rest) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some(parts) => parts,
            None => return false,
        },
        None => authority.split_at(authority.find(':').unwrap_or(authority.len())),
    };
    let port_ok = rest.is_empty()
        || rest
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    port_ok && host_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(host: Option<&str>, origin: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(v) = host {
            h.insert(header::HOST, HeaderValue::from_str(v).unwrap());
        }
        if let Some(v) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn local_names_pass_and_others_do_not() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        for (host, origin) in [
            (Some("127.0.0.1:8080"), None),
            (Some("localhost"), Some("http://localhost:3000")),
            (Some("[::1]:9"), Some("https://[::1]")),
            (None, None),
        ] {
            assert!(allowed(lo, &headers(host, origin)), "{host:?} {origin:?}");
        }
        for (host, origin) in [
            (Some("evil.example.com"), Some("http://evil.example.com")),
            (Some("evil.example.com:8080"), None),
            (Some("127.0.0.1:80"), Some("http://evil.example.com")),
            (Some("127.0.0.1:80"), Some("null")),
            (Some("localhost.evil.com"), None),
            (Some("127.0.0.1:x"), None),
        ] {
            assert!(!allowed(lo, &headers(host, origin)), "{host:?} {origin:?}");
        }
        let any: IpAddr = "0.0.0.0".parse().unwrap();
        assert!(allowed(any, &headers(Some("evil.example.com"), None)));
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        assert!(allowed(other, &headers(Some("127.0.0.2:1"), None)));
    }
}
