//! Server-wide state: options, the record file, the tools/call counter, the crash signal and
//! the 2026-07-28 era's hub of open listens.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::watch;

use crate::listen::Hub;
use crate::options::Options;
use crate::record::Recorder;

/// State shared by all sessions of one server.
pub(crate) struct Shared {
    /// The server options.
    pub(crate) opts: Options,
    /// The `--record` file, if any.
    pub(crate) recorder: Option<Recorder>,
    /// Open `subscriptions/listen` requests and the lists the trigger tools change.
    pub(crate) hub: Hub,
    tool_calls: AtomicU64,
    crashed: watch::Sender<bool>,
}

impl Shared {
    /// Opens the record file if one is configured.
    pub(crate) fn new(opts: Options) -> anyhow::Result<Arc<Self>> {
        let recorder = opts.record.as_deref().map(Recorder::open).transpose()?;
        Ok(Arc::new(Shared {
            opts,
            recorder,
            hub: Hub::default(),
            tool_calls: AtomicU64::new(0),
            crashed: watch::Sender::new(false),
        }))
    }

    /// Counts one more tools/call and returns the new total.
    pub(crate) fn count_tool_call(&self) -> u64 {
        self.tool_calls.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Appends a line to the record file, if any.
    pub(crate) fn record(&self, line: &str) {
        if let Some(r) = &self.recorder {
            r.line(line);
        }
    }

    /// Requests a crash: the transports stop and the binary exits with code 3.
    pub(crate) fn crash(&self, why: &str) {
        eprintln!("testkit {}: crashing ({why})", self.opts.name);
        self.crashed.send_replace(true);
    }

    /// Resolves once a crash has been requested.
    pub(crate) async fn wait_crash(&self) {
        let mut rx = self.crashed.subscribe();
        let _ = rx.wait_for(|crashed| *crashed).await;
    }
}
