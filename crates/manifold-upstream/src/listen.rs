//! The `subscriptions/listen` streams Manifold holds with a 2026-07-28 upstream (mcp-spec.md
//! §5.3): one for every list's changes per life of the connection, and one per subscribed
//! resource URI. Each is a request left open; dropping its handle cancels it upstream. What it
//! brings arrives as any upstream notification does.

use std::time::Duration;

use crate::Upstream;

/// An upstream listen stream, cancelled when dropped.
pub(crate) struct ListenStream(tokio::task::JoinHandle<()>);

impl Drop for ListenStream {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The listen for every list's changes, for a 2026-07-28 upstream (`None` for a legacy one).
pub(crate) fn for_list_changes(up: &Upstream) -> Option<ListenStream> {
    up.inner.live.lock().modern_meta.as_ref()?;
    Some(open(
        up,
        serde_json::json!({ "notifications": {
            "toolsListChanged": true,
            "promptsListChanged": true,
            "resourcesListChanged": true,
        }}),
    ))
}

/// The listen for updates of the resource `uri`.
pub(crate) fn for_resource(up: &Upstream, uri: &str) -> ListenStream {
    open(
        up,
        serde_json::json!({ "notifications": { "resourceSubscriptions": [uri] } }),
    )
}

fn open(up: &Upstream, params: serde_json::Value) -> ListenStream {
    let up = up.clone();
    ListenStream(tokio::spawn(async move {
        let Ok(params) = serde_json::value::to_raw_value(&params) else {
            return;
        };
        // No deadline a listen could reach: it ends with the connection or when dropped.
        let forever = Duration::from_secs(365 * 24 * 3600);
        let method = manifold_protocol::method::SUBSCRIPTIONS_LISTEN;
        if let Err(e) = up.call(method, Some(&params), Some(forever), true).await {
            tracing::debug!(error = %e, "the upstream's listen stream ended");
        }
    }))
}
