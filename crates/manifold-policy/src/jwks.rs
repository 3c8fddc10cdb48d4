//! The JWT signing keys: a JSON Web Key Set read from a file or fetched from a URL at start,
//! then again every `jwks_refresh_ms`, and early (at most every 10 s) when a token names a key
//! that is not in the set. Validation reads the current set without waiting on any fetch.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use manifold_config::JwksSource;
use tokio::sync::{watch, Notify};

/// Shortest time between two fetches asked for by unknown key ids.
const MIN_EARLY_REFRESH: Duration = Duration::from_secs(10);
/// How long the first request waits for the first key set.
const FIRST_LOAD_WAIT: Duration = Duration::from_secs(5);

/// The current key set, kept fresh by a task of its own (which ends with the last clone).
#[derive(Debug, Clone)]
pub(crate) struct Jwks {
    keys: watch::Receiver<Option<Arc<JwkSet>>>,
    wake: Arc<Notify>,
    _refresher: Arc<Refresher>,
}

/// The refresh task, aborted when the key set is dropped.
#[derive(Debug)]
struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Jwks {
    /// Starts loading from `source` now and every `refresh`.
    pub(crate) fn start(source: JwksSource, refresh: Duration) -> Jwks {
        let (tx, keys) = watch::channel(None);
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(refresh_loop(source, refresh, tx, wake.clone()));
        Jwks {
            keys,
            wake,
            _refresher: Arc::new(Refresher(task)),
        }
    }

    /// The current set (waiting briefly for the first one); `None` if none could be loaded.
    pub(crate) async fn current(&self) -> Option<Arc<JwkSet>> {
        let mut rx = self.keys.clone();
        if rx.borrow().is_none() {
            let _ = tokio::time::timeout(FIRST_LOAD_WAIT, rx.wait_for(Option::is_some)).await;
        }
        let current = rx.borrow().clone();
        current
    }

    /// A token named a key the set lacks: fetch again soon, and wait (briefly) for the result.
    pub(crate) async fn refreshed(&self) -> Option<Arc<JwkSet>> {
        let mut rx = self.keys.clone();
        rx.mark_unchanged();
        self.wake.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(2), rx.changed()).await;
        let current = rx.borrow().clone();
        current
    }
}

async fn refresh_loop(
    source: JwksSource,
    refresh: Duration,
    tx: watch::Sender<Option<Arc<JwkSet>>>,
    wake: Arc<Notify>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_default();
    loop {
        let loaded_at = tokio::time::Instant::now();
        let next = match load(&source, &client).await {
            Ok(set) => {
                tracing::debug!(keys = set.keys.len(), "JWKS loaded");
                tx.send_replace(Some(Arc::new(set)));
                refresh
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the JWKS; keeping the previous keys");
                refresh.min(MIN_EARLY_REFRESH)
            }
        };
        if tx.is_closed() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(next) => {}
            _ = wake.notified() => {
                // Unknown key ids cannot make Manifold hammer the issuer.
                tokio::time::sleep_until(loaded_at + MIN_EARLY_REFRESH).await;
            }
        }
    }
}

async fn load(source: &JwksSource, client: &reqwest::Client) -> Result<JwkSet, String> {
    let text = match source {
        JwksSource::File(path) => tokio::fs::read_to_string(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?,
        JwksSource::Url(url) => {
            let response = client
                .get(url)
                .send()
                .await
                .map_err(|e| format!("{url}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{url}: HTTP {}", response.status()));
            }
            response.text().await.map_err(|e| format!("{url}: {e}"))?
        }
    };
    serde_json::from_str(&text).map_err(|e| format!("not a JSON Web Key Set: {e}"))
}
