//! Discovering an upstream's complete lists: every page, following `nextCursor` to the end, and
//! applying the upstream's include/exclude filters; a 2026-07-28 upstream's `ttlMs` says how
//! long the list may be kept.

use manifold_config::Filter;
use manifold_protocol::RawValue;
use manifold_upstream::{CallError, Upstream};
use serde::Deserialize;
use serde_json::Value;

use crate::catalog::Kind;

/// A bound on pages per list, so a server whose cursors never end cannot loop Manifold forever.
const MAX_PAGES: usize = 10_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
    #[serde(default)]
    next_cursor: Option<String>,
    #[serde(default)]
    ttl_ms: Option<u64>,
}

/// One upstream list, complete.
pub(crate) struct Fetched {
    /// Its items that the filter allows.
    pub(crate) items: Vec<Value>,
    /// The shortest positive `ttlMs` of its pages: how long it may be kept (`None`: no hint, or
    /// `0`, which leaves it to the upstream's `list_changed`).
    pub(crate) ttl_ms: Option<u64>,
}

/// Fetches every page of `kind` from `upstream` and keeps the items `filter` allows.
pub(crate) async fn fetch_all(
    upstream: &Upstream,
    kind: Kind,
    filter: &Filter,
) -> Result<Fetched, CallError> {
    let mut items = Vec::new();
    let mut ttl_ms: Option<u64> = None;
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => serde_json::value::to_raw_value(&serde_json::json!({ "cursor": c })).ok(),
            None => None,
        };
        let raw: Box<RawValue> = upstream
            .request(kind.method(), params.as_deref(), None)
            .await?;
        let mut page: Page = serde_json::from_str(raw.get()).map_err(|e| CallError::Failed {
            alias: upstream.alias().to_string(),
            reason: format!("malformed {} result: {e}", kind.method()),
        })?;
        if let Some(ttl) = page.ttl_ms.filter(|t| *t > 0) {
            ttl_ms = Some(ttl_ms.map_or(ttl, |t| t.min(ttl)));
        }
        if let Some(Value::Array(list)) = page.rest.remove(kind.field()) {
            items.extend(list.into_iter().filter(|item| {
                item.get(kind.key())
                    .and_then(Value::as_str)
                    .is_some_and(|name| filter.allows(name))
            }));
        }
        match page.next_cursor {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            Some(_) => {
                tracing::warn!(
                    server = upstream.alias(),
                    list = kind.method(),
                    "upstream repeated its cursor; list cut here"
                );
                break;
            }
            None => return Ok(Fetched { items, ttl_ms }),
        }
    }
    Ok(Fetched { items, ttl_ms })
}
