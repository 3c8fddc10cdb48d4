//! A Streamable HTTP upstream (2025-03-26 … 2025-11-25, mcp-spec.md §5.2): every message is a POST
//! whose answer is 202, a JSON body or an SSE stream; `Mcp-Session-Id` is captured from the
//! response and sent back; a 404 on a known session is reported so the session re-initializes.
//! An SSE stream that ends before the answer it carries — a server polling its clients
//! (2025-11-25, SEP-1699) or a broken connection — is resumed with `GET` and `Last-Event-ID`
//! after the server's `retry` advice; the GET stream of server-initiated messages likewise.

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use manifold_protocol::sse::SseDecoder;
use manifold_protocol::{decode, decode_one, Decoded, Id, Message};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;

use crate::legacy_sse::{self, Legacy};
use crate::{
    Closer, CloserKind, Connection, Inbound, Sender, SenderKind, TransportError, INBOUND_CAPACITY,
};

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";
const LAST_EVENT_ID: &str = "last-event-id";

/// Wait before reconnecting a stream whose server gave no `retry` advice.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);
/// Longest wait between reconnections, whatever the server advises.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// Reconnections of one POST's stream in a row that bring no event before it is given up (the
/// request then fails by its own deadline).
const MAX_FRUITLESS_RESUMES: u32 = 5;

/// How to reach a Streamable HTTP upstream.
#[derive(Debug, Clone)]
pub struct HttpParams {
    /// The server's alias, used in logs.
    pub alias: String,
    /// The MCP endpoint.
    pub url: String,
    /// Extra headers sent with every request (configured credentials live here).
    pub headers: Vec<(String, String)>,
    /// Largest message accepted, in bytes.
    pub max_message_bytes: usize,
    /// Which HTTP transport to speak.
    pub protocol: HttpProtocol,
    /// Bytes of received messages that may wait to be processed before responses are read no
    /// further (backpressure on the upstream).
    pub queue_bytes: usize,
}

/// The HTTP transport of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProtocol {
    /// Streamable HTTP, falling back to HTTP+SSE if the first POST gets a 4xx.
    Auto,
    /// Streamable HTTP only.
    Streamable,
    /// The deprecated HTTP+SSE transport.
    LegacySse,
}

#[derive(Debug)]
pub(crate) struct HttpShared {
    pub(crate) alias: String,
    pub(crate) client: reqwest::Client,
    pub(crate) url: reqwest::Url,
    pub(crate) headers: HeaderMap,
    session_id: Mutex<Option<String>>,
    /// A session existed once: the spec's HTTP+SSE fallback (first POST only) is over, and a
    /// request sent without a session is one that raced its re-initialization.
    had_session: std::sync::atomic::AtomicBool,
    protocol_version: Mutex<Option<String>>,
    pub(crate) inbound: crate::queue::QueueSender<Inbound>,
    pub(crate) max: usize,
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
    /// Spoken to in the 2026-07-28 era ([`crate::modern_http`]).
    modern: std::sync::atomic::AtomicBool,
    /// The POST of each 2026-07-28 request in flight, by id: aborting it cancels the request.
    pub(crate) modern_posts: Mutex<std::collections::HashMap<Id, tokio::task::AbortHandle>>,
    pub(crate) legacy: Legacy,
}

/// Why a POST did not deliver its message.
enum PostError {
    /// Transport-level failure, reported against the request.
    Failed(String),
    /// A 4xx to the first Streamable HTTP POST: the server may speak HTTP+SSE instead.
    TryLegacy,
}

