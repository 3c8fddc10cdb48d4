//! The deprecated HTTP+SSE transport (2024-11-05, mcp-spec.md §5.4) on the upstream side: a GET
//! stream whose first `endpoint` event names where to POST; every answer arrives on the stream.
//! Used when configured (`transport = "sse"`) or as the spec's fallback when a server answers the
//! first Streamable HTTP POST with a 4xx.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use manifold_protocol::sse::SseDecoder;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use tokio::sync::watch;

use crate::http::HttpShared;
use crate::Inbound;

/// How long a message waits for the stream's `endpoint` event.
const ENDPOINT_WAIT: Duration = Duration::from_secs(10);

/// Legacy-mode state of one HTTP upstream.
#[derive(Debug)]
pub(crate) struct Legacy {
    /// Whether a 4xx on the first POST switches to HTTP+SSE.
    pub(crate) fallback: bool,
    active: AtomicBool,
    endpoint: watch::Sender<Option<reqwest::Url>>,
}

impl Legacy {
    pub(crate) fn new(fallback: bool) -> Self {
        Legacy {
            fallback,
            active: AtomicBool::new(false),
            endpoint: watch::channel(None).0,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }
}

/// Switches `shared` to HTTP+SSE (once): opens the stream.
pub(crate) fn activate(shared: &Arc<HttpShared>) {
    if shared.legacy.active.swap(true, Ordering::AcqRel) {
        return;
    }
    let task = tokio::spawn(stream(shared.clone()));
    shared.track(task.abort_handle());
}

async fn stream(shared: Arc<HttpShared>) {
    let reason = match read_stream(&shared).await {
        Ok(()) => "the HTTP+SSE stream ended".to_string(),
        Err(e) => e,
    };
    tracing::debug!(server = %shared.alias, %reason, "legacy SSE stream closed");
    let _ = shared.inbound.send(Inbound::Closed { reason }).await;
}

async fn read_stream(shared: &HttpShared) -> Result<(), String> {
    let resp = shared
        .client
        .get(shared.url.clone())
        .headers(shared.headers.clone())
        .header(ACCEPT, "text/event-stream")
        .send()
        .await
        .map_err(|e| format!("cannot open the HTTP+SSE stream: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP+SSE stream answered HTTP {}", resp.status()));
    }
    let mut decoder = SseDecoder::new(shared.max);
    let mut events = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| format!("HTTP+SSE stream broke: {e}"))?;
        decoder.feed(&chunk, &mut events);
        for event in events.drain(..) {
            match event.event.as_str() {
                "endpoint" => {
                    let endpoint = shared
                        .url
                        .join(event.data.trim())
                        .map_err(|e| format!("bad endpoint event `{}`: {e}", event.data))?;
                    tracing::debug!(server = %shared.alias, %endpoint, "HTTP+SSE endpoint");
                    shared.legacy.endpoint.send_replace(Some(endpoint));
                }
                "" | "message" if !event.data.is_empty() => {
                    shared.deliver(event.data.as_bytes(), None).await;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// POSTs one message to the endpoint the stream announced.
pub(crate) async fn post(shared: &HttpShared, text: String) -> Result<(), String> {
    let mut endpoint = shared.legacy.endpoint.subscribe();
    let url = tokio::time::timeout(ENDPOINT_WAIT, endpoint.wait_for(Option::is_some))
        .await
        .map_err(|_| "no endpoint event on the HTTP+SSE stream".to_string())?
        .map_err(|_| "HTTP+SSE transport closed".to_string())?
        .clone()
        .ok_or("no endpoint")?;
    let resp = shared
        .client
        .post(url)
        .headers(shared.headers.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(text)
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(format!("upstream answered HTTP {}", resp.status()))
    }
}
