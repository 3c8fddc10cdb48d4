//! Per-server result size limits (`max_result_bytes`): a larger result fails with a clear
//! error, or — with `truncate_results` — a tool result's text content is shortened to fit, with
//! a visible marker saying so.

use std::task::{Context, Poll};

use manifold_protocol::splice::{json_string, Splice};
use manifold_protocol::{ErrorObject, RawObject, RawValue};
use serde_json::json;
use tower::{Layer, Service};

use crate::call::{BoxReply, Call, Failure, Infallible, ItemKind, Reply};

/// JSON-RPC code of a result over the limit.
pub const TOO_LARGE: i64 = -32000;

/// Checks the size of what the upstream answered.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResultSizeLayer;

impl<S> Layer<S> for ResultSizeLayer {
    type Service = ResultSize<S>;
    fn layer(&self, inner: S) -> ResultSize<S> {
        ResultSize { inner }
    }
}

/// The service of [`ResultSizeLayer`].
#[derive(Debug, Clone)]
pub struct ResultSize<S> {
    inner: S,
}

impl<S> Service<Call> for ResultSize<S>
where
    S: Service<Call, Response = Reply, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Reply;
    type Error = Infallible;
    type Future = futures::future::Either<S::Future, BoxReply>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, call: Call) -> Self::Future {
        let Some(limit) = call.server.max_result_bytes else {
            return futures::future::Either::Left(self.inner.call(call));
        };
        let truncate = call.server.truncate && call.kind == ItemKind::Tool;
        let alias = call.server.alias.clone();
        let future = self.inner.call(call);
        futures::future::Either::Right(Box::pin(async move {
            let reply = future.await?;
            Ok(match reply {
                Ok(result) if result.get().len() > limit => {
                    let size = result.get().len();
                    if truncate {
                        if let Some(shorter) = truncate_text(&result, limit) {
                            return Ok(Ok(shorter));
                        }
                    }
                    Err(Failure {
                        error: ErrorObject::with_data(
                            TOO_LARGE,
                            format!("the result from upstream `{alias}` is {size} bytes, over its limit of {limit} (max_result_bytes)"),
                            json!({ "reason": "result_too_large", "server": &*alias, "size": size, "limit": limit }),
                        ),
                        outcome: "error",
                    })
                }
                other => other,
            })
        }))
    }
}

/// Shortens the text items of a tool result so the whole fits in `limit` bytes, marking each
/// shortened text. Only those texts change: the new strings are spliced into the result's own
/// bytes. `None` when it cannot fit (too much that is not text).
pub fn truncate_text(result: &RawValue, limit: usize) -> Option<Box<RawValue>> {
    let size = result.get().len();
    let excess = size - limit.min(size);
    let root = RawObject::parse(result).ok()?;
    let content: Vec<&RawValue> = serde_json::from_str(root.get_borrowed("content")?.get()).ok()?;
    let mut texts: Vec<(&RawValue, String)> = Vec::new();
    for block in content {
        let block = RawObject::parse(block).ok()?;
        if block.get_str("type").as_deref() == Some("text") {
            let raw = block.get_borrowed("text")?;
            texts.push((raw, serde_json::from_str(raw.get()).ok()?));
        }
    }
    // Cut from the last text backwards; the markers' own length is paid for too.
    let mut to_cut = excess + 96 * texts.len();
    let mut splice = Splice::new(result.get());
    for (raw, text) in texts.into_iter().rev() {
        if to_cut == 0 {
            break;
        }
        let cut = to_cut.min(text.len());
        let mut keep = text.len() - cut;
        while !text.is_char_boundary(keep) {
            keep -= 1;
        }
        let marker = format!(
            "\n[… truncated by Manifold: {keep} of {} bytes shown]",
            text.len()
        );
        splice.replace(
            raw.get(),
            json_string(&format!("{}{marker}", &text[..keep])),
        );
        to_cut -= cut;
    }
    let shorter = splice.apply_raw()?;
    (shorter.get().len() <= limit).then_some(shorter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn truncation_fits_and_marks() {
        let big = "x".repeat(10_000);
        let raw = serde_json::value::to_raw_value(
            &json!({"content": [{"type": "text", "text": big}], "isError": false}),
        )
        .unwrap();
        let short = truncate_text(&raw, 1000).unwrap();
        assert!(short.get().len() <= 1000);
        let v: Value = serde_json::from_str(short.get()).unwrap();
        let text = v["content"][0]["text"].as_str().unwrap();
        assert!(text.contains("truncated by Manifold"), "{text}");
        assert!(text.contains("of 10000 bytes shown"), "{text}");
    }

    #[test]
    fn non_text_results_cannot_be_truncated() {
        let raw = serde_json::value::to_raw_value(
            &json!({"content": [{"type": "image", "data": "A".repeat(5000), "mimeType": "image/png"}]}),
        )
        .unwrap();
        assert!(truncate_text(&raw, 1000).is_none());
    }
}