/// Prepares a client for `params`; nothing is sent until the first message.
pub fn connect_http(params: &HttpParams) -> Result<Connection, TransportError> {
    let url = reqwest::Url::parse(&params.url)
        .map_err(|e| TransportError::InvalidHttp(format!("url: {e}")))?;
    let mut headers = HeaderMap::new();
    for (k, v) in &params.headers {
        let name = HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| TransportError::InvalidHttp(format!("header name `{k}`")))?;
        let mut value = HeaderValue::from_str(v)
            .map_err(|_| TransportError::InvalidHttp(format!("value of header `{k}`")))?;
        value.set_sensitive(true);
        headers.insert(name, value);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| TransportError::InvalidHttp(e.to_string()))?;
    let (tx, rx) = crate::queue::queue(INBOUND_CAPACITY, params.queue_bytes);
    let shared = Arc::new(HttpShared {
        alias: params.alias.clone(),
        client,
        url,
        headers,
        session_id: Mutex::new(None),
        had_session: std::sync::atomic::AtomicBool::new(false),
        protocol_version: Mutex::new(None),
        inbound: tx,
        max: params.max_message_bytes,
        tasks: Mutex::new(Vec::new()),
        modern: std::sync::atomic::AtomicBool::new(false),
        modern_posts: Mutex::new(std::collections::HashMap::new()),
        legacy: Legacy::new(params.protocol == HttpProtocol::Auto),
    });
    if params.protocol == HttpProtocol::LegacySse {
        legacy_sse::activate(&shared);
    }
    Ok(Connection {
        sender: Sender {
            inner: SenderKind::Http(shared.clone()),
        },
        inbound: crate::InboundStream {
            inner: crate::InboundKind::Queue(rx),
        },
        closer: Closer {
            inner: CloserKind::Http(shared),
        },
    })
}

impl HttpShared {
    pub(crate) fn set_protocol_version(&self, version: &str) {
        *self.protocol_version.lock() = Some(version.to_string());
    }

    /// Speaks the 2026-07-28 era from now on (`true`), or the legacy one until `initialize`
    /// names its version.
    pub(crate) fn set_modern(&self, modern: bool) {
        self.modern
            .store(modern, std::sync::atomic::Ordering::Release);
        *self.protocol_version.lock() =
            modern.then(|| manifold_protocol::version::MODERN.to_string());
    }

    fn is_modern(&self) -> bool {
        self.modern.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn session_id(&self) -> Option<String> {
        self.session_id.lock().clone()
    }

    /// Whether a 4xx may still mean "this server speaks HTTP+SSE": only before any session.
    fn may_fall_back(&self) -> bool {
        self.legacy.fallback
            && self.session_id().is_none()
            && !self.had_session.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let mut req = self
            .client
            .request(method, self.url.clone())
            .headers(self.headers.clone());
        if let Some(id) = self.session_id() {
            req = req.header(SESSION_HEADER, id);
        }
        if let Some(v) = self.protocol_version.lock().clone() {
            req = req.header(VERSION_HEADER, v);
        }
        req
    }

    pub(crate) fn post(
        self: &Arc<Self>,
        text: String,
        request_id: Option<Id>,
        headers: Vec<(String, String)>,
    ) -> Result<(), TransportError> {
        if self.inbound.is_closed() {
            return Err(TransportError::Closed);
        }
        if self.is_modern() {
            return self.post_modern(text, request_id, headers);
        }
        let this = self.clone();
        let task = tokio::spawn(async move {
            let outcome = if this.legacy.is_active() {
                legacy_sse::post(&this, text).await
            } else {
                // Kept only while a fallback to HTTP+SSE is still possible (before a session).
                let retry = this.may_fall_back().then(|| text.clone());
                match this.post_and_read(text, request_id.clone()).await {
                    Ok(()) => Ok(()),
                    Err(PostError::Failed(reason)) => Err(reason),
                    Err(PostError::TryLegacy) => {
                        tracing::info!(server = %this.alias, "Streamable HTTP refused; falling back to HTTP+SSE");
                        legacy_sse::activate(&this);
                        legacy_sse::post(&this, retry.unwrap_or_default()).await
                    }
                }
            };
            if let Err(reason) = outcome {
                tracing::debug!(server = %this.alias, %reason, "POST to upstream failed");
                if let Some(id) = request_id {
                    let _ = this.inbound.send(Inbound::SendFailed { id, reason }).await;
                }
            }
        });
        self.track(task.abort_handle());
        Ok(())
    }

    pub(crate) fn track(&self, handle: tokio::task::AbortHandle) {
        let mut tasks = self.tasks.lock();
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    async fn post_and_read(&self, text: String, request_id: Option<Id>) -> Result<(), PostError> {
        let sent_session = self.session_id();
        let resp = self
            .request(reqwest::Method::POST)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json")
            .body(text)
            .send()
            .await
            .map_err(|e| PostError::Failed(format!("request failed: {e}")))?;
        if let Some(id) = resp
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            *self.session_id.lock() = Some(id.to_string());
            self.had_session
                .store(true, std::sync::atomic::Ordering::Release);
        }
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            if let Some(old) = sent_session {
                // Forget the session once; every request it rejected is reported so the
                // session above can send it again once a new session exists.
                {
                    let mut current = self.session_id.lock();
                    tracing::debug!(server = %self.alias, rejected = %old, current = ?*current, ?request_id, "upstream answered 404 for the session");
                    if current.as_deref() == Some(old.as_str()) {
                        *current = None;
                    }
                }
                let _ = self
                    .inbound
                    .send(Inbound::SessionExpired {
                        session_id: old,
                        request_id,
                    })
                    .await;
                return Ok(());
            }
        }
        if status.is_client_error() && sent_session.is_none() {
            if self.may_fall_back() {
                return Err(PostError::TryLegacy);
            }
            if request_id.is_some() && self.had_session.load(std::sync::atomic::Ordering::Acquire) {
                // Sent in the gap between a session's expiry and its replacement: reported like
                // a request the expired session rejected, so it is sent again on the new one.
                tracing::debug!(server = %self.alias, %status, ?request_id, "request sent between sessions; it will be sent again");
                let _ = self
                    .inbound
                    .send(Inbound::SessionExpired {
                        session_id: String::new(),
                        request_id,
                    })
                    .await;
                return Ok(());
            }
        }
        if !status.is_success() {
            return Err(PostError::Failed(format!(
                "upstream answered HTTP {status}"
            )));
        }
        if status == StatusCode::ACCEPTED {
            return Ok(());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if content_type.starts_with("text/event-stream") {
            self.read_post_stream(resp, request_id.as_ref())
                .await
                .map_err(PostError::Failed)
        } else {
            let body = resp
                .bytes()
                .await
                .map_err(|e| PostError::Failed(format!("reading body: {e}")))?;
            if body.len() > self.max {
                let why = format!("response of {} bytes exceeds the limit", body.len());
                return Err(PostError::Failed(why));
            }
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(());
            }
            self.deliver(&body, None).await;
            Ok(())
        }
    }

