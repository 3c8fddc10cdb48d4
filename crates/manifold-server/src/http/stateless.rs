//! A 2026-07-28 POST (mcp-spec.md §5.3): one request or notification, no session. Its headers
//! must agree with its body (`MCP-Protocol-Version` with `_meta`, `Mcp-Method` with the method,
//! `Mcp-Name` with the name or URI it is routed by), and the era's errors carry their HTTP
//! status: `400` for missing `_meta` (`-32602`), a mismatch (`-32020`) or another version
//! (`-32022`), `404` for a method the era does not have (`-32601`). `Mcp-Session-Id` is ignored
//! and none is minted.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use manifold_policy::auth::Principal;
use manifold_protocol::modern::{self, RequestMeta};
use manifold_protocol::{code, encode_error, version, Decoded, ErrorObject, Message, Request};

use super::post::{accepts_sse, json};
use super::{App, VERSION_HEADER};

/// `Mcp-Method`: the request's method, mirrored.
const METHOD_HEADER: &str = "mcp-method";
/// `Mcp-Name`: the name or URI it is routed by, mirrored.
const NAME_HEADER: &str = "mcp-name";

/// Whether a POST is of the 2026-07-28 era: its `MCP-Protocol-Version` says so.
pub(crate) fn is_modern(headers: &HeaderMap) -> bool {
    headers
        .get(VERSION_HEADER)
        .is_some_and(|v| v.as_bytes() == version::MODERN.as_bytes())
}

/// The answer to a request of an era Manifold does not serve: its `MCP-Protocol-Version` is no
/// version Manifold knows and its `_meta` names a version, as a modern client's does. It gets
/// `-32022` with the versions served (HTTP 400), under its id; `None` for any other POST.
pub(crate) fn unsupported_version(headers: &HeaderMap, decoded: &Decoded) -> Option<Response> {
    let requested = headers.get(VERSION_HEADER)?.to_str().unwrap_or("");
    if version::is_supported(requested) {
        return None;
    }
    let Decoded::Single(Message::Request(request)) = decoded else {
        return None;
    };
    let error = match modern::read(request.params.as_deref()) {
        // A legacy request: the legacy era's refusal.
        Ok(None) => return None,
        Ok(Some(_)) => mismatch(format!(
            "{VERSION_HEADER} header is `{requested}` but the body's _meta names {}",
            version::MODERN
        )),
        Err(error) if error.code == code::UNSUPPORTED_PROTOCOL_VERSION => {
            modern::unsupported(requested)
        }
        Err(error) => error,
    };
    Some(json(
        StatusCode::BAD_REQUEST,
        encode_error(Some(&request.id), &error),
    ))
}

/// Answers a 2026-07-28 POST.
pub(crate) async fn handle(
    app: &Arc<App>,
    principal: &Principal,
    headers: &HeaderMap,
    decoded: Decoded,
) -> Response {
    let request = match decoded {
        Decoded::Single(Message::Request(request)) => request,
        // The era has no client notification on HTTP but `notifications/cancelled` (meant for
        // stdio; closing the stream cancels here): accepted; any other, such as the removed
        // `notifications/roots/list_changed`, is a method the era does not have.
        Decoded::Single(Message::Notification(n)) => {
            if n.method == manifold_protocol::method::CANCELLED {
                return StatusCode::ACCEPTED.into_response();
            }
            let error = ErrorObject::new(
                code::METHOD_NOT_FOUND,
                format!(
                    "Method not found: {} is not a 2026-07-28 notification",
                    n.method
                ),
            );
            return json(StatusCode::NOT_FOUND, encode_error(None, &error));
        }
        Decoded::Single(Message::Response(_)) => {
            let error = ErrorObject::new(
                code::INVALID_REQUEST,
                "a 2026-07-28 server sends no requests, so there is nothing to respond to",
            );
            return json(StatusCode::BAD_REQUEST, encode_error(None, &error));
        }
        Decoded::Batch(_) => {
            let error = ErrorObject::new(
                code::INVALID_REQUEST,
                "JSON-RPC batches are not part of protocol version 2026-07-28",
            );
            return json(StatusCode::BAD_REQUEST, encode_error(None, &error));
        }
    };
    if let Err((status, error)) = check(&request, headers) {
        return json(status, encode_error(Some(&request.id), &error));
    }
    let sse = accepts_sse(headers);
    if request.method == manifold_protocol::method::SUBSCRIPTIONS_LISTEN && !sse {
        let error = ErrorObject::new(
            code::INVALID_REQUEST,
            "subscriptions/listen is answered with an SSE stream: Accept must allow text/event-stream",
        );
        return json(
            StatusCode::NOT_ACCEPTABLE,
            encode_error(Some(&request.id), &error),
        );
    }
    let carrier = match app.store.stateless(&app.gateway, app.queue, &principal.0) {
        Ok(carrier) => carrier,
        Err(e) => {
            let error = ErrorObject::new(code::INTERNAL_ERROR, format!("no session: {e}"));
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                encode_error(Some(&request.id), &error),
            );
        }
    };
    let param_headers = match param_headers(headers) {
        Ok(params) => params,
        Err(error) => {
            return json(
                StatusCode::BAD_REQUEST,
                encode_error(Some(&request.id), &error),
            )
        }
    };
    super::answer::answer(app, &carrier, request, param_headers, sse).await
}

