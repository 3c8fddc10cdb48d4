//! Reload on SIGHUP: the config file is read again and, if valid, its `[[access]]`, `[[limits]]`
//! and static `[[auth.tokens]]` take effect at once; each session whose view changed is sent
//! `list_changed`. Servers, listeners, JWT and audit settings need a restart. An invalid file
//! changes nothing.

use std::future::Future;

use manifold_config::Config;

use crate::background::Background;

/// Calls `apply` with the reloaded config on every SIGHUP (when `config` came from a file),
/// until `background` shuts down.
pub(crate) fn on_sighup<F, Fut>(config: &Config, background: &Background, apply: F)
where
    F: Fn(Config) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let Some(path) = config.source.clone() else {
        return;
    };
    let Ok(mut hangup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    else {
        tracing::warn!("cannot listen for SIGHUP; reloading is off");
        return;
    };
    let stop = background.stopping();
    background.spawn(async move {
        loop {
            tokio::select! {
                signal = hangup.recv() => if signal.is_none() { break },
                () = stop.cancelled() => break,
            }
            let loaded = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || manifold_config::load(&path)).await
            };
            match loaded {
                Ok(Ok(config)) => {
                    tracing::info!(path = %path.display(), "SIGHUP: access, limits and tokens reloaded");
                    apply(config).await;
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: the config is invalid; nothing changed")
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed"),
            }
        }
    });
}
