//! The 2026-07-28 side of the Streamable HTTP transport (`--profile conformance`): which POSTs
//! are of that era, the checks of their headers against the body, and their answer. There is
//! no session: each request runs on its own and nothing is minted. An answer is JSON, with the
//! era's status codes for errors (`400`, `404` for `-32601`), unless the request sends a message
//! before its response (progress, logs, a listen's notifications): then it is an event stream
//! (always for a success with `--sse`). Dropping the answer, as a client does by closing the
//! connection, cancels the request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::{interval_at, Instant};

use crate::modern::{self, Meta};
use crate::rpc::{self, RpcError, SUPPORTED_VERSIONS};
use crate::session::{Handled, Out, Reply, Session};
use crate::shared::Shared;
use crate::sse;

const VERSION_HEADER: &str = "mcp-protocol-version";
const SESSION_HEADER: &str = "mcp-session-id";
const METHOD_HEADER: &str = "mcp-method";
const NAME_HEADER: &str = "mcp-name";

/// Interval between keep-alive comments on a long event stream (a listen).
const KEEPALIVE: Duration = Duration::from_secs(15);

/// Whether a POSTed message is of the 2026-07-28 era: its `_meta` names a protocol version,
/// its method exists only in that era, or, without a session, its `MCP-Protocol-Version` is
/// no legacy version. An `initialize` without such `_meta` is legacy.
pub(crate) fn is_modern(headers: &HeaderMap, msg: &Value) -> bool {
    let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
    let params = msg.get("params").unwrap_or(&Value::Null);
    let by_body = modern::is_modern(method, params);
    if by_body || method == "initialize" {
        return by_body;
    }
    let version = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok());
    let legacy_version = version.is_some_and(|v| SUPPORTED_VERSIONS.contains(&v));
    version.is_some() && !legacy_version && !headers.contains_key(SESSION_HEADER)
}

/// The status of a JSON-RPC error code in this era.
fn status_of(code: i64) -> StatusCode {
    match code {
        -32601 => StatusCode::NOT_FOUND,
        -32700 | -32600 | -32602 | -32020 | -32021 | -32022 => StatusCode::BAD_REQUEST,
        -32603 => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::OK,
    }
}