    /// Reads the SSE answer to a POST. If it ends before the response to `request_id` came (and
    /// the server gave its events ids), it is resumed with `GET` + `Last-Event-ID`.
    async fn read_post_stream(
        &self,
        resp: reqwest::Response,
        request_id: Option<&Id>,
    ) -> Result<(), String> {
        let mut decoder = SseDecoder::new(self.max);
        let mut read = self.read_sse(resp, &mut decoder, request_id).await;
        let mut fruitless = 0;
        loop {
            let outcome = match read {
                Ok(Stream::Answered) => return Ok(()),
                Ok(other) => Ok(other),
                Err(e) => Err(e),
            };
            let (Some(request_id), Some(last)) = (request_id, decoder.last_event_id()) else {
                // Nothing to resume: an answer-less stream of a notification, or no event ids.
                return outcome.map(|_| ());
            };
            fruitless = match outcome {
                Ok(Stream::Ended { events }) if events > 0 => 0,
                _ => fruitless + 1,
            };
            if fruitless > MAX_FRUITLESS_RESUMES {
                return Err(format!(
                    "the SSE stream for request {request_id} could not be resumed"
                ));
            }
            let wait = decoder
                .retry()
                .map_or(DEFAULT_RETRY, Duration::from_millis)
                .min(MAX_RETRY);
            tracing::debug!(server = %self.alias, %request_id, last_event_id = %last, ?wait, "SSE stream ended before its answer; resuming");
            let last = last.to_string();
            tokio::time::sleep(wait).await;
            read = match self.resume(&last).await {
                Ok(resp) => self.read_sse(resp, &mut decoder, Some(request_id)).await,
                Err(e) => Err(e),
            };
        }
    }