/// The request's `Mcp-Param-*` headers (names lowercase, values as sent), for the router to
/// check against the called tool's arguments and to forward; one that is not visible ASCII, or
/// appears twice, is a mismatch already.
fn param_headers(headers: &HeaderMap) -> Result<Vec<(String, String)>, ErrorObject> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in headers {
        let name = name.as_str();
        if !name.starts_with(manifold_protocol::param_headers::PREFIX) {
            continue;
        }
        let Ok(value) = value.to_str() else {
            return Err(mismatch(format!("{name} header is not visible ASCII")));
        };
        if params.iter().any(|(n, _)| n == name) {
            return Err(mismatch(format!("{name} header appears more than once")));
        }
        params.push((name.to_string(), value.to_string()));
    }
    Ok(params)
}

/// The checks of a modern request before it is served, with the status of each refusal.
fn check(request: &Request, headers: &HeaderMap) -> Result<RequestMeta, (StatusCode, ErrorObject)> {
    let bad = |error| (StatusCode::BAD_REQUEST, error);
    if !modern::REQUESTS.contains(&request.method.as_str()) {
        let why = if modern::removed(&request.method) {
            format!(
                "Method not found: {} was removed in protocol version 2026-07-28",
                request.method
            )
        } else {
            format!("Method not found: {}", request.method)
        };
        return Err((
            StatusCode::NOT_FOUND,
            ErrorObject::new(code::METHOD_NOT_FOUND, why),
        ));
    }
    let meta = modern::require(request.params.as_deref()).map_err(|mut error| {
        if error.code == code::UNSUPPORTED_PROTOCOL_VERSION {
            // The header named 2026-07-28: a body naming another version disagrees with it.
            error = mismatch(format!(
                "{VERSION_HEADER} header is {} but the body's _meta names another version",
                version::MODERN
            ));
        }
        bad(error)
    })?;
    let method_header = header(headers, METHOD_HEADER)?;
    if method_header != Some(request.method.as_str()) {
        return Err(bad(mismatch(format!(
            "{METHOD_HEADER} header {} the request's method `{}`",
            describe(method_header),
            request.method
        ))));
    }
    if let Some(key) = modern::name_key(&request.method) {
        let named = request
            .params
            .as_deref()
            .and_then(|p| manifold_protocol::RawObject::parse(p).ok())
            .and_then(|p| p.get_str(key));
        let name_header = header(headers, NAME_HEADER)?.map(decoded_value);
        if named.is_some() && name_header.as_deref() != named.as_deref() {
            return Err(bad(mismatch(format!(
                "{NAME_HEADER} header {} the request's {key}",
                describe(name_header.as_deref())
            ))));
        }
    }
    Ok(meta)
}

/// A mirrored header's value as text (`None` when absent or not visible ASCII); one that
/// appears more than once is refused (`-32020`): which one would the body be checked against?
fn header<'h>(
    headers: &'h HeaderMap,
    name: &str,
) -> Result<Option<&'h str>, (StatusCode, ErrorObject)> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (first, None) => Ok(first.and_then(|v| v.to_str().ok())),
        (Some(_), Some(_)) => Err((
            StatusCode::BAD_REQUEST,
            mismatch(format!("{name} header appears more than once")),
        )),
        (None, Some(_)) => Ok(None),
    }
}

/// A mirrored value as the client meant it: one that is not plain visible ASCII is sent as
/// `=?base64?<base64 of its UTF-8>?=` (the sentinel is lowercase and case-sensitive).
fn decoded_value(value: &str) -> String {
    use base64::Engine as _;
    value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_string())
}

fn describe(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("`{v}` does not match"),
        None => "is missing, required with".to_string(),
    }
}

fn mismatch(message: String) -> ErrorObject {
    ErrorObject::new(code::HEADER_MISMATCH, message)
}
