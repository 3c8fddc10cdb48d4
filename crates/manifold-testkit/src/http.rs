//! The Streamable HTTP transport (protocol 2025-03-26 … 2025-11-25) at `/mcp`; POSTs of the
//! 2026-07-28 era (`--profile conformance`) are handed to `modern_http`.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::{json, Map, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::options::{Options, Profile};
use crate::resume::Streams;
use crate::rpc::{self, SUPPORTED_VERSIONS};
use crate::session::{Handled, Out, Reply, Session};
use crate::shared::Shared;
use crate::{guard, modern_http, sse, Crashed};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

struct HttpSession {
    session: Arc<Session>,
    /// Resumable POST streams (conformance profile).
    streams: Arc<Streams>,
    /// Requests received, not counting initialize.
    requests: u64,
}

struct App {
    shared: Arc<Shared>,
    /// The address the server is bound to (Host/Origin are checked when it is loopback).
    bound: IpAddr,
    sessions: Mutex<HashMap<String, HttpSession>>,
}

impl App {
    fn record_headers(&self, method: &str, headers: &HeaderMap) {
        if self.shared.recorder.is_none() {
            return;
        }
        let mut map = Map::new();
        map.insert(":method".into(), json!(method));
        for (name, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            match map.get_mut(name.as_str()) {
                Some(Value::String(prev)) => {
                    prev.push_str(", ");
                    prev.push_str(&value);
                }
                _ => {
                    map.insert(name.as_str().into(), json!(value));
                }
            }
        }
        self.shared
            .record(&format!("HEADERS {}", Value::Object(map)));
    }

    fn record_body(&self, body: &[u8]) {
        if self.shared.recorder.is_none() {
            return;
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim_end_matches(['\r', '\n']);
        if text.contains('\n') {
            // Keep one message per line: re-serialize compactly (key order is preserved).
            match serde_json::from_str::<Value>(text) {
                Ok(v) => self.shared.record(&v.to_string()),
                Err(_) => self.shared.record(&text.replace(['\r', '\n'], " ")),
            }
        } else {
            self.shared.record(text);
        }
    }

    /// Finds the session named by the `Mcp-Session-Id` header (400 if absent, 404 if unknown).
    fn lookup(&self, headers: &HeaderMap) -> Result<Found, StatusCode> {
        let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
            return Err(StatusCode::BAD_REQUEST);
        };
        match self.sessions.lock().get(id) {
            Some(entry) => Ok((id.to_string(), entry.session.clone(), entry.streams.clone())),
            None => Err(StatusCode::NOT_FOUND),
        }
    }

    /// Records the request's headers; false if its Host or Origin is not local.
    fn admit(&self, method: &str, headers: &HeaderMap) -> bool {
        self.record_headers(method, headers);
        guard::allowed(self.bound, headers)
    }
}

/// The answer to a request refused by [`App::admit`].
fn forbidden() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "Forbidden: Host or Origin is not local (DNS rebinding protection)",
    )
}

/// A session found by [`App::lookup`]: its id, state and resumable streams.
type Found = (String, Arc<Session>, Arc<Streams>);

/// The response to a failed [`App::lookup`].
fn lookup_failed(status: StatusCode) -> Response {
    if status == StatusCode::NOT_FOUND {
        error(status, "Session not found")
    } else {
        error(status, "Bad Request: missing Mcp-Session-Id header")
    }
}

/// Closes every session when the server stops (or its future is dropped).
struct CloseOnDrop(Arc<App>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        for (_, entry) in self.0.sessions.lock().drain() {
            entry.session.close();
        }
    }
}