fn json(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn refuse(id: &Value, err: &RpcError) -> Response {
    json(
        status_of(err.code),
        rpc::error_response(id, err).to_string(),
    )
}

/// A header's value, if present: its values joined by `, ` when it is repeated (so repeated
/// values never match a body's one), `U+FFFD` for one that is not text.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// `-32020` unless the `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` headers that are
/// present agree with the body (`Mcp-Name` mirrors `params.name` or `params.uri`); when
/// `strict`, `Mcp-Method` and (for a body that names something) `Mcp-Name` must be present.
fn check_headers(
    headers: &HeaderMap,
    method: &str,
    params: &Value,
    meta: &Meta,
    strict: bool,
) -> Result<(), RpcError> {
    if let Some(v) = header_text(headers, VERSION_HEADER) {
        if v != meta.version {
            return Err(RpcError::header_mismatch(format!(
                "MCP-Protocol-Version is {v:?} but _meta names {:?}",
                meta.version
            )));
        }
    }
    if let Some(m) = header_text(headers, METHOD_HEADER) {
        if m.trim() != method {
            return Err(RpcError::header_mismatch(format!(
                "Mcp-Method is {m:?} but the body's method is {method:?}"
            )));
        }
    }
    let named = match method {
        "tools/call" | "prompts/get" => params.get("name"),
        "resources/read" => params.get("uri"),
        _ => None,
    };
    if strict && !headers.contains_key(METHOD_HEADER) {
        return Err(RpcError::header_mismatch("missing Mcp-Method header"));
    }
    if strict && named.is_some() && !headers.contains_key(NAME_HEADER) {
        return Err(RpcError::header_mismatch("missing Mcp-Name header"));
    }
    if let (Some(n), Some(body)) = (header_text(headers, NAME_HEADER), named) {
        if body.as_str() != Some(n.trim()) {
            return Err(RpcError::header_mismatch(format!(
                "Mcp-Name is {n:?} but the body names {body}"
            )));
        }
    }
    Ok(())
}

/// Closes a request's session (aborting the request) when its answer is dropped.
struct CloseOnDrop(Arc<Session>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// Answers a 2026-07-28 POST.
pub(crate) async fn post(shared: &Arc<Shared>, headers: &HeaderMap, msg: Value) -> Response {
    let id = msg
        .get("id")
        .filter(|i| i.is_string() || i.is_number())
        .cloned()
        .unwrap_or(Value::Null);
    let Some(method) = msg
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        let err = RpcError::invalid_request("a 2026-07-28 server sends no requests to answer");
        return refuse(&id, &err);
    };
    if msg.get("id").is_none() {
        // No client notification exists in this era on HTTP (closing a stream cancels).
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::ACCEPTED;
        return resp;
    }
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let checked = Meta::parse(&params).and_then(|meta| {
        check_headers(headers, &method, &params, &meta, shared.opts.strict_headers)?;
        meta.check_version()
    });
    if let Err(err) = checked {
        return refuse(&id, &err);
    }
    let session = Session::new(Arc::clone(shared), None);
    let (tx, rx) = mpsc::unbounded_channel();
    let handled = session.handle(msg, &Reply::direct(tx));
    let guard = CloseOnDrop(session);
    match handled {
        Handled::Request => answer(guard, rx, shared.opts.sse).await,
        Handled::Accepted => {
            let mut resp = Response::new(Body::empty());
            *resp.status_mut() = StatusCode::ACCEPTED;
            resp
        }
        Handled::Rejected(err) => json(StatusCode::BAD_REQUEST, err.to_string()),
        Handled::Crashed => std::future::pending().await,
    }
}

/// The answer: JSON when the response comes first (an event stream for a success in `--sse`
/// mode), else an event stream of the messages and then the response.
async fn answer(
    guard: CloseOnDrop,
    mut rx: mpsc::UnboundedReceiver<Out>,
    sse_mode: bool,
) -> Response {
    loop {
        match rx.recv().await {
            None | Some(Out::Close) => {
                let mut resp = Response::new(Body::empty());
                *resp.status_mut() = StatusCode::ACCEPTED;
                return resp;
            }
            Some(Out::Detach) => {}
            Some(Out::Response(body)) => {
                let code = serde_json::from_str::<Value>(&body)
                    .ok()
                    .and_then(|v| v.pointer("/error/code").and_then(Value::as_i64));
                return match code {
                    None if sse_mode => event_stream(stream_body(body, true, rx, guard)),
                    None => json(StatusCode::OK, body),
                    Some(code) => json(status_of(code), body),
                };
            }
            Some(Out::Message(first)) => {
                return event_stream(stream_body(first, false, rx, guard));
            }
        }
    }
}

fn event_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// An event stream starting with `first` (the response itself when `done`), then what the
/// request sends until its response, with a keep-alive comment every 15 s. The request's
/// session is closed when the stream is dropped.
fn stream_body(
    first: String,
    done: bool,
    rx: mpsc::UnboundedReceiver<Out>,
    guard: CloseOnDrop,
) -> Body {
    let ticker = interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
    let state = (Some(first), done, rx, ticker, guard);
    let stream = futures::stream::unfold(
        state,
        |(first, done, mut rx, mut ticker, guard)| async move {
            if let Some(first) = first {
                return Some((
                    Ok::<_, Infallible>(sse::event(&first)),
                    (None, done, rx, ticker, guard),
                ));
            }
            if done {
                return None;
            }
            loop {
                let chunk = tokio::select! {
                    out = rx.recv() => match out? {
                        Out::Message(m) => (sse::event(&m), false),
                        Out::Response(r) => (sse::event(&r), true),
                        Out::Detach => continue,
                        Out::Close => return None,
                    },
                    _ = ticker.tick() => (Bytes::from_static(b": keep-alive\n\n"), false),
                };
                let (bytes, done) = chunk;
                return Some((Ok(bytes), (None, done, rx, ticker, guard)));
            }
        },
    );
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn era_of_a_post() {
        let plain = json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {} });
        assert!(!is_modern(&HeaderMap::new(), &plain));
        assert!(is_modern(
            &headers(&[(VERSION_HEADER, "2026-07-28")]),
            &plain
        ));
        assert!(!is_modern(
            &headers(&[(VERSION_HEADER, "2025-11-25")]),
            &plain
        ));
        let with_session = headers(&[(VERSION_HEADER, "1999-01-01"), (SESSION_HEADER, "x")]);
        assert!(!is_modern(&with_session, &plain));
        let init = json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {} });
        assert!(!is_modern(
            &headers(&[(VERSION_HEADER, "2026-07-28")]),
            &init
        ));
    }

    #[test]
    fn headers_must_agree_with_the_body() {
        let params = json!({ "name": "t", "_meta": {
            modern::VERSION_KEY: "2026-07-28", modern::CAPABILITIES_KEY: {},
        } });
        let meta = Meta::parse(&params).unwrap();
        let ok = headers(&[(METHOD_HEADER, "tools/call"), (NAME_HEADER, "t")]);
        assert!(check_headers(&ok, "tools/call", &params, &meta, true).is_ok());
        assert!(check_headers(&HeaderMap::new(), "tools/call", &params, &meta, false).is_ok());
        for partial in [HeaderMap::new(), headers(&[(METHOD_HEADER, "tools/call")])] {
            let err = check_headers(&partial, "tools/call", &params, &meta, true).unwrap_err();
            assert_eq!(err.code, -32020);
        }
        for bad in [
            headers(&[(METHOD_HEADER, "tools/list")]),
            headers(&[(NAME_HEADER, "u")]),
            headers(&[(VERSION_HEADER, "2025-11-25")]),
        ] {
            let err = check_headers(&bad, "tools/call", &params, &meta, false).unwrap_err();
            assert_eq!(err.code, -32020);
        }
        assert_eq!(status_of(-32601), StatusCode::NOT_FOUND);
        assert_eq!(status_of(-32021), StatusCode::BAD_REQUEST);
    }
}
