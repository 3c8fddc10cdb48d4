//! A 2026-07-28 Streamable HTTP upstream (mcp-spec.md §5.3): every request is a POST of its
//! own, with `MCP-Protocol-Version`, `Mcp-Method` and `Mcp-Name` mirrored from its body (and
//! the `Mcp-Param-*` headers the session above gives it) and no session; its answer is a JSON body (whatever the status: the era's errors come with 400 or
//! 404) or an SSE stream of its progress and log messages ending with its response, never
//! resumed. A request is cancelled by closing its stream, so `notifications/cancelled` is never
//! posted: it aborts the POST of the request it names.

use std::sync::Arc;

use manifold_protocol::sse::SseDecoder;
use manifold_protocol::Id;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::StatusCode;

use crate::http::{HttpShared, Stream};
use crate::mirrored::{Mirrored, METHOD_HEADER, NAME_HEADER};
use crate::{Inbound, TransportError};

impl HttpShared {
    /// Sends one message the 2026-07-28 way.
    pub(crate) fn post_modern(
        self: &Arc<Self>,
        text: String,
        request_id: Option<Id>,
        params: Vec<(String, String)>,
    ) -> Result<(), TransportError> {
        let mirrored = Mirrored::of(&text);
        if let Some(cancelled) = &mirrored.cancels {
            if let Some(post) = self.modern_posts.lock().remove(cancelled) {
                tracing::debug!(server = %self.alias, request = %cancelled, "closing the stream of a cancelled request");
                post.abort();
            }
            return Ok(());
        }
        let this = self.clone();
        // Registered before the task can end (and take itself out): the lock is held meanwhile.
        let mut posts = self.modern_posts.lock();
        let id = request_id.clone();
        let task = tokio::spawn(async move {
            let outcome = this
                .post_modern_and_read(text, &mirrored, &params, id.as_ref())
                .await;
            if let Some(id) = &id {
                this.modern_posts.lock().remove(id);
            }
            if let Err(reason) = outcome {
                tracing::debug!(server = %this.alias, %reason, "POST to upstream failed");
                if let Some(id) = id {
                    let _ = this.inbound.send(Inbound::SendFailed { id, reason }).await;
                }
            }
        });
        if let Some(id) = request_id {
            posts.insert(id, task.abort_handle());
        }
        drop(posts);
        self.track(task.abort_handle());
        Ok(())
    }

    async fn post_modern_and_read(
        &self,
        text: String,
        mirrored: &Mirrored,
        params: &[(String, String)],
        request_id: Option<&Id>,
    ) -> Result<(), String> {
        let mut request = self
            .request(reqwest::Method::POST)
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        if let Some(method) = &mirrored.method {
            request = request.header(METHOD_HEADER, method);
        }
        if let Some(name) = &mirrored.name {
            request = request.header(NAME_HEADER, name);
        }
        for (name, value) in params {
            request = request.header(name.as_str(), value.as_str());
        }
        let resp = request
            .body(text)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        if status == StatusCode::ACCEPTED {
            return Ok(());
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        if status.is_success() && content_type.starts_with("text/event-stream") {
            let mut decoder = SseDecoder::new(self.max);
            return match self.read_sse(resp, &mut decoder, request_id).await? {
                Stream::Answered => Ok(()),
                Stream::Ended { .. } if request_id.is_none() => Ok(()),
                Stream::Ended { .. } => Err("the response stream ended before its answer".into()),
            };
        }
        if !content_type.starts_with("application/json") {
            return if status.is_success() {
                Err(format!("unexpected Content-Type `{content_type}`"))
            } else {
                Err(format!("upstream answered HTTP {status}"))
            };
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("reading body: {e}"))?;
        if body.len() > self.max {
            return Err(format!(
                "response of {} bytes exceeds the limit",
                body.len()
            ));
        }
        // The era's errors (400, 404) carry their JSON-RPC error: it answers the request. Any
        // other refusal (a legacy server's, say) is the POST's failure, not a message.
        if !status.is_success() && !answers(&body, request_id) {
            return Err(format!("upstream answered HTTP {status}"));
        }
        let answered = self.deliver(&body, request_id).await;
        if answered || (request_id.is_none() && status.is_success()) {
            Ok(())
        } else {
            Err(format!(
                "upstream answered HTTP {status} without the response"
            ))
        }
    }
}

/// Whether `body` is the response to `request_id`.
fn answers(body: &[u8], request_id: Option<&Id>) -> bool {
    match manifold_protocol::decode(body) {
        Ok(manifold_protocol::Decoded::Single(manifold_protocol::Message::Response(r))) => {
            request_id.is_some() && r.id.as_ref() == request_id
        }
        _ => false,
    }
}