/// Serves Streamable HTTP on `listener` (POST, GET and DELETE at `/mcp`) until a crash.
///
/// Returns an error at once if `fail_start` is set, and a [`Crashed`] error when the
/// `crash` tool or `crash_after` fires (all connections are dropped first). Dropping
/// the returned future closes every connection and session.
pub async fn serve_http(opts: Options, listener: TcpListener) -> anyhow::Result<()> {
    if opts.fail_start {
        anyhow::bail!(
            "testkit {}: failing at start as requested (--fail-start)",
            opts.name
        );
    }
    let bound = listener.local_addr()?.ip();
    let shared = Shared::new(opts)?;
    let app = Arc::new(App {
        shared: shared.clone(),
        bound,
        sessions: Mutex::new(HashMap::new()),
    });
    let _guard = CloseOnDrop(app.clone());
    let router = Router::new()
        .route("/mcp", post(post_mcp).get(get_mcp).delete(delete_mcp))
        .with_state(app);
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = shared.wait_crash() => {
                connections.abort_all();
                return Err(Crashed.into());
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let service = TowerToHyperService::new(router.clone());
                    connections.spawn(async move {
                        let _ = http1::Builder::new()
                            .timer(TokioTimer::new())
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
                Err(err) => {
                    eprintln!("testkit: accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let body =
        json!({ "jsonrpc": "2.0", "id": null, "error": { "code": -32600, "message": message } });
    json_response(status, body.to_string())
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn status_only(status: StatusCode) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    resp
}

fn event_stream(body: Body) -> Response {
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

async fn post_mcp(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
    if !app.admit("POST", &headers) {
        return forbidden();
    }
    app.record_body(&body);
    let msg = match rpc::parse_message(&body) {
        Ok(msg) => msg,
        Err(parse_error) => return json_response(StatusCode::BAD_REQUEST, parse_error.to_string()),
    };
    if app.shared.opts.profile == Profile::Conformance && modern_http::is_modern(&headers, &msg) {
        return modern_http::post(&app.shared, &headers, msg).await;
    }
    let method = msg.get("method").and_then(Value::as_str);
    let is_request = method.is_some() && msg.get("id").is_some();
    let is_initialize = is_request && method == Some("initialize");
    let (sid, session, streams) = if is_initialize {
        let sid = rpc::random_hex(16);
        let session = Session::new(app.shared.clone(), None);
        let streams = Arc::new(Streams::default());
        let entry = HttpSession {
            session: session.clone(),
            streams: streams.clone(),
            requests: 0,
        };
        app.sessions.lock().insert(sid.clone(), entry);
        (sid, session, streams)
    } else {
        if let Some(v) = headers.get(VERSION_HEADER) {
            let ok = v.to_str().is_ok_and(|v| SUPPORTED_VERSIONS.contains(&v));
            if !ok {
                return error(
                    StatusCode::BAD_REQUEST,
                    "Bad Request: unsupported MCP-Protocol-Version",
                );
            }
        }
        match app.lookup(&headers) {
            Ok(found) => found,
            Err(status) => return lookup_failed(status),
        }
    };
    let expired = is_request && !is_initialize && {
        let mut sessions = app.sessions.lock();
        let entry = sessions.get_mut(&sid);
        entry.is_some_and(|e| {
            e.requests += 1;
            app.shared
                .opts
                .session_ttl_requests
                .is_some_and(|ttl| e.requests >= ttl)
        })
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let sse_mode = app.shared.opts.sse;
    let resumable = app.shared.opts.profile == Profile::Conformance;
    let reply = if sse_mode {
        Reply::direct(tx)
    } else {
        Reply::response_only(tx)
    };
    let handled = session.handle(msg, &reply);
    drop(reply);
    if expired {
        app.sessions.lock().remove(&sid);
        session.drop_events();
    }
    let mut resp = match handled {
        Handled::Accepted => return status_only(StatusCode::ACCEPTED),
        Handled::Rejected(err) => return json_response(StatusCode::BAD_REQUEST, err.to_string()),
        Handled::Crashed => std::future::pending().await,
        Handled::Request if sse_mode && resumable => event_stream(streams.post_body(rx)),
        Handled::Request if sse_mode => event_stream(sse::response_body(rx)),
        Handled::Request => match wait_response(rx).await {
            Some(body) => json_response(StatusCode::OK, body),
            // Cancelled: there is no response to send.
            None => status_only(StatusCode::ACCEPTED),
        },
    };
    if is_initialize {
        if let Ok(v) = HeaderValue::from_str(&sid) {
            resp.headers_mut().insert("mcp-session-id", v);
        }
    }
    resp
}

async fn wait_response(mut rx: mpsc::UnboundedReceiver<Out>) -> Option<String> {
    while let Some(out) = rx.recv().await {
        if let Out::Response(body) = out {
            return Some(body);
        }
    }
    None
}

async fn get_mcp(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.admit("GET", &headers) {
        return forbidden();
    }
    let (_, session, streams) = match app.lookup(&headers) {
        Ok(found) => found,
        Err(status) => return lookup_failed(status),
    };
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    if let Some(resumed) = last_event_id.and_then(|id| streams.resume(id)) {
        return event_stream(resumed);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    session.set_events(tx);
    event_stream(sse::event_stream_body(rx))
}

async fn delete_mcp(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if !app.admit("DELETE", &headers) {
        return forbidden();
    }
    match app.lookup(&headers) {
        Ok((sid, session, _)) => {
            app.sessions.lock().remove(&sid);
            session.close();
            status_only(StatusCode::OK)
        }
        Err(status) => lookup_failed(status),
    }
}