    /// `GET` with `Last-Event-ID`: the rest of a stream.
    async fn resume(&self, last_event_id: &str) -> Result<reqwest::Response, String> {
        let resp = self
            .request(reqwest::Method::GET)
            .header(ACCEPT, "text/event-stream")
            .header(LAST_EVENT_ID, last_event_id)
            .send()
            .await
            .map_err(|e| format!("resuming the SSE stream failed: {e}"))?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(format!("resuming the SSE stream: HTTP {}", resp.status()))
        }
    }

    /// Reads one SSE response to its end, delivering its messages; says whether it carried the
    /// response to `request_id`.
    pub(crate) async fn read_sse(
        &self,
        resp: reqwest::Response,
        decoder: &mut SseDecoder,
        request_id: Option<&Id>,
    ) -> Result<Stream, String> {
        let mut events = Vec::new();
        let mut count = 0;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| format!("SSE stream broke: {e}"))?;
            decoder.feed(&chunk, &mut events);
            for event in events.drain(..) {
                count += 1;
                if (event.event.is_empty() || event.event == "message")
                    && !event.data.is_empty()
                    && self.deliver(event.data.as_bytes(), request_id).await
                {
                    return Ok(Stream::Answered);
                }
            }
        }
        Ok(Stream::Ended { events: count })
    }

    /// Decodes and queues what the upstream sent; whether it held the response to `answer`.
    pub(crate) async fn deliver(&self, bytes: &[u8], answer: Option<&Id>) -> bool {
        let messages: Vec<Message> = match decode(bytes) {
            Ok(Decoded::Single(m)) => vec![m],
            Ok(Decoded::Batch(items)) => items.iter().filter_map(|i| decode_one(i).ok()).collect(),
            Err(e) => {
                tracing::warn!(server = %self.alias, error = %e, "dropping invalid message from upstream");
                let _ = self
                    .inbound
                    .send(Inbound::Invalid {
                        reason: e.to_string(),
                    })
                    .await;
                return false;
            }
        };
        let mut answered = false;
        for m in messages {
            if let (Message::Response(r), Some(id)) = (&m, answer) {
                answered |= r.id.as_ref() == Some(id);
            }
            if self.inbound.send(Inbound::Message(m)).await.is_err() {
                break;
            }
        }
        answered
    }

    /// Opens the GET stream (server-initiated messages) and keeps it open: when the server ends
    /// it, it is opened again after the server's `retry` advice, resuming after the last event
    /// seen. A 405 means the server offers none; a 404 that the session is gone (the session
    /// above opens a new stream for the new one).
    pub(crate) fn open_event_stream(this: &Arc<Self>) {
        let shared = this.clone();
        let task = tokio::spawn(async move {
            let mut decoder = SseDecoder::new(shared.max);
            let mut fruitless = 0u32;
            let session = shared.session_id();
            loop {
                if shared.session_id() != session {
                    // The session it belonged to is gone; its successor opens its own stream.
                    return;
                }
                let mut req = shared
                    .request(reqwest::Method::GET)
                    .header(ACCEPT, "text/event-stream");
                if let Some(last) = decoder.last_event_id() {
                    req = req.header(LAST_EVENT_ID, last.to_string());
                }
                let events = match req.send().await {
                    Ok(r) if r.status().is_success() => {
                        match shared.read_sse(r, &mut decoder, None).await {
                            Ok(Stream::Ended { events }) => events,
                            _ => 0,
                        }
                    }
                    Ok(r) => {
                        tracing::debug!(server = %shared.alias, status = %r.status(), "no GET stream");
                        return;
                    }
                    Err(e) => {
                        tracing::debug!(server = %shared.alias, error = %e, "GET stream failed");
                        0
                    }
                };
                fruitless = if events > 0 { 0 } else { fruitless + 1 };
                // Back off while reconnections bring nothing.
                let advised = decoder.retry().map_or(DEFAULT_RETRY, Duration::from_millis);
                let wait = (advised * 2u32.saturating_pow(fruitless.min(5))).min(MAX_RETRY);
                tracing::debug!(server = %shared.alias, ?wait, "GET stream ended; reopening");
                tokio::time::sleep(wait).await;
            }
        });
        this.track(task.abort_handle());
    }

    pub(crate) async fn close(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
        if self.session_id().is_some() {
            let delete = self.request(reqwest::Method::DELETE).send();
            if let Ok(Ok(resp)) =
                tokio::time::timeout(std::time::Duration::from_secs(2), delete).await
            {
                tracing::debug!(server = %self.alias, status = %resp.status(), "ended upstream session");
            }
        }
    }
}

/// How one SSE response ended.
pub(crate) enum Stream {
    /// It carried the response awaited.
    Answered,
    /// It ended after `events` events without it.
    Ended { events: usize },
}
