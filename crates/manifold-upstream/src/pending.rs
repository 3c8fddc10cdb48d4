//! The live connection state of one upstream: its sender, whether the handshake is done, and the
//! table of requests in flight keyed by the integer ids Manifold minted for them.

use std::collections::HashMap;

use manifold_protocol::RawValue;
use manifold_transport::Sender;
use tokio::sync::oneshot;

use crate::CallError;

/// The result channel of one in-flight request.
pub(crate) type Reply = oneshot::Sender<Result<Box<RawValue>, CallError>>;

/// One request in flight.
pub(crate) struct Pending {
    pub(crate) reply: Reply,
    /// The encoded request, kept on HTTP so it can be re-sent after a transparent re-initialize.
    pub(crate) text: Option<String>,
}

/// Connection state, always accessed under a short std mutex (never across `.await`).
#[derive(Default)]
pub(crate) struct Live {
    pub(crate) sender: Option<Sender>,
    pub(crate) up: bool,
    pub(crate) keep_text: bool,
    pub(crate) down_reason: String,
    pub(crate) pending: HashMap<i64, Pending>,
    /// For a 2026-07-28 upstream: the `_meta` members every request carries (its client's
    /// protocol version, capabilities and `clientInfo`).
    pub(crate) modern_meta: Option<Vec<(&'static str, Box<RawValue>)>>,
    /// For a 2026-07-28 upstream: the log level its requests ask for (the legacy
    /// `logging/setLevel` Manifold was sent), kept across restarts.
    pub(crate) log_level: Option<Box<RawValue>>,
    /// For a 2026-07-28 upstream: a listen per subscribed resource URI (in place of
    /// `resources/subscribe`), for this life of the connection.
    pub(crate) resource_listens: HashMap<String, crate::listen::ListenStream>,
}

impl Live {
    /// Fails every request in flight (the connection is gone).
    pub(crate) fn fail_all(&mut self, error: impl Fn() -> CallError) {
        for (_, p) in self.pending.drain() {
            let _ = p.reply.send(Err(error()));
        }
    }
}
